// Binary codec of one established DTLS connection (the "connection item" of the restart stream,
// restart.md §2). The inner layout is this project's own (restart.md: byte compatibility only with
// itself); it holds exactly what a restored Connection needs (the fields of ConnectionJson,
// src/dtls/connection.ts) and is written from / read into Connection objects directly.
//
// Item: version 2, 2-byte length (the outer framing of restart.md §2), content:
//
// | # | Field                     | Encoding                                                              |
// |---|---------------------------|-----------------------------------------------------------------------|
// | 1 | flags                     | 1 byte: 0x01 role client, 0x02 resumption required, 0x04 double        |
// |   |                           | principal, 0x08 extended master secret, 0x10 secure renegotiation,     |
// |   |                           | 0x20 MAC error state present (field 16), 0x40 raw replay window,       |
// |   |                           | 0x80 key suite differs from the session's suite (field 12)            |
// | 2 | optional fields           | 1 byte bitmap of fields 15a-15h (0x01 = 15a ... 0x80 = 15h)            |
// | 3 | last activity             | zigzag varint: ms before the stream's time mark (shifted on load)      |
// | 4 | handshake time            | zigzag varint: ms before the time mark's wall clock (kept as wall ms)  |
// | 5 | session creation time     | zigzag varint: ms before the handshake time (0 after a full handshake) |
// | 6 | peer address              | address (below) + port (2)                                             |
// | 7 | read CID                  | var-bytes(1), 0xFF = not negotiated (the store key)                    |
// | 8 | write CID                 | var-bytes(1), 0xFF = not negotiated                                    |
// | 9 | session id                | var-bytes(1), at most 32 bytes                                         |
// |10 | cipher suite              | 2 bytes, IANA code                                                     |
// |11 | master secret             | 48 bytes (fixed length, no prefix)                                     |
// |12 | epoch keys                | epoch (1, ≥ 1), [key suite (2) if flag 0x80], read key, read IV, read  |
// |   |                           | MAC key, write key, write IV, write MAC key (lengths fixed by the      |
// |   |                           | suite: AEAD 16 + 4 + 0, CBC 16 + 0 + 32)                               |
// |13 | replay window             | varint(highest seq + 1); then with flag 0x40 bitmap low (4) + high (4),|
// |   |                           | else varint(missing low) + varint(missing high): the bits of records   |
// |   |                           | not received among the window's valid positions (0 = all received)     |
// |14 | sequence numbers          | varint next write seq (epoch of 12), varint next write seq (epoch 0),  |
// |   | message size limit        | varint                                                                 |
// |15a| previous peer address     | address + port (2)                                                     |
// |15b| cluster router            | address + port (2)                                                     |
// |15c| peer identity             | identity reference (below)                                             |
// |15d| record size limit         | 2 bytes                                                                |
// |15e| max fragment length       | 2 bytes                                                                |
// |15f| send certificate type     | 1 byte                                                                 |
// |15g| receive certificate type  | 1 byte                                                                 |
// |15h| named group               | 2 bytes                                                                |
// |16 | MAC error state           | varint errors, zigzag varint period start: ms before the time mark     |
//
// address: 1 byte kind: 4 = IPv4 (4 bytes), 16 = IPv6 (16 bytes), 6 = IPv4-mapped IPv6 as a dual-stack
// socket reports it (4 bytes, text `::ffff:a.b.c.d`), 0 = text (string(1), e.g. with a scope id or
// any literal that would not come back identically from its bytes).
// identity reference: varint v; v even: a new identity of v/2 UTF-8 bytes follows and is appended to
// the component's identity dictionary; v odd: the dictionary entry (v − 1)/2 (per component, in stream
// order: devices sharing one PSK identity cost 1 byte for it).
// varint: 7 bits per byte, least significant group first, high bit = more; zigzag: 0, −1, 1, −2, … →
// 0, 1, 2, 3, … (timestamps in the future stay representable).
//
// Size of a PSK AES-128-CCM_8 server connection with 6-byte CIDs both ways, an IPv4 peer and a 32-byte
// session id: 146 bytes + the identity (1 + its length the first time, 1 byte for a repeated one), e.g.
// 168 bytes with a new `cali.<16 hex>` identity (version 1 of this item: ~209).
import { cipherSuiteByCode, type CipherSuite } from '../dtls/cipher-suites.js';
import { Connection } from '../dtls/connection.js';
import type { EpochState } from '../dtls/epoch-state.js';
import type { DirectionKeys, EpochKeys } from '../dtls/keys.js';
import { createRecordProtection, type DecryptedRecord, type ProtectedRecord, type RecordProtection } from '../dtls/record-protection.js';
import { epochKeysToJson, type EpochKeysJson } from '../dtls/keys.js';
import type { ReplayWindow } from '../dtls/replay-window.js';
import type { Session } from '../dtls/session.js';
import { bytesToAddress, ipToBytes } from '../transport/address-bytes.js';
import { ByteReader, ByteWriter, StreamError } from './bytes.js';

/** Version byte of the connection item (1 = the first layout, no longer read). */
export const CONNECTION_ITEM_VERSION = 2;

/** Length of the master secret (RFC 5246 §8.1). */
const MASTER_SECRET_LENGTH = 48;
/** Longest session id (RFC 5246 §7.4.1.2). */
const MAX_SESSION_ID_LENGTH = 32;

const F_CLIENT = 0x01;
const F_RESUMPTION_REQUIRED = 0x02;
const F_DOUBLE_PRINCIPAL = 0x04;
const F_EMS = 0x08;
const F_SECURE_RENEGOTIATION = 0x10;
const F_MAC_ERRORS = 0x20;
const F_RAW_WINDOW = 0x40;
const F_KEY_SUITE = 0x80;

const O_PREV = 0x01;
const O_ROUTER = 0x02;
const O_IDENTITY = 0x04;
const O_RECORD_SIZE_LIMIT = 0x08;
const O_MAX_FRAGMENT = 0x10;
const O_SEND_CERT = 0x20;
const O_RECEIVE_CERT = 0x40;
const O_NAMED_GROUP = 0x80;

const A_TEXT = 0;
const A_IPV4 = 4;
const A_MAPPED = 6;
const A_IPV6 = 16;
const MAPPED_PREFIX = '::ffff:';

const EMPTY = Buffer.alloc(0);

/** Writer state of one component: the time mark's wall clock and the identity dictionary. */
export interface ItemWriteContext {
  /** wall-clock ms of the stream's time mark */
  readonly markWallMs: number;
  /** identity → dictionary index (filled as items are written) */
  readonly identities: Map<string, number>;
}

/** Reader state of one component: time bases and the identity dictionary. */
export interface ItemReadContext {
  /** wall-clock ms of the saved time mark (wall-clock fields are relative to it) */
  readonly savedWallMs: number;
  /** connector time (ms) the time mark maps to in this process (time shift of restart.md §2 applied) */
  readonly activityBase: number;
  /** the identities defined so far in this component */
  readonly identities: string[];
}

/** Fresh writer state for a component. */
export function itemWriteContext(markWallMs: number): ItemWriteContext {
  return { markWallMs, identities: new Map() };
}

/** Fresh reader state for a component. */
export function itemReadContext(savedWallMs: number, activityBase: number): ItemReadContext {
  return { savedWallMs, activityBase, identities: [] };
}

/**
 * Writes one connection item (version 2, 2-byte length). Throws a StreamError (and writes nothing) for a
 * connection without session or keys, an unknown suite or key lengths that do not match it.
 */
export function writeConnectionItem(w: ByteWriter, c: Connection, ctx: ItemWriteContext): void {
  const s = c.session;
  const state = c.epoch;
  if (s === undefined || state === undefined) throw new StreamError('connection without session or keys');
  const suite = knownSuite(s.cipherSuite.code);
  const keys = state.keys;
  const keySuite = keys.cipherSuite === suite.code ? suite : knownSuite(keys.cipherSuite);
  const win = state.window;
  const validLo = validLow(win.maxSeq);
  const validHi = validHigh(win.maxSeq);
  const rawWindow = (win.lo & ~validLo) !== 0 || (win.hi & ~validHi) !== 0;
  let flags = 0;
  if (c.role === 'client') flags |= F_CLIENT;
  if (c.resumptionRequired) flags |= F_RESUMPTION_REQUIRED;
  if (c.doublePrincipal) flags |= F_DOUBLE_PRINCIPAL;
  if (s.extendedMasterSecret) flags |= F_EMS;
  if (s.secureRenegotiation) flags |= F_SECURE_RENEGOTIATION;
  if (c.macErrors > 0) flags |= F_MAC_ERRORS;
  if (rawWindow) flags |= F_RAW_WINDOW;
  if (keySuite !== suite) flags |= F_KEY_SUITE;
  const hasPrev = c.prevAddress !== undefined && c.prevPort !== undefined;
  let optional = 0;
  if (hasPrev) optional |= O_PREV;
  if (c.router !== undefined) optional |= O_ROUTER;
  if (s.peerIdentity !== undefined) optional |= O_IDENTITY;
  if (s.recordSizeLimit !== undefined) optional |= O_RECORD_SIZE_LIMIT;
  if (s.maxFragmentLength !== undefined) optional |= O_MAX_FRAGMENT;
  if (s.sendCertificateType !== undefined) optional |= O_SEND_CERT;
  if (s.receiveCertificateType !== undefined) optional |= O_RECEIVE_CERT;
  if (s.namedGroup !== undefined) optional |= O_NAMED_GROUP;
  if (s.masterSecret.length !== MASTER_SECRET_LENGTH) throw new StreamError(`master secret of ${s.masterSecret.length} bytes`);
  if (s.id.length > MAX_SESSION_ID_LENGTH) throw new StreamError(`session id of ${s.id.length} bytes`);
  const mark = ctx.markWallMs;
  const handshakeAge = Math.round(mark - c.handshakeTime);
  let newIdentity: string | undefined;
  const start = w.beginItem(CONNECTION_ITEM_VERSION, 2);
  try {
    w.uint(flags, 1).uint(optional, 1);
    w.zigzag(Math.round(mark - c.lastActivity));
    w.zigzag(handshakeAge);
    w.zigzag(Math.round(mark - s.creationTime) - handshakeAge);
    writeAddress(w, c.address, c.port);
    w.varBytes(c.readCid, 1);
    w.varBytes(c.writeCid, 1);
    w.varBytes(s.id, 1);
    w.uint(suite.code, 2);
    w.bytes(s.masterSecret);
    if (keys.epoch < 1) throw new StreamError(`epoch ${keys.epoch}`);
    w.uint(keys.epoch, 1);
    if (flags & F_KEY_SUITE) w.uint(keySuite.code, 2);
    writeDirection(w, keys.read, keySuite);
    writeDirection(w, keys.write, keySuite);
    w.varint(win.maxSeq + 1);
    if (rawWindow) w.uint(win.lo, 4).uint(win.hi, 4);
    else w.varint((validLo & ~win.lo) >>> 0).varint((validHi & ~win.hi) >>> 0);
    w.varint(state.nextSeq).varint(c.seq0).varint(c.messageSizeLimit);
    if (hasPrev) writeAddress(w, c.prevAddress!, c.prevPort!);
    if (c.router !== undefined) writeAddress(w, c.router.address, c.router.port);
    if (s.peerIdentity !== undefined) {
      const index = ctx.identities.get(s.peerIdentity);
      if (index !== undefined) w.varint(index * 2 + 1);
      else {
        const n = Buffer.byteLength(s.peerIdentity, 'utf8');
        w.varint(n * 2).utf8(s.peerIdentity, n);
        newIdentity = s.peerIdentity;
      }
    }
    if (s.recordSizeLimit !== undefined) w.uint(s.recordSizeLimit, 2);
    if (s.maxFragmentLength !== undefined) w.uint(s.maxFragmentLength, 2);
    if (s.sendCertificateType !== undefined) w.uint(s.sendCertificateType, 1);
    if (s.receiveCertificateType !== undefined) w.uint(s.receiveCertificateType, 1);
    if (s.namedGroup !== undefined) w.uint(s.namedGroup, 2);
    if (c.macErrors > 0) w.varint(c.macErrors).zigzag(Math.round(mark - c.macErrorStart));
  } catch (err) {
    w.abortItem(start);
    throw err;
  }
  w.endItem(start, 2);
  // only an item that was written defines a dictionary entry (a skipped one must not)
  if (newIdentity !== undefined) ctx.identities.set(newIdentity, ctx.identities.size);
}

/**
 * Reads the content of a connection item (after its version and length) into an established Connection
 * (record protection rebuilt); throws StreamError.
 */
export function readConnectionItem(version: number, r: ByteReader, ctx: ItemReadContext): Connection {
  if (version !== CONNECTION_ITEM_VERSION) throw new StreamError(`unsupported connection item version ${version}`);
  const flags = r.uint(1);
  const optional = r.uint(1);
  const lastActivity = ctx.activityBase - r.zigzag();
  const handshakeAge = r.zigzag();
  const handshakeTime = ctx.savedWallMs - handshakeAge;
  const creationTime = handshakeTime - r.zigzag();
  const [address, port] = readAddress(r);
  const readCid = r.varBytes(1);
  const writeCid = r.varBytes(1);
  const sessionId = r.varBytes(1);
  if (sessionId === undefined) throw new StreamError('session id missing');
  if (sessionId.length > MAX_SESSION_ID_LENGTH) throw new StreamError(`session id of ${sessionId.length} bytes`);
  const suite = knownSuite(r.uint(2));
  const masterSecret = r.copy(MASTER_SECRET_LENGTH);
  const epoch = r.uint(1);
  if (epoch === 0) throw new StreamError('epoch 0 keys');
  const keySuite = flags & F_KEY_SUITE ? knownSuite(r.uint(2)) : suite;
  const read = readDirection(r, keySuite);
  const write = readDirection(r, keySuite);
  const maxSeq = r.varint() - 1;
  let window: ReplayWindow;
  if (flags & F_RAW_WINDOW) window = { maxSeq, lo: r.uint(4), hi: r.uint(4) };
  else {
    const missingLo = r.varint();
    const missingHi = r.varint();
    const validLo = validLow(maxSeq);
    const validHi = validHigh(maxSeq);
    if ((missingLo & ~validLo) !== 0 || missingLo > 0xffffffff || (missingHi & ~validHi) !== 0 || missingHi > 0xffffffff) {
      throw new StreamError('bad replay window');
    }
    window = { maxSeq, lo: (validLo & ~missingLo) >>> 0, hi: (validHi & ~missingHi) >>> 0 };
  }
  const nextSeq = r.varint();
  const seq0 = r.varint();
  const messageSizeLimit = r.varint();
  const prev = optional & O_PREV ? readAddress(r) : undefined;
  const router = optional & O_ROUTER ? readAddress(r) : undefined;
  const peerIdentity = optional & O_IDENTITY ? readIdentity(r, ctx.identities) : undefined;
  const recordSizeLimit = optional & O_RECORD_SIZE_LIMIT ? r.uint(2) : undefined;
  const maxFragmentLength = optional & O_MAX_FRAGMENT ? r.uint(2) : undefined;
  const sendCertificateType = optional & O_SEND_CERT ? r.uint(1) : undefined;
  const receiveCertificateType = optional & O_RECEIVE_CERT ? r.uint(1) : undefined;
  const namedGroup = optional & O_NAMED_GROUP ? r.uint(2) : undefined;
  const macErrors = flags & F_MAC_ERRORS ? r.varint() : 0;
  const macErrorStart = flags & F_MAC_ERRORS ? ctx.activityBase - r.zigzag() : 0;
  r.end('connection item');

  const session: Session = {
    id: sessionId,
    cipherSuite: suite,
    masterSecret,
    peerIdentity,
    extendedMasterSecret: (flags & F_EMS) !== 0,
    secureRenegotiation: (flags & F_SECURE_RENEGOTIATION) !== 0,
    creationTime,
    recordSizeLimit,
    maxFragmentLength,
    sendCertificateType,
    receiveCertificateType,
    namedGroup,
  };
  const keys: EpochKeys = { cipherSuite: keySuite.code, epoch, read, write };
  const state: EpochState = { keys, window, nextSeq };
  const conn = new Connection(flags & F_CLIENT ? 'client' : 'server', address, port, lastActivity);
  conn.readCid = readCid;
  conn.writeCid = writeCid;
  conn.session = session;
  conn.epoch = state;
  conn.protection = new DeferredProtection(conn, keySuite, keys);
  conn.seq0 = seq0;
  conn.handshakeTime = handshakeTime;
  conn.messageSizeLimit = messageSizeLimit;
  if (prev !== undefined) {
    conn.prevAddress = prev[0];
    conn.prevPort = prev[1];
  }
  if (router !== undefined) conn.router = { address: router[0], port: router[1] };
  conn.macErrors = macErrors;
  conn.macErrorStart = macErrorStart;
  conn.doublePrincipal = (flags & F_DOUBLE_PRINCIPAL) !== 0;
  conn.resumptionRequired = (flags & F_RESUMPTION_REQUIRED) !== 0;
  conn.established = true;
  return conn;
}

/**
 * The record protection of a restored connection, built on its first use: creating the key objects and
 * scratch buffers of 100,000 connections would take most of the load time (the servers are stopped
 * meanwhile), and many restored connections never send another record. The first call builds the real
 * protection, puts it into the connection (later records use it directly) and delegates to it.
 */
class DeferredProtection implements RecordProtection {
  readonly epoch: number;

  constructor(
    private readonly conn: Connection,
    readonly suite: CipherSuite,
    readonly keys: EpochKeys,
  ) {
    this.epoch = keys.epoch;
  }

  private built: RecordProtection | undefined;

  private real(): RecordProtection {
    if (this.built === undefined) {
      this.built = createRecordProtection(this.keys);
      if (this.conn.protection === this) this.conn.protection = this.built;
    }
    return this.built;
  }

  encrypt(type: number, epoch: number, seq: number, plaintext: Buffer, cid?: Buffer, padding?: number): Buffer {
    return this.real().encrypt(type, epoch, seq, plaintext, cid, padding);
  }

  encryptRecord(type: number, epoch: number, seq: number, plaintext: Buffer, cid?: Buffer, padding?: number): Buffer {
    return this.real().encryptRecord(type, epoch, seq, plaintext, cid, padding);
  }

  recordLength(plaintextLength: number, cidLength?: number, padding?: number): number {
    return this.real().recordLength(plaintextLength, cidLength, padding);
  }

  decrypt(record: ProtectedRecord): DecryptedRecord | undefined {
    return this.real().decrypt(record);
  }

  toJSON(): EpochKeysJson {
    return epochKeysToJson(this.keys);
  }
}

function knownSuite(code: number): CipherSuite {
  const suite = cipherSuiteByCode(code);
  if (suite === undefined) throw new StreamError(`unknown cipher suite 0x${code.toString(16).padStart(4, '0')}`);
  return suite;
}

/** Mask of the window's low word bits that stand for sequence numbers ≥ 0 (bit i ⇔ record maxSeq − i). */
function validLow(maxSeq: number): number {
  const valid = maxSeq + 1;
  return valid >= 32 ? 0xffffffff : valid <= 0 ? 0 : 2 ** valid - 1;
}

/** Mask of the window's high word bits that stand for sequence numbers ≥ 0 (bit i ⇔ record maxSeq − 32 − i). */
function validHigh(maxSeq: number): number {
  const valid = maxSeq + 1 - 32;
  return valid >= 32 ? 0xffffffff : valid <= 0 ? 0 : 2 ** valid - 1;
}

function writeDirection(w: ByteWriter, k: DirectionKeys, suite: CipherSuite): void {
  if (k.key.length !== suite.encKeyLength || k.iv.length !== suite.fixedIvLength || k.macKey.length !== suite.macKeyLength) {
    throw new StreamError(`key lengths do not match ${suite.name}`);
  }
  w.bytes(k.key).bytes(k.iv).bytes(k.macKey);
}

function readDirection(r: ByteReader, suite: CipherSuite): DirectionKeys {
  const key = r.copy(suite.encKeyLength);
  const iv = suite.fixedIvLength > 0 ? r.copy(suite.fixedIvLength) : EMPTY;
  const macKey = suite.macKeyLength > 0 ? r.copy(suite.macKeyLength) : EMPTY;
  return { key, iv, macKey };
}

function readIdentity(r: ByteReader, identities: string[]): string {
  const v = r.varint();
  if (v % 2 === 1) {
    const identity = identities[(v - 1) / 2];
    if (identity === undefined) throw new StreamError(`identity reference ${(v - 1) / 2} of ${identities.length}`);
    return identity;
  }
  const identity = r.bytes(v / 2).toString('utf8');
  identities.push(identity);
  return identity;
}

/**
 * Writes kind + 4 bytes if `text` (from `from`) is a canonical dotted IPv4 literal as Node reports peers
 * (no leading zeros); false (nothing written) otherwise.
 */
function writeIpv4(w: ByteWriter, kind: number, text: string, from: number): boolean {
  const parts = [0, 0, 0, 0];
  let part = 0;
  let digits = 0;
  let value = 0;
  for (let i = from; i <= text.length; i++) {
    const ch = i < text.length ? text.charCodeAt(i) : 0x2e;
    if (ch === 0x2e) {
      if (digits === 0 || part > 3) return false;
      parts[part++] = value;
      digits = 0;
      value = 0;
    } else if (ch >= 0x30 && ch <= 0x39) {
      if (digits > 0 && value === 0) return false; // leading zero
      value = value * 10 + (ch - 0x30);
      if (++digits > 3 || value > 255) return false;
    } else return false;
  }
  if (part !== 4) return false;
  w.u8(kind).u8(parts[0]!).u8(parts[1]!).u8(parts[2]!).u8(parts[3]!);
  return true;
}

function writeAddress(w: ByteWriter, address: string, port: number): void {
  if (!writeIpv4(w, A_IPV4, address, 0) && !(address.startsWith(MAPPED_PREFIX) && writeIpv4(w, A_MAPPED, address, MAPPED_PREFIX.length))) {
    const raw = ipToBytes(address);
    if (raw !== undefined && raw.length === 16 && bytesToAddress(raw) === address) w.u8(A_IPV6).bytes(raw);
    else w.u8(A_TEXT).string(address, 1);
  }
  w.u16(port);
}

function readAddress(r: ByteReader): [string, number] {
  const kind = r.uint(1);
  let address: string | undefined;
  if (kind === A_IPV4 || kind === A_MAPPED) {
    const b = r.bytes(4);
    address = `${kind === A_MAPPED ? MAPPED_PREFIX : ''}${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
  } else if (kind === A_IPV6) address = bytesToAddress(r.bytes(16));
  else if (kind === A_TEXT) address = r.string(1);
  if (address === undefined || address.length === 0) throw new StreamError(`bad peer address (kind ${kind})`);
  return [address, r.uint(2)];
}

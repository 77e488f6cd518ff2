// One DTLS connection (one peer session): address, CIDs, the protected epoch, session, newest-record
// bookkeeping (dtls.md §6), MAC error filter (config.md §3), and its JSON form for the graceful restart
// (restart.md §1: established connections only, never handshakes in progress).
import type { DtlsSessionInfo, PeerAddress } from '../transport/connector.js';
import { peerKey } from '../transport/connector.js';
import { epochStateFromJson, epochStateToJson, type EpochState, type EpochStateJson } from './epoch-state.js';
import type { FlightEntry } from './flight.js';
import type { CipherSuite } from './cipher-suites.js';
import { createRecordProtection, protectionBusy, type RecordProtection } from './record-protection.js';
import { MASTER_SECRET_LENGTH, type DirectionKeys, type EpochKeys } from './keys.js';
import type { ReplayWindow } from './replay-window.js';
import { sessionFromJson, sessionToJson, type Session, type SessionJson } from './session.js';

export type { PeerAddress };

/** `via` value of records forwarded by a cluster node (resources.md §2.7). */
export const VIA_CID_ROUTER = 'dtls-cid-router';

/** A handshake in progress on a connection (defined by the handshake modules; opaque here). */
export interface HandshakeSlot {
  readonly role: 'server' | 'client';
}

/** An application message queued by a client until its handshake completes. */
export interface DeferredMessage {
  data: Buffer;
  onError: ((err: Error) => void) | undefined;
}

let nextConnectionId = 1;

/**
 * Times (ms) are kept as offsets from this instant, as 32-bit integers: V8 keeps those in the field itself, where a
 * timestamp such as Date.now() would be a 16-byte heap number per field and connection. A time whose offset is not
 * such an integer (a fractional clock, or more than 24.8 days from the start of the process) is kept as it is, marked
 * by its RAW_* flag (exact, but the field then holds a heap number again).
 */
const TIME_BASE = Date.now();

// Connection flags (one small integer instead of a field per boolean)
const ESTABLISHED = 1;
const CLOSED = 2;
const DOUBLE_PRINCIPAL = 4;
const RESUMPTION_REQUIRED = 8;
const HAS_EPOCH = 16;
const RAW_ACTIVITY = 32;
const RAW_TOUCH = 64;
const RAW_HANDSHAKE_TIME = 128;

/** True if a time is kept as its offset from TIME_BASE (a 32-bit integer that gives it back exactly), else as itself. */
function exactOffset(t: number): boolean {
  const offset = t - TIME_BASE;
  return (offset | 0) === offset && offset + TIME_BASE === t;
}

/** The stored form of time `t`: its int32 offset from TIME_BASE when `exact` (exactOffset(t)), else `t` itself. */
function storeTime(t: number, exact: boolean): number {
  return exact ? (t - TIME_BASE) | 0 : t;
}

/** The time a stored form stands for (`raw`: stored as itself). */
function loadTime(stored: number, raw: boolean): number {
  return raw ? stored : stored + TIME_BASE;
}

/** MAC error filter state of a connection that had authentication failures (config.md §3 MAC_ERROR_FILTER_*). */
interface MacFilter {
  /** errors in the current period */
  errors: number;
  /** period start, ms */
  start: number;
  /** filter active until, ms (0: inactive) */
  until: number;
}

/**
 * State of one connection; hot-path object (one per peer session). It is also its own epoch state and replay window
 * (the protected epoch's fields live here, not in objects of their own: an idle connection is one object, a few
 * strings and its store entries). What it keeps for its lifetime in bytes (CIDs, session id, master secret, keys) is
 * packed into one latin1 string once the handshake completed (compactConnection); buffers are made when asked.
 */
export class Connection implements EpochState, ReplayWindow {
  /** process-local id (diagnostics, LRU key) */
  readonly id: number;
  readonly role: 'server' | 'client';
  address: string;
  port: number;
  /** peerKey(address, port), kept in sync with the address */
  addressKey: string;
  /** readCid as assigned (undefined once packed into `packed`) */
  private rc: Buffer | undefined;
  /** writeCid as assigned (undefined once packed) */
  private wc: Buffer | undefined;
  /** lengths of the CIDs packed at the start of `packed` (read CID first); −1: not packed, −2: packed as undefined */
  private rcLength = -1;
  private wcLength = -1;
  /** the packed bytes (compactConnection), one byte per character; undefined before */
  private packed: string | undefined;
  /** offset of the epoch keys in `packed` (read key, iv, MAC key, then write), −1: kept in `ek` */
  private keysAt = -1;
  /** established session (undefined while the first handshake runs) */
  private sess: Session | undefined;
  /** ESTABLISHED, CLOSED, DOUBLE_PRINCIPAL, RESUMPTION_REQUIRED, HAS_EPOCH and the RAW_* time flags */
  private flags = RAW_HANDSHAKE_TIME; // handshakeTime 0 until the handshake completes
  /** epoch keys as assigned (undefined once packed) */
  private ek: EpochKeys | undefined;
  /** sequence number of the next record written in epoch 1 (RFC 6347 §4.1) */
  nextSeq = 0;
  /** replay window of epoch 1 (RFC 6347 §4.1.2.6, replay-window.ts): highest accepted sequence number */
  maxSeq = -1;
  /** its bitmap halves as int32 (lo / hi give them as uint32): a uint32 of 2^31 or more would be a heap number */
  private lo32 = 0;
  private hi32 = 0;
  /** the record protection of epoch 1 while it is in use (rebuilt from the keys when needed) */
  private prot: RecordProtection | undefined;
  /** next epoch-0 write sequence number */
  seq0 = 0;
  /** handshake in progress (server or client state) */
  handshake: HandshakeSlot | undefined;
  /**
   * what a completed handshake leaves for a while (latin1, see setLeftovers): lengths of the client and server random,
   * the randoms, then our last flight (encodeFlight), resent when the peer retransmits its own
   */
  private left: string | undefined;
  /** lastActivity, lastTouch, handshakeTime as kept (timeField) */
  private activity: number;
  private touched: number;
  private completed = 0;
  /** previous peer address after a CID address update */
  prevAddress: string | undefined;
  prevPort: number | undefined;
  /** cluster router the newest record came through (responses go back through it) */
  router: PeerAddress | undefined;
  /** MAC error filter, made at the first authentication failure */
  private mac: MacFilter | undefined;
  /** application payload limit per record (dtls.md §9) */
  messageSizeLimit = 0;
  /** datagram serial of the last resend of lastFlight (once per datagram) */
  resendSerial = -1;
  /** client role: application messages waiting for the handshake */
  deferred: DeferredMessage[] | undefined;
  /**
   * Shared connection store (issue 12, src/cluster/store): the write sequence number at which the store hook must be
   * asked before the next epoch-1 record (a checkpoint is due or the stored sequence limit is reached); −1: never.
   */
  storeMark = -1;
  /** node-id of the cluster node this connection was taken over from (issue 12); −1: not taken over */
  takeoverFrom = -1;

  constructor(role: 'server' | 'client', address: string, port: number, now: number) {
    this.id = nextConnectionId++;
    this.role = role;
    this.address = address;
    this.port = port;
    this.addressKey = peerKey(address, port);
    this.activity = 0;
    this.touched = 0;
    this.lastActivity = now;
    this.lastTouch = now;
  }

  private flag(bit: number, on: boolean): void {
    this.flags = on ? this.flags | bit : this.flags & ~bit;
  }

  /** The handshake completed (and the connection was not closed since). */
  get established(): boolean {
    return (this.flags & ESTABLISHED) !== 0;
  }

  set established(on: boolean) {
    this.flag(ESTABLISHED, on);
  }

  /** Removed from its store (or never to be used again). */
  get closed(): boolean {
    return (this.flags & CLOSED) !== 0;
  }

  set closed(on: boolean) {
    this.flag(CLOSED, on);
  }

  /** An older connection of a principal that has a newer one (restart.md §2). */
  get doublePrincipal(): boolean {
    return (this.flags & DOUBLE_PRINCIPAL) !== 0;
  }

  set doublePrincipal(on: boolean) {
    this.flag(DOUBLE_PRINCIPAL, on);
  }

  /** The next handshake with this peer must be a full one. */
  get resumptionRequired(): boolean {
    return (this.flags & RESUMPTION_REQUIRED) !== 0;
  }

  set resumptionRequired(on: boolean) {
    this.flag(RESUMPTION_REQUIRED, on);
  }

  /** Last record received or sent, ms. */
  get lastActivity(): number {
    return loadTime(this.activity, (this.flags & RAW_ACTIVITY) !== 0);
  }

  set lastActivity(t: number) {
    const exact = exactOffset(t);
    this.activity = storeTime(t, exact);
    this.flag(RAW_ACTIVITY, !exact);
  }

  /** Last time the store's LRU order was refreshed, ms. */
  get lastTouch(): number {
    return loadTime(this.touched, (this.flags & RAW_TOUCH) !== 0);
  }

  set lastTouch(t: number) {
    const exact = exactOffset(t);
    this.touched = storeTime(t, exact);
    this.flag(RAW_TOUCH, !exact);
  }

  /** Time the handshake completed, ms (0 before). */
  get handshakeTime(): number {
    return loadTime(this.completed, (this.flags & RAW_HANDSHAKE_TIME) !== 0);
  }

  set handshakeTime(t: number) {
    const exact = exactOffset(t);
    this.completed = storeTime(t, exact);
    this.flag(RAW_HANDSHAKE_TIME, !exact);
  }

  /** MAC error filter: errors in the current period. */
  get macErrors(): number {
    return this.mac === undefined ? 0 : this.mac.errors;
  }

  set macErrors(n: number) {
    if (this.mac !== undefined) this.mac.errors = n;
    else if (n !== 0) this.mac = { errors: n, start: 0, until: 0 };
  }

  /** MAC error filter: start of the current period, ms. */
  get macErrorStart(): number {
    return this.mac === undefined ? 0 : this.mac.start;
  }

  set macErrorStart(t: number) {
    if (this.mac !== undefined) this.mac.start = t;
    else if (t !== 0) this.mac = { errors: 0, start: t, until: 0 };
  }

  /** MAC error filter: active until, ms (0: inactive). */
  get macFilterUntil(): number {
    return this.mac === undefined ? 0 : this.mac.until;
  }

  set macFilterUntil(t: number) {
    if (this.mac !== undefined) this.mac.until = t;
    else if (t !== 0) this.mac = { errors: 0, start: 0, until: t };
  }

  /** CID the peer writes into records to us; undefined = CID not negotiated, empty = negotiated without one */
  get readCid(): Buffer | undefined {
    const n = this.rcLength;
    if (n === -1) return this.rc;
    return n === -2 ? undefined : latin1Bytes(this.packed!, 0, n);
  }

  set readCid(cid: Buffer | undefined) {
    this.rc = cid;
    this.rcLength = -1;
  }

  /** CID we write into records to the peer; undefined = not negotiated, empty = none (a buffer made per access) */
  get writeCid(): Buffer | undefined {
    const n = this.wcLength;
    if (n === -1) return this.wc;
    if (n === -2) return undefined;
    return latin1Bytes(this.packed!, this.rcLength > 0 ? this.rcLength : 0, n);
  }

  set writeCid(cid: Buffer | undefined) {
    this.wc = cid;
    this.wcLength = -1;
  }

  /** True once a CID was negotiated and the peer puts a non-empty CID into its records. */
  get usesReadCid(): boolean {
    const n = this.rcLength;
    return n === -1 ? this.rc !== undefined && this.rc.length > 0 : n > 0;
  }

  /** Established session (undefined while the first handshake runs). */
  get session(): Session | undefined {
    return this.sess;
  }

  set session(s: Session | undefined) {
    this.sess = s;
  }

  /** The protected epoch (1): the connection itself (keys, replay window, next write sequence number), or undefined. */
  get epoch(): EpochState | undefined {
    return this.flags & HAS_EPOCH ? this : undefined;
  }

  /** Takes over the fields of an epoch state (its keys, window and next sequence number); undefined drops the epoch. */
  set epoch(state: EpochState | undefined) {
    if (state === this) return;
    this.prot = undefined;
    if (state === undefined) {
      this.flag(HAS_EPOCH, false);
      this.ek = undefined;
      this.keysAt = -1;
      return;
    }
    this.ek = state.keys;
    this.keysAt = -1;
    this.nextSeq = state.nextSeq;
    const w = state.window;
    this.maxSeq = w.maxSeq;
    this.lo = w.lo;
    this.hi = w.hi;
    this.flag(HAS_EPOCH, true);
  }

  /** The epoch's key data (an object with buffers made on access once packed). */
  get keys(): EpochKeys {
    if (this.ek !== undefined) return this.ek;
    const suite = this.sess!.cipherSuite;
    return new PackedEpochKeys(this.packed!, this.keysAt, suite);
  }

  /** Bits 0..31 of the replay window's bitmap (uint32). */
  get lo(): number {
    return this.lo32 >>> 0;
  }

  set lo(bits: number) {
    this.lo32 = bits | 0;
  }

  /** Bits 32..63 of the replay window's bitmap (uint32). */
  get hi(): number {
    return this.hi32 >>> 0;
  }

  set hi(bits: number) {
    this.hi32 = bits | 0;
  }

  /** The anti-replay window of the epoch: the connection itself. */
  get window(): ReplayWindow {
    return this;
  }

  /** The protection of the epoch, built from the keys when first needed after compactConnection dropped it. */
  get protection(): RecordProtection | undefined {
    let p = this.prot;
    if (p === undefined && this.flags & HAS_EPOCH) this.prot = p = createRecordProtection(this.keys);
    return p;
  }

  set protection(p: RecordProtection | undefined) {
    this.prot = p;
  }

  /** The protection object as it is now (undefined when none is built): for releasing it without building one. */
  get builtProtection(): RecordProtection | undefined {
    return this.prot;
  }

  /** True when `random` is the client random of the ClientHello that created this connection (a late copy of it). */
  createdBy(random: Buffer): boolean {
    // compared in the packed leftovers (layout of the clientRandom getter) without making a copy
    const left = this.left;
    if (left === undefined) return false;
    const n = left.charCodeAt(0);
    if (n === 0 || n !== random.length) return false;
    for (let i = 0; i < n; i++) if (left.charCodeAt(2 + i) !== random[i]) return false;
    return true;
  }

  /** Client random of the ClientHello that created this connection (late retransmissions are dropped); a copy. */
  get clientRandom(): Buffer | undefined {
    const left = this.left;
    if (left === undefined || left.charCodeAt(0) === 0) return undefined;
    return latin1Bytes(left, 2, left.charCodeAt(0));
  }

  set clientRandom(r: Buffer | undefined) {
    this.setLeftovers(r === undefined ? '' : r.toString('latin1'), this.leftPart(1), this.leftPart(2));
  }

  /** Server random of the completed handshake (extra key material such as the cluster MAC keys, cluster.md §5); a copy. */
  get serverRandom(): Buffer | undefined {
    const left = this.left;
    if (left === undefined || left.charCodeAt(1) === 0) return undefined;
    return latin1Bytes(left, 2 + left.charCodeAt(0), left.charCodeAt(1));
  }

  set serverRandom(r: Buffer | undefined) {
    this.setLeftovers(this.leftPart(0), r === undefined ? '' : r.toString('latin1'), this.leftPart(2));
  }

  /** True if `random` is the client random this connection keeps (a ClientHello retransmitted late). */
  hasClientRandom(random: Buffer): boolean {
    const left = this.left;
    if (left === undefined || left.charCodeAt(0) !== random.length) return false;
    for (let i = 0; i < random.length; i++) if (left.charCodeAt(2 + i) !== random[i]) return false;
    return true;
  }

  /** Our last flight of the completed handshake (made from its encoded form per access), undefined once released. */
  get lastFlight(): FlightEntry[] | undefined {
    const flight = this.leftPart(2);
    return flight === '' ? undefined : decodeFlight(flight);
  }

  set lastFlight(entries: FlightEntry[] | undefined) {
    this.setLeftovers(this.leftPart(0), this.leftPart(1), entries === undefined || entries.length === 0 ? '' : encodeFlight(entries));
  }

  /** True while the last flight is kept (cheap, no decoding). */
  get hasLastFlight(): boolean {
    const left = this.left;
    return left !== undefined && left.length > 2 + left.charCodeAt(0) + left.charCodeAt(1);
  }

  /** True while the last flight or a random is kept (released by releaseHandshakeLeftovers). */
  get keepsLeftovers(): boolean {
    return this.left !== undefined;
  }

  /** Part 0 (client random), 1 (server random) or 2 (encoded last flight) of the leftovers, '' if absent. */
  private leftPart(i: 0 | 1 | 2): string {
    const left = this.left;
    if (left === undefined) return '';
    const cr = left.charCodeAt(0);
    const sr = left.charCodeAt(1);
    return i === 0 ? left.slice(2, 2 + cr) : i === 1 ? left.slice(2 + cr, 2 + cr + sr) : left.slice(2 + cr + sr);
  }

  /** Keeps the randoms (at most 255 bytes each) and the encoded last flight in one string (undefined when all are empty). */
  private setLeftovers(clientRandom: string, serverRandom: string, flight: string): void {
    if (clientRandom.length > 255 || serverRandom.length > 255) throw new RangeError('random longer than 255 bytes');
    if (clientRandom === '' && serverRandom === '' && flight === '') this.left = undefined;
    else this.left = latin1Text([Buffer.from([clientRandom.length, serverRandom.length]), clientRandom, serverRandom, flight]);
  }

  /** Packs the CIDs, session id, master secret and keys into one string (see compactConnection); returns false if the keys do not fit the session's suite. */
  pack(): boolean {
    const session = this.sess;
    if (session === undefined || !(this.flags & HAS_EPOCH) || this.packed !== undefined) return false;
    const keys = this.keys;
    const suite = session.cipherSuite;
    if (keys.cipherSuite !== suite.code || keys.epoch !== 1 || !fits(keys.read, suite) || !fits(keys.write, suite)) return false;
    const readCid = this.readCid;
    const writeCid = this.writeCid;
    const id = session.id;
    const parts = [readCid, writeCid, id, session.masterSecret, keys.read.key, keys.read.iv, keys.read.macKey, keys.write.key, keys.write.iv, keys.write.macKey];
    const text = latin1Text(parts);
    const idAt = (readCid?.length ?? 0) + (writeCid?.length ?? 0);
    const keysAt = idAt + id.length + MASTER_SECRET_LENGTH;
    this.packed = text;
    this.rc = undefined;
    this.wc = undefined;
    this.rcLength = readCid === undefined ? -2 : readCid.length;
    this.wcLength = writeCid === undefined ? -2 : writeCid.length;
    this.sess = new PackedSession(session, text, idAt, id.length);
    this.ek = undefined;
    this.keysAt = keysAt;
    return true;
  }

  /** Drops the protection object unless it holds resources worth keeping (rebuilt from the keys when needed). */
  dropProtection(): void {
    if (this.prot !== undefined && !protectionBusy(this.prot)) this.prot = undefined;
  }

  /** Moves the connection to a new peer address, remembering the previous one. */
  setAddress(address: string, port: number): void {
    this.prevAddress = this.address;
    this.prevPort = this.port;
    this.address = address;
    this.port = port;
    this.addressKey = peerKey(address, port);
  }

  /** True while the MAC error filter drops every record (config.md §3 MAC_ERROR_FILTER_*). */
  macFiltered(now: number): boolean {
    const mac = this.mac;
    if (mac === undefined || mac.until === 0) return false;
    if (now < mac.until) return true;
    mac.until = 0;
    mac.errors = 0;
    return false;
  }

  /** Counts a record that failed authentication; activates the filter above `threshold` errors. */
  macError(now: number, threshold: number, quietTime: number): void {
    if (threshold <= 0 || quietTime <= 0) return;
    const mac = this.mac ?? (this.mac = { errors: 0, start: 0, until: 0 });
    if (mac.errors === 0 || now - mac.start >= quietTime) {
      mac.errors = 0;
      mac.start = now;
    }
    mac.errors++;
    if (mac.errors > threshold) mac.until = now + quietTime;
  }
}

/** True if the direction's key lengths are those of `suite`. */
function fits(d: DirectionKeys, suite: CipherSuite): boolean {
  return d.key.length === suite.encKeyLength && d.iv.length === suite.fixedIvLength && d.macKey.length === suite.macKeyLength;
}

/** A buffer of its own with `n` bytes of a latin1 string from `at` (small: a byte loop). */
function latin1Bytes(text: string, at: number, n: number): Buffer {
  if (n === 0) return Buffer.alloc(0);
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = text.charCodeAt(at + i);
  return b;
}

/** True if a latin1 string holds exactly the bytes of `b`. */
function latin1Equals(text: string, b: Buffer): boolean {
  if (text.length !== b.length) return false;
  for (let i = 0; i < b.length; i++) if (text.charCodeAt(i) !== b[i]) return false;
  return true;
}

/** Scratch of latin1Text (grown on demand). */
let textScratch = Buffer.alloc(1024);

/**
 * One sequential latin1 string of the given parts (buffers, latin1 strings; undefined ones skipped), made from a scratch
 * buffer: concatenating strings would leave a tree of cons strings, each part an object of its own.
 */
function latin1Text(parts: readonly (Buffer | string | undefined)[]): string {
  let n = 0;
  for (const p of parts) if (p !== undefined) n += p.length;
  if (textScratch.length < n) textScratch = Buffer.alloc(Math.max(n, textScratch.length * 2));
  let at = 0;
  for (const p of parts) {
    if (p === undefined) continue;
    at += typeof p === 'string' ? textScratch.write(p, at, 'latin1') : p.copy(textScratch, at);
  }
  return textScratch.toString('latin1', 0, n);
}

/** Negotiated extras of a session that most sessions do not have (kept in an object only when one is set). */
interface SessionExtras {
  recordSizeLimit: number | undefined;
  maxFragmentLength: number | undefined;
  sendCertificateType: number | undefined;
  receiveCertificateType: number | undefined;
  namedGroup: number | undefined;
}

// PackedSession bits: flags, then the session id's offset in the packed string (9 bits) and its length (6 bits)
const S_EMS = 1;
const S_SECURE_RENEGOTIATION = 2;
const S_RAW_TIME = 4;
const S_ID_AT_SHIFT = 3;
const S_ID_LENGTH_SHIFT = 12;

/**
 * The session of a packed connection (six fields): its id and master secret are read from the packed string when
 * asked, flags and the id's place share one small integer, the creation time is kept as a TIME_BASE offset, and the
 * rarely negotiated extras sit in an object of their own only when one is set.
 */
class PackedSession implements Session {
  readonly cipherSuite: CipherSuite;
  readonly peerIdentity: string | undefined;
  private readonly bits: number;
  private readonly created: number;
  private readonly extras: SessionExtras | undefined;
  private readonly packed: string;

  constructor(s: Session, packed: string, idAt: number, idLength: number) {
    if (idAt > 511 || idLength > 63) throw new RangeError('session id does not fit a packed session');
    this.cipherSuite = s.cipherSuite;
    this.peerIdentity = s.peerIdentity;
    const exact = exactOffset(s.creationTime);
    this.bits =
      (s.extendedMasterSecret ? S_EMS : 0) |
      (s.secureRenegotiation ? S_SECURE_RENEGOTIATION : 0) |
      (exact ? 0 : S_RAW_TIME) |
      (idAt << S_ID_AT_SHIFT) |
      (idLength << S_ID_LENGTH_SHIFT);
    this.created = storeTime(s.creationTime, exact);
    const { recordSizeLimit, maxFragmentLength, sendCertificateType, receiveCertificateType, namedGroup } = s;
    const any = recordSizeLimit ?? maxFragmentLength ?? sendCertificateType ?? receiveCertificateType ?? namedGroup;
    this.extras = any === undefined ? undefined : { recordSizeLimit, maxFragmentLength, sendCertificateType, receiveCertificateType, namedGroup };
    this.packed = packed;
  }

  get id(): Buffer {
    return latin1Bytes(this.packed, (this.bits >> S_ID_AT_SHIFT) & 511, this.bits >> S_ID_LENGTH_SHIFT);
  }

  get masterSecret(): Buffer {
    return latin1Bytes(this.packed, ((this.bits >> S_ID_AT_SHIFT) & 511) + (this.bits >> S_ID_LENGTH_SHIFT), MASTER_SECRET_LENGTH);
  }

  get extendedMasterSecret(): boolean {
    return (this.bits & S_EMS) !== 0;
  }

  get secureRenegotiation(): boolean {
    return (this.bits & S_SECURE_RENEGOTIATION) !== 0;
  }

  get creationTime(): number {
    return loadTime(this.created, (this.bits & S_RAW_TIME) !== 0);
  }

  get recordSizeLimit(): number | undefined {
    return this.extras?.recordSizeLimit;
  }

  get maxFragmentLength(): number | undefined {
    return this.extras?.maxFragmentLength;
  }

  get sendCertificateType(): number | undefined {
    return this.extras?.sendCertificateType;
  }

  get receiveCertificateType(): number | undefined {
    return this.extras?.receiveCertificateType;
  }

  get namedGroup(): number | undefined {
    return this.extras?.namedGroup;
  }
}

/** Epoch-1 keys of a packed connection: both directions read from the packed string (made per access of the epoch's keys). */
class PackedEpochKeys implements EpochKeys {
  readonly cipherSuite: number;
  readonly epoch = 1;
  readonly read: DirectionKeys;
  readonly write: DirectionKeys;

  constructor(packed: string, at: number, suite: CipherSuite) {
    this.cipherSuite = suite.code;
    const n = suite.encKeyLength + suite.fixedIvLength + suite.macKeyLength;
    this.read = new PackedDirectionKeys(packed, at, suite);
    this.write = new PackedDirectionKeys(packed, at + n, suite);
  }
}

/** One direction's keys in a packed string: buffers of their own made per access (key sources read them rarely). */
class PackedDirectionKeys implements DirectionKeys {
  constructor(
    private readonly packed: string,
    private readonly at: number,
    private readonly suite: CipherSuite,
  ) {}
  get key(): Buffer {
    return latin1Bytes(this.packed, this.at, this.suite.encKeyLength);
  }
  get iv(): Buffer {
    return latin1Bytes(this.packed, this.at + this.suite.encKeyLength, this.suite.fixedIvLength);
  }
  get macKey(): Buffer {
    return latin1Bytes(this.packed, this.at + this.suite.encKeyLength + this.suite.fixedIvLength, this.suite.macKeyLength);
  }
}

/**
 * Last-flight encoding (one latin1 string): per entry kind (0 = ChangeCipherSpec, 1 = handshake message), epoch (2),
 * and for a handshake message msg_type (1), message_seq (2), body length (3) and the body.
 */
function encodeFlight(entries: readonly FlightEntry[]): string {
  let n = 0;
  for (const e of entries) n += e.kind === 'ccs' ? 3 : 9 + e.msg.body.length;
  const b = Buffer.allocUnsafe(n);
  let at = 0;
  for (const e of entries) {
    b[at] = e.kind === 'ccs' ? 0 : 1;
    b.writeUInt16BE(e.epoch, at + 1);
    at += 3;
    if (e.kind === 'handshake') {
      b[at] = e.msg.msgType;
      b.writeUInt16BE(e.msg.messageSeq, at + 1);
      b.writeUIntBE(e.msg.body.length, at + 3, 3);
      e.msg.body.copy(b, at + 6);
      at += 6 + e.msg.body.length;
    }
  }
  return b.toString('latin1');
}

/** The entries of an encoded last flight (see encodeFlight), each message body in a buffer of its own. */
function decodeFlight(text: string): FlightEntry[] {
  const b = Buffer.from(text, 'latin1');
  const entries: FlightEntry[] = [];
  let at = 0;
  while (at < b.length) {
    const kind = b[at];
    const epoch = b.readUInt16BE(at + 1);
    at += 3;
    if (kind === 0) {
      entries.push({ kind: 'ccs', epoch });
      continue;
    }
    const length = b.readUIntBE(at + 3, 3);
    entries.push({ kind: 'handshake', epoch, msg: { msgType: b[at]!, messageSeq: b.readUInt16BE(at + 1), body: Buffer.from(b.subarray(at + 6, at + 6 + length)) } });
    at += 6 + length;
  }
  return entries;
}

/** Session attributes of an established connection (computed once, refreshed on router change). */
export function buildSessionInfo(conn: Connection, nodeId: number | undefined): DtlsSessionInfo {
  const s = conn.session!;
  const info: DtlsSessionInfo = {
    cipherSuite: s.cipherSuite.name,
    sessionId: s.id,
    sessionTime: s.creationTime,
    secureRenegotiation: s.secureRenegotiation,
    extendedMasterSecret: s.extendedMasterSecret,
    newestRecord: false,
    messageSizeLimit: conn.messageSizeLimit,
    epoch: 1,
    readSequence: 0,
    handshakeTime: conn.handshakeTime,
  };
  if (s.peerIdentity !== undefined) info.peerIdentity = s.peerIdentity;
  if (conn.readCid !== undefined) {
    info.readCid = conn.readCid;
    info.writeCid = conn.writeCid ?? Buffer.alloc(0);
  }
  if (conn.router !== undefined) info.via = VIA_CID_ROUTER;
  if (nodeId !== undefined) info.nodeId = nodeId;
  if (conn.takeoverFrom >= 0) info.takeoverFrom = conn.takeoverFrom;
  return info;
}

/** An empty buffer shared by every connection (absent MAC keys, empty CIDs and session ids). */
const EMPTY = Buffer.alloc(0);

/**
 * DTLS attributes of one received record: its own fields plus the connection's session attributes, read through from
 * the connection when asked (one small object per record, nothing cached per connection).
 */
class RecordSessionInfo implements DtlsSessionInfo {
  constructor(
    private readonly conn: Connection,
    readonly nodeId: number | undefined,
    readonly newestRecord: boolean,
    readonly epoch: number,
    readonly readSequence: number,
    private readonly prev: PeerAddress | undefined,
    private readonly routed: boolean,
  ) {}
  get peerIdentity(): string | undefined {
    return this.conn.session!.peerIdentity;
  }
  get cipherSuite(): string {
    return this.conn.session!.cipherSuite.name;
  }
  get sessionId(): Buffer {
    return this.conn.session!.id;
  }
  get sessionTime(): number {
    return this.conn.session!.creationTime;
  }
  get readCid(): Buffer | undefined {
    return this.conn.readCid;
  }
  get writeCid(): Buffer | undefined {
    return this.conn.readCid === undefined ? undefined : (this.conn.writeCid ?? EMPTY);
  }
  get via(): string | undefined {
    return this.routed ? VIA_CID_ROUTER : undefined;
  }
  get secureRenegotiation(): boolean {
    return this.conn.session!.secureRenegotiation;
  }
  get extendedMasterSecret(): boolean {
    return this.conn.session!.extendedMasterSecret;
  }
  get messageSizeLimit(): number {
    return this.conn.messageSizeLimit;
  }
  get handshakeTime(): number {
    return this.conn.handshakeTime;
  }
  get prevAddress(): string | undefined {
    return this.prev?.address;
  }
  get prevPort(): number | undefined {
    return this.prev?.port;
  }
  get takeoverFrom(): number | undefined {
    return this.conn.takeoverFrom >= 0 ? this.conn.takeoverFrom : undefined;
  }
  /** Plain-object form (attributes as own properties, absent ones left out), as buildSessionInfo makes them. */
  toJSON(): DtlsSessionInfo {
    const info = buildSessionInfo(this.conn, this.nodeId);
    info.newestRecord = this.newestRecord;
    info.epoch = this.epoch;
    info.readSequence = this.readSequence;
    if (this.routed) info.via = VIA_CID_ROUTER;
    else delete info.via;
    if (this.prev !== undefined) {
      info.prevAddress = this.prev.address;
      info.prevPort = this.prev.port;
    }
    return info;
  }
}

/**
 * DTLS attributes of a record received on an established connection (one small object; the session attributes are
 * read from the connection). `routed`: the record came through a cluster node.
 */
export function recordInfo(conn: Connection, nodeId: number | undefined, epoch: number, seq: number, newest: boolean, prev: PeerAddress | undefined, routed: boolean): DtlsSessionInfo {
  return new RecordSessionInfo(conn, nodeId, newest, epoch, seq, prev, routed);
}

/**
 * Moves what an established connection keeps for its lifetime — CIDs, session id and master secret, the epoch keys —
 * into one latin1 string of its own (Connection.pack), dropping references to buffers and slices of shared buffers
 * (node's 8 KB allocation pool, received datagrams, PRF output). Buffers are made from it when asked (rarely: the
 * record hot path reads the write CID, and the keys only when a protection is built). Call once, when the handshake
 * completed; afterwards Connection.dropProtection lets an idle connection go without its protection object.
 */
export function compactConnection(conn: Connection): void {
  conn.pack();
}

/** JSON form of an established connection (restart.md §1; keys and secrets as hex). */
export interface ConnectionJson {
  version: 1;
  role: 'server' | 'client';
  address: string;
  port: number;
  readCid: string | null;
  writeCid: string | null;
  session: SessionJson;
  epoch: EpochStateJson;
  seq0: number;
  lastActivity: number;
  handshakeTime: number;
  messageSizeLimit: number;
  prevAddress: string | null;
  prevPort: number | null;
  router: PeerAddress | null;
  macErrors: number;
  macErrorStart: number;
  doublePrincipal: boolean;
  resumptionRequired: boolean;
}

/** Serializes an established connection; undefined for a connection without session (handshake in progress) or closed. */
export function connectionToJson(conn: Connection): ConnectionJson | undefined {
  if (!conn.established || conn.closed || conn.session === undefined || conn.epoch === undefined) return undefined;
  return {
    version: 1,
    role: conn.role,
    address: conn.address,
    port: conn.port,
    readCid: conn.readCid === undefined ? null : conn.readCid.toString('hex'),
    writeCid: conn.writeCid === undefined ? null : conn.writeCid.toString('hex'),
    session: sessionToJson(conn.session),
    epoch: epochStateToJson(conn.epoch),
    seq0: conn.seq0,
    lastActivity: conn.lastActivity,
    handshakeTime: conn.handshakeTime,
    messageSizeLimit: conn.messageSizeLimit,
    prevAddress: conn.prevAddress ?? null,
    prevPort: conn.prevPort ?? null,
    router: conn.router === undefined ? null : { address: conn.router.address, port: conn.router.port },
    macErrors: conn.macErrors,
    macErrorStart: conn.macErrorStart,
    doublePrincipal: conn.doublePrincipal,
    resumptionRequired: conn.resumptionRequired,
  };
}

/** Restores an established connection (cipher objects rebuilt); throws on malformed data. */
export function connectionFromJson(json: ConnectionJson): Connection {
  if (json.version !== 1) throw new Error(`unsupported connection version ${String(json.version)}`);
  if (json.role !== 'server' && json.role !== 'client') throw new Error('bad role');
  if (typeof json.address !== 'string' || !Number.isInteger(json.port)) throw new Error('bad peer address');
  const epoch = epochStateFromJson(json.epoch);
  if (epoch === undefined) throw new Error('bad epoch state');
  const conn = new Connection(json.role, json.address, json.port, json.lastActivity);
  conn.readCid = json.readCid === null ? undefined : Buffer.from(json.readCid, 'hex');
  conn.writeCid = json.writeCid === null ? undefined : Buffer.from(json.writeCid, 'hex');
  conn.session = sessionFromJson(json.session);
  conn.epoch = epoch;
  conn.protection = createRecordProtection(epoch.keys);
  conn.seq0 = json.seq0;
  conn.handshakeTime = json.handshakeTime;
  conn.messageSizeLimit = json.messageSizeLimit;
  if (json.prevAddress !== null && json.prevPort !== null) {
    conn.prevAddress = json.prevAddress;
    conn.prevPort = json.prevPort;
  }
  if (json.router !== null) conn.router = { address: json.router.address, port: json.router.port };
  conn.macErrors = json.macErrors;
  conn.macErrorStart = json.macErrorStart;
  conn.doublePrincipal = json.doublePrincipal;
  conn.resumptionRequired = json.resumptionRequired;
  conn.established = true;
  return conn;
}

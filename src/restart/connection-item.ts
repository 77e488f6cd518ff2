// Binary codec of one established DTLS connection (the "connection item" of the restart stream,
// restart.md §2). The inner layout is this project's own (restart.md: byte compatibility only with
// itself); it holds exactly what ConnectionJson (src/dtls/connection.ts) holds.
//
// Item: version 1, 2-byte length, content:
//
// | # | Field                         | Encoding                                                          |
// |---|-------------------------------|-------------------------------------------------------------------|
// | 1 | flags                         | 1 byte: 0x01 role client, 0x02 resumption required, 0x04 double    |
// |   |                               | principal, 0x08 extended master secret, 0x10 secure renegotiation, |
// |   |                               | 0x20 MAC error state present (field 16)                            |
// | 2 | optional fields               | 1 byte bitmap of fields 15a-15h (0x01 = 15a ... 0x80 = 15h)        |
// | 3 | last activity                 | int64, monotonic ns (stream time base, shifted on load)           |
// | 4 | handshake time                | uint48, wall ms                                                   |
// | 5 | peer address                  | address (below) + port (2)                                        |
// | 6 | read CID                      | var-bytes(1), 0xFF = not negotiated                                |
// | 7 | write CID                     | var-bytes(1), 0xFF = not negotiated                                |
// | 8 | session id                    | var-bytes(1)                                                      |
// | 9 | session creation time         | uint48, wall ms                                                   |
// |10 | cipher suite                  | 2 bytes, IANA code                                                |
// |11 | master secret                 | var-bytes(1) (48 bytes)                                           |
// |12 | epoch keys                    | epoch (1), suite code (2), read key, read IV, read MAC key, write |
// |   |                               | key, write IV, write MAC key (lengths fixed by the suite)         |
// |13 | replay window                 | varint(highest seq + 1), bitmap low (4), bitmap high (4)           |
// |14 | sequence numbers              | varint next write seq (epoch 1), varint next write seq (epoch 0)  |
// |   | message size limit            | varint                                                            |
// |15a| previous peer address         | address + port (2)                                                |
// |15b| cluster router                | address + port (2)                                                |
// |15c| peer identity                 | string(2)                                                         |
// |15d| record size limit             | 2 bytes                                                           |
// |15e| max fragment length           | 2 bytes                                                           |
// |15f| send certificate type         | 1 byte                                                            |
// |15g| receive certificate type      | 1 byte                                                            |
// |15h| named group                   | 2 bytes                                                           |
// |16 | MAC error state               | varint errors, int64 period start (monotonic ns)                  |
//
// address: 1 byte kind: 4 = IPv4 (4 bytes), 16 = IPv6 (16 bytes), 0 = text (string(1), e.g. with a
// scope id or an IPv4-mapped IPv6 literal that must be kept as written).
// varint: 7 bits per byte, least significant group first, high bit = more.
import { cipherSuiteByCode, type CipherSuite } from '../dtls/cipher-suites.js';
import type { ConnectionJson } from '../dtls/connection.js';
import type { DirectionKeysJson } from '../dtls/keys.js';
import { bytesToAddress, ipToBytes } from '../transport/address-bytes.js';
import { ByteReader, ByteWriter, StreamError } from './bytes.js';
import type { FromMono, ToMono } from './time-mark.js';

/** Version byte of the connection item. */
export const CONNECTION_ITEM_VERSION = 1;

const F_CLIENT = 0x01;
const F_RESUMPTION_REQUIRED = 0x02;
const F_DOUBLE_PRINCIPAL = 0x04;
const F_EMS = 0x08;
const F_SECURE_RENEGOTIATION = 0x10;
const F_MAC_ERRORS = 0x20;

const O_PREV = 0x01;
const O_ROUTER = 0x02;
const O_IDENTITY = 0x04;
const O_RECORD_SIZE_LIMIT = 0x08;
const O_MAX_FRAGMENT = 0x10;
const O_SEND_CERT = 0x20;
const O_RECEIVE_CERT = 0x40;
const O_NAMED_GROUP = 0x80;

/** Writes one connection item (version 1, 2-byte length). */
export function writeConnectionItem(w: ByteWriter, c: ConnectionJson, toMono: ToMono): void {
  const s = c.session;
  const suite = knownSuite(s.cipherSuite);
  const keySuite = knownSuite(c.epoch.keys.cipherSuite);
  let flags = 0;
  if (c.role === 'client') flags |= F_CLIENT;
  if (c.resumptionRequired) flags |= F_RESUMPTION_REQUIRED;
  if (c.doublePrincipal) flags |= F_DOUBLE_PRINCIPAL;
  if (s.extendedMasterSecret) flags |= F_EMS;
  if (s.secureRenegotiation) flags |= F_SECURE_RENEGOTIATION;
  if (c.macErrors > 0) flags |= F_MAC_ERRORS;
  const hasPrev = c.prevAddress !== null && c.prevPort !== null;
  let optional = 0;
  if (hasPrev) optional |= O_PREV;
  if (c.router !== null) optional |= O_ROUTER;
  if (s.peerIdentity !== null) optional |= O_IDENTITY;
  if (s.recordSizeLimit !== null) optional |= O_RECORD_SIZE_LIMIT;
  if (s.maxFragmentLength !== null) optional |= O_MAX_FRAGMENT;
  if (s.sendCertificateType !== null) optional |= O_SEND_CERT;
  if (s.receiveCertificateType !== null) optional |= O_RECEIVE_CERT;
  if (s.namedGroup !== null) optional |= O_NAMED_GROUP;
  w.item(CONNECTION_ITEM_VERSION, 2, (b) => {
    b.uint(flags, 1).uint(optional, 1);
    b.int64(toMono(c.lastActivity));
    b.uint(wallMs(c.handshakeTime), 6);
    writeAddress(b, c.address, c.port);
    b.varBytes(hexOrUndefined(c.readCid), 1);
    b.varBytes(hexOrUndefined(c.writeCid), 1);
    b.varBytes(Buffer.from(s.id, 'hex'), 1);
    b.uint(wallMs(s.creationTime), 6);
    b.uint(suite.code, 2);
    b.varBytes(Buffer.from(s.masterSecret, 'hex'), 1);
    const keys = c.epoch.keys;
    b.uint(keys.epoch, 1).uint(keySuite.code, 2);
    writeDirection(b, keys.read, keySuite);
    writeDirection(b, keys.write, keySuite);
    const win = c.epoch.window;
    b.varint(win.maxSeq + 1).uint(win.lo, 4).uint(win.hi, 4);
    b.varint(c.epoch.nextSeq).varint(c.seq0).varint(c.messageSizeLimit);
    if (hasPrev) writeAddress(b, c.prevAddress!, c.prevPort!);
    if (c.router !== null) writeAddress(b, c.router.address, c.router.port);
    if (s.peerIdentity !== null) b.string(s.peerIdentity, 2);
    if (s.recordSizeLimit !== null) b.uint(s.recordSizeLimit, 2);
    if (s.maxFragmentLength !== null) b.uint(s.maxFragmentLength, 2);
    if (s.sendCertificateType !== null) b.uint(s.sendCertificateType, 1);
    if (s.receiveCertificateType !== null) b.uint(s.receiveCertificateType, 1);
    if (s.namedGroup !== null) b.uint(s.namedGroup, 2);
    if (c.macErrors > 0) b.varint(c.macErrors).int64(toMono(c.macErrorStart));
  });
}

/** Reads the content of a connection item (after its version and length); throws StreamError. */
export function readConnectionItem(version: number, r: ByteReader, fromMono: FromMono): ConnectionJson {
  if (version !== CONNECTION_ITEM_VERSION) throw new StreamError(`unsupported connection item version ${version}`);
  const flags = r.uint(1);
  const optional = r.uint(1);
  const lastActivity = fromMono(r.int64());
  const handshakeTime = r.uint(6);
  const peer = readAddress(r);
  const readCid = r.varBytes(1);
  const writeCid = r.varBytes(1);
  const sessionId = r.varBytes(1);
  if (sessionId === undefined) throw new StreamError('session id missing');
  const creationTime = r.uint(6);
  const suite = knownSuite(r.uint(2));
  const masterSecret = r.varBytes(1);
  if (masterSecret?.length !== 48) throw new StreamError('master secret must be 48 bytes');
  const epoch = r.uint(1);
  const keySuite = knownSuite(r.uint(2));
  const read = readDirection(r, keySuite);
  const write = readDirection(r, keySuite);
  const maxSeq = r.varint() - 1;
  const lo = r.uint(4);
  const hi = r.uint(4);
  const nextSeq = r.varint();
  const seq0 = r.varint();
  const messageSizeLimit = r.varint();
  const prev = optional & O_PREV ? readAddress(r) : undefined;
  const router = optional & O_ROUTER ? readAddress(r) : undefined;
  const peerIdentity = optional & O_IDENTITY ? r.string(2) : undefined;
  const recordSizeLimit = optional & O_RECORD_SIZE_LIMIT ? r.uint(2) : null;
  const maxFragmentLength = optional & O_MAX_FRAGMENT ? r.uint(2) : null;
  const sendCertificateType = optional & O_SEND_CERT ? r.uint(1) : null;
  const receiveCertificateType = optional & O_RECEIVE_CERT ? r.uint(1) : null;
  const namedGroup = optional & O_NAMED_GROUP ? r.uint(2) : null;
  const macErrors = flags & F_MAC_ERRORS ? r.varint() : 0;
  const macErrorStart = flags & F_MAC_ERRORS ? fromMono(r.int64()) : 0;
  r.end('connection item');
  return {
    version: 1,
    role: flags & F_CLIENT ? 'client' : 'server',
    address: peer.address,
    port: peer.port,
    readCid: readCid === undefined ? null : readCid.toString('hex'),
    writeCid: writeCid === undefined ? null : writeCid.toString('hex'),
    session: {
      id: sessionId.toString('hex'),
      cipherSuite: suite.code,
      masterSecret: masterSecret.toString('hex'),
      peerIdentity: peerIdentity ?? null,
      extendedMasterSecret: (flags & F_EMS) !== 0,
      secureRenegotiation: (flags & F_SECURE_RENEGOTIATION) !== 0,
      creationTime,
      recordSizeLimit,
      maxFragmentLength,
      sendCertificateType,
      receiveCertificateType,
      namedGroup,
    },
    epoch: { keys: { cipherSuite: keySuite.code, epoch, read, write }, window: { maxSeq, lo, hi }, nextSeq },
    seq0,
    lastActivity,
    handshakeTime,
    messageSizeLimit,
    prevAddress: prev?.address ?? null,
    prevPort: prev?.port ?? null,
    router: router ?? null,
    macErrors,
    macErrorStart,
    doublePrincipal: (flags & F_DOUBLE_PRINCIPAL) !== 0,
    resumptionRequired: (flags & F_RESUMPTION_REQUIRED) !== 0,
  };
}

function knownSuite(code: number): CipherSuite {
  const suite = cipherSuiteByCode(code);
  if (suite === undefined) throw new StreamError(`unknown cipher suite 0x${code.toString(16)}`);
  return suite;
}

/** Wall-clock ms as uint48 (negative or fractional test clocks are clamped/rounded). */
function wallMs(ms: number): number {
  return Math.min(2 ** 48 - 1, Math.max(0, Math.round(ms)));
}

function hexOrUndefined(hex: string | null): Buffer | undefined {
  return hex === null ? undefined : Buffer.from(hex, 'hex');
}

/** Key lengths of one direction as the suite fixes them. */
function directionLengths(suite: CipherSuite): [number, number, number] {
  return [suite.encKeyLength, suite.fixedIvLength, suite.macKeyLength];
}

function writeDirection(w: ByteWriter, k: DirectionKeysJson, suite: CipherSuite): void {
  const [keyLen, ivLen, macLen] = directionLengths(suite);
  const parts: Array<[string, number]> = [
    [k.key, keyLen],
    [k.iv, ivLen],
    [k.macKey, macLen],
  ];
  for (const [hex, len] of parts) {
    const b = Buffer.from(hex, 'hex');
    if (b.length !== len) throw new StreamError(`key length ${b.length} does not match ${suite.name}`);
    w.bytes(b);
  }
}

function readDirection(r: ByteReader, suite: CipherSuite): DirectionKeysJson {
  const [keyLen, ivLen, macLen] = directionLengths(suite);
  return { key: r.bytes(keyLen).toString('hex'), iv: r.bytes(ivLen).toString('hex'), macKey: r.bytes(macLen).toString('hex') };
}

function writeAddress(w: ByteWriter, address: string, port: number): void {
  const raw = ipToBytes(address);
  if (raw !== undefined && bytesToAddress(raw) === address) w.uint(raw.length, 1).bytes(raw);
  else w.uint(0, 1).string(address, 1);
  w.uint(port, 2);
}

function readAddress(r: ByteReader): { address: string; port: number } {
  const kind = r.uint(1);
  let address: string | undefined;
  if (kind === 4 || kind === 16) address = bytesToAddress(r.bytes(kind));
  else if (kind === 0) address = r.string(1);
  if (address === undefined || address.length === 0) throw new StreamError(`bad peer address (kind ${kind})`);
  return { address, port: r.uint(2) };
}

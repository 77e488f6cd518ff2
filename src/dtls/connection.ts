// One DTLS connection (one peer session): address, CIDs, the protected epoch, session, newest-record
// bookkeeping (dtls.md §6), MAC error filter (config.md §3), and its JSON form for the graceful restart
// (restart.md §1: established connections only, never handshakes in progress).
import type { DtlsSessionInfo, PeerAddress } from '../transport/connector.js';
import { peerKey } from '../transport/connector.js';
import { epochStateFromJson, epochStateToJson, type EpochState, type EpochStateJson } from './epoch-state.js';
import type { FlightEntry } from './flight.js';
import { createRecordProtection, rebindRecordProtection, type RecordProtection } from './record-protection.js';
import type { DirectionKeys } from './keys.js';
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

/** State of one connection; hot-path object (one per peer session). */
export class Connection {
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
  /** the connection's own buffer of everything it keeps (compactConnection), undefined before */
  private packed: Buffer | undefined;
  /** established session (undefined while the first handshake runs) */
  session: Session | undefined;
  /** the protected epoch (1): keys, replay window, next write sequence number */
  epoch: EpochState | undefined;
  protection: RecordProtection | undefined;
  /** next epoch-0 write sequence number */
  seq0 = 0;
  /** handshake in progress (server or client state) */
  handshake: HandshakeSlot | undefined;
  /** our last flight of the completed handshake, resent when the peer retransmits its last flight */
  lastFlight: FlightEntry[] | undefined;
  /** last record received or sent, ms */
  lastActivity: number;
  /** last time the store's LRU order was refreshed */
  lastTouch: number;
  /** time the handshake completed, ms */
  handshakeTime = 0;
  established = false;
  closed = false;
  /** previous peer address after a CID address update */
  prevAddress: string | undefined;
  prevPort: number | undefined;
  /** cluster router the newest record came through (responses go back through it) */
  router: PeerAddress | undefined;
  /** MAC error filter: errors in the current period, period start, filter active until */
  macErrors = 0;
  macErrorStart = 0;
  macFilterUntil = 0;
  /** application payload limit per record (dtls.md §9) */
  messageSizeLimit = 0;
  /** client random of the ClientHello that created this connection (late retransmissions are dropped) */
  clientRandom: Buffer | undefined;
  /** server random of the completed handshake (extra key material such as the cluster MAC keys, cluster.md §5) */
  serverRandom: Buffer | undefined;
  /** an older connection of a principal that has a newer one (restart.md §2) */
  doublePrincipal = false;
  /** the next handshake with this peer must be a full one */
  resumptionRequired = false;
  /** datagram serial of the last resend of lastFlight (once per datagram) */
  resendSerial = -1;
  /** client role: application messages waiting for the handshake */
  deferred: DeferredMessage[] | undefined;

  constructor(role: 'server' | 'client', address: string, port: number, now: number) {
    this.id = nextConnectionId++;
    this.role = role;
    this.address = address;
    this.port = port;
    this.addressKey = peerKey(address, port);
    this.lastActivity = now;
    this.lastTouch = now;
  }

  /** CID the peer writes into records to us; undefined = CID not negotiated, empty = negotiated without one */
  get readCid(): Buffer | undefined {
    const n = this.rcLength;
    if (n === -1) return this.rc;
    return n === -2 ? undefined : this.packed!.subarray(0, n);
  }

  set readCid(cid: Buffer | undefined) {
    this.rc = cid;
    this.rcLength = -1;
  }

  /** CID we write into records to the peer; undefined = not negotiated, empty = none (a view, made per access) */
  get writeCid(): Buffer | undefined {
    const n = this.wcLength;
    if (n === -1) return this.wc;
    if (n === -2) return undefined;
    const at = this.rcLength > 0 ? this.rcLength : 0;
    return this.packed!.subarray(at, at + n);
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

  /** Takes `blob` as its own buffer: the read CID (`readLength` bytes, −2 = none) then the write CID at its start. */
  packCids(blob: Buffer, readLength: number, writeLength: number): void {
    this.packed = blob;
    this.rc = undefined;
    this.wc = undefined;
    this.rcLength = readLength;
    this.wcLength = writeLength;
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
    if (this.macFilterUntil === 0) return false;
    if (now < this.macFilterUntil) return true;
    this.macFilterUntil = 0;
    this.macErrors = 0;
    return false;
  }

  /** Counts a record that failed authentication; activates the filter above `threshold` errors. */
  macError(now: number, threshold: number, quietTime: number): void {
    if (threshold <= 0 || quietTime <= 0) return;
    if (this.macErrors === 0 || now - this.macErrorStart >= quietTime) {
      this.macErrors = 0;
      this.macErrorStart = now;
    }
    this.macErrors++;
    if (this.macErrors > threshold) this.macFilterUntil = now + quietTime;
  }
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

/** Epoch keys of one direction as offsets into a connection's own buffer: views are made when asked (rarely). */
class PackedDirectionKeys implements DirectionKeys {
  constructor(
    private readonly blob: Buffer,
    private readonly at: number,
    private readonly keyLength: number,
    private readonly ivLength: number,
    private readonly macLength: number,
  ) {}
  get key(): Buffer {
    return this.blob.subarray(this.at, this.at + this.keyLength);
  }
  get iv(): Buffer {
    return this.ivLength === 0 ? EMPTY : this.blob.subarray(this.at + this.keyLength, this.at + this.keyLength + this.ivLength);
  }
  get macKey(): Buffer {
    const from = this.at + this.keyLength + this.ivLength;
    return this.macLength === 0 ? EMPTY : this.blob.subarray(from, from + this.macLength);
  }
}

/**
 * Moves what an established connection keeps for its lifetime — CIDs, session id and master secret, the epoch keys —
 * into one buffer of its own, dropping references to slices of shared buffers (node's 8 KB allocation pool, received
 * datagrams, PRF output) that would each keep the whole shared buffer alive. CIDs and keys are kept as offsets (views
 * made on access), the session becomes a copy owned by this connection with views for its id and master secret, and
 * the protection is re-pointed at the packed keys. The randoms stay as they are (released with the last flight).
 * Call once, when the handshake completed.
 */
export function compactConnection(conn: Connection): void {
  const session = conn.session;
  const epoch = conn.epoch;
  if (session === undefined || epoch === undefined) return;
  const keys = epoch.keys;
  const readCid = conn.readCid;
  const writeCid = conn.writeCid;
  const total =
    (readCid?.length ?? 0) + (writeCid?.length ?? 0) + session.id.length + session.masterSecret.length + directionLength(keys.read) + directionLength(keys.write);
  const blob = Buffer.allocUnsafeSlow(total);
  let at = 0;
  if (readCid !== undefined) at = put(readCid, blob, at);
  if (writeCid !== undefined) at = put(writeCid, blob, at);
  conn.packCids(blob, readCid === undefined ? -2 : readCid.length, writeCid === undefined ? -2 : writeCid.length);
  const idAt = at;
  at = put(session.id, blob, at);
  const msAt = at;
  at = put(session.masterSecret, blob, at);
  conn.session = {
    ...session,
    id: session.id.length === 0 ? EMPTY : blob.subarray(idAt, msAt),
    masterSecret: blob.subarray(msAt, at),
  };
  // in place: the protection holds the same key object (and is pointed at the packed keys)
  const read = keys.read;
  keys.read = new PackedDirectionKeys(blob, at, read.key.length, read.iv.length, read.macKey.length);
  at = put(read.macKey, blob, put(read.iv, blob, put(read.key, blob, at)));
  const write = keys.write;
  keys.write = new PackedDirectionKeys(blob, at, write.key.length, write.iv.length, write.macKey.length);
  put(write.macKey, blob, put(write.iv, blob, put(write.key, blob, at)));
  if (conn.protection !== undefined) rebindRecordProtection(conn.protection);
}

/** Bytes of one direction's key material. */
function directionLength(d: DirectionKeys): number {
  return d.key.length + d.iv.length + d.macKey.length;
}

/** Copies `b` into `blob` at `at` (a byte loop: these are short) and returns the offset after it. */
function put(b: Buffer, blob: Buffer, at: number): number {
  for (let i = 0, n = b.length; i < n; i++) blob[at + i] = b[i]!;
  return at + b.length;
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

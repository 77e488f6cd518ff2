// One DTLS connection (one peer session): address, CIDs, the protected epoch, session, newest-record
// bookkeeping (dtls.md §6), MAC error filter (config.md §3), and its JSON form for the graceful restart
// (restart.md §1: established connections only, never handshakes in progress).
import type { DtlsSessionInfo, PeerAddress } from '../transport/connector.js';
import { peerKey } from '../transport/connector.js';
import { epochStateFromJson, epochStateToJson, type EpochState, type EpochStateJson } from './epoch-state.js';
import type { FlightEntry } from './flight.js';
import { createRecordProtection, type RecordProtection } from './record-protection.js';
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
  /** CID the peer writes into records to us; undefined = CID not negotiated, empty = negotiated without one */
  readCid: Buffer | undefined;
  /** CID we write into records to the peer; undefined = not negotiated, empty = none */
  writeCid: Buffer | undefined;
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
  /** cached session attributes; per-record fields are filled by recordInfo() */
  info: DtlsSessionInfo | undefined;
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

  /** True once a CID was negotiated and the peer puts a non-empty CID into its records. */
  get usesReadCid(): boolean {
    return this.readCid !== undefined && this.readCid.length > 0;
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

/** Per-record attributes: a copy of the cached info with sequence, newest flag and previous address. */
export function recordInfo(base: DtlsSessionInfo, epoch: number, seq: number, newest: boolean, prev: PeerAddress | undefined): DtlsSessionInfo {
  const info: DtlsSessionInfo = {
    cipherSuite: base.cipherSuite,
    sessionId: base.sessionId,
    sessionTime: base.sessionTime,
    secureRenegotiation: base.secureRenegotiation,
    extendedMasterSecret: base.extendedMasterSecret,
    newestRecord: newest,
    messageSizeLimit: base.messageSizeLimit,
    epoch,
    readSequence: seq,
    handshakeTime: base.handshakeTime,
  };
  if (base.peerIdentity !== undefined) info.peerIdentity = base.peerIdentity;
  if (base.readCid !== undefined) info.readCid = base.readCid;
  if (base.writeCid !== undefined) info.writeCid = base.writeCid;
  if (base.via !== undefined) info.via = base.via;
  if (base.nodeId !== undefined) info.nodeId = base.nodeId;
  if (prev !== undefined) {
    info.prevAddress = prev.address;
    info.prevPort = prev.port;
  }
  return info;
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

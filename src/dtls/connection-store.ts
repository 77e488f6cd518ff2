// Connection store (dtls.md §6-§8): lookup by CID and by peer address, sessions for resumption,
// bounded by maxConnections with LRU eviction of stale connections only, CID issuing (node-id in byte 0),
// and the stale double-principal rule.
import { randomBytes } from 'node:crypto';
import type { Connection } from './connection.js';

/** Why a connection left the store. */
export type RemovalReason = 'closed' | 'failed' | 'evicted' | 'replaced' | 'double-principal' | 'cleared';

/** Settings of a store. */
export interface ConnectionStoreOptions {
  maxConnections: number;
  /** a full store may evict only connections idle at least this long (ms) */
  staleConnectionThreshold: number;
  /** length of the CIDs this side issues; undefined or 0 = none */
  cidLength: number | undefined;
  /** node id for CID byte 0 */
  nodeId: number | undefined;
  /** worker index for CID byte 1 (a worker of a cluster node; needs nodeId and cidLength ≥ 6) */
  workerId?: number;
  /** random source (tests inject) */
  random?: (n: number) => Buffer;
  /** called after a connection was removed (timers must be cancelled by the owner) */
  onRemoved?: (conn: Connection, reason: RemovalReason) => void;
}

/** Map key of a CID: a number for up to 6 bytes (no allocation), else a latin1 string. */
export function cidKey(cid: Buffer): number | string {
  return cid.length <= 6 ? cid.readUIntBE(0, cid.length) : cid.toString('latin1');
}

/**
 * Map key of a session id: its first four bytes as a 32-bit integer (kept in the map entry itself; a text key would be
 * a string of its own per connection). Ids are random, so two ids rarely share a key; the store checks the whole id.
 */
function sessionNumber(id: Buffer): number {
  let k = 0;
  for (let i = 0; i < 4 && i < id.length; i++) k = (k << 8) | id[i]!;
  return k | 0;
}

/** Map key of a session id whose number another session holds: latin1 text. */
function sessionText(id: Buffer): string {
  return id.toString('latin1');
}

/** All connections of one connector (hot path: lookups per record). */
export class ConnectionStore {
  readonly maxConnections: number;
  readonly staleConnectionThreshold: number;
  private readonly cidLength: number;
  private readonly workerId: number | undefined;
  private readonly nodeId: number | undefined;
  private readonly random: (n: number) => Buffer;
  private readonly onRemoved: ((conn: Connection, reason: RemovalReason) => void) | undefined;
  /** every connection (established and handshaking) in least-recently-used order */
  private readonly lru = new Map<number, Connection>();
  private readonly byCid = new Map<number | string, Connection>();
  /** established connections by current peer address */
  private readonly byAddress = new Map<string, Connection>();
  /** connections whose (first) handshake is in progress, by peer address */
  private readonly handshakes = new Map<string, Connection>();
  /** established connections by session id (sessionNumber; an id whose number another id holds in sessionCollisions) */
  private readonly bySession = new Map<number, Connection>();
  private readonly sessionCollisions = new Map<string, Connection>();
  private readonly byPrincipal = new Map<string, Connection>();
  /** LRU refresh granularity (ms) */
  private readonly touchGranularity: number;

  constructor(opts: ConnectionStoreOptions) {
    if (opts.nodeId !== undefined && (opts.cidLength ?? 0) < 5) throw new Error('a node id requires a CID length of at least 5');
    if (opts.workerId !== undefined && (opts.nodeId === undefined || (opts.cidLength ?? 0) < 6)) throw new Error('a worker id requires a node id and a CID length of at least 6');
    this.maxConnections = opts.maxConnections;
    this.staleConnectionThreshold = opts.staleConnectionThreshold;
    this.cidLength = opts.cidLength ?? 0;
    this.nodeId = opts.nodeId;
    this.workerId = opts.workerId;
    this.random = opts.random ?? randomBytes;
    this.onRemoved = opts.onRemoved;
    this.touchGranularity = Math.max(1, Math.min(1000, Math.floor(opts.staleConnectionThreshold / 10)));
  }

  /** Number of connections (established and handshaking). */
  get size(): number {
    return this.lru.size;
  }

  /** Number of established connections. */
  get establishedCount(): number {
    let n = 0;
    for (const c of this.lru.values()) if (c.established) n++;
    return n;
  }

  /** Every connection, least recently used first. */
  values(): IterableIterator<Connection> {
    return this.lru.values();
  }

  /** Connection owning a CID (established or handshaking). */
  getByCid(cid: Buffer): Connection | undefined {
    return this.byCid.get(cidKey(cid));
  }

  /** Established connection at a peer address key. */
  getByAddress(key: string): Connection | undefined {
    return this.byAddress.get(key);
  }

  /** Connection with a handshake in progress at a peer address key. */
  getHandshake(key: string): Connection | undefined {
    return this.handshakes.get(key);
  }

  /** Established connection of a session id (resumption, dtls.md §7). */
  findSession(sessionId: Buffer): Connection | undefined {
    if (sessionId.length === 0) return undefined;
    const conn = this.bySession.get(sessionNumber(sessionId));
    if (conn !== undefined && conn.session!.id.equals(sessionId)) return conn;
    return this.sessionCollisions.size === 0 ? undefined : this.sessionCollisions.get(sessionText(sessionId));
  }

  /**
   * Makes room for one more connection: true if below capacity or the least recently used connection
   * was idle ≥ staleConnectionThreshold and got evicted (dtls.md §8); false = refuse the handshake.
   */
  reserve(now: number): boolean {
    if (this.lru.size < this.maxConnections) return true;
    const oldest = this.lru.values().next().value as Connection | undefined;
    if (oldest === undefined) return false;
    if (now - oldest.lastActivity < this.staleConnectionThreshold) return false;
    this.remove(oldest, 'evicted');
    return true;
  }

  /** A fresh CID unique in this store: cidLength random bytes, byte 0 = node id if set (dtls.md §6), byte 1 = worker id if set. */
  newCid(): Buffer {
    const n = this.cidLength;
    if (n === 0) return Buffer.alloc(0);
    for (let attempt = 0; attempt < 16; attempt++) {
      const cid = Buffer.from(this.random(n));
      if (this.nodeId !== undefined) cid[0] = this.nodeId & 0xff;
      if (this.workerId !== undefined) cid[1] = this.workerId & 0xff;
      if (!this.byCid.has(cidKey(cid))) return cid;
    }
    throw new Error('no unique CID found');
  }

  /** Adds a connection whose handshake starts (call reserve() first). */
  addHandshake(conn: Connection): void {
    this.lru.set(conn.id, conn);
    const previous = this.handshakes.get(conn.addressKey);
    if (previous !== undefined && previous !== conn) this.remove(previous, 'replaced');
    this.handshakes.set(conn.addressKey, conn);
    if (conn.readCid !== undefined && conn.readCid.length > 0) this.byCid.set(cidKey(conn.readCid), conn);
  }

  /** Replaces the read CID of a connection in the store (e.g. the server did not accept the client's CID). */
  changeCid(conn: Connection, cid: Buffer | undefined): void {
    if (conn.readCid !== undefined && conn.readCid.length > 0) {
      const key = cidKey(conn.readCid);
      if (this.byCid.get(key) === conn) this.byCid.delete(key);
    }
    conn.readCid = cid;
    if (cid !== undefined && cid.length > 0 && this.lru.has(conn.id)) this.byCid.set(cidKey(cid), conn);
  }

  /**
   * Marks a connection established: it takes over its address from an older connection there (which
   * is removed, as Californium does after a new handshake from the same address) and its session id.
   */
  establish(conn: Connection, now: number, removeStaleDoublePrincipals: boolean): void {
    if (this.handshakes.get(conn.addressKey) === conn) this.handshakes.delete(conn.addressKey);
    const old = this.byAddress.get(conn.addressKey);
    if (old !== undefined && old !== conn) this.remove(old, 'replaced');
    this.byAddress.set(conn.addressKey, conn);
    const session = conn.session;
    if (session !== undefined && session.id.length > 0) this.putSession(session.id, conn);
    const principal = session?.peerIdentity;
    if (principal !== undefined) {
      const older = this.byPrincipal.get(principal);
      if (older !== undefined && older !== conn && this.lru.has(older.id)) {
        if (removeStaleDoublePrincipals && now - older.lastActivity >= this.staleConnectionThreshold) {
          this.remove(older, 'double-principal');
        } else {
          older.doublePrincipal = true;
        }
      }
      this.byPrincipal.set(principal, conn);
    }
    this.touch(conn, now, true);
  }

  /** Adds an established connection restored from its JSON form (restart.md §5). */
  restore(conn: Connection): void {
    this.lru.set(conn.id, conn);
    if (conn.readCid !== undefined && conn.readCid.length > 0) {
      const key = cidKey(conn.readCid);
      const other = this.byCid.get(key);
      if (other !== undefined && other !== conn) this.remove(other, 'replaced');
      this.byCid.set(key, conn);
    }
    const old = this.byAddress.get(conn.addressKey);
    if (old !== undefined && old !== conn && old.established) old.addressKey = '';
    this.byAddress.set(conn.addressKey, conn);
    const session = conn.session;
    if (session !== undefined && session.id.length > 0) this.putSession(session.id, conn);
    if (session?.peerIdentity !== undefined && !conn.doublePrincipal) this.byPrincipal.set(session.peerIdentity, conn);
  }

  /** Makes `conn` the connection of session `id` (a later connection of the same session replaces the earlier one). */
  private putSession(id: Buffer, conn: Connection): void {
    const key = sessionNumber(id);
    const holder = this.bySession.get(key);
    if (holder === undefined || holder === conn || holder.session!.id.equals(id)) {
      this.bySession.set(key, conn);
      if (this.sessionCollisions.size > 0) this.sessionCollisions.delete(sessionText(id));
    } else {
      this.sessionCollisions.set(sessionText(id), conn);
    }
  }

  /** Moves an established connection to a new peer address (CID address update, dtls.md §6). */
  updateAddress(conn: Connection, address: string, port: number): void {
    if (this.byAddress.get(conn.addressKey) === conn) this.byAddress.delete(conn.addressKey);
    conn.setAddress(address, port);
    const other = this.byAddress.get(conn.addressKey);
    // the other connection keeps its CID but is no longer reachable by this address
    if (other !== undefined && other !== conn) other.addressKey = '';
    this.byAddress.set(conn.addressKey, conn);
  }

  /** Refreshes the LRU position (coarse granularity keeps the hot path cheap). */
  touch(conn: Connection, now: number, force = false): void {
    conn.lastActivity = now;
    if (!force && now - conn.lastTouch < this.touchGranularity) return;
    conn.lastTouch = now;
    if (this.lru.delete(conn.id)) this.lru.set(conn.id, conn);
  }

  /** Removes a connection from every index; idempotent. */
  remove(conn: Connection, reason: RemovalReason): void {
    if (!this.lru.delete(conn.id)) return;
    conn.closed = true;
    if (conn.readCid !== undefined && conn.readCid.length > 0) {
      const key = cidKey(conn.readCid);
      if (this.byCid.get(key) === conn) this.byCid.delete(key);
    }
    if (this.byAddress.get(conn.addressKey) === conn) this.byAddress.delete(conn.addressKey);
    if (this.handshakes.get(conn.addressKey) === conn) this.handshakes.delete(conn.addressKey);
    const session = conn.session;
    if (session !== undefined && session.id.length > 0) {
      const id = session.id;
      const key = sessionNumber(id);
      if (this.bySession.get(key) === conn) this.bySession.delete(key);
      else if (this.sessionCollisions.size > 0) {
        const text = sessionText(id);
        if (this.sessionCollisions.get(text) === conn) this.sessionCollisions.delete(text);
      }
    }
    if (session?.peerIdentity !== undefined && this.byPrincipal.get(session.peerIdentity) === conn) {
      this.byPrincipal.delete(session.peerIdentity);
    }
    this.onRemoved?.(conn, reason);
  }

  /**
   * Removes every connection (as remove(conn, 'cleared') for each, but the indexes are emptied at once:
   * saving the state of 100,000 connections for a restart empties the store, restart.md §1).
   */
  clear(): void {
    const all = [...this.lru.values()];
    this.lru.clear();
    this.byCid.clear();
    this.byAddress.clear();
    this.handshakes.clear();
    this.bySession.clear();
    this.sessionCollisions.clear();
    this.byPrincipal.clear();
    for (const conn of all) {
      conn.closed = true;
      this.onRemoved?.(conn, 'cleared');
    }
  }
}

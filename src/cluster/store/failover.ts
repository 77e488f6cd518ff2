// Failover of DTLS connections through the shared connection store (issue 12, docs/failover.md). One per cluster node:
// - as the DTLS connector's ConnectionStoreHook it writes each established CID connection to Redis, checkpoints it
//   every `checkpointRecords` written records or `checkpointInterval` ms (when it changed), and deletes it when it
//   is closed or evicted; a connection never writes a record at or beyond the sequence limit Redis holds for it;
// - as the transport's router of CID records it forwards records of connections another node took over to that
//   node, and takes over connections whose owner left the node table: atomic claim in Redis, sequence jump to the
//   stored limit, replay window as checkpointed.
import type { Logger } from 'pino';
import type { Connection } from '../../dtls/connection.js';
import { cidKey, type RemovalReason } from '../../dtls/connection-store.js';
import type { DtlsConnector } from '../../dtls/connector.js';
import type { ConnectionStoreHook } from '../../dtls/connector-state.js';
import { peekCid } from '../../dtls/record.js';
import type { PeerAddress } from '../../transport/connector.js';
import { decodeEntry, encodeEntry } from './entry.js';
import type { RedisStore } from './redis-store.js';
import { openEntry, sealEntry } from './seal.js';
import { createStoreStats, STORE_STATS_KEYS, type StoreStats } from './stats.js';

/** Settings of the failover of one node. */
export interface FailoverOptions {
  nodeId: number;
  /** the 32-byte store key (seal.ts deriveStoreKey) */
  key: Buffer;
  store: RedisStore;
  /** a checkpoint after this many records written since the last one */
  checkpointRecords: number;
  /** a changed connection is checkpointed at least this often (ms) */
  checkpointInterval: number;
  /** sequence numbers beyond checkpoint + checkpointRecords a node may still write while its checkpoint is on its way */
  sequenceMargin: number;
  /** an entry expires in Redis this long after its last write (ms): idle connections are written again after half of it */
  entryLifetime?: number;
  /** a node must have run this long before it takes over (ms): until then a live node may be missing from its table */
  takeoverDelay: number;
  logger?: Logger;
  now?: () => number;
}

/** What the failover needs of its node (cluster-transport.ts, manager.ts). */
export interface FailoverNode {
  /** management address of a live node, undefined when it is not in the node table */
  nodeAddress(nodeId: number): PeerAddress | undefined;
  /** the node table is complete enough to call a missing node gone */
  readonly ready: boolean;
  /** forwards a client's record to another node (type 63, cluster.md §4.2) */
  forwardTo(nodeId: number, record: Buffer, client: PeerAddress): void;
  /** processes a client's record here (`router`: the node that forwarded it, answers go back through it) */
  deliver(record: Buffer, client: PeerAddress, router?: PeerAddress): void;
}

/** Largest number of CIDs resolved through the store at the same time (more: their records are dropped, counted). */
const MAX_PENDING = 256;
/** Records kept per CID while it is resolved. */
const MAX_QUEUED_RECORDS = 8;
/** Largest number of learned owners kept (the oldest is forgotten first: it is looked up again when needed). */
const MAX_OWNERS = 100_000;
/** Largest number of checkpoints in flight (a sweep leaves the rest to the next one). */
const MAX_INFLIGHT = 512;
/** A CID without entry is not looked up again for this long (ms): random CIDs must not turn into Redis load. */
const MISS_TTL = 5000;
const MAX_MISSES = 4096;

/** Store state of one connection this node owns. */
interface Track {
  conn: Connection;
  cid: Buffer;
  /** write sequence number and read high-water mark of the last checkpoint written */
  writtenSeq: number;
  writtenMaxSeq: number;
  /** the node may write records below this sequence number (the limit Redis holds, or the one being written first) */
  limit: number;
  inflight: boolean;
  /** another checkpoint was asked for while one was in flight */
  again: boolean;
  /** the periodic sweep checkpoints a changed connection again from this time on */
  due: number;
  /** loaded from elsewhere (restart): no record is written before Redis confirmed this node still owns it */
  verifying: boolean;
  /** the last write failed (Redis unreachable): the sweep writes it again even if the connection did not change */
  failed: boolean;
  /** time of the last successful write (the entry's expiry is refreshed after half its lifetime) */
  writtenAt: number;
}

/** Records of a CID waiting for its owner. */
interface Pending {
  records: Array<{ record: Buffer; client: PeerAddress; router: PeerAddress | undefined }>;
}

/** The failover of one cluster node's DTLS connections. */
export class Failover implements ConnectionStoreHook {
  /** counters of the current period */
  readonly stats: StoreStats = createStoreStats();
  private readonly total: StoreStats = createStoreStats();
  private readonly tracks = new Map<number, Track>();
  /** CID key → owner learned from the store (this node after a takeover) */
  private readonly owners = new Map<number | string, number>();
  private readonly pending = new Map<number | string, Pending>();
  private readonly misses = new Map<number | string, number>();
  private inflight = 0;
  /** events logged one by one only the first time (a node's death means one takeover per connection): counts since the last summary */
  private readonly unlogged = { takeovers: 0, conflicts: 0, refused: 0 };
  private logged = { takeover: false, conflict: false, refused: false };
  private timer: NodeJS.Timeout | undefined;
  private startedAt = 0;
  private readonly now: () => number;
  private readonly cidLength: number;

  constructor(
    private readonly o: FailoverOptions,
    private readonly dtls: DtlsConnector,
    private readonly node: FailoverNode,
  ) {
    this.now = o.now ?? Date.now;
    this.cidLength = dtls.config.cidLength ?? 0;
    dtls.storeHook = this;
  }

  /** Starts the checkpoint timer. */
  start(): void {
    this.startedAt = this.now();
    if (this.timer !== undefined) return;
    this.timer = setInterval(() => this.sweep(), Math.max(100, Math.min(this.o.checkpointInterval, 1000)));
    this.timer.unref();
  }

  /** Stops the timer (entries stay in Redis: the connections may be restored elsewhere). */
  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  // --- ConnectionStoreHook ---------------------------------------------------------------------------------------

  established(conn: Connection): void {
    const cid = conn.readCid;
    if (cid === undefined || cid.length === 0) return; // routed by address only: no other node could take it over
    const t: Track = { conn, cid, writtenSeq: conn.nextSeq, writtenMaxSeq: conn.maxSeq, limit: -1, inflight: false, again: false, due: 0, verifying: false, failed: false, writtenAt: 0 };
    this.tracks.set(conn.id, t);
    // the first write may reach Redis even if its answer does not: its limit holds from now on
    void this.checkpoint(t, true);
  }

  restored(conn: Connection): void {
    const cid = conn.readCid;
    if (cid === undefined || cid.length === 0 || this.tracks.has(conn.id)) return; // a takeover registers its own
    // restored by a graceful restart: another node may have taken it over meanwhile (it then owns the entry and the
    // write is refused). Until Redis agrees, the limit is the current sequence number: nothing is written.
    const t: Track = { conn, cid: Buffer.from(cid), writtenSeq: conn.nextSeq, writtenMaxSeq: conn.maxSeq, limit: conn.nextSeq, inflight: false, again: false, due: 0, verifying: true, failed: false, writtenAt: 0 };
    this.tracks.set(conn.id, t);
    this.mark(t);
    void this.checkpoint(t, false);
  }

  removed(conn: Connection, reason: RemovalReason): void {
    const t = this.tracks.get(conn.id);
    if (t === undefined) return;
    this.tracks.delete(conn.id);
    const key = cidKey(t.cid);
    if (this.owners.get(key) === this.o.nodeId) this.owners.delete(key);
    conn.storeMark = -1;
    // cleared: saved for a graceful restart, the entry stays for the restored connection
    if (reason === 'cleared') return;
    this.o.store.remove(t.cid, this.o.nodeId).then(
      () => this.stats['store deletes']++,
      (err: unknown) => this.storeError(err, 'delete'),
    );
  }

  writeMark(conn: Connection): boolean {
    const t = this.tracks.get(conn.id);
    if (t === undefined) {
      conn.storeMark = -1;
      return true;
    }
    if (t.verifying) {
      // not yet confirmed as this node's: the record is not written (the peer retransmits, CoAP answers from its cache)
      this.stats['store sequence limits']++;
      return false;
    }
    if (conn.nextSeq >= t.limit) {
      // never beyond the limit a taking-over node starts from: the connection ends (the device handshakes again)
      this.stats['store sequence limits']++;
      queueMicrotask(() => this.dtls.store.remove(conn, 'closed'));
      return false;
    }
    if (!t.inflight) void this.checkpoint(t, false);
    conn.storeMark = t.limit;
    return true;
  }

  // --- checkpoints -----------------------------------------------------------------------------------------------

  /** Writes the connection's entry with a new limit; `provisional`: the limit holds from the start of the write. */
  private async checkpoint(t: Track, provisional: boolean): Promise<boolean> {
    if (t.inflight) {
      t.again = true;
      return false;
    }
    const conn = t.conn;
    const seq = conn.nextSeq;
    const maxSeq = conn.maxSeq;
    const limit = seq + this.o.checkpointRecords + this.o.sequenceMargin;
    let sealed: Buffer;
    try {
      const plain = encodeEntry(conn, limit, Date.now());
      sealed = sealEntry(this.o.key, t.cid, plain);
      plain.fill(0);
    } catch (err) {
      this.o.logger?.warn({ err, cid: t.cid.toString('hex') }, 'cluster store: connection not storable');
      this.tracks.delete(conn.id);
      conn.storeMark = -1;
      return false;
    }
    if (provisional) t.limit = Math.max(t.limit, limit);
    t.due = this.now() + this.o.checkpointInterval;
    t.inflight = true;
    this.inflight++;
    this.mark(t);
    let ok = false;
    try {
      const result = await this.o.store.write(t.cid, this.o.nodeId, sealed);
      if (result === 'written') {
        this.stats['store writes']++;
        t.limit = Math.max(t.limit, limit);
        t.writtenSeq = seq;
        t.writtenMaxSeq = maxSeq;
        t.verifying = false;
        t.failed = false;
        t.writtenAt = this.now();
        ok = true;
      } else {
        // another node owns this CID now (it took the connection over): this node's state is stale
        this.stats['store conflicts']++;
        this.note('conflict', { cid: t.cid.toString('hex') }, 'cluster store: connection owned by another node, dropped here');
        this.tracks.delete(conn.id);
        conn.storeMark = -1;
        this.dtls.store.remove(conn, 'replaced');
      }
    } catch (err) {
      t.failed = true;
      this.storeError(err, 'write');
    } finally {
      t.inflight = false;
      this.inflight--;
    }
    if (this.tracks.get(conn.id) !== t) return ok;
    this.mark(t);
    if (t.again) {
      t.again = false;
      if (conn.nextSeq !== t.writtenSeq || conn.maxSeq !== t.writtenMaxSeq) void this.checkpoint(t, false);
    }
    return ok;
  }

  /** Where the record sender asks next: the next checkpoint, or the limit while one is in flight. */
  private mark(t: Track): void {
    t.conn.storeMark = t.inflight ? t.limit : Math.min(t.writtenSeq + this.o.checkpointRecords, t.limit);
  }

  /** The periodic checkpoint of changed connections, and the checkpoint lag gauge. */
  private sweep(): void {
    const now = this.now();
    // an idle connection's entry is written again before it expires
    const refreshBefore = now - (this.o.entryLifetime ?? Infinity) / 2;
    let lag = 0;
    for (const t of this.tracks.values()) {
      const conn = t.conn;
      const behind = conn.nextSeq - t.writtenSeq;
      if (behind > lag) lag = behind;
      const unchanged = behind === 0 && conn.maxSeq === t.writtenMaxSeq && !t.verifying && !t.failed && t.writtenAt > refreshBefore;
      if (t.inflight || t.due > now || unchanged || this.inflight >= MAX_INFLIGHT) continue;
      void this.checkpoint(t, false);
    }
    this.stats['checkpoint lag'] = lag;
    this.summary();
    for (const [k, until] of this.misses) {
      if (until > now) break;
      this.misses.delete(k);
    }
  }

  private storeError(err: unknown, what: string): void {
    this.stats['store errors']++;
    this.o.logger?.debug({ err, what }, 'cluster store: command failed');
  }

  // --- routing and takeover --------------------------------------------------------------------------------------

  /**
   * A client's record with a CID whose byte 0 is `nodeId` (`router`: the node that forwarded it here, believing this
   * node owns it). True when handled here (forwarded to a learned owner, processed as this node's, or held for a
   * lookup/takeover); false: the transport's normal routing applies.
   */
  route(record: Buffer, nodeId: number, client: PeerAddress, router?: PeerAddress): boolean {
    const cid = peekCid(record, this.cidLength);
    if (cid === undefined) return false;
    const me = this.o.nodeId;
    const key = cidKey(cid);
    if (this.owners.size > 0) {
      const owner = this.owners.get(key);
      if (owner === me) {
        if (nodeId !== (me & 0xff)) this.node.deliver(record, client, router);
        return nodeId !== (me & 0xff);
      }
      if (owner !== undefined) {
        if (this.node.nodeAddress(owner) !== undefined) {
          this.node.forwardTo(owner, record, client);
          return true;
        }
        this.owners.delete(key);
      }
    }
    if (nodeId === (me & 0xff)) {
      if (this.dtls.store.getByCid(cid) !== undefined) return false;
    } else if (this.node.nodeAddress(nodeId) !== undefined) return false;
    // a CID of a node that is gone, or one of this node's CIDs it does not hold: ask the store
    const miss = this.misses.get(key);
    if (miss !== undefined && miss > this.now()) return false;
    let p = this.pending.get(key);
    if (p === undefined) {
      if (this.pending.size >= MAX_PENDING) {
        this.stats['takeover failures']++;
        return true;
      }
      p = { records: [] };
      this.pending.set(key, p);
      void this.resolve(Buffer.from(cid), key, p);
    }
    if (p.records.length < MAX_QUEUED_RECORDS) p.records.push({ record: Buffer.from(record), client, router });
    return true;
  }

  /** Finds the owner of a CID in the store; takes the connection over when its owner is gone. */
  private async resolve(cid: Buffer, key: number | string, p: Pending): Promise<void> {
    const me = this.o.nodeId;
    let target: number | undefined;
    try {
      this.stats['store lookups']++;
      const entry = await this.o.store.lookup(cid);
      if (entry === undefined) {
        this.miss(key);
      } else if (entry.owner !== me && this.node.nodeAddress(entry.owner) !== undefined) {
        target = entry.owner;
      } else if (entry.owner === me && this.dtls.store.getByCid(cid) !== undefined) {
        target = me;
      } else if (this.mayClaim()) {
        target = await this.takeOver(cid, entry.owner);
      } else {
        // too early to call its owner gone (this node's table may still miss live nodes): dropped, the device retransmits
        this.stats['takeover failures']++;
      }
    } catch (err) {
      this.storeError(err, 'lookup');
      this.stats['takeover failures']++;
    } finally {
      this.pending.delete(key);
    }
    if (target === undefined) return;
    this.learn(key, target);
    for (const r of p.records) {
      if (target === me) this.node.deliver(r.record, r.client, r.router);
      else this.node.forwardTo(target, r.record, r.client);
    }
  }

  /** Claims the connection from `from` (gone, or this node after a restart) and loads it; the node that owns it then. */
  private async takeOver(cid: Buffer, from: number): Promise<number | undefined> {
    const me = this.o.nodeId;
    const claimed = await this.o.store.claim(cid, from, me);
    if (claimed === undefined) {
      this.miss(cidKey(cid));
      return undefined;
    }
    if (claimed.owner !== me) {
      // another node won the claim
      return this.node.nodeAddress(claimed.owner) !== undefined ? claimed.owner : undefined;
    }
    const plain = claimed.data === undefined ? undefined : openEntry(this.o.key, cid, claimed.data);
    if (plain === undefined) {
      this.stats['store refused entries']++;
      this.stats['takeover failures']++;
      this.note('refused', { cid: cid.toString('hex'), from }, 'cluster store: entry does not authenticate, refused');
      this.dropEntry(cid);
      return undefined;
    }
    let conn: Connection;
    let seqLimit: number;
    try {
      ({ conn, seqLimit } = decodeEntry(plain, this.now()));
    } catch (err) {
      this.stats['store refused entries']++;
      this.stats['takeover failures']++;
      this.note('refused', { err, cid: cid.toString('hex'), from }, 'cluster store: entry not readable, refused');
      this.dropEntry(cid);
      return undefined;
    } finally {
      plain.fill(0);
    }
    if (conn.readCid === undefined || !conn.readCid.equals(cid) || conn.role !== 'server') {
      this.stats['store refused entries']++;
      this.stats['takeover failures']++;
      this.note('refused', { cid: cid.toString('hex'), from }, 'cluster store: entry of another CID or role, refused');
      this.dropEntry(cid);
      return undefined;
    }
    // RFC 6347 §4.1: continue beyond every sequence number the former owner may have used (its limit); the replay
    // window is the one checkpointed
    conn.nextSeq = seqLimit;
    conn.router = undefined;
    conn.takeoverFrom = from;
    const t: Track = { conn, cid: Buffer.from(cid), writtenSeq: seqLimit, writtenMaxSeq: conn.maxSeq, limit: seqLimit, inflight: false, again: false, due: 0, verifying: true, failed: false, writtenAt: 0 };
    this.tracks.set(conn.id, t);
    this.mark(t);
    if (this.dtls.loadConnections([conn]) !== 1) {
      this.tracks.delete(conn.id);
      this.stats['takeover failures']++;
      return undefined;
    }
    // nothing is written before Redis holds the new limit: if this node dies now, the next one starts beyond it
    if (!(await this.checkpoint(t, false))) {
      this.stats['takeover failures']++;
      // the entry stays (claimed by this node, unchanged): a later record tries again
      this.tracks.delete(conn.id);
      if (!conn.closed) this.dtls.store.remove(conn, 'failed');
      return undefined;
    }
    this.stats.takeovers++;
    this.note('takeover', { cid: cid.toString('hex'), from, seq: seqLimit }, 'cluster store: connection taken over');
    return me;
  }

  /**
   * Logs the first event of a kind at once (info; warn for refused entries) and counts the later ones for the summary
   * of the next sweep: a node's death or a wrong secret must not turn into one log line per connection.
   */
  private note(kind: 'takeover' | 'conflict' | 'refused', fields: Record<string, unknown>, msg: string): void {
    const count = kind === 'takeover' ? 'takeovers' : kind === 'conflict' ? 'conflicts' : 'refused';
    if (!this.logged[kind]) {
      this.logged[kind] = true;
      if (kind === 'refused') this.o.logger?.warn(fields, msg);
      else this.o.logger?.info(fields, msg);
      return;
    }
    this.unlogged[count]++;
    this.o.logger?.debug(fields, msg);
  }

  /** One summary line of the events not logged one by one since the last (at most one per sweep). */
  private summary(): void {
    const u = this.unlogged;
    const total = u.takeovers + u.conflicts + u.refused;
    if (total > 0) {
      const line = { takeovers: u.takeovers, conflicts: u.conflicts, refused: u.refused };
      if (u.refused > 0) this.o.logger?.warn(line, 'cluster store: more connections taken over, dropped or refused');
      else this.o.logger?.info(line, 'cluster store: more connections taken over, dropped or refused');
      u.takeovers = u.conflicts = u.refused = 0;
    } else {
      // a quiet period: the next event is logged at once again
      this.logged = { takeover: false, conflict: false, refused: false };
    }
  }

  /** Deletes an entry this node claimed but cannot use (the device handshakes again), and looks it up no more for a while. */
  private dropEntry(cid: Buffer): void {
    this.miss(cidKey(cid));
    this.o.store.remove(cid, this.o.nodeId).then(
      () => this.stats['store deletes']++,
      (err: unknown) => this.storeError(err, 'delete'),
    );
  }

  /** This node may take connections over: its node table is ready and old enough to call a missing node gone. */
  private mayClaim(): boolean {
    return this.node.ready && this.now() - this.startedAt >= this.o.takeoverDelay;
  }

  private learn(key: number | string, owner: number): void {
    if (this.owners.size >= MAX_OWNERS && !this.owners.has(key)) {
      const oldest = this.owners.keys().next().value;
      if (oldest !== undefined) this.owners.delete(oldest);
    }
    this.owners.delete(key);
    this.owners.set(key, owner);
    if (owner !== this.o.nodeId) this.stats['owners learned']++;
  }

  private miss(key: number | string): void {
    if (this.misses.size >= MAX_MISSES) {
      const oldest = this.misses.keys().next().value;
      if (oldest !== undefined) this.misses.delete(oldest);
    }
    this.misses.delete(key);
    this.misses.set(key, this.now() + MISS_TTL);
  }

  // --- counters --------------------------------------------------------------------------------------------------

  /** Rows [key, current, total of earlier periods] for the node's /diagnose group. */
  counterRows(): Array<[string, number, number]> {
    return STORE_STATS_KEYS.map((k) => (k === 'checkpoint lag' ? [k, this.stats[k], this.stats[k]] : [k, this.stats[k], this.total[k]]));
  }

  /** Starts a new statistics period. */
  transferStats(): void {
    for (const k of STORE_STATS_KEYS) {
      if (k === 'checkpoint lag') continue;
      this.total[k] += this.stats[k];
      this.stats[k] = 0;
    }
  }
}

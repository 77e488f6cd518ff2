// Message deduplication (RFC 7252 §4.5): remembers received CON/NON messages per peer and MID, bounded
// by their lifetime (EXCHANGE_LIFETIME / NON_LIFETIME), by a message count (COAP.DEDUPLICATOR_MAX_MESSAGES)
// and by peers (COAP.MAX_ACTIVE_PEERS); PEERS_MARK_AND_SWEEP also per peer (PEERS_MARK_AND_SWEEP_MESSAGES).
import type { CoapStackConfig } from './stack-config.js';
import type { BoundCounterName } from './stats.js';

/** What is remembered of a received request. */
export interface DedupEntry {
  /** encoded response (piggy-backed ACK, NON or separate response) once sent */
  response?: Buffer;
  /** a separate response is pending: duplicates get the empty ACK again */
  accepted: boolean;
  /** receive time (ms) */
  time: number;
  /** message type of the request (CON or NON) */
  con: boolean;
}

/** Where evictions are counted (an endpoint's `stats.bounds`). */
export interface EvictionCounter {
  inc(name: BoundCounterName, by?: number): void;
}

/** A deduplicator; `check` returns the earlier entry for a duplicate, or records a new one. */
export interface Deduplicator {
  /** returns the existing entry (duplicate) or undefined after storing `fresh` */
  check(peer: string, mid: number, fresh: DedupEntry): DedupEntry | undefined;
  /** removes entries older than their lifetime */
  sweep(now: number): void;
  /** number of remembered messages */
  readonly size: number;
  /** number of peers with remembered state */
  readonly peers: number;
  clear(): void;
}

const NOT_COUNTED: EvictionCounter = { inc() {} };

/** Creates the deduplicator selected by `COAP.DEDUPLICATOR`; evictions before the lifetime go to `counter`. */
export function createDeduplicator(config: CoapStackConfig, counter: EvictionCounter = NOT_COUNTED): Deduplicator {
  switch (config.deduplicator) {
    case 'NO_DEDUPLICATOR':
      return { check: () => undefined, sweep: () => {}, size: 0, peers: 0, clear: () => {} };
    case 'PEERS_MARK_AND_SWEEP':
      return new PeerSweep(config, Math.max(1, config.peersMarkAndSweepMessages), counter);
    case 'CROP_ROTATION':
      return new CropRotation(config, counter);
    default:
      return new PeerSweep(config, Infinity, counter);
  }
}

function lifetimeOf(config: CoapStackConfig, e: DedupEntry): number {
  return e.con ? config.exchangeLifetime : config.nonLifetime;
}

interface PeerEntries {
  /** MID → entry, in receive order */
  entries: Map<number, DedupEntry>;
  /** last time the peer was moved to the young end of the peer map (ms, 1 s granularity) */
  lastUse: number;
}

/**
 * MARK_AND_SWEEP (`perPeer` = Infinity) and PEERS_MARK_AND_SWEEP: the messages of each peer in receive
 * order, the peers in (roughly) least-recently-active order. Swept every MARK_AND_SWEEP_INTERVAL.
 * Bounds: at most `perPeer` messages per peer (its oldest dropped), at most MAX_ACTIVE_PEERS peers (the
 * least recently active dropped with its messages), at most DEDUPLICATOR_MAX_MESSAGES messages (the
 * oldest message of the least recently active peer dropped).
 */
class PeerSweep implements Deduplicator {
  private readonly map = new Map<string, PeerEntries>();
  private count = 0;
  private readonly minLifetime: number;
  constructor(
    private readonly config: CoapStackConfig,
    private readonly perPeer: number,
    private readonly counter: EvictionCounter,
  ) {
    this.minLifetime = Math.min(config.exchangeLifetime, config.nonLifetime);
  }
  get size(): number {
    return this.count;
  }
  get peers(): number {
    return this.map.size;
  }
  check(peer: string, mid: number, fresh: DedupEntry): DedupEntry | undefined {
    let p = this.map.get(peer);
    if (p === undefined) {
      if (this.map.size >= this.config.maxActivePeers) this.evictPeer();
      p = { entries: new Map(), lastUse: fresh.time };
      this.map.set(peer, p);
    } else if (fresh.time - p.lastUse > 1000) {
      // keep the peer map roughly in LRU order without moving it on every message
      this.map.delete(peer);
      this.map.set(peer, p);
      p.lastUse = fresh.time;
    }
    const old = p.entries.get(mid);
    if (old !== undefined) {
      if (fresh.time - old.time <= lifetimeOf(this.config, old)) return old;
      p.entries.delete(mid);
      this.count--;
    }
    if (p.entries.size >= this.perPeer) {
      const first = p.entries.keys().next();
      if (first.done !== true) {
        p.entries.delete(first.value);
        this.count--;
        this.counter.inc('dedup-evicted peer messages');
      }
    }
    while (this.count >= this.config.dedupMaxMessages && this.count > 0) this.evictOldest(p);
    p.entries.set(mid, fresh);
    this.count++;
    return undefined;
  }
  /** Drops the least recently active peer with its messages. */
  private evictPeer(): void {
    const first = this.map.entries().next();
    if (first.done === true) return;
    const [key, p] = first.value;
    this.map.delete(key);
    this.count -= p.entries.size;
    this.counter.inc('dedup-evicted peers');
  }
  /** Drops the oldest message of the least recently active peer that has one (empty peers but `keep` go too). */
  private evictOldest(keep: PeerEntries): void {
    for (const [key, p] of this.map) {
      const first = p.entries.keys().next();
      if (first.done === true) {
        if (p !== keep) this.map.delete(key);
        continue;
      }
      p.entries.delete(first.value);
      this.count--;
      this.counter.inc('dedup-evicted messages');
      return;
    }
  }
  sweep(now: number): void {
    for (const [key, p] of this.map) {
      for (const [mid, e] of p.entries) {
        const age = now - e.time;
        if (age > lifetimeOf(this.config, e)) {
          p.entries.delete(mid);
          this.count--;
        } else if (age <= this.minLifetime) {
          break; // receive order: the rest is younger than any lifetime
        }
      }
      if (p.entries.size === 0 && now - p.lastUse > this.config.maxPeerInactivityPeriod) this.map.delete(key);
    }
  }
  clear(): void {
    this.map.clear();
    this.count = 0;
  }
}

/**
 * CROP_ROTATION: two generations of messages, the older dropped every CROP_ROTATION_PERIOD. Bounds: a
 * generation holds at most half of DEDUPLICATOR_MAX_MESSAGES messages and half of MAX_ACTIVE_PEERS
 * peers; reaching either rotates early, and the messages of the dropped generation that were still
 * within their lifetime are counted as evicted (peers dropped with them as `dedup-evicted peers`).
 */
class CropRotation implements Deduplicator {
  private current = new Map<string, DedupEntry>();
  private previous = new Map<string, DedupEntry>();
  private currentPeers = new Set<string>();
  private previousPeers = new Set<string>();
  private rotated: number;
  private readonly maxMessages: number;
  private readonly maxPeers: number;
  constructor(
    private readonly config: CoapStackConfig,
    private readonly counter: EvictionCounter,
  ) {
    this.rotated = Date.now();
    this.maxMessages = Math.max(1, Math.ceil(config.dedupMaxMessages / 2));
    this.maxPeers = Math.max(1, Math.ceil(config.maxActivePeers / 2));
  }
  get size(): number {
    return this.current.size + this.previous.size;
  }
  get peers(): number {
    let n = this.currentPeers.size;
    for (const p of this.previousPeers) if (!this.currentPeers.has(p)) n++;
    return n;
  }
  check(peer: string, mid: number, fresh: DedupEntry): DedupEntry | undefined {
    const key = peer + '#' + mid;
    const old = this.current.get(key) ?? this.previous.get(key);
    if (old !== undefined) return old;
    const newPeer = !this.currentPeers.has(peer);
    if (this.current.size >= this.maxMessages) this.rotate(fresh.time, 'dedup-evicted messages');
    else if (newPeer && this.currentPeers.size >= this.maxPeers) this.rotate(fresh.time, 'dedup-evicted peers');
    this.current.set(key, fresh);
    this.currentPeers.add(peer);
    return undefined;
  }
  /** Starts a new generation; an early rotation (`reason`) counts what it drops before its lifetime. */
  private rotate(now: number, reason?: 'dedup-evicted messages' | 'dedup-evicted peers'): void {
    if (reason !== undefined) {
      let young = 0;
      for (const e of this.previous.values()) if (now - e.time <= lifetimeOf(this.config, e)) young++;
      if (young > 0) this.counter.inc('dedup-evicted messages', young);
      if (reason === 'dedup-evicted peers') {
        let gone = 0;
        for (const p of this.previousPeers) if (!this.currentPeers.has(p)) gone++;
        if (gone > 0) this.counter.inc('dedup-evicted peers', gone);
      }
    }
    this.previous = this.current;
    this.previousPeers = this.currentPeers;
    this.current = new Map();
    this.currentPeers = new Set();
    this.rotated = now;
  }
  sweep(now: number): void {
    if (now - this.rotated >= this.config.cropRotationPeriod) this.rotate(now);
  }
  clear(): void {
    this.current.clear();
    this.previous.clear();
    this.currentPeers.clear();
    this.previousPeers.clear();
  }
}

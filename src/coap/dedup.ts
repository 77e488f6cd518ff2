// Message deduplication (RFC 7252 §4.5): remembers received CON/NON messages per peer and MID.
import type { CoapStackConfig } from './stack-config.js';

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

/** A deduplicator; `check` returns the earlier entry for a duplicate, or records a new one. */
export interface Deduplicator {
  /** returns the existing entry (duplicate) or undefined after storing `fresh` */
  check(peer: string, mid: number, fresh: DedupEntry): DedupEntry | undefined;
  /** removes entries older than their lifetime */
  sweep(now: number): void;
  /** number of remembered messages */
  readonly size: number;
  clear(): void;
}

/** Creates the deduplicator selected by `COAP.DEDUPLICATOR`. */
export function createDeduplicator(config: CoapStackConfig): Deduplicator {
  switch (config.deduplicator) {
    case 'NO_DEDUPLICATOR':
      return { check: () => undefined, sweep: () => {}, size: 0, clear: () => {} };
    case 'PEERS_MARK_AND_SWEEP':
      return new PeersMarkAndSweep(config);
    case 'CROP_ROTATION':
      return new CropRotation(config);
    default:
      return new MarkAndSweep(config);
  }
}

function lifetimeOf(config: CoapStackConfig, e: DedupEntry): number {
  return e.con ? config.exchangeLifetime : config.nonLifetime;
}

/** MARK_AND_SWEEP: one map of all messages, bounded by MAX_ACTIVE_PEERS entries (oldest evicted). */
class MarkAndSweep implements Deduplicator {
  private readonly map = new Map<string, DedupEntry>();
  constructor(private readonly config: CoapStackConfig) {}
  get size(): number {
    return this.map.size;
  }
  check(peer: string, mid: number, fresh: DedupEntry): DedupEntry | undefined {
    const key = peer + '#' + mid;
    const old = this.map.get(key);
    if (old) {
      if (fresh.time - old.time <= lifetimeOf(this.config, old)) return old;
      this.map.delete(key);
    }
    this.map.set(key, fresh);
    if (this.map.size > this.config.maxActivePeers) {
      // Map keeps insertion order: the first key is the oldest entry
      const first = this.map.keys().next().value;
      if (first !== undefined) this.map.delete(first);
    }
    return undefined;
  }
  sweep(now: number): void {
    for (const [key, e] of this.map) {
      if (now - e.time > lifetimeOf(this.config, e)) this.map.delete(key);
      else if (now - e.time < this.config.nonLifetime) break; // insertion order: the rest is younger
    }
  }
  clear(): void {
    this.map.clear();
  }
}

interface PeerEntries {
  entries: Map<number, DedupEntry>;
  lastUse: number;
}

/** PEERS_MARK_AND_SWEEP: per peer at most PEERS_MARK_AND_SWEEP_MESSAGES entries, at most MAX_ACTIVE_PEERS peers. */
class PeersMarkAndSweep implements Deduplicator {
  private readonly peers = new Map<string, PeerEntries>();
  private count = 0;
  constructor(private readonly config: CoapStackConfig) {}
  get size(): number {
    return this.count;
  }
  check(peer: string, mid: number, fresh: DedupEntry): DedupEntry | undefined {
    let p = this.peers.get(peer);
    if (!p) {
      p = { entries: new Map(), lastUse: fresh.time };
      this.peers.set(peer, p);
      if (this.peers.size > this.config.maxActivePeers) this.evictPeer();
    } else if (fresh.time - p.lastUse > 1000) {
      // keep the peer map roughly in LRU order without moving it on every message
      this.peers.delete(peer);
      this.peers.set(peer, p);
      p.lastUse = fresh.time;
    }
    const old = p.entries.get(mid);
    if (old) {
      if (fresh.time - old.time <= lifetimeOf(this.config, old)) return old;
      p.entries.delete(mid);
      this.count--;
    }
    p.entries.set(mid, fresh);
    this.count++;
    if (p.entries.size > this.config.peersMarkAndSweepMessages) {
      const first = p.entries.keys().next().value;
      if (first !== undefined) {
        p.entries.delete(first);
        this.count--;
      }
    }
    return undefined;
  }
  private evictPeer(): void {
    const first = this.peers.entries().next().value;
    if (first) {
      this.count -= first[1].entries.size;
      this.peers.delete(first[0]);
    }
  }
  sweep(now: number): void {
    for (const [key, p] of this.peers) {
      for (const [mid, e] of p.entries) {
        if (now - e.time > lifetimeOf(this.config, e)) {
          p.entries.delete(mid);
          this.count--;
        }
      }
      if (p.entries.size === 0 && now - p.lastUse > this.config.maxPeerInactivityPeriod) this.peers.delete(key);
    }
  }
  clear(): void {
    this.peers.clear();
    this.count = 0;
  }
}

/** CROP_ROTATION: two generations of maps, the older dropped every CROP_ROTATION_PERIOD. */
class CropRotation implements Deduplicator {
  private current = new Map<string, DedupEntry>();
  private previous = new Map<string, DedupEntry>();
  private rotated: number;
  constructor(private readonly config: CoapStackConfig) {
    this.rotated = Date.now();
  }
  get size(): number {
    return this.current.size + this.previous.size;
  }
  check(peer: string, mid: number, fresh: DedupEntry): DedupEntry | undefined {
    const key = peer + '#' + mid;
    const old = this.current.get(key) ?? this.previous.get(key);
    if (old) return old;
    this.current.set(key, fresh);
    if (this.current.size > this.config.maxActivePeers) this.rotate(fresh.time);
    return undefined;
  }
  private rotate(now: number): void {
    this.previous = this.current;
    this.current = new Map();
    this.rotated = now;
  }
  sweep(now: number): void {
    if (now - this.rotated >= this.config.cropRotationPeriod) this.rotate(now);
  }
  clear(): void {
    this.current.clear();
    this.previous.clear();
  }
}

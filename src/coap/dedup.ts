// Message deduplication (RFC 7252 §4.5): remembers received CON/NON messages per peer and MID, bounded
// by their lifetime (EXCHANGE_LIFETIME / NON_LIFETIME), by a message count (COAP.DEDUPLICATOR_MAX_MESSAGES)
// and by peers (COAP.MAX_ACTIVE_PEERS); PEERS_MARK_AND_SWEEP also per peer (PEERS_MARK_AND_SWEEP_MESSAGES).
// The state of a message lives in a slot of typed arrays (SlotStore), not in an object per message: a full
// store of 300,000 messages is a few arrays the GC does not trace, instead of 900,000 small objects.
import type { CoapStackConfig } from './stack-config.js';
import type { BoundCounterName } from './stats.js';

/** Where evictions are counted (an endpoint's `stats.bounds`). */
export interface EvictionCounter {
  inc(name: BoundCounterName, by?: number): void;
}

/**
 * A deduplicator. `check` records a new message and returns its handle (≥ 0), or returns `-1 - handle`
 * (< 0, see `duplicateOf`) of the earlier message for a duplicate. A handle stays valid while its message
 * is remembered; once the message is swept or evicted, writes through the handle do nothing and reads
 * answer "nothing cached" (a 32-bit generation per slot tells).
 */
export interface Deduplicator {
  /** a new message: its handle (≥ 0); a duplicate within its lifetime: `-1 - handle` of the earlier one */
  check(peer: string, mid: number, time: number, con: boolean): number;
  /** the response sent for the message (a copy for small ones), undefined when none or the handle is stale */
  response(handle: number): Buffer | undefined;
  /** a separate response is pending (the empty ACK was sent); false when the handle is stale */
  accepted(handle: number): boolean;
  /** remembers the encoded response (piggy-backed ACK, NON or separate response, empty ACK/RST) */
  setResponse(handle: number, data: Buffer): void;
  /** marks the message as accepted (separate response pending, RFC 7252 §5.2.2) */
  setAccepted(handle: number): void;
  /** removes entries older than their lifetime */
  sweep(now: number): void;
  /** number of remembered messages */
  readonly size: number;
  /** number of peers with remembered state */
  readonly peers: number;
  /** slots allocated for messages (in use or free; grows by doubling up to the message bound) */
  readonly capacity: number;
  /** forgets everything; earlier handles become stale */
  clear(): void;
}

/** The handle of the earlier message from a negative (duplicate) `check` result. */
export function duplicateOf(result: number): number {
  return -1 - result;
}

/** Responses up to this size are copied into the slot (a piggy-backed response is typically 10-60 bytes). */
export const INLINE_RESPONSE_BYTES = 64;

const NOT_COUNTED: EvictionCounter = { inc() {} };

/** Creates the deduplicator selected by `COAP.DEDUPLICATOR`; evictions before the lifetime go to `counter`. */
export function createDeduplicator(config: CoapStackConfig, counter: EvictionCounter = NOT_COUNTED): Deduplicator {
  switch (config.deduplicator) {
    case 'NO_DEDUPLICATOR':
      return new NoDeduplicator();
    case 'PEERS_MARK_AND_SWEEP':
      return new PeerSweep(config, Math.max(1, config.peersMarkAndSweepMessages), counter);
    case 'CROP_ROTATION':
      return new CropRotation(config, counter);
    default:
      return new PeerSweep(config, Infinity, counter);
  }
}

// slot flags
const USED = 1;
const CON = 2;
const ACCEPTED = 4;
const HAS_RESPONSE = 8;
const LARGE = 16; // the response is a Buffer in `large`, not inline

/** the first allocation of slots (an idle endpoint has none); it doubles from there */
const INITIAL_SLOTS = 1024;

/**
 * Per-message state in slots of typed arrays: receive time, flags, MID, a generation (bumped when the slot
 * is freed, so a handle of its former message is stale), links of a SlotList and the response bytes (inline
 * up to INLINE_RESPONSE_BYTES, larger ones as a Buffer in a sparse map). The arrays grow by doubling up to
 * `limit` slots; freed slots are reused (free stack). A handle is `generation * 2^slotBits + slot`: a Smi until
 * a slot's generation passes 2^(30 - slotBits), a double then (exact below 2^53; the maps hold slots only).
 */
class SlotStore {
  private time = new Float64Array(0);
  private mid = new Uint16Array(0);
  private next = new Int32Array(0);
  private prev = new Int32Array(0);
  private flags = new Uint8Array(0);
  private gen = new Uint32Array(0);
  private len = new Uint8Array(0);
  private bytes = new Uint8Array(0);
  private freeStack = new Int32Array(0);
  private freeTop = 0;
  /** slots below it were handed out at least once */
  private high = 0;
  private readonly large = new Map<number, Buffer>();
  /** 2^slotBits */
  private readonly slotSpan: number;
  /** generations wrap here (2^32, less when the slots need more than 21 bits) */
  private readonly genSpan: number;

  /** `limit`: the most slots in use at once */
  constructor(private readonly limit: number) {
    const slotBits = Math.max(1, Math.ceil(Math.log2(Math.max(2, limit))));
    this.slotSpan = 2 ** slotBits;
    this.genSpan = 2 ** Math.min(32, 53 - slotBits);
  }

  /** allocated slots (in use or free) */
  get capacity(): number {
    return this.time.length;
  }

  /** Takes a slot for a message received at `time`. */
  alloc(time: number, con: boolean, mid: number): number {
    let slot: number;
    if (this.freeTop > 0) slot = this.freeStack[--this.freeTop]!;
    else {
      if (this.high === this.time.length) this.grow();
      slot = this.high++;
    }
    this.time[slot] = time;
    this.mid[slot] = mid;
    this.flags[slot] = con ? USED | CON : USED;
    return slot;
  }

  /** Appends a slot at the young end of a list. */
  append(list: SlotList, slot: number): void {
    this.prev[slot] = list.tail;
    this.next[slot] = -1;
    if (list.tail >= 0) this.next[list.tail] = slot;
    else list.head = slot;
    list.tail = slot;
  }

  /** Removes a slot from its list. */
  unlink(list: SlotList, slot: number): void {
    const p = this.prev[slot]!;
    const n = this.next[slot]!;
    if (p >= 0) this.next[p] = n;
    else list.head = n;
    if (n >= 0) this.prev[n] = p;
    else list.tail = p;
  }

  /** the next younger slot of its list, -1 at the end */
  nextOf(slot: number): number {
    return this.next[slot]!;
  }

  /** the MID of the message */
  midOf(slot: number): number {
    return this.mid[slot]!;
  }

  /** Frees a slot; its handles become stale. */
  free(slot: number): void {
    if ((this.flags[slot]! & LARGE) !== 0) this.large.delete(slot);
    this.flags[slot] = 0;
    this.gen[slot] = (this.gen[slot]! + 1) % this.genSpan;
    this.freeStack[this.freeTop++] = slot;
  }

  /** Frees every slot (the arrays are kept). */
  clear(): void {
    for (let slot = 0; slot < this.high; slot++) if (this.flags[slot] !== 0) this.free(slot);
  }

  /** The handle of a slot in use. */
  handle(slot: number): number {
    return this.gen[slot]! * this.slotSpan + slot;
  }

  /** The slot of a handle, or -1 when the handle is stale. */
  slotOf(handle: number): number {
    const slot = handle % this.slotSpan;
    if (!(slot >= 0 && slot < this.high) || this.flags[slot] === 0 || this.gen[slot] !== (handle - slot) / this.slotSpan) return -1;
    return slot;
  }

  /** receive time (ms) */
  timeOf(slot: number): number {
    return this.time[slot]!;
  }

  /** whether the message was a CON */
  isCon(slot: number): boolean {
    return (this.flags[slot]! & CON) !== 0;
  }

  /** see Deduplicator.accepted */
  accepted(slot: number): boolean {
    return (this.flags[slot]! & ACCEPTED) !== 0;
  }

  /** see Deduplicator.setAccepted */
  setAccepted(slot: number): void {
    this.flags[slot]! |= ACCEPTED;
  }

  /** A copy of the inline response, the large Buffer itself, or undefined. */
  response(slot: number): Buffer | undefined {
    const f = this.flags[slot]!;
    if ((f & HAS_RESPONSE) === 0) return undefined;
    if ((f & LARGE) !== 0) return this.large.get(slot);
    const at = slot * INLINE_RESPONSE_BYTES;
    return Buffer.from(this.bytes.subarray(at, at + this.len[slot]!));
  }

  /** Copies a small response into the slot; keeps a large one as it is (sent bytes are never changed later). */
  setResponse(slot: number, data: Buffer): void {
    let f = this.flags[slot]! | HAS_RESPONSE;
    if (data.length <= INLINE_RESPONSE_BYTES) {
      this.bytes.set(data, slot * INLINE_RESPONSE_BYTES);
      this.len[slot] = data.length;
      if ((f & LARGE) !== 0) this.large.delete(slot);
      f &= ~LARGE;
    } else {
      this.large.set(slot, data);
      f |= LARGE;
    }
    this.flags[slot] = f;
  }

  private grow(): void {
    const n = Math.max(this.time.length + 1, Math.min(Math.max(INITIAL_SLOTS, this.time.length * 2), this.limit));
    this.time = resized(this.time, new Float64Array(n));
    this.mid = resized(this.mid, new Uint16Array(n));
    this.next = resized(this.next, new Int32Array(n));
    this.prev = resized(this.prev, new Int32Array(n));
    this.flags = resized(this.flags, new Uint8Array(n));
    this.gen = resized(this.gen, new Uint32Array(n));
    this.len = resized(this.len, new Uint8Array(n));
    this.bytes = resized(this.bytes, new Uint8Array(n * INLINE_RESPONSE_BYTES));
    this.freeStack = resized(this.freeStack, new Int32Array(n));
  }
}

function resized<T extends Float64Array | Uint8Array | Uint16Array | Uint32Array | Int32Array>(old: T, to: T): T {
  to.set(old);
  return to;
}

/** The handle API over a SlotStore, shared by the strategies. */
abstract class SlotDeduplicator {
  protected readonly store: SlotStore;
  constructor(
    protected readonly config: CoapStackConfig,
    limit: number,
  ) {
    this.store = new SlotStore(limit);
  }
  get capacity(): number {
    return this.store.capacity;
  }
  /** the lifetime of a remembered message (RFC 7252 §4.5: EXCHANGE_LIFETIME for CON, NON_LIFETIME for NON) */
  protected lifetimeOf(slot: number): number {
    return this.store.isCon(slot) ? this.config.exchangeLifetime : this.config.nonLifetime;
  }
  response(handle: number): Buffer | undefined {
    const slot = this.store.slotOf(handle);
    return slot < 0 ? undefined : this.store.response(slot);
  }
  accepted(handle: number): boolean {
    const slot = this.store.slotOf(handle);
    return slot >= 0 && this.store.accepted(slot);
  }
  setResponse(handle: number, data: Buffer): void {
    const slot = this.store.slotOf(handle);
    if (slot >= 0) this.store.setResponse(slot, data);
  }
  setAccepted(handle: number): void {
    const slot = this.store.slotOf(handle);
    if (slot >= 0) this.store.setAccepted(slot);
  }
}

/** NO_DEDUPLICATOR: every message is new; handle 0 stores nothing. */
class NoDeduplicator implements Deduplicator {
  readonly size = 0;
  readonly peers = 0;
  readonly capacity = 0;
  check(): number {
    return 0;
  }
  response(): Buffer | undefined {
    return undefined;
  }
  accepted(): boolean {
    return false;
  }
  setResponse(): void {}
  setAccepted(): void {}
  sweep(): void {}
  clear(): void {}
}

/** Slots in receive order, linked through the SlotStore (-1: none); a Map iterated from its start after
 * deletions there skips their holes one by one, a list does not. */
interface SlotList {
  /** the oldest */
  head: number;
  /** the youngest */
  tail: number;
}

interface PeerEntries extends SlotList {
  /** the peer's key in the peer map */
  key: string;
  /** MID → slot */
  entries: Map<number, number>;
  /** last time the peer was moved to the young end of the peer list (ms, 1 s granularity) */
  lastUse: number;
  /** neighbours in the peer list (least recently active first), for the same reason as SlotList */
  older: PeerEntries | undefined;
  younger: PeerEntries | undefined;
}

/**
 * MARK_AND_SWEEP (`perPeer` = Infinity) and PEERS_MARK_AND_SWEEP: the messages of each peer in receive
 * order, the peers in (roughly) least-recently-active order. Swept every MARK_AND_SWEEP_INTERVAL.
 * Bounds: at most `perPeer` messages per peer (its oldest dropped), at most MAX_ACTIVE_PEERS peers (the
 * least recently active dropped with its messages), at most DEDUPLICATOR_MAX_MESSAGES messages (the
 * oldest message of the least recently active peer dropped).
 */
class PeerSweep extends SlotDeduplicator implements Deduplicator {
  private readonly map = new Map<string, PeerEntries>();
  /** the peer list: least recently active first */
  private oldest: PeerEntries | undefined;
  private youngest: PeerEntries | undefined;
  private count = 0;
  private readonly minLifetime: number;
  constructor(
    config: CoapStackConfig,
    private readonly perPeer: number,
    private readonly counter: EvictionCounter,
  ) {
    super(config, Math.max(1, config.dedupMaxMessages));
    this.minLifetime = Math.min(config.exchangeLifetime, config.nonLifetime);
  }
  get size(): number {
    return this.count;
  }
  get peers(): number {
    return this.map.size;
  }
  check(peer: string, mid: number, time: number, con: boolean): number {
    let p = this.map.get(peer);
    if (p === undefined) {
      if (this.map.size >= this.config.maxActivePeers) this.evictPeer();
      p = { key: peer, entries: new Map(), lastUse: time, head: -1, tail: -1, older: undefined, younger: undefined };
      this.map.set(peer, p);
      this.linkPeer(p);
    } else if (time - p.lastUse > 1000) {
      // keep the peer list roughly in LRU order without moving it on every message
      this.unlinkPeer(p);
      this.linkPeer(p);
      p.lastUse = time;
    }
    const old = p.entries.get(mid);
    if (old !== undefined) {
      if (time - this.store.timeOf(old) <= this.lifetimeOf(old)) return -1 - this.store.handle(old);
      this.drop(p, old);
    }
    if (p.entries.size >= this.perPeer && p.head >= 0) {
      this.drop(p, p.head);
      this.counter.inc('dedup-evicted peer messages');
    }
    while (this.count >= this.config.dedupMaxMessages && this.count > 0) this.evictOldest(p);
    const slot = this.store.alloc(time, con, mid);
    p.entries.set(mid, slot);
    this.store.append(p, slot);
    this.count++;
    return this.store.handle(slot);
  }
  private drop(p: PeerEntries, slot: number): void {
    p.entries.delete(this.store.midOf(slot));
    this.store.unlink(p, slot);
    this.store.free(slot);
    this.count--;
  }
  private linkPeer(p: PeerEntries): void {
    p.older = this.youngest;
    p.younger = undefined;
    if (this.youngest !== undefined) this.youngest.younger = p;
    else this.oldest = p;
    this.youngest = p;
  }
  private unlinkPeer(p: PeerEntries): void {
    if (p.older !== undefined) p.older.younger = p.younger;
    else this.oldest = p.younger;
    if (p.younger !== undefined) p.younger.older = p.older;
    else this.youngest = p.older;
  }
  private removePeer(p: PeerEntries): void {
    this.map.delete(p.key);
    this.unlinkPeer(p);
  }
  /** Drops the least recently active peer with its messages. */
  private evictPeer(): void {
    const p = this.oldest;
    if (p === undefined) return;
    this.removePeer(p);
    for (let slot = p.head; slot >= 0; ) {
      const next = this.store.nextOf(slot);
      this.store.free(slot);
      slot = next;
    }
    this.count -= p.entries.size;
    this.counter.inc('dedup-evicted peers');
  }
  /** Drops the oldest message of the least recently active peer that has one (empty peers but `keep` go too). */
  private evictOldest(keep: PeerEntries): void {
    for (let p = this.oldest; p !== undefined; ) {
      const younger = p.younger;
      if (p.head >= 0) {
        this.drop(p, p.head);
        this.counter.inc('dedup-evicted messages');
        return;
      }
      if (p !== keep) this.removePeer(p);
      p = younger;
    }
  }
  sweep(now: number): void {
    for (let p = this.oldest; p !== undefined; ) {
      const younger = p.younger;
      for (let slot = p.head; slot >= 0; ) {
        const next = this.store.nextOf(slot);
        const age = now - this.store.timeOf(slot);
        if (age > this.lifetimeOf(slot)) this.drop(p, slot);
        else if (age <= this.minLifetime) break; // receive order: the rest is younger than any lifetime
        slot = next;
      }
      if (p.entries.size === 0 && now - p.lastUse > this.config.maxPeerInactivityPeriod) this.removePeer(p);
      p = younger;
    }
  }
  clear(): void {
    this.map.clear();
    this.oldest = undefined;
    this.youngest = undefined;
    this.store.clear();
    this.count = 0;
  }
}

/**
 * CROP_ROTATION: two generations of messages, the older dropped every CROP_ROTATION_PERIOD. Bounds: a
 * generation holds at most half of DEDUPLICATOR_MAX_MESSAGES messages and half of MAX_ACTIVE_PEERS
 * peers; reaching either rotates early, and the messages of the dropped generation that were still
 * within their lifetime are counted as evicted (peers dropped with them as `dedup-evicted peers`).
 */
class CropRotation extends SlotDeduplicator implements Deduplicator {
  /** a generation: peer → MID → slot (no string per message) */
  private current = new Map<string, Map<number, number>>();
  private previous = new Map<string, Map<number, number>>();
  private currentCount = 0;
  private previousCount = 0;
  private rotated: number;
  private readonly maxMessages: number;
  private readonly maxPeers: number;
  constructor(
    config: CoapStackConfig,
    private readonly counter: EvictionCounter,
  ) {
    const maxMessages = Math.max(1, Math.ceil(config.dedupMaxMessages / 2));
    super(config, 2 * maxMessages);
    this.maxMessages = maxMessages;
    this.rotated = Date.now();
    this.maxPeers = Math.max(1, Math.ceil(config.maxActivePeers / 2));
  }
  get size(): number {
    return this.currentCount + this.previousCount;
  }
  get peers(): number {
    let n = this.current.size;
    for (const p of this.previous.keys()) if (!this.current.has(p)) n++;
    return n;
  }
  check(peer: string, mid: number, time: number, con: boolean): number {
    let mids = this.current.get(peer);
    const old = mids?.get(mid) ?? this.previous.get(peer)?.get(mid);
    if (old !== undefined) return -1 - this.store.handle(old);
    if (this.currentCount >= this.maxMessages) this.rotate(time, 'dedup-evicted messages');
    else if (mids === undefined && this.current.size >= this.maxPeers) this.rotate(time, 'dedup-evicted peers');
    mids = this.current.get(peer);
    if (mids === undefined) {
      mids = new Map();
      this.current.set(peer, mids);
    }
    const slot = this.store.alloc(time, con, mid);
    mids.set(mid, slot);
    this.currentCount++;
    return this.store.handle(slot);
  }
  /** Starts a new generation; an early rotation (`reason`) counts what it drops before its lifetime. */
  private rotate(now: number, reason?: 'dedup-evicted messages' | 'dedup-evicted peers'): void {
    let young = 0;
    for (const mids of this.previous.values()) {
      for (const slot of mids.values()) {
        if (reason !== undefined && now - this.store.timeOf(slot) <= this.lifetimeOf(slot)) young++;
        this.store.free(slot);
      }
    }
    if (young > 0) this.counter.inc('dedup-evicted messages', young);
    if (reason === 'dedup-evicted peers') {
      let gone = 0;
      for (const p of this.previous.keys()) if (!this.current.has(p)) gone++;
      if (gone > 0) this.counter.inc('dedup-evicted peers', gone);
    }
    this.previous = this.current;
    this.previousCount = this.currentCount;
    this.current = new Map();
    this.currentCount = 0;
    this.rotated = now;
  }
  sweep(now: number): void {
    if (now - this.rotated >= this.config.cropRotationPeriod) this.rotate(now);
  }
  clear(): void {
    this.current.clear();
    this.previous.clear();
    this.currentCount = 0;
    this.previousCount = 0;
    this.store.clear();
  }
}

// Server-side block-wise transfer state (RFC 7959 §2.4 Block2, §2.5 Block1): expiring, bounded in
// transfers per store and in bytes over all stores of an endpoint (one shared TransferBudget).
import type { CoapOption } from './message.js';
import type { EvictionCounter } from './dedup.js';

/** A Block1 body being reassembled. */
export interface Block1Transfer {
  chunks: Buffer[];
  length: number;
  format: number | undefined;
  time: number;
}

/** A response body served block by block. */
export interface Block2Transfer {
  code: number;
  payload: Buffer;
  /** response options without Block2/Size2 */
  options: CoapOption[];
  time: number;
}

/** Body bytes a transfer holds. */
export function transferBytes(t: Block1Transfer | Block2Transfer): number {
  return 'payload' in t ? t.payload.length : t.length;
}

interface Slot<T> {
  value: T;
  /** bytes charged to the budget */
  bytes: number;
}

/** The byte budget shared by the transfer stores of one endpoint; evicts least recently used first. */
export class TransferBudget {
  /** bytes held by all stores */
  bytes = 0;
  private readonly stores: Array<TransferStore<{ time: number }>> = [];
  constructor(
    readonly maxBytes: number,
    private readonly counter: EvictionCounter,
  ) {}

  /** Adds a store to the budget (the endpoint's Block1 and Block2 stores). */
  register(store: TransferStore<{ time: number }>): void {
    this.stores.push(store);
  }

  /** Evicts the least recently used transfers (of any store) until the budget holds; `keep` stays. */
  enforce(keep: object): void {
    while (this.bytes > this.maxBytes) {
      let oldest: TransferStore<{ time: number }> | undefined;
      let oldestTime = Infinity;
      for (const s of this.stores) {
        const t = s.oldestTime(keep);
        if (t !== undefined && t < oldestTime) {
          oldestTime = t;
          oldest = s;
        }
      }
      // only `keep` is left: a single transfer larger than the budget stays until it ends
      if (oldest === undefined || !oldest.evictOldest(keep)) return;
      this.counter.inc('blockwise-evicted by bytes');
    }
  }
}

/** A map of transfers that expire `lifetime` ms after their last use, bounded to `max` transfers. */
export class TransferStore<T extends { time: number }> {
  private readonly map = new Map<string, Slot<T>>();
  constructor(
    private readonly max: number,
    private readonly lifetime: number,
    private readonly budget?: TransferBudget,
    private readonly sizeOf: (t: T) => number = () => 0,
    private readonly counter?: EvictionCounter,
  ) {
    budget?.register(this as unknown as TransferStore<{ time: number }>);
  }

  /** The transfer for key, if it has not expired. */
  get(key: string, now: number): T | undefined {
    const slot = this.map.get(key);
    if (!slot) return undefined;
    if (now - slot.value.time > this.lifetime) {
      this.remove(key, slot);
      return undefined;
    }
    return slot.value;
  }

  /** Stores (or replaces) a transfer; evicts the least recently used when full (count or bytes). */
  set(key: string, value: T): void {
    const old = this.map.get(key);
    if (old) this.remove(key, old);
    const slot: Slot<T> = { value, bytes: this.sizeOf(value) };
    this.map.set(key, slot);
    if (this.budget) this.budget.bytes += slot.bytes;
    if (this.map.size > this.max) {
      const first = this.map.entries().next();
      if (first.done !== true) {
        this.remove(first.value[0], first.value[1]);
        this.counter?.inc('blockwise-evicted transfers');
      }
    }
    this.budget?.enforce(value);
  }

  /** Marks a transfer as used now (moves it to the young end) and charges its current size. */
  touch(key: string, value: T, now: number): void {
    value.time = now;
    const slot = this.map.get(key);
    if (slot === undefined || slot.value !== value) {
      // evicted meanwhile (or replaced): store it again
      this.set(key, value);
      return;
    }
    this.map.delete(key);
    this.map.set(key, slot);
    const bytes = this.sizeOf(value);
    if (this.budget) {
      this.budget.bytes += bytes - slot.bytes;
      slot.bytes = bytes;
      this.budget.enforce(value);
    } else {
      slot.bytes = bytes;
    }
  }

  delete(key: string): void {
    const slot = this.map.get(key);
    if (slot) this.remove(key, slot);
  }

  /** Drops expired transfers. */
  sweep(now: number): void {
    for (const [key, slot] of this.map) {
      if (now - slot.value.time > this.lifetime) this.remove(key, slot);
      else break; // insertion order == age order
    }
  }

  /** Last use of the least recently used transfer other than `keep`, or undefined. */
  oldestTime(keep: object): number | undefined {
    for (const slot of this.map.values()) if (slot.value !== keep) return slot.value.time;
    return undefined;
  }

  /** Evicts the least recently used transfer other than `keep`; false when there is none. */
  evictOldest(keep: object): boolean {
    for (const [key, slot] of this.map) {
      if (slot.value === keep) continue;
      this.remove(key, slot);
      return true;
    }
    return false;
  }

  get size(): number {
    return this.map.size;
  }

  clear(): void {
    for (const [key, slot] of this.map) this.remove(key, slot);
  }

  private remove(key: string, slot: Slot<T>): void {
    this.map.delete(key);
    if (this.budget) this.budget.bytes -= slot.bytes;
  }
}

/** Joins Block1 chunks into one body. */
export function assemble(t: Block1Transfer): Buffer {
  return t.chunks.length === 1 ? t.chunks[0]! : Buffer.concat(t.chunks, t.length);
}

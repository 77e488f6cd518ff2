// Server-side block-wise transfer state (RFC 7959 §2.4 Block2, §2.5 Block1), bounded and expiring.
import type { CoapOption } from './message.js';

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

/** A bounded map of transfers that expire `lifetime` ms after their last use. */
export class TransferStore<T extends { time: number }> {
  private readonly map = new Map<string, T>();
  constructor(
    private readonly max: number,
    private readonly lifetime: number,
  ) {}

  /** The transfer for key, if it has not expired; refreshes its position. */
  get(key: string, now: number): T | undefined {
    const t = this.map.get(key);
    if (!t) return undefined;
    if (now - t.time > this.lifetime) {
      this.map.delete(key);
      return undefined;
    }
    return t;
  }

  /** Stores (or replaces) a transfer; evicts the oldest when full. */
  set(key: string, value: T): void {
    this.map.delete(key);
    this.map.set(key, value);
    if (this.map.size > this.max) {
      const first = this.map.keys().next().value;
      if (first !== undefined) this.map.delete(first);
    }
  }

  /** Marks a transfer as used now (moves it to the young end). */
  touch(key: string, value: T, now: number): void {
    value.time = now;
    this.map.delete(key);
    this.map.set(key, value);
  }

  delete(key: string): void {
    this.map.delete(key);
  }

  /** Drops expired transfers. */
  sweep(now: number): void {
    for (const [key, t] of this.map) {
      if (now - t.time > this.lifetime) this.map.delete(key);
      else break; // insertion order == age order
    }
  }

  get size(): number {
    return this.map.size;
  }

  clear(): void {
    this.map.clear();
  }
}

/** Joins Block1 chunks into one body. */
export function assemble(t: Block1Transfer): Buffer {
  return t.chunks.length === 1 ? t.chunks[0]! : Buffer.concat(t.chunks, t.length);
}

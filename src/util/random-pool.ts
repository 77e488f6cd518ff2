// Pooled cryptographic random bytes: one randomFillSync per POOL_BYTES instead of one randomBytes call per
// value (a 32-byte randomBytes call costs several µs; a slice of the pool a fraction of that). Bytes are
// handed out once and copied, so no two callers ever share or see each other's bytes.
import { randomFillSync } from 'node:crypto';

/** Bytes refilled at once. */
const POOL_BYTES = 4096;

/** A source of random bytes backed by a pool refilled from the CSPRNG. */
export class RandomPool {
  private readonly pool: Buffer;
  private offset: number;

  constructor(size = POOL_BYTES) {
    this.pool = Buffer.allocUnsafeSlow(size);
    this.offset = size; // filled on first use
  }

  /** `n` fresh random bytes in a buffer of their own (larger requests go straight to the CSPRNG). */
  take(n: number): Buffer {
    const out = Buffer.allocUnsafe(n);
    if (n > this.pool.length >> 2) return randomFillSync(out);
    if (this.offset + n > this.pool.length) {
      randomFillSync(this.pool);
      this.offset = 0;
    }
    this.pool.copy(out, 0, this.offset, this.offset + n);
    // wipe what was handed out: the pool never holds bytes someone already uses
    this.pool.fill(0, this.offset, this.offset + n);
    this.offset += n;
    return out;
  }
}

/** The process-wide pool (one per thread). */
export const randomPool = new RandomPool();

/** `n` random bytes from the process-wide pool. */
export function pooledRandomBytes(n: number): Buffer {
  return randomPool.take(n);
}

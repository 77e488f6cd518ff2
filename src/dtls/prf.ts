// TLS 1.2 pseudo-random function with HMAC-SHA256 (RFC 5246 §5).
import { createHmac } from 'node:crypto';
import { HMAC_SHA256_LENGTH, HmacSha256Key } from './hmac-sha256.js';

/** HMAC-SHA256 over the concatenation of the given parts (RFC 2104). */
export function hmacSha256(key: Buffer, ...parts: Buffer[]): Buffer {
  const mac = createHmac('sha256', key);
  for (const part of parts) mac.update(part);
  return mac.digest();
}

/**
 * A PRF secret: the bytes, or an HmacSha256Key prepared from them once for several PRF calls (the master
 * secret serves the key block and both Finished messages, RFC 5246 §6.3, §7.4.9).
 */
export type PrfSecret = Buffer | HmacSha256Key;

/**
 * P_SHA256 over `work` = [32 bytes for A(i)] ‖ seed, `length` bytes (RFC 5246 §5): one key setup (none for
 * a prepared key), then per output block A(i) = HMAC(secret, A(i-1)) and HMAC(secret, A(i) ‖ seed), both
 * written in place.
 */
function pHashInPlace(secret: PrfSecret, work: Buffer, length: number): Buffer {
  const prepared = secret instanceof HmacSha256Key;
  const key = prepared ? secret : new HmacSha256Key(secret);
  const out = Buffer.allocUnsafe(length);
  const seedLength = work.length - HMAC_SHA256_LENGTH;
  // A(1) = HMAC(secret, A(0) = seed)
  key.macInto(work, HMAC_SHA256_LENGTH, seedLength, work, 0);
  let written = 0;
  for (;;) {
    if (length - written >= HMAC_SHA256_LENGTH) {
      key.macInto(work, 0, work.length, out, written);
      written += HMAC_SHA256_LENGTH;
    } else {
      const block = Buffer.allocUnsafe(HMAC_SHA256_LENGTH);
      key.macInto(work, 0, work.length, block, 0);
      block.copy(out, written, 0, length - written);
      written = length;
    }
    if (written >= length) break;
    key.macInto(work, 0, HMAC_SHA256_LENGTH, work, 0); // A(i+1) = HMAC(secret, A(i))
  }
  if (!prepared) key.wipe();
  return out;
}

/** P_SHA256(secret, seed) truncated to `length` bytes (RFC 5246 §5). */
export function pSha256(secret: PrfSecret, seed: Buffer, length: number): Buffer {
  const work = Buffer.allocUnsafe(HMAC_SHA256_LENGTH + seed.length);
  seed.copy(work, HMAC_SHA256_LENGTH);
  return pHashInPlace(secret, work, length);
}

/** PRF(secret, label, seed) = P_SHA256(secret, label ‖ seed), `length` bytes (RFC 5246 §5). */
export function prf(secret: PrfSecret, label: string, seed: Buffer, length: number): Buffer {
  return prf2(secret, label, seed, undefined, length);
}

/** PRF(secret, label, seed1 ‖ seed2) without concatenating the seeds first (RFC 5246 §5). */
export function prf2(secret: PrfSecret, label: string, seed1: Buffer, seed2: Buffer | undefined, length: number): Buffer {
  const labelLength = label.length;
  const work = Buffer.allocUnsafe(HMAC_SHA256_LENGTH + labelLength + seed1.length + (seed2?.length ?? 0));
  let p = HMAC_SHA256_LENGTH + work.write(label, HMAC_SHA256_LENGTH, labelLength, 'latin1');
  p += seed1.copy(work, p);
  if (seed2 !== undefined) seed2.copy(work, p);
  return pHashInPlace(secret, work, length);
}

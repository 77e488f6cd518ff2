// TLS 1.2 pseudo-random function with HMAC-SHA256 (RFC 5246 §5).
import { createHmac } from 'node:crypto';

const SHA256_LENGTH = 32;

/** HMAC-SHA256 over the concatenation of the given parts (RFC 2104). */
export function hmacSha256(key: Buffer, ...parts: Buffer[]): Buffer {
  const mac = createHmac('sha256', key);
  for (const part of parts) mac.update(part);
  return mac.digest();
}

/** P_SHA256(secret, seed) truncated to `length` bytes (RFC 5246 §5). */
export function pSha256(secret: Buffer, seed: Buffer, length: number): Buffer {
  const out = Buffer.allocUnsafe(length);
  let a = seed; // A(0) = seed
  let written = 0;
  while (written < length) {
    a = hmacSha256(secret, a); // A(i) = HMAC(secret, A(i-1))
    const block = hmacSha256(secret, a, seed);
    written += block.copy(out, written, 0, Math.min(SHA256_LENGTH, length - written));
  }
  return out;
}

/** PRF(secret, label, seed) = P_SHA256(secret, label ‖ seed), `length` bytes (RFC 5246 §5). */
export function prf(secret: Buffer, label: string, seed: Buffer, length: number): Buffer {
  return pSha256(secret, Buffer.concat([Buffer.from(label, 'latin1'), seed]), length);
}

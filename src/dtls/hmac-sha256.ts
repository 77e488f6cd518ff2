// HMAC-SHA256 (RFC 2104, SHA-256 of FIPS 180-4) in plain JavaScript for the short inputs of the TLS PRF
// (RFC 5246 §5): the key's inner and outer pad states are computed once per key, and each MAC then costs
// two or three compression calls with no native call, no object and no allocation beyond its result.
// (createHmac costs a native object and the key setup per call, about twice as much for these sizes.)
// Constant time: only 32-bit arithmetic, no branch or table index depending on key or message.
import { createHash } from 'node:crypto';

/** SHA-256 round constants (FIPS 180-4 §4.2.2). */
const K = new Int32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3,
  0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
  0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
  0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);

/** SHA-256 initial hash value (FIPS 180-4 §5.3.3). */
const IV = new Int32Array([0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]);

const BLOCK = 64;
/** Longest message macInto takes (bit length of pad block + message below 2^32). */
const MAX_MESSAGE = 0x1fffffff - BLOCK;
/** Output length of SHA-256 / HMAC-SHA256. */
export const HMAC_SHA256_LENGTH = 32;

// scratch (single-threaded use; nothing survives a call)
const W = new Int32Array(64);
const STATE = new Int32Array(8);
const TAIL = Buffer.alloc(2 * BLOCK);
const INNER = Buffer.alloc(HMAC_SHA256_LENGTH);

/** One SHA-256 compression of the 64 bytes at `buf[off]` into `st` (FIPS 180-4 §6.2.2). */
function compress(st: Int32Array, buf: Uint8Array, off: number): void {
  for (let i = 0; i < 16; i++, off += 4) W[i] = (buf[off]! << 24) | (buf[off + 1]! << 16) | (buf[off + 2]! << 8) | buf[off + 3]!;
  for (let i = 16; i < 64; i++) {
    const w15 = W[i - 15]!;
    const w2 = W[i - 2]!;
    const s0 = ((w15 >>> 7) | (w15 << 25)) ^ ((w15 >>> 18) | (w15 << 14)) ^ (w15 >>> 3);
    const s1 = ((w2 >>> 17) | (w2 << 15)) ^ ((w2 >>> 19) | (w2 << 13)) ^ (w2 >>> 10);
    W[i] = (W[i - 16]! + s0 + W[i - 7]! + s1) | 0;
  }
  let a = st[0]!;
  let b = st[1]!;
  let c = st[2]!;
  let d = st[3]!;
  let e = st[4]!;
  let f = st[5]!;
  let g = st[6]!;
  let h = st[7]!;
  for (let i = 0; i < 64; i++) {
    const s1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
    const t1 = (h + s1 + ((e & f) ^ (~e & g)) + K[i]! + W[i]!) | 0;
    const s0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
    const t2 = (s0 + ((a & b) ^ (a & c) ^ (b & c))) | 0;
    h = g;
    g = f;
    f = e;
    e = (d + t1) | 0;
    d = c;
    c = b;
    b = a;
    a = (t1 + t2) | 0;
  }
  st[0] = (st[0]! + a) | 0;
  st[1] = (st[1]! + b) | 0;
  st[2] = (st[2]! + c) | 0;
  st[3] = (st[3]! + d) | 0;
  st[4] = (st[4]! + e) | 0;
  st[5] = (st[5]! + f) | 0;
  st[6] = (st[6]! + g) | 0;
  st[7] = (st[7]! + h) | 0;
}

/**
 * SHA-256 continued from `start` (the state after one 64-byte block) over msg[off, off + len), with the
 * padding of FIPS 180-4 §5.1.1; the digest goes to out[outOff ..].
 */
function finishAfterBlock(start: Int32Array, msg: Uint8Array, off: number, len: number, out: Uint8Array, outOff: number): void {
  STATE.set(start);
  const end = off + len;
  while (end - off >= BLOCK) {
    compress(STATE, msg, off);
    off += BLOCK;
  }
  const rest = end - off;
  const blocks = rest + 9 > BLOCK ? 2 : 1;
  const last = blocks * BLOCK;
  // byte loops, not subarray/fill: no Buffer object per call
  for (let i = 0; i < rest; i++) TAIL[i] = msg[off + i]!;
  TAIL[rest] = 0x80;
  for (let i = rest + 1; i < last - 4; i++) TAIL[i] = 0;
  const bits = (BLOCK + len) * 8; // < 2^32 for every input of the PRF and the cookie (checked by the caller)
  TAIL[last - 4] = bits >>> 24;
  TAIL[last - 3] = (bits >>> 16) & 0xff;
  TAIL[last - 2] = (bits >>> 8) & 0xff;
  TAIL[last - 1] = bits & 0xff;
  compress(STATE, TAIL, 0);
  if (blocks === 2) compress(STATE, TAIL, BLOCK);
  for (let i = 0; i < 8; i++, outOff += 4) {
    const v = STATE[i]!;
    out[outOff] = v >>> 24;
    out[outOff + 1] = (v >>> 16) & 0xff;
    out[outOff + 2] = (v >>> 8) & 0xff;
    out[outOff + 3] = v & 0xff;
  }
}

/** An HMAC-SHA256 key with its pad states precomputed (RFC 2104 §2). */
export class HmacSha256Key {
  private readonly inner = new Int32Array(IV);
  private readonly outer = new Int32Array(IV);

  constructor(key: Uint8Array) {
    // RFC 2104 §2: keys longer than the block are hashed first
    const k = Buffer.alloc(BLOCK);
    k.set(key.length > BLOCK ? createHash('sha256').update(key).digest() : key);
    for (let i = 0; i < BLOCK; i++) k[i] = k[i]! ^ 0x36;
    compress(this.inner, k, 0);
    for (let i = 0; i < BLOCK; i++) k[i] = k[i]! ^ (0x36 ^ 0x5c);
    compress(this.outer, k, 0);
    k.fill(0);
  }

  /** HMAC of msg[off, off + len) written to out[outOff, outOff + 32). */
  macInto(msg: Uint8Array, off: number, len: number, out: Uint8Array, outOff: number): void {
    if (len > MAX_MESSAGE) throw new RangeError(`HMAC input of ${len} bytes too long`);
    finishAfterBlock(this.inner, msg, off, len, INNER, 0);
    finishAfterBlock(this.outer, INNER, 0, HMAC_SHA256_LENGTH, out, outOff);
  }

  /** HMAC of `msg` as a new buffer. */
  mac(msg: Uint8Array): Buffer {
    const out = Buffer.allocUnsafe(HMAC_SHA256_LENGTH);
    this.macInto(msg, 0, msg.length, out, 0);
    return out;
  }

  /** Overwrites the pad states (the key material is no longer needed). */
  wipe(): void {
    this.inner.fill(0);
    this.outer.fill(0);
  }
}

// HMAC-SHA256 (RFC 2104, SHA-256 of FIPS 180-4) in plain JavaScript for the short inputs of the TLS PRF
// (RFC 5246 §5): the key's inner and outer pad states are computed once per key, and each MAC then costs
// two or three compression calls with no native call, no object and no allocation beyond its result.
// (createHmac costs a native object and the key setup per call, about twice as much for these sizes.)
// Constant time: only 32-bit arithmetic, no branch or table index depending on key or message.
import { createHash } from 'node:crypto';
import { compress, SHA256_IV as IV, writeState } from './sha256.js';

const BLOCK = 64;
/** Longest message macInto takes (bit length of pad block + message below 2^32). */
const MAX_MESSAGE = 0x1fffffff - BLOCK;
/** Output length of SHA-256 / HMAC-SHA256. */
export const HMAC_SHA256_LENGTH = 32;

// scratch (single-threaded use; nothing survives a call)
const STATE = new Int32Array(8);
const TAIL = Buffer.alloc(2 * BLOCK);
const INNER = Buffer.alloc(HMAC_SHA256_LENGTH);
/** the key padded to a block, XORed with ipad then opad; zeroed again before the constructor returns */
const KEY_PAD = Buffer.alloc(BLOCK);

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
  writeState(STATE, out, outOff);
}

/** An HMAC-SHA256 key with its pad states precomputed (RFC 2104 §2). */
export class HmacSha256Key {
  private readonly inner = new Int32Array(IV);
  private readonly outer = new Int32Array(IV);

  constructor(key: Uint8Array) {
    // RFC 2104 §2: keys longer than the block are hashed first
    const k = KEY_PAD; // all zero between calls
    const material = key.length > BLOCK ? createHash('sha256').update(key).digest() : key;
    for (let i = 0; i < material.length; i++) k[i] = material[i]!;
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

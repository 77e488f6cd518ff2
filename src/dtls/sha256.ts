// SHA-256 (FIPS 180-4) in plain JavaScript: the compression function that HMAC-SHA256 (hmac-sha256.ts) uses,
// and an incremental hash for the handshake transcript (RFC 6347 §4.2.6, RFC 5246 §7.4.9) whose digest so
// far costs one or two compressions on a copy of 8 words, with no native object per handshake or per copy.
// Constant time in the data: only 32-bit arithmetic, no branch or table index depending on the input.

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
export const SHA256_IV = new Int32Array([0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]);

/** SHA-256 block length in bytes. */
export const SHA256_BLOCK = 64;
/** SHA-256 digest length in bytes. */
export const SHA256_LENGTH = 32;

// scratch (single-threaded use; nothing survives a call)
const W = new Int32Array(64);
const FINAL_STATE = new Int32Array(8);
const FINAL_TAIL = Buffer.alloc(2 * SHA256_BLOCK);

/** One SHA-256 compression of the 64 bytes at `buf[off]` into `st` (FIPS 180-4 §6.2.2). */
export function compress(st: Int32Array, buf: Uint8Array, off: number): void {
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

/** Writes the 8 state words big-endian to out[off ..] (FIPS 180-4 §6.2.2 step 4). */
export function writeState(st: Int32Array, out: Uint8Array, off: number): void {
  for (let i = 0; i < 8; i++, off += 4) {
    const v = st[i]!;
    out[off] = v >>> 24;
    out[off + 1] = (v >>> 16) & 0xff;
    out[off + 2] = (v >>> 8) & 0xff;
    out[off + 3] = v & 0xff;
  }
}

/** An incremental SHA-256 whose digest can be taken at any point while the hash goes on (like Hash.copy().digest()). */
export class Sha256 {
  private readonly state = new Int32Array(SHA256_IV);
  /** the bytes of the incomplete block */
  private readonly block = Buffer.alloc(SHA256_BLOCK); // Buffer like every other compress input: one map at its loads
  private blockLength = 0;
  /** bytes hashed so far */
  private length = 0;

  /** Hashes data[off, off + len) (default: all of `data`). */
  update(data: Uint8Array, off = 0, len = data.length - off): void {
    const end = off + len;
    this.length += len;
    const block = this.block;
    if (this.blockLength > 0) {
      let n = this.blockLength;
      while (n < SHA256_BLOCK && off < end) block[n++] = data[off++]!;
      this.blockLength = n;
      if (n < SHA256_BLOCK) return;
      compress(this.state, block, 0);
      this.blockLength = 0;
    }
    while (end - off >= SHA256_BLOCK) {
      compress(this.state, data, off);
      off += SHA256_BLOCK;
    }
    let n = 0;
    while (off < end) block[n++] = data[off++]!;
    this.blockLength = n;
  }

  /** SHA-256 of everything hashed so far (FIPS 180-4 §5.1.1 padding on a copy); the hash continues. */
  digest(): Buffer {
    const st = FINAL_STATE;
    st.set(this.state);
    const rest = this.blockLength;
    const tail = FINAL_TAIL;
    for (let i = 0; i < rest; i++) tail[i] = this.block[i]!;
    tail[rest] = 0x80;
    const last = rest + 9 > SHA256_BLOCK ? 2 * SHA256_BLOCK : SHA256_BLOCK;
    for (let i = rest + 1; i < last - 8; i++) tail[i] = 0;
    // 64-bit big-endian bit length
    const high = Math.floor(this.length / 0x20000000);
    const low = (this.length * 8) >>> 0;
    tail[last - 8] = high >>> 24;
    tail[last - 7] = (high >>> 16) & 0xff;
    tail[last - 6] = (high >>> 8) & 0xff;
    tail[last - 5] = high & 0xff;
    tail[last - 4] = low >>> 24;
    tail[last - 3] = (low >>> 16) & 0xff;
    tail[last - 2] = (low >>> 8) & 0xff;
    tail[last - 1] = low & 0xff;
    compress(st, tail, 0);
    if (last > SHA256_BLOCK) compress(st, tail, SHA256_BLOCK);
    const out = Buffer.allocUnsafe(SHA256_LENGTH);
    writeState(st, out, 0);
    return out;
  }
}

// AES-CCM (RFC 3610 §2, NIST SP 800-38C §6) built from two long-lived node:crypto contexts per key instead of a new
// 'aes-*-ccm' cipher object per message (node needs one per nonce): an ECB context encrypts the counter blocks
// A_0..A_n (RFC 3610 §2.3) and a CBC context with zero IV computes the CBC-MAC over B_0 ‖ encoded AAD ‖ plaintext
// (RFC 3610 §2.2). The CBC context is never re-keyed: each message XORs its first block with the previous message's
// last output block, which cancels OpenSSL's chaining and gives X_1 = E(B_0) as if the IV were zero again.
// Used by the DTLS 1.2 CCM / CCM_8 suites (RFC 6655 §3, RFC 7251 §2): 12-byte nonce (L = 3), 8- or 16-byte tag.
import { createCipheriv, timingSafeEqual, type Cipher, type KeyObject } from 'node:crypto';

const BLOCK = 16;
/** Largest AAD length with the two-byte encoding (RFC 3610 §2.2: 0 < l(a) < 2^16 - 2^8). */
const AAD_SHORT_LIMIT = 0xff00;

/**
 * One key's long-lived CCM state (about 2.4 KB of process memory, measured RSS, mostly the two OpenSSL contexts, plus
 * at most KS_RECORDS × KS_MAX_BLOCKS × 16 = 1 KB of precomputed keystream).
 */
export interface CcmContext {
  /** AES-ECB without padding: CTR keystream S_i = E(A_i) (RFC 3610 §2.3) */
  readonly ecb: Cipher;
  /** AES-CBC without padding, zero IV: CBC-MAC (RFC 3610 §2.2), chaining cancelled per message via `last` */
  readonly cbc: Cipher;
  /** last output block of the previous cbc.update (the chaining value OpenSSL holds) */
  readonly last: Buffer;
  /**
   * Keystream of the next KS_RECORDS 12-byte nonces (DTLS: fixed IV ‖ epoch ‖ seq, seq counting up), `ksBlocks`
   * blocks each, computed in one ECB call: a DTLS direction seals (or opens) records with consecutive sequence
   * numbers, so one native call serves several records. Undefined until the first batch.
   */
  ks: Buffer | undefined;
  /** nonce bytes 0..3 and 4..5 (fixed IV, epoch) the batch was made for */
  ksHead: number;
  ksEpoch: number;
  /** sequence number (nonce bytes 6..11) of the batch's first record */
  ksSeq: number;
  /** blocks per record in the batch */
  ksBlocks: number;
}

/** Records per precomputed keystream batch (one ECB call for this many consecutive sequence numbers). */
const KS_RECORDS = 8;
/** Largest keystream (S_0 ‖ S_1.., in blocks) served from batches: messages up to 112 bytes; longer ones compute their own. */
const KS_MAX_BLOCKS = 8;
/** The batch layout writes counter blocks as 32-bit words in the byte order of this machine. */
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
/** Counter blocks of one batch (KS_RECORDS × KS_MAX_BLOCKS blocks), 4-byte aligned. */
const batchScratch = Buffer.alloc(KS_RECORDS * KS_MAX_BLOCKS * 16);
const batch32 = new Uint32Array(batchScratch.buffer, batchScratch.byteOffset, batchScratch.length >> 2);
/** batchScratch.subarray(0, records × blocks × 16), by blocks per record */
const batchViews: Buffer[] = [];
const TWO_POW_32 = 2 ** 32;

// Process-wide scratch (JavaScript runs one message at a time): a context only owns its cipher objects and 16 bytes,
// so the per-key memory does not grow with the largest record ever seen. Both scratches are 4-byte aligned (own
// ArrayBuffers) so that the CTR XOR and the counter-block fill can work on 32-bit words.
let macScratch = Buffer.alloc(2048);
let mac32 = new Uint32Array(macScratch.buffer, macScratch.byteOffset, macScratch.length >> 2);
/** macScratch.subarray(0, 16·i), created on first use (cipher.update needs a view of the exact length) */
let macViews: Buffer[] = [];
let ctrScratch = Buffer.alloc(0);
let ctr32 = new Uint32Array(0);
let ctrScratchL = 0;
/** ctrScratch.subarray(0, 16·i), created on first use */
let ctrViews: Buffer[] = [];
const tagComputed = Buffer.alloc(BLOCK);
const tagReceived = Buffer.alloc(BLOCK);
/** views of length M of the two tag scratches, indexed by M (timingSafeEqual needs equal-length buffers) */
const computedViews: Buffer[] = [];
const receivedViews: Buffer[] = [];
for (let m = 0; m <= BLOCK; m++) {
  computedViews.push(tagComputed.subarray(0, m));
  receivedViews.push(tagReceived.subarray(0, m));
}

/** Creates the ECB and CBC contexts of one AES key (128/192/256 by the key length; raw bytes or a key object). */
export function createCcmContext(key: KeyObject | Buffer): CcmContext {
  const bits = (Buffer.isBuffer(key) ? key.length : (key.symmetricKeySize ?? 16)) * 8;
  const ecb = createCipheriv(`aes-${bits}-ecb`, key, null).setAutoPadding(false);
  const cbc = createCipheriv(`aes-${bits}-cbc`, key, Buffer.alloc(BLOCK)).setAutoPadding(false);
  return { ecb, cbc, last: Buffer.alloc(BLOCK), ks: undefined, ksHead: 0, ksEpoch: 0, ksSeq: 0, ksBlocks: 0 };
}

/** Checks the CCM parameters this module supports (RFC 3610 §2: M ∈ {4..16} even, L = 15 − nonce length ∈ 2..8). */
function ccmParametersValid(nonceLength: number, tagLength: number): boolean {
  return nonceLength >= 7 && nonceLength <= 13 && tagLength >= 4 && tagLength <= 16 && (tagLength & 1) === 0;
}

/** Largest message length the length field of L = 15 − nonceLength bytes can encode (capped at 2^32 − 1 here). */
function maxMessageLength(nonceLength: number): number {
  return nonceLength === 12 ? 0xffffff : nonceLength <= 11 ? 0xffffffff : nonceLength === 13 ? 0xffff : 0;
}

/** Up to this many bytes, byte loops beat a native copy/fill call or a typed-array view. */
const SMALL = 64;

/**
 * Lays out B_0 ‖ l(a) ‖ a ‖ pad (RFC 3610 §2.2) in the MAC scratch and returns the (16-aligned) offset of the message
 * (the caller has grown the scratch with macInputLength first).
 */
function writeMacHeader(tagLength: number, nonce: Buffer, aad: Buffer, length: number): number {
  const b = macScratch;
  const nonceLength = nonce.length;
  const l = 15 - nonceLength;
  const aadLength = aad.length;
  // B_0 = flags ‖ nonce ‖ l(m); flags = Adata·64 + M'·8 + L', M' = (M − 2)/2, L' = L − 1 (RFC 3610 §2.2)
  b[0] = (aadLength > 0 ? 0x40 : 0) | (((tagLength - 2) >> 1) << 3) | (l - 1);
  for (let i = 0; i < nonceLength; i++) b[1 + i] = nonce[i]!;
  let rest = length;
  for (let i = 15; i > nonceLength; i--) {
    b[i] = rest & 0xff;
    rest = Math.floor(rest / 256);
  }
  if (aadLength === 0) return BLOCK;
  // l(a): two bytes, or 0xfffe ‖ four bytes (RFC 3610 §2.2)
  let p: number;
  if (aadLength < AAD_SHORT_LIMIT) {
    b[16] = aadLength >> 8;
    b[17] = aadLength & 0xff;
    p = BLOCK + 2;
  } else {
    b[16] = 0xff;
    b[17] = 0xfe;
    b.writeUInt32BE(aadLength, 18);
    p = BLOCK + 6;
  }
  if (aadLength > SMALL) aad.copy(b, p);
  else for (let i = 0; i < aadLength; i++) b[p + i] = aad[i]!;
  p += aadLength;
  const end = (p + 15) & ~15;
  while (p < end) b[p++] = 0;
  return end;
}

/** Total MAC input length for an AAD of `aadLength` and a message of `length` bytes; grows the MAC scratch. */
function macInputLength(aadLength: number, length: number): number {
  const aadHeader = aadLength === 0 ? 0 : aadLength < AAD_SHORT_LIMIT ? 2 : 6;
  const n = BLOCK + ((aadHeader + aadLength + 15) & ~15) + ((length + 15) & ~15);
  if (macScratch.length < n) {
    macScratch = Buffer.alloc(Math.max(n, macScratch.length * 2));
    mac32 = new Uint32Array(macScratch.buffer, macScratch.byteOffset, macScratch.length >> 2);
    macViews = [];
  }
  return n;
}

/**
 * CBC-MAC (RFC 3610 §2.2) of the first `n` bytes of the MAC scratch with the context's CBC cipher. Returns the
 * context's `last` buffer: its first M bytes are T (valid until the next call on this context).
 */
function cbcMac(ctx: CcmContext, n: number): Buffer {
  const b = macScratch;
  // cancel the chaining of the previous message: OpenSSL computes E(B_0 ⊕ last ⊕ last) = E(B_0)
  const last = ctx.last;
  for (let i = 0; i < BLOCK; i++) b[i]! ^= last[i]!;
  const out = ctx.cbc.update(macViews[n >> 4] ?? (macViews[n >> 4] = b.subarray(0, n)));
  for (let i = 0, o = n - BLOCK; i < BLOCK; i++) last[i] = out[o + i]!;
  return last;
}

/** Offset of S_0 in the buffer the last keystream() call returned (a batch holds several records' keystreams). */
let ksAt = 0;

/**
 * Keystream of a 12-byte nonce from the context's batch: served when the nonce is one of the batch's KS_RECORDS
 * consecutive sequence numbers, else a new batch starting at this nonce is computed. Undefined when batches do not
 * apply (message longer than KS_MAX_BLOCKS blocks, big-endian machine).
 */
function batchKeystream(ctx: CcmContext, nonce: Buffer, count: number): Buffer | undefined {
  if (count > KS_MAX_BLOCKS || !LITTLE_ENDIAN) return undefined;
  const head = nonce.readUInt32BE(0);
  const epoch = nonce.readUInt16BE(4);
  const seq = nonce.readUInt16BE(6) * TWO_POW_32 + nonce.readUInt32BE(8);
  const blocks = ctx.ksBlocks;
  if (ctx.ks !== undefined && count <= blocks && head === ctx.ksHead && epoch === ctx.ksEpoch && seq >= ctx.ksSeq && seq < ctx.ksSeq + KS_RECORDS) {
    ksAt = (seq - ctx.ksSeq) * blocks * BLOCK;
    return ctx.ks;
  }
  // a new batch for seq, seq + 1, …: A_j = flags(L' = 2) ‖ nonce(seq + r) ‖ uint24(j), laid out as little-endian words
  const n = Math.max(count, blocks);
  const w = batch32;
  const w0 = 2 | (nonce[0]! << 8) | (nonce[1]! << 16) | (nonce[2]! << 24);
  const iv3Epoch = nonce[3]! | (nonce[4]! << 8) | (nonce[5]! << 16);
  let i = 0;
  for (let r = 0; r < KS_RECORDS; r++) {
    const sr = seq + r;
    const hi = Math.floor(sr / TWO_POW_32) & 0xffff;
    const lo = sr >>> 0;
    // bytes 7..12 = seq(6) big-endian: 7 = hi >> 8, 8 = hi & ff, 9..12 = lo
    const w1 = (iv3Epoch | ((hi >>> 8) << 24)) >>> 0;
    const w2 = ((hi & 0xff) | ((lo >>> 24) << 8) | (((lo >>> 16) & 0xff) << 16) | (((lo >>> 8) & 0xff) << 24)) >>> 0;
    const w3 = lo & 0xff;
    for (let j = 0; j < n; j++, i += 4) {
      w[i] = w0;
      w[i + 1] = w1;
      w[i + 2] = w2;
      w[i + 3] = (w3 | (j << 24)) >>> 0;
    }
  }
  const input = batchViews[n] ?? (batchViews[n] = batchScratch.subarray(0, KS_RECORDS * n * BLOCK));
  const ks = ctx.ecb.update(input);
  ctx.ks = ks;
  ctx.ksHead = head;
  ctx.ksEpoch = epoch;
  ctx.ksSeq = seq;
  ctx.ksBlocks = n;
  ksAt = 0;
  return ks;
}

/**
 * Keystream S_0 ‖ S_1 ‖ … ‖ S_count−1 = E(A_i), A_i = flags(L') ‖ nonce ‖ i (RFC 3610 §2.3), starting at byte `ksAt`
 * of the returned buffer.
 */
function keystream(ctx: CcmContext, nonce: Buffer, count: number): Buffer {
  const nonceLength = nonce.length;
  if (nonceLength === 12) {
    const s = batchKeystream(ctx, nonce, count);
    if (s !== undefined) return s;
  }
  ksAt = 0;
  const n = count * BLOCK;
  if (ctrScratch.length < n || ctrScratchL !== 15 - nonceLength) {
    // flags and counters of every block stay in place; only the nonce bytes are rewritten per message
    const l = 15 - nonceLength;
    const blocks = Math.max(count, ctrScratch.length / BLOCK, 64);
    ctrScratch = Buffer.alloc(blocks * BLOCK);
    ctr32 = new Uint32Array(ctrScratch.buffer, ctrScratch.byteOffset, ctrScratch.length >> 2);
    ctrViews = [];
    ctrScratchL = l;
    for (let i = 0; i < blocks; i++) {
      const o = i * BLOCK;
      ctrScratch[o] = l - 1;
      let c = i;
      for (let j = 15; j > nonceLength; j--) {
        ctrScratch[o + j] = c & 0xff;
        c = Math.floor(c / 256);
      }
    }
  }
  const b = ctrScratch;
  if (nonceLength === 12) {
    // bytes 0..11 of every block = flags ‖ nonce[0..10] (three words as laid out in block 0), byte 12 = nonce[11]
    for (let j = 0; j < 11; j++) b[1 + j] = nonce[j]!;
    const w = ctr32;
    const w0 = w[0]!;
    const w1 = w[1]!;
    const w2 = w[2]!;
    const last = nonce[11]!;
    b[12] = last;
    for (let i = 4, o = BLOCK, end = n >> 2; i < end; i += 4, o += BLOCK) {
      w[i] = w0;
      w[i + 1] = w1;
      w[i + 2] = w2;
      b[o + 12] = last;
    }
  } else {
    for (let o = 0; o < n; o += BLOCK) {
      for (let j = 0; j < nonceLength; j++) b[o + 1 + j] = nonce[j]!;
    }
  }
  return ctx.ecb.update(ctrViews[count] ?? (ctrViews[count] = b.subarray(0, n)));
}

/** XORs S_1.. (keystream from byte `at` + 16) into the MAC scratch words [p, p + length) in place (p is 16-aligned). */
function xorKeystream(s: Buffer, at: number, p: number, length: number): void {
  if (length > SMALL && ((s.byteOffset + at) & 3) === 0) {
    const s32 = new Uint32Array(s.buffer, s.byteOffset + at + BLOCK, (length + 3) >> 2);
    const m = mac32;
    const base = p >> 2;
    for (let i = 0, words = s32.length; i < words; i++) m[base + i]! ^= s32[i]!;
  } else {
    const b = macScratch;
    const from = at + BLOCK;
    for (let i = 0; i < length; i++) b[p + i]! ^= s[from + i]!;
  }
}

/**
 * CCM generation-encryption (RFC 3610 §2.2-2.4, SP 800-38C §6.1): writes ciphertext ‖ tag(M) into `out` at `pos`
 * and returns the position after the tag. Throws RangeError on parameters outside RFC 3610.
 */
export function ccmSeal(ctx: CcmContext, tagLength: number, nonce: Buffer, aad: Buffer, plaintext: Buffer, out: Buffer, pos: number): number {
  const length = plaintext.length;
  if (!ccmParametersValid(nonce.length, tagLength) || length > maxMessageLength(nonce.length)) {
    throw new RangeError('CCM: unsupported nonce/tag length or message too long');
  }
  const n = macInputLength(aad.length, length);
  const p = writeMacHeader(tagLength, nonce, aad, length);
  const b = macScratch;
  if (length > SMALL) plaintext.copy(b, p);
  else for (let i = 0; i < length; i++) b[p + i] = plaintext[i]!;
  for (let i = p + length; i < n; i++) b[i] = 0;
  const t = cbcMac(ctx, n);
  const s = keystream(ctx, nonce, 1 + ((length + 15) >> 4));
  const at = ksAt;
  // C = m ⊕ S_1.. (RFC 3610 §2.3), computed in place over the plaintext copy, then U = T ⊕ first-M-bytes(S_0)
  xorKeystream(s, at, p, length);
  if (length > SMALL) b.copy(out, pos, p, p + length);
  else for (let i = 0; i < length; i++) out[pos + i] = b[p + i]!;
  pos += length;
  for (let i = 0; i < tagLength; i++) out[pos + i] = t[i]! ^ s[at + i]!;
  return pos + tagLength;
}

/**
 * CCM decryption-verification (RFC 3610 §2.5, SP 800-38C §6.2) of data[offset, offset + length) followed by the
 * M-byte tag. Returns the plaintext (a new buffer), or undefined if the tag does not verify (compared with
 * timingSafeEqual; the recovered plaintext only ever exists in the scratch, which is zeroed) or the parameters are
 * invalid.
 */
export function ccmOpen(ctx: CcmContext, tagLength: number, nonce: Buffer, aad: Buffer, data: Buffer, offset: number, length: number): Buffer | undefined {
  if (!ccmParametersValid(nonce.length, tagLength) || length < 0 || length > maxMessageLength(nonce.length)) return undefined;
  if (offset < 0 || offset + length + tagLength > data.length) return undefined;
  const s = keystream(ctx, nonce, 1 + ((length + 15) >> 4));
  const at = ksAt;
  const n = macInputLength(aad.length, length);
  const p = writeMacHeader(tagLength, nonce, aad, length);
  const b = macScratch;
  // m = C ⊕ S_1.. in place in the MAC input, then zero padding (the word XOR may have touched the pad bytes)
  if (length > SMALL) data.copy(b, p, offset, offset + length);
  else for (let i = 0; i < length; i++) b[p + i] = data[offset + i]!;
  xorKeystream(s, at, p, length);
  for (let i = p + length; i < n; i++) b[i] = 0;
  const t = cbcMac(ctx, n);
  const tagAt = offset + length;
  for (let i = 0; i < tagLength; i++) {
    tagComputed[i] = t[i]! ^ s[at + i]!;
    tagReceived[i] = data[tagAt + i]!;
  }
  const ok = timingSafeEqual(computedViews[tagLength]!, receivedViews[tagLength]!);
  let plaintext: Buffer | undefined;
  if (ok) {
    plaintext = Buffer.allocUnsafe(length);
    if (length > SMALL) b.copy(plaintext, 0, p, p + length);
    else for (let i = 0; i < length; i++) plaintext[i] = b[p + i]!;
  }
  if (length > SMALL) b.fill(0, p, p + length);
  else for (let i = p, end = p + length; i < end; i++) b[i] = 0;
  return plaintext;
}

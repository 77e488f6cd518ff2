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

/** One key's long-lived CCM state (about 2.4 KB of process memory, measured RSS, mostly the two OpenSSL contexts). */
export interface CcmContext {
  /** AES-ECB without padding: CTR keystream S_i = E(A_i) (RFC 3610 §2.3) */
  readonly ecb: Cipher;
  /** AES-CBC without padding, zero IV: CBC-MAC (RFC 3610 §2.2), chaining cancelled per message via `last` */
  readonly cbc: Cipher;
  /** last output block of the previous cbc.update (the chaining value OpenSSL holds) */
  readonly last: Buffer;
}

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

/** Creates the ECB and CBC contexts of one AES key (128/192/256 by the key length). */
export function createCcmContext(key: KeyObject): CcmContext {
  const bits = (key.symmetricKeySize ?? 16) * 8;
  const ecb = createCipheriv(`aes-${bits}-ecb`, key, null).setAutoPadding(false);
  const cbc = createCipheriv(`aes-${bits}-cbc`, key, Buffer.alloc(BLOCK)).setAutoPadding(false);
  return { ecb, cbc, last: Buffer.alloc(BLOCK) };
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

/** Keystream S_0 ‖ S_1 ‖ … ‖ S_count−1 = E(A_i), A_i = flags(L') ‖ nonce ‖ i (RFC 3610 §2.3). */
function keystream(ctx: CcmContext, nonce: Buffer, count: number): Buffer {
  const nonceLength = nonce.length;
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

/** XORs S_1.. (keystream from byte 16) into the MAC scratch words [p, p + length) in place (p is 16-aligned). */
function xorKeystream(s: Buffer, p: number, length: number): void {
  if (length > SMALL && (s.byteOffset & 3) === 0) {
    const s32 = new Uint32Array(s.buffer, s.byteOffset + BLOCK, (length + 3) >> 2);
    const m = mac32;
    const base = p >> 2;
    for (let i = 0, words = s32.length; i < words; i++) m[base + i]! ^= s32[i]!;
  } else {
    const b = macScratch;
    for (let i = 0; i < length; i++) b[p + i]! ^= s[BLOCK + i]!;
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
  // C = m ⊕ S_1.. (RFC 3610 §2.3), computed in place over the plaintext copy, then U = T ⊕ first-M-bytes(S_0)
  xorKeystream(s, p, length);
  if (length > SMALL) b.copy(out, pos, p, p + length);
  else for (let i = 0; i < length; i++) out[pos + i] = b[p + i]!;
  pos += length;
  for (let i = 0; i < tagLength; i++) out[pos + i] = t[i]! ^ s[i]!;
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
  const n = macInputLength(aad.length, length);
  const p = writeMacHeader(tagLength, nonce, aad, length);
  const b = macScratch;
  // m = C ⊕ S_1.. in place in the MAC input, then zero padding (the word XOR may have touched the pad bytes)
  if (length > SMALL) data.copy(b, p, offset, offset + length);
  else for (let i = 0; i < length; i++) b[p + i] = data[offset + i]!;
  xorKeystream(s, p, length);
  for (let i = p + length; i < n; i++) b[i] = 0;
  const t = cbcMac(ctx, n);
  const tagAt = offset + length;
  for (let i = 0; i < tagLength; i++) {
    tagComputed[i] = t[i]! ^ s[i]!;
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

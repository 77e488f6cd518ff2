// COSE parts of OSCORE (RFC 8613 §5): minimal CBOR, AEAD nonce (§5.2), AAD (§5.4), AES-CCM-16-64-128 (RFC 8152 §10.2).
import { ccmOpen, ccmSeal, createCcmContext, type CcmContext } from '../dtls/ccm.js';
import { MAX_PARTIAL_IV_LENGTH } from './option.js';

/** COSE algorithm number of AES-CCM-16-64-128 (RFC 8152 §10.2), the only AEAD supported. */
export const AES_CCM_16_64_128 = 10;
/** AES-CCM-16-64-128 key length in bytes. */
export const KEY_LENGTH = 16;
/** AES-CCM-16-64-128 nonce length in bytes. */
export const NONCE_LENGTH = 13;
/** AES-CCM-16-64-128 authentication tag length in bytes. */
export const TAG_LENGTH = 8;
/** Longest Sender / Recipient ID: nonce length - 6 (§3.3). */
export const MAX_ID_LENGTH = NONCE_LENGTH - 6;

const EMPTY = Buffer.alloc(0);

// ---- minimal deterministic CBOR (RFC 8949 §3), enough for §3.2.1 info and §5.4 AAD ----

function cborHead(major: number, n: number): Buffer {
  const m = major << 5;
  if (n < 24) return Buffer.from([m | n]);
  if (n < 0x100) return Buffer.from([m | 24, n]);
  if (n < 0x10000) return Buffer.from([m | 25, n >> 8, n & 0xff]);
  const b = Buffer.allocUnsafe(5);
  b[0] = m | 26;
  b.writeUInt32BE(n >>> 0, 1);
  return b;
}

/** CBOR integer (major type 0 or 1), up to 32 bits. */
export function cborInt(n: number): Buffer {
  return n >= 0 ? cborHead(0, n) : cborHead(1, -1 - n);
}

/** CBOR byte string (major type 2). */
export function cborBstr(b: Buffer): Buffer {
  return Buffer.concat([cborHead(2, b.length), b]);
}

/** CBOR text string (major type 3, UTF-8). */
export function cborTstr(s: string): Buffer {
  const b = Buffer.from(s, 'utf8');
  return Buffer.concat([cborHead(3, b.length), b]);
}

/** CBOR array (major type 4) of already encoded items. */
export function cborArray(items: readonly Buffer[]): Buffer {
  return Buffer.concat([cborHead(4, items.length), ...items]);
}

/** CBOR null (simple value 22). */
export const CBOR_NULL: Buffer = Buffer.from([0xf6]);

// ---- Partial IV (§6.1) ----

/** Partial IV bytes of a sequence number (§6.1: big-endian, no leading zeros, 0 → 0x00). */
export function encodePartialIv(seq: number): Buffer {
  if (!Number.isSafeInteger(seq) || seq < 0 || seq >= 2 ** 40) throw new RangeError(`sequence number ${seq}`);
  let n = 1;
  for (let v = seq; v >= 256; v = Math.floor(v / 256)) n++;
  const out = Buffer.allocUnsafe(n);
  let v = seq;
  for (let i = n - 1; i >= 0; i--) {
    out[i] = v % 256;
    v = Math.floor(v / 256);
  }
  return out;
}

/** Sequence number carried by a Partial IV (big-endian, up to 5 bytes). */
export function decodePartialIv(piv: Buffer): number {
  if (piv.length > MAX_PARTIAL_IV_LENGTH) throw new RangeError(`Partial IV of ${piv.length} bytes`);
  let v = 0;
  for (let i = 0; i < piv.length; i++) v = v * 256 + piv[i]!;
  return v;
}

// ---- §5.2 nonce ----

/**
 * AEAD nonce (§5.2): size of ID_PIV (1 byte) | ID_PIV left-padded to nonce length - 6 |
 * Partial IV left-padded to 5 bytes, XORed with the Common IV.
 */
export function computeNonce(commonIv: Buffer, idPiv: Buffer, partialIv: Buffer): Buffer {
  if (commonIv.length !== NONCE_LENGTH) throw new RangeError(`Common IV of ${commonIv.length} bytes`);
  if (idPiv.length > MAX_ID_LENGTH) throw new RangeError(`ID_PIV of ${idPiv.length} bytes`);
  if (partialIv.length > MAX_PARTIAL_IV_LENGTH) throw new RangeError(`Partial IV of ${partialIv.length} bytes`);
  // a pool slice (Buffer.alloc would create an ArrayBuffer per nonce); every byte is written below
  const nonce = Buffer.allocUnsafe(NONCE_LENGTH).fill(0);
  nonce[0] = idPiv.length;
  idPiv.copy(nonce, 1 + MAX_ID_LENGTH - idPiv.length);
  partialIv.copy(nonce, NONCE_LENGTH - partialIv.length);
  for (let i = 0; i < NONCE_LENGTH; i++) nonce[i] = nonce[i]! ^ commonIv[i]!;
  return nonce;
}

// ---- §5.4 AAD ----

/** external_aad (§5.4): bstr-wrapped [oscore_version 1, [alg_aead], request_kid, request_piv, options h''] (the bstr content). */
export function externalAad(requestKid: Buffer, requestPiv: Buffer, algAead = AES_CCM_16_64_128): Buffer {
  const out = Buffer.allocUnsafe(externalAadLength(requestKid, requestPiv, algAead));
  writeExternalAad(out, 0, requestKid, requestPiv, algAead);
  return out;
}

/**
 * AEAD additional data (§5.4): COSE Enc_structure ["Encrypt0", h'', external_aad] (RFC 8152 §5.3). Written
 * straight into one buffer (it is built for every protected message): the same bytes as
 * cborArray([cborTstr('Encrypt0'), cborBstr(h''), cborBstr(externalAad(...))]).
 */
export function buildAad(requestKid: Buffer, requestPiv: Buffer, algAead = AES_CCM_16_64_128): Buffer {
  const extLen = externalAadLength(requestKid, requestPiv, algAead);
  const out = Buffer.allocUnsafe(ENC_STRUCTURE_PREFIX.length + headLength(extLen) + extLen);
  let pos = ENC_STRUCTURE_PREFIX.copy(out, 0);
  pos = writeHead(out, pos, 2, extLen);
  writeExternalAad(out, pos, requestKid, requestPiv, algAead);
  return out;
}

/** array(3), tstr "Encrypt0", bstr h'': the constant start of the Enc_structure. */
const ENC_STRUCTURE_PREFIX = Buffer.concat([Buffer.from([0x83]), cborTstr('Encrypt0'), cborBstr(EMPTY)]);

/** Bytes of a CBOR head (RFC 8949 §3) for an argument up to 32 bits. */
function headLength(n: number): number {
  return n < 24 ? 1 : n < 0x100 ? 2 : n < 0x10000 ? 3 : 5;
}

/** Writes a CBOR head at pos; returns the position after it. */
function writeHead(out: Buffer, pos: number, major: number, n: number): number {
  const m = major << 5;
  if (n < 24) {
    out[pos] = m | n;
    return pos + 1;
  }
  if (n < 0x100) {
    out[pos] = m | 24;
    out[pos + 1] = n;
    return pos + 2;
  }
  if (n < 0x10000) {
    out[pos] = m | 25;
    out.writeUInt16BE(n, pos + 1);
    return pos + 3;
  }
  out[pos] = m | 26;
  out.writeUInt32BE(n >>> 0, pos + 1);
  return pos + 5;
}

function intLength(n: number): number {
  return headLength(n >= 0 ? n : -1 - n);
}

function writeInt(out: Buffer, pos: number, n: number): number {
  return n >= 0 ? writeHead(out, pos, 0, n) : writeHead(out, pos, 1, -1 - n);
}

function externalAadLength(kid: Buffer, piv: Buffer, alg: number): number {
  // array(5), 1, array(1) alg, bstr kid, bstr piv, h''
  return 1 + 1 + 1 + intLength(alg) + headLength(kid.length) + kid.length + headLength(piv.length) + piv.length + 1;
}

function writeExternalAad(out: Buffer, pos: number, kid: Buffer, piv: Buffer, alg: number): void {
  out[pos++] = 0x85;
  out[pos++] = 0x01;
  out[pos++] = 0x81;
  pos = writeInt(out, pos, alg);
  pos = writeHead(out, pos, 2, kid.length);
  pos += kid.copy(out, pos);
  pos = writeHead(out, pos, 2, piv.length);
  pos += piv.copy(out, pos);
  out[pos] = 0x40;
}

// ---- AES-CCM-16-64-128 (RFC 8152 §10.2) ----

/**
 * The long-lived CCM state of a key (src/dtls/ccm.ts: two node:crypto AES contexts reused for every message, the
 * same bytes as createCipheriv('aes-128-ccm'), tested against RFC 3610 §8 and node's CCM): a cipher per message costs
 * OpenSSL 3 a cipher fetch, a context and a native handle each time, most of what OSCORE cost per request. Keyed by
 * the key buffer a security context holds; a re-derived context's new keys get new states, the old ones are collected.
 */
const ccmContexts = new WeakMap<Buffer, CcmContext>();

function ccmContextOf(key: Buffer): CcmContext {
  let ctx = ccmContexts.get(key);
  if (ctx === undefined) {
    ctx = createCcmContext(key);
    ccmContexts.set(key, ctx);
  }
  return ctx;
}

/** Encrypts with AES-CCM-16-64-128 (13-byte nonce, 8-byte tag); returns ciphertext | tag. */
export function aeadEncrypt(key: Buffer, nonce: Buffer, aad: Buffer, plaintext: Buffer): Buffer {
  const out = Buffer.allocUnsafe(plaintext.length + TAG_LENGTH);
  ccmSeal(ccmContextOf(key), TAG_LENGTH, nonce, aad, plaintext, out, 0);
  return out;
}

/** Decrypts ciphertext | tag with AES-CCM-16-64-128; undefined when it is too short or does not verify. */
export function aeadDecrypt(key: Buffer, nonce: Buffer, aad: Buffer, ciphertext: Buffer): Buffer | undefined {
  if (ciphertext.length < TAG_LENGTH) return undefined;
  return ccmOpen(ccmContextOf(key), TAG_LENGTH, nonce, aad, ciphertext, 0, ciphertext.length - TAG_LENGTH);
}

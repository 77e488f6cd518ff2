// AEAD record ciphers for DTLS 1.2: AES-128-CCM(_8) (RFC 6655 §3) and AES-128-GCM (RFC 5288 §3).
// nonce = fixed write IV (4) ‖ explicit nonce (8); the explicit nonce is epoch(2) ‖ seq(6) (RFC 6655 §3).
import { createCipheriv, createDecipheriv, type KeyObject } from 'node:crypto';

/** Length of the explicit (per-record) nonce carried in the fragment. */
export const EXPLICIT_NONCE_LENGTH = 8;

const TWO_POW_32 = 2 ** 32;

/** One direction's AEAD state, prepared once per epoch. */
export interface AeadKey {
  algorithm: 'aes-128-ccm' | 'aes-128-gcm';
  key: KeyObject;
  tagLength: number;
  /** 12-byte nonce scratch; bytes 0..3 hold the fixed IV (node copies the IV on cipher creation) */
  nonce: Buffer;
}

/** Prepares an AEAD direction from raw key and fixed IV. */
export function createAeadKey(algorithm: 'aes-128-ccm' | 'aes-128-gcm', key: KeyObject, fixedIv: Buffer, tagLength: number): AeadKey {
  const nonce = Buffer.alloc(12);
  fixedIv.copy(nonce, 0, 0, 4);
  return { algorithm, key, tagLength, nonce };
}

/**
 * Encrypts `plaintext` and writes explicit nonce (epoch ‖ seq) ‖ ciphertext ‖ tag into `out` at `pos`
 * (RFC 5246 §6.2.3.3). Returns the position after the tag.
 */
export function aeadSeal(k: AeadKey, epoch: number, seq: number, aad: Buffer, plaintext: Buffer, out: Buffer, pos: number): number {
  const nonce = k.nonce;
  nonce.writeUInt16BE(epoch, 4);
  nonce.writeUInt16BE(Math.floor(seq / TWO_POW_32), 6);
  nonce.writeUInt32BE(seq >>> 0, 8);
  pos += nonce.copy(out, pos, 4, 12);
  if (k.algorithm === 'aes-128-ccm') {
    const cipher = createCipheriv('aes-128-ccm', k.key, nonce, { authTagLength: k.tagLength });
    cipher.setAAD(aad, { plaintextLength: plaintext.length });
    pos += cipher.update(plaintext).copy(out, pos);
    cipher.final();
    pos += cipher.getAuthTag().copy(out, pos);
  } else {
    const cipher = createCipheriv('aes-128-gcm', k.key, nonce, { authTagLength: k.tagLength });
    cipher.setAAD(aad);
    pos += cipher.update(plaintext).copy(out, pos);
    cipher.final();
    pos += cipher.getAuthTag().copy(out, pos);
  }
  return pos;
}

/**
 * Authenticates and decrypts an AEAD fragment (explicit nonce ‖ ciphertext ‖ tag) with the given AAD.
 * Returns the plaintext, or undefined on a short fragment or authentication failure (never throws).
 */
export function aeadOpen(k: AeadKey, fragment: Buffer, aad: Buffer): Buffer | undefined {
  const ctLength = fragment.length - EXPLICIT_NONCE_LENGTH - k.tagLength;
  if (ctLength < 0) return undefined;
  const nonce = k.nonce;
  fragment.copy(nonce, 4, 0, EXPLICIT_NONCE_LENGTH);
  const ciphertext = fragment.subarray(EXPLICIT_NONCE_LENGTH, EXPLICIT_NONCE_LENGTH + ctLength);
  const tag = fragment.subarray(EXPLICIT_NONCE_LENGTH + ctLength);
  try {
    if (k.algorithm === 'aes-128-ccm') {
      const decipher = createDecipheriv('aes-128-ccm', k.key, nonce, { authTagLength: k.tagLength });
      decipher.setAuthTag(tag);
      decipher.setAAD(aad, { plaintextLength: ctLength });
      const plaintext = decipher.update(ciphertext);
      decipher.final();
      return plaintext;
    }
    const decipher = createDecipheriv('aes-128-gcm', k.key, nonce, { authTagLength: k.tagLength });
    decipher.setAuthTag(tag);
    decipher.setAAD(aad);
    const plaintext = decipher.update(ciphertext);
    decipher.final();
    return plaintext;
  } catch {
    return undefined;
  }
}

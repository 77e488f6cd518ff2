// The encryption envelope in front of the plain restart stream (restart.md §4): 0x00 + plain without a
// password; with a password cipher id (2) + seed length (1) + seed + encrypted stream. Writes AES-128-CBC
// (0x0201); reads 0x0201/0x0202 (AES-CBC), 0x0301/0x0302 (AES-GCM, 16-byte nonce, 128-bit tag), ARIA-GCM
// when node:crypto has it, and the legacy layout (first byte 0x10: 16 seed bytes, AES-128-CBC).
import { createCipheriv, createDecipheriv, getCiphers, randomBytes, type CipherGCMTypes } from 'node:crypto';
import { prf } from '../dtls/prf.js';

/** Cipher id the server writes (AES/CBC/PKCS5Padding, 128 bit). */
export const WRITE_CIPHER_ID = 0x0201;

/** Seed length written. */
export const SEED_LENGTH = 16;

const IV_LENGTH = 16;
const TAG_LENGTH = 16;
const CBC_BLOCK = 16;
const LEGACY_FIRST_BYTE = 0x10;

/** An envelope that cannot be opened (unknown cipher, missing or wrong password, truncated). */
export class EnvelopeError extends Error {
  override readonly name = 'EnvelopeError';
}

interface CipherSpec {
  /** node:crypto name */
  name: string;
  keyLength: number;
  gcm: boolean;
}

/** The ciphers of restart.md §4 by id. */
export const CIPHERS: ReadonlyMap<number, CipherSpec> = new Map([
  [0x0201, { name: 'aes-128-cbc', keyLength: 16, gcm: false }],
  [0x0202, { name: 'aes-256-cbc', keyLength: 32, gcm: false }],
  [0x0301, { name: 'aes-128-gcm', keyLength: 16, gcm: true }],
  [0x0302, { name: 'aes-256-gcm', keyLength: 32, gcm: true }],
  [0x0401, { name: 'aria-128-gcm', keyLength: 16, gcm: true }],
  [0x0402, { name: 'aria-256-gcm', keyLength: 32, gcm: true }],
]);

/** Cipher key and IV/nonce: TLS 1.2 P_SHA256(password, "key expansion" ‖ seed), key bytes then 16 bytes. */
export function deriveKey(password: Buffer, seed: Buffer, keyLength: number): { key: Buffer; iv: Buffer } {
  const out = prf(password, 'key expansion', seed, keyLength + IV_LENGTH);
  return { key: out.subarray(0, keyLength), iv: out.subarray(keyLength) };
}

/** Wraps the plain stream: `0x00 ‖ plain` without password, else encrypted with cipher `id` and a fresh seed. */
export function sealEnvelope(plain: Buffer, password: Buffer | undefined, id = WRITE_CIPHER_ID): Buffer {
  if (password === undefined) return Buffer.concat([Buffer.from([0]), plain]);
  const spec = supported(id);
  const seed = randomBytes(SEED_LENGTH);
  const { key, iv } = deriveKey(password, seed, spec.keyLength);
  const head = Buffer.from([id >> 8, id & 0xff, SEED_LENGTH]);
  let body: Buffer;
  let tag = Buffer.alloc(0);
  if (spec.gcm) {
    const cipher = createCipheriv(spec.name as CipherGCMTypes, key, iv, { authTagLength: TAG_LENGTH });
    body = Buffer.concat([cipher.update(plain), cipher.final()]);
    tag = cipher.getAuthTag();
  } else {
    const cipher = createCipheriv(spec.name, key, iv);
    body = Buffer.concat([cipher.update(plain), cipher.final()]);
  }
  key.fill(0);
  return Buffer.concat([head, seed, body, tag]);
}

/** Unwraps an envelope into the plain stream; throws EnvelopeError ("missing password!", unknown id, bad data). */
export function openEnvelope(data: Buffer, password: Buffer | undefined): Buffer {
  if (data.length === 0) throw new EnvelopeError('no data (empty saved state)');
  if (data[0] === 0) return data.subarray(1);
  let id: number;
  let seed: Buffer;
  let offset: number;
  if (data[0] === LEGACY_FIRST_BYTE) {
    id = 0x0201;
    seed = data.subarray(1, 1 + SEED_LENGTH);
    offset = 1 + SEED_LENGTH;
  } else {
    if (data.length < 3) throw new EnvelopeError(`truncated envelope: ${data.length} of at least 3 header bytes`);
    id = data.readUInt16BE(0);
    const seedLength = data[2]!;
    seed = data.subarray(3, 3 + seedLength);
    offset = 3 + seedLength;
  }
  const spec = supported(id);
  if (offset > data.length) throw new EnvelopeError(`truncated envelope: ${data.length} bytes, the seed ends at ${offset}`);
  if (password === undefined) throw new EnvelopeError('missing password!');
  const body = data.subarray(offset);
  if (!spec.gcm && (body.length === 0 || body.length % CBC_BLOCK !== 0)) {
    throw new EnvelopeError(`truncated or damaged envelope: ${body.length} encrypted bytes are not a positive multiple of the ${CBC_BLOCK}-byte block`);
  }
  if (spec.gcm && body.length < TAG_LENGTH) throw new EnvelopeError(`truncated envelope: ${body.length} bytes, shorter than the ${TAG_LENGTH}-byte tag`);
  const { key, iv } = deriveKey(password, seed, spec.keyLength);
  try {
    if (!spec.gcm) {
      const decipher = createDecipheriv(spec.name, key, iv);
      return joinWiped(decipher.update(body), decipher.final());
    }
    const decipher = createDecipheriv(spec.name as CipherGCMTypes, key, iv, { authTagLength: TAG_LENGTH });
    decipher.setAuthTag(body.subarray(body.length - TAG_LENGTH));
    return joinWiped(decipher.update(body.subarray(0, body.length - TAG_LENGTH)), decipher.final());
  } catch (err) {
    if (err instanceof EnvelopeError) throw err;
    throw new EnvelopeError(`decryption failed (wrong password?): ${(err as Error).message}`);
  } finally {
    key.fill(0);
  }
}

/** The concatenation of two parts of a plain stream; the parts (secrets) are wiped. */
function joinWiped(a: Buffer, b: Buffer): Buffer {
  const out = Buffer.concat([a, b]);
  a.fill(0);
  b.fill(0);
  return out;
}

function supported(id: number): CipherSpec {
  const spec = CIPHERS.get(id);
  const hex = `0x${id.toString(16).padStart(4, '0')}`;
  if (spec === undefined) throw new EnvelopeError(`unknown cipher id ${hex}`);
  if (!getCiphers().includes(spec.name)) throw new EnvelopeError(`cipher id ${hex} (${spec.name}) not supported`);
  return spec;
}

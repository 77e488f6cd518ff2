// Sealing of shared connection store entries (issue 12, docs/failover.md): a key derived from the cluster secret with
// HKDF (RFC 5869), never the secret itself and never a connection's master secret in the clear. Each entry is sealed
// with AES-256-GCM (NIST SP 800-38D) under a per-entry subkey (HMAC-SHA256 of the store key over a random 16-byte
// salt) and a random 96-bit nonce, the CID as associated data: an entry copied to another CID's key, altered or made
// with another cluster secret does not open.
import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes } from 'node:crypto';

/** Format byte of a sealed entry. */
const SEAL_VERSION = 1;
const SALT_LENGTH = 16;
const NONCE_LENGTH = 12;
const TAG_LENGTH = 16;
/** HKDF salt and info: domain separation from every other use of the cluster secret (the management PSK). */
const HKDF_SALT = Buffer.from('extplugtest dtls cluster store', 'ascii');
const HKDF_INFO = Buffer.from('connection store key v1', 'ascii');
/** Prefix of the associated data (the CID follows). */
const AAD_PREFIX = Buffer.from('extplugtest-store-1', 'ascii');

/** The 32-byte store key of a cluster secret (HKDF-SHA256, RFC 5869). */
export function deriveStoreKey(clusterSecret: Buffer): Buffer {
  return Buffer.from(hkdfSync('sha256', clusterSecret, HKDF_SALT, HKDF_INFO, 32));
}

function subkey(key: Buffer, salt: Buffer): Buffer {
  return createHmac('sha256', key).update(salt).digest();
}

function aad(cid: Buffer): Buffer {
  return Buffer.concat([AAD_PREFIX, Buffer.from([cid.length]), cid]);
}

/** version ‖ salt ‖ nonce ‖ ciphertext ‖ tag of `plaintext`, bound to `cid`. */
export function sealEntry(key: Buffer, cid: Buffer, plaintext: Buffer): Buffer {
  const salt = randomBytes(SALT_LENGTH);
  const nonce = randomBytes(NONCE_LENGTH);
  const cipher = createCipheriv('aes-256-gcm', subkey(key, salt), nonce, { authTagLength: TAG_LENGTH });
  cipher.setAAD(aad(cid));
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([Buffer.from([SEAL_VERSION]), salt, nonce, body, cipher.getAuthTag()]);
}

/** The plaintext of a sealed entry of `cid`; undefined when it does not authenticate (altered, other CID or key). */
export function openEntry(key: Buffer, cid: Buffer, sealed: Buffer): Buffer | undefined {
  const head = 1 + SALT_LENGTH + NONCE_LENGTH;
  if (sealed.length < head + TAG_LENGTH || sealed[0] !== SEAL_VERSION) return undefined;
  const salt = sealed.subarray(1, 1 + SALT_LENGTH);
  const nonce = sealed.subarray(1 + SALT_LENGTH, head);
  const tag = sealed.subarray(sealed.length - TAG_LENGTH);
  try {
    const decipher = createDecipheriv('aes-256-gcm', subkey(key, salt), nonce, { authTagLength: TAG_LENGTH });
    decipher.setAAD(aad(cid));
    decipher.setAuthTag(tag);
    return Buffer.concat([decipher.update(sealed.subarray(head, sealed.length - TAG_LENGTH)), decipher.final()]);
  } catch {
    return undefined;
  }
}

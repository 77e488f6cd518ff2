// Raw public keys (RFC 7250) and their identity names (RFC 6920 "ni" URIs, as Californium prints them).
import { createHash, createPublicKey, type KeyObject } from 'node:crypto';

/** Result of decoding a peer's raw public key. */
export type RawPublicKeyResult =
  | { ok: true; publicKey: KeyObject; spki: Buffer; identity: string }
  | { ok: false; reason: string };

/** SubjectPublicKeyInfo DER of a key (RFC 7250 §3: the RawPublicKey certificate body). */
export function spkiDer(key: KeyObject): Buffer {
  return key.export({ type: 'spki', format: 'der' });
}

/** `ni:///sha-256;<base64url(SHA-256(SPKI DER)), no padding>` (RFC 6920 §3). */
export function rawPublicKeyIdentity(key: Buffer | KeyObject): string {
  const der = Buffer.isBuffer(key) ? key : spkiDer(key);
  return `ni:///sha-256;${createHash('sha256').update(der).digest('base64url')}`;
}

/** Decodes a received SPKI; only EC and RSA keys are usable with the supported suites. */
export function parseRawPublicKey(spki: Buffer): RawPublicKeyResult {
  let publicKey: KeyObject;
  try {
    publicKey = createPublicKey({ key: spki, format: 'der', type: 'spki' });
  } catch (err) {
    return { ok: false, reason: `malformed SubjectPublicKeyInfo: ${(err as Error).message}` };
  }
  const type = publicKey.asymmetricKeyType;
  if (type !== 'ec' && type !== 'rsa') return { ok: false, reason: `unsupported key type ${String(type)}` };
  // re-encode so the identity is computed over canonical DER, as Java does
  const canonical = spkiDer(publicKey);
  return { ok: true, publicKey, spki: canonical, identity: rawPublicKeyIdentity(canonical) };
}

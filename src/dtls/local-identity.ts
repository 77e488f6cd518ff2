// Own certificate / raw public key credentials built from a private key (client identities that do not
// come from the demo PKI files, e.g. benchmark clients with generated RPK keys, RFC 7250).
import { createPublicKey, generateKeyPairSync, type KeyObject, type X509Certificate } from 'node:crypto';
import { certificateInfo } from './credentials/chain-validation.js';
import type { ServerIdentity } from './credentials/demo-pki.js';
import { rawPublicKeyIdentity, spkiDer } from './credentials/raw-public-key.js';
import { namedGroupOfKey } from './ecdhe.js';

/**
 * An identity (same shape as the server identities) from a private key and an optional X.509 chain
 * (leaf first). Without a chain only the RawPublicKey certificate type can be used.
 */
export function localIdentity(privateKey: KeyObject, chain: readonly X509Certificate[] = [], alias = 'local'): ServerIdentity {
  const publicKey = createPublicKey(privateKey);
  const type = publicKey.asymmetricKeyType;
  if (type !== 'ec' && type !== 'rsa') throw new Error(`unsupported key type ${String(type)}`);
  if (chain.length > 0 && !chain[0]!.checkPrivateKey(privateKey)) throw new Error('certificate does not match the private key');
  const spki = spkiDer(publicKey);
  const namedGroup = type === 'ec' ? namedGroupOfKey(publicKey) : undefined;
  return {
    alias,
    privateKey,
    publicKey,
    chain: [...chain],
    spki,
    rpkIdentity: rawPublicKeyIdentity(spki),
    keyAlgorithm: type,
    ...(namedGroup !== undefined ? { namedGroup } : {}),
    subject: chain.length > 0 ? certificateInfo(chain[0]!).subject : rawPublicKeyIdentity(spki),
  };
}

/** A fresh P-256 raw public key identity. */
export function generateRawPublicKeyIdentity(alias = 'rpk'): ServerIdentity {
  return localIdentity(generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey, [], alias);
}

// Digital signatures of ServerKeyExchange / CertificateVerify (RFC 5246 §4.7, §7.4.1.4.1; RFC 8422 §5.4):
// ECDSA with DER-encoded Ecdsa-Sig-Value, RSA PKCS#1 v1.5.
import { constants, sign, verify, type KeyObject } from 'node:crypto';

/** SignatureAndHashAlgorithm (RFC 5246 §7.4.1.4.1). */
export interface SignatureAndHashAlgorithm {
  /** HashAlgorithm: 4 = sha256, 5 = sha384 */
  hash: number;
  /** SignatureAlgorithm: 1 = rsa, 3 = ecdsa */
  signature: number;
}

/** HashAlgorithm code points used here (RFC 5246 §7.4.1.4.1). */
export const HashAlgorithm = { sha256: 4, sha384: 5 } as const;

/** SignatureAlgorithm code points used here (RFC 5246 §7.4.1.4.1). */
export const SignatureAlgorithm = { rsa: 1, ecdsa: 3 } as const;

/** Pairs the server signs with / accepts, in preference order. */
export const SUPPORTED_SIGNATURE_ALGORITHMS: readonly SignatureAndHashAlgorithm[] = [
  { hash: HashAlgorithm.sha256, signature: SignatureAlgorithm.ecdsa },
  { hash: HashAlgorithm.sha384, signature: SignatureAlgorithm.ecdsa },
  { hash: HashAlgorithm.sha256, signature: SignatureAlgorithm.rsa },
  { hash: HashAlgorithm.sha384, signature: SignatureAlgorithm.rsa },
];

/** Assumed when the client sends no signature_algorithms extension (Californium's defaults). */
export const DEFAULT_SIGNATURE_ALGORITHMS: readonly SignatureAndHashAlgorithm[] = [
  { hash: HashAlgorithm.sha256, signature: SignatureAlgorithm.ecdsa },
  { hash: HashAlgorithm.sha256, signature: SignatureAlgorithm.rsa },
];

const HASH_NAMES: Record<number, string> = { 4: 'sha256', 5: 'sha384' };
const KEY_TYPES: Record<number, string> = { 1: 'rsa', 3: 'ec' };

/** True when the pair is one of SUPPORTED_SIGNATURE_ALGORITHMS. */
export function isSupportedSignatureAlgorithm(alg: SignatureAndHashAlgorithm): boolean {
  return HASH_NAMES[alg.hash] !== undefined && KEY_TYPES[alg.signature] !== undefined;
}

/** True when a key of this type can produce/verify signatures of the pair. */
export function signatureAlgorithmFitsKey(alg: SignatureAndHashAlgorithm, key: KeyObject): boolean {
  return isSupportedSignatureAlgorithm(alg) && KEY_TYPES[alg.signature] === key.asymmetricKeyType;
}

/** Signs `data` (DER ECDSA signature or PKCS#1 v1.5); throws if the key does not fit the pair. */
export function signData(alg: SignatureAndHashAlgorithm, privateKey: KeyObject, data: Buffer): Buffer {
  if (!signatureAlgorithmFitsKey(alg, privateKey)) {
    throw new Error(`signature algorithm ${alg.hash}/${alg.signature} does not fit ${privateKey.asymmetricKeyType} key`);
  }
  return sign(HASH_NAMES[alg.hash]!, data, keyOptions(alg, privateKey));
}

/** Verifies a signature; false on mismatch, unsupported pair, wrong key type or malformed signature. */
export function verifySignature(
  alg: SignatureAndHashAlgorithm,
  publicKey: KeyObject,
  data: Buffer,
  signature: Buffer,
): boolean {
  if (!signatureAlgorithmFitsKey(alg, publicKey)) return false;
  try {
    return verify(HASH_NAMES[alg.hash]!, data, keyOptions(alg, publicKey), signature);
  } catch {
    return false;
  }
}

function keyOptions(alg: SignatureAndHashAlgorithm, key: KeyObject) {
  return alg.signature === SignatureAlgorithm.ecdsa
    ? { key, dsaEncoding: 'der' as const }
    : { key, padding: constants.RSA_PKCS1_PADDING };
}

/** The pair a certificate was signed with (from its signatureAlgorithm OID), if supported. */
export function signatureAlgorithmOfOid(oid: string): SignatureAndHashAlgorithm | undefined {
  switch (oid) {
    case '1.2.840.10045.4.3.2':
      return { hash: HashAlgorithm.sha256, signature: SignatureAlgorithm.ecdsa };
    case '1.2.840.10045.4.3.3':
      return { hash: HashAlgorithm.sha384, signature: SignatureAlgorithm.ecdsa };
    case '1.2.840.113549.1.1.11':
      return { hash: HashAlgorithm.sha256, signature: SignatureAlgorithm.rsa };
    case '1.2.840.113549.1.1.12':
      return { hash: HashAlgorithm.sha384, signature: SignatureAlgorithm.rsa };
    default:
      return undefined;
  }
}

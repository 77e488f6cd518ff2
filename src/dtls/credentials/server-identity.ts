// Choice of the server key entry per handshake (dtls.md §2, §4; RFC 8422 §5.1, RFC 5246 §7.4.2).
import type { X509Certificate } from 'node:crypto';
import type { CertificateKeyAlgorithm, ServerIdentity } from './demo-pki.js';
import { certificateInfo } from './chain-validation.js';
import {
  DEFAULT_SIGNATURE_ALGORITHMS,
  signatureAlgorithmFitsKey,
  signatureAlgorithmOfOid,
  type SignatureAndHashAlgorithm,
} from './signature.js';
import { NamedGroup } from '../ecdhe.js';

/** Certificate type of the server's Certificate message (RFC 7250 §3). */
export type CertificateType = 'x509' | 'rpk';

/** What the negotiation knows when the server picks its identity. */
export interface IdentityCriteria {
  /** from the cipher suite: `ec` for ECDHE_ECDSA, `rsa` for ECDHE_RSA */
  keyAlgorithm: CertificateKeyAlgorithm;
  /** client's supported_groups; undefined = extension absent (secp256r1 assumed) */
  clientGroups?: readonly number[];
  /** client's signature_algorithms; undefined = extension absent (SHA-256 defaults) */
  clientSignatureAlgorithms?: readonly SignatureAndHashAlgorithm[];
  /** negotiated server certificate type, default x509 */
  certificateType?: CertificateType;
}

/** A chosen identity and the signature algorithm for ServerKeyExchange. */
export interface IdentitySelection {
  identity: ServerIdentity;
  signatureAlgorithm: SignatureAndHashAlgorithm;
}

/** Certificate key algorithm required by a cipher suite code, undefined for PSK suites. */
export function keyAlgorithmForCipherSuite(code: number): CertificateKeyAlgorithm | undefined {
  switch (code) {
    case 0xc0ae: // TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8
    case 0xc023: // TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256
    case 0xc02b: // TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256
      return 'ec';
    case 0xc02f: // TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256
    case 0xc027: // TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256
      return 'rsa';
    default:
      return undefined;
  }
}

/**
 * First identity (in the given order) whose key fits the suite, whose EC curve the client supports,
 * for which a common signature algorithm exists and — for X.509 — whose sent chain is signed with
 * algorithms the client accepts. The signature algorithm follows the client's order.
 */
export function selectServerIdentity(
  identities: readonly ServerIdentity[],
  criteria: IdentityCriteria,
): IdentitySelection | undefined {
  const clientAlgorithms = criteria.clientSignatureAlgorithms ?? DEFAULT_SIGNATURE_ALGORITHMS;
  const groups = criteria.clientGroups ?? [NamedGroup.secp256r1];
  for (const identity of identities) {
    if (identity.keyAlgorithm !== criteria.keyAlgorithm) continue;
    if (identity.keyAlgorithm === 'ec' && (identity.namedGroup === undefined || !groups.includes(identity.namedGroup))) {
      continue;
    }
    const signatureAlgorithm = clientAlgorithms.find((a) => signatureAlgorithmFitsKey(a, identity.privateKey));
    if (!signatureAlgorithm) continue;
    if ((criteria.certificateType ?? 'x509') === 'x509') {
      const chainOk = certificateChainForSending(identity.chain).every((cert) => {
        const alg = signatureAlgorithmOfOid(certificateInfo(cert).signatureAlgorithmOid);
        return alg !== undefined && clientAlgorithms.some((a) => a.hash === alg.hash && a.signature === alg.signature);
      });
      if (!chainOk) continue;
    }
    return { identity, signatureAlgorithm };
  }
  return undefined;
}

/**
 * The chain to put into the Certificate message: the self-signed root is dropped (RFC 5246 §7.4.2
 * "MAY be omitted"); with a non-empty certificate_authorities list (RFC 5246 §7.4.4, DER subjects)
 * the chain ends at the first certificate issued by one of them (Californium CertPathUtil; unlike
 * Californium, no match keeps the whole chain instead of sending an empty one).
 */
export function certificateChainForSending(
  chain: readonly X509Certificate[],
  certificateAuthorities?: readonly Buffer[],
): X509Certificate[] {
  let size = chain.length;
  if (size > 1) {
    let truncate = size;
    if (certificateAuthorities && certificateAuthorities.length > 0) {
      for (let i = 0; i < size; i++) {
        const issuer = certificateInfo(chain[i]!).issuerDer;
        if (certificateAuthorities.some((ca) => ca.equals(issuer))) {
          truncate = i + 1;
          break;
        }
      }
    }
    if (truncate === size) {
      const last = certificateInfo(chain[size - 1]!);
      if (last.issuerDer.equals(last.subjectDer)) truncate = size - 1;
    }
    size = truncate;
  }
  return chain.slice(0, size);
}

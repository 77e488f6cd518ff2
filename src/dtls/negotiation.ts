// Server-side parameter selection (dtls.md §2, §4, §5): cipher suite in the client's order among the
// configured ones, ECDHE group, certificate types (RFC 7250 §4.1), server identity and signature algorithm.
import type { CipherSuite } from './cipher-suites.js';
import type { DtlsConfig } from './config.js';
import type { ServerIdentity } from './credentials/demo-pki.js';
import { selectServerIdentity } from './credentials/server-identity.js';
import type { SignatureAndHashAlgorithm } from './credentials/signature.js';
import { isSupportedGroup, type NamedGroupId } from './ecdhe.js';
import { CertificateType, type DecodedClientHello } from './handshake/index.js';
import { configuredCertificateTypes } from './handshake-common.js';

/** The parameters chosen for a full handshake. */
export interface ServerSelection {
  suite: CipherSuite;
  /** ECDHE group (ECDHE suites) */
  group: NamedGroupId | undefined;
  /** certificate suites: identity, signature algorithm and the server certificate type */
  identity: ServerIdentity | undefined;
  signatureAlgorithm: SignatureAndHashAlgorithm | undefined;
  serverCertificateType: number | undefined;
  /** certificate suites with client authentication: the client certificate type to request, undefined = no request */
  clientCertificateType: number | undefined;
}

/** First configured group the client supports (secp256r1 assumed without supported_groups, dtls.md §2). */
export function selectGroup(config: DtlsConfig, clientGroups: readonly number[] | undefined): NamedGroupId | undefined {
  const offered = clientGroups ?? [23];
  for (const g of config.curves) if (isSupportedGroup(g) && offered.includes(g)) return g;
  return undefined;
}

/**
 * Certificate type from the client's list (its preference order) that we support; without the extension
 * X.509 (RFC 7250 §4.1). undefined = no common type.
 */
export function selectCertificateType(config: DtlsConfig, offered: readonly number[] | undefined): number | undefined {
  const ours = configuredCertificateTypes(config);
  if (offered === undefined) return ours.includes(CertificateType.X509) ? CertificateType.X509 : undefined;
  return offered.find((t) => ours.includes(t));
}

/**
 * Walks the client's cipher suites in the client's order and returns the first configured suite whose
 * parameters fit (dtls.md §2); undefined → handshake_failure.
 */
export function selectServerParameters(
  config: DtlsConfig,
  hello: DecodedClientHello,
  hasPskStore: boolean,
  identities: readonly ServerIdentity[],
): ServerSelection | undefined {
  const ext = hello.extensions;
  // RFC 8422 §5.1.2: ECC suites need the uncompressed point format if the client lists formats
  const eccOk = ext?.ecPointFormats === undefined || ext.ecPointFormats.includes(0);
  for (const code of hello.cipherSuites) {
    const suite = config.cipherSuites.find((s) => s.code === code);
    if (suite === undefined) continue;
    switch (suite.keyExchange) {
      case 'PSK':
        if (!hasPskStore) continue;
        return { suite, group: undefined, identity: undefined, signatureAlgorithm: undefined, serverCertificateType: undefined, clientCertificateType: undefined };
      case 'ECDHE_PSK': {
        if (!hasPskStore || !eccOk) continue;
        const group = selectGroup(config, ext?.supportedGroups);
        if (group === undefined) continue;
        return { suite, group, identity: undefined, signatureAlgorithm: undefined, serverCertificateType: undefined, clientCertificateType: undefined };
      }
      case 'ECDHE_ECDSA':
      case 'ECDHE_RSA': {
        if (!eccOk) continue;
        const group = selectGroup(config, ext?.supportedGroups);
        if (group === undefined) continue;
        const serverCertificateType = selectCertificateType(config, ext?.serverCertificateTypes);
        if (serverCertificateType === undefined) continue;
        const keyAlgorithm = suite.keyExchange === 'ECDHE_ECDSA' ? 'ec' : 'rsa';
        const chosen = selectServerIdentity(identities, {
          keyAlgorithm,
          ...(ext?.supportedGroups !== undefined ? { clientGroups: ext.supportedGroups } : {}),
          ...(ext?.signatureAlgorithms !== undefined ? { clientSignatureAlgorithms: ext.signatureAlgorithms } : {}),
          certificateType: serverCertificateType === CertificateType.RAW_PUBLIC_KEY ? 'rpk' : 'x509',
        });
        if (chosen === undefined) continue;
        let clientCertificateType: number | undefined;
        if (config.clientAuthentication !== 'NONE') {
          clientCertificateType = selectCertificateType(config, ext?.clientCertificateTypes);
          if (clientCertificateType === undefined && config.clientAuthentication === 'NEEDED') continue;
        }
        return {
          suite,
          group,
          identity: chosen.identity,
          signatureAlgorithm: chosen.signatureAlgorithm,
          serverCertificateType,
          clientCertificateType,
        };
      }
    }
  }
  return undefined;
}

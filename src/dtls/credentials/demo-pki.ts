// Loading of the demo PKI in resources/pki (dtls.md §4): server identities (key + chain) and trust anchors.
import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { rawPublicKeyIdentity, spkiDer } from './raw-public-key.js';
import { certificateInfo } from './chain-validation.js';
import { namedGroupOfKey, type NamedGroupId } from '../ecdhe.js';

/** Key algorithm of a certificate / server identity. */
export type CertificateKeyAlgorithm = 'ec' | 'rsa';

/** A server key entry (alias as in Californium's demo key store). */
export interface ServerIdentity {
  /** `server`, `serverrsa`, `serverlarge`, `servercarsa` */
  alias: string;
  privateKey: KeyObject;
  publicKey: KeyObject;
  /** certificate chain leaf → … → self-signed root, as stored */
  chain: X509Certificate[];
  /** SubjectPublicKeyInfo DER (the RawPublicKey certificate, RFC 7250) */
  spki: Buffer;
  /** `ni:///sha-256;…` name of the public key */
  rpkIdentity: string;
  keyAlgorithm: CertificateKeyAlgorithm;
  /** named curve of an EC key (RFC 8422 NamedCurve), undefined for RSA */
  namedGroup?: NamedGroupId;
  /** RFC 2253 subject of the leaf */
  subject: string;
}

/** Everything the DTLS/TLS server needs from the demo PKI. */
export interface DemoCredentials {
  /** in selection preference order */
  identities: ServerIdentity[];
  /** trust.pem: roots and CAs, every one a trust anchor */
  trustAnchors: X509Certificate[];
}

/** Server aliases and their file base names in resources/pki, in preference order. */
export const DEMO_SERVER_ENTRIES: readonly { alias: string; file: string }[] = [
  { alias: 'server', file: 'cf-server' },
  { alias: 'serverrsa', file: 'cf-server-rsa' },
  { alias: 'serverlarge', file: 'cf-serverlarge' },
  { alias: 'servercarsa', file: 'cf-server-ca-rsa' },
];

/** The package root (directory of extplugtest's package.json), found from this module's location. */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg)) {
      try {
        if ((JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'extplugtest') return dir;
      } catch {
        // not ours, keep walking
      }
    }
    const parent = dirname(dir);
    if (parent === dir) throw new Error('extplugtest package root not found');
    dir = parent;
  }
}

/** `<package root>/resources/pki` (works from src/ and dist/src/). */
export function defaultPkiDir(): string {
  return join(packageRoot(), 'resources', 'pki');
}

/** All certificates of a PEM text, in order. */
export function parsePemCertificates(pem: string): X509Certificate[] {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  return blocks.map((b) => new X509Certificate(b));
}

/** Reads a PEM file of one or more certificates. */
export function loadCertificates(path: string): X509Certificate[] {
  const certs = parsePemCertificates(readFileSync(path, 'utf8'));
  if (certs.length === 0) throw new Error(`no certificate in ${path}`);
  return certs;
}

/** Builds an identity from a chain PEM (leaf first) and a PKCS#8 key PEM; checks that they match. */
export function loadServerIdentity(alias: string, chainPath: string, keyPath: string): ServerIdentity {
  const chain = loadCertificates(chainPath);
  const privateKey = createPrivateKey(readFileSync(keyPath, 'utf8'));
  const leaf = chain[0]!;
  if (!leaf.checkPrivateKey(privateKey)) throw new Error(`${keyPath} does not match ${chainPath}`);
  const publicKey = leaf.publicKey;
  const type = publicKey.asymmetricKeyType;
  if (type !== 'ec' && type !== 'rsa') throw new Error(`${chainPath}: unsupported key type ${String(type)}`);
  const spki = spkiDer(publicKey);
  const namedGroup = type === 'ec' ? namedGroupOfKey(publicKey) : undefined;
  return {
    alias,
    privateKey,
    publicKey,
    chain,
    spki,
    rpkIdentity: rawPublicKeyIdentity(spki),
    keyAlgorithm: type,
    ...(namedGroup !== undefined ? { namedGroup } : {}),
    subject: certificateInfo(leaf).subject,
  };
}

const demoCache = new Map<string, DemoCredentials>();

/** Loads the four demo server identities and trust.pem from `dir` (default resources/pki), once per directory. */
export function loadDemoCredentials(dir: string = defaultPkiDir()): DemoCredentials {
  const cached = demoCache.get(dir);
  if (cached) return cached;
  const identities = DEMO_SERVER_ENTRIES.map(({ alias, file }) =>
    loadServerIdentity(alias, join(dir, `${file}-chain.pem`), join(dir, `${file}-key.pem`)),
  );
  const creds = { identities, trustAnchors: loadCertificates(join(dir, 'trust.pem')) };
  demoCache.set(dir, creds);
  return creds;
}

// DTLS client connectors for the command line clients: credentials and suites from the client options (clients.md §2).
import fs from 'node:fs';
import { randomBytes, createPrivateKey, X509Certificate } from 'node:crypto';
import { DtlsConnector } from '../dtls/connector.js';
import { ALL_CIPHER_SUITES, cipherSuiteByName, type CipherSuite, type KeyExchange } from '../dtls/cipher-suites.js';
import type { DtlsConfig } from '../dtls/config.js';
import { loadDemoCredentials, loadPskFile, parsePemCertificates, defaultPkiDir } from '../dtls/credentials/index.js';
import { generateRawPublicKeyIdentity, localIdentity } from '../dtls/local-identity.js';
import { UsageError, type AuthMode, type ClientOptions } from './common-options.js';
import path from 'node:path';
import type { TimerWheel } from '../util/timer-wheel.js';
import type { DatagramTransport } from '../transport/datagram.js';

/** The default PSK secret of `cali.` identities (dtls.md §3). */
export const CALI_SECRET = Buffer.from('.fornium');

/** A fresh benchmark-style PSK identity: `cali.` + 16 uppercase hex characters (clients.md §4). */
export function randomCaliIdentity(): string {
  return 'cali.' + randomBytes(8).toString('hex').toUpperCase();
}

const SUITES_OF: Record<AuthMode, KeyExchange[]> = {
  NONE: [],
  PSK: ['PSK'],
  ECDHE_PSK: ['ECDHE_PSK'],
  RPK: ['ECDHE_ECDSA'],
  X509: ['ECDHE_ECDSA', 'ECDHE_RSA'],
};

/** PSK credentials of client number `index` (psk-store entry, explicit -i/-s for the first client, or a cali. identity). */
export function pskCredentials(opts: ClientOptions, index = 0): { identity: string; secret: Buffer } {
  if (opts.pskStore) {
    const { entries } = loadPskFile(opts.pskStore);
    const list = [...entries];
    if (list.length === 0) throw new UsageError(`--psk-store: no credentials in ${opts.pskStore}`);
    const [identity, secret] = list[(opts.pskIndex + index) % list.length]!;
    return { identity, secret };
  }
  if (index === 0 && opts.identity !== undefined) return { identity: opts.identity, secret: opts.secret ?? CALI_SECRET };
  return { identity: randomCaliIdentity(), secret: CALI_SECRET };
}

/** The cipher suites to offer for the authentication modes (or the explicit --cipher list). */
export function offeredSuites(opts: ClientOptions, auth: AuthMode[]): CipherSuite[] {
  if (opts.cipherSuites) return opts.cipherSuites.map((n) => cipherSuiteByName(n)!);
  const kx = new Set(auth.flatMap((a) => SUITES_OF[a]));
  return ALL_CIPHER_SUITES.filter((s) => kx.has(s.keyExchange));
}

/** Options for creating a client connector. */
export interface DtlsClientOptions {
  /** client number (PSK identity selection) */
  index?: number;
  localAddress: string;
  localPort?: number;
  /** overrides of the client's DTLS settings */
  config?: Partial<DtlsConfig>;
  /** timer wheel shared by many client connectors (benchmark) */
  wheel?: TimerWheel;
  /** the socket (default: an unconnected UDP socket bound to localAddress:localPort) */
  transport?: DatagramTransport;
}

/** Creates a client DTLS connector for the options (auth modes, credentials, trust, CID, record size). */
export function createDtlsClient(opts: ClientOptions, c: DtlsClientOptions): { connector: DtlsConnector; identity?: string; auth: AuthMode[] } {
  const auth: AuthMode[] = opts.auth.length > 0 ? opts.auth.filter((a) => a !== 'NONE') : ['PSK'];
  if (auth.length === 0) throw new UsageError('coaps needs an authentication mode other than NONE');
  const suites = offeredSuites(opts, auth);
  if (suites.length === 0) throw new UsageError('no cipher suite for the selected authentication');
  const needsPsk = suites.some((s) => s.psk);
  const psk = needsPsk ? pskCredentials(opts, c.index ?? 0) : undefined;
  let identities;
  if (auth.includes('RPK')) identities = [generateRawPublicKeyIdentity()];
  else if (auth.includes('X509') && !opts.anonymous) identities = [clientCertificate(opts)];
  const certificates = suites.some((s) => s.certificate);
  const trustAnchors = !certificates ? [] : opts.trusts ? readPem(opts.trusts, '--trusts') : loadDemoCredentials().trustAnchors;
  const recordSize = opts.recordSize ?? (opts.mtu !== undefined ? opts.mtu - 64 - 20 - 13 - (opts.cidLength ?? 0) : undefined);
  const connector = new DtlsConnector({
    address: c.localAddress,
    port: c.localPort ?? 0,
    role: 'client',
    config: {
      cidLength: opts.cidLength,
      certificateTypes: auth.includes('RPK') ? ['RAW_PUBLIC_KEY', 'X_509'] : ['X_509', 'RAW_PUBLIC_KEY'],
      ...(opts.extendedMasterSecret ? { extendedMasterSecretMode: opts.extendedMasterSecret } : {}),
      ...(recordSize !== undefined ? { recordSizeLimit: recordSize } : {}),
      ...c.config,
    },
    pskIdentity: psk?.identity,
    pskSecret: psk?.secret,
    identities,
    trustAnchors,
    trustAll: opts.trustAll,
    verifyServerSubject: opts.subjectVerification,
    offeredCipherSuites: suites,
    ...(c.wheel ? { wheel: c.wheel } : {}),
    ...(c.transport ? { transport: c.transport } : {}),
  });
  return { connector, identity: psk?.identity, auth };
}

function clientCertificate(opts: ClientOptions) {
  const dir = defaultPkiDir();
  const certFile = opts.cert ?? path.join(dir, 'cf-client-chain.pem');
  const keyFile = opts.privateKey ?? (opts.cert ? undefined : path.join(dir, 'cf-client-key.pem'));
  if (!keyFile) throw new UsageError('--cert needs --private-key');
  try {
    const chain = parsePemCertificates(fs.readFileSync(certFile, 'utf8'));
    const key = createPrivateKey(fs.readFileSync(keyFile, 'utf8'));
    return localIdentity(key, chain.filter((c) => !isSelfSigned(c)), 'client');
  } catch (err) {
    throw new UsageError(`client certificate: ${(err as Error).message}`);
  }
}

function isSelfSigned(c: X509Certificate): boolean {
  return c.subject === c.issuer;
}

function readPem(file: string, option: string): X509Certificate[] {
  try {
    return parsePemCertificates(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    throw new UsageError(`${option}: ${(err as Error).message}`);
  }
}

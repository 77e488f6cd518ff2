// The TLS credentials of the /restore service and its client (cluster.md §9-10, cli.md §8): PEM files in
// /etc/certs (EXTPLUGTEST_CERTS_DIR overrides the directory, e.g. for tests or a non-container install).
import fs from 'node:fs';
import path from 'node:path';

/** Environment variable naming another directory for the https_*.pem files. */
export const CERTS_DIR_ENV = 'EXTPLUGTEST_CERTS_DIR';
/** Directory of the container layout (cluster.md §11: the secret mounted at /etc/certs). */
export const DEFAULT_CERTS_DIR = '/etc/certs';

/** Private key, certificate chain and trust anchors (PEM text) for one side of the mutual TLS. */
export interface HttpsCredentials {
  key: string;
  cert: string;
  ca: string;
  /** The files they came from (for messages). */
  files: { identity: string; trust: string };
}

/** Raised when a credentials file is missing or lacks a key, certificate or trust anchor; names the file. */
export class HttpsCredentialsError extends Error {
  override name = 'HttpsCredentialsError';
}

const KEY_BLOCK = /-----BEGIN ((?:[A-Z]+ )?PRIVATE KEY)-----[\s\S]*?-----END \1-----/;
const CERT_BLOCKS = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

/** The directory of the https_*.pem files. */
export function certsDir(env: NodeJS.ProcessEnv = process.env): string {
  const dir = env[CERTS_DIR_ENV]?.trim();
  return dir !== undefined && dir !== '' ? dir : DEFAULT_CERTS_DIR;
}

/**
 * Loads `https_<role>_cert.pem` (private key + certificate chain in one PEM) and `https_<role>_trust.pem`
 * (trust anchors); throws HttpsCredentialsError naming the file and what is wrong.
 */
export function loadHttpsCredentials(role: 'server' | 'client', dir = certsDir()): HttpsCredentials {
  const identity = path.join(dir, `https_${role}_cert.pem`);
  const trust = path.join(dir, `https_${role}_trust.pem`);
  const identityText = readPem(identity);
  const key = KEY_BLOCK.exec(identityText)?.[0];
  if (key === undefined) throw new HttpsCredentialsError(`${identity}: no private key`);
  const chain = identityText.match(CERT_BLOCKS);
  if (chain === null) throw new HttpsCredentialsError(`${identity}: no certificate`);
  const anchors = readPem(trust).match(CERT_BLOCKS);
  if (anchors === null) throw new HttpsCredentialsError(`${trust}: no certificate`);
  return { key, cert: chain.join('\n') + '\n', ca: anchors.join('\n') + '\n', files: { identity, trust } };
}

function readPem(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new HttpsCredentialsError(`${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

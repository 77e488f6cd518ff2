// The environment of the k8s cluster mode (cluster.md §8, §6.1); process env, files and host name are injectable.
import { hostname as osHostname } from 'node:os';
import { K8sConfigError } from './errors.js';
import { readTextFile, SERVICE_ACCOUNT_NAMESPACE_FILE, SERVICE_ACCOUNT_TOKEN_FILE, type FileReader } from './files.js';
import { resolveK8sTrust, type K8sTrust } from './trust.js';

/** Where readK8sEnv takes its input from; every part defaults to the real machine. */
export interface K8sEnvSource {
  env?: Readonly<Record<string, string | undefined>>;
  readFile?: FileReader;
  hostName?: string;
}

/** The management-channel PSK (DTLS_CID_MGMT_IDENTITY / DTLS_CID_MGMT_SECRET_BASE64). */
export interface K8sMgmtPsk {
  identity: string;
  secret: Buffer;
}

/** Everything the k8s discovery and restore need from the environment. */
export interface K8sEnv {
  /** Own host (pod) name. */
  hostName: string;
  /** `https://<KUBECTL_HOST>` without trailing slash. */
  baseUrl: string;
  namespace: string;
  /** Bearer token; undefined → no Authorization header. */
  token?: string;
  /** Where the token came from (for logging, never the token itself). */
  tokenSource: string;
  /** Raw KUBECTL_NODE_ID, if set and not empty. */
  nodeIdValue?: string;
  /** Raw, already URL-encoded label selector (KUBECTL_SELECTOR). */
  selector?: string;
  selectorLabel: string;
  restoreSelectorLabel: string;
  mgmtPsk?: K8sMgmtPsk;
  trust: K8sTrust;
  /** Non-fatal oddities worth a log line. */
  warnings: string[];
}

/** Default API host inside a cluster. */
export const DEFAULT_KUBECTL_HOST = 'kubernetes.default.svc';
/** Default label whose own value selects the pods of the cluster. */
export const DEFAULT_SELECTOR_LABEL = 'controller-revision-hash';
/** Default label whose own value selects the double in single-server restore. */
export const DEFAULT_RESTORE_SELECTOR_LABEL = 'app';

/** Reads and checks the k8s environment; throws K8sConfigError for unusable values (bad base64, bad host, bad trust file). */
export function readK8sEnv(source: K8sEnvSource = {}): K8sEnv {
  const env = source.env ?? process.env;
  const readFile = source.readFile ?? readTextFile;
  const nonEmpty = (name: string): string | undefined => {
    const value = env[name]?.trim();
    return value === undefined || value === '' ? undefined : value;
  };
  const warnings: string[] = [];
  const token = readToken(env['KUBECTL_TOKEN'], readFile, warnings);
  return {
    // the pod name: HOSTNAME as k8s sets it in every container, else the system's host name
    hostName: source.hostName ?? nonEmpty('HOSTNAME') ?? osHostname(),
    baseUrl: baseUrlOf(nonEmpty('KUBECTL_HOST') ?? DEFAULT_KUBECTL_HOST),
    namespace: nonEmpty('KUBECTL_NAMESPACE') ?? (readFile(SERVICE_ACCOUNT_NAMESPACE_FILE)?.trim() || 'default'),
    ...token,
    nodeIdValue: nonEmpty('KUBECTL_NODE_ID'),
    selector: nonEmpty('KUBECTL_SELECTOR'),
    selectorLabel: nonEmpty('KUBECTL_SELECTOR_LABEL') ?? DEFAULT_SELECTOR_LABEL,
    restoreSelectorLabel: nonEmpty('KUBECTL_RESTORE_SELECTOR_LABEL') ?? DEFAULT_RESTORE_SELECTOR_LABEL,
    mgmtPsk: readMgmtPsk(env, warnings),
    trust: resolveK8sTrust(readFile),
    warnings,
  };
}

/** One log line describing the environment (the token only by its source and length). */
export function describeK8sEnv(env: K8sEnv): string {
  const token = env.token === undefined ? 'no bearer token' : `bearer token from ${env.tokenSource} (${env.token.length} chars)`;
  const psk = env.mgmtPsk ? `management PSK '${env.mgmtPsk.identity}'` : 'plain management channel';
  return `k8s API ${env.baseUrl}, namespace ${env.namespace}, ${token}, trust ${env.trust.source}, host ${env.hostName}, ${psk}`;
}

// Unset → no token; empty → the service-account token file; else the value itself.
function readToken(value: string | undefined, readFile: FileReader, warnings: string[]): { token?: string; tokenSource: string } {
  if (value === undefined) return { tokenSource: 'none' };
  if (value !== '') return { token: value.trim(), tokenSource: 'KUBECTL_TOKEN' };
  const token = readFile(SERVICE_ACCOUNT_TOKEN_FILE)?.trim();
  if (!token) {
    warnings.push(`KUBECTL_TOKEN is empty but ${SERVICE_ACCOUNT_TOKEN_FILE} is missing or empty: no bearer token`);
    return { tokenSource: 'none' };
  }
  return { token, tokenSource: SERVICE_ACCOUNT_TOKEN_FILE };
}

// KUBECTL_HOST may carry a port (host:port) and, tolerated, an https:// prefix.
function baseUrlOf(host: string): string {
  const text = /^https:\/\//i.test(host) ? host : `https://${host}`;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new K8sConfigError(`KUBECTL_HOST '${host}' is not a valid host`);
  }
  if (url.protocol !== 'https:' || url.search !== '' || url.hash !== '' || url.username !== '' || url.password !== '') {
    throw new K8sConfigError(`KUBECTL_HOST '${host}' is not a valid host`);
  }
  return `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
}

// Both variables set → PSK; one alone is ignored with a warning (the management channel stays plain).
function readMgmtPsk(env: Readonly<Record<string, string | undefined>>, warnings: string[]): K8sMgmtPsk | undefined {
  const identity = env['DTLS_CID_MGMT_IDENTITY'];
  const secret64 = env['DTLS_CID_MGMT_SECRET_BASE64'];
  if (identity === undefined && secret64 === undefined) return undefined;
  if (identity === undefined || secret64 === undefined) {
    const missing = identity === undefined ? 'DTLS_CID_MGMT_IDENTITY' : 'DTLS_CID_MGMT_SECRET_BASE64';
    warnings.push(`${missing} is not set: management channel without encryption`);
    return undefined;
  }
  if (identity === '') throw new K8sConfigError('DTLS_CID_MGMT_IDENTITY must not be empty');
  return { identity, secret: decodeBase64(secret64.trim(), 'DTLS_CID_MGMT_SECRET_BASE64') };
}

// Strict base64 (standard or URL-safe alphabet, padding optional); Buffer.from alone would skip bad characters.
function decodeBase64(text: string, name: string): Buffer {
  const match = /^([A-Za-z0-9+/]+|[A-Za-z0-9\-_]+)(={0,2})$/.exec(text);
  const body = match?.[1]?.length ?? 0;
  const padding = match?.[2]?.length ?? 0;
  if (!match || body % 4 === 1 || (padding > 0 && (body + padding) % 4 !== 0)) {
    throw new K8sConfigError(`${name} is not valid base64`);
  }
  return Buffer.from(match[1]!, match[1]!.includes('-') || match[1]!.includes('_') ? 'base64url' : 'base64');
}

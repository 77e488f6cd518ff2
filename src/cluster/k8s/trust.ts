// Trust anchors for the Kubernetes API server (cluster.md §8): the explicit trust file, else the
// service-account ca.crt, else trust all (host name verification stays on in every case, see https-get.ts).
import { X509Certificate } from 'node:crypto';
import { K8sConfigError } from './errors.js';
import { K8S_CLIENT_TRUST_FILE, SERVICE_ACCOUNT_CA_FILE, type FileReader } from './files.js';

/** The chosen trust: PEM certificates and the file they came from; `ca` undefined means "trust all". */
export interface K8sTrust {
  ca?: string;
  source: string;
}

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

/**
 * Picks the trust anchors by the rules of §8. A present file without any parsable certificate is an error
 * (Node would silently accept such a `ca` and then fail every call with a confusing message).
 */
export function resolveK8sTrust(readFile: FileReader): K8sTrust {
  for (const path of [K8S_CLIENT_TRUST_FILE, SERVICE_ACCOUNT_CA_FILE]) {
    const text = readFile(path);
    if (text === undefined) continue;
    return { ca: checkedPem(text, path), source: path };
  }
  return { source: 'trust all' };
}

// Returns the certificates of the file as PEM text; throws if there is none or one does not parse.
function checkedPem(text: string, path: string): string {
  const blocks = text.match(PEM_CERT) ?? [];
  if (blocks.length === 0) throw new K8sConfigError(`k8s trust file ${path} contains no PEM certificate`);
  for (const block of blocks) {
    try {
      new X509Certificate(block);
    } catch (err) {
      throw new K8sConfigError(`k8s trust file ${path} contains an invalid certificate: ${(err as Error).message}`);
    }
  }
  return blocks.join('\n') + '\n';
}

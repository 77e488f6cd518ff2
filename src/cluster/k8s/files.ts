// Well-known files of a pod's service account and the injectable file reader (cluster.md §8).
import { readFileSync } from 'node:fs';

/** Reads a text file; undefined when it is missing or unreadable. */
export type FileReader = (path: string) => string | undefined;

/** Directory of the mounted service-account credentials of a pod. */
export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';
/** Namespace of the pod (default of KUBECTL_NAMESPACE). */
export const SERVICE_ACCOUNT_NAMESPACE_FILE = `${SERVICE_ACCOUNT_DIR}/namespace`;
/** Bearer token of the service account (used when KUBECTL_TOKEN is set to the empty string). */
export const SERVICE_ACCOUNT_TOKEN_FILE = `${SERVICE_ACCOUNT_DIR}/token`;
/** CA certificate of the API server (second choice of the trust rules). */
export const SERVICE_ACCOUNT_CA_FILE = `${SERVICE_ACCOUNT_DIR}/ca.crt`;
/** Explicit trust anchors for the API server (first choice of the trust rules). */
export const K8S_CLIENT_TRUST_FILE = '/etc/certs/https_k8s_client_trust.pem';

/** The default FileReader: UTF-8 content of the file, undefined if it cannot be read. */
export function readTextFile(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

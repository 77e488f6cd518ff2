// The two Kubernetes API calls of the cluster (cluster.md §8): read one pod, list pods by label selector.
//
// Written on Node's own tls/http modules (https-get.ts) instead of @kubernetes/client-node: 2.x needs Node >= 22.19 (undici 8), and
// 1.x does not fit cleanly either: it encodes the label selector again (the raw, already URL-encoded
// KUBECTL_SELECTOR would arrive double-encoded), has no separate connect/read timeouts, its
// skipTLSVerify drops the host name check the trust-all rule keeps, and it pulls a large dependency
// tree (including @types/node 24 as a runtime dependency) for two GET requests.
import { K8sApiError, K8sConfigError } from './errors.js';
import { httpsGet, type HttpsGetResponse } from './https-get.js';
import { parsePodAnswer, type K8sPod, type K8sPodAnswer } from './pod.js';
import type { K8sTrust } from './trust.js';

/** Where and how to reach the API (a K8sEnv fits); timeouts default to 5 s connect / 10 s read. */
export interface K8sApiConfig {
  baseUrl: string;
  namespace: string;
  token?: string;
  trust: K8sTrust;
  connectTimeoutMs?: number;
  readTimeoutMs?: number;
  maxBodyBytes?: number;
}

/** Pod look-ups; failures reject with K8sApiError (`status` set when the server answered non-200). */
export interface K8sApi {
  /** `GET <base>/api/v1/namespaces/<ns>/pods/<name>`. */
  getPod(name: string): Promise<K8sPod>;
  /** `GET <base>/api/v1/namespaces/<ns>/pods?labelSelector=<selector>` (raw selector; none → all pods of the namespace). */
  listPods(selector?: string): Promise<K8sPod[]>;
}

/** Connect timeout of the API calls (§8). */
export const K8S_CONNECT_TIMEOUT_MS = 5_000;
/** Read timeout of the API calls (§8). */
export const K8S_READ_TIMEOUT_MS = 10_000;
const MAX_BODY_BYTES = 32 * 1024 * 1024;

/** Creates the API client for one namespace; throws K8sConfigError if baseUrl is not an https URL. */
export function createK8sApi(config: K8sApiConfig): K8sApi {
  const base = parseBase(config.baseUrl);
  const prefix = `${base.pathname.replace(/\/+$/, '')}/api/v1/namespaces/${encodeURIComponent(config.namespace)}/pods`;
  const get = async (path: string): Promise<K8sPodAnswer> => {
    const what = `GET ${base.origin}${path}`;
    let response: HttpsGetResponse;
    try {
      response = await httpsGet({
        origin: base.origin,
        path,
        headers: config.token === undefined ? {} : { Authorization: `Bearer ${config.token}` },
        ca: config.trust.ca,
        connectTimeoutMs: config.connectTimeoutMs ?? K8S_CONNECT_TIMEOUT_MS,
        readTimeoutMs: config.readTimeoutMs ?? K8S_READ_TIMEOUT_MS,
        maxBodyBytes: config.maxBodyBytes ?? MAX_BODY_BYTES,
      });
    } catch (err) {
      throw new K8sApiError(`${what} failed: ${(err as Error).message}`);
    }
    if (response.status !== 200) {
      throw new K8sApiError(`${what}: HTTP ${response.status} ${statusText(response)}`.trimEnd(), response.status);
    }
    try {
      return parsePodAnswer(response.body);
    } catch (err) {
      throw new K8sApiError(`${what}: ${(err as Error).message}`);
    }
  };
  return {
    async getPod(name) {
      const path = `${prefix}/${encodeURIComponent(name)}`;
      const answer = await get(path);
      if (answer.kind !== 'Pod') throw new K8sApiError(`GET ${base.origin}${path}: expected kind Pod, got ${answer.kind}`);
      return answer.pod;
    },
    async listPods(selector) {
      const path = selector === undefined || selector === '' ? prefix : `${prefix}?labelSelector=${selector}`;
      const answer = await get(path);
      if (answer.kind !== 'PodList') throw new K8sApiError(`GET ${base.origin}${path}: expected kind PodList, got ${answer.kind}`);
      return answer.pods;
    },
  };
}

function parseBase(baseUrl: string): URL {
  let url: URL | undefined;
  try {
    url = new URL(baseUrl);
  } catch {
    url = undefined;
  }
  if (url?.protocol !== 'https:') throw new K8sConfigError(`k8s API base URL '${baseUrl}' is not an https URL`);
  return url;
}

// The reason phrase, plus the message of a Kubernetes Status body when there is one.
function statusText(response: HttpsGetResponse): string {
  try {
    const body = JSON.parse(response.body) as unknown;
    if (typeof body === 'object' && body !== null && typeof (body as { message?: unknown }).message === 'string') {
      return `${response.statusMessage} (${(body as { message: string }).message})`;
    }
  } catch {
    // not JSON: the reason phrase is enough
  }
  return response.statusMessage;
}

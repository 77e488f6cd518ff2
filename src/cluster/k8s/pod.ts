// Parsing of Kubernetes Pod / PodList JSON answers (cluster.md §8) into plain pod records.
import { K8sApiError } from './errors.js';

/** What the cluster needs to know about a pod. */
export interface K8sPod {
  name: string;
  labels: Record<string, string>;
  phase?: string;
  /** `status.podIP`, else the first `status.podIPs[].ip`. */
  ip?: string;
  /** `status.conditions[]` has type Ready with status True. */
  ready: boolean;
}

/** A parsed answer: one pod (kind Pod) or the pods of a list (kind PodList). */
export type K8sPodAnswer = { kind: 'Pod'; pod: K8sPod } | { kind: 'PodList'; pods: K8sPod[] };

type Json = Record<string, unknown>;

/** Parses an API answer body; throws K8sApiError for malformed JSON, another kind or a Pod without name. */
export function parsePodAnswer(text: string): K8sPodAnswer {
  let root: unknown;
  try {
    root = JSON.parse(text);
  } catch (err) {
    throw new K8sApiError(`malformed JSON answer: ${(err as Error).message}`);
  }
  if (!isObject(root)) throw new K8sApiError('answer is not a JSON object');
  const kind = typeof root['kind'] === 'string' ? root['kind'] : undefined;
  if (kind?.toLowerCase() === 'pod') {
    const pod = podOf(root);
    if (!pod) throw new K8sApiError('Pod answer without metadata.name');
    return { kind: 'Pod', pod };
  }
  if (kind?.toLowerCase() === 'podlist') {
    const items = Array.isArray(root['items']) ? root['items'] : [];
    return { kind: 'PodList', pods: items.map(podOf).filter((pod): pod is K8sPod => pod !== undefined) };
  }
  throw new K8sApiError(`unexpected answer kind ${kind === undefined ? '(none)' : `'${kind}'`}`);
}

// One pod; undefined if the item is no object or has no name (such an item cannot be used).
function podOf(item: unknown): K8sPod | undefined {
  if (!isObject(item)) return undefined;
  const metadata = objectAt(item, 'metadata');
  const status = objectAt(item, 'status');
  const name = stringAt(metadata, 'name');
  if (!name) return undefined;
  return { name, labels: labelsOf(metadata['labels']), phase: stringAt(status, 'phase'), ip: ipOf(status), ready: readyOf(status) };
}

function labelsOf(value: unknown): Record<string, string> {
  const labels: Record<string, string> = {};
  if (!isObject(value)) return labels;
  for (const [key, label] of Object.entries(value)) {
    if (typeof label === 'string') labels[key] = label;
  }
  return labels;
}

function ipOf(status: Json): string | undefined {
  const ip = stringAt(status, 'podIP');
  if (ip) return ip;
  const ips = status['podIPs'];
  if (!Array.isArray(ips)) return undefined;
  for (const entry of ips) {
    const value = isObject(entry) ? stringAt(entry, 'ip') : undefined;
    if (value) return value;
  }
  return undefined;
}

function readyOf(status: Json): boolean {
  const conditions = status['conditions'];
  if (!Array.isArray(conditions)) return false;
  return conditions.some(
    (c) => isObject(c) && stringAt(c, 'type')?.toLowerCase() === 'ready' && stringAt(c, 'status')?.toLowerCase() === 'true',
  );
}

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function objectAt(value: Json, key: string): Json {
  const child = value[key];
  return isObject(child) ? child : {};
}

function stringAt(value: Json, key: string): string | undefined {
  const child = value[key];
  return typeof child === 'string' ? child : undefined;
}

// Finding the "double" to restore from in k8s (cluster.md §10 step 2): the pod of the other StatefulSet
// (cluster mode) or the other pod with the same restore-selector label value (single mode).
import type { Logger } from 'pino';
import type { K8sApi } from './api.js';
import { describePod, readOwnPod } from './discovery.js';
import { K8sApiError } from './errors.js';
import type { K8sPod } from './pod.js';

/** The double's IP and pod name, or no address and the reason why no restore happens. */
export type RestoreDouble = { address: string; podName: string } | { address: undefined; reason: string };

/** Input of findRestoreDouble; sleep/random are injectable for tests. */
export interface RestoreDoubleOptions {
  api: K8sApi;
  hostName: string;
  /** `cluster`: StatefulSet a/b double by name; `single`: selected by restoreSelectorLabel. */
  mode: 'cluster' | 'single';
  /** Label of the single mode (KUBECTL_RESTORE_SELECTOR_LABEL, default `app`). */
  restoreSelectorLabel: string;
  logger: Logger;
  /** The own pod if already read (prepareK8sCluster); otherwise it is read here. */
  ownPod?: K8sPod;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
}

/** Host names of the a/b StatefulSets: `<head>-<a|b>-<n>`. */
export const DOUBLE_HOST_NAME = /^(.*-)([ab])(-\d+)$/;
/** Attempts to find the double. */
export const RESTORE_LOOKUP_ATTEMPTS = 3;
const RESTORE_LABEL = 'restore';

/** The name of the double of a cluster pod (`x-b-1` → `x-a-1`), undefined if the name has no a/b form. */
export function doubleNameOf(hostName: string): string | undefined {
  const match = DOUBLE_HOST_NAME.exec(hostName);
  if (!match) return undefined;
  return `${match[1]}${match[2] === 'a' ? 'b' : 'a'}${match[3]}`;
}

/**
 * Looks up the double per §10: no restore if the own pod is labelled restore=true; candidates need an
 * IP, another name and restore=true; exactly one is required. Up to 3 attempts with 200-399 ms pauses;
 * HTTP 404 ends the search, 503 and other failures are retried.
 */
export async function findRestoreDouble(options: RestoreDoubleOptions): Promise<RestoreDouble> {
  const { api, hostName, logger } = options;
  let lookup: () => Promise<K8sPod[]>;
  let ownPod = options.ownPod;
  if (options.mode === 'cluster') {
    const double = doubleNameOf(hostName);
    if (!double) return none(logger, `host name '${hostName}' does not match <name>-(a|b)-<n>`);
    ownPod ??= await readOwnPod(api, hostName, logger);
    logger.info(`k8s: check to restore ${hostName} from ${double}`);
    lookup = async () => [await api.getPod(double)];
  } else {
    ownPod ??= await readOwnPod(api, hostName, logger);
    const value = ownPod?.labels[options.restoreSelectorLabel];
    if (!value) return none(logger, `no selector: own pod or its label '${options.restoreSelectorLabel}' is not available`);
    const selector = `${encodeURIComponent(options.restoreSelectorLabel)}%3D${encodeURIComponent(value)}`;
    logger.info(`k8s: check to restore ${hostName} from another pod with ${selector}`);
    lookup = () => api.listPods(selector);
  }
  if (isRestoreLabelled(ownPod)) {
    return none(logger, `own pod ${hostName} is labelled ${RESTORE_LABEL}=true (an old pod restarted during an update)`);
  }
  return retryLookup(options, lookup);
}

async function retryLookup(options: RestoreDoubleOptions, lookup: () => Promise<K8sPod[]>): Promise<RestoreDouble> {
  const { hostName, logger } = options;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const random = options.random ?? Math.random;
  let reason = 'no attempt';
  for (let attempt = 1; attempt <= RESTORE_LOOKUP_ATTEMPTS; attempt++) {
    if (attempt > 1) await sleep(200 + Math.min(199, Math.floor(random() * 200)));
    try {
      const candidates = (await lookup()).filter((pod) => isCandidate(pod, hostName, logger));
      if (candidates.length === 1) {
        const pod = candidates[0]!;
        logger.info(`k8s: restore ${hostName} from ${describePod(pod)}`);
        return { address: pod.ip!, podName: pod.name };
      }
      reason = candidates.length === 0 ? `no pod labelled ${RESTORE_LABEL}=true` : `${candidates.length} pods labelled ${RESTORE_LABEL}=true`;
      logger.info(`k8s: attempt ${attempt}: ${reason}`);
    } catch (err) {
      reason = (err as Error).message;
      const status = err instanceof K8sApiError ? err.status : undefined;
      if (status === 404) return none(logger, reason);
      logger.warn(`k8s: attempt ${attempt} to find the double of ${hostName} failed: ${reason}`);
    }
  }
  return none(logger, `${reason} (after ${RESTORE_LOOKUP_ATTEMPTS} attempts)`);
}

function isCandidate(pod: K8sPod, hostName: string, logger: Logger): boolean {
  if (pod.ip === undefined || pod.name === hostName) return false;
  if (isRestoreLabelled(pod)) return true;
  logger.info(`k8s: pod ${pod.name} is not ready for restore (no ${RESTORE_LABEL}=true label)`);
  return false;
}

function isRestoreLabelled(pod: K8sPod | undefined): boolean {
  return pod?.labels[RESTORE_LABEL]?.toLowerCase() === 'true';
}

function none(logger: Logger, reason: string): RestoreDouble {
  logger.info(`k8s: no restore: ${reason}`);
  return { address: undefined, reason };
}

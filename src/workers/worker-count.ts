// How many worker processes run for `--workers N` (issue 13): a Node.js without SO_REUSEPORT for UDP runs one, with
// a log line saying why; and the features that cannot run with several workers yet refuse the start.
import { reusePortSupported } from '../transport/datagram.js';

/** Most workers --workers accepts (the worker index is the node-id byte of the CIDs). */
export const MAX_WORKERS = 256;

/** What runs for `--workers requested`: a count (with a warning when it is fewer than asked). */
export interface WorkerDecision {
  workers: number;
  warning?: string;
}

/** Decides the worker count for `requested` on this Node.js (`version`, `platform`: for tests). */
export function decideWorkers(requested: number, version: string = process.versions.node, platform: string = process.platform): WorkerDecision {
  if (requested <= 1) return { workers: 1 };
  if (!reusePortSupported(version, platform)) {
    return { workers: 1, warning: `--workers ${requested}: Node.js ${version} on ${platform} cannot share a UDP port between processes (SO_REUSEPORT needs Node.js 22.12 or later on Linux), running one worker` };
  }
  return { workers: requested };
}

/** What of the server's set-up matters to several workers. */
export interface WorkerSetup {
  /** --dtls-cluster / --k8s-dtls-cluster given */
  cluster: boolean;
  /** --store-file given */
  storeFile: boolean;
  /** --k8s-restore / --local-restore given */
  restore: boolean;
  /** --k8s-monitor given */
  monitor: boolean;
  /** DTLS.CONNECTION_ID_LENGTH of the extended server */
  cidLength: number;
  /** DTLS.CONNECTION_ID_NODE_ID of the extended server */
  nodeId: number | undefined;
}

/** The reasons `workers` (more than one) cannot run with this set-up; empty when they can. */
export function workerConflicts(workers: number, s: WorkerSetup): string[] {
  if (workers <= 1) return [];
  const flag = `--workers ${workers}`;
  const out: string[] = [];
  if (s.cluster) out.push(`${flag}: several workers inside a DTLS cluster node are not available in this version yet; use --workers 1 with the cluster flags`);
  if (s.storeFile) out.push(`${flag}: --store-file with several workers is not available in this version yet; use --workers 1`);
  if (s.restore) out.push(`${flag}: the restore service with several workers is not available in this version yet; use --workers 1`);
  if (s.monitor) out.push(`${flag}: --k8s-monitor with several workers is not available in this version yet; use --workers 1`);
  if (s.cidLength > 0 && s.cidLength < 5) {
    out.push(`${flag}: the workers route by the node-id byte of the CIDs, which needs DTLS.CONNECTION_ID_LENGTH of at least 5 (or 0: no CIDs), not ${s.cidLength}`);
  }
  if (s.nodeId !== undefined) out.push(`${flag}: each worker writes its own index as the CIDs' node-id; DTLS.CONNECTION_ID_NODE_ID (${s.nodeId}) must be empty`);
  return out;
}

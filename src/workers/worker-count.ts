// How many worker processes run (issue 13). Asked for by `--workers N`, else by the properties key WORKERS, whose
// default 0 means one per available core. A Node.js without SO_REUSEPORT for UDP runs one, with a log line saying
// why; so does a set-up that cannot run with several workers yet — refused when the user asked for several
// explicitly, one worker with a log line when it is only the default.
import os from 'node:os';
import { reusePortSupported } from '../transport/datagram.js';

/** Most workers --workers accepts (the worker index is the node-id byte of the CIDs). */
export const MAX_WORKERS = 256;

/** What was asked for: a count, and whether the user chose it (flag or properties) or it is the core count. */
export interface WorkerRequest {
  count: number;
  explicit: boolean;
}

/** The count asked for: `--workers` if given, else WORKERS of the properties if above 0, else the available cores. */
export function requestedWorkers(flag: number | undefined, property: number | undefined, cores: number = os.availableParallelism()): WorkerRequest {
  if (flag !== undefined) return { count: flag, explicit: true };
  if (property !== undefined && property > 0) return { count: property, explicit: true };
  return { count: Math.max(1, Math.min(cores, MAX_WORKERS)), explicit: false };
}

/** What of the server's set-up matters to several workers. */
export interface WorkerSetup {
  /** DTLS.CONNECTION_ID_LENGTH of the extended server */
  cidLength: number;
  /** DTLS.CONNECTION_ID_NODE_ID of the extended server */
  nodeId: number | undefined;
  /** a cluster with the shared connection store (--dtls-cluster-store or CLUSTER_STORE.URL, issue 12) */
  clusterStore?: boolean;
}

/** What runs: the count, a refusal (start-up fails), or a line to log saying why fewer run than asked. */
export interface WorkerDecision {
  workers: number;
  /** log line (a warning when the user asked for more, else information) */
  message?: { level: 'warn' | 'info'; text: string };
  /** start-up fails with these reasons */
  refused?: string[];
}

/** The parts of the set-up that cannot run with several workers yet, each naming itself. */
export function workerConflicts(s: WorkerSetup): string[] {
  const out: string[] = [];
  if (s.cidLength > 0 && s.cidLength < 5) {
    out.push(`the workers route by the node-id byte of the CIDs, which needs DTLS.CONNECTION_ID_LENGTH of at least 5 (or 0: no CIDs), not ${s.cidLength}`);
  }
  if (s.clusterStore === true) out.push('the shared DTLS connection store (--dtls-cluster-store) runs in one process per cluster node');
  if (s.nodeId !== undefined) out.push(`each worker writes its own index as the CIDs' node-id; DTLS.CONNECTION_ID_NODE_ID (${s.nodeId}) must be empty`);
  return out;
}

/** Decides the worker count for `request` with `setup` on this Node.js (`version`, `platform`: for tests). */
export function decideWorkers(
  request: WorkerRequest,
  setup: WorkerSetup | undefined,
  version: string = process.versions.node,
  platform: string = process.platform,
): WorkerDecision {
  const n = request.count;
  if (n <= 1) return { workers: 1 };
  const asked = request.explicit ? `--workers ${n}` : `${n} workers (one per core)`;
  if (!reusePortSupported(version, platform)) {
    const text = `${asked}: Node.js ${version} on ${platform} cannot share a UDP port between processes (SO_REUSEPORT needs Node.js 22.12 or later on Linux), running one worker`;
    return { workers: 1, message: { level: request.explicit ? 'warn' : 'info', text } };
  }
  const conflicts = setup === undefined ? [] : workerConflicts(setup);
  if (conflicts.length === 0) return { workers: n };
  if (request.explicit) return { workers: 1, refused: conflicts.map((c) => `${asked}: ${c}; use --workers 1`) };
  return { workers: 1, message: { level: 'info', text: `running one worker, not ${asked}: ${conflicts.join('; ')}` } };
}

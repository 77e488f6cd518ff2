// The primary of a multi-worker server (issue 13): forks the workers (supervisor.ts), keeps the state that must be
// one server's — the /requests histories (a device whose source port changes reaches another worker; the histories
// outlive a worker that dies), the management table of the CID forwarding — and answers the workers' calls: the
// /diagnose sum (a worker asks, the primary gathers the others' groups), the exit of /shutdown. It collects the
// workers' health for the log and relays the console's save and load.
//
// Why the primary and not a shared store or one owning worker: the primary is the one process that lives as long
// as the server, it already holds the IPC channel to every worker, and the shared state is small and touched once
// per request of the receive test (an IPC round trip, about 50 µs) — a store would be one more process to run.
import type { Logger } from 'pino';
import type { CounterGroup, DiagnosticsSource } from '../resources/extended/diagnose.js';
import { localGroups, remoteEndpointsOf } from '../resources/extended/diagnostics-source.js';
import { createLocalRequestHistory } from '../resources/extended/request-history.js';
import { REQUESTS_MAX_DEVICES, REQUESTS_MAX_HISTORY } from '../resources/extended/requests.js';
import { sumHealth, type EndpointHealth } from '../server/health.js';
import type { LoadOutcome, SavedState } from '../restart/persist.js';
import type { MetricObjectWithValues, MetricValue } from 'prom-client';
import { requestHistoryHandlers } from './request-history-channel.js';
import { createRpc, type IpcPort, type Rpc } from './rpc.js';
import { createSupervisor, type Supervisor } from './supervisor.js';
import { SYSTEM_START_ENV, WORKER_ENV } from './worker-process.js';
import type { WorkerMgmtTable } from './worker-endpoints.js';

/** Settings of the worker pool. */
export interface WorkerPoolOptions {
  count: number;
  /** the server's executable (forked as each worker) and its arguments */
  module: string;
  args: string[];
  /** the server's start, epoch ms (the workers' `systemstart`) */
  systemStart: number;
  /** /shutdown in a worker: end the server */
  exit: () => void;
  logger: Logger;
  /** --store-file: worker `index`'s part of the file (asked for once, before the worker serves) */
  storePart?: (index: number) => Buffer | undefined;
  /** supervisor timing (tests) */
  restartDelayMs?: number;
}

/** The running workers as the primary drives them. */
export interface WorkerPool {
  readonly supervisor: Supervisor;
  /** the workers' endpoints' health, summed (starts a new period in each worker) */
  health(): Promise<EndpointHealth[]>;
  /** every worker runs (the monitor's /ready) */
  running(): boolean;
  /** resolves true once every running worker's cluster nodes are ready (true at once without a cluster) */
  clusterReady(): Promise<boolean>;
  /** the workers' metrics (prom-client JSON), for the primary's sum */
  metrics(): Promise<MetricObjectWithValues<MetricValue<string>>[][]>;
  /** the primary's own /diagnose: its endpoints are listed and summed by the workers' /diagnose */
  setPrimaryDiagnostics(source: DiagnosticsSource): void;
  /** shutdown with --store-file, /restore: every worker stops serving and hands over its connections (plain streams) */
  saveStreams(maxAgeMs: number): Promise<SavedState[]>;
  /** restore: worker i loads parts[i] into its running connectors */
  loadParts(parts: readonly Buffer[]): Promise<LoadOutcome>;
  /** console `save`/`load` in every worker */
  save(password: string): Promise<void>;
  load(password: string): Promise<void>;
  stop(): Promise<void>;
}

/** Time a worker has to answer the primary's calls. */
const CALL_TIMEOUT_MS = 2000;
/** Time the workers' cluster nodes have to become ready (cluster.md §7.4) before the primary gives up waiting for them. */
const CLUSTER_READY_TIMEOUT_MS = 24 * 3600_000;
/** Time a worker has for the console's save or load (stopping or starting its server, all its connections). */
const SAVE_TIMEOUT_MS = 60_000;

/** Starts `count` workers; resolves once all serve, rejects with the first start-up failure. */
export async function startWorkerPool(o: WorkerPoolOptions): Promise<WorkerPool> {
  let primaryDiagnostics: DiagnosticsSource | undefined;
  const endpointsMessage = (): object => ({ type: 'primary.endpoints', endpoints: primaryDiagnostics === undefined ? [] : remoteEndpointsOf(primaryDiagnostics) });
  const history = createLocalRequestHistory(REQUESTS_MAX_DEVICES, REQUESTS_MAX_HISTORY);
  const table: WorkerMgmtTable = {};
  const handlers: Array<Set<(m: unknown) => void>> = [];
  let supervisor: Supervisor | undefined;
  const ports: IpcPort[] = [];
  const rpcs: Rpc[] = [];
  for (let i = 0; i < o.count; i++) {
    const own = new Set<(m: unknown) => void>();
    handlers.push(own);
    const port: IpcPort = {
      send: (m) => supervisor?.send(i, m) ?? false,
      onMessage: (h) => {
        own.add(h);
        return () => own.delete(h);
      },
    };
    ports.push(port);
    rpcs.push(
      createRpc(
        port,
        {
          // a worker's /requests: the one history store
          ...requestHistoryHandlers(history),
          // a worker's /diagnose: the other workers' groups of the endpoint (a worker that does not answer is left out)
          'diag.others': async (name) => {
            const others = rpcs.filter((_, j) => j !== i && supervisor?.workers[j]?.state === 'running');
            const answers = await Promise.allSettled(others.map((r) => r.call('diag.own', name, CALL_TIMEOUT_MS)));
            const groups = answers.flatMap((a) => (a.status === 'fulfilled' && Array.isArray(a.value) ? [a.value as CounterGroup[]] : []));
            return primaryDiagnostics === undefined || typeof name !== 'string' ? groups : [localGroups(primaryDiagnostics, name), ...groups];
          },
          exit: () => o.exit(),
          'store.part': () => {
            const part = o.storePart?.(i);
            if (part === undefined) return '';
            const text = part.toString('base64');
            part.fill(0);
            return text;
          },
        },
        CALL_TIMEOUT_MS,
      ),
    );
  }
  const running = (): Rpc[] => rpcs.filter((_, j) => supervisor?.workers[j]?.state === 'running');
  const everyWorker = async (what: string, arg?: unknown, timeout = CALL_TIMEOUT_MS): Promise<unknown[]> => {
    const answers = await Promise.allSettled(running().map((r) => r.call(what, arg, timeout)));
    for (const a of answers) if (a.status === 'rejected') o.logger.warn(`workers: ${what}: ${(a.reason as Error).message}`);
    return answers.flatMap((a) => (a.status === 'fulfilled' ? [a.value] : []));
  };
  supervisor = createSupervisor({
    count: o.count,
    module: o.module,
    args: () => o.args,
    env: (i) => ({ [WORKER_ENV]: String(i), [SYSTEM_START_ENV]: String(o.systemStart) }),
    logger: o.logger,
    ...(o.restartDelayMs !== undefined ? { restartDelayMs: o.restartDelayMs } : {}),
    onMessage: (i, m) => {
      for (const h of handlers[i] ?? []) h(m);
    },
    onReady: (i, _restart, m) => {
      const mgmt = m.mgmt;
      if (typeof mgmt === 'object' && mgmt !== null) table[i] = mgmt as Record<string, number>;
      // every worker learns where the (re)started one forwards to, and it learns the others
      supervisor?.broadcast({ type: 'mgmt.table', table });
      if (primaryDiagnostics !== undefined) supervisor?.send(i, endpointsMessage());
    },
  });
  await supervisor.start();
  o.logger.info({ workers: o.count, pids: supervisor.workers.map((w) => w.pid) }, `${o.count} workers serve the extended server`);
  const sup = supervisor;
  return {
    supervisor: sup,
    running: () => sup.workers.every((w) => w.state === 'running'),
    async clusterReady() {
      const answers = await Promise.allSettled(running().map((r) => r.call('cluster.ready', undefined, CLUSTER_READY_TIMEOUT_MS)));
      return answers.every((a) => a.status === 'fulfilled' && a.value === true);
    },
    async metrics() {
      return (await everyWorker('metrics')) as MetricObjectWithValues<MetricValue<string>>[][];
    },
    setPrimaryDiagnostics(source) {
      primaryDiagnostics = source;
      sup.broadcast(endpointsMessage());
    },
    async health() {
      return sumHealth((await everyWorker('health')) as EndpointHealth[][]);
    },
    async saveStreams(maxAgeMs) {
      const answers = await everyWorker('store.save', maxAgeMs, SAVE_TIMEOUT_MS);
      return answers.flatMap((a) => {
        const s = a as { data?: unknown; connections?: unknown };
        return typeof s.data === 'string' && typeof s.connections === 'number' ? [{ data: Buffer.from(s.data, 'base64'), connections: s.connections }] : [];
      });
    },
    async loadParts(parts) {
      const answers = await Promise.allSettled(parts.map((p, i) => (rpcs[i] === undefined ? Promise.resolve(undefined) : rpcs[i]!.call('restore.load', p.toString('base64'), SAVE_TIMEOUT_MS))));
      let items = 0;
      let ok = true;
      answers.forEach((a, i) => {
        const outcome = a.status === 'fulfilled' ? (a.value as Partial<LoadOutcome> | undefined) : undefined;
        if (outcome === undefined || typeof outcome.items !== 'number') {
          ok = false;
          o.logger.warn(`restore: worker ${i} did not load its part${a.status === 'rejected' ? `: ${(a.reason as Error).message}` : ''}`);
          return;
        }
        items += outcome.items;
        ok &&= outcome.ok === true;
      });
      return { ok, items };
    },
    async save(password) {
      await everyWorker('save', password, SAVE_TIMEOUT_MS);
    },
    async load(password) {
      await everyWorker('load', password, SAVE_TIMEOUT_MS);
    },
    async stop() {
      await sup.stop();
      for (const r of rpcs) r.close();
    },
  };
}

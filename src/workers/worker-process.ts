// One worker process of a multi-worker server (issue 13): the extended server on the shared public ports, its CIDs
// carrying the worker index, the /requests histories and the /diagnose sums through the primary. The primary forks
// the server's own executable with WORKER_ENV set; the worker reports ready with its management ports
// (worker-endpoints.ts) and follows the primary: the management table, the console's save and load, stop.
import type { Logger } from 'pino';
import type { ServerOptions } from '../cli/options.js';
import type { CounterGroup } from '../resources/extended/diagnose.js';
import { startApp, type App } from '../server/app.js';
import { collectHealth } from '../server/health.js';
import { createMetrics, type Metrics } from '../monitor/metrics.js';
import { createConsoleRestart } from '../restart/console.js';
import { dtlsConnectorsOf, loadStream, saveStream } from '../restart/persist.js';
import type { CoapServer } from '../coap/server.js';
import { remoteRequestHistory } from './request-history-channel.js';
import { createRpc, type IpcPort } from './rpc.js';
import { localGroups, type RemoteEndpoint } from '../resources/extended/diagnostics-source.js';
import { applyMgmtTable, isMgmtTable, ownMgmtPorts } from './worker-endpoints.js';

/** Environment of a worker: its index (its presence makes the executable a worker). */
export const WORKER_ENV = 'EXTPLUGTEST_WORKER';
/** Environment of a worker: the server's start (the primary's), epoch ms. */
export const SYSTEM_START_ENV = 'EXTPLUGTEST_SYSTEM_START';

/** The worker index this process was started with, or undefined in a primary or single process. */
export function workerIndexOf(env: NodeJS.ProcessEnv = process.env): number | undefined {
  const v = env[WORKER_ENV];
  if (v === undefined || !/^\d+$/.test(v)) return undefined;
  return Number(v);
}

/** This process' IPC channel to the primary. */
function primaryPort(): IpcPort {
  return {
    send(message) {
      if (process.send === undefined || !process.connected) return false;
      try {
        return process.send(message as object);
      } catch {
        return false;
      }
    },
    onMessage(handler) {
      process.on('message', handler);
      return () => process.off('message', handler);
    },
  };
}

/** Runs this process as worker `index`; exits when the primary stops it or goes away. */
export async function runWorker(opts: ServerOptions, logger: Logger, index: number, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const port = primaryPort();
  const systemStart = Number(env[SYSTEM_START_ENV] ?? Math.round(performance.timeOrigin));
  let app: App | undefined;
  let metrics: Metrics | undefined;
  let ending = false;
  const end = async (status: number): Promise<never> => {
    if (!ending) {
      ending = true;
      try {
        metrics?.stop();
        await app?.stop();
      } catch (err) {
        logger.warn(`worker ${index}: stop failed: ${(err as Error).message}`);
      }
    }
    logger.flush();
    process.exit(status);
  };
  const restart = createConsoleRestart(
    {
      connectors: () => dtlsConnectorsOf(app?.servers ?? []),
      stopServers: () => app?.stopServers() ?? Promise.resolve(),
      startServers: () => app?.startServers() ?? Promise.resolve(),
    },
    logger,
  );
  const rpc = createRpc(port, {
    // this worker's groups of one /diagnose endpoint (the asking worker sums them)
    'diag.own': (name) => (app === undefined || typeof name !== 'string' ? [] : localGroups(app.diagnostics, name)),
    health: () => collectHealth(app?.servers ?? []),
    // the primary's restore waits until this worker's cluster nodes are ready (worker 0 runs their managers)
    'cluster.ready': () => app?.clusterReady ?? false,
    // --k8s-monitor: this worker's metrics, summed by the primary's /metrics
    metrics: () => {
      metrics ??= createMetrics(() => app?.servers ?? [], `worker-${index}`);
      return metrics.json();
    },
    save: (password) => restart.save(typeof password === 'string' ? password : ''),
    // restore: the connections of the old instance whose CIDs this worker issued, into the running connectors
    'restore.load': (part) => {
      if (typeof part !== 'string') return { ok: false, items: 0 };
      const plain = Buffer.from(part, 'base64');
      const outcome = loadStream(dtlsConnectorsOf(app?.servers ?? []), plain, logger, { remapWildcard: true });
      plain.fill(0);
      return outcome;
    },
    // shutdown with --store-file: stop serving, hand the connections to the primary (it writes the one file)
    'store.save': async (maxAgeMs) => {
      await app?.stop();
      const state = saveStream(dtlsConnectorsOf(app?.servers ?? []), typeof maxAgeMs === 'number' ? maxAgeMs : 0, logger);
      const data = state.data.toString('base64');
      state.data.fill(0);
      return { data, connections: state.connections };
    },
    load: (password) => restart.load(typeof password === 'string' ? password : ''),
  });
  const history = remoteRequestHistory(rpc);
  let primaryEndpoints: readonly RemoteEndpoint[] = [];
  port.onMessage((m) => {
    const msg = m as { type?: unknown; table?: unknown; endpoints?: unknown };
    if (msg.type === 'stop') void end(0);
    else if (msg.type === 'mgmt.table' && app !== undefined && isMgmtTable(msg.table)) applyMgmtTable(app.workerNodes, index, msg.table);
    else if (msg.type === 'primary.endpoints' && Array.isArray(msg.endpoints)) {
      primaryEndpoints = msg.endpoints.filter(isRemoteEndpoint);
      app?.refreshDiagnose();
    }
  });
  // the primary coordinates the end: Ctrl-C reaches the whole process group, the primary stops the workers
  process.on('SIGINT', () => {});
  process.on('SIGTERM', () => void end(0));
  process.on('disconnect', () => void end(0));
  try {
    // --store-file: this worker's part of the file (the connections whose CIDs it issued), loaded before it serves
    const beforeStart =
      opts.storeFile === undefined
        ? undefined
        : async (servers: readonly CoapServer[]): Promise<void> => {
            const part = await rpc.call('store.part', undefined, 60_000);
            if (typeof part !== 'string' || part.length === 0) return;
            const plain = Buffer.from(part, 'base64');
            loadStream(dtlsConnectorsOf(servers), plain, logger);
            plain.fill(0);
          };
    app = await startApp(opts, logger, () => void rpc.call('exit').catch(() => undefined), process.cwd(), beforeStart, {
      kind: 'worker',
      index,
      systemStart,
      history,
      others: async (name) => (await rpc.call('diag.others', name, 2000)) as CounterGroup[][],
      remote: () => primaryEndpoints,
    });
  } catch (err) {
    port.send({ type: 'failed', message: (err as Error).message });
    logger.flush();
    // the failure message must reach the primary before the channel closes
    setTimeout(() => process.exit(1), 100);
    return;
  }
  port.send({ type: 'ready', mgmt: ownMgmtPorts(app.workerNodes) });
}

/** A well-formed endpoint of the primary's message. */
function isRemoteEndpoint(v: unknown): v is RemoteEndpoint {
  const e = v as Partial<RemoteEndpoint> | null;
  return typeof v === 'object' && e !== null && typeof e.name === 'string' && typeof e.uri === 'string' && typeof e.secure === 'boolean';
}

// The monitor and restore services of the process (cli.md §3.4, §4 steps 7 and 12; cluster.md §9-10):
// the HTTP monitor (--k8s-monitor), the HTTPS /restore service (--k8s-restore / --local-restore) and,
// once the servers run and the cluster is ready, the download from the old instance.
import type { Logger } from 'pino';
import { parseAddress, type OptionAddress } from '../cli/address.js';
import type { ServerOptions } from '../cli/options.js';
import type { CoapServer } from '../coap/server.js';
import type { DtlsConnector } from '../dtls/connector.js';
import { aggregateMetrics, createMetrics, type Metrics } from '../monitor/metrics.js';
import type { MetricObjectWithValues, MetricValue } from 'prom-client';
import type { LoadOutcome, SavedState } from '../restart/persist.js';
import { startMonitorServer, type RunningService } from '../monitor/monitor-server.js';
import { createMonitorState, type MonitorState } from '../monitor/readiness.js';
import { HttpsCredentialsError, loadHttpsCredentials, type HttpsCredentials } from '../restart/https-certs.js';
import { runRestore, type RestoreSource } from '../restart/restore-run.js';
import { startRestoreService } from '../restart/restore-service.js';

/** The restore flags: the local HTTPS service and where the old instance is. */
export interface RestoreConfig {
  local: OptionAddress;
  source: RestoreSource;
  /** --restore-max-age in ms */
  maxAgeMs: number;
}

/** The restore configuration of the options; undefined without a restore flag. */
export function restoreConfigOf(opts: ServerOptions, clusterMode: boolean): RestoreConfig | undefined {
  const maxAgeMs = opts.restoreMaxAge * 3_600_000;
  if (opts.k8sRestore !== undefined) {
    const local = parseAddress(opts.k8sRestore);
    return { local, source: { kind: 'k8s', port: local.port, mode: clusterMode ? 'cluster' : 'single' }, maxAgeMs };
  }
  if (opts.localRestore !== undefined && opts.otherRestore !== undefined) {
    const other = parseAddress(opts.otherRestore);
    // `:port` names this host
    return { local: parseAddress(opts.localRestore), source: { kind: 'pair', host: other.host ?? '127.0.0.1', port: other.port }, maxAgeMs };
  }
  return undefined;
}

/** What the services need from the process. */
export interface MonitoringParts {
  /** The server registered for readiness (the extended server; absent in the primary of several workers). */
  extended?: CoapServer;
  /** The workers of a multi-worker server (issue 13): ready while all run; their metrics are summed with this process'. */
  workers?: WorkerMonitoring;
  servers: () => readonly CoapServer[];
  connectors: () => DtlsConnector[];
  stopServers: () => Promise<void>;
  logger: Logger;
}

/** What the monitor of a multi-worker primary needs of its workers. */
export interface WorkerMonitoring {
  /** resolves once every worker serves (the restore download waits for it) */
  started(): Promise<void>;
  /** resolves true once the workers' cluster nodes are ready (cluster.md §7.4, §10: the restore waits for it) */
  clusterReady(): Promise<boolean>;
  running(): boolean;
  metrics(): Promise<MetricObjectWithValues<MetricValue<string>>[][]>;
  /** /restore: the connections of this process and every worker, merged (the servers stop) */
  restoreState(maxAgeMs: number): Promise<SavedState>;
  /** the downloaded state, split over this process and the workers by CID */
  restoreLoad(plain: Buffer): Promise<LoadOutcome>;
}

/** The running services; `restore()` runs step 12 (after the servers started and the cluster is ready). */
export interface Monitoring {
  state: MonitorState;
  restore(): Promise<void>;
  stop(): Promise<void>;
}

/** Starts the HTTP monitor and the HTTPS restore service as configured; rejects when an address cannot be bound. */
export async function startMonitoring(opts: ServerOptions, restore: RestoreConfig | undefined, parts: MonitoringParts): Promise<Monitoring> {
  const { logger } = parts;
  const state = createMonitorState();
  if (parts.extended !== undefined) state.servers.push(parts.extended);
  const workers = parts.workers;
  if (workers !== undefined) state.servers.push({ get running() { return workers.running(); } });
  const restoreComponent = { ready: restore === undefined };
  state.components.push(restoreComponent);
  const services: RunningService[] = [];
  let metrics: Metrics | undefined;
  const stop = async (): Promise<void> => {
    metrics?.stop();
    await Promise.all(services.splice(0).map((s) => s.close()));
  };
  try {
    if (opts.k8sMonitor !== undefined) {
      const at = parseAddress(opts.k8sMonitor);
      metrics = workers === undefined ? createMetrics(parts.servers) : aggregateMetrics(createMetrics(parts.servers, 'primary'), workers.metrics);
      services.push(await startMonitorServer({ host: at.host, port: at.port, state, metrics, logger }));
    }
    if (restore !== undefined) {
      const credentials = credentialsOf('server', logger);
      if (credentials !== undefined) {
        services.push(
          await startRestoreService({
            host: restore.local.host,
            port: restore.local.port,
            credentials,
            maxAgeMs: restore.maxAgeMs,
            connectors: parts.connectors,
            ...(workers !== undefined ? { state: (maxAgeMs: number) => workers.restoreState(maxAgeMs) } : {}),
            stopServers: parts.stopServers,
            onRestored: () => {
              state.restoredAt ??= Date.now();
            },
            logger,
          }),
        );
      }
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    state,
    async restore() {
      if (restore === undefined) return;
      // a multi-worker primary starts its workers after its own servers: the download waits for them
      if (workers !== undefined) {
        await workers.started();
        if (!(await workers.clusterReady())) return;
      }
      await runRestore({
        source: restore.source,
        credentials: credentialsOf('client', logger),
        connectors: parts.connectors,
        ...(workers !== undefined ? { load: (plain: Buffer) => workers.restoreLoad(plain) } : {}),
        logger,
      });
      restoreComponent.ready = true;
    },
    stop,
  };
}

// cluster.md §9: without loadable files the HTTPS service is not started (and nothing is downloaded).
function credentialsOf(role: 'server' | 'client', logger: Logger): HttpsCredentials | undefined {
  try {
    return loadHttpsCredentials(role);
  } catch (err) {
    if (!(err instanceof HttpsCredentialsError)) throw err;
    logger.error(`restore: https ${role} credentials: ${err.message}; ${role === 'server' ? 'the /restore service is not started' : 'nothing is restored'}`);
    return undefined;
  }
}

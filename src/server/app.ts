// Composition of the process: plugtest server (5683) and extended server (5783) on their endpoints.
import fs from 'node:fs';
import path from 'node:path';
import v8 from 'node:v8';
import type { Logger } from 'pino';
import { CoapServer } from '../coap/server.js';
import { UdpConnector } from '../transport/udp-connector.js';
import { loadProperties, stackConfigFor, portsFor, type Properties, type ServerKind } from '../config/index.js';
import { TcpConnector, tcpSettingsFor, type TcpSettings, type TlsServerSettings } from '../tcp/index.js';
import { tcpMaxMessageSize } from '../coap/bert.js';
import type { CoapStackConfig } from '../coap/stack-config.js';
import { selectAddresses, bindAddressOf, noEndpointMessage, type LocalAddress } from './interfaces.js';
import type { ServerOptions } from '../cli/options.js';
import { createPlugtestResources } from '../resources/plugtest/index.js';
import { createExtendedResources } from '../resources/extended/index.js';
import { createDiagnosticsSource } from '../resources/extended/diagnostics-source.js';
import { observeStatsOf } from '../resources/extended/observe-stats.js';
import type { ResourceTree } from '../resources/types.js';
import { productVersion } from './version.js';
import { collectHealth, startHealthLog, type EndpointHealth } from './health.js';
import type { RequestHistory } from '../resources/extended/request-history.js';
import type { CounterGroup, DiagnosticsSource } from '../resources/extended/diagnose.js';
import type { RemoteEndpoint } from '../resources/extended/diagnostics-source.js';
import { createWorkerNode } from '../workers/worker-endpoints.js';
import { createServerDtlsConnector, dtlsPeerOf, loadServerCredentials, serverDtlsConfig, type ServerCredentials } from './dtls-endpoints.js';
import { clusterOptionsOf, createClusterEndpoints, waitForClusterReady } from './cluster-endpoints.js';
import type { ClusterConnector } from '../cluster/cluster-connector.js';
import { restoreConfigOf, startMonitoring, type Monitoring, type WorkerMonitoring } from './monitoring.js';
import { dtlsConnectorsOf } from '../restart/persist.js';
import type { MessageHooks } from '../coap/message-layer.js';
import { oscoreServerHooks } from '../oscore/hooks.js';
import { createOscoreContextStore, plugtestServerContext } from '../oscore/store.js';

/**
 * How this process takes part in the server (issue 13). One process serves both servers; with several workers
 * the primary serves the plugtest server alone (its resources' state — PUT/POST/DELETE results, observed
 * resources — then lives in one place, and it is not the load target), and each worker serves the extended
 * server on the shared public ports, with the state users must see as one server kept in the primary.
 */
export type AppRole =
  | { kind: 'single' }
  | {
      kind: 'primary';
      /** the health of the workers' endpoints, summed (the health log shows one server) */
      workersHealth: () => Promise<EndpointHealth[]>;
      /** --k8s-monitor: the workers' readiness and metrics */
      workersMonitoring: WorkerMonitoring;
    }
  | {
      kind: 'worker';
      /** worker index: the node-id of its CIDs */
      index: number;
      /** the server's start (the primary's), epoch ms: `systemstart` of /diagnose and /requests */
      systemStart: number;
      /** the /requests histories, kept in the primary */
      history: RequestHistory;
      /** the other processes' /diagnose groups of an endpoint (the other workers', the primary's) */
      others: (name: string) => Promise<CounterGroup[][]>;
      /** the primary's endpoints, listed by /diagnose after the worker's own */
      remote: () => readonly RemoteEndpoint[];
    };

/** A running process: both servers and what stops them. */
export interface App {
  servers: CoapServer[];
  /** a worker's coaps nodes (one per public address), empty otherwise */
  workerNodes: ClusterConnector[];
  /** what /diagnose shows of this process */
  diagnostics: DiagnosticsSource;
  /** /diagnose lists the endpoints anew (a worker learnt the primary's) */
  refreshDiagnose(): void;
  /** resolves true once every local cluster node is ready (cluster.md §7.4; at once without a cluster), false when stopped first */
  clusterReady: Promise<boolean>;
  version: string;
  /** Stops everything (process end). */
  stop(): Promise<void>;
  /** Stops the CoAP servers without ending the process; the DTLS connection stores are kept (console `save`). */
  stopServers(): Promise<void>;
  /** Starts the CoAP servers again after stopServers (console `load`); a bind error is logged. */
  startServers(): Promise<void>;
}

/** Raised when start-up fails for a reason the user must fix (exit status 1). */
export class StartupError extends Error {}

/**
 * Creates and starts the servers as the options and the properties file say; `beforeStart` runs after
 * the servers are built and before they start (the store-file load, cli.md §4 step 8).
 */
export async function startApp(
  opts: ServerOptions,
  logger: Logger,
  shutdown: () => void,
  cwd = process.cwd(),
  beforeStart?: (servers: readonly CoapServer[]) => void | Promise<void>,
  role: AppRole = { kind: 'single' },
): Promise<App> {
  const worker = role.kind === 'worker' ? role : undefined;
  // the primary already logged what reading the properties and credentials found: a worker does not repeat it
  const setupLogger = worker !== undefined ? logger.child({}, { level: 'error' }) : logger;
  const props = loadProperties(cwd, setupLogger);
  const version = productVersion(cwd);
  const addresses = selectAddresses({
    loopback: opts.loopback,
    external: opts.external,
    ipv4: opts.ipv4,
    ipv6: opts.ipv6,
    patterns: opts.interfacesPattern,
  });
  const trees: ResourceTree[] = [];
  const servers: CoapServer[] = [];
  const resourceOptions = {
    notifyInterval: opts.notifyInterval,
    echoDelay: opts.echoDelay,
    version,
    shutdown,
    benchmark: opts.benchmark,
    diagnose: opts.diagnose,
    // read lazily: `servers` is filled below; extended server first (its observe statistics lead)
    diagnostics: createDiagnosticsSource({
      servers: () => [...servers].reverse(),
      counters: (props.get<number>('SYS.HEALTH_STATUS_INTERVAL') ?? 0) > 0,
      ...(worker !== undefined ? { systemStart: worker.systemStart, others: worker.others, remote: worker.remote } : {}),
    }),
    ...(worker !== undefined ? { requestHistory: worker.history } : {}),
  };
  let creds: ServerCredentials;
  try {
    creds = loadServerCredentials(opts, setupLogger);
  } catch (err) {
    throw new StartupError(`DTLS credentials: ${(err as Error).message}`);
  }
  const clusterOpts = clusterOptionsOf(opts, props);
  let restore;
  try {
    restore = restoreConfigOf(opts, clusterOpts !== undefined);
  } catch (err) {
    throw new StartupError((err as Error).message);
  }
  // cli.md §1: the plugtest server is not run when any cluster option is present
  if (opts.plugtest && clusterOpts === undefined && role.kind !== 'worker') {
    // --oscore: the plugtest context (resources.md §3.22) on every plugtest endpoint, and /oscore, /oscoreInfo
    const oscore = opts.oscore ? createOscoreContextStore([plugtestServerContext()]) : undefined;
    const tree = createPlugtestResources({ ...resourceOptions, oscore });
    trees.push(tree);
    const server = new CoapServer('PLUG-TEST', tree.root, logger);
    addEndpoints(server, props, 'plugtest', addresses, opts, creds, logger, true, false, oscore && oscoreServerHooks(oscore));
    if (server.endpoints.length === 0) throw new StartupError(noEndpointMessage(opts));
    servers.push(server);
  }
  const workerNodes: ClusterConnector[] = [];
  let ext: CoapServer | undefined;
  let cluster: ClusterConnector[] = [];
  if (role.kind !== 'primary') {
    const extTree = createExtendedResources(resourceOptions);
    trees.push(extTree);
    ext = new CoapServer('EXTENDED-TEST', extTree.root, logger);
    if (clusterOpts !== undefined) {
      try {
        cluster = await createClusterEndpoints(ext, worker !== undefined ? { ...clusterOpts, worker: { index: worker.index } } : clusterOpts, props, opts, creds, logger);
        // a worker of a cluster node: its nodes take part in the workers' management table
        if (worker !== undefined) workerNodes.push(...cluster);
      } catch (err) {
        throw new StartupError((err as Error).message);
      }
    }
    // cli.md §3.3: restore without cluster: one coaps endpoint on the wildcard address (equal labels on both instances)
    if (restore !== undefined && clusterOpts === undefined) addRestoreEndpoint(ext, props, opts, creds, logger, worker === undefined);
    const ownDtls = clusterOpts === undefined && restore === undefined && worker === undefined;
    addEndpoints(ext, props, 'extended', addresses, opts, creds, logger, ownDtls, worker !== undefined);
    // after the public coap endpoints: they bind before the nodes' ephemeral management sockets
    // (in a cluster the nodes are the coaps endpoints: cli.md §3.3)
    if (worker !== undefined && clusterOpts === undefined) {
      // restore mode: the one coaps endpoint on the wildcard address (as addRestoreEndpoint), else one per address
      const binds = restore !== undefined ? [RESTORE_BIND] : addresses.map(bindAddressOf);
      workerNodes.push(...addWorkerNodes(ext, props, binds, worker.index, creds, opts, logger));
    }
    if (ext.endpoints.length === 0) throw new StartupError(noEndpointMessage(opts));
    servers.push(ext);
  }

  for (const s of servers) {
    const hooks = observeStatsOf(s);
    for (const ep of s.endpoints) ep.observeHooks = hooks;
  }
  const stopServers = async (): Promise<void> => {
    await Promise.all(servers.map((s) => s.stop()));
  };
  // cli.md §4 step 7: the monitor and restore services start before the CoAP servers
  let monitoring: Monitoring | undefined;
  // a worker runs neither: the primary's monitor and restore services act for all workers
  if (role.kind !== 'worker' && (opts.k8sMonitor !== undefined || restore !== undefined)) {
    try {
      monitoring = await startMonitoring(opts, restore, {
        ...(ext !== undefined ? { extended: ext } : {}),
        ...(role.kind === 'primary' ? { workers: role.workersMonitoring } : {}),
        servers: () => servers,
        connectors: () => dtlsConnectorsOf(servers),
        stopServers,
        logger,
      });
    } catch (err) {
      throw new StartupError((err as Error).message);
    }
  }
  try {
    await beforeStart?.(servers);
  } catch (err) {
    await monitoring?.stop();
    throw new StartupError(`loading the saved connections: ${(err as Error).message}`);
  }
  const started: CoapServer[] = [];
  try {
    for (const s of servers) {
      await s.start();
      started.push(s);
    }
  } catch (err) {
    await Promise.all(started.map((s) => s.stop()));
    await monitoring?.stop();
    throw new StartupError(`cannot bind endpoint: ${(err as Error).message}`);
  }
  for (const t of trees) t.start();
  // a worker's counters are logged by the primary, summed over the workers
  const health =
    role.kind === 'worker'
      ? { stop() {} }
      : startHealthLog(servers, props, logger, role.kind === 'primary' ? () => primaryHealth(servers, role.workersHealth) : undefined);
  // a multi-worker server's start is announced by the primary once all workers serve
  if (role.kind === 'single') logStarted(logger, version);
  const clusterReady = cluster.length > 0 ? waitForClusterReady(cluster, logger) : undefined;
  // cli.md §4 step 12: restore once the cluster is ready
  if (monitoring !== undefined) {
    const m = monitoring;
    void (async () => {
      if (clusterReady !== undefined && !(await clusterReady.ready)) return;
      await m.restore();
    })();
  }
  let stopped = false;
  return {
    servers,
    workerNodes,
    diagnostics: resourceOptions.diagnostics,
    clusterReady: clusterReady?.ready ?? Promise.resolve(true),
    refreshDiagnose() {
      for (const t of trees) t.refresh?.();
    },
    version,
    async stop() {
      if (stopped) return;
      stopped = true;
      clusterReady?.cancel();
      health.stop();
      for (const t of trees) t.stop();
      await Promise.all([stopServers(), monitoring?.stop()]);
    },
    stopServers,
    async startServers() {
      if (stopped) return;
      for (const s of servers) {
        try {
          await s.start();
        } catch (err) {
          logger.error(`cannot start ${s.tag}: ${(err as Error).message}`);
        }
      }
    },
  };
}

/** The extended server's coaps endpoint of the restore mode: wildcard address, coaps port, CIDs of at least 6 bytes. */
/** Bind address of the restore mode's coaps endpoint. */
const RESTORE_BIND = '0.0.0.0';

/** `add` false: only the checks (a worker adds its own node on the wildcard address). */
function addRestoreEndpoint(server: CoapServer, props: Properties, opts: ServerOptions, creds: ServerCredentials, logger: Logger, add = true): void {
  let config;
  try {
    config = serverDtlsConfig(props, 'extended', opts);
  } catch (err) {
    throw new StartupError((err as Error).message);
  }
  // cli.md §2.2: restore needs CIDs to find the connections (the reference's wording)
  if ((config.cidLength ?? 0) < 6) throw new StartupError('cid length must be at least 6 for cluster!');
  if (!add) return;
  const dtls = createServerDtlsConnector(RESTORE_BIND, portsFor(props, 'extended').coaps, config, creds, logger);
  server.addEndpoint(dtls, stackConfigFor(props, 'extended', false), dtlsPeerOf);
}

/** The start line (cli.md §4 step 10): the heap limit (the reference's JVM -Xmx), not the heap in use. */
export function logStarted(logger: Logger, version: string): void {
  const heapMb = Math.round(v8.getHeapStatistics().heap_size_limit / (1024 * 1024));
  logger.info(`extplugtest, version ${version}, ${heapMb}MB heap, started ...`);
}

/** The primary's health: its own servers' (plugtest), then the workers' summed. */
async function primaryHealth(servers: readonly CoapServer[], workers: () => Promise<EndpointHealth[]>): Promise<EndpointHealth[]> {
  const own = collectHealth(servers);
  return [...own, ...(await workers())];
}

/** A worker's coaps endpoints: one worker node per selected address on the shared public coaps port. */
function addWorkerNodes(
  server: CoapServer,
  props: Properties,
  binds: readonly string[],
  index: number,
  creds: ServerCredentials,
  opts: ServerOptions,
  logger: Logger,
): ClusterConnector[] {
  let config;
  try {
    config = serverDtlsConfig(props, 'extended', opts);
  } catch (err) {
    throw new StartupError((err as Error).message);
  }
  const port = portsFor(props, 'extended').coaps;
  const stack = stackConfigFor(props, 'extended', false);
  return binds.map((address) => {
    const node = createWorkerNode({
      address,
      port,
      index,
      config,
      receiveBufferSize: props.get<number>('DTLS.RECEIVE_BUFFER_SIZE'),
      sendBufferSize: props.get<number>('DTLS.SEND_BUFFER_SIZE'),
      connector: (address, p, nodeConfig, transport) => createServerDtlsConnector(address, p, nodeConfig, creds, logger, transport),
      logger,
    });
    server.addEndpoint(node, stack, dtlsPeerOf);
    return node;
  });
}

/** Adds a coap (UDP) and a coaps (DTLS) endpoint per selected address (cli.md §3.2); `reusePort`: a worker's; `messageHooks`: OSCORE's. */
function addEndpoints(
  server: CoapServer,
  props: Properties,
  kind: ServerKind,
  addresses: LocalAddress[],
  opts: ServerOptions,
  creds: ServerCredentials,
  logger: Logger,
  withDtls = true,
  reusePort = false,
  messageHooks?: MessageHooks,
): void {
  const ports = portsFor(props, kind);
  let dtlsConfig;
  try {
    dtlsConfig = serverDtlsConfig(props, kind, opts);
  } catch (err) {
    throw new StartupError((err as Error).message);
  }
  // DTLS endpoints use the file configuration (the external UDP limits apply to plain coap only)
  const secureStack = stackConfigFor(props, kind, false);
  for (const a of withDtls ? addresses : []) {
    const dtls = createServerDtlsConnector(bindAddressOf(a), ports.coaps, dtlsConfig, creds, logger);
    server.addEndpoint(dtls, secureStack, dtlsPeerOf, { messageHooks });
  }
  if (opts.dtlsOnly) return;
  for (const a of addresses) {
    // non-loopback UDP endpoints use the small external message size to limit amplification
    const external = !a.loopback;
    const config = stackConfigFor(props, kind, external);
    const connector = new UdpConnector({
      address: bindAddressOf(a),
      port: ports.coap,
      receiveBufferSize: props.get<number>('UDP.RECEIVE_BUFFER_SIZE'),
      sendBufferSize: props.get<number>('UDP.SEND_BUFFER_SIZE'),
      onError: (err) => logger.warn({ err, address: a.address }, 'udp socket error'),
      ...(reusePort ? { reusePort: true } : {}),
      fairQueue: { batch: props.number('UDP.FAIR_QUEUE_BATCH'), sourceCapacity: props.number('UDP.FAIR_QUEUE_SOURCE_CAPACITY'), capacity: props.number('UDP.FAIR_QUEUE_CAPACITY') },
      logger,
    });
    server.addEndpoint(connector, config, undefined, { messageHooks });
  }
  if (opts.tcp) addTcpEndpoints(server, addresses, ports, secureStack, tcpSettingsFor(props, kind, opts.clientAuth), creds, logger, reusePort, messageHooks);
}

/**
 * coap+tcp on the coap port and coaps+tcp (TLS, the demo PKI, --client-auth and --trust-all as for DTLS) on the
 * coaps port of every address (cli.md §3.2, RFC 8323); the workers of a server share them (SO_REUSEPORT).
 */
function addTcpEndpoints(
  server: CoapServer,
  addresses: LocalAddress[],
  ports: { coap: number; coaps: number },
  stack: CoapStackConfig,
  settings: TcpSettings,
  creds: ServerCredentials,
  logger: Logger,
  reusePort: boolean,
  messageHooks: MessageHooks | undefined,
): void {
  if (creds.demo.identities.length === 0) throw new StartupError('TLS not supported, credentials missing!');
  const tls: TlsServerSettings = {
    identities: creds.demo.identities,
    trustAnchors: creds.demo.trustAnchors,
    clientAuth: settings.clientAuth,
    trustAll: creds.trustAll,
    handshakeTimeout: settings.handshakeTimeout,
    sessionTimeout: settings.sessionTimeout,
  };
  for (const a of addresses) {
    for (const secure of [false, true]) {
      const connector = new TcpConnector({
        address: bindAddressOf(a),
        port: secure ? ports.coaps : ports.coap,
        // the frame limit we announce in our CSM (RFC 8323 §5.3.1), with room for COAP.TCP_NUMBER_OF_BULK_BLOCKS BERT blocks
        maxMessageSize: tcpMaxMessageSize(stack.maxMessageSize, stack.tcpNumberOfBulkBlocks),
        // BERT offered with Block-Wise-Transfer (§5.3.2) when bulk blocks > 1; else a peer's SZX 7 gets 4.02 (server-layer.ts)
        blockWiseTransfer: stack.tcpNumberOfBulkBlocks > 1,
        maxConnections: settings.maxConnections,
        idleTimeout: settings.idleTimeout,
        csmTimeout: settings.handshakeTimeout,
        maxWriteBuffer: settings.maxWriteBuffer,
        ...(secure ? { tls } : {}),
        ...(reusePort ? { reusePort: true } : {}),
        logger,
      });
      server.addEndpoint(connector, stack, undefined, { messageHooks });
    }
  }
}

/** Path of the package root (for files shipped with it). */
export function packageRoot(): string {
  let dir = path.dirname(new URL(import.meta.url).pathname);
  while (!fs.existsSync(path.join(dir, 'package.json')) && path.dirname(dir) !== dir) dir = path.dirname(dir);
  return dir;
}

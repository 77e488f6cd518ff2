// Builds the cluster nodes of the extended server from the cluster flags (cli.md §2.2, §3.3;
// cluster.md §2, §6.1, §12): static, dynamic (optionally DTLS-secured, with MAC) and k8s.
import { lookup } from 'node:dns/promises';
import type { Logger } from 'pino';
import type { DtlsConfig } from '../dtls/config.js';
import type { DtlsConnector } from '../dtls/connector.js';
import type { PeerAddress } from '../transport/connector.js';
import type { DatagramTransport } from '../transport/datagram.js';
import { ClusterConnector } from './cluster-connector.js';
import { ClusterTransport, MANAGING_WORKER, type WorkerRole } from './cluster-transport.js';
import { ClusterManager, type ClusterTimers } from './manager.js';
import { createDtlsChannel, createPlainChannel, type MgmtChannel } from './mgmt-channel.js';
import { staticResolver } from './resolver.js';
import { Failover } from './store/failover.js';
import { createRedisStore } from './store/redis-store.js';
import { deriveStoreKey } from './store/seal.js';

/** `:<port>` (host undefined = any address) or `<host>:<port>`. */
export interface HostPort {
  host?: string;
  port: number;
}

/** One `--dtls-cluster` entry: a local node when it has a DTLS interface, else a remote one. */
export interface ClusterNodeSpec {
  dtls?: HostPort;
  mgmt: HostPort;
  nodeId: number;
}

/** What the k8s mode needs from the Kubernetes API (cluster.md §8). */
export interface K8sClusterSource {
  /** own node-id, initial node count and the management PSK from the environment */
  prepare(): Promise<{ nodeId: number; initialNodes: number; mgmtPsk?: { identity: string; secret: Buffer } }>;
  /** the other pods' management addresses */
  scope(externalMgmtPort: number): Promise<PeerAddress[]>;
}

/** The cluster flags, parsed. */
export interface ClusterSetupOptions {
  /** --dtls-cluster */
  nodes?: readonly ClusterNodeSpec[];
  /** --dtls-cluster-group */
  group?: readonly HostPort[];
  /** --dtls-cluster-group-security */
  groupSecurity?: string;
  /** --k8s-dtls-cluster */
  k8s?: { dtls: HostPort; mgmt: HostPort; externalMgmtPort: number };
  /** --[no-]dtls-cluster-backward */
  backward: boolean;
  /** --[no-]dtls-cluster-mac; undefined = on when the management channel is encrypted */
  mac?: boolean;
  timers: ClusterTimers;
  /** the DTLS sockets bind with SO_REUSEPORT: the nodes are workers sharing the public port (issue 13) */
  reusePort?: boolean;
  /**
   * This process is worker `index` of its cluster node (issue 13): CID byte 1 carries the index, the node's DTLS
   * port is shared with the other workers (SO_REUSEPORT), and records for another worker go over a loopback socket.
   * Static mode: the workers share the management port too; dynamic and k8s modes: worker 0 runs the management
   * channel and the manager, the others relay through it (cluster-transport.ts WorkerRole).
   */
  worker?: { index: number };
  /** --dtls-cluster-store: the shared connection store (issue 12) */
  store?: ClusterStoreOptions;
  /** UDP buffer sizes of the management socket (DTLS.RECEIVE/SEND_BUFFER_SIZE + 28) */
  receiveBufferSize?: number;
  sendBufferSize?: number;
}

/** The shared connection store of --dtls-cluster-store and the CLUSTER_STORE keys (issue 12, docs/failover.md). */
export interface ClusterStoreOptions {
  /** `redis://host:port` */
  url: string;
  checkpointRecords: number;
  /** ms */
  checkpointInterval: number;
  sequenceMargin: number;
  /** an entry expires this long after its last write (ms) */
  entryLifetime: number;
  /** Redis command timeout, ms */
  timeout: number;
}

/** Why --dtls-cluster-store cannot run without the cluster secret. */
export const STORE_NEEDS_SECRET =
  '--dtls-cluster-store requires a cluster secret (--dtls-cluster-group-security, or the k8s management PSK): the store key is derived from it';

/** Creates the DTLS connector of a node on the given transport (credentials are the server's). */
export type NodeConnectorFactory = (address: string, port: number, config: DtlsConfig, transport: DatagramTransport) => DtlsConnector;

/** A start-up error of the cluster flags, with the reference's message. */
export class ClusterSetupError extends Error {}

/** Where the workers of a cluster node hand records to each other. */
export const WORKER_LOOPBACK = '127.0.0.1';

/** PSK identity of the dynamic mode's management channel (cluster.md §6.1). */
export const MGMT_IDENTITY = 'dtls-mgmt';
/** Extra room per management datagram: the largest cluster header (4 + 16 + 8). */
const HEADER_ROOM = 28;

/** True when any cluster flag is given. */
export function clusterRequested(o: Pick<ClusterSetupOptions, 'nodes' | 'k8s'>): boolean {
  return (o.nodes !== undefined && o.nodes.length > 0) || o.k8s !== undefined;
}

/** The cluster connectors of the extended server (one per local node); throws ClusterSetupError. */
export async function createClusterConnectors(
  o: ClusterSetupOptions,
  base: DtlsConfig,
  factory: NodeConnectorFactory,
  logger: Logger,
  k8s?: K8sClusterSource,
): Promise<ClusterConnector[]> {
  if ((base.cidLength ?? 0) < 6) throw new ClusterSetupError('cid length must be at least 6 for cluster!');
  if (o.store !== undefined) {
    if (o.worker !== undefined) throw new ClusterSetupError('--dtls-cluster-store is not supported with several workers (use --workers 1)');
    if (o.k8s === undefined && (o.group === undefined || o.group.length === 0)) {
      throw new ClusterSetupError('--dtls-cluster-store requires a dynamic cluster (--dtls-cluster-group) or --k8s-dtls-cluster: a static cluster has no node table to see a node gone');
    }
    if (o.k8s === undefined && o.groupSecurity === undefined) throw new ClusterSetupError(STORE_NEEDS_SECRET);
  }
  if (o.k8s !== undefined) return [await k8sNode(o, o.k8s, base, factory, logger, k8s)];
  const nodes = o.nodes ?? [];
  const local = nodes.filter((n) => n.dtls !== undefined);
  if (local.length === 0) throw new ClusterSetupError('at least one cluster node must have a dtls interface!');
  for (const n of nodes) {
    if (n.nodeId < 0 || n.nodeId > 255) throw new ClusterSetupError(`node-id ${n.nodeId} out of range 0..255!`);
  }
  const mgmtOf = new Map<number, PeerAddress>();
  for (const n of nodes) mgmtOf.set(n.nodeId, await resolve(n.mgmt));
  const group = o.group !== undefined && o.group.length > 0 ? await Promise.all(o.group.map(resolve)) : undefined;
  const out: ClusterConnector[] = [];
  for (const n of local) {
    const dtls = await resolve(n.dtls!);
    const mgmt = mgmtOf.get(n.nodeId)!;
    const config = { ...base, nodeId: n.nodeId, ...(o.worker !== undefined ? { workerId: o.worker.index } : {}) };
    if (group === undefined) {
      // static mode: the other listed nodes, no management channel
      const others = new Map([...mgmtOf].filter(([id]) => id !== n.nodeId));
      const transport = nodeTransport(o, dtls, mgmt, n.nodeId, false, staticResolver(others), logger);
      out.push(new ClusterConnector(factory(dtls.address, dtls.port, config, transport), transport));
      logger.info({ node: n.nodeId, dtls: hostPort(dtls), mgmt: hostPort(mgmt), nodes: others.size + 1 }, 'static DTLS cluster node');
      continue;
    }
    const secret = o.groupSecurity !== undefined ? Buffer.from(o.groupSecurity, 'utf8') : undefined;
    const mac = secret !== undefined && (o.mac ?? true);
    const scope = group.filter((a) => !(a.address === mgmt.address && a.port === mgmt.port));
    out.push(dynamicNode(o, dtls, mgmt, n.nodeId, config, factory, logger, { secret, identity: MGMT_IDENTITY, mac, initialNodes: group.length, scope: () => scope }));
    logger.info(
      { node: n.nodeId, dtls: hostPort(dtls), mgmt: hostPort(mgmt), group: group.map(hostPort), channel: secret ? (mac ? 'mgmt-dtls-mac' : 'mgmt-dtls') : 'mgmt-udp' },
      'dynamic DTLS cluster node',
    );
  }
  return out;
}

async function k8sNode(
  o: ClusterSetupOptions,
  spec: NonNullable<ClusterSetupOptions['k8s']>,
  base: DtlsConfig,
  factory: NodeConnectorFactory,
  logger: Logger,
  source: K8sClusterSource | undefined,
): Promise<ClusterConnector> {
  if (source === undefined) throw new ClusterSetupError('k8s cluster: no Kubernetes API access configured');
  const prepared = await source.prepare();
  const secure = prepared.mgmtPsk !== undefined;
  if (o.store !== undefined && !secure) throw new ClusterSetupError(STORE_NEEDS_SECRET);
  if (o.mac === true && !secure) throw new ClusterSetupError('MAC for cluster traffic requires enabled encryption!');
  const dtls = await resolve(spec.dtls);
  const mgmt = await resolve(spec.mgmt);
  const config = { ...base, nodeId: prepared.nodeId, ...(o.worker !== undefined ? { workerId: o.worker.index } : {}) };
  const mac = secure && (o.mac ?? true);
  logger.info(
    { node: prepared.nodeId, initialNodes: prepared.initialNodes, dtls: hostPort(dtls), mgmt: hostPort(mgmt), channel: secure ? (mac ? 'mgmt-dtls-mac' : 'mgmt-dtls') : 'mgmt-udp' },
    'k8s DTLS cluster node',
  );
  return dynamicNode(o, dtls, mgmt, prepared.nodeId, config, factory, logger, {
    secret: prepared.mgmtPsk?.secret,
    identity: prepared.mgmtPsk?.identity ?? MGMT_IDENTITY,
    mac,
    initialNodes: prepared.initialNodes,
    scope: () => source.scope(spec.externalMgmtPort),
  });
}

interface DynamicSpec {
  secret: Buffer | undefined;
  identity: string;
  mac: boolean;
  initialNodes: number;
  scope: () => PeerAddress[] | Promise<PeerAddress[]>;
}

/** A node with a management channel and a node manager (dynamic and k8s modes). */
function dynamicNode(
  o: ClusterSetupOptions,
  dtls: PeerAddress,
  mgmt: PeerAddress,
  nodeId: number,
  config: DtlsConfig,
  factory: NodeConnectorFactory,
  logger: Logger,
  d: DynamicSpec,
): ClusterConnector {
  const transport = nodeTransport(o, dtls, mgmt, nodeId, d.mac, staticResolver(new Map()), logger, true);
  // several workers: the channel and the manager run in worker 0, the others relay through it (WorkerRole.relay)
  if (o.worker !== undefined && o.worker.index !== MANAGING_WORKER) return new ClusterConnector(factory(dtls.address, dtls.port, config, transport), transport);
  const send = transport.sendMgmt.bind(transport);
  const channel: MgmtChannel =
    d.secret !== undefined
      ? createDtlsChannel({
          localAddress: mgmt.address,
          localPort: () => transport.mgmtPort,
          send,
          identity: d.identity,
          secret: d.secret,
          nodeId,
          suites: config.cipherSuites,
          logger,
        })
      : createPlainChannel(send, () => transport.stats['drop forward']++);
  const manager = new ClusterManager({
    nodeId,
    channel,
    initialNodes: d.initialNodes,
    scope: d.scope,
    timers: o.timers,
    logger,
    onSent: () => transport.stats['sent cluster mgmt']++,
  });
  const node = new ClusterConnector(factory(dtls.address, dtls.port, config, transport), transport, channel, manager);
  if (o.store !== undefined && d.secret !== undefined) attachStore(node, o, o.store, d.secret, nodeId, manager, logger);
  return node;
}

/** Connects a node to the shared connection store (issue 12): a Redis client and the node's failover. */
function attachStore(node: ClusterConnector, o: ClusterSetupOptions, s: ClusterStoreOptions, secret: Buffer, nodeId: number, manager: ClusterManager, logger: Logger): void {
  let reported = false;
  const redis = createRedisStore({
    url: s.url,
    timeout: s.timeout,
    entryLifetime: s.entryLifetime,
    onError: (err) => {
      // one line per outage (ioredis reports every reconnect attempt)
      if (!reported) logger.warn({ err: err.message, store: s.url }, 'cluster store: Redis unreachable');
      reported = true;
    },
    onReady: () => {
      if (reported) logger.info({ store: s.url }, 'cluster store: Redis reachable again');
      reported = false;
    },
  });
  const transport = node.transport;
  const failover = new Failover(
    {
      nodeId,
      key: deriveStoreKey(secret),
      store: redis,
      checkpointRecords: s.checkpointRecords,
      checkpointInterval: s.checkpointInterval,
      sequenceMargin: s.sequenceMargin,
      entryLifetime: s.entryLifetime,
      takeoverDelay: o.timers.refresh + o.timers.expiration,
      logger,
    },
    node.dtls,
    {
      nodeAddress: (id) => manager.nodeAddress(id),
      get ready() {
        return manager.ready;
      },
      forwardTo: (id, record, client) => transport.forwardTo(id, record, client),
      deliver: (record, client, router) => transport.deliver(record, client, router),
    },
  );
  node.attachFailover(failover, redis);
  logger.info({ node: nodeId, store: s.url, checkpointRecords: s.checkpointRecords, checkpointInterval: s.checkpointInterval, sequenceMargin: s.sequenceMargin }, 'cluster store');
}

/**
 * The sockets of a node. Several workers share its DTLS port; in static mode they share its management port too
 * (other nodes know the node by that one address), in the dynamic modes (`managed`) worker 0 alone binds it.
 */
function nodeTransport(
  o: ClusterSetupOptions,
  dtls: PeerAddress,
  mgmt: PeerAddress,
  nodeId: number,
  mac: boolean,
  resolver: ReturnType<typeof staticResolver>,
  logger: Logger,
  managed = false,
): ClusterTransport {
  const room = (n: number | undefined): number | undefined => (n === undefined ? undefined : n + HEADER_ROOM);
  const shared = o.reusePort === true || o.worker !== undefined ? { reusePort: true } : {};
  const worker: WorkerRole | undefined =
    o.worker === undefined ? undefined : { index: o.worker.index, socket: { address: WORKER_LOOPBACK, port: 0 }, relay: managed && o.worker.index !== MANAGING_WORKER };
  return new ClusterTransport({
    dtls: { address: dtls.address, port: dtls.port, receiveBufferSize: o.receiveBufferSize, sendBufferSize: o.sendBufferSize, ...shared },
    mgmt: { address: mgmt.address, port: mgmt.port, receiveBufferSize: room(o.receiveBufferSize), sendBufferSize: room(o.sendBufferSize), ...(o.worker !== undefined && !managed ? { reusePort: true } : {}) },
    nodeId,
    backward: o.backward,
    mac,
    resolver,
    ...(worker !== undefined ? { worker } : {}),
    logger,
  });
}

/** Resolves a host name at start-up (cli.md §2.3); `:<port>` binds to the IPv4 wildcard address. */
async function resolve(a: HostPort): Promise<PeerAddress> {
  if (a.host === undefined) return { address: '0.0.0.0', port: a.port };
  try {
    const { address } = await lookup(a.host);
    return { address, port: a.port };
  } catch {
    throw new ClusterSetupError(`cannot resolve '${a.host}'!`);
  }
}

function hostPort(a: PeerAddress): string {
  return a.address.includes(':') ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`;
}

// A cluster node's coaps connector (cluster.md §3): wraps a DTLS connector that runs on a
// ClusterTransport, adds the node manager and management channel of the dynamic/k8s modes, and merges
// the cluster counters (§4.5) into the connector's /diagnose group.
import type { DtlsConfig } from '../dtls/config.js';
import type { DtlsConnector } from '../dtls/connector.js';
import type { Connector, EndpointContext } from '../transport/connector.js';
import type { ClusterTransport } from './cluster-transport.js';
import type { ClusterManager } from './manager.js';
import type { MgmtChannel } from './mgmt-channel.js';
import type { Failover } from './store/failover.js';
import type { RedisStore } from './store/redis-store.js';
import { readSocketDrops } from './socket-drops.js';
import { CLUSTER_STATS_KEYS, createClusterStats } from './stats.js';

/** A counter group as /diagnose shows it: tag and rows [key, current, total of earlier periods]. */
export interface ConnectorCounterGroup {
  tag: string;
  counters: Array<[string, number, number]>;
}

/** The Connector of one cluster node (protocol DTLS, scheme coaps). */
export class ClusterConnector implements Connector {
  readonly protocol = 'DTLS' as const;
  readonly scheme = 'coaps' as const;
  readonly dtls: DtlsConnector;
  readonly transport: ClusterTransport;
  readonly manager: ClusterManager | undefined;
  readonly channel: MgmtChannel | undefined;
  /** the shared connection store's failover (issue 12); undefined without --dtls-cluster-store */
  failover: Failover | undefined;
  /** the Redis client the failover uses (closed on stop when this node owns it) */
  redis: RedisStore | undefined;
  private readonly total = createClusterStats();
  private dropsBase = 0;

  constructor(dtls: DtlsConnector, transport: ClusterTransport, channel?: MgmtChannel, manager?: ClusterManager) {
    this.dtls = dtls;
    this.transport = transport;
    this.channel = channel;
    this.manager = manager;
    transport.channel = channel;
    if (manager !== undefined) transport.resolver = manager;
  }

  /** Connects the shared connection store's failover (issue 12): it routes CID records first and hears of connections. */
  attachFailover(failover: Failover, redis: RedisStore): void {
    this.failover = failover;
    this.redis = redis;
    this.transport.cidRouter = failover;
  }

  get localAddress(): string {
    return this.dtls.localAddress;
  }

  get localPort(): number {
    return this.dtls.localPort;
  }

  /** The DTLS settings (node-id, max. connections for /diagnose). */
  get config(): DtlsConfig {
    return this.dtls.config;
  }

  /** The node-id of this node. */
  get nodeId(): number {
    return this.transport.nodeId;
  }

  /** The node may serve (cluster.md §7.4). */
  get ready(): boolean {
    return this.transport.resolver.ready;
  }

  get onDatagram(): (data: Buffer, ctx: EndpointContext) => void {
    return this.dtls.onDatagram;
  }

  set onDatagram(handler: (data: Buffer, ctx: EndpointContext) => void) {
    this.dtls.onDatagram = handler;
  }

  async start(): Promise<void> {
    await this.dtls.start();
    this.dropsBase = readSocketDrops(this.transport.mgmtPort);
    try {
      await this.channel?.start();
    } catch (err) {
      await this.dtls.stop();
      throw err;
    }
    this.manager?.start();
    this.failover?.start();
  }

  async stop(): Promise<void> {
    this.failover?.stop();
    this.manager?.stop();
    await this.channel?.stop();
    await this.dtls.stop();
    await this.redis?.close();
  }

  send(data: Buffer, ctx: EndpointContext, onError?: (err: Error) => void): void {
    this.dtls.send(data, ctx, onError);
  }

  /** The DTLS group with the cluster counters appended (`dtls:node-<id>:<addr>`). */
  diagnosticGroup(): ConnectorCounterGroup {
    this.updateDrops();
    const group = this.dtls.diagnosticGroup();
    const stats = this.transport.stats;
    for (const k of CLUSTER_STATS_KEYS) group.counters.push([k, stats[k], this.total[k]]);
    if (this.failover !== undefined) group.counters.push(...this.failover.counterRows());
    return group;
  }

  /** Starts a new statistics period (each periodic health dump). */
  transferStats(): void {
    this.updateDrops();
    this.dtls.transferStats();
    this.failover?.transferStats();
    const stats = this.transport.stats;
    for (const k of CLUSTER_STATS_KEYS) {
      this.total[k] += stats[k];
      stats[k] = 0;
    }
  }

  private updateDrops(): void {
    if (!this.transport.running || this.transport.relaying) return;
    const now = readSocketDrops(this.transport.mgmtPort);
    if (now > this.dropsBase) this.transport.stats['dropped internal udp'] += now - this.dropsBase;
    this.dropsBase = now;
  }
}

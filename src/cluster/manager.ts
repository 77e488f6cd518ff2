// The node manager of the dynamic and k8s modes (cluster.md §6.2, §7): PING/PONG handling, the node
// table with refresh and expiry, discovery of the scope's addresses, and readiness.
import type { Logger } from 'pino';
import type { PeerAddress } from '../transport/connector.js';
import { peerKey } from '../transport/connector.js';
import type { MgmtChannel } from './mgmt-channel.js';
import { ClusterState, decodeMgmtMessage, encodeMgmtMessage, MGMT_PING, MGMT_PONG, stateName, type ClusterStateValue } from './mgmt-message.js';
import { clusterState, NodeTable } from './node-table.js';
import type { NodeResolver } from './resolver.js';

/** The CLUSTER_MGMT timers in ms (config.md §7). */
export interface ClusterTimers {
  /** period of the management timer (TIMER_INTERVAL) */
  interval: number;
  /** a node not heard from for this long is pinged (REFRESH_INTERVAL) */
  refresh: number;
  /** period of probing the scope's unknown addresses (DISCOVER_INTERVAL) */
  discover: number;
  /** a node silent for refresh + this is removed (EXPIRATION_TIME) */
  expiration: number;
}

/** The reference's CLUSTER_MGMT defaults. */
export const DEFAULT_CLUSTER_TIMERS: ClusterTimers = { interval: 2000, refresh: 4000, discover: 10_000, expiration: 6000 };

/** Settings of a node manager. */
export interface ManagerOptions {
  nodeId: number;
  channel: MgmtChannel;
  /** number of nodes that make the cluster "up" (dynamic: other nodes listed; k8s: all nodes) */
  initialNodes: number;
  /** the addresses to discover: dynamic mode the group, k8s mode the pods (may change) */
  scope: () => PeerAddress[] | Promise<PeerAddress[]>;
  timers?: ClusterTimers;
  logger?: Logger;
  now?: () => number;
  /** a management message went out (counted as `sent cluster mgmt`) */
  onSent?: () => void;
  /** first run of the timer after start, ms (reference: 100) */
  firstRun?: number;
}

/** A dynamic/k8s node manager: a NodeResolver fed by PING/PONG. */
export class ClusterManager implements NodeResolver {
  readonly table = new NodeTable();
  private readyFlag: boolean;
  private timer: NodeJS.Timeout | undefined;
  private lastDiscover = 0;
  private running = false;
  /** set by stop(): a discovery still in flight sends nothing */
  private stopped = false;
  private readonly timers: ClusterTimers;
  private readonly now: () => number;
  private readonly o: ManagerOptions;

  constructor(o: ManagerOptions) {
    this.o = o;
    this.timers = o.timers ?? DEFAULT_CLUSTER_TIMERS;
    this.now = o.now ?? Date.now;
    // fewer than 2 initial nodes: ready at once (cluster.md §7.3)
    this.readyFlag = o.initialNodes < 2;
    o.channel.onMessage = (data, from) => this.onMessage(data, from);
  }

  /** The node may serve (cluster.md §7.4). */
  get ready(): boolean {
    return this.readyFlag;
  }

  /** Own state as reported in PING/PONG. */
  get state(): ClusterStateValue {
    return clusterState(this.readyFlag, this.table.size + 1, this.o.initialNodes);
  }

  nodeAddress(nodeId: number): PeerAddress | undefined {
    return this.table.get(nodeId)?.address;
  }

  routerAvailable(router: PeerAddress): boolean {
    return this.table.getByAddress(router) !== undefined;
  }

  isNode(address: PeerAddress): boolean {
    return this.table.getByAddress(address) !== undefined;
  }

  /**
   * Starts the timer (first run after 100 ms, then every TIMER_INTERVAL). Recommended deviation from the
   * reference (cluster.md §7.3): it runs whenever there is a scope to discover, also for initial node
   * counts below 2, so a two-node dynamic cluster finds its other node.
   */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.stopped = false;
    const tick = (): void => {
      if (!this.running) return;
      void this.runTimer().finally(() => {
        if (this.running) this.timer = setTimeout(tick, this.timers.interval);
      });
    };
    this.timer = setTimeout(tick, this.o.firstRun ?? 100);
  }

  stop(): void {
    this.running = false;
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** One run of the management timer (cluster.md §7.3 steps 1-3). */
  async runTimer(): Promise<void> {
    const now = this.now();
    const ping = encodeMgmtMessage({ type: MGMT_PING, nodeId: this.o.nodeId, state: this.state });
    let expired = false;
    for (const e of shuffle(this.table.entries())) {
      const age = now - e.lastUpdate;
      if (age > this.timers.refresh + this.timers.expiration) {
        this.table.remove(e);
        expired = true;
        this.o.logger?.info({ node: e.nodeId, address: e.key }, 'cluster: node expired');
      } else if (age > this.timers.refresh) {
        this.send(ping, e.address, false);
      }
    }
    if (expired || this.table.size === 0 || now - this.lastDiscover >= this.timers.discover) {
      this.lastDiscover = now;
      let scope: PeerAddress[];
      try {
        scope = await this.o.scope();
      } catch (err) {
        this.o.logger?.warn({ err }, 'cluster: discovery failed');
        scope = [];
      }
      if (this.stopped) return;
      for (const a of shuffle(scope)) {
        if (this.table.getByAddress(a) === undefined) this.send(ping, a, true);
      }
    }
  }

  /** A management message from `from` (cluster.md §6.2). */
  onMessage(data: Buffer, from: PeerAddress): void {
    const m = decodeMgmtMessage(data);
    if (m === undefined || m.nodeId === this.o.nodeId) return;
    const entry = this.table.update(m.nodeId, from, m.state, this.now());
    if (entry === undefined) return;
    const state = clusterState(this.readyFlag, this.table.size + 1, this.o.initialNodes, m.state);
    if (m.type === MGMT_PING) this.send(encodeMgmtMessage({ type: MGMT_PONG, nodeId: this.o.nodeId, state }), from, false);
    if (!this.readyFlag && state !== ClusterState.START) {
      const n = this.table.countUp() + 1;
      if (n >= this.o.initialNodes || state === ClusterState.INITIALIZED) {
        this.readyFlag = true;
        this.o.logger?.info({ node: this.o.nodeId, nodes: this.table.size + 1, state: stateName(state) }, 'cluster: node ready');
        const ping = encodeMgmtMessage({ type: MGMT_PING, nodeId: this.o.nodeId, state: ClusterState.INITIALIZED });
        for (const e of shuffle(this.table.entries())) this.send(ping, e.address, false);
      }
    }
  }

  private send(data: Buffer, to: PeerAddress, fresh: boolean): void {
    this.o.onSent?.();
    this.o.channel.send(data, to, fresh);
  }
}

/** The addresses as `peerKey` strings (logs). */
export function addressKeys(list: readonly PeerAddress[]): string[] {
  return list.map((a) => peerKey(a.address, a.port));
}

/** A shuffled copy (the reference pings in random order). */
function shuffle<T>(items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}

// The coaps endpoints of one worker (issue 13): per public address a cluster node (cluster.md §3, static mode) whose
// DTLS socket shares the public port with the other workers' (SO_REUSEPORT) and whose CIDs begin with the worker
// index (DtlsConfig.nodeId). A record with another worker's CID (the kernel spreads datagrams by the client's
// address, so a client whose address changed may reach any worker) is forwarded, with the client's address, to
// that worker's management socket on loopback; the owner answers straight from its own socket on the public port
// (direct mode: no second hop back).
//
// Each public address forms its own small cluster (worker j's node on address A forwards only to the nodes on A),
// so a forwarded record enters the connector that holds its connection. The management ports are ephemeral: each
// worker reports its own in its ready message and the primary sends every worker the whole table (WorkerMgmtTable)
// whenever a worker (re)starts.
import type { Logger } from 'pino';
import { ClusterConnector } from '../cluster/cluster-connector.js';
import { ClusterTransport } from '../cluster/cluster-transport.js';
import { staticResolver } from '../cluster/resolver.js';
import { WORKER_LOOPBACK } from '../cluster/setup.js';
import type { DtlsConfig } from '../dtls/config.js';
import type { DtlsConnector } from '../dtls/connector.js';
import type { PeerAddress } from '../transport/connector.js';
import type { DatagramTransport } from '../transport/datagram.js';

/** Where the workers' management sockets listen (loopback only: the forwarding never leaves the host). */
export const WORKER_MGMT_ADDRESS = WORKER_LOOPBACK;

/** Management ports of the workers: worker index → public bind address → management port. */
export type WorkerMgmtTable = Record<number, Record<string, number>>;

/** Settings of one worker's coaps node on one public address. */
export interface WorkerNodeOptions {
  /** public bind address and coaps port */
  address: string;
  port: number;
  /** worker index = node-id of the CIDs (0..255) */
  index: number;
  config: DtlsConfig;
  receiveBufferSize?: number;
  sendBufferSize?: number;
  /** creates the DTLS connector on the node's transport (credentials are the server's) */
  connector: (address: string, port: number, config: DtlsConfig, transport: DatagramTransport) => DtlsConnector;
  logger?: Logger;
}

/** The coaps connector of a worker on one public address. */
export function createWorkerNode(o: WorkerNodeOptions): ClusterConnector {
  if (o.index < 0 || o.index > 255) throw new RangeError(`worker index ${o.index} out of range 0..255`);
  // without CIDs there is nothing to route: the node-id needs CIDs of at least 5 bytes (connection-store.ts)
  const config: DtlsConfig = (o.config.cidLength ?? 0) > 0 ? { ...o.config, nodeId: o.index } : o.config;
  const transport = new ClusterTransport({
    dtls: { address: o.address, port: o.port, receiveBufferSize: o.receiveBufferSize, sendBufferSize: o.sendBufferSize, reusePort: true },
    mgmt: { address: WORKER_MGMT_ADDRESS, port: 0 },
    nodeId: o.index,
    backward: false,
    mac: false,
    resolver: staticResolver(new Map()),
    ...(o.logger !== undefined ? { logger: o.logger } : {}),
  });
  return new ClusterConnector(o.connector(o.address, o.port, config, transport), transport);
}

/**
 * This worker's loopback ports by public bind address (for its ready message): a worker node's management port, or
 * a cluster node's worker socket (a worker of a cluster node, cluster/setup.ts).
 */
export function ownMgmtPorts(nodes: readonly ClusterConnector[]): Record<string, number> {
  return Object.fromEntries(nodes.map((n) => [n.transport.localAddress, n.transport.workerPort || n.transport.mgmtPort]));
}

/**
 * Points every node's forwarding at the other workers' nodes on the same public address: a worker node's node
 * resolver (its CIDs' node-id is the worker index), a cluster node's worker resolver (CID byte 1).
 */
export function applyMgmtTable(nodes: readonly ClusterConnector[], own: number, table: WorkerMgmtTable): void {
  for (const node of nodes) {
    const others = new Map<number, PeerAddress>();
    for (const [index, ports] of Object.entries(table)) {
      const worker = Number(index);
      const port = ports[node.transport.localAddress];
      if (worker !== own && port !== undefined) others.set(worker, { address: WORKER_MGMT_ADDRESS, port });
    }
    if (node.transport.workerPort > 0) node.transport.workerResolver = staticResolver(others);
    else node.transport.resolver = staticResolver(others);
  }
}

/** A well-formed table message from the primary. */
export function isMgmtTable(value: unknown): value is WorkerMgmtTable {
  if (typeof value !== 'object' || value === null) return false;
  return Object.entries(value).every(
    ([k, v]) => /^\d+$/.test(k) && typeof v === 'object' && v !== null && Object.values(v as object).every((p) => Number.isInteger(p) && p > 0 && p < 65536),
  );
}

// What the primary checks before it forks workers (issue 13): the set-up features that cannot run with several
// workers, and that the extended server's public ports are free. The workers bind them with SO_REUSEPORT, which
// the kernel lets any process of the same user share: a second server of the same user would silently take half of
// the traffic, so the primary first binds every port exclusively itself and fails start-up if one is taken.
import dgram from 'node:dgram';
import net, { isIP } from 'node:net';
import { parseClusterNode, parseK8sCluster } from '../cli/address.js';
import type { HostPort } from '../cluster/setup.js';
import type { ServerOptions } from '../cli/options.js';
import { STORE_URL } from '../config/keys-cluster.js';
import { CONNECTION_ID_LENGTH, CONNECTION_ID_NODE_ID } from '../config/keys-dtls.js';
import { WORKERS } from '../config/keys-server.js';
import { loadProperties, portsFor } from '../config/index.js';
import { bindAddressOf, selectAddresses } from '../server/interfaces.js';
import type { PeerAddress } from '../transport/connector.js';
import type { WorkerSetup } from './worker-count.js';
import { componentLabel } from '../restart/stream.js';

/** The set-up and public ports of the extended server as the workers will run it. */
export interface WorkerPlan {
  setup: WorkerSetup;
  /** WORKERS of the properties */
  workersProperty: number | undefined;
  /** every address and UDP port the workers bind (coaps, and coap unless --dtls-only) */
  ports: PeerAddress[];
  /** every address and TCP port the workers bind (coap+tcp and coaps+tcp with --tcp, unless --dtls-only) */
  tcpPorts: PeerAddress[];
  /** the store-file labels of the workers' coaps endpoints (restart/stream.ts componentLabel) */
  coapsLabels: Set<string>;
  /** the CID byte that names the worker: 0 (its node-id), 1 in a cluster (byte 0 is the cluster node's) */
  cidWorkerByte: 0 | 1;
}

/** Reads the options and the properties of `cwd` (creates the file with defaults; throws the start-up errors the server would report). */
export function workerPlanOf(opts: ServerOptions, cwd: string): WorkerPlan {
  const props = loadProperties(cwd);
  // the local cluster nodes (static, dynamic, k8s): their DTLS and management ports instead of the coaps ports
  const localNodes: Array<{ dtls?: HostPort; mgmt: HostPort }> = (opts.dtlsCluster ?? []).map(parseClusterNode).filter((n) => n.dtls !== undefined);
  if (opts.k8sDtlsCluster !== undefined) localNodes.push(parseK8sCluster(opts.k8sDtlsCluster));
  const cluster = localNodes.length > 0;
  const setup: WorkerSetup = {
    cidLength: props.getFor<number>('extended', CONNECTION_ID_LENGTH) ?? 0,
    nodeId: props.getFor<number>('extended', CONNECTION_ID_NODE_ID),
    clusterStore: cluster && ((opts.dtlsClusterStore ?? '') !== '' || (props.get<string>(STORE_URL) ?? '') !== ''),
  };
  const addresses = selectAddresses({ loopback: opts.loopback, external: opts.external, ipv4: opts.ipv4, ipv6: opts.ipv6, patterns: opts.interfacesPattern });
  const { coap, coaps } = portsFor(props, 'extended');
  const ports: PeerAddress[] = [];
  const tcpPorts: PeerAddress[] = [];
  const coapsLabels = new Set<string>();
  // the coaps endpoints: a cluster's local nodes (with their management ports), the restore mode's wildcard
  // endpoint (server/app.ts addRestoreEndpoint), or one per address
  const restore = opts.k8sRestore !== undefined || opts.localRestore !== undefined;
  if (cluster) {
    for (const n of localNodes) {
      const dtls = { address: n.dtls!.host ?? '0.0.0.0', port: n.dtls!.port };
      coapsLabels.add(componentLabel(dtls.address, dtls.port));
      // a host name is resolved by the cluster set-up; only literal addresses are checked here
      if (isIP(dtls.address) !== 0) ports.push(dtls);
      const mgmt = n.mgmt.host ?? '0.0.0.0';
      if (isIP(mgmt) !== 0) ports.push({ address: mgmt, port: n.mgmt.port });
    }
  } else if (restore) {
    coapsLabels.add(componentLabel('0.0.0.0', coaps));
    ports.push({ address: '0.0.0.0', port: coaps });
  }
  for (const a of addresses) {
    if (!cluster && !restore) {
      coapsLabels.add(componentLabel(bindAddressOf(a), coaps));
      ports.push({ address: bindAddressOf(a), port: coaps });
    }
    if (!opts.dtlsOnly) ports.push({ address: bindAddressOf(a), port: coap });
    if (!opts.dtlsOnly && opts.tcp) for (const port of [coap, coaps]) tcpPorts.push({ address: bindAddressOf(a), port });
  }
  return { setup, workersProperty: props.get<number>(WORKERS), ports, tcpPorts, coapsLabels, cidWorkerByte: cluster ? 1 : 0 };
}

/** Binds each address and UDP port, then each TCP port, exclusively and releases it again; rejects naming the first one taken. */
export async function checkPortsFree(ports: readonly PeerAddress[], tcpPorts: readonly PeerAddress[] = []): Promise<void> {
  await checkUdpPortsFree(ports);
  for (const p of tcpPorts) {
    await new Promise<void>((resolve, reject) => {
      const server = net.createServer();
      server.once('error', (err) => reject(new Error(`cannot bind endpoint: TCP ${where(p)} is in use (${(err as NodeJS.ErrnoException).code ?? err.message})`)));
      server.listen({ host: p.address, port: p.port, exclusive: true }, () => server.close(() => resolve()));
    });
  }
}

function where(p: PeerAddress): string {
  return p.address.includes(':') ? `[${p.address}]:${p.port}` : `${p.address}:${p.port}`;
}

async function checkUdpPortsFree(ports: readonly PeerAddress[]): Promise<void> {
  for (const p of ports) {
    const type = p.address.includes(':') ? 'udp6' : 'udp4';
    const socket = dgram.createSocket({ type, ipv6Only: type === 'udp6' });
    await new Promise<void>((resolve, reject) => {
      socket.once('error', (err) => {
        socket.close();
        reject(new Error(`cannot bind endpoint: UDP ${where(p)} is in use (${(err as NodeJS.ErrnoException).code ?? err.message})`));
      });
      socket.bind({ address: p.address, port: p.port, exclusive: true }, () => socket.close(() => resolve()));
    });
  }
}

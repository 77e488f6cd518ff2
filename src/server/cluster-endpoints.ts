// The extended server's DTLS CID cluster endpoints (cli.md §3.3): the cluster flags mapped to the
// cluster module's options, one coaps endpoint per local node, and the wait for readiness (cli.md §4.11).
import type { Logger } from 'pino';
import { ClusterConnector } from '../cluster/cluster-connector.js';
import { createClusterConnectors, type ClusterSetupOptions, type K8sClusterSource } from '../cluster/setup.js';
import type { CoapServer } from '../coap/server.js';
import { parseAddress, parseClusterNode, parseK8sCluster } from '../cli/address.js';
import type { ServerOptions } from '../cli/options.js';
import { stackConfigFor, type Properties } from '../config/index.js';
import {
  DISCOVER_INTERVAL,
  EXPIRATION_TIME,
  REFRESH_INTERVAL,
  STORE_CHECKPOINT_INTERVAL,
  STORE_CHECKPOINT_RECORDS,
  STORE_ENTRY_LIFETIME,
  STORE_SEQUENCE_MARGIN,
  STORE_TIMEOUT,
  STORE_URL,
  TIMER_INTERVAL,
} from '../config/keys-cluster.js';
import { createServerDtlsConnector, dtlsPeerOf, serverDtlsConfig, type ServerCredentials } from './dtls-endpoints.js';
import { createK8sClusterSource } from '../cluster/k8s-source.js';

/** The cluster options of the command line, or undefined without a cluster flag. */
export function clusterOptionsOf(opts: ServerOptions, props: Properties): ClusterSetupOptions | undefined {
  const nodes = opts.dtlsCluster?.map(parseClusterNode);
  const k8s = opts.k8sDtlsCluster !== undefined ? parseK8sCluster(opts.k8sDtlsCluster) : undefined;
  if ((nodes === undefined || nodes.length === 0) && k8s === undefined) return undefined;
  return {
    ...(nodes !== undefined ? { nodes } : {}),
    ...(opts.dtlsClusterGroup !== undefined ? { group: opts.dtlsClusterGroup.map(parseAddress) } : {}),
    ...(opts.dtlsClusterGroupSecurity !== undefined ? { groupSecurity: opts.dtlsClusterGroupSecurity } : {}),
    ...(k8s !== undefined ? { k8s } : {}),
    backward: opts.dtlsClusterBackward,
    ...(opts.dtlsClusterMac !== undefined ? { mac: opts.dtlsClusterMac } : {}),
    timers: {
      interval: props.number(TIMER_INTERVAL),
      refresh: props.number(REFRESH_INTERVAL),
      discover: props.number(DISCOVER_INTERVAL),
      expiration: props.number(EXPIRATION_TIME),
    },
    ...storeOptionsOf(opts, props),
    receiveBufferSize: props.get<number>('DTLS.RECEIVE_BUFFER_SIZE'),
    sendBufferSize: props.get<number>('DTLS.SEND_BUFFER_SIZE'),
  };
}

/** The shared connection store (issue 12): --dtls-cluster-store, else CLUSTER_STORE.URL; none when both are empty. */
function storeOptionsOf(opts: ServerOptions, props: Properties): Pick<ClusterSetupOptions, 'store'> {
  const url = opts.dtlsClusterStore ?? props.get<string>(STORE_URL);
  if (url === undefined || url === '') return {};
  return {
    store: {
      url,
      checkpointRecords: props.number(STORE_CHECKPOINT_RECORDS),
      checkpointInterval: props.number(STORE_CHECKPOINT_INTERVAL),
      sequenceMargin: props.number(STORE_SEQUENCE_MARGIN),
      entryLifetime: props.number(STORE_ENTRY_LIFETIME),
      timeout: props.number(STORE_TIMEOUT),
    },
  };
}

/** Adds one coaps endpoint per local cluster node to the extended server; throws with the reference's messages. */
export async function createClusterEndpoints(
  server: CoapServer,
  o: ClusterSetupOptions,
  props: Properties,
  opts: ServerOptions,
  creds: ServerCredentials,
  logger: Logger,
  k8s: K8sClusterSource | undefined = o.k8s !== undefined ? createK8sClusterSource(logger) : undefined,
): Promise<ClusterConnector[]> {
  const config = serverDtlsConfig(props, 'extended', opts);
  const connectors = await createClusterConnectors(
    o,
    config,
    (address, port, nodeConfig, transport) => createServerDtlsConnector(address, port, nodeConfig, creds, logger, transport),
    logger,
    k8s,
  );
  const stack = stackConfigFor(props, 'extended', false);
  for (const c of connectors) server.addEndpoint(c, stack, dtlsPeerOf);
  return connectors;
}

/**
 * Polls every 500 ms until every node is ready (cli.md §4 step 11) and logs it once; cancel() stops polling. A
 * relaying worker's nodes are left to worker 0, which runs their managers (it alone logs `cluster ready`).
 */
export function waitForClusterReady(all: readonly ClusterConnector[], logger: Logger): { ready: Promise<boolean>; cancel(): void } {
  const nodes = all.filter((n) => !n.transport.relaying);
  if (nodes.length === 0) return { ready: Promise.resolve(true), cancel() {} };
  let timer: NodeJS.Timeout | undefined;
  let cancelled = false;
  const ready = new Promise<boolean>((resolve) => {
    const poll = (): void => {
      if (cancelled) return resolve(false);
      if (nodes.every((n) => n.ready)) {
        logger.info({ nodes: nodes.map((n) => n.nodeId) }, 'cluster ready');
        return resolve(true);
      }
      timer = setTimeout(poll, 500);
      timer.unref();
    };
    poll();
  });
  return {
    ready,
    cancel() {
      cancelled = true;
      if (timer) clearTimeout(timer);
    },
  };
}

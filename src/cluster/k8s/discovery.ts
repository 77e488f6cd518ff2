// k8s cluster preparation and discovery (cluster.md §8, §7.3): node-id, label selector and initial node
// count from the own pod; the discover scope from the pods selected by that selector.
import type { Logger } from 'pino';
import { createK8sApi, type K8sApi } from './api.js';
import { describeK8sEnv, type K8sEnv } from './env.js';
import { deriveNodeId } from './node-id.js';
import type { K8sPod } from './pod.js';

/** A management address of another node: pod IP and the external management port. */
export interface ScopeAddress {
  address: string;
  port: number;
}

/** What a cluster node learns at start-up; `discoverScope` lists the other nodes' management addresses. */
export interface K8sClusterSetup {
  nodeId: number;
  /** Raw label selector of the cluster's pods; undefined → discovery lists all pods of the namespace. */
  selector?: string;
  /** Own pod label `initialDtlsClusterNodes` (all nodes including this one), 0 if missing. */
  initialNodes: number;
  ownPod?: K8sPod;
  api: K8sApi;
  discoverScope(externalMgmtPort: number): Promise<ScopeAddress[]>;
}

/** What discoverScope needs. */
export interface K8sDiscoverContext {
  api: K8sApi;
  hostName: string;
  selector?: string;
  logger: Logger;
}

/** Own pod label with the initial number of cluster nodes. */
export const INITIAL_NODES_LABEL = 'initialDtlsClusterNodes';

/**
 * Start-up of the k8s cluster mode (cli.md §4 step 3). Throws K8sConfigError when no node-id can be
 * derived (`node-id not available!`); an unreadable own pod is logged (warn) and gives no selector
 * (unless KUBECTL_SELECTOR is set) and 0 initial nodes.
 */
export async function prepareK8sCluster(options: { env: K8sEnv; logger: Logger; api?: K8sApi }): Promise<K8sClusterSetup> {
  const { env, logger } = options;
  logger.info(describeK8sEnv(env));
  for (const warning of env.warnings) logger.warn(`k8s: ${warning}`);
  const nodeId = deriveNodeId(env.nodeIdValue, env.hostName);
  const api = options.api ?? createK8sApi(env);
  const ownPod = await readOwnPod(api, env.hostName, logger);
  const selector = env.selector ?? selectorFromOwnPod(env, ownPod, logger);
  const initialNodes = ownPod ? initialNodesOf(ownPod, logger) : 0;
  if (!ownPod) {
    logger.warn(
      `k8s: own pod '${env.hostName}' not available: ${selector ? '' : 'no label selector (discovery lists all pods of the namespace) and '}` +
        `no ${INITIAL_NODES_LABEL} label (0 initial nodes, so no cluster management timer will run)!`,
    );
  }
  logger.info(`k8s: node-id ${nodeId}, selector ${selector ?? '(none)'}, initial nodes ${initialNodes}`);
  const context: K8sDiscoverContext = { api, hostName: env.hostName, selector, logger };
  return { nodeId, selector, initialNodes, ownPod, api, discoverScope: (port) => discoverScope(context, port) };
}

/** Reads the own pod; undefined (logged as error) if that fails. */
export async function readOwnPod(api: K8sApi, hostName: string, logger: Logger): Promise<K8sPod | undefined> {
  try {
    const pod = await api.getPod(hostName);
    logger.info(`k8s: own pod ${describePod(pod)}`);
    return pod;
  } catch (err) {
    logger.error(`k8s: reading own pod '${hostName}' failed: ${(err as Error).message}`);
    return undefined;
  }
}

/**
 * Management addresses of every selected pod that has an IP and is not this pod (§8). Errors are logged
 * and give an empty scope.
 */
export async function discoverScope(context: K8sDiscoverContext, externalMgmtPort: number): Promise<ScopeAddress[]> {
  let pods: K8sPod[];
  try {
    pods = await context.api.listPods(context.selector);
  } catch (err) {
    context.logger.warn(`k8s: discovery failed: ${(err as Error).message}`);
    return [];
  }
  const scope = pods
    .filter((pod) => pod.ip !== undefined && pod.name !== context.hostName)
    .map((pod) => ({ address: pod.ip!, port: externalMgmtPort }));
  context.logger.debug(`k8s: discovered ${scope.map((a) => a.address).join(', ') || 'no other pods'}`);
  return scope;
}

/** Short text of a pod for logs. */
export function describePod(pod: K8sPod): string {
  return `${pod.name} (${pod.ip ?? 'no IP'}, ${pod.phase ?? 'no phase'}, ${pod.ready ? 'ready' : 'not ready'})`;
}

// `<label>%3D<value>` of the own pod's selector label.
function selectorFromOwnPod(env: K8sEnv, ownPod: K8sPod | undefined, logger: Logger): string | undefined {
  if (!ownPod) return undefined;
  const value = ownPod.labels[env.selectorLabel];
  if (value === undefined || value === '') {
    logger.warn(`k8s: own pod has no label '${env.selectorLabel}': no label selector, discovery lists all pods of the namespace`);
    return undefined;
  }
  return `${encodeURIComponent(env.selectorLabel)}%3D${encodeURIComponent(value)}`;
}

function initialNodesOf(pod: K8sPod, logger: Logger): number {
  const value = pod.labels[INITIAL_NODES_LABEL];
  if (value === undefined) return 0;
  if (!/^\d+$/.test(value.trim())) {
    logger.warn(`k8s: own pod label ${INITIAL_NODES_LABEL}='${value}' is not a number, using 0`);
    return 0;
  }
  return Number(value.trim());
}

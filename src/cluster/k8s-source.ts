// The k8s mode's K8sClusterSource (cluster.md §8): node-id, initial node count and management PSK from
// the environment and the own pod; the discover scope from the pods of the cluster's label selector.
import type { Logger } from 'pino';
import { prepareK8sCluster, type K8sClusterSetup } from './k8s/discovery.js';
import { readK8sEnv, type K8sEnvSource } from './k8s/env.js';
import type { K8sClusterSource } from './setup.js';

/** A K8sClusterSource on the Kubernetes API named by the environment (injectable for tests). */
export function createK8sClusterSource(logger: Logger, source: K8sEnvSource = {}): K8sClusterSource {
  let setup: K8sClusterSetup | undefined;
  return {
    async prepare() {
      const env = readK8sEnv(source);
      setup = await prepareK8sCluster({ env, logger });
      return { nodeId: setup.nodeId, initialNodes: setup.initialNodes, ...(env.mgmtPsk ? { mgmtPsk: env.mgmtPsk } : {}) };
    },
    scope: (port) => (setup !== undefined ? setup.discoverScope(port) : Promise.resolve([])),
  };
}

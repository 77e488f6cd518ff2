// The node-id of a k8s cluster node (cluster.md §2, cli.md §2.2): KUBECTL_NODE_ID, else the host-name suffix.
import { K8sConfigError } from './errors.js';

/** The start-up error when no node-id can be derived (cli.md §2.2, exact text). */
export const NODE_ID_NOT_AVAILABLE = 'node-id not available!';

/**
 * Node-id from KUBECTL_NODE_ID (if given) or the digits after the last `-` of the host name
 * (`cf-extserver-a-2` → 2). Throws K8sConfigError: `node-id not available!` if neither gives a number,
 * an explanation if the number is outside 0..255.
 */
export function deriveNodeId(nodeIdValue: string | undefined, hostName: string): number {
  if (nodeIdValue !== undefined && nodeIdValue.trim() !== '') {
    const text = nodeIdValue.trim();
    if (!/^\d+$/.test(text)) {
      throw new K8sConfigError(`KUBECTL_NODE_ID '${nodeIdValue}' is not a node-id (an integer 0..255 is required)`);
    }
    return checkedRange(Number(text), `KUBECTL_NODE_ID '${nodeIdValue}'`);
  }
  const dash = hostName.lastIndexOf('-');
  const suffix = dash < 0 ? '' : hostName.slice(dash + 1);
  if (!/^\d+$/.test(suffix)) throw new K8sConfigError(NODE_ID_NOT_AVAILABLE);
  return checkedRange(Number(suffix), `host name suffix ${suffix} of '${hostName}'`);
}

// The node-id is one byte of the CID (cluster.md §2).
function checkedRange(value: number, what: string): number {
  if (value > 255) {
    throw new K8sConfigError(`${what} is not a node-id: it must be 0..255 (one byte of the DTLS CID); set KUBECTL_NODE_ID`);
  }
  return value;
}

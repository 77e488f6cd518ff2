// Where the other nodes are: the static list of --dtls-cluster (cluster.md §4.2, static mode).
import type { PeerAddress } from '../transport/connector.js';
import { peerKey } from '../transport/connector.js';

/** Looks up other nodes' management addresses for forwarding and backwarding. */
export interface NodeResolver {
  /** management address of another node; undefined when unknown */
  nodeAddress(nodeId: number): PeerAddress | undefined;
  /** true while a router (a management address) belongs to a current node (cluster.md §4.4) */
  routerAvailable(router: PeerAddress): boolean;
  /** true when a management address is another node's: forwarded/backwarded packets from elsewhere are refused */
  isNode(address: PeerAddress): boolean;
  /** the node may serve (static: always; dynamic/k8s: cluster.md §7.4) */
  readonly ready: boolean;
}

/** The static mode's resolver: every other listed node, always available. */
export function staticResolver(nodes: ReadonlyMap<number, PeerAddress>): NodeResolver {
  const keys = new Set([...nodes.values()].map((a) => peerKey(a.address, a.port)));
  return {
    nodeAddress: (nodeId) => nodes.get(nodeId),
    // static mode: a router is always available (cluster.md §4.4)
    routerAvailable: () => true,
    isNode: (address) => keys.has(peerKey(address.address, address.port)),
    ready: true,
  };
}

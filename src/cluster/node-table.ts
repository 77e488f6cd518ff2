// The node table of the dynamic and k8s modes (cluster.md §7.1, §7.2): other nodes by id and by
// management address, with their reported state and the time they were last heard from.
import type { PeerAddress } from '../transport/connector.js';
import { peerKey } from '../transport/connector.js';
import { ClusterState, type ClusterStateValue } from './mgmt-message.js';

/** A known other node. */
export interface NodeEntry {
  nodeId: number;
  /** its management address (source of its pings/pongs) */
  address: PeerAddress;
  /** peerKey of address */
  key: string;
  /** last ping or pong, ms */
  lastUpdate: number;
  /** state it reported */
  state: ClusterStateValue;
}

/** Largest number of nodes a table keeps (node-ids are 0..255). */
const MAX_NODES = 256;

/** Other nodes by id and by management address; one entry per id and per address. */
export class NodeTable {
  private readonly byId = new Map<number, NodeEntry>();
  private readonly byAddress = new Map<string, NodeEntry>();

  /** Number of known other nodes. */
  get size(): number {
    return this.byId.size;
  }

  /** Records a ping/pong of `nodeId` from `address`; an entry that had this address under another id is dropped. */
  update(nodeId: number, address: PeerAddress, state: ClusterStateValue, now: number): NodeEntry | undefined {
    const key = peerKey(address.address, address.port);
    const other = this.byAddress.get(key);
    if (other !== undefined && other.nodeId !== nodeId) this.remove(other);
    let entry = this.byId.get(nodeId);
    if (entry === undefined) {
      if (this.byId.size >= MAX_NODES) return undefined;
      entry = { nodeId, address, key, lastUpdate: now, state };
      this.byId.set(nodeId, entry);
    } else if (entry.key !== key) {
      this.byAddress.delete(entry.key);
      entry.address = address;
      entry.key = key;
    }
    entry.lastUpdate = now;
    entry.state = state;
    this.byAddress.set(key, entry);
    return entry;
  }

  /** The entry of a node-id. */
  get(nodeId: number): NodeEntry | undefined {
    return this.byId.get(nodeId);
  }

  /** The entry of a management address. */
  getByAddress(address: PeerAddress): NodeEntry | undefined {
    return this.byAddress.get(peerKey(address.address, address.port));
  }

  /** Removes an entry. */
  remove(entry: NodeEntry): void {
    if (this.byId.get(entry.nodeId) === entry) this.byId.delete(entry.nodeId);
    if (this.byAddress.get(entry.key) === entry) this.byAddress.delete(entry.key);
  }

  /** All entries. */
  entries(): NodeEntry[] {
    return [...this.byId.values()];
  }

  /** Number of entries whose reported state is UP or INITIALIZED. */
  countUp(): number {
    let n = 0;
    for (const e of this.byId.values()) if (e.state !== ClusterState.START) n++;
    return n;
  }
}

/**
 * Own cluster state (cluster.md §7.2): INITIALIZED once ready or when the other node is; UP when the
 * cluster has its initial size (`size` = known nodes + 1); START otherwise.
 */
export function clusterState(ready: boolean, size: number, initialNodes: number, foreign?: ClusterStateValue): ClusterStateValue {
  if (ready) return ClusterState.INITIALIZED;
  if (foreign === ClusterState.INITIALIZED) return ClusterState.INITIALIZED;
  if (size >= initialNodes) return ClusterState.UP;
  return ClusterState.START;
}

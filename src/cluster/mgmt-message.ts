// Management channel messages (cluster.md §6.2): PING and PONG, 6 bytes each.

/** PING: a node announces itself and asks for a PONG. */
export const MGMT_PING = 61;
/** PONG: the answer to a PING. */
export const MGMT_PONG = 60;
/** Length of a PING/PONG. */
export const MGMT_MESSAGE_LENGTH = 6;

/** Cluster state a node reports (cluster.md §7.2). */
export const ClusterState = { START: 0, UP: 1, INITIALIZED: 2 } as const;
/** One of the ClusterState values. */
export type ClusterStateValue = (typeof ClusterState)[keyof typeof ClusterState];

/** Name of a state for logs. */
export function stateName(state: number): string {
  return state === ClusterState.UP ? 'UP' : state === ClusterState.INITIALIZED ? 'INITIALIZED' : 'START';
}

/** A decoded PING or PONG. */
export interface MgmtMessage {
  type: typeof MGMT_PING | typeof MGMT_PONG;
  /** sender node-id (32-bit little-endian on the wire) */
  nodeId: number;
  state: ClusterStateValue;
}

/** Encodes a PING or PONG: type, node-id (uint32 little-endian), state. */
export function encodeMgmtMessage(m: MgmtMessage): Buffer {
  const b = Buffer.alloc(MGMT_MESSAGE_LENGTH);
  b[0] = m.type;
  b.writeUInt32LE(m.nodeId >>> 0, 1);
  b[5] = m.state;
  return b;
}

/** Decodes a PING or PONG; undefined for shorter messages, other types or an unknown state. */
export function decodeMgmtMessage(data: Buffer): MgmtMessage | undefined {
  if (data.length < MGMT_MESSAGE_LENGTH) return undefined;
  const type = data[0];
  if (type !== MGMT_PING && type !== MGMT_PONG) return undefined;
  const state = data[5]!;
  if (state > ClusterState.INITIALIZED) return undefined;
  return { type, nodeId: data.readUInt32LE(1), state: state as ClusterStateValue };
}

// The cluster forwarding header (cluster.md §4.1): type, client port (little-endian), address length,
// client address, optional 8-byte MAC, then the DTLS datagram or record unchanged.
import type { PeerAddress } from '../transport/connector.js';
import { bytesToAddress, ipToBytes } from '../transport/address-bytes.js';

/** Forwarded record: to the node owning the CID (RECORD_TYPE_INCOMING). */
export const RECORD_TYPE_INCOMING = 63;
/** Backwarded record: to the node that received the original record (RECORD_TYPE_OUTGOING). */
export const RECORD_TYPE_OUTGOING = 62;
/** Length of the cluster MAC field (cluster.md §5). */
export const CLUSTER_MAC_LENGTH = 8;
/** Largest header: type, port, length, IPv6 address, MAC (4 + 16 + 8). */
export const MAX_CLUSTER_HEADER_LENGTH = 28;
/** Shortest DTLS record: the 13-byte header plus a minimal protected payload (cluster.md §4.3). */
const MIN_RECORD_PART = 25;
/** Shortest accepted cluster packet (cluster.md §4.3). */
const MIN_PACKET_LENGTH = 33;

/** A decoded cluster packet; the offsets point into the packet it was decoded from. */
export interface ClusterPacket {
  /** RECORD_TYPE_INCOMING or RECORD_TYPE_OUTGOING */
  type: number;
  /** the client's address (the source of the original datagram, or the destination of the answer) */
  client: PeerAddress;
  /** length of type, port, length and address (4 + L): the header part the MAC covers */
  headerLength: number;
  /** offset of the DTLS bytes (after the MAC, if any) */
  payloadOffset: number;
}

/**
 * Builds a cluster packet with room for a MAC of `macLength` bytes (written later by the caller, at
 * offset headerLength); undefined when the client address is no IP literal.
 */
export function encodeClusterPacket(type: number, client: PeerAddress, payload: Buffer, macLength: number): { packet: Buffer; headerLength: number } | undefined {
  const ip = ipToBytes(client.address);
  if (ip === undefined) return undefined;
  const headerLength = 4 + ip.length;
  const packet = Buffer.allocUnsafe(headerLength + macLength + payload.length);
  packet[0] = type;
  packet.writeUInt16LE(client.port, 1);
  packet[3] = ip.length;
  ip.copy(packet, 4);
  if (macLength > 0) packet.fill(0, headerLength, headerLength + macLength);
  payload.copy(packet, headerLength + macLength);
  return { packet, headerLength };
}

/** Decodes a type 63/62 packet; undefined when it is too short or its address length is not 4 or 16. */
export function decodeClusterPacket(packet: Buffer, macLength: number): ClusterPacket | undefined {
  if (packet.length < MIN_PACKET_LENGTH) return undefined;
  const type = packet[0]!;
  if (type !== RECORD_TYPE_INCOMING && type !== RECORD_TYPE_OUTGOING) return undefined;
  const length = packet[3]!;
  if (length !== 4 && length !== 16) return undefined;
  const headerLength = 4 + length;
  if (packet.length <= headerLength + macLength + MIN_RECORD_PART) return undefined;
  const port = packet.readUInt16LE(1);
  const address = bytesToAddress(packet.subarray(4, headerLength));
  return { type, client: { address, port }, headerLength, payloadOffset: headerLength + macLength };
}

// The cluster MAC (cluster.md §5): keys appended to the management session's key expansion, and the
// 8-byte HMAC-SHA256 over the header and (the ends of) the record part.
import { createHmac, createSecretKey, type KeyObject } from 'node:crypto';
import type { CipherSuite } from '../dtls/cipher-suites.js';
import { keyBlockLength } from '../dtls/keys.js';
import { prf } from '../dtls/prf.js';
import { CLUSTER_MAC_LENGTH } from './header.js';

/** The two cluster MAC keys of a management session. */
export interface ClusterMacKeys {
  /** written by the node that initiated the management handshake (DTLS client) */
  client: KeyObject;
  /** written by the node that answered it (DTLS server) */
  server: KeyObject;
}

/**
 * PRF(master, "key expansion", server_random ‖ client_random) extended by 2 × enc_key_length bytes.
 * Reference quirk (verified on the wire): the cluster keys start right after client_write_IV, not after
 * server_write_IV, so the client key overlaps the server IV (for AES_128_CCM_8: bytes 36-51 and 52-67).
 */
export function clusterMacKeys(masterSecret: Buffer, clientRandom: Buffer, serverRandom: Buffer, suite: CipherSuite): ClusterMacKeys {
  const n = suite.encKeyLength;
  const block = prf(masterSecret, 'key expansion', Buffer.concat([serverRandom, clientRandom]), keyBlockLength(suite) + 2 * n);
  const offset = 2 * (suite.macKeyLength + n) + suite.fixedIvLength;
  return {
    client: createSecretKey(block.subarray(offset, offset + n)),
    server: createSecretKey(block.subarray(offset + n, offset + 2 * n)),
  };
}

/** Largest input the MAC covers in full: 64 bytes, header part included. */
const MAC_INPUT_LIMIT = 64;
/** Bytes taken from each end of a longer record part. */
const MAC_PART = 32;

/**
 * MAC of a cluster packet: the first 8 bytes of HMAC-SHA256(key, header ‖ R'), where the header is
 * type, port, length and address ([0, headerLength)) and R' is the record part (after the MAC field),
 * whole when it fits into 64 − headerLength bytes, else its first 32 and last 32 bytes.
 */
export function clusterMac(key: KeyObject, packet: Buffer, headerLength: number, payloadOffset: number): Buffer {
  const hmac = createHmac('sha256', key);
  hmac.update(packet.subarray(0, headerLength));
  const recordLength = packet.length - payloadOffset;
  if (recordLength <= MAC_INPUT_LIMIT - headerLength) {
    hmac.update(packet.subarray(payloadOffset));
  } else {
    hmac.update(packet.subarray(payloadOffset, payloadOffset + MAC_PART));
    hmac.update(packet.subarray(packet.length - MAC_PART));
  }
  return hmac.digest().subarray(0, CLUSTER_MAC_LENGTH);
}

/** Writes the MAC into its field (offset headerLength). */
export function writeClusterMac(key: KeyObject, packet: Buffer, headerLength: number): void {
  clusterMac(key, packet, headerLength, headerLength + CLUSTER_MAC_LENGTH).copy(packet, headerLength);
}

/** True when the packet's MAC field matches (all 8 bytes compared). */
export function verifyClusterMac(key: KeyObject, packet: Buffer, headerLength: number): boolean {
  const mac = clusterMac(key, packet, headerLength, headerLength + CLUSTER_MAC_LENGTH);
  return mac.equals(packet.subarray(headerLength, headerLength + CLUSTER_MAC_LENGTH));
}

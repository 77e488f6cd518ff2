// The NAT's DTLS filter (clients.md §7.3) and the CID peek of a CID-aware load balancer (cluster.md §4.2).
import { cidNodeId, ContentType } from '../dtls/record.js';

/** Minimum length of a DTLS record: 13 bytes header plus at least one byte. */
const DTLS_RECORD_MINIMUM_LENGTH = 14;
/** DTLS major version byte (RFC 6347 §4.1). */
const DTLS_MAJOR = 0xfe;
/** DTLS 1.2 minor version byte. */
const DTLS_1_2_MINOR = 0xfd;
/** DTLS 1.0 minor version byte (HelloVerifyRequest). */
const DTLS_1_0_MINOR = 0xff;
/** Content type handshake (RFC 5246 §6.2.1). */
const HANDSHAKE = 22;
/** Content type tls12_cid (RFC 9146 §4). */
const TLS12_CID = ContentType.TLS12_CID;

/** True for a datagram that looks like a DTLS 1.2 record, or a DTLS 1.0 handshake record (§7.3). */
export function isDtlsRecord(data: Uint8Array): boolean {
  if (data.length < DTLS_RECORD_MINIMUM_LENGTH || data[1] !== DTLS_MAJOR) return false;
  const type = data[0];
  if (data[2] === DTLS_1_2_MINOR) return type === 20 || type === 21 || type === 22 || type === 23 || type === TLS12_CID;
  if (data[2] === DTLS_1_0_MINOR) return type === HANDSHAKE;
  return false;
}

export { cidNodeId };

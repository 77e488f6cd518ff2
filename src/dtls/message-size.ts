// Per-connection application payload limit ("message-size-limit", dtls.md §9).
import type { CipherSuite } from './cipher-suites.js';
import { RECORD_HEADER_LENGTH } from './record.js';

/** IP + UDP overhead assumed per datagram (dtls.md §9): IPv4 20 IP + 8 UDP + 36 options, IPv6 128. */
export const IPV4_OVERHEAD = 64;
/** IPv6 overhead assumed per datagram (dtls.md §9). */
export const IPV6_OVERHEAD = 128;

/** Inputs of the message-size limit. */
export interface MessageSizeParams {
  /** MTU of the bound interface (already capped) */
  mtu: number;
  ipv6: boolean;
  suite: CipherSuite;
  /** length of the CID written to the peer (0 if none) */
  writeCidLength: number;
  /** negotiated max_fragment_length (RFC 6066) or record_size_limit (RFC 8449), if any */
  maxFragmentLength?: number;
}

/**
 * payload = MTU − IP overhead − 13 − write CID; limit = min(payload, negotiated fragment limit)
 * − suite expansion − (1 for the inner content type if a write CID is used) (dtls.md §9).
 */
export function messageSizeLimit(p: MessageSizeParams): number {
  const datagram = p.mtu - (p.ipv6 ? IPV6_OVERHEAD : IPV4_OVERHEAD);
  let limit = datagram - RECORD_HEADER_LENGTH - p.writeCidLength;
  if (p.maxFragmentLength !== undefined && p.maxFragmentLength < limit) limit = p.maxFragmentLength;
  return limit - p.suite.maxExpansion - (p.writeCidLength > 0 ? 1 : 0);
}

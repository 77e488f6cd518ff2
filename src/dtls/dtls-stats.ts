// Counters of a DTLS connector: the health keys of resources.md §2.4 ("DTLS connector statistics")
// plus a separate object of diagnostic details. Plain objects, incremented in place on the hot path.

/** Health counter keys of a DTLS connector, in the order of resources.md §2.4. */
export const DTLS_STATS_KEYS = [
  'connections',
  'handshakes succeeded',
  'handshakes failed',
  'received records',
  'dropped received records',
  'dropped received mac-errors',
  'sending records',
  'dropped sending records',
  'dropped udp messages',
  'pending in jobs',
  'pending out jobs',
  'pending handshake jobs',
] as const;

/** One health counter key. */
export type DtlsStatsKey = (typeof DTLS_STATS_KEYS)[number];

/** The health counters (`connections` is the current store size, the others count up). */
export type DtlsStats = Record<DtlsStatsKey, number>;

/** Diagnostic counters that are not health keys (why records were dropped, HVRs, refusals). */
export interface DtlsDetailStats {
  /** HelloVerifyRequests sent */
  helloVerifyRequests: number;
  /** ClientHellos that passed the cookie check (or skipped it for a resumption) */
  verifiedClientHellos: number;
  /** handshakes refused because the store was full of non-stale connections */
  refusedHandshakes: number;
  /** stale connections evicted to make room */
  evictedConnections: number;
  /** records that could not be framed */
  malformedRecords: number;
  /** records without a matching connection */
  unknownConnection: number;
  /** duplicates / left of the replay window */
  replayed: number;
  /** records dropped while the MAC error filter was active */
  macFilterDrops: number;
  /** flight retransmissions (timer or peer triggered) */
  retransmissions: number;
  /** full handshakes / resumptions completed */
  fullHandshakes: number;
  resumedHandshakes: number;
  /** alerts received / sent */
  alertsReceived: number;
  alertsSent: number;
  /** flood defence: ClientHellos without a valid cookie dropped over DTLS.CLIENT_HELLO_RATE_LIMIT */
  droppedClientHellos: number;
  /** flood defence: cookie-verified ClientHellos dropped over DTLS.HANDSHAKE_START_RATE_LIMIT */
  droppedVerifiedClientHellos: number;
  /** flood defence: handshakes in progress abandoned for newer ones (DTLS.MAX_PENDING_HANDSHAKES[_PER_ADDRESS]) */
  abandonedHandshakes: number;
  /** flood defence: episodes in which a limit engaged (each logged once) */
  floodEpisodes: number;
}

/** Fresh zeroed health counters. */
export function createDtlsStats(): DtlsStats {
  const stats = {} as DtlsStats;
  for (const key of DTLS_STATS_KEYS) stats[key] = 0;
  return stats;
}

/** Fresh zeroed detail counters. */
export function createDtlsDetailStats(): DtlsDetailStats {
  return {
    helloVerifyRequests: 0,
    verifiedClientHellos: 0,
    refusedHandshakes: 0,
    evictedConnections: 0,
    malformedRecords: 0,
    unknownConnection: 0,
    replayed: 0,
    macFilterDrops: 0,
    retransmissions: 0,
    fullHandshakes: 0,
    resumedHandshakes: 0,
    alertsReceived: 0,
    alertsSent: 0,
    droppedClientHellos: 0,
    droppedVerifiedClientHellos: 0,
    abandonedHandshakes: 0,
    floodEpisodes: 0,
  };
}

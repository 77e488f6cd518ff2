// Health counters of a cluster node's DTLS connector (cluster.md §4.5), per period and in total.

/** The counter keys, in the reference's order. */
export const CLUSTER_STATS_KEYS = [
  'forwarded',
  'process forwarded',
  'bad forward',
  'drop forward',
  'backwarded',
  'send backwarded',
  'bad backward',
  'drop backward',
  'sent cluster mgmt',
  'recv cluster mgmt',
  'dropped internal udp',
] as const;

/** One of the cluster counter keys. */
export type ClusterStatsKey = (typeof CLUSTER_STATS_KEYS)[number];

/** Counters of the current period. */
export type ClusterStats = Record<ClusterStatsKey, number>;

/** All counters at zero. */
export function createClusterStats(): ClusterStats {
  const s = {} as ClusterStats;
  for (const k of CLUSTER_STATS_KEYS) s[k] = 0;
  return s;
}

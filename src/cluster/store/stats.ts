// Counters of a cluster node's shared connection store (issue 12), appended to its /diagnose group and in /metrics.

/** The counter keys, as /diagnose shows them. */
export const STORE_STATS_KEYS = [
  'store writes',
  'store deletes',
  'store errors',
  'store conflicts',
  'store refused entries',
  'store sequence limits',
  'store lookups',
  'takeovers',
  'takeover failures',
  'owners learned',
  'checkpoint lag',
] as const;

/** One of the store counter keys. */
export type StoreStatsKey = (typeof STORE_STATS_KEYS)[number];

/** Counters of the current period (`checkpoint lag` is a gauge: the most records written since a connection's last checkpoint). */
export type StoreStats = Record<StoreStatsKey, number>;

/** All counters at zero. */
export function createStoreStats(): StoreStats {
  const s = {} as StoreStats;
  for (const k of STORE_STATS_KEYS) s[k] = 0;
  return s;
}

// System module keys (config.md §6).
import { defineKey, type KeyDef } from './registry.js';

/** Period of the health statistic dumps; > 0 enables the counters used by /diagnose. */
export const HEALTH_STATUS_INTERVAL = defineKey({
  name: 'SYS.HEALTH_STATUS_INTERVAL',
  type: 'time',
  description:
    'Interval of the health statistic dumps in the log. 0 disables them; a value > 0 also enables the statistic counters reported by /diagnose.',
  default: 0,
  ext: 60_000,
  plug: 300_000,
});

/** All keys of this group. */
export const SYS_KEYS: readonly KeyDef[] = [HEALTH_STATUS_INTERVAL];

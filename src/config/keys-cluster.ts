// Cluster manager module keys (config.md §7): the node-management timers of the dynamic and k8s modes.
import { defineKey, type KeyDef } from './registry.js';

/** Period of the node-management timer. */
export const TIMER_INTERVAL = defineKey({
  name: 'CLUSTER_MGMT.TIMER_INTERVAL',
  type: 'time',
  description: 'Period of the cluster node-management timer (dynamic and k8s cluster modes).',
  default: 2000,
  min: 100,
});

/** A known node not heard from for this long is pinged. */
export const REFRESH_INTERVAL = defineKey({
  name: 'CLUSTER_MGMT.REFRESH_INTERVAL',
  type: 'time',
  description: 'A known cluster node not heard from for this long is pinged.',
  default: 4000,
  min: 100,
});

/** Period of probing the discover-scope addresses not yet known. */
export const DISCOVER_INTERVAL = defineKey({
  name: 'CLUSTER_MGMT.DISCOVER_INTERVAL',
  type: 'time',
  description: 'Period of probing the discover-scope addresses (--dtls-cluster-group, or the k8s pods) not yet known.',
  default: 10000,
  min: 100,
});

/** Additional silence after REFRESH_INTERVAL after which a node is removed. */
export const EXPIRATION_TIME = defineKey({
  name: 'CLUSTER_MGMT.EXPIRATION_TIME',
  type: 'time',
  description: 'Additional time after REFRESH_INTERVAL after which a silent cluster node is removed (default: removal after 10 s silence).',
  default: 6000,
  min: 100,
});

/** All keys of this group. */
export const CLUSTER_KEYS: readonly KeyDef[] = [TIMER_INTERVAL, REFRESH_INTERVAL, DISCOVER_INTERVAL, EXPIRATION_TIME];

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

/** Redis of the shared connection store (issue 12); --dtls-cluster-store overrides it. */
export const STORE_URL = defineKey({
  name: 'CLUSTER_STORE.URL',
  type: 'string',
  description:
    'Shared DTLS connection store of a dynamic or k8s cluster (docs/failover.md): redis://host:port. Empty: no store. Needs the cluster secret (--dtls-cluster-group-security or the k8s management PSK). --dtls-cluster-store overrides it.',
});

/** A stored connection is checkpointed after this many records written since its last checkpoint. */
export const STORE_CHECKPOINT_RECORDS = defineKey({
  name: 'CLUSTER_STORE.CHECKPOINT_RECORDS',
  type: 'int',
  description: 'A stored DTLS connection is checkpointed (sequence numbers, replay window) after this many records written since its last checkpoint.',
  default: 1000,
  min: 1,
  max: 1_000_000,
});

/** A changed stored connection is checkpointed at least this often. */
export const STORE_CHECKPOINT_INTERVAL = defineKey({
  name: 'CLUSTER_STORE.CHECKPOINT_INTERVAL',
  type: 'time',
  description: 'A stored DTLS connection that changed since its last checkpoint is checkpointed again after this time.',
  default: 10000,
  min: 100,
});

/** Sequence numbers a node may still write beyond checkpoint + CHECKPOINT_RECORDS while Redis does not answer. */
export const STORE_SEQUENCE_MARGIN = defineKey({
  name: 'CLUSTER_STORE.SEQUENCE_MARGIN',
  type: 'int',
  description:
    'Safety margin of the stored write sequence limit: a node writes at most CHECKPOINT_RECORDS + this many records of a connection beyond its last stored checkpoint (a node taking over starts there), then ends the connection.',
  default: 100000,
  min: 16,
  max: 1_000_000_000,
});

/** Lifetime of a stored entry without a write (Redis expiry): entries of a node that died go away with it. */
export const STORE_ENTRY_LIFETIME = defineKey({
  name: 'CLUSTER_STORE.ENTRY_LIFETIME',
  type: 'time',
  description:
    'A stored DTLS connection entry expires in Redis this long after its last write. The owner writes idle connections again after half of it; entries of a node that died (and was never replaced) expire after it: a device waking up later handshakes again.',
  default: 7 * 24 * 3600 * 1000,
  min: 60_000,
});

/** Redis command timeout of the shared connection store. */
export const STORE_TIMEOUT = defineKey({
  name: 'CLUSTER_STORE.TIMEOUT',
  type: 'time',
  description: 'A command to the shared DTLS connection store not answered within this time fails (counted as store error).',
  default: 2000,
  min: 10,
});

/** All keys of this group. */
export const CLUSTER_KEYS: readonly KeyDef[] = [
  TIMER_INTERVAL,
  REFRESH_INTERVAL,
  DISCOVER_INTERVAL,
  EXPIRATION_TIME,
  STORE_URL,
  STORE_CHECKPOINT_RECORDS,
  STORE_CHECKPOINT_INTERVAL,
  STORE_SEQUENCE_MARGIN,
  STORE_ENTRY_LIFETIME,
  STORE_TIMEOUT,
];

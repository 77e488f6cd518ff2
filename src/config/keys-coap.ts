// CoAP module keys (config.md §2) that mean something to the single-threaded Node stack.
import { defineKey, type KeyDef } from './registry.js';

/** Deduplicator modes of COAP.DEDUPLICATOR. */
export const DEDUPLICATOR_MODES = ['MARK_AND_SWEEP', 'PEERS_MARK_AND_SWEEP', 'CROP_ROTATION', 'NO_DEDUPLICATOR'] as const;

/** UDP and TCP port of coap / coap+tcp endpoints. */
export const COAP_PORT = defineKey({
  name: 'COAP.COAP_PORT',
  type: 'int',
  description: 'CoAP port (coap over UDP and coap+tcp).',
  default: 5683,
  ext: 5783,
  min: 1,
  max: 65535,
});

/** Port of coaps (DTLS) / coaps+tcp (TLS) endpoints. */
export const COAP_SECURE_PORT = defineKey({
  name: 'COAP.COAP_SECURE_PORT',
  type: 'int',
  description: 'CoAP secure port (coaps over DTLS and coaps+tcp over TLS).',
  default: 5684,
  ext: 5784,
  min: 1,
  max: 65535,
});

/** Peers tracked (deduplication, exchange state). */
export const MAX_ACTIVE_PEERS = defineKey({
  name: 'COAP.MAX_ACTIVE_PEERS',
  type: 'int',
  description:
    'Maximum number of active peers kept in the peer state (deduplication); when reached, the least recently active peer and its messages are forgotten (counted in /diagnose as "dedup-evicted peers").',
  default: 150000,
  ext: 1000000,
  plug: 10000,
  min: 1,
});

/** Inactivity after which peer state is evicted. */
export const MAX_PEER_INACTIVITY_PERIOD = defineKey({
  name: 'COAP.MAX_PEER_INACTIVITY_PERIOD',
  type: 'time',
  description: 'Inactivity period after which the state of a peer is evicted.',
  default: 600_000,
  ext: 180_000,
});

/** Initial CON retransmission timeout. */
export const ACK_TIMEOUT = defineKey({
  name: 'COAP.ACK_TIMEOUT',
  type: 'time',
  description: 'Initial acknowledge timeout of CON messages (RFC 7252 ACK_TIMEOUT).',
  default: 2000,
  min: 1,
});

/** Upper bound of the retransmission timeout. */
export const MAX_ACK_TIMEOUT = defineKey({
  name: 'COAP.MAX_ACK_TIMEOUT',
  type: 'time',
  description: 'Upper bound of the acknowledge timeout of retransmitted CON messages.',
  default: 60_000,
  min: 1,
});

/** Random factor of the initial timeout. */
export const ACK_INIT_RANDOM = defineKey({
  name: 'COAP.ACK_INIT_RANDOM',
  type: 'float',
  description: 'Random factor applied to the initial acknowledge timeout (RFC 7252 ACK_RANDOM_FACTOR).',
  default: 1.5,
  min: 1,
});

/** Back-off factor of the retransmission timeout. */
export const ACK_TIMEOUT_SCALE = defineKey({
  name: 'COAP.ACK_TIMEOUT_SCALE',
  type: 'float',
  description: 'Back-off factor applied to the acknowledge timeout on each retransmission.',
  default: 2.0,
  min: 1,
});

/** CON retransmissions. */
export const MAX_RETRANSMIT = defineKey({
  name: 'COAP.MAX_RETRANSMIT',
  type: 'int',
  description: 'Maximum number of retransmissions of a CON message.',
  default: 4,
  min: 1,
});

/** Lifetime of CON exchanges and their deduplication entries. */
export const EXCHANGE_LIFETIME = defineKey({
  name: 'COAP.EXCHANGE_LIFETIME',
  type: 'time',
  description: 'Lifetime of CON exchanges and of their deduplication entries (RFC 7252 EXCHANGE_LIFETIME).',
  default: 247_000,
});

/** Lifetime of NON exchanges. */
export const NON_LIFETIME = defineKey({
  name: 'COAP.NON_LIFETIME',
  type: 'time',
  description: 'Lifetime of NON exchanges (RFC 7252 NON_LIFETIME).',
  default: 145_000,
});

/** Concurrent outstanding interactions per peer. */
export const NSTART = defineKey({
  name: 'COAP.NSTART',
  type: 'int',
  description: 'Maximum number of concurrent outstanding interactions with a peer (RFC 7252 NSTART).',
  default: 1,
  min: 1,
});

/** Start message ids at a random value. */
export const USE_RANDOM_MID_START = defineKey({
  name: 'COAP.USE_RANDOM_MID_START',
  type: 'bool',
  description: 'Start the message ids at a random value.',
  default: true,
});

/** Length of generated tokens / largest accepted token. */
export const TOKEN_SIZE_LIMIT = defineKey({
  name: 'COAP.TOKEN_SIZE_LIMIT',
  type: 'int',
  description: 'Size limit of tokens in bytes.',
  default: 8,
  min: 1,
  max: 8,
});

/** Block size for server-initiated block-wise transfers. */
export const PREFERRED_BLOCK_SIZE = defineKey({
  name: 'COAP.PREFERRED_BLOCK_SIZE',
  type: 'int',
  description: 'Preferred block size of block-wise transfers. Minimum 16.',
  default: 512,
  ext: 1024,
  plug: 64,
  min: 16,
});

/** Payload size above which block-wise transfer is used. */
export const MAX_MESSAGE_SIZE = defineKey({
  name: 'COAP.MAX_MESSAGE_SIZE',
  type: 'int',
  description: 'Maximum payload size; larger payloads use block-wise transfer. Minimum 16.',
  default: 1024,
  plug: 64,
  min: 16,
});

/** Largest body reassembled from Block1 or served. */
export const MAX_RESOURCE_BODY_SIZE = defineKey({
  name: 'COAP.MAX_RESOURCE_BODY_SIZE',
  type: 'int',
  description:
    'Maximum size of a resource body transferred block-wise; also the limit of the rlen query of /benchmark and /echo. 0 disables transparent block-wise transfers.',
  default: 8192,
  min: 0,
});

/** Lifetime of block-wise transfer state. */
export const BLOCKWISE_STATUS_LIFETIME = defineKey({
  name: 'COAP.BLOCKWISE_STATUS_LIFETIME',
  type: 'time',
  description: 'Lifetime of the state of a block-wise transfer.',
  default: 300_000,
});

/** Byte budget of the block-wise transfer state of an endpoint (beyond the reference). */
export const BLOCKWISE_MAX_TOTAL_BYTES = defineKey({
  name: 'COAP.BLOCKWISE_MAX_TOTAL_BYTES',
  type: 'int',
  description:
    'Maximum bytes of all block-wise transfer bodies an endpoint keeps (Block1 bodies being reassembled and Block2 bodies being served); when exceeded, the least recently used transfers are evicted (counted in /diagnose as "blockwise-evicted by bytes"). Not a Californium key.',
  default: 16 * 1024 * 1024,
  min: 1024,
});

/** Cleanup interval of block-wise transfer state. */
export const BLOCKWISE_STATUS_INTERVAL = defineKey({
  name: 'COAP.BLOCKWISE_STATUS_INTERVAL',
  type: 'time',
  description: 'Interval to remove expired block-wise transfer states.',
  default: 5000,
  min: 1,
});

/** Add Block2 even if not required. */
export const BLOCKWISE_STRICT_BLOCK2_OPTION = defineKey({
  name: 'COAP.BLOCKWISE_STRICT_BLOCK2_OPTION',
  type: 'bool',
  description: 'Add the Block2 option to responses even if the response fits into one message.',
  default: false,
});

/** Fail over to block-wise transfer on 4.13. */
export const BLOCKWISE_ENTITY_TOO_LARGE_AUTO_FAILOVER = defineKey({
  name: 'COAP.BLOCKWISE_ENTITY_TOO_LARGE_AUTO_FAILOVER',
  type: 'bool',
  description: 'Retry block-wise (or with a smaller block size) after a 4.13 (request entity too large) response.',
  default: true,
});

/** 1024-byte blocks per BERT message over coap+tcp/coaps+tcp (RFC 8323 §6); 1 = BERT off. */
export const TCP_NUMBER_OF_BULK_BLOCKS = defineKey({
  name: 'COAP.TCP_NUMBER_OF_BULK_BLOCKS',
  type: 'int',
  description:
    'Number of 1024-byte blocks in one BERT message of a block-wise transfer over coap+tcp and coaps+tcp (RFC 8323, 6). Values above 1 announce Block-Wise-Transfer with a Max-Message-Size for that many blocks in the CSM and use BERT with peers that announce it too; 1 disables BERT. Maximum 64.',
  default: 4,
  plug: 1,
  min: 1,
  max: 64,
});

/** A NON notification is sent as CON at least this often. */
export const NOTIFICATION_CHECK_INTERVAL = defineKey({
  name: 'COAP.NOTIFICATION_CHECK_INTERVAL',
  type: 'time',
  description: 'Send a notification as CON at least after this time, to check that the observer is still interested.',
  default: 120_000,
  plug: 30_000,
});

/** ... or every N-th notification. */
export const NOTIFICATION_CHECK_INTERVAL_COUNT = defineKey({
  name: 'COAP.NOTIFICATION_CHECK_INTERVAL_COUNT',
  type: 'int',
  description: 'Send at least every N-th notification as CON, to check that the observer is still interested.',
  default: 100,
  plug: 4,
  min: 1,
});

/** Maximum observe relations. */
export const MAX_SERVER_OBSERVES = defineKey({
  name: 'COAP.MAX_SERVER_OBSERVES',
  type: 'int',
  description: 'Maximum number of observe relations of the server. 0 for no limit.',
  default: 50000,
  min: 0,
});

/** Deduplication strategy. */
export const DEDUPLICATOR = defineKey({
  name: 'COAP.DEDUPLICATOR',
  type: 'enum',
  description: `Deduplicator algorithm: ${DEDUPLICATOR_MODES.join(', ')}.`,
  default: 'MARK_AND_SWEEP',
  ext: 'PEERS_MARK_AND_SWEEP',
  values: DEDUPLICATOR_MODES,
});

/** Messages remembered by the deduplicator of an endpoint over all peers (beyond the reference). */
export const DEDUPLICATOR_MAX_MESSAGES = defineKey({
  name: 'COAP.DEDUPLICATOR_MAX_MESSAGES',
  type: 'int',
  description:
    'Maximum number of received messages the deduplicator of an endpoint remembers over all peers, in every mode; when reached, the oldest message of the least recently active peer is forgotten before its lifetime (counted in /diagnose as "dedup-evicted messages"). CROP_ROTATION keeps at most half of it per generation. Not a Californium key.',
  default: 300_000,
  min: 1,
});

/** Sweep period of the mark-and-sweep deduplicators. */
export const MARK_AND_SWEEP_INTERVAL = defineKey({
  name: 'COAP.MARK_AND_SWEEP_INTERVAL',
  type: 'time',
  description: 'Sweep interval of MARK_AND_SWEEP and PEERS_MARK_AND_SWEEP.',
  default: 10_000,
  min: 1,
});

/** Per-peer remembered exchanges of PEERS_MARK_AND_SWEEP. */
export const PEERS_MARK_AND_SWEEP_MESSAGES = defineKey({
  name: 'COAP.PEERS_MARK_AND_SWEEP_MESSAGES',
  type: 'int',
  description: 'Maximum messages remembered per peer by PEERS_MARK_AND_SWEEP. Minimum 4.',
  default: 64,
  ext: 16,
  min: 4,
});

/** Period of the crop-rotation deduplicator. */
export const CROP_ROTATION_PERIOD = defineKey({
  name: 'COAP.CROP_ROTATION_PERIOD',
  type: 'time',
  description: 'Rotation period of CROP_ROTATION.',
  default: 247_000,
  min: 1,
});

/** Empty messages with token/options/payload are format errors. */
export const STRICT_EMPTY_MESSAGE_FORMAT = defineKey({
  name: 'COAP.STRICT_EMPTY_MESSAGE_FORMAT',
  type: 'bool',
  description:
    'Treat empty messages with token, options or payload as format error (RFC 7252, 4.1); false ignores the additional data.',
  default: true,
});

/** All keys of this group. */
export const COAP_KEYS: readonly KeyDef[] = [
  COAP_PORT,
  COAP_SECURE_PORT,
  MAX_ACTIVE_PEERS,
  MAX_PEER_INACTIVITY_PERIOD,
  ACK_TIMEOUT,
  MAX_ACK_TIMEOUT,
  ACK_INIT_RANDOM,
  ACK_TIMEOUT_SCALE,
  MAX_RETRANSMIT,
  EXCHANGE_LIFETIME,
  NON_LIFETIME,
  NSTART,
  USE_RANDOM_MID_START,
  TOKEN_SIZE_LIMIT,
  PREFERRED_BLOCK_SIZE,
  MAX_MESSAGE_SIZE,
  MAX_RESOURCE_BODY_SIZE,
  BLOCKWISE_STATUS_LIFETIME,
  BLOCKWISE_STATUS_INTERVAL,
  BLOCKWISE_MAX_TOTAL_BYTES,
  BLOCKWISE_STRICT_BLOCK2_OPTION,
  BLOCKWISE_ENTITY_TOO_LARGE_AUTO_FAILOVER,
  TCP_NUMBER_OF_BULK_BLOCKS,
  NOTIFICATION_CHECK_INTERVAL,
  NOTIFICATION_CHECK_INTERVAL_COUNT,
  MAX_SERVER_OBSERVES,
  DEDUPLICATOR,
  DEDUPLICATOR_MAX_MESSAGES,
  MARK_AND_SWEEP_INTERVAL,
  PEERS_MARK_AND_SWEEP_MESSAGES,
  CROP_ROTATION_PERIOD,
  STRICT_EMPTY_MESSAGE_FORMAT,
];

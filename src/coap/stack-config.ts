// The settings one CoAP endpoint runs with (config.md §2), as plain typed data.

/** Deduplication strategies (config.md §2 `COAP.DEDUPLICATOR`). */
export type DeduplicatorMode = 'MARK_AND_SWEEP' | 'PEERS_MARK_AND_SWEEP' | 'CROP_ROTATION' | 'NO_DEDUPLICATOR';

/** Settings of a CoAP endpoint; times in milliseconds. */
export interface CoapStackConfig {
  /** payload size above which block-wise transfer is used */
  maxMessageSize: number;
  /** block size for server-initiated block-wise transfers */
  preferredBlockSize: number;
  /** largest body reassembled from Block1 or served */
  maxResourceBodySize: number;
  ackTimeout: number;
  ackInitRandom: number;
  ackTimeoutScale: number;
  maxAckTimeout: number;
  maxRetransmit: number;
  exchangeLifetime: number;
  nonLifetime: number;
  /** peers tracked by the deduplicator (COAP.MAX_ACTIVE_PEERS) */
  maxActivePeers: number;
  /** messages remembered by the deduplicator over all peers (COAP.DEDUPLICATOR_MAX_MESSAGES) */
  dedupMaxMessages: number;
  maxPeerInactivityPeriod: number;
  deduplicator: DeduplicatorMode;
  markAndSweepInterval: number;
  /** per-peer remembered exchanges (PEERS_MARK_AND_SWEEP) */
  peersMarkAndSweepMessages: number;
  cropRotationPeriod: number;
  blockwiseStatusLifetime: number;
  blockwiseStatusInterval: number;
  /** bytes of all block-wise transfer bodies kept by an endpoint (COAP.BLOCKWISE_MAX_TOTAL_BYTES) */
  blockwiseMaxTotalBytes: number;
  blockwiseStrictBlock2Option: boolean;
  blockwiseEntityTooLargeAutoFailover: boolean;
  /** 1024-byte blocks per BERT message over coap+tcp/coaps+tcp; 1 = no BERT (COAP.TCP_NUMBER_OF_BULK_BLOCKS, RFC 8323 §6) */
  tcpNumberOfBulkBlocks: number;
  notificationCheckInterval: number;
  notificationCheckIntervalCount: number;
  /** observe relations of the endpoint; 0 = no limit */
  maxServerObserves: number;
  tokenSizeLimit: number;
  useRandomMidStart: boolean;
  strictEmptyMessageFormat: boolean;
}

/** RFC 7252 §4.8 defaults with Californium's module defaults (config.md §2). */
export const DEFAULT_STACK_CONFIG: CoapStackConfig = {
  maxMessageSize: 1024,
  preferredBlockSize: 512,
  maxResourceBodySize: 8192,
  ackTimeout: 2000,
  ackInitRandom: 1.5,
  ackTimeoutScale: 2.0,
  maxAckTimeout: 60_000,
  maxRetransmit: 4,
  exchangeLifetime: 247_000,
  nonLifetime: 145_000,
  maxActivePeers: 150_000,
  dedupMaxMessages: 300_000,
  maxPeerInactivityPeriod: 600_000,
  deduplicator: 'MARK_AND_SWEEP',
  markAndSweepInterval: 10_000,
  peersMarkAndSweepMessages: 64,
  cropRotationPeriod: 247_000,
  blockwiseStatusLifetime: 300_000,
  blockwiseStatusInterval: 5_000,
  blockwiseMaxTotalBytes: 16 * 1024 * 1024,
  blockwiseStrictBlock2Option: false,
  blockwiseEntityTooLargeAutoFailover: true,
  tcpNumberOfBulkBlocks: 4,
  notificationCheckInterval: 120_000,
  notificationCheckIntervalCount: 100,
  maxServerObserves: 50_000,
  tokenSizeLimit: 8,
  useRandomMidStart: true,
  strictEmptyMessageFormat: true,
};

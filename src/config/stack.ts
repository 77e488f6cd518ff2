// Per-server and per-endpoint views of the configuration: CoAP stack settings and ports.
import type { CoapStackConfig, DeduplicatorMode } from '../coap/stack-config.js';
import * as C from './keys-coap.js';
import { EXTERNAL_UDP_MAX_MESSAGE_SIZE, EXTERNAL_UDP_PREFERRED_BLOCK_SIZE } from './keys-server.js';
import type { Properties, ServerKind } from './properties.js';

/**
 * CoAP stack settings of one endpoint of a server. `externalUdp` = coap/UDP endpoint on a
 * non-loopback address: message and block size then come from the EXTERNAL_UDP_* keys (cli.md §3.2 step 4).
 */
export function stackConfigFor(props: Properties, server: ServerKind, externalUdp: boolean): CoapStackConfig {
  const n = (key: Parameters<Properties['number']>[0]): number => props.number(key, server);
  const b = (key: Parameters<Properties['boolean']>[0]): boolean => props.boolean(key, server);
  return {
    maxMessageSize: n(externalUdp ? EXTERNAL_UDP_MAX_MESSAGE_SIZE : C.MAX_MESSAGE_SIZE),
    preferredBlockSize: n(externalUdp ? EXTERNAL_UDP_PREFERRED_BLOCK_SIZE : C.PREFERRED_BLOCK_SIZE),
    maxResourceBodySize: n(C.MAX_RESOURCE_BODY_SIZE),
    ackTimeout: n(C.ACK_TIMEOUT),
    ackInitRandom: n(C.ACK_INIT_RANDOM),
    ackTimeoutScale: n(C.ACK_TIMEOUT_SCALE),
    maxAckTimeout: n(C.MAX_ACK_TIMEOUT),
    maxRetransmit: n(C.MAX_RETRANSMIT),
    exchangeLifetime: n(C.EXCHANGE_LIFETIME),
    nonLifetime: n(C.NON_LIFETIME),
    maxActivePeers: n(C.MAX_ACTIVE_PEERS),
    dedupMaxMessages: n(C.DEDUPLICATOR_MAX_MESSAGES),
    maxPeerInactivityPeriod: n(C.MAX_PEER_INACTIVITY_PERIOD),
    deduplicator: props.string(C.DEDUPLICATOR, server) as DeduplicatorMode,
    markAndSweepInterval: n(C.MARK_AND_SWEEP_INTERVAL),
    peersMarkAndSweepMessages: n(C.PEERS_MARK_AND_SWEEP_MESSAGES),
    cropRotationPeriod: n(C.CROP_ROTATION_PERIOD),
    blockwiseStatusLifetime: n(C.BLOCKWISE_STATUS_LIFETIME),
    blockwiseStatusInterval: n(C.BLOCKWISE_STATUS_INTERVAL),
    blockwiseMaxTotalBytes: n(C.BLOCKWISE_MAX_TOTAL_BYTES),
    blockwiseStrictBlock2Option: b(C.BLOCKWISE_STRICT_BLOCK2_OPTION),
    blockwiseEntityTooLargeAutoFailover: b(C.BLOCKWISE_ENTITY_TOO_LARGE_AUTO_FAILOVER),
    tcpNumberOfBulkBlocks: n(C.TCP_NUMBER_OF_BULK_BLOCKS),
    notificationCheckInterval: n(C.NOTIFICATION_CHECK_INTERVAL),
    notificationCheckIntervalCount: n(C.NOTIFICATION_CHECK_INTERVAL_COUNT),
    maxServerObserves: n(C.MAX_SERVER_OBSERVES),
    tokenSizeLimit: n(C.TOKEN_SIZE_LIMIT),
    useRandomMidStart: b(C.USE_RANDOM_MID_START),
    strictEmptyMessageFormat: b(C.STRICT_EMPTY_MESSAGE_FORMAT),
  };
}

/** coap (UDP, TCP) and coaps (DTLS, TLS) port of a server. */
export function portsFor(props: Properties, server: ServerKind): { coap: number; coaps: number } {
  return { coap: props.number(C.COAP_PORT, server), coaps: props.number(C.COAP_SECURE_PORT, server) };
}

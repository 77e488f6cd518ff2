// The settings a DTLS connector runs with (config.md §3, dtls.md), as plain typed data; times in ms.
import { PRESELECTED_CIPHER_SUITES, type CipherSuite } from './cipher-suites.js';

/** Certificate-based client authentication (dtls.md §5). */
export type ClientAuthMode = 'NONE' | 'WANTED' | 'NEEDED';
/** Extended master secret use (RFC 7627). */
export type EmsMode = 'NONE' | 'OPTIONAL' | 'ENABLED' | 'REQUIRED';
/** Certificate types (RFC 7250). */
export type CertificateTypeName = 'RAW_PUBLIC_KEY' | 'X_509';

/** Settings of one DTLS connector. */
export interface DtlsConfig {
  /** undefined: no CID extension; 0: support CID but ask the peer for an empty one; n: issue n-byte CIDs */
  cidLength: number | undefined;
  /** cluster node id put in CID byte 0 (requires cidLength ≥ 5) */
  nodeId: number | undefined;
  /** a worker of a cluster node (issue 13): its index put in CID byte 1 (requires nodeId and cidLength ≥ 6) */
  workerId?: number;
  /** enabled suites in preference order (the selection follows the client's order) */
  cipherSuites: readonly CipherSuite[];
  /** named group codes in preference order (23 secp256r1, 29 x25519, 30 x448, 24 secp384r1) */
  curves: readonly number[];
  /** certificate types in preference order */
  certificateTypes: readonly CertificateTypeName[];
  clientAuthentication: ClientAuthMode;
  extendedMasterSecretMode: EmsMode;
  /** handshake flight retransmission */
  retransmissionTimeout: number;
  maxRetransmissionTimeout: number;
  additionalEccTimeout: number;
  maxRetransmissions: number;
  retransmissionInitRandom: number;
  retransmissionTimeoutScale: number;
  /** connection store capacity */
  maxConnections: number;
  /** a full store may evict only connections idle at least this long */
  staleConnectionThreshold: number;
  useHelloVerifyRequest: boolean;
  useHelloVerifyRequestForPsk: boolean;
  /** percent of maxConnections of unverified resumptions allowed without cookie */
  verifyPeersOnResumptionThreshold: number;
  serverUseSessionId: boolean;
  sessionTimeout: number;
  maxFragmentedHandshakeMessageLength: number;
  /** RFC 8449 record_size_limit to announce, undefined = none */
  recordSizeLimit: number | undefined;
  /** RFC 6066 max_fragment_length in bytes (512, 1024, 2048, 4096), undefined = none */
  maxFragmentSize: number | undefined;
  /** fixed MTU, undefined = detected (capped by maxTransmissionUnitLimit) */
  maxTransmissionUnit: number | undefined;
  maxTransmissionUnitLimit: number;
  useAntiReplayFilter: boolean;
  updateAddressUsingCidOnNewerRecords: boolean;
  useNewerFilter: boolean;
  removeStaleDoublePrincipals: boolean;
  macErrorFilterThreshold: number;
  macErrorFilterQuietTime: number;
  maxDeferredInboundRecords: number;
  maxDeferredOutboundApplicationMessages: number;
  receiveBufferSize: number | undefined;
  sendBufferSize: number | undefined;
  /** test aid (dtls.md §12): > 0 asynchronous delay of credential lookups, < 0 blocking */
  handshakeResultDelay: number;
  /**
   * What a peer sees when its PSK handshake fails because the identity is unknown or the secret wrong:
   * NONE (silence, both cases alike, as the reference) or DECRYPT_ERROR (RFC 4279 §2, both cases alike)
   */
  pskFailureAlert: 'NONE' | 'DECRYPT_ERROR';
  /** flood defence: ClientHellos without a valid cookie answered per second, all peers (0: no limit) */
  clientHelloRateLimit: number;
  /** flood defence: handshakes started from cookie-verified ClientHellos per second, all peers (0: no limit) */
  handshakeStartRateLimit: number;
  /** flood defence: ClientHellos per second below which a peer (address:port) is light (0: no per-peer distinction) */
  clientHelloPeerRateLimit: number;
  /** flood defence: peers whose ClientHellos are counted per second */
  clientHelloTrackedPeers: number;
  /** flood defence: server handshakes in progress at most (the oldest is abandoned at the limit) */
  maxPendingHandshakes: number;
  /** flood defence: server handshakes in progress per IP address at most (0: no limit) */
  maxPendingHandshakesPerAddress: number;
}

/** Module defaults of config.md §3 with the server overrides common to both servers. */
export const DEFAULT_DTLS_CONFIG: DtlsConfig = {
  cidLength: 6,
  nodeId: undefined,
  cipherSuites: PRESELECTED_CIPHER_SUITES,
  curves: [23, 29, 30, 24],
  certificateTypes: ['RAW_PUBLIC_KEY', 'X_509'],
  clientAuthentication: 'NEEDED',
  extendedMasterSecretMode: 'ENABLED',
  retransmissionTimeout: 3000,
  maxRetransmissionTimeout: 60_000,
  additionalEccTimeout: 8000,
  maxRetransmissions: 4,
  retransmissionInitRandom: 1.0,
  retransmissionTimeoutScale: 2.0,
  maxConnections: 150_000,
  staleConnectionThreshold: 30 * 60_000,
  useHelloVerifyRequest: true,
  useHelloVerifyRequestForPsk: true,
  verifyPeersOnResumptionThreshold: 30,
  serverUseSessionId: true,
  sessionTimeout: 24 * 3600_000,
  maxFragmentedHandshakeMessageLength: 8192,
  recordSizeLimit: undefined,
  maxFragmentSize: undefined,
  maxTransmissionUnit: undefined,
  maxTransmissionUnitLimit: 1500,
  useAntiReplayFilter: true,
  updateAddressUsingCidOnNewerRecords: true,
  useNewerFilter: false,
  removeStaleDoublePrincipals: false,
  macErrorFilterThreshold: 8,
  macErrorFilterQuietTime: 4000,
  maxDeferredInboundRecords: 8192,
  maxDeferredOutboundApplicationMessages: 10,
  receiveBufferSize: undefined,
  sendBufferSize: undefined,
  handshakeResultDelay: 0,
  pskFailureAlert: 'NONE',
  clientHelloRateLimit: 20_000,
  handshakeStartRateLimit: 10000,
  clientHelloPeerRateLimit: 10,
  clientHelloTrackedPeers: 20_000,
  maxPendingHandshakes: 3000,
  maxPendingHandshakesPerAddress: 2500,
};

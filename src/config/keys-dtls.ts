// DTLS module keys (config.md §3) that the DTLS connector honours.
import { defineKey, type KeyDef } from './registry.js';
import { ALL_CIPHER_SUITES } from '../dtls/cipher-suites.js';
// the flood-defence keys are this project's own: their defaults are the DTLS library's, kept in one table
import { DEFAULT_DTLS_CONFIG } from '../dtls/config.js';

/** Names of every cipher suite the stack implements. */
export const ALL_SUITE_NAMES: readonly string[] = ALL_CIPHER_SUITES.map((s) => s.name);

/** Connection ID length (RFC 9146). */
export const CONNECTION_ID_LENGTH = defineKey({
  name: 'DTLS.CONNECTION_ID_LENGTH',
  type: 'int',
  description: 'Connection ID length (RFC 9146). Empty: no CID extension; 0: support CID but ask peers for an empty CID (records to the server carry none); n: the server issues n-byte CIDs.',
  ext: 6,
  plug: 6,
  min: 0,
  max: 32,
});

/** Node id written into byte 0 of the CIDs the server issues (cluster modes; requires CONNECTION_ID_LENGTH of at least 5). */
export const CONNECTION_ID_NODE_ID = defineKey({
  name: 'DTLS.CONNECTION_ID_NODE_ID',
  type: 'int',
  description: 'Node id written into byte 0 of the CIDs the server issues (cluster modes; requires CONNECTION_ID_LENGTH of at least 5). Empty: random CIDs.',
  min: 0,
  max: 255,
});

/** Cipher suites the server supports, in preference order (the selection follows the client's order). */
export const PRESELECTED_CIPHER_SUITES = defineKey({
  name: 'DTLS.PRESELECTED_CIPHER_SUITES',
  type: 'enumList',
  description: 'Cipher suites the server supports, in preference order (the selection follows the client\'s order).',
  ext: ['TLS_PSK_WITH_AES_128_CCM_8', 'TLS_ECDHE_PSK_WITH_AES_128_CCM_8_SHA256', 'TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8', 'TLS_PSK_WITH_AES_128_CBC_SHA256', 'TLS_ECDHE_PSK_WITH_AES_128_CBC_SHA256', 'TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256', 'TLS_PSK_WITH_AES_128_GCM_SHA256', 'TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256', 'TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256', 'TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256'],
  plug: ['TLS_PSK_WITH_AES_128_CCM_8', 'TLS_ECDHE_PSK_WITH_AES_128_CCM_8_SHA256', 'TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8', 'TLS_PSK_WITH_AES_128_CBC_SHA256', 'TLS_ECDHE_PSK_WITH_AES_128_CBC_SHA256', 'TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256', 'TLS_PSK_WITH_AES_128_GCM_SHA256', 'TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256', 'TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256', 'TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256'],
  values: ALL_SUITE_NAMES,
});

/** If set, exactly these cipher suites (overrides PRESELECTED_CIPHER_SUITES). */
export const CIPHER_SUITES = defineKey({
  name: 'DTLS.CIPHER_SUITES',
  type: 'enumList',
  description: 'If set, exactly these cipher suites (overrides PRESELECTED_CIPHER_SUITES).',
  values: ALL_SUITE_NAMES,
});

/** Use only recommended cipher suites (drops the CBC suites). */
export const RECOMMENDED_CIPHER_SUITES_ONLY = defineKey({
  name: 'DTLS.RECOMMENDED_CIPHER_SUITES_ONLY',
  type: 'bool',
  description: 'Use only recommended cipher suites (drops the CBC suites).',
  default: true,
  ext: false,
  plug: false,
});

/** Supported groups for ECDHE in preference order. */
export const CURVES = defineKey({
  name: 'DTLS.CURVES',
  type: 'enumList',
  description: 'Supported groups for ECDHE in preference order. Empty: all (secp256r1, x25519, x448, secp384r1).',
  values: ['secp256r1', 'x25519', 'x448', 'secp384r1'],
});

/** Supported certificate types in preference order (RFC 7250). */
export const CERTIFICATE_TYPES = defineKey({
  name: 'DTLS.CERTIFICATE_TYPES',
  type: 'enumList',
  description: 'Supported certificate types in preference order (RFC 7250).',
  default: ['RAW_PUBLIC_KEY', 'X_509'],
  values: ['RAW_PUBLIC_KEY', 'X_509'],
});

/** Certificate based client authentication (certificate suites only): NONE, WANTED or NEEDED. */
export const CLIENT_AUTHENTICATION_MODE = defineKey({
  name: 'DTLS.CLIENT_AUTHENTICATION_MODE',
  type: 'enum',
  description: 'Certificate based client authentication (certificate suites only): NONE, WANTED or NEEDED. The --client-auth flag overrides it.',
  default: 'NEEDED',
  values: ['NONE', 'WANTED', 'NEEDED'],
});

/** Extended master secret (RFC 7627): NONE, OPTIONAL, ENABLED (used when the client offers it) or REQUIRED. */
export const EXTENDED_MASTER_SECRET_MODE = defineKey({
  name: 'DTLS.EXTENDED_MASTER_SECRET_MODE',
  type: 'enum',
  description: 'Extended master secret (RFC 7627): NONE, OPTIONAL, ENABLED (used when the client offers it) or REQUIRED.',
  default: 'ENABLED',
  values: ['NONE', 'OPTIONAL', 'ENABLED', 'REQUIRED'],
});

/** Initial retransmission timeout of handshake flights. */
export const RETRANSMISSION_TIMEOUT = defineKey({
  name: 'DTLS.RETRANSMISSION_TIMEOUT',
  type: 'time',
  description: 'Initial retransmission timeout of handshake flights.',
  default: 2000,
  ext: 3000,
  plug: 3000,
  min: 1,
});

/** Upper bound of the handshake retransmission timeout. */
export const MAX_RETRANSMISSION_TIMEOUT = defineKey({
  name: 'DTLS.MAX_RETRANSMISSION_TIMEOUT',
  type: 'time',
  description: 'Upper bound of the handshake retransmission timeout.',
  default: 60000,
  min: 1,
});

/** Additional initial timeout for flights that need ECC computations. */
export const ADDITIONAL_ECC_TIMEOUT = defineKey({
  name: 'DTLS.ADDITIONAL_ECC_TIMEOUT',
  type: 'time',
  description: 'Additional initial timeout for flights that need ECC computations.',
  default: 0,
  ext: 8000,
  plug: 8000,
  min: 0,
});

/** Maximum retransmissions of a handshake flight. */
export const MAX_RETRANSMISSIONS = defineKey({
  name: 'DTLS.MAX_RETRANSMISSIONS',
  type: 'int',
  description: 'Maximum retransmissions of a handshake flight.',
  default: 4,
  min: 0,
});

/** Random factor applied to the initial retransmission timeout. */
export const RETRANSMISSION_INIT_RANDOM = defineKey({
  name: 'DTLS.RETRANSMISSION_INIT_RANDOM',
  type: 'float',
  description: 'Random factor applied to the initial retransmission timeout.',
  default: 1.0,
  min: 1.0,
});

/** Back-off factor of the handshake retransmission timeout. */
export const RETRANSMISSION_TIMEOUT_SCALE = defineKey({
  name: 'DTLS.RETRANSMISSION_TIMEOUT_SCALE',
  type: 'float',
  description: 'Back-off factor of the handshake retransmission timeout.',
  default: 2.0,
  min: 1.0,
});

/** Capacity of the DTLS connection store. */
export const MAX_CONNECTIONS = defineKey({
  name: 'DTLS.MAX_CONNECTIONS',
  type: 'int',
  description: 'Capacity of the DTLS connection store.',
  default: 150000,
  ext: 1000000,
  plug: 10000,
  min: 1,
});

/** When the connection store is full, only connections idle at least this long are evicted for new handshakes. */
export const STALE_CONNECTION_THRESHOLD = defineKey({
  name: 'DTLS.STALE_CONNECTION_THRESHOLD',
  type: 'time',
  description: 'When the connection store is full, only connections idle at least this long are evicted for new handshakes.',
  default: 1800000,
  ext: 180000,
  min: 0,
});

/** Answer ClientHellos without a valid cookie with a HelloVerifyRequest (stateless cookie exchange). */
export const USE_HELLO_VERIFY_REQUEST = defineKey({
  name: 'DTLS.USE_HELLO_VERIFY_REQUEST',
  type: 'bool',
  description: 'Answer ClientHellos without a valid cookie with a HelloVerifyRequest (stateless cookie exchange).',
  default: true,
});

/** Use the HelloVerifyRequest also for PSK handshakes. */
export const USE_HELLO_VERIFY_REQUEST_FOR_PSK = defineKey({
  name: 'DTLS.USE_HELLO_VERIFY_REQUEST_FOR_PSK',
  type: 'bool',
  description: 'Use the HelloVerifyRequest also for PSK handshakes.',
  default: true,
});

/** Percent of MAX_CONNECTIONS of pending resumption handshakes without cookie above which resumptions get a HelloVerifyRequest too. */
export const VERIFY_PEERS_ON_RESUMPTION_THRESHOLD = defineKey({
  name: 'DTLS.VERIFY_PEERS_ON_RESUMPTION_THRESHOLD',
  type: 'int',
  description: 'Percent of MAX_CONNECTIONS of pending resumption handshakes without cookie above which resumptions get a HelloVerifyRequest too.',
  default: 30,
  min: 0,
  max: 100,
});

/** The server issues session ids (enables resumption). */
export const SERVER_USE_SESSION_ID = defineKey({
  name: 'DTLS.SERVER_USE_SESSION_ID',
  type: 'bool',
  description: 'The server issues session ids (enables resumption).',
  default: true,
});

/** Lifetime of a session for resumption. */
export const SESSION_TIMEOUT = defineKey({
  name: 'DTLS.SESSION_TIMEOUT',
  type: 'time',
  description: 'Lifetime of a session for resumption.',
  default: 86400000,
  min: 0,
});

/** Maximum length of a handshake message reassembled from fragments. */
export const MAX_FRAGMENTED_HANDSHAKE_MESSAGE_LENGTH = defineKey({
  name: 'DTLS.MAX_FRAGMENTED_HANDSHAKE_MESSAGE_LENGTH',
  type: 'int',
  description: 'Maximum length of a handshake message reassembled from fragments.',
  default: 8192,
  min: 256,
});

/** Record size limit to announce (RFC 8449). */
export const RECORD_SIZE_LIMIT = defineKey({
  name: 'DTLS.RECORD_SIZE_LIMIT',
  type: 'int',
  description: 'Record size limit to announce (RFC 8449). Empty: none.',
  min: 64,
  max: 16385,
});

/** Maximum fragment length to request (RFC 6066: 512, 1024, 2048 or 4096). */
export const MAX_FRAGMENT_SIZE = defineKey({
  name: 'DTLS.MAX_FRAGMENT_SIZE',
  type: 'int',
  description: 'Maximum fragment length to request (RFC 6066: 512, 1024, 2048 or 4096). Empty: none.',
  min: 512,
  max: 4096,
});

/** Fixed MTU. */
export const MAX_TRANSMISSION_UNIT = defineKey({
  name: 'DTLS.MAX_TRANSMISSION_UNIT',
  type: 'int',
  description: 'Fixed MTU. Empty: detected from the interface, capped by MAX_TRANSMISSION_UNIT_LIMIT.',
  min: 64,
  max: 65535,
});

/** Upper limit of a detected MTU. */
export const MAX_TRANSMISSION_UNIT_LIMIT = defineKey({
  name: 'DTLS.MAX_TRANSMISSION_UNIT_LIMIT',
  type: 'int',
  description: 'Upper limit of a detected MTU.',
  default: 1500,
  min: 64,
  max: 65535,
});

/** Drop replayed records (RFC 6347 4. */
export const USE_ANTI_REPLAY_FILTER = defineKey({
  name: 'DTLS.USE_ANTI_REPLAY_FILTER',
  type: 'bool',
  description: 'Drop replayed records (RFC 6347 4.1.2.6 window of 64 records).',
  default: true,
});

/** With CID, only a record newer than all previous ones updates the peer address. */
export const UPDATE_ADDRESS_USING_CID_ON_NEWER_RECORDS = defineKey({
  name: 'DTLS.UPDATE_ADDRESS_USING_CID_ON_NEWER_RECORDS',
  type: 'bool',
  description: 'With CID, only a record newer than all previous ones updates the peer address.',
  default: true,
});

/** Drop reordered (older) application records. */
export const USE_NEWER_FILTER = defineKey({
  name: 'DTLS.USE_NEWER_FILTER',
  type: 'bool',
  description: 'Drop reordered (older) application records.',
  default: false,
});

/** After a full handshake, remove an older stale connection of the same principal. */
export const REMOVE_STALE_DOUBLE_PRINCIPALS = defineKey({
  name: 'DTLS.REMOVE_STALE_DOUBLE_PRINCIPALS',
  type: 'bool',
  description: 'After a full handshake, remove an older stale connection of the same principal.',
  default: false,
  ext: true,
});

/** MAC error filter: records of a connection with more than THRESHOLD MAC errors are dropped until this quiet time passed. */
export const MAC_ERROR_FILTER_QUIET_TIME = defineKey({
  name: 'DTLS.MAC_ERROR_FILTER_QUIET_TIME',
  type: 'time',
  description: 'MAC error filter: records of a connection with more than THRESHOLD MAC errors are dropped until this quiet time passed. 0 disables.',
  default: 0,
  ext: 4000,
  plug: 4000,
  min: 0,
});

/** MAC error filter threshold (0 disables). */
export const MAC_ERROR_FILTER_THRESHOLD = defineKey({
  name: 'DTLS.MAC_ERROR_FILTER_THRESHOLD',
  type: 'int',
  description: 'MAC error filter threshold (0 disables).',
  default: 0,
  ext: 8,
  plug: 8,
  min: 0,
});

/** Application messages queued per connection while its handshake is running. */
export const MAX_DEFERRED_OUTBOUND_APPLICATION_MESSAGES = defineKey({
  name: 'DTLS.MAX_DEFERRED_OUTBOUND_APPLICATION_MESSAGES',
  type: 'int',
  description: 'Application messages queued per connection while its handshake is running.',
  default: 10,
  min: 0,
});

/** Records of a later epoch kept while the handshake is still running. */
export const MAX_DEFERRED_INBOUND_RECORDS = defineKey({
  name: 'DTLS.MAX_DEFERRED_INBOUND_RECORDS',
  type: 'int',
  description: 'Maximum size in bytes of all records one running handshake defers (records of the next epoch before the CCS, application data before the Finished).',
  default: 8192,
  min: 0,
});

/** Socket receive buffer size. */
export const RECEIVE_BUFFER_SIZE = defineKey({
  name: 'DTLS.RECEIVE_BUFFER_SIZE',
  type: 'int',
  description: 'Socket receive buffer size. Empty: the OS default.',
  ext: 1000000,
  min: 1,
});

/** Socket send buffer size. */
export const SEND_BUFFER_SIZE = defineKey({
  name: 'DTLS.SEND_BUFFER_SIZE',
  type: 'int',
  description: 'Socket send buffer size. Empty: the OS default.',
  min: 1,
});

/** Test aid: delay of PSK, certificate and resumption lookups. */
export const DTLS_HANDSHAKE_RESULT_DELAY = defineKey({
  name: 'DTLS_HANDSHAKE_RESULT_DELAY',
  type: 'time',
  description: 'Test aid: delay of PSK, certificate and resumption lookups. 0: synchronous; < 0: blocking delay; > 0: asynchronous delay.',
  default: 0,
});

/** What a client sees when its PSK identity is unknown or its secret wrong (the same in both cases). */
export const PSK_FAILURE_ALERT = defineKey({
  name: 'DTLS.PSK_FAILURE_ALERT',
  type: 'enum',
  description:
    'Answer to a PSK handshake whose identity is unknown or whose secret is wrong; both look the same on the wire, so identities cannot be probed (RFC 4279 §2). NONE: silence (the handshake times out); DECRYPT_ERROR: a fatal decrypt_error alert when the client Finished cannot be authenticated. The reason is logged at debug level.',
  default: 'NONE',
  values: ['NONE', 'DECRYPT_ERROR'],
});

/** ClientHellos without a valid cookie answered per second (HelloVerifyRequest or unverified start), all peers together. */
export const CLIENT_HELLO_RATE_LIMIT = defineKey({
  name: 'DTLS.CLIENT_HELLO_RATE_LIMIT',
  type: 'int',
  description:
    'Flood defence: ClientHellos without a valid cookie that are answered (HelloVerifyRequest, or a handshake without cookie exchange) per second, all peers together, enforced per 100 ms. Above half of it only peers that sent fewer than DTLS.CLIENT_HELLO_PEER_RATE_LIMIT ClientHellos in the current second are answered; above it every further one is dropped (counted). 0: no limit.',
  default: DEFAULT_DTLS_CONFIG.clientHelloRateLimit,
  min: 0,
});

/** Cookie-verified ClientHellos (new handshakes) started per second, all peers together. */
export const HANDSHAKE_START_RATE_LIMIT = defineKey({
  name: 'DTLS.HANDSHAKE_START_RATE_LIMIT',
  type: 'int',
  description:
    'Flood defence: handshakes started from cookie-verified ClientHellos per second, all peers together, enforced per 100 ms. Above half of it only light peers start handshakes (below DTLS.CLIENT_HELLO_PEER_RATE_LIMIT, or with an established connection from their address:port); above it every further ClientHello is dropped (counted). The default is above what one core completes (about 7,000 full PSK handshakes/s), so that only a flood engages it. 0: no limit.',
  default: DEFAULT_DTLS_CONFIG.handshakeStartRateLimit,
  min: 0,
});

/** ClientHellos per second of one peer (address:port) that count as light while the server is under pressure. */
export const CLIENT_HELLO_PEER_RATE_LIMIT = defineKey({
  name: 'DTLS.CLIENT_HELLO_PEER_RATE_LIMIT',
  type: 'int',
  description:
    'Flood defence: a peer (address:port) that sent fewer ClientHellos than this in the current second, or that has an established connection (its last handshake completed), is light: once half of DTLS.CLIENT_HELLO_RATE_LIMIT or DTLS.HANDSHAKE_START_RATE_LIMIT is used up, only light peers are still answered, so that a few flooding sources cannot starve the others. 0: no per-peer distinction.',
  default: DEFAULT_DTLS_CONFIG.clientHelloPeerRateLimit,
  min: 0,
});

/** Peers tracked per second for the per-peer ClientHello counts. */
export const CLIENT_HELLO_TRACKED_PEERS = defineKey({
  name: 'DTLS.CLIENT_HELLO_TRACKED_PEERS',
  type: 'int',
  description: 'Flood defence: peers (address:port) whose ClientHellos are counted per second; peers beyond it count as heavy (bounds the memory of the counts).',
  default: DEFAULT_DTLS_CONFIG.clientHelloTrackedPeers,
  min: 1,
});

/** Handshakes in progress on the server side, separate from DTLS.MAX_CONNECTIONS. */
export const MAX_PENDING_HANDSHAKES = defineKey({
  name: 'DTLS.MAX_PENDING_HANDSHAKES',
  type: 'int',
  description:
    'Flood defence: server handshakes in progress at most (they also count against DTLS.MAX_CONNECTIONS). When a cookie-verified ClientHello arrives and the limit is reached, the oldest handshake in progress is abandoned (counted). A handshake in progress holds about 8 KB (its ClientHello, transcript and flight), so the default bounds them at about 24 MB (and lets a benchmark client with 2,000 clients handshake all at once).',
  default: DEFAULT_DTLS_CONFIG.maxPendingHandshakes,
  min: 1,
});

/** Handshakes in progress from one IP address. */
export const MAX_PENDING_HANDSHAKES_PER_ADDRESS = defineKey({
  name: 'DTLS.MAX_PENDING_HANDSHAKES_PER_ADDRESS',
  type: 'int',
  description:
    'Flood defence: server handshakes in progress from one IP address at most; at the limit the oldest handshake of that address is abandoned (counted). 0: no per-address limit.',
  default: DEFAULT_DTLS_CONFIG.maxPendingHandshakesPerAddress,
  min: 0,
});

/** All keys of this group. */
export const DTLS_KEYS: readonly KeyDef[] = [
  CONNECTION_ID_LENGTH,
  CONNECTION_ID_NODE_ID,
  PRESELECTED_CIPHER_SUITES,
  CIPHER_SUITES,
  RECOMMENDED_CIPHER_SUITES_ONLY,
  CURVES,
  CERTIFICATE_TYPES,
  CLIENT_AUTHENTICATION_MODE,
  EXTENDED_MASTER_SECRET_MODE,
  RETRANSMISSION_TIMEOUT,
  MAX_RETRANSMISSION_TIMEOUT,
  ADDITIONAL_ECC_TIMEOUT,
  MAX_RETRANSMISSIONS,
  RETRANSMISSION_INIT_RANDOM,
  RETRANSMISSION_TIMEOUT_SCALE,
  MAX_CONNECTIONS,
  STALE_CONNECTION_THRESHOLD,
  USE_HELLO_VERIFY_REQUEST,
  USE_HELLO_VERIFY_REQUEST_FOR_PSK,
  VERIFY_PEERS_ON_RESUMPTION_THRESHOLD,
  SERVER_USE_SESSION_ID,
  SESSION_TIMEOUT,
  MAX_FRAGMENTED_HANDSHAKE_MESSAGE_LENGTH,
  RECORD_SIZE_LIMIT,
  MAX_FRAGMENT_SIZE,
  MAX_TRANSMISSION_UNIT,
  MAX_TRANSMISSION_UNIT_LIMIT,
  USE_ANTI_REPLAY_FILTER,
  UPDATE_ADDRESS_USING_CID_ON_NEWER_RECORDS,
  USE_NEWER_FILTER,
  REMOVE_STALE_DOUBLE_PRINCIPALS,
  MAC_ERROR_FILTER_QUIET_TIME,
  MAC_ERROR_FILTER_THRESHOLD,
  MAX_DEFERRED_OUTBOUND_APPLICATION_MESSAGES,
  MAX_DEFERRED_INBOUND_RECORDS,
  RECEIVE_BUFFER_SIZE,
  SEND_BUFFER_SIZE,
  PSK_FAILURE_ALERT,
  CLIENT_HELLO_RATE_LIMIT,
  HANDSHAKE_START_RATE_LIMIT,
  CLIENT_HELLO_PEER_RATE_LIMIT,
  CLIENT_HELLO_TRACKED_PEERS,
  MAX_PENDING_HANDSHAKES,
  MAX_PENDING_HANDSHAKES_PER_ADDRESS,
  DTLS_HANDSHAKE_RESULT_DELAY,
];

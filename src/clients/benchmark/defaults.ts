// The benchmark client's settings of clients.md §3.1 as plain constants (no properties file for now).
import { DEFAULT_STACK_CONFIG, type CoapStackConfig } from '../../coap/stack-config.js';
import type { DtlsConfig } from '../../dtls/config.js';

/** `BENCHMARK_RESPONSE_TIMEOUT`: a request without response after this long is given up (ms). */
export const BENCHMARK_RESPONSE_TIMEOUT = 30_000;
/** `BENCHMARK_CLIENT_THREADS`: 0 = shared pool; Node runs every client on its one event loop anyway. */
export const BENCHMARK_CLIENT_THREADS = 0;
/** Default of `--clients`. */
export const DEFAULT_CLIENTS = 5;
/** Default of `--requests`. */
export const DEFAULT_REQUESTS = 100;
/** Period of the progress lines and of the stale checks (ms). */
export const PROGRESS_INTERVAL = 10_000;
/** Extra stale time of DTLS runs: handshakes may take long under load (ms). */
export const DTLS_STALE_TIMEOUT = 120_000;
/** Feed interval when neither `--min` nor `--max` is given (ms). */
export const DEFAULT_FEED_INTERVAL = 100;
/** Shortest delay between two feed changes with a positive interval (ms). */
export const MIN_FEED_INTERVAL = 20;
/** Shortest wait for a notification's completion before the next change (ms). */
export const FEED_COMPLETION_TIMEOUT = 5000;
/** Delay before retrying after an error (ms). */
export const ERROR_RETRY_DELAY = 1000;
/** Random extra delay range added to every delayed request (ms, exclusive). */
export const RANDOM_EXTRA_DELAY = 500;
/** Shortest wait after a 5.03 response (ms). */
export const MIN_UNAVAILABLE_DELAY = 1000;

/**
 * The CoAP settings of a benchmark client endpoint (§3.1: COAP.TCP_NUMBER_OF_BULK_BLOCKS 1, no BERT); `--blocksize`,
 * `--timeout` and `--bertblocks` (§3.2: message and block size 1024, n BERT blocks per message) override.
 */
export function benchmarkStackConfig(blocksize?: number, nonLifetime?: number, bertBlocks?: number): CoapStackConfig {
  const size = bertBlocks !== undefined ? 1024 : (blocksize ?? 1024);
  return {
    ...DEFAULT_STACK_CONFIG,
    maxResourceBodySize: 8192,
    maxMessageSize: size,
    preferredBlockSize: size,
    tcpNumberOfBulkBlocks: bertBlocks ?? 1,
    maxActivePeers: 10,
    peersMarkAndSweepMessages: 16,
    deduplicator: 'PEERS_MARK_AND_SWEEP',
    maxPeerInactivityPeriod: 24 * 3600_000,
    ...(nonLifetime !== undefined ? { nonLifetime } : {}),
  };
}

/** The DTLS settings of a benchmark client connector (§3.1); CID length 0 (support CID without using it) unless given. */
export function benchmarkDtlsConfig(cidLength: number | undefined): Partial<DtlsConfig> {
  return {
    cidLength: cidLength ?? 0,
    maxConnections: 10,
    maxRetransmissions: 2,
    receiveBufferSize: 8192,
    sendBufferSize: 8192,
    removeStaleDoublePrincipals: false,
  };
}

/** UDP socket buffer sizes of the plain clients (`UDP.RECEIVE_BUFFER_SIZE`, `UDP.SEND_BUFFER_SIZE`). */
export const UDP_BUFFER_SIZE = 8192;

// Prometheus `/metrics` of the monitor service (cluster.md §9, beyond the reference): the CoAP, DTLS and
// cluster counters of the running servers, OS UDP drops and process metrics. Every value is read when
// scraped (collect callbacks over a once-per-scrape snapshot of the existing counters): nothing is added
// to the message path. A private Registry, never prom-client's global one.
//
// Process metrics are made here instead of by prom-client's collectDefaultMetrics: in prom-client 15 that
// enables a perf_hooks monitorEventLoopDelay histogram and a GC PerformanceObserver without any way to
// disable them again (lib/metrics/eventLoopLag.js, gc.js), so stop() could not tear them down.
import fs from 'node:fs';
import v8 from 'node:v8';
import { monitorEventLoopDelay, performance, type EventLoopUtilization } from 'node:perf_hooks';
import { AggregatorRegistry, Counter, Gauge, Registry, type MetricObjectWithValues, type MetricValue } from 'prom-client';
import type { CoapServer } from '../coap/server.js';
import { BOUND_COUNTER_NAMES, COUNTER_NAMES, counterLabel, type BoundCounterName, type CounterName } from '../coap/stats.js';
import { createDtlsDetailStats, type DtlsDetailStats, type DtlsStatsKey } from '../dtls/dtls-stats.js';
import { connectorCounters } from '../resources/extended/diagnostics-source.js';
import type { ClusterStatsKey } from '../cluster/stats.js';
import type { StoreStatsKey } from '../cluster/store/stats.js';
import { parseSocketDrops } from '../cluster/socket-drops.js';
import { parseUdpDrops } from '../server/udp-drops.js';
import { isMessageConnector } from '../transport/connector.js';

/** Prometheus metrics of the running servers (cluster.md §9, beyond the reference). */
export interface Metrics {
  /** value for the HTTP `Content-Type` header of the `/metrics` response */
  contentType: string;
  /** the current metrics in the Prometheus text format (0.0.4) */
  render(): Promise<string>;
  /** the current metrics as prom-client JSON (a worker's, for the primary's sum) */
  json(): Promise<MetricObjectWithValues<MetricValue<string>>[]>;
  /** ends the event-loop delay monitor (idempotent) */
  stop(): void;
}

/** Prefix of every metric name. */
export const METRIC_PREFIX = 'extplugtest_';

type Kind = 'counter' | 'gauge';
/** [name without prefix, help, kind] */
type Spec = readonly [name: string, help: string, kind: Kind];

/** CoAP message counters of an endpoint (src/coap/stats.ts) → metric; labels server, endpoint. */
export const COAP_COUNTER_METRICS: Readonly<Record<CounterName, Spec>> = {
  'send-requests': ['coap_sent_requests_total', 'CoAP requests sent.', 'counter'],
  'send-responses': ['coap_sent_responses_total', 'CoAP responses sent.', 'counter'],
  'send-errors': ['coap_send_errors_total', 'CoAP messages that could not be sent.', 'counter'],
  'recv-requests': ['coap_received_requests_total', 'CoAP requests received (without duplicates).', 'counter'],
  'recv-responses': ['coap_received_responses_total', 'CoAP responses received.', 'counter'],
  'recv-ignored': ['coap_received_ignored_total', 'CoAP messages received and ignored.', 'counter'],
  'recv-malformed': ['coap_received_malformed_total', 'Malformed CoAP messages received.', 'counter'],
  'send-acks': ['coap_sent_acks_total', 'Empty CoAP ACKs sent.', 'counter'],
  'send-rejects': ['coap_sent_rejects_total', 'CoAP RSTs sent.', 'counter'],
  'send-request retransmissions': ['coap_sent_request_retransmissions_total', 'CoAP request retransmissions sent.', 'counter'],
  'send-response retransmissions': ['coap_sent_response_retransmissions_total', 'CoAP response retransmissions sent.', 'counter'],
  'recv-acks': ['coap_received_acks_total', 'Empty CoAP ACKs received.', 'counter'],
  'recv-rejects': ['coap_received_rejects_total', 'CoAP RSTs received.', 'counter'],
  'recv-duplicate requests': ['coap_received_duplicate_requests_total', 'Duplicate CoAP requests received.', 'counter'],
  'recv-duplicate responses': ['coap_received_duplicate_responses_total', 'Duplicate CoAP responses received.', 'counter'],
  'recv-offloaded': ['coap_received_offloaded_total', 'CoAP messages received for already offloaded exchanges.', 'counter'],
};

/** Bound counters of an endpoint (evictions and refusals, src/coap/stats.ts) → metric; labels server, endpoint. */
export const BOUND_COUNTER_METRICS: Readonly<Record<BoundCounterName, Spec>> = {
  'dedup-evicted messages': ['coap_dedup_evicted_messages_total', 'Remembered messages forgotten before their lifetime (COAP.DEDUPLICATOR_MAX_MESSAGES).', 'counter'],
  'dedup-evicted peer messages': ['coap_dedup_evicted_peer_messages_total', 'Remembered messages forgotten before their lifetime (COAP.PEERS_MARK_AND_SWEEP_MESSAGES).', 'counter'],
  'dedup-evicted peers': ['coap_dedup_evicted_peers_total', 'Peers forgotten with their messages (COAP.MAX_ACTIVE_PEERS).', 'counter'],
  'blockwise-evicted transfers': ['coap_blockwise_evicted_transfers_total', 'Block-wise transfers evicted for the transfer count bound.', 'counter'],
  'blockwise-evicted by bytes': ['coap_blockwise_evicted_bytes_budget_total', 'Block-wise transfers evicted for the byte budget (COAP.BLOCKWISE_MAX_TOTAL_BYTES).', 'counter'],
  'observe-refused relations': ['coap_observe_refused_relations_total', 'Observe registrations refused (COAP.MAX_SERVER_OBSERVES).', 'counter'],
};

/** DTLS health counters (diagnosticGroup() rows, src/dtls/dtls-stats.ts) → metric; labels server, endpoint. */
export const DTLS_GROUP_METRICS: Readonly<Record<DtlsStatsKey, Spec | undefined>> = {
  connections: ['dtls_connections', 'DTLS connections in the connection store.', 'gauge'],
  'handshakes succeeded': ['dtls_handshakes_succeeded_total', 'DTLS handshakes completed.', 'counter'],
  'handshakes failed': ['dtls_handshakes_failed_total', 'DTLS handshakes failed.', 'counter'],
  'received records': ['dtls_received_records_total', 'DTLS records received.', 'counter'],
  'dropped received records': ['dtls_dropped_received_records_total', 'Received DTLS records dropped.', 'counter'],
  'dropped received mac-errors': ['dtls_dropped_received_mac_errors_total', 'Received DTLS records dropped for a MAC error.', 'counter'],
  'sending records': ['dtls_sent_records_total', 'DTLS records sent.', 'counter'],
  'dropped sending records': ['dtls_dropped_sent_records_total', 'DTLS records that could not be sent.', 'counter'],
  'dropped udp messages': ['dtls_dropped_udp_messages_total', 'UDP datagrams dropped by the DTLS connector.', 'counter'],
  // not exported: this implementation has no job queues, these keys stay 0
  'pending in jobs': undefined,
  'pending out jobs': undefined,
  'pending handshake jobs': undefined,
};

/** Cluster forwarding counters (cluster.md §4.5, ClusterConnector diagnosticGroup() rows) → metric; labels server, endpoint. */
export const CLUSTER_GROUP_METRICS: Readonly<Record<ClusterStatsKey, Spec>> = {
  forwarded: ['cluster_forwarded_total', 'DTLS records forwarded to the node owning the connection.', 'counter'],
  'process forwarded': ['cluster_processed_forwarded_total', 'Records forwarded by other nodes and processed here.', 'counter'],
  'bad forward': ['cluster_bad_forward_total', 'Forwarded records rejected (unknown sender or bad cluster MAC).', 'counter'],
  'drop forward': ['cluster_dropped_forward_total', 'Records that could not be forwarded or decoded.', 'counter'],
  backwarded: ['cluster_backwarded_total', 'Outgoing records sent back through the receiving node.', 'counter'],
  'send backwarded': ['cluster_sent_backwarded_total', 'Records backwarded by other nodes and sent from here.', 'counter'],
  'bad backward': ['cluster_bad_backward_total', 'Backwarded records rejected (unknown sender or bad cluster MAC).', 'counter'],
  'drop backward': ['cluster_dropped_backward_total', 'Records that could not be backwarded.', 'counter'],
  'sent cluster mgmt': ['cluster_sent_mgmt_messages_total', 'Cluster management messages sent.', 'counter'],
  'recv cluster mgmt': ['cluster_received_mgmt_messages_total', 'Cluster management messages received.', 'counter'],
  'dropped internal udp': ['cluster_dropped_internal_udp_total', 'Datagrams the OS dropped on the cluster management socket.', 'counter'],
};

/** Shared connection store counters (issue 12, ClusterConnector diagnosticGroup() rows) → metric; labels server, endpoint. */
export const STORE_GROUP_METRICS: Readonly<Record<StoreStatsKey, Spec>> = {
  'store writes': ['cluster_store_writes_total', 'DTLS connection entries written to the shared store (handshakes and checkpoints).', 'counter'],
  'store deletes': ['cluster_store_deletes_total', 'DTLS connection entries deleted from the shared store (closed or evicted).', 'counter'],
  'store errors': ['cluster_store_errors_total', 'Shared store commands that failed or timed out.', 'counter'],
  'store conflicts': ['cluster_store_conflicts_total', 'Connections dropped because another node owns their store entry.', 'counter'],
  'store refused entries': ['cluster_store_refused_entries_total', 'Store entries that did not authenticate or decode (refused).', 'counter'],
  'store sequence limits': ['cluster_store_sequence_limits_total', 'Records not written: at the stored sequence limit, or the store has not confirmed the connection.', 'counter'],
  'store lookups': ['cluster_store_lookups_total', 'Store lookups for CIDs of gone nodes or unknown CIDs of this node.', 'counter'],
  takeovers: ['cluster_takeovers_total', 'DTLS connections taken over from a node that is gone.', 'counter'],
  'takeover failures': ['cluster_takeover_failures_total', 'Lookups and takeovers that failed (the device falls back to a handshake).', 'counter'],
  'owners learned': ['cluster_store_owners_learned_total', 'New owners of CIDs learned from the store (records forwarded there).', 'counter'],
  'checkpoint lag': ['cluster_store_checkpoint_lag_records', 'Most records a connection wrote since its last stored checkpoint.', 'gauge'],
};

/** coap+tcp / coaps+tcp connection counters (TcpConnector diagnosticGroup() rows, src/tcp/connector.ts) → metric; labels server, endpoint. */
export const TCP_GROUP_METRICS: Readonly<Record<string, Spec>> = {
  connections: ['tcp_connections', 'Open coap+tcp/coaps+tcp connections (past the TLS handshake).', 'gauge'],
  accepted: ['tcp_accepted_connections_total', 'TCP connections accepted (TLS: before the handshake).', 'counter'],
  'over bound': ['tcp_refused_connections_total', 'TCP connections closed at once over TCP.MAX_CONNECTIONS.', 'counter'],
  'handshake failures': ['tls_handshake_failures_total', 'TLS handshakes failed or timed out, client certificates refused.', 'counter'],
  'resumed sessions': ['tls_resumed_sessions_total', 'TLS handshakes that resumed a session.', 'counter'],
  'csm timeouts': ['tcp_csm_timeouts_total', 'Connections closed for want of the peer\'s CSM (RFC 8323 §5.3).', 'counter'],
  'idle closed': ['tcp_idle_closed_total', 'Connections closed by TCP.CONNECTION_IDLE_TIMEOUT.', 'counter'],
  'closed by peer': ['tcp_closed_by_peer_total', 'Connections the peer closed without Release or Abort.', 'counter'],
  'releases received': ['tcp_releases_received_total', 'Release messages received (RFC 8323 §5.5).', 'counter'],
  'aborts sent': ['tcp_aborts_sent_total', 'Abort messages sent (RFC 8323 §5.6).', 'counter'],
  'aborts received': ['tcp_aborts_received_total', 'Abort messages received (RFC 8323 §5.6).', 'counter'],
  'malformed frames': ['tcp_malformed_frames_total', 'Received byte streams with framing errors.', 'counter'],
  'write overflows': ['tcp_write_overflows_total', 'Connections closed because the peer did not read (TCP.MAX_WRITE_BUFFER_SIZE).', 'counter'],
  'send errors': ['tcp_send_errors_total', 'Sends refused otherwise (connection gone, above the peer\'s Max-Message-Size).', 'counter'],
  'messages in': ['tcp_received_messages_total', 'Non-signaling messages received.', 'counter'],
  'messages out': ['tcp_sent_messages_total', 'Messages sent, signaling included.', 'counter'],
};
const TCP_METRICS = new Map<string, Spec>(Object.entries(TCP_GROUP_METRICS));

/** DTLS connector detail counters (DtlsConnector.detailStats, never reset) → metric; labels server, endpoint (other fields: detailMetric). */
export const DTLS_DETAIL_METRICS: Readonly<Partial<Record<keyof DtlsDetailStats, Spec>>> = {
  verifiedClientHellos: ['dtls_handshakes_started_total', 'DTLS handshakes started (ClientHellos past the cookie check or resuming).', 'counter'],
  helloVerifyRequests: ['dtls_hello_verify_requests_total', 'DTLS HelloVerifyRequests sent.', 'counter'],
  refusedHandshakes: ['dtls_refused_handshakes_total', 'DTLS handshakes refused (connection store full).', 'counter'],
  evictedConnections: ['dtls_evicted_connections_total', 'Stale DTLS connections evicted to make room.', 'counter'],
  malformedRecords: ['dtls_malformed_records_total', 'DTLS records that could not be framed.', 'counter'],
  unknownConnection: ['dtls_unknown_connection_records_total', 'DTLS records without a matching connection.', 'counter'],
  replayed: ['dtls_replayed_records_total', 'DTLS records dropped as duplicates or left of the replay window.', 'counter'],
  macFilterDrops: ['dtls_mac_filter_dropped_records_total', 'DTLS records dropped while the MAC error filter was active.', 'counter'],
  retransmissions: ['dtls_flight_retransmissions_total', 'DTLS handshake flight retransmissions.', 'counter'],
  fullHandshakes: ['dtls_full_handshakes_total', 'Full DTLS handshakes completed.', 'counter'],
  resumedHandshakes: ['dtls_resumed_handshakes_total', 'DTLS resumption handshakes completed.', 'counter'],
  alertsReceived: ['dtls_received_alerts_total', 'DTLS alerts received.', 'counter'],
  alertsSent: ['dtls_sent_alerts_total', 'DTLS alerts sent.', 'counter'],
  droppedClientHellos: ['dtls_flood_dropped_client_hellos_total', 'ClientHellos without a valid cookie dropped over DTLS.CLIENT_HELLO_RATE_LIMIT.', 'counter'],
  droppedVerifiedClientHellos: ['dtls_flood_dropped_verified_client_hellos_total', 'Cookie-verified ClientHellos dropped over DTLS.HANDSHAKE_START_RATE_LIMIT.', 'counter'],
  abandonedHandshakes: ['dtls_flood_abandoned_handshakes_total', 'Handshakes in progress abandoned at DTLS.MAX_PENDING_HANDSHAKES(_PER_ADDRESS).', 'counter'],
  floodEpisodes: ['dtls_flood_episodes_total', 'Episodes in which a DTLS flood limit engaged.', 'counter'],
};

/** The metric of a detailStats field: from DTLS_DETAIL_METRICS, else `dtls_<field in snake case>_total`. */
export function detailMetric(field: string): Spec {
  const spec = (DTLS_DETAIL_METRICS as Readonly<Record<string, Spec | undefined>>)[field];
  return spec ?? [`dtls_${counterLabel(field).replace(/[^a-z0-9]+/g, '_')}_total`, `DTLS connector detail counter ${field}.`, 'counter'];
}

/** Every field of DtlsDetailStats (read from a fresh object, so fields added later are exported too). */
const DETAIL_FIELDS: readonly string[] = Object.keys(createDtlsDetailStats());

/** A connector's `transportStats` record (e.g. flood protection of the UDP connector); labels server, endpoint, counter. */
const TRANSPORT_METRIC: Spec = ['transport_events_total', 'Counters of the transport below CoAP (the connector\'s transportStats), by counter name.', 'counter'];

/** Further per-endpoint gauges; labels server, endpoint. */
const ENDPOINT_GAUGES = {
  relations: ['coap_observe_relations', 'CoAP observe relations of the endpoint.', 'gauge'],
  dedup: ['coap_dedup_entries', 'Entries in the CoAP deduplication store of the endpoint.', 'gauge'],
} as const satisfies Record<string, Spec>;

/** Metrics outside the per-endpoint tables (socket drops per port, OS UDP drops, process). */
const OTHER_METRICS = {
  socketDrops: ['udp_socket_dropped_datagrams_total', 'Datagrams the OS dropped on the UDP sockets bound to an endpoint port (/proc/net/udp).', 'counter'],
  osInErrors: ['os_udp_receive_errors_total', 'UDP receive errors of the OS (Udp/Udp6 InErrors of /proc/net/snmp).', 'counter'],
  osRcvbufErrors: ['os_udp_receive_buffer_errors_total', 'UDP datagrams the OS dropped for a full receive buffer (RcvbufErrors).', 'counter'],
  cpuUser: ['process_cpu_user_seconds_total', 'User CPU time of the process in seconds.', 'counter'],
  cpuSystem: ['process_cpu_system_seconds_total', 'System CPU time of the process in seconds.', 'counter'],
  cpu: ['process_cpu_seconds_total', 'User and system CPU time of the process in seconds.', 'counter'],
  startTime: ['process_start_time_seconds', 'Start time of the process since the Unix epoch in seconds.', 'gauge'],
  rss: ['process_resident_memory_bytes', 'Resident memory of the process in bytes.', 'gauge'],
  heapTotal: ['nodejs_heap_size_total_bytes', 'V8 heap size in bytes.', 'gauge'],
  heapUsed: ['nodejs_heap_size_used_bytes', 'V8 heap used in bytes.', 'gauge'],
  heapLimit: ['nodejs_heap_size_limit_bytes', 'V8 heap size limit in bytes.', 'gauge'],
  external: ['nodejs_external_memory_bytes', 'Memory of C++ objects bound to JavaScript objects in bytes.', 'gauge'],
  arrayBuffers: ['nodejs_array_buffers_bytes', 'Memory of ArrayBuffers and Buffers in bytes.', 'gauge'],
  elu: ['nodejs_eventloop_utilization_ratio', 'Event-loop utilization (0..1) since the previous scrape.', 'gauge'],
} as const satisfies Record<string, Spec>;

/** Event-loop delay monitor resolution (ms); reported delays are those beyond it. */
const LAG_RESOLUTION_MS = 10;

/** Event-loop lag statistics since the previous scrape, from the monitorEventLoopDelay histogram. */
const LAG_METRICS = {
  min: 'nodejs_eventloop_lag_min_seconds',
  max: 'nodejs_eventloop_lag_max_seconds',
  mean: 'nodejs_eventloop_lag_mean_seconds',
  stddev: 'nodejs_eventloop_lag_stddev_seconds',
  p50: 'nodejs_eventloop_lag_p50_seconds',
  p90: 'nodejs_eventloop_lag_p90_seconds',
  p99: 'nodejs_eventloop_lag_p99_seconds',
} as const;

/** Lag of one setImmediate callback at scrape time (an async collect). */
const LAG_NOW = 'nodejs_eventloop_lag_seconds';

type Labels = Record<string, string>;
/** metric name (without prefix) → samples of one scrape */
type Snapshot = Map<string, Array<[Labels, number]>>;

/** The per-endpoint part of diagnosticGroup() of a DTLS or cluster connector (rows [key, current, total of earlier periods]). */
interface GroupProvider {
  diagnosticGroup(): { counters: Array<[string, number, number]> } | undefined;
}

/** Row key of a diagnostic group → metric spec. */
const GROUP_METRICS = new Map<string, Spec>();
for (const [k, spec] of [...Object.entries(DTLS_GROUP_METRICS), ...Object.entries(CLUSTER_GROUP_METRICS), ...Object.entries(STORE_GROUP_METRICS)]) {
  if (spec !== undefined) GROUP_METRICS.set(k, spec);
}

function groupOf(connector: object): GroupProvider | undefined {
  const p = connector as Partial<GroupProvider>;
  return typeof p.diagnosticGroup === 'function' ? (p as GroupProvider) : undefined;
}

/** detailStats of a DtlsConnector, or of the DtlsConnector inside a ClusterConnector (`dtls`). */
function detailStatsOf(connector: object): DtlsDetailStats | undefined {
  const c = connector as { detailStats?: DtlsDetailStats; dtls?: { detailStats?: DtlsDetailStats } };
  return c.detailStats ?? c.dtls?.detailStats;
}

function readText(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

/** Reads all server counters into a snapshot (once per scrape). */
function readServers(servers: readonly CoapServer[], snap: Snapshot): void {
  const add = (spec: Spec, labels: Labels, value: number): void => {
    let samples = snap.get(spec[0]);
    if (samples === undefined) snap.set(spec[0], (samples = []));
    samples.push([labels, value]);
  };
  const ports = new Set<number>();
  for (const s of servers) {
    for (const ep of s.endpoints) {
      const labels: Labels = { server: s.tag, endpoint: ep.info.uri };
      // running total = total of earlier health periods + current period (monotonic across transfers)
      for (const n of COUNTER_NAMES) add(COAP_COUNTER_METRICS[n], labels, ep.stats.total.get(n)! + ep.stats.get(n));
      add(ENDPOINT_GAUGES.relations, labels, ep.relations.size);
      add(ENDPOINT_GAUGES.dedup, labels, ep.dedup.size);
      for (const n of BOUND_COUNTER_NAMES) add(BOUND_COUNTER_METRICS[n], labels, ep.stats.bounds.total.get(n)! + ep.stats.bounds.get(n));
      for (const c of connectorCounters(ep.connector)) {
        if (c.name !== 'transport') continue;
        for (const [k, v] of Object.entries(c.counters)) {
          if (typeof v === 'number' && Number.isFinite(v)) add(TRANSPORT_METRIC, { ...labels, counter: counterLabel(k) }, v);
        }
      }
      // a TCP/TLS group has its own rows (its `connections` are no DTLS connections)
      const tcp = isMessageConnector(ep.connector);
      const group = groupOf(ep.connector)?.diagnosticGroup();
      if (group !== undefined) {
        for (const [key, cur, all] of group.counters) {
          const spec = (tcp ? TCP_METRICS : GROUP_METRICS).get(key);
          if (spec !== undefined) add(spec, labels, spec[2] === 'gauge' ? cur : all + cur);
        }
      }
      const detail = detailStatsOf(ep.connector);
      if (detail !== undefined) {
        for (const k of DETAIL_FIELDS) {
          const v = (detail as unknown as Record<string, unknown>)[k];
          if (typeof v === 'number') add(detailMetric(k), labels, v);
        }
      }
      if (ep.isRunning && ep.info.localPort > 0) ports.add(ep.info.localPort);
    }
  }
  // OS drops per socket: /proc/net/udp* is keyed by local port; sockets sharing a port (several
  // interface addresses) are summed, hence one series per port rather than per endpoint
  const tables = ['/proc/net/udp', '/proc/net/udp6'].map(readText).filter((t): t is string => t !== undefined);
  if (tables.length > 0) {
    for (const port of [...ports].sort((a, b) => a - b)) {
      let drops = 0;
      for (const t of tables) drops += parseSocketDrops(t, port);
      add(OTHER_METRICS.socketDrops, { port: String(port) }, drops);
    }
  }
}

/**
 * Creates the metrics over `servers()` (read on every scrape); starts an event-loop delay monitor that stop() ends.
 * `processLabel`: a process of a multi-worker server (`primary`, `worker-0`, ...): the process metrics (CPU, memory,
 * event loop) carry it as label `process`, so that the primary's sum (aggregateMetrics) keeps one series per process.
 */
export function createMetrics(servers: () => readonly CoapServer[], processLabel?: string): Metrics {
  const register = new Registry();
  const lagMonitor = monitorEventLoopDelay({ resolution: LAG_RESOLUTION_MS });
  lagMonitor.enable();
  let stopped = false;
  let lastElu: EventLoopUtilization = performance.eventLoopUtilization();
  const osDrops = fs.existsSync('/proc/net/snmp');

  // one snapshot per render(): the first collect callback of a scrape takes it, the others reuse it
  let scrape = 0;
  let taken = -1;
  let snap: Snapshot = new Map();
  const snapshot = (): Snapshot => {
    if (taken === scrape) return snap;
    taken = scrape;
    snap = new Map();
    readServers(servers(), snap);
    readProcess(snap);
    return snap;
  };

  const readProcess = (s: Snapshot): void => {
    const own: Labels = processLabel === undefined ? {} : { process: processLabel };
    const set = (name: string, value: number): void => {
      s.set(name, [[own, value]]);
    };
    const cpu = process.cpuUsage();
    set(OTHER_METRICS.cpuUser[0], cpu.user / 1e6);
    set(OTHER_METRICS.cpuSystem[0], cpu.system / 1e6);
    set(OTHER_METRICS.cpu[0], (cpu.user + cpu.system) / 1e6);
    set(OTHER_METRICS.startTime[0], Math.round(performance.timeOrigin) / 1000);
    const mem = process.memoryUsage();
    set(OTHER_METRICS.rss[0], mem.rss);
    set(OTHER_METRICS.heapTotal[0], mem.heapTotal);
    set(OTHER_METRICS.heapUsed[0], mem.heapUsed);
    set(OTHER_METRICS.external[0], mem.external);
    set(OTHER_METRICS.arrayBuffers[0], mem.arrayBuffers);
    set(OTHER_METRICS.heapLimit[0], v8.getHeapStatistics().heap_size_limit);
    const elu = performance.eventLoopUtilization();
    set(OTHER_METRICS.elu[0], performance.eventLoopUtilization(elu, lastElu).utilization);
    lastElu = elu;
    if (osDrops) {
      const drops = parseUdpDrops(readText('/proc/net/snmp') ?? '', readText('/proc/net/snmp6') ?? '');
      // machine-wide: the same in every process (the primary's sum takes the largest)
      s.set(OTHER_METRICS.osInErrors[0], [[{}, drops.inErrors]]);
      s.set(OTHER_METRICS.osRcvbufErrors[0], [[{}, drops.rcvbufErrors]]);
    }
    // delays beyond the sampling interval, since the previous scrape (0 without samples)
    const beyond = (ns: number): number => (lagMonitor.count > 0 ? Math.max(0, ns - LAG_RESOLUTION_MS * 1e6) / 1e9 : 0);
    set(LAG_METRICS.min, beyond(lagMonitor.min));
    set(LAG_METRICS.max, beyond(lagMonitor.max));
    set(LAG_METRICS.mean, beyond(lagMonitor.mean));
    set(LAG_METRICS.stddev, lagMonitor.count > 0 ? lagMonitor.stddev / 1e9 : 0);
    set(LAG_METRICS.p50, beyond(lagMonitor.percentile(50)));
    set(LAG_METRICS.p90, beyond(lagMonitor.percentile(90)));
    set(LAG_METRICS.p99, beyond(lagMonitor.percentile(99)));
    lagMonitor.reset();
  };

  const processLabels: readonly string[] = processLabel === undefined ? [] : ['process'];
  const define = (spec: Spec, labelNames: readonly string[], aggregator: 'sum' | 'max' = 'sum'): void => {
    const [short, help, kind] = spec;
    const name = METRIC_PREFIX + short;
    if (kind === 'counter') {
      const counter: Counter<string> = new Counter({
        name,
        help,
        labelNames,
        aggregator,
        registers: [register],
        collect() {
          counter.reset();
          for (const [labels, value] of snapshot().get(short) ?? []) counter.inc(labels, value);
        },
      });
    } else {
      const gauge: Gauge<string> = new Gauge({
        name,
        help,
        labelNames,
        aggregator,
        registers: [register],
        collect() {
          gauge.reset();
          for (const [labels, value] of snapshot().get(short) ?? []) gauge.set(labels, value);
        },
      });
    }
  };

  const endpointLabels = ['server', 'endpoint'] as const;
  for (const n of COUNTER_NAMES) define(COAP_COUNTER_METRICS[n], endpointLabels);
  define(ENDPOINT_GAUGES.relations, endpointLabels);
  define(ENDPOINT_GAUGES.dedup, endpointLabels);
  for (const spec of GROUP_METRICS.values()) define(spec, endpointLabels);
  for (const spec of TCP_METRICS.values()) define(spec, endpointLabels);
  for (const n of BOUND_COUNTER_NAMES) define(BOUND_COUNTER_METRICS[n], endpointLabels);
  for (const k of DETAIL_FIELDS) define(detailMetric(k), endpointLabels);
  define(TRANSPORT_METRIC, ['server', 'endpoint', 'counter']);
  define(OTHER_METRICS.socketDrops, ['port']);
  if (osDrops) {
    define(OTHER_METRICS.osInErrors, [], 'max');
    define(OTHER_METRICS.osRcvbufErrors, [], 'max');
  }
  for (const key of ['cpuUser', 'cpuSystem', 'cpu', 'startTime', 'rss', 'heapTotal', 'heapUsed', 'heapLimit', 'external', 'arrayBuffers', 'elu'] as const) {
    define(OTHER_METRICS[key], processLabels);
  }
  const lagHelp: Record<keyof typeof LAG_METRICS, string> = {
    min: 'Minimum',
    max: 'Maximum',
    mean: 'Mean',
    stddev: 'Standard deviation of the',
    p50: '50th percentile of the',
    p90: '90th percentile of the',
    p99: '99th percentile of the',
  };
  for (const key of Object.keys(LAG_METRICS) as Array<keyof typeof LAG_METRICS>) {
    define([LAG_METRICS[key], `${lagHelp[key]} event-loop delay in seconds since the previous scrape (beyond the ${LAG_RESOLUTION_MS} ms sampling interval).`, 'gauge'], processLabels);
  }
  const lagNow: Gauge<string> = new Gauge({
    name: METRIC_PREFIX + LAG_NOW,
    help: 'Delay of a setImmediate callback scheduled at scrape time, in seconds.',
    labelNames: processLabels,
    registers: [register],
    async collect() {
      const start = process.hrtime.bigint();
      await new Promise<void>((resolve) => setImmediate(resolve));
      lagNow.reset();
      lagNow.set(processLabel === undefined ? {} : { process: processLabel }, Number(process.hrtime.bigint() - start) / 1e9);
    },
  });

  return {
    contentType: register.contentType,
    render() {
      scrape++;
      return register.metrics();
    },
    json() {
      scrape++;
      return register.getMetricsAsJSON();
    },
    stop() {
      if (stopped) return;
      stopped = true;
      lagMonitor.disable();
    },
  };
}

/**
 * The metrics of a multi-worker server (issue 13): this process' and the workers' (their json(), fetched per scrape)
 * summed by metric and labels; a machine-wide figure takes the largest, a process figure keeps its `process` label.
 */
export function aggregateMetrics(own: Metrics, workers: () => Promise<MetricObjectWithValues<MetricValue<string>>[][]>): Metrics {
  return {
    contentType: own.contentType,
    async render() {
      const [mine, theirs] = await Promise.all([own.json(), workers()]);
      return AggregatorRegistry.aggregate([mine, ...theirs]).metrics();
    },
    json: () => own.json(),
    stop: () => own.stop(),
  };
}

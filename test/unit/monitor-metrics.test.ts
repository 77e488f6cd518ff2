// Prometheus /metrics (src/monitor/metrics.ts): real CoAP (UDP) and DTLS servers on loopback, scraped and
// parsed; counters are exact, monotonic across health-dump transfers, and process metrics are present.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import dgram from 'node:dgram';
import fs from 'node:fs';
import { CoapServer } from '../../src/coap/server.js';
import type { CoapEndpoint } from '../../src/coap/endpoint.js';
import { addChild, createResource, type Resource } from '../../src/coap/resource.js';
import { ACK, CON, Code, Opt, type CoapMessage } from '../../src/coap/message.js';
import { decode, encode } from '../../src/coap/codec.js';
import { DEFAULT_STACK_CONFIG } from '../../src/coap/stack-config.js';
import { UdpConnector } from '../../src/transport/udp-connector.js';
import { DtlsConnector } from '../../src/dtls/connector.js';
import { COUNTER_NAMES } from '../../src/coap/stats.js';
import { COAP_COUNTER_METRICS, createMetrics, type Metrics } from '../../src/monitor/metrics.js';
import { ClusterConnector } from '../../src/cluster/cluster-connector.js';
import { ClusterTransport } from '../../src/cluster/cluster-transport.js';
import { staticResolver } from '../../src/cluster/resolver.js';
import { Failover } from '../../src/cluster/store/failover.js';
import type { RedisStore } from '../../src/cluster/store/redis-store.js';
import { DtlsPeer } from '../helpers/dtls-client.js';

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses the sample lines of the Prometheus text format. */
function parse(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (m === null) throw new Error(`unparsable line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_]\w*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    samples.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return samples;
}

/** The value of the one sample of `name` whose labels equal `labels` exactly (undefined if none). */
function value(samples: Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  const hits = samples.filter(
    (s) => s.name === name && Object.keys(s.labels).length === Object.keys(labels).length && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  );
  expect(hits.length, `samples of ${name}${JSON.stringify(labels)}`).toBeLessThanOrEqual(1);
  return hits[0]?.value;
}

function helloTree(): Resource {
  const root = createResource('');
  addChild(root, createResource('hello', { handlers: { GET: (ex) => ex.respond({ code: Code.CONTENT, payload: 'world', format: 0 }) } }));
  return root;
}

/** Sends `n` CON GETs /hello from a fresh socket, one after the other, and returns the ACKs. */
async function gets(port: number, n: number): Promise<CoapMessage[]> {
  const sock = dgram.createSocket('udp4');
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
  const got: CoapMessage[] = [];
  try {
    for (let i = 0; i < n; i++) {
      const mid = 1000 + i;
      const answer = new Promise<CoapMessage>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no answer to MID ${mid}`)), 2000);
        const onMessage = (data: Buffer): void => {
          const msg = decode(data);
          if (msg.mid !== mid) return;
          clearTimeout(timer);
          sock.off('message', onMessage);
          resolve(msg);
        };
        sock.on('message', onMessage);
      });
      const req = encode({ type: CON, code: Code.GET, mid, token: Buffer.from([i + 1]), options: [{ number: Opt.URI_PATH, value: Buffer.from('hello') }], payload: Buffer.alloc(0) });
      sock.send(req, port, '127.0.0.1');
      got.push(await answer);
    }
  } finally {
    sock.close();
  }
  return got;
}

const P = 'extplugtest_';


/** Node 1 of a static cluster on ephemeral loopback ports: its cluster transport and DTLS connector (CID 6). */
function clusterNode1(): { transport: ClusterTransport; dtls: DtlsConnector } {
  const transport = new ClusterTransport({
    dtls: { address: '127.0.0.1', port: 0 },
    mgmt: { address: '127.0.0.1', port: 0 },
    nodeId: 1,
    backward: true,
    mac: false,
    resolver: staticResolver(new Map()),
  });
  const dtls = new DtlsConnector({ address: '127.0.0.1', port: 0, role: 'server', transport, config: { cidLength: 6, nodeId: 1 } });
  return { transport, dtls };
}
describe('monitor metrics over a CoAP/UDP server', () => {
  let server: CoapServer;
  let ep: CoapEndpoint;
  let metrics: Metrics;
  let labels: Record<string, string>;

  beforeAll(async () => {
    server = new CoapServer('EXT', helloTree());
    ep = server.addEndpoint(new UdpConnector({ address: '127.0.0.1', port: 0 }), DEFAULT_STACK_CONFIG);
    await server.start();
    labels = { server: 'EXT', endpoint: `coap://127.0.0.1:${ep.info.localPort}` };
    metrics = createMetrics(() => [server]);
  });

  afterAll(async () => {
    metrics.stop();
    await server.stop();
  });

  it('counts the requests and responses of the endpoint exactly and keeps them monotonic', async () => {
    expect(metrics.contentType).toBe('text/plain; version=0.0.4; charset=utf-8');
    const acks = await gets(ep.info.localPort, 3);
    expect(acks.map((m) => [m.type, m.code, m.payload.toString()])).toEqual(Array(3).fill([ACK, Code.CONTENT, 'world']));

    const first = parse(await metrics.render());
    expect(value(first, `${P}coap_received_requests_total`, labels)).toBe(3);
    expect(value(first, `${P}coap_sent_responses_total`, labels)).toBe(3);
    expect(value(first, `${P}coap_received_duplicate_requests_total`, labels)).toBe(0);
    expect(value(first, `${P}coap_observe_relations`, labels)).toBe(0);
    expect(value(first, `${P}coap_dedup_entries`, labels)).toBe(3);
    // every CoAP counter of the mapping table is exported for the endpoint
    for (const n of COUNTER_NAMES) expect(value(first, P + COAP_COUNTER_METRICS[n][0], labels), n).toBeTypeOf('number');
    // no DTLS metrics for a plain UDP endpoint
    expect(first.filter((s) => s.name.startsWith(`${P}dtls_`))).toEqual([]);

    // a periodic health dump moves the current period into the totals: the exported values stay
    ep.stats.transfer();
    await gets(ep.info.localPort, 2);
    const second = parse(await metrics.render());
    expect(value(second, `${P}coap_received_requests_total`, labels)).toBe(5);
    expect(value(second, `${P}coap_sent_responses_total`, labels)).toBe(5);
    ep.stats.transfer();
    const third = parse(await metrics.render());
    expect(value(third, `${P}coap_received_requests_total`, labels)).toBe(5);
  });

  it('declares counters and gauges with the right TYPE', async () => {
    const text = await metrics.render();
    expect(text).toContain(`# TYPE ${P}coap_received_requests_total counter`);
    expect(text).toContain(`# TYPE ${P}coap_observe_relations gauge`);
    expect(text).toContain(`# TYPE ${P}dtls_connections gauge`);
    expect(text).toContain(`# TYPE ${P}nodejs_heap_size_used_bytes gauge`);
  });

  it('reports heap, CPU and event-loop metrics of the process', async () => {
    await new Promise((r) => setTimeout(r, 50)); // some event-loop delay samples
    const s = parse(await metrics.render());
    const heapUsed = value(s, `${P}nodejs_heap_size_used_bytes`)!;
    expect(heapUsed).toBeGreaterThan(1_000_000);
    expect(value(s, `${P}nodejs_heap_size_total_bytes`)!).toBeGreaterThanOrEqual(heapUsed);
    expect(value(s, `${P}nodejs_heap_size_limit_bytes`)!).toBeGreaterThan(heapUsed);
    expect(value(s, `${P}process_resident_memory_bytes`)!).toBeGreaterThan(heapUsed);
    expect(value(s, `${P}process_cpu_seconds_total`)!).toBeGreaterThan(0);
    expect(value(s, `${P}process_start_time_seconds`)!).toBeCloseTo(performance.timeOrigin / 1000, 0);
    expect(value(s, `${P}nodejs_eventloop_lag_seconds`)!).toBeGreaterThan(0);
    for (const q of ['min', 'max', 'mean', 'stddev', 'p50', 'p90', 'p99']) {
      const lag = value(s, `${P}nodejs_eventloop_lag_${q}_seconds`);
      expect(lag, q).toBeGreaterThanOrEqual(0);
      expect(lag, q).toBeLessThan(5);
    }
    const elu = value(s, `${P}nodejs_eventloop_utilization_ratio`)!;
    expect(elu).toBeGreaterThan(0);
    expect(elu).toBeLessThanOrEqual(1);
    // nothing from prom-client's global registry or unprefixed default metrics
    expect(s.filter((x) => !x.name.startsWith(P))).toEqual([]);
  });

  it.skipIf(!fs.existsSync('/proc/net/udp'))('reports the OS socket drops of the endpoint port', async () => {
    const s = parse(await metrics.render());
    expect(value(s, `${P}udp_socket_dropped_datagrams_total`, { port: String(ep.info.localPort) })).toBe(0);
    expect(value(s, `${P}os_udp_receive_buffer_errors_total`)).toBeGreaterThanOrEqual(0);
  });

  it('measures event-loop lag until stop() ends the delay monitor', async () => {
    const own = createMetrics(() => []);
    const block = async (ms: number): Promise<void> => {
      await new Promise((r) => setTimeout(r, 30)); // let the monitor's timer run
      const end = Date.now() + ms;
      while (Date.now() < end) {
        // a blocked event loop
      }
      await new Promise((r) => setTimeout(r, 30));
    };
    try {
      await own.render(); // starts a new measuring period
      await block(60);
      const running = parse(await own.render());
      expect(value(running, `${P}nodejs_eventloop_lag_max_seconds`)!).toBeGreaterThan(0.03);
      own.stop();
      own.stop(); // idempotent
      await block(60);
      const stopped = parse(await own.render());
      expect(value(stopped, `${P}nodejs_eventloop_lag_max_seconds`)).toBe(0);
    } finally {
      own.stop();
    }
  });

  it('reads the server list on every scrape', async () => {
    const other = createMetrics(() => []);
    try {
      const s = parse(await other.render());
      expect(s.filter((x) => 'endpoint' in x.labels)).toEqual([]);
      expect(value(s, `${P}nodejs_heap_size_used_bytes`)).toBeGreaterThan(0);
    } finally {
      other.stop();
    }
  });
});

describe('monitor metrics over a CoAP/DTLS server', () => {
  const cleanup: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c();
  });

  it('counts one PSK handshake, its connection and the request over it', async () => {
    const server = new CoapServer('PLUG', helloTree());
    const ep = server.addEndpoint(new DtlsConnector({ address: '127.0.0.1', port: 0, role: 'server' }), DEFAULT_STACK_CONFIG);
    await server.start();
    cleanup.push(() => server.stop());
    const metrics = createMetrics(() => [server]);
    cleanup.push(async () => metrics.stop());
    const labels = { server: 'PLUG', endpoint: `coaps://127.0.0.1:${ep.info.localPort}` };

    const before = parse(await metrics.render());
    expect(value(before, `${P}dtls_handshakes_succeeded_total`, labels)).toBe(0);
    expect(value(before, `${P}dtls_connections`, labels)).toBe(0);

    const peer = await DtlsPeer.open('127.0.0.1', ep.info.localPort);
    cleanup.push(() => peer.connector.stop());
    await peer.connect();
    const answer = await peer.callFull(peer.build({ type: CON, code: Code.GET, path: 'hello' }));
    expect(answer.msg.payload.toString()).toBe('world');

    const s = parse(await metrics.render());
    expect(value(s, `${P}dtls_handshakes_started_total`, labels)).toBe(1);
    expect(value(s, `${P}dtls_handshakes_succeeded_total`, labels)).toBe(1);
    expect(value(s, `${P}dtls_full_handshakes_total`, labels)).toBe(1);
    expect(value(s, `${P}dtls_handshakes_failed_total`, labels)).toBe(0);
    expect(value(s, `${P}dtls_connections`, labels)).toBe(1);
    expect(value(s, `${P}coap_received_requests_total`, labels)).toBe(1);
    expect(value(s, `${P}coap_sent_responses_total`, labels)).toBe(1);
    const received = value(s, `${P}dtls_received_records_total`, labels)!;
    const sent = value(s, `${P}dtls_sent_records_total`, labels)!;
    expect(received).toBeGreaterThanOrEqual(2); // handshake records and the request
    expect(sent).toBeGreaterThanOrEqual(2);
    // no cluster counters on a plain DTLS connector
    expect(s.filter((x) => x.name.startsWith(`${P}cluster_`))).toEqual([]);

    // a health-dump transfer: counters keep their totals, the connections gauge stays 1
    (ep.connector as DtlsConnector).transferStats();
    const after = parse(await metrics.render());
    expect(value(after, `${P}dtls_handshakes_succeeded_total`, labels)).toBe(1);
    expect(value(after, `${P}dtls_connections`, labels)).toBe(1);
    expect(value(after, `${P}dtls_received_records_total`, labels)).toBe(received);
  });

  it('exports the forwarding counters and DTLS details of a cluster node connector', async () => {
    const { transport, dtls } = clusterNode1();
    const server = new CoapServer('EXT', helloTree());
    const ep = server.addEndpoint(new ClusterConnector(dtls, transport), DEFAULT_STACK_CONFIG);
    await server.start();
    cleanup.push(() => server.stop());
    const metrics = createMetrics(() => [server]);
    cleanup.push(async () => metrics.stop());
    const labels = { server: 'EXT', endpoint: `coaps://127.0.0.1:${ep.info.localPort}` };

    const peer = await DtlsPeer.open('127.0.0.1', ep.info.localPort);
    cleanup.push(() => peer.connector.stop());
    await peer.connect();
    // the counters are the transport's (incremented on the forwarding paths); a transfer in between
    transport.stats.forwarded += 2;
    transport.stats['drop backward'] += 1;
    (ep.connector as ClusterConnector).transferStats();
    transport.stats.forwarded += 3;

    const s = parse(await metrics.render());
    expect(value(s, `${P}cluster_forwarded_total`, labels)).toBe(5);
    expect(value(s, `${P}cluster_dropped_backward_total`, labels)).toBe(1);
    expect(value(s, `${P}cluster_processed_forwarded_total`, labels)).toBe(0);
    // DTLS group and detail counters of the wrapped connector
    expect(value(s, `${P}dtls_handshakes_started_total`, labels)).toBe(1);
    expect(value(s, `${P}dtls_handshakes_succeeded_total`, labels)).toBe(1);
    expect(value(s, `${P}dtls_connections`, labels)).toBe(1);
  });

  it('exports the shared connection store counters of a cluster node (issue 12)', async () => {
    const { transport, dtls } = clusterNode1();
    const node = new ClusterConnector(dtls, transport);
    // a store that is never reached: the counters are set below
    const store: RedisStore = {
      write: async () => 'written',
      remove: async () => {},
      lookup: async () => undefined,
      claim: async () => undefined,
      connected: false,
      close: async () => {},
    };
    const failover = new Failover(
      { nodeId: 1, key: Buffer.alloc(32), store, checkpointRecords: 10, checkpointInterval: 1000, sequenceMargin: 100, takeoverDelay: 0 },
      dtls,
      { nodeAddress: () => undefined, ready: true, forwardTo: () => {}, deliver: () => {} },
    );
    node.attachFailover(failover, store);
    const server = new CoapServer('EXT', helloTree());
    const ep = server.addEndpoint(node, DEFAULT_STACK_CONFIG);
    await server.start();
    cleanup.push(() => server.stop());
    const metrics = createMetrics(() => [server]);
    cleanup.push(async () => metrics.stop());
    const labels = { server: 'EXT', endpoint: `coaps://127.0.0.1:${ep.info.localPort}` };
    failover.stats.takeovers += 2;
    failover.stats['store writes'] += 7;
    node.transferStats();
    failover.stats['store writes'] += 3;
    failover.stats['store errors'] += 1;
    failover.stats['checkpoint lag'] = 42;
    const s = parse(await metrics.render());
    expect(value(s, `${P}cluster_takeovers_total`, labels)).toBe(2);
    expect(value(s, `${P}cluster_store_writes_total`, labels)).toBe(10);
    expect(value(s, `${P}cluster_store_errors_total`, labels)).toBe(1);
    expect(value(s, `${P}cluster_store_checkpoint_lag_records`, labels)).toBe(42);
  });
});

// Memory per idle DTLS connection (issue 10): one server DtlsConnector in this process and N PSK clients in a child
// process, their datagrams carried over the IPC channel (no sockets; nothing leaves the two processes). The clients
// handshake in batches (optionally send one request) and are dropped, so that after a full GC the server process holds
// its N established, idle connections; prints the heap, external and RSS growth per connection (after WARMUP
// connections that are not counted), right after the handshakes and once their leftovers expired, and what one
// connection still references, and writes the figures as JSON.
// Run: npx tsc -p tsconfig.json && node dist/bench/connection-memory.js [--connections 10000]
//      [--cid 6] [--suite TLS_PSK_WITH_AES_128_CCM_8] [--traffic] [--out connection-memory.json]
import fs from 'node:fs';
import { fork, spawnSync, type ChildProcess } from 'node:child_process';
import { parseArgs } from 'node:util';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { cipherSuiteByName } from '../src/dtls/cipher-suites.js';
import type { Connection } from '../src/dtls/connection.js';
import { DtlsConnector } from '../src/dtls/connector.js';
import { lastFlightLifetime } from '../src/dtls/handshake-end.js';
import type { DatagramHandler, DatagramTransport, SendDone } from '../src/transport/datagram.js';
import type { PeerAddress } from '../src/transport/connector.js';
import { TimerWheel } from '../src/util/timer-wheel.js';

/** Upper bound of connections (the issue's target is stated for 100,000). */
const MAX_CONNECTIONS = 200_000;
/** Connections made before the baseline (more than FAST_CCM_DEFAULT_CAPACITY / 4 client + server pairs). */
const WARMUP = 1100;
/** Handshakes run in parallel. */
const BATCH = 200;
/** The whole run is bounded in time. */
const TIME_LIMIT_MS = 15 * 60_000;

/** A datagram between the two processes. */
interface Wire {
  type: 'datagram';
  from: [string, number];
  to: [string, number];
  data: Buffer;
}

/**
 * In-memory datagram network: transports by `address:port`, delivery on the next turn (setImmediate); datagrams to
 * addresses not on this side go to `gateway` (the other process).
 */
class MemoryNetwork {
  readonly nodes = new Map<string, MemoryTransport>();
  datagrams = 0;
  gateway: ((w: Wire) => void) | undefined;
  /** Delivers a datagram that came from the other process. */
  deliver(w: Wire): void {
    this.nodes.get(`${w.to[0]}:${w.to[1]}`)?.onDatagram(Buffer.from(w.data), w.from[0], w.from[1], undefined);
  }
}

/** A DatagramTransport on a MemoryNetwork (copies each datagram, as a socket would). */
class MemoryTransport implements DatagramTransport {
  onDatagram: DatagramHandler = () => {};
  running = false;
  constructor(
    private readonly net: MemoryNetwork,
    readonly localAddress: string,
    readonly localPort: number,
  ) {}
  start(): Promise<void> {
    this.running = true;
    this.net.nodes.set(`${this.localAddress}:${this.localPort}`, this);
    return Promise.resolve();
  }
  stop(): Promise<void> {
    this.running = false;
    this.net.nodes.delete(`${this.localAddress}:${this.localPort}`);
    return Promise.resolve();
  }
  send(data: Buffer, address: string, port: number, _router: PeerAddress | undefined, done: SendDone): void {
    const to = this.net.nodes.get(`${address}:${port}`);
    this.net.datagrams++;
    if (to !== undefined) {
      const copy = Buffer.from(data);
      setImmediate(() => to.onDatagram(copy, this.localAddress, this.localPort, undefined));
    } else {
      this.net.gateway?.({ type: 'datagram', from: [this.localAddress, this.localPort], to: [address, port], data: Buffer.from(data) });
    }
    done(null);
  }
}

/** Figures of one run. */
export interface ConnectionMemoryResult {
  connections: number;
  suite: string;
  cidLength: number;
  traffic: boolean;
  handshakeMs: number;
  /** right after the handshakes (last flights still kept) */
  freshHeapUsedPerConnectionBytes: number;
  freshExternalPerConnectionBytes: number;
  freshRssPerConnectionBytes: number;
  /** after the last flights expired (lastFlightLifetime): the idle connections */
  heapUsedPerConnectionBytes: number;
  externalPerConnectionBytes: number;
  arrayBuffersPerConnectionBytes: number;
  rssPerConnectionBytes: number;
  /** heap + external freed when the server's connections (warm-up ones included) are removed, per connection */
  freedPerConnectionBytes: number;
  /** what one idle connection still references (field name → description) */
  retained: Record<string, string>;
}

function gc(): void {
  const g = (globalThis as { gc?: () => void }).gc!;
  for (let i = 0; i < 3; i++) g();
}

/** Memory after a full GC, sampled on a later turn (stale interpreter registers of the caller are no roots then). */
async function usage(): Promise<NodeJS.MemoryUsage> {
  await new Promise((resolve) => setTimeout(resolve, 20));
  gc();
  return process.memoryUsage();
}

/** Removes every connection of the server's store. */
function removeAll(server: DtlsConnector): void {
  for (const conn of [...server.store.values()]) server.store.remove(conn, 'cleared');
}

/** Short description of the fields a connection holds (undefined ones left out). */
function describe(conn: Connection): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(conn)) {
    if (v === undefined) continue;
    if (Buffer.isBuffer(v)) out[k] = `Buffer(${v.length}) on ArrayBuffer(${v.buffer.byteLength})`;
    else if (typeof v === 'string' && v.length > 16) out[k] = `string(${v.length})`;
    else if (Array.isArray(v)) out[k] = `Array(${v.length})`;
    else if (v !== null && typeof v === 'object') out[k] = `{${Object.keys(v as object).join(',')}}`;
  }
  return out;
}

/** Connects `n` clients to the server (batches of BATCH, each client dropped after its handshake). */
async function connectAll(net: MemoryNetwork, first: number, n: number, cidLength: number, suiteName: string, traffic: boolean): Promise<void> {
  const suite = cipherSuiteByName(suiteName);
  if (suite === undefined || !suite.psk) throw new Error(`${suiteName}: not a PSK suite`);
  const wheel = new TimerWheel(10);
  const deadline = Date.now() + TIME_LIMIT_MS;
  for (let i = first; i < first + n; i += BATCH) {
    if (Date.now() > deadline) throw new Error(`time limit: ${i} of ${n} connections`);
    const batch: Promise<unknown>[] = [];
    const clients: DtlsConnector[] = [];
    for (let j = i; j < Math.min(first + n, i + BATCH); j++) {
      // one loopback address per 50,000 clients: 127.1.x.y, ports 10000..59999
      const address = `127.1.${(j / 50_000) >> 8}.${((j / 50_000) & 255) + 1}`;
      const port = 10_000 + (j % 50_000);
      const client = new DtlsConnector({
        address,
        port,
        role: 'client',
        wheel,
        transport: new MemoryTransport(net, address, port),
        pskIdentity: 'cali.' + j.toString(16).toUpperCase().padStart(16, '0'),
        pskSecret: Buffer.from('.fornium'),
        offeredCipherSuites: [suite],
        config: { cidLength },
      });
      clients.push(client);
      batch.push(
        client.start().then(async () => {
          await client.connect('127.0.0.1', 5784);
          if (traffic) {
            await new Promise<void>((resolve) => {
              client.onDatagram = () => resolve();
              client.send(Buffer.from([0x40, 0x01, j & 0xff, j >> 8 & 0xff]), { address: '127.0.0.1', port: 5784 });
            });
          }
        }),
      );
    }
    await Promise.all(batch);
    // let the last datagrams of the batch arrive, then drop the clients without a close_notify
    await new Promise((resolve) => setImmediate(resolve));
    await Promise.all(clients.map((c) => c.stop()));
  }
  wheel.clear();
}

/** Runs one measurement. */
export async function measureConnectionMemory(n: number, cidLength: number, suite: string, traffic: boolean): Promise<ConnectionMemoryResult> {
  const net = new MemoryNetwork();
  const child = fork(fileURLToPath(import.meta.url), ['--role', 'clients'], { serialization: 'advanced', stdio: 'inherit' });
  try {
    return await measureWith(child, net, n, cidLength, suite, traffic);
  } finally {
    child.kill();
  }
}

/** A request to the client process: connect clients first..first+n−1. */
interface ConnectOrder {
  type: 'connect';
  first: number;
  n: number;
  cidLength: number;
  suite: string;
  traffic: boolean;
}

/** Connects clients in the child process; resolves when it reports them done. */
function connectRemote(child: ChildProcess, first: number, n: number, cidLength: number, suite: string, traffic: boolean): Promise<void> {
  return new Promise((resolve, reject) => {
    const onMessage = (m: { type: string; error?: string }): void => {
      if (m.type === 'done') {
        child.off('message', onMessage);
        child.off('exit', onExit);
        if (m.error !== undefined) reject(new Error(m.error));
        else resolve();
      }
    };
    const onExit = (): void => reject(new Error('client process exited'));
    child.on('message', onMessage);
    child.once('exit', onExit);
    const order: ConnectOrder = { type: 'connect', first, n, cidLength, suite, traffic };
    child.send(order);
  });
}

/** The client process: connects the clients it is asked for, datagrams to the server over IPC. */
function clientsMain(): void {
  const net = new MemoryNetwork();
  net.gateway = (w) => process.send!(w);
  process.on('message', (m: Wire | ConnectOrder) => {
    if (m.type === 'datagram') {
      net.deliver(m);
      return;
    }
    connectAll(net, m.first, m.n, m.cidLength, m.suite, m.traffic).then(
      () => process.send!({ type: 'done' }),
      (err: unknown) => process.send!({ type: 'done', error: (err as Error).message }),
    );
  });
  process.on('disconnect', () => process.exit(0));
}

/** The server side of a measurement (the clients run in `child`). */
async function measureWith(child: ChildProcess, net: MemoryNetwork, n: number, cidLength: number, suite: string, traffic: boolean): Promise<ConnectionMemoryResult> {
  net.gateway = (w) => child.send(w);
  child.on('message', (m: Wire) => {
    if (m.type === 'datagram') net.deliver(m);
  });
  // the server's clock jumps forward after the handshakes, so that the leftovers of the handshakes expire
  let skew = 0;
  const now = (): number => Date.now() + skew;
  const server = new DtlsConnector({
    address: '127.0.0.1',
    port: 5784,
    transport: new MemoryTransport(net, '127.0.0.1', 5784),
    config: { cidLength, maxConnections: n + WARMUP },
    now,
    wheel: new TimerWheel(10, 1024, now),
  });
  // an echo server: what the benchmark's idle clients did last was a request
  server.onDatagram = (data, ctx) => server.send(Buffer.from(data), ctx);
  await server.start();
  // warm-up connections, kept: the code is compiled and the process-wide fast-CCM LRU (aead.ts) is full before the
  // baseline, so that the figures are the growth per further connection
  await connectRemote(child, 0, WARMUP, cidLength, suite, traffic);
  skew += lastFlightLifetime(server.config) + 1000;
  const before = await usage();
  const t0 = Date.now();
  await connectRemote(child, WARMUP, n, cidLength, suite, traffic);
  const handshakeMs = Date.now() - t0;
  const fresh = await usage();
  skew += lastFlightLifetime(server.config) + 1000;
  const after = await usage();
  const established = [...server.connections()].length;
  if (established !== n + WARMUP) throw new Error(`${established - WARMUP} of ${n} connections established`);
  let sample: Connection | undefined;
  for (sample of server.store.values());
  if (sample === undefined) throw new Error('no connection');
  const retained = describe(sample);
  removeAll(server);
  const cleared = await usage();
  await server.stop();
  const per = (a: number, b: number): number => Math.round((a - b) / n);
  return {
    connections: n,
    suite,
    cidLength,
    traffic,
    handshakeMs,
    freshHeapUsedPerConnectionBytes: per(fresh.heapUsed, before.heapUsed),
    freshExternalPerConnectionBytes: per(fresh.external, before.external),
    freshRssPerConnectionBytes: per(fresh.rss, before.rss),
    heapUsedPerConnectionBytes: per(after.heapUsed, before.heapUsed),
    externalPerConnectionBytes: per(after.external, before.external),
    arrayBuffersPerConnectionBytes: per(after.arrayBuffers, before.arrayBuffers),
    rssPerConnectionBytes: per(after.rss, before.rss),
    freedPerConnectionBytes: Math.round((after.heapUsed + after.external - cleared.heapUsed - cleared.external) / (n + WARMUP)),
    retained,
  };
}

/** One-paragraph report of a result. */
export function formatConnectionMemory(r: ConnectionMemoryResult): string {
  const kb = (b: number): string => `${(b / 1024).toFixed(2)} KB`;
  return [
    `idle DTLS connections: ${r.connections} (${r.suite}, CID ${r.cidLength}${r.traffic ? ', one request each' : ', handshake only'}), handshakes ${r.handshakeMs} ms`,
    `  per connection right after the handshakes: heap ${kb(r.freshHeapUsedPerConnectionBytes)}, external ${kb(r.freshExternalPerConnectionBytes)}, RSS ${kb(r.freshRssPerConnectionBytes)}`,
    `  per idle connection (handshake leftovers expired): heap ${kb(r.heapUsedPerConnectionBytes)}, external ${kb(r.externalPerConnectionBytes)} (array buffers ${kb(r.arrayBuffersPerConnectionBytes)}), ` +
      `RSS ${kb(r.rssPerConnectionBytes)}; freed on removal ${kb(r.freedPerConnectionBytes)}`,
    `  one connection holds: ${Object.entries(r.retained).map(([k, v]) => `${k}=${v}`).join(' ')}`,
  ].join('\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      connections: { type: 'string', default: '10000' },
      cid: { type: 'string', default: '6' },
      suite: { type: 'string', default: 'TLS_PSK_WITH_AES_128_CCM_8' },
      traffic: { type: 'boolean', default: false },
      out: { type: 'string', default: 'connection-memory.json' },
    },
    strict: true,
  });
  const n = Number(values.connections);
  if (!Number.isInteger(n) || n < 1 || n > MAX_CONNECTIONS) throw new Error(`--connections must be 1..${MAX_CONNECTIONS}`);
  const cid = Number(values.cid);
  if (!Number.isInteger(cid) || cid < 0 || cid > 16) throw new Error('--cid must be 0..16');
  const result = await measureConnectionMemory(n, cid, values.suite, values.traffic);
  console.log(formatConnectionMemory(result));
  fs.writeFileSync(values.out, JSON.stringify(result, null, 2) + '\n');
  console.log(`figures written to ${values.out}`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href && process.argv[2] === '--role') {
  clientsMain();
} else if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  if ((globalThis as { gc?: unknown }).gc === undefined) {
    // the figures need a full GC before each sample: rerun with --expose-gc
    const r = spawnSync(process.execPath, ['--expose-gc', ...process.execArgv, fileURLToPath(import.meta.url), ...process.argv.slice(2)], { stdio: 'inherit' });
    process.exit(r.status ?? 1);
  }
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      console.error((err as Error).message);
      process.exit(1);
    },
  );
}

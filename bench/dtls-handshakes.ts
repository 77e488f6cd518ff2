// Full DTLS handshakes per second (with the HelloVerifyRequest exchange, as a real client sees it), library + CLI.
// Two modes:
//  - in-process (default): our client connectors against a server connector in a worker thread, so that
//    client and server each get a core;
//  - generator (--port): N parallel client connectors against an external server (the real server process of
//    `npm run bench`); under fork() it reports its measured window and result over IPC like coap-load.
// Each client connector handshakes again and again from its own socket with forceFullHandshake (no resumption):
// the server replaces the older connection from the same address, so its connection store stays at ~N entries.
// Run: npx tsc -p tsconfig.json && node dist/bench/dtls-handshakes.js [--seconds 5] [--parallel 16] [--single]
//      [--only psk|x509|rpk] [--json] [--server-root <another build's dist>]   or   ... --port 5784 [--scenario psk] [--warmup 1]
// Prints handshakes/s per scenario (worker mode: also the server thread's CPU per handshake); no assertions (targets: 2,000 PSK/s, 500 ECDHE_ECDSA/s on 2 cores).
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { readFileSync } from 'node:fs';
import { cipherSuiteByName } from '../src/dtls/cipher-suites.js';
import { DtlsConnector } from '../src/dtls/connector.js';
import { loadDemoCredentials, loadServerIdentity, defaultPkiDir, type ServerIdentity } from '../src/dtls/credentials/demo-pki.js';
import { TimerWheel } from '../src/util/timer-wheel.js';
import type { GeneratorMessage, LoadPhase, LoadResult } from './coap-load.js';
import { cliNumber } from './cli-number.js';

/** One handshake scenario: a cipher suite and the client's credentials. */
export interface HandshakeScenario {
  /** short id (psk, x509, rpk) */
  id: string;
  /** printable name */
  name: string;
  suite: string;
  /** client presents cf-client (as X.509 chain or as raw public key) */
  clientCert: boolean;
  certificateTypes: ('X_509' | 'RAW_PUBLIC_KEY')[];
}

/** The scenarios: PSK with CCM_8, ECDHE_ECDSA with X.509 client certificate, ECDHE_ECDSA with raw public keys. */
export const HANDSHAKE_SCENARIOS: readonly HandshakeScenario[] = [
  { id: 'psk', name: 'PSK (TLS_PSK_WITH_AES_128_CCM_8)', suite: 'TLS_PSK_WITH_AES_128_CCM_8', clientCert: false, certificateTypes: ['X_509'] },
  { id: 'x509', name: 'ECDHE_ECDSA x509, client cert', suite: 'TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8', clientCert: true, certificateTypes: ['X_509'] },
  { id: 'rpk', name: 'ECDHE_ECDSA RPK, client RPK', suite: 'TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8', clientCert: true, certificateTypes: ['RAW_PUBLIC_KEY'] },
];

/** Options of one handshake load run against a server. */
export interface HandshakeLoadOptions {
  /** server address (loopback only) */
  host: string;
  port: number;
  scenario: HandshakeScenario;
  /** client connectors handshaking in parallel */
  parallel: number;
  /** measured window, ms */
  durationMs: number;
  /** warm-up before the window, ms (handshakes not counted) */
  warmupMs: number;
  /** a handshake not done after this many ms is abandoned (close) and counted as a timeout */
  timeoutMs: number;
  /** called when the measured window starts / ends */
  onPhase?: (phase: LoadPhase) => void;
}

/** Figures of a handshake run, in the LoadResult shape (completed = handshakes), plus the scenario. */
export interface HandshakeLoadResult extends LoadResult {
  scenario: string;
  /** handshakes completed per second of the window */
  handshakesPerSecond: number;
  /** failed handshakes in the window (alert, refused), by reason */
  failures: number;
  /** in-process worker mode: CPU of the server's thread in the window ÷ completed handshakes, µs (Linux) */
  serverThreadCpuUsPerHandshake?: number;
}

/** Hard bounds, so that a typo cannot turn into an unbounded flood. */
const MAX_PARALLEL = 256;
const MAX_DURATION_MS = 300_000;
/** At most this many handshakes per run (bounds the loop even on a very fast machine). */
const MAX_HANDSHAKES = 1_000_000;

/** Checks that a host is a loopback address. */
function assertLoopback(host: string): void {
  if (!/^127\.\d+\.\d+\.\d+$/.test(host) && host !== '::1') throw new Error(`refusing non-loopback host ${host}`);
}

/** Rounds to a number of decimals. */
function round(v: number, decimals: number): number {
  const f = 10 ** decimals;
  return Math.round(v * f) / f;
}

/** The cf-client identity of the demo PKI (X.509 chain; its key doubles as raw public key). */
function clientIdentity(): ServerIdentity {
  const dir = defaultPkiDir();
  return loadServerIdentity('cf-client', join(dir, 'cf-client-chain.pem'), join(dir, 'cf-client-key.pem'));
}

/** Creates and starts `n` client connectors for a scenario (one socket each, forceFullHandshake). */
async function startClients(s: HandshakeScenario, n: number, wheel: TimerWheel): Promise<DtlsConnector[]> {
  const pki = loadDemoCredentials();
  const identity = s.clientCert ? clientIdentity() : undefined;
  const suite = cipherSuiteByName(s.suite);
  if (suite === undefined) throw new Error(`unknown cipher suite ${s.suite}`);
  const clients: DtlsConnector[] = [];
  for (let i = 0; i < n; i++) {
    const c = new DtlsConnector({
      address: '127.0.0.1',
      port: 0,
      role: 'client',
      pskIdentity: `cali.${(0xbe000000 + i).toString(16).toUpperCase().padStart(16, '0')}`,
      pskSecret: Buffer.from('.fornium'),
      identities: identity ? [identity] : [],
      trustAnchors: pki.trustAnchors,
      offeredCipherSuites: [suite],
      wheel,
      config: { certificateTypes: s.certificateTypes, maxConnections: 16 },
    });
    c.forceFullHandshake = true;
    await c.start();
    clients.push(c);
  }
  return clients;
}

/** Runs one bounded handshake load against host:port and resolves with its figures. */
export async function runHandshakeLoad(o: HandshakeLoadOptions): Promise<HandshakeLoadResult> {
  assertLoopback(o.host);
  if (!(o.parallel >= 1 && o.parallel <= MAX_PARALLEL)) throw new Error(`parallel must be 1..${MAX_PARALLEL}`);
  if (!(o.durationMs > 0 && o.durationMs <= MAX_DURATION_MS)) throw new Error(`duration must be 0..${MAX_DURATION_MS} ms`);
  if (!(o.warmupMs >= 0 && o.warmupMs <= MAX_DURATION_MS)) throw new Error('bad warm-up');
  const wheel = new TimerWheel(10);
  const clients = await startClients(o.scenario, o.parallel, wheel);
  let measuring = false;
  let completed = 0;
  let total = 0;
  let timeouts = 0;
  let failures = 0;
  const errorCodes: Record<string, number> = {};
  const latencies: number[] = [];
  let cpu0 = process.cpuUsage();
  let elu0 = performance.eventLoopUtilization();
  let t0 = 0;
  let windowMs = 0;
  const start = performance.now();
  const measureAt = start + o.warmupMs;
  const endAt = measureAt + o.durationMs;
  const phaseTimer = setTimeout(() => {
    measuring = true;
    t0 = performance.now();
    cpu0 = process.cpuUsage();
    elu0 = performance.eventLoopUtilization();
    o.onPhase?.('measure-start');
  }, o.warmupMs);
  let cpu = { user: 0, system: 0 };
  let elu = { utilization: 0 };
  const endTimer = setTimeout(() => {
    windowMs = performance.now() - t0;
    cpu = process.cpuUsage(cpu0);
    elu = performance.eventLoopUtilization(elu0);
    measuring = false;
    o.onPhase?.('measure-end');
  }, o.warmupMs + o.durationMs);

  /** One handshake with a timeout: resolves with its duration in ms, rejects with the failure. */
  const handshake = (c: DtlsConnector): Promise<number> =>
    new Promise<number>((resolve, reject) => {
      const t = performance.now();
      const timer = setTimeout(() => {
        c.close(o.host, o.port); // fails the pending connect
        reject(new Error('timeout'));
      }, o.timeoutMs);
      c.connect(o.host, o.port).then(
        () => {
          clearTimeout(timer);
          resolve(performance.now() - t);
        },
        (err: Error) => {
          clearTimeout(timer);
          reject(err);
        },
      );
    });

  await Promise.all(
    clients.map(async (c) => {
      while (performance.now() < endAt && total < MAX_HANDSHAKES) {
        const counted = measuring;
        try {
          const ms = await handshake(c);
          total++;
          if (counted && measuring) {
            completed++;
            latencies.push(ms);
          }
        } catch (err) {
          const reason = (err as Error).message;
          if (reason === 'timeout') {
            if (counted) timeouts++;
          } else if (counted) {
            failures++;
            const key = reason.replace(/^DTLS handshake failed: /, '').slice(0, 80);
            errorCodes[key] = (errorCodes[key] ?? 0) + 1;
          }
          // back off a little after a failure (a refusing server must not turn into a busy loop)
          await new Promise((r) => setTimeout(r, 10));
        }
      }
    }),
  );
  clearTimeout(phaseTimer);
  clearTimeout(endTimer);
  if (windowMs === 0) {
    // the loop ended early (MAX_HANDSHAKES): the window is what ran of it
    windowMs = t0 > 0 ? performance.now() - t0 : 0;
    cpu = process.cpuUsage(cpu0);
    elu = performance.eventLoopUtilization(elu0);
    o.onPhase?.('measure-end');
  }
  await Promise.all(clients.map((c) => c.stop()));
  wheel.clear();
  latencies.sort((a, b) => a - b);
  const pct = (p: number): number => (latencies.length === 0 ? 0 : round(latencies[Math.min(latencies.length - 1, Math.ceil(latencies.length * p) - 1)]!, 3));
  const rate = windowMs > 0 ? Math.round((completed * 1000) / windowMs) : 0;
  return {
    target: `${o.host}:${o.port}`,
    scenario: o.scenario.id,
    sockets: o.parallel,
    outstanding: o.parallel,
    payloadSize: 0,
    warmupMs: o.warmupMs,
    windowMs: round(windowMs, 1),
    completed,
    requestsPerSecond: rate,
    handshakesPerSecond: rate,
    sent: completed + timeouts + failures,
    timeouts,
    errors: failures,
    failures,
    errorCodes,
    unmatched: 0,
    socketErrors: 0,
    socketRotations: 0,
    latency: {
      avgMs: latencies.length > 0 ? round(latencies.reduce((a, b) => a + b, 0) / latencies.length, 3) : 0,
      p50Ms: pct(0.5),
      p90Ms: pct(0.9),
      p99Ms: pct(0.99),
      maxMs: latencies.length > 0 ? round(latencies[latencies.length - 1]!, 3) : 0,
    },
    generatorCpuMs: Math.round((cpu.user + cpu.system) / 1000),
    generatorElu: round(elu.utilization, 3),
  };
}

/** Starts the in-process server connector (clientAuthentication WANTED, like the original micro-benchmark). */
async function startServer(serverRoot?: string): Promise<DtlsConnector> {
  const pki = loadDemoCredentials();
  // --server-root: the connector of another build (e.g. a baseline's dist) under the same load
  const Connector: typeof DtlsConnector =
    serverRoot === undefined ? DtlsConnector : ((await import(pathToFileURL(join(serverRoot, 'src', 'dtls', 'connector.js')).href)) as { DtlsConnector: typeof DtlsConnector }).DtlsConnector;
  const server = new Connector({
    address: '127.0.0.1',
    port: 0,
    role: 'server',
    identities: pki.identities,
    trustAnchors: pki.trustAnchors,
    config: { maxConnections: 100_000, clientAuthentication: 'WANTED' },
  });
  await server.start();
  return server;
}

/** Command line of the CLI. */
function parseCli(argv: string[]) {
  const { values } = parseArgs({
    args: argv,
    options: {
      host: { type: 'string', default: '127.0.0.1' },
      port: { type: 'string' },
      scenario: { type: 'string' },
      only: { type: 'string', default: '' },
      seconds: { type: 'string', default: '5' },
      warmup: { type: 'string', default: '1' },
      parallel: { type: 'string', default: '16' },
      timeout: { type: 'string', default: '2' },
      single: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      'server-root': { type: 'string' },
    },
    strict: true,
  });
  const num = cliNumber;
  return {
    host: values.host,
    port: values.port === undefined ? undefined : num('port', values.port),
    scenario: values.scenario,
    filter: values.only.toLowerCase(),
    seconds: num('seconds', values.seconds),
    warmup: num('warmup', values.warmup),
    parallel: num('parallel', values.parallel),
    timeout: num('timeout', values.timeout),
    single: values.single,
    json: values.json,
    serverRoot: values['server-root'],
  };
}

/** Scenario by id or by a part of its name. */
function scenariosMatching(filter: string): HandshakeScenario[] {
  return HANDSHAKE_SCENARIOS.filter((x) => x.id === filter || x.name.toLowerCase().includes(filter));
}

/** Generator mode: one scenario against an external server; IPC phases and result under fork(). */
async function generatorMain(cli: ReturnType<typeof parseCli>): Promise<void> {
  const ipc = typeof process.send === 'function';
  const post = (m: GeneratorMessage | { type: 'result'; result: HandshakeLoadResult }): Promise<void> =>
    new Promise<void>((resolve) => {
      if (ipc) process.send!(m, undefined, {}, () => resolve());
      else resolve();
    });
  try {
    const scenario = scenariosMatching(cli.scenario ?? 'psk')[0];
    if (scenario === undefined) throw new Error(`unknown scenario ${cli.scenario} (psk | x509 | rpk)`);
    const result = await runHandshakeLoad({
      host: cli.host,
      port: cli.port!,
      scenario,
      parallel: cli.parallel,
      durationMs: cli.seconds * 1000,
      warmupMs: cli.warmup * 1000,
      timeoutMs: cli.timeout * 1000,
      onPhase: (phase) => void post({ type: 'phase', phase }),
    });
    await post({ type: 'result', result });
    if (!ipc) {
      console.log(
        cli.json
          ? JSON.stringify(result, null, 2)
          : `${scenario.name}: ${result.handshakesPerSecond} handshakes/s, timeouts ${result.timeouts}, failures ${result.failures}, ` +
              `latency avg ${result.latency.avgMs} ms p99 ${result.latency.p99Ms} ms, generator elu ${result.generatorElu}`,
      );
    }
  } catch (err) {
    await post({ type: 'error', message: (err as Error).message });
    if (!ipc) console.error((err as Error).message);
    process.exitCode = 1;
  }
  if (ipc) process.disconnect();
}

/** In-process mode: server connector in a worker thread (or this thread with --single), every matching scenario. */
async function inProcessMain(cli: ReturnType<typeof parseCli>): Promise<void> {
  let port: number;
  let stopServer: () => Promise<void>;
  /** CPU ns of the server's thread so far (worker mode on Linux), else undefined */
  let serverCpu: () => Promise<number | undefined> = () => Promise.resolve(undefined);
  if (cli.single) {
    const server = await startServer(cli.serverRoot);
    port = server.localPort;
    stopServer = () => server.stop();
  } else {
    const worker = new Worker(new URL(import.meta.url), { workerData: { server: true, serverRoot: cli.serverRoot } });
    port = await new Promise<number>((resolve, reject) => {
      worker.once('message', (m: { port: number }) => resolve(m.port));
      worker.once('error', reject);
    });
    serverCpu = () =>
      new Promise<number | undefined>((resolve) => {
        worker.once('message', (m: { cpuNs?: number }) => resolve(m.cpuNs));
        worker.postMessage('cpu');
      });
    stopServer = async () => {
      await worker.terminate();
    };
  }
  const where = cli.single ? 'in the same thread' : 'in a worker thread';
  if (!cli.json) console.log(`DTLS full handshakes/s (loopback, ${cli.parallel} parallel clients, ${cli.seconds} s each, server ${where}):`);
  const results: HandshakeLoadResult[] = [];
  for (const s of scenariosMatching(cli.filter)) {
    let cpuStart: Promise<number | undefined> = Promise.resolve(undefined);
    let cpuEnd: Promise<number | undefined> = Promise.resolve(undefined);
    const r = await runHandshakeLoad({
      host: '127.0.0.1',
      port,
      scenario: s,
      parallel: cli.parallel,
      durationMs: cli.seconds * 1000,
      warmupMs: Math.min(cli.warmup, 1) * 1000,
      timeoutMs: cli.timeout * 1000,
      onPhase: (phase) => {
        if (phase === 'measure-start') cpuStart = serverCpu();
        else cpuEnd = serverCpu();
      },
    });
    const [c0, c1] = await Promise.all([cpuStart, cpuEnd]);
    if (c0 !== undefined && c1 !== undefined && r.completed > 0) r.serverThreadCpuUsPerHandshake = round((c1 - c0) / 1000 / r.completed, 1);
    results.push(r);
    if (!cli.json) {
      const extra = r.failures + r.timeouts > 0 ? ` (${r.failures} failed, ${r.timeouts} timed out)` : '';
      const cpu = r.serverThreadCpuUsPerHandshake !== undefined ? `, server thread ${r.serverThreadCpuUsPerHandshake} µs CPU per handshake` : '';
      console.log(`  ${s.name.padEnd(36)} ${r.handshakesPerSecond} handshakes/s${cpu}${extra}`);
    }
  }
  if (cli.json) console.log(JSON.stringify({ server: where, parallel: cli.parallel, seconds: cli.seconds, results }));
  await stopServer();
}

if (isMainThread && process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const cli = parseCli(process.argv.slice(2));
  (cli.port !== undefined ? generatorMain(cli) : inProcessMain(cli)).catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
} else if (!isMainThread && (workerData as { server?: boolean } | null)?.server) {
  void startServer((workerData as { serverRoot?: string }).serverRoot).then((server) => {
    parentPort!.on('message', () => parentPort!.postMessage({ cpuNs: threadCpuNs() }));
    parentPort!.postMessage({ port: server.localPort });
  });
}

/** CPU time of the calling thread so far, ns (/proc/thread-self/schedstat: time on the CPU), undefined where not available. */
function threadCpuNs(): number | undefined {
  try {
    return Number(readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ')[0]);
  } catch {
    return undefined;
  }
}

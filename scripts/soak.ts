// Soak run (issue 10; `npm run soak` = node dist/scripts/soak.js, outside the test suite): our server process
// (--no-plugtest --no-ipv6 --no-external --benchmark, temp cwd, free ports, the memory probe of bench/idle-memory.ts
// preloaded) behind our NAT (src/nat/nat.ts, in this process), and the benchmark client process with 2,000 clients
// (coaps, PSK, CID 6) through the NAT for --minutes (default 10). Every --rebind seconds the NAT changes every
// client's address as the server sees it, alternating `reassign` (new local ports for all entries) and `clear` (all
// entries dropped, new ones on the next datagram): the server must follow by CID (RFC 9146 §6) without a new
// handshake and without transmission errors. At each progress line of the client (every 10 s) the server's RSS (VmRSS) and V8 heap after a full GC are
// sampled with the client's requests, transmission errors and active clients and the server's DTLS connections and
// handshakes (console health dump); the curve is printed and written to --out (JSON), the client's output and the
// server log beside it (<out>.client.log, <out>.server.log).
// Checks: no transmission errors, every client active and connected at the end; memory flat after warm-up = the least-squares slope of RSS (the median of the server's VmRSS read every second in each 10 s window) over the last 2/3 of the
// samples below --max-rss-slope MB/min (default 1) and of the heap below --max-heap-slope MB/min (default 0.5).
// Exit status 0 when both hold, 1 otherwise.
// Run: npm run build && node dist/scripts/soak.js [--minutes 10] [--clients 2000] [--rebind 30] [--interval 0]
//      [--dist dist] [--out soak.json] [--prop KEY=VALUE ...] [--max-rss-slope 1] [--max-heap-slope 0.5]
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { startNat, type Nat } from '../src/nat/nat.js';
import { readVmRss, startProbedServer, type ProbedServer } from '../bench/idle-memory.js';
import { parseClientReport, benchmarkClientEnv, type ClientReport } from '../bench/benchmark-section.js';
import { killChildren, processCpuMs, trackChild } from '../bench/proc-util.js';

/** Sampling period of the curve, ms: the benchmark client's progress period (a sample follows each progress line). */
const SAMPLE_MS = 10_000;
/** Bounds of the command line values. */
const MAX_MINUTES = 120;
const MAX_CLIENTS = 10_000;

/** One point of the curve. */
export interface SoakSample {
  /** seconds since the client started */
  t: number;
  /** server VmRSS (MB) */
  rssMb: number;
  /** median of the server's VmRSS read every second since the previous sample (MB): the slope is taken of this, since a
   * reading right after the forced GC swings by tens of MB with the GC's own transient pages */
  rssMedianMb: number;
  /** server V8 heap used after a full GC (MB), and external memory (MB) */
  heapMb: number;
  /** V8 heap reserved (heapTotal, MB): RSS steps with a flat heapMb show up here when V8 keeps pages */
  heapTotalMb: number;
  externalMb: number;
  /** requests sent so far (the client's last progress line) */
  requests: number;
  /** transmission errors so far (sum of the client's progress lines) */
  errors: number;
  /** retransmissions so far */
  retransmissions: number;
  /** active clients (the client's last progress line) */
  clients: number;
  /** NAT address changes so far */
  rebinds: number;
  /** server DTLS connections and handshakes succeeded so far (console health dump; null if not printed) */
  connections: number | null;
  handshakes: number | null;
  /** server CPU time so far (s) */
  serverCpuS: number;
}

/** Result of a soak run, as written to the JSON file. */
export interface SoakResult {
  minutes: number;
  clients: number;
  rebindSeconds: number;
  samples: SoakSample[];
  /** MB per minute over the last 2/3 of the samples */
  rssSlopeMbPerMin: number;
  heapSlopeMbPerMin: number;
  maxRssSlope: number;
  maxHeapSlope: number;
  transmissionErrors: number;
  /** transmission errors within the samples after warm-up (the last 2/3): the start-up handshakes excluded */
  errorsAfterWarmup: number;
  client: ClientReport;
  clientExit: number | null;
  passed: boolean;
  failures: string[];
}

/** Median of a non-empty list. */
export function median(values: readonly number[]): number {
  const v = [...values].sort((a, b) => a - b);
  const mid = v.length >> 1;
  return v.length % 2 === 1 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2;
}

/** Least-squares slope of y over x (0 for fewer than 2 points). */
export function slope(xs: readonly number[], ys: readonly number[]): number {
  const n = Math.min(xs.length, ys.length);
  if (n < 2) return 0;
  let sx = 0;
  let sy = 0;
  for (let i = 0; i < n; i++) {
    sx += xs[i]!;
    sy += ys[i]!;
  }
  const mx = sx / n;
  const my = sy / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += (xs[i]! - mx) * (ys[i]! - my);
    den += (xs[i]! - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

/** The samples after warm-up: the last 2/3 (at least 2 when there are). */
export function afterWarmup<T>(samples: readonly T[]): T[] {
  const skip = Math.floor(samples.length / 3);
  return samples.slice(Math.min(skip, Math.max(0, samples.length - 2)));
}

/** Progress figures of the benchmark client's `[NNNN]: <sent> requests (... <x> retransmissions ..., <e> transmission errors ...` lines. */
export function parseProgressLine(line: string): { sent: number; retransmissions: number; errors: number; clients: number } | undefined {
  const m = /^\[\d+\]: (\d+) requests \(.*?(\d+) retransmissions.*?, (\d+) transmission errors.*, (\d+) clients(?:, \d+ pending)?\)$/.exec(line);
  return m ? { sent: Number(m[1]), retransmissions: Number(m[2]), errors: Number(m[3]), clients: Number(m[4]) } : undefined;
}

/** Command line. */
function parseCli(argv: string[]) {
  const here = path.dirname(fileURLToPath(import.meta.url)); // <dist>/scripts
  const { values } = parseArgs({
    args: argv,
    options: {
      minutes: { type: 'string', default: '10' },
      clients: { type: 'string', default: '2000' },
      rebind: { type: 'string', default: '30' },
      interval: { type: 'string', default: '0' },
      dist: { type: 'string', default: path.resolve(here, '..') },
      out: { type: 'string', default: 'soak.json' },
      'max-rss-slope': { type: 'string', default: '1' },
      'max-heap-slope': { type: 'string', default: '0.5' },
      prop: { type: 'string', multiple: true, default: [] },
    },
    strict: true,
  });
  const num = (name: string, v: string, min: number, max: number): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < min || n > max) throw new Error(`--${name}: ${v} is not a number in ${min}..${max}`);
    return n;
  };
  return {
    minutes: num('minutes', values.minutes, 0.5, MAX_MINUTES),
    clients: num('clients', values.clients, 1, MAX_CLIENTS),
    rebindS: num('rebind', values.rebind, 0, 3600),
    interval: num('interval', values.interval, 0, 60_000),
    dist: values.dist,
    out: values.out,
    maxRssSlope: num('max-rss-slope', values['max-rss-slope'], 0, 1e6),
    maxHeapSlope: num('max-heap-slope', values['max-heap-slope'], 0, 1e6),
    props: values.prop,
  };
}

/** One line of the curve. */
function sampleLine(s: SoakSample): string {
  return (
    `${String(s.t).padStart(5)} s  rss ${s.rssMedianMb.toFixed(1).padStart(7)} (${s.rssMb.toFixed(1).padStart(6)}) MB  heap ${s.heapMb.toFixed(1).padStart(6)} / ${s.heapTotalMb.toFixed(1).padStart(6)} MB  ` +
    `ext ${s.externalMb.toFixed(1).padStart(5)} MB  requests ${String(s.requests).padStart(10)}  errors ${s.errors}  ` +
    `retransmissions ${s.retransmissions}  clients ${s.clients}  rebinds ${s.rebinds}  connections ${s.connections ?? '?'}  handshakes ${s.handshakes ?? '?'}`
  );
}

/** Runs the soak and returns its result (the caller prints and writes it). */
export async function runSoak(cli: ReturnType<typeof parseCli>, print: (line: string) => void): Promise<SoakResult> {
  const durationMs = Math.round(cli.minutes * 60_000);
  let server: ProbedServer | undefined;
  let nat: Nat | undefined;
  try {
    // every client reaches the server from the NAT's one address: the per-address limit of handshakes in progress
    // (flood defence, default 1000) would abandon half of the 2,000 start-up handshakes; --prop lines come later and win
    const properties = [`DTLS.MAX_PENDING_HANDSHAKES_PER_ADDRESS=${Math.max(1000, cli.clients)}`, ...cli.props];
    server = await startProbedServer({ serverDist: cli.dist, serverArgs: ['--benchmark'], properties });
    nat = await startNat({ binds: ['127.0.0.1:0'], destinations: [`127.0.0.1:${server.coapsPort}`], lbTimeoutMs: 0, maxEntries: cli.clients * 2 + 100 });
    const natPort = nat.localPorts[0]!;
    print(`server pid ${server.pid} (coaps ${server.coapsPort}, ${properties.join(' ')}), NAT 127.0.0.1:${natPort}; ${cli.clients} clients for ${cli.minutes} min, rebind every ${cli.rebindS} s`);
    // enough requests that no client finishes before the time is up (the run ends with SIGTERM); --no-stop: a request
    // that times out counts as a transmission error and its client goes on (with --stop it would end the client
    // without counting one)
    const perClient = Math.max(1000, Math.ceil(((durationMs / 1000) * 60_000) / cli.clients));
    const main = path.resolve(cli.dist, 'src', 'cli', 'benchmark-main.js');
    const args = [main, `coaps://127.0.0.1:${natPort}/benchmark?rlen=40`, '--clients', String(cli.clients), '--requests', String(perClient), '--cid-length', '6', '--no-stop'];
    if (cli.interval > 0) args.push('--interval', String(cli.interval));
    const client = spawn(process.execPath, args, { cwd: server.cwd, env: benchmarkClientEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    trackChild(client);
    let output = '';
    let pending = '';
    let started = false;
    let sent = 0;
    let errors = 0;
    let retransmissions = 0;
    let activeClients = 0;
    const clientLog = fs.createWriteStream(`${cli.out}.client.log`);
    /** wakes the sampling loop when a progress line arrives */
    let wake: (() => void) | undefined;
    client.stdout!.setEncoding('utf8');
    client.stdout!.on('data', (chunk: string) => {
      if (output.length < 1_000_000) output += chunk;
      clientLog.write(chunk);
      pending += chunk;
      let nl: number;
      while ((nl = pending.indexOf('\n')) >= 0) {
        const line = pending.slice(0, nl);
        pending = pending.slice(nl + 1);
        if (line === 'Benchmark started.') started = true;
        const p = parseProgressLine(line);
        if (p !== undefined) {
          sent = p.sent;
          errors += p.errors;
          retransmissions += p.retransmissions;
          activeClients = p.clients;
          wake?.();
        }
      }
    });
    let stderr = '';
    client.stderr!.setEncoding('utf8');
    client.stderr!.on('data', (c: string) => {
      if (stderr.length < 20_000) stderr += c;
      clientLog.write(c);
    });
    const clientExit = new Promise<number | null>((resolve) => client.once('exit', (code) => resolve(code)));
    let clientGone = false;
    void clientExit.then(() => (clientGone = true));

    const t0 = Date.now();
    let rebinds = 0;
    const rebindTimer =
      cli.rebindS > 0
        ? setInterval(() => {
            // alternate: new local ports for every entry, then every entry dropped (recreated by the next datagram)
            if (rebinds % 2 === 0) nat!.command('reassign');
            else nat!.command('clear');
            rebinds++;
          }, cli.rebindS * 1000)
        : undefined;
    const samples: SoakSample[] = [];
    let rssWindow: number[] = [];
    const rssTimer = setInterval(() => {
      const rss = readVmRss(server!.pid);
      if (rss !== undefined) rssWindow.push(rss / 1048576);
    }, 1000);
    rssTimer.unref();
    print('    t  server rss (median of 1 s reads; after GC) / heap after GC (used / total) / external, client requests and transmission errors (cumulative)');
    while (Date.now() - t0 < durationMs && !clientGone) {
      // a sample per progress line of the client (every 10 s), or after 1.5 periods without one
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, Math.max(0, Math.min(SAMPLE_MS * 1.5, durationMs - (Date.now() - t0))));
        function done(): void {
          clearTimeout(timer);
          wake = undefined;
          resolve();
        }
        wake = done;
        void clientExit.then(done);
      });
      if (clientGone) break;
      const m = await server.memory(true);
      const dtls = await server.dtlsCounters();
      const s: SoakSample = {
        t: Math.round((Date.now() - t0) / 1000),
        rssMb: m.rss / 1048576,
        rssMedianMb: median(rssWindow.length > 0 ? rssWindow : [m.rss / 1048576]),
        heapMb: m.heapUsed / 1048576,
        heapTotalMb: m.heapTotal / 1048576,
        externalMb: m.external / 1048576,
        requests: sent,
        errors,
        retransmissions,
        clients: activeClients,
        rebinds,
        connections: dtls?.['connections'] ?? null,
        handshakes: dtls?.['handshakes succeeded'] ?? null,
        serverCpuS: Math.round(processCpuMs(server.pid) ?? 0) / 1000,
      };
      samples.push(s);
      rssWindow = [];
      print(sampleLine(s));
    }
    if (rebindTimer) clearInterval(rebindTimer);
    clearInterval(rssTimer);
    if (!clientGone) client.kill('SIGTERM');
    const killTimer = setTimeout(() => client.kill('SIGKILL'), 10_000);
    const exitCode = await clientExit;
    clearTimeout(killTimer);
    clientLog.end();
    const report = parseClientReport(output);
    const tail = afterWarmup(samples);
    const minutes = tail.map((s) => s.t / 60);
    const rssSlope = slope(minutes, tail.map((s) => s.rssMedianMb));
    const heapSlope = slope(minutes, tail.map((s) => s.heapMb));
    const transmissionErrors = Math.max(errors, report.transmissionErrors);
    const errorsAfterWarmup = tail.length > 0 ? tail[tail.length - 1]!.errors - tail[0]!.errors : 0;
    const failures: string[] = [];
    if (!started) failures.push(`the benchmark client never started its requests:\n${(output + stderr).slice(-1500)}`);
    if (clientGone && Date.now() - t0 < durationMs - SAMPLE_MS) failures.push(`the benchmark client ended early (exit ${exitCode})`);
    if (transmissionErrors > 0) failures.push(`${transmissionErrors} transmission errors`);
    const last = samples.at(-1);
    if (last !== undefined && last.clients < cli.clients) failures.push(`only ${last.clients} of ${cli.clients} clients active at the end`);
    if (last?.connections !== undefined && last.connections !== null && last.connections < cli.clients) {
      failures.push(`the server holds ${last.connections} DTLS connections for ${cli.clients} clients`);
    }
    if (samples.length < 3) failures.push(`only ${samples.length} samples: too short to judge the memory curve`);
    if (rssSlope > cli.maxRssSlope) failures.push(`RSS grows ${rssSlope.toFixed(2)} MB/min after warm-up (limit ${cli.maxRssSlope})`);
    if (heapSlope > cli.maxHeapSlope) failures.push(`heap grows ${heapSlope.toFixed(2)} MB/min after warm-up (limit ${cli.maxHeapSlope})`);
    return {
      minutes: cli.minutes,
      clients: cli.clients,
      rebindSeconds: cli.rebindS,
      samples,
      rssSlopeMbPerMin: Math.round(rssSlope * 1000) / 1000,
      heapSlopeMbPerMin: Math.round(heapSlope * 1000) / 1000,
      maxRssSlope: cli.maxRssSlope,
      maxHeapSlope: cli.maxHeapSlope,
      transmissionErrors,
      errorsAfterWarmup,
      client: report,
      clientExit: exitCode,
      passed: failures.length === 0,
      failures,
    };
  } finally {
    await nat?.stop();
    if (server !== undefined) {
      // the server log beside the curve (the server's temp directory goes)
      fs.copyFileSync(server.logPath, `${cli.out}.server.log`);
      await server.stop();
    }
  }
}

async function main(): Promise<void> {
  const cli = parseCli(process.argv.slice(2));
  const onSignal = (): void => {
    killChildren();
    process.exit(130);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const result = await runSoak(cli, (line) => console.log(line));
  fs.writeFileSync(cli.out, JSON.stringify(result, null, 2) + '\n');
  const r = result.client;
  console.log(
    `client: ${r.requests ?? '?'} requests in ${r.requestMs ?? '?'} ms (${r.requestsPerSecond ?? '?'} reqs/s), ${r.retransmissions} retransmissions, ` +
      `${result.transmissionErrors} transmission errors (${result.errorsAfterWarmup} after warm-up)${r.incomplete ? ` (${r.incomplete})` : ''}`,
  );
  console.log(
    `memory after warm-up (last 2/3 of ${result.samples.length} samples): RSS ${result.rssSlopeMbPerMin} MB/min (limit ${result.maxRssSlope}), ` +
      `heap ${result.heapSlopeMbPerMin} MB/min (limit ${result.maxHeapSlope})`,
  );
  console.log(result.passed ? `PASSED (curve written to ${cli.out})` : `FAILED: ${result.failures.join('; ')} (curve written to ${cli.out})`);
  process.exitCode = result.passed ? 0 : 1;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => {
    console.error((err as Error).message);
    killChildren();
    process.exit(1);
  });
}

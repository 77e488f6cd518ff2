// Benchmark-client section of `npm run bench` (issue 4): our benchmark client (dist/src/cli/benchmark-main.js) as a
// process against our server process (--no-plugtest --no-ipv6 --no-external --benchmark, temp cwd, free ports in its
// Californium3.properties), CON POST /benchmark?rlen=40 from 200 clients over coap and over coaps with CID
// (--cid-length 6). Figures: the client's own report (reqs/s, requests sent/expected, retransmissions, transmission
// errors) and the CPU time of both processes in the request phase (utime+stime from /proc/<pid>/stat, sampled when the
// client prints "Benchmark started." and "... benchmark clients finished.") per 1,000 requests; the client's
// whole-process CPU from its final statistics ("cpu-time:") beside it. Speed is reported, never asserted.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { formatTable, type BenchContext, type Section, type SectionResult, type TargetCheck } from './sections.js';
import { pinToCpu } from './measure.js';
import { ONE_PROCESS_PROPERTY, stdoutLines, tryPort, machineCpuMs, processCpuMs, processPeakRssMb, spawnNode, trackChild, udpCounters, waitForQuiet, type ServerProcess } from './proc-util.js';
import { probeCoap } from './probe.js';
import { findProfile, formatProfile, summarizeProfile, type ProfileSummary } from './profile-summary.js';

/** Simulated clients of every run (the issue's figure). */
export const BENCHMARK_CLIENTS = 200;
/** Response payload length asked for with `rlen`. */
export const RESPONSE_LENGTH = 40;
/** DTLS connection id length of the coaps run (`--cid-length`). */
export const CID_LENGTH = 6;
/** Targets of the issue on this machine: requests/s over coap and over coaps with CID. */
export const TARGET_COAP_RPS = 30_000;
/** coaps (CID) requests/s target. */
export const TARGET_COAPS_RPS = 20_000;
/** Above this share of the request phase used by other processes a run is repeated (when --retries allows). */
const NOISY = 0.1;
/** Requests per client are bounded to this range whatever --duration asks for. */
const MIN_REQUESTS = 50;
const MAX_REQUESTS = 30_000;
/** Environment variables of the benchmark client that would change the run (removed from its environment). */
const CLIENT_ENV_OVERRIDES = ['CALIFORNIUM_STATISTIC', 'COAP_REQUEST_INTERVAL', 'COAP_HONO', 'COAPS_HANDSHAKES_FULL', 'COAPS_HANDSHAKES_CLOSE', 'COAPS_HANDSHAKES_BURST'];

/** The benchmark client's environment: this process' without the variables that would change the run. */
export function benchmarkClientEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const k of CLIENT_ENV_OVERRIDES) delete env[k];
  return env;
}

/** One variant of the run: scheme, extra client options, its target and the rate its request count is sized for. */
export interface Variant {
  id: 'coap' | 'coaps-cid';
  label: string;
  secure: boolean;
  extraArgs: string[];
  target: number;
  /** requests/s seen on this machine when quiet (sizes the request count for about --duration seconds) */
  sizingRps: number;
}

/** The two runs of the section. */
export const VARIANTS: Variant[] = [
  { id: 'coap', label: 'coap CON', secure: false, extraArgs: [], target: TARGET_COAP_RPS, sizingRps: 60_000 },
  { id: 'coaps-cid', label: `coaps CON CID ${CID_LENGTH}`, secure: true, extraArgs: ['--cid-length', String(CID_LENGTH)], target: TARGET_COAPS_RPS, sizingRps: 30_000 },
];

/** What the benchmark client printed (its final statistics), parsed. */
export interface ClientReport {
  /** `<n> requests in <ms> ms, <r> reqs/s` */
  requests: number | undefined;
  requestMs: number | undefined;
  requestsPerSecond: number | undefined;
  /** `<a> requests sent, <b> expected` */
  sent: number | undefined;
  expected: number | undefined;
  /** `<x> retransmissions (…)` (0 when the line is absent) */
  retransmissions: number;
  /** `<e> transmission errors (…)` (0 when the line is absent) */
  transmissionErrors: number;
  /** `cpu-time: <ms> ms` (process.cpuUsage() of the whole client process at its final statistics) */
  cpuTimeMs: number | undefined;
  /** `gc: <ms> ms, <n> calls` */
  gcMs: number | undefined;
  gcCalls: number | undefined;
  /** `Stale at …` / `Interrupted at …` line, if any */
  incomplete: string | undefined;
  /** `success-responses : …` round-trip summary */
  successRtt: string | undefined;
  /** `connects : …` summary (first exchange of each client, incl. the DTLS handshake) */
  connects: string | undefined;
}

/** Parses the benchmark client's console output (final statistics of clients.md §3.5). */
export function parseClientReport(text: string): ClientReport {
  const num = (re: RegExp, group = 1): number | undefined => {
    const m = re.exec(text);
    return m ? Number(m[group]) : undefined;
  };
  const rate = /^(\d+) requests in (\d+) ms(?:, (\d+) reqs\/s)?$/m.exec(text);
  return {
    requests: rate ? Number(rate[1]) : undefined,
    requestMs: rate ? Number(rate[2]) : undefined,
    requestsPerSecond: rate?.[3] !== undefined ? Number(rate[3]) : undefined,
    sent: num(/^(\d+) requests sent, \d+ expected$/m),
    expected: num(/^\d+ requests sent, (\d+) expected$/m),
    retransmissions: num(/^(\d+) retransmissions/m) ?? 0,
    transmissionErrors: num(/^(\d+) transmission errors/m) ?? 0,
    cpuTimeMs: num(/^cpu-time: (\d+) ms/m),
    gcMs: num(/^gc: (\d+) ms, \d+ calls$/m),
    gcCalls: num(/^gc: \d+ ms, (\d+) calls$/m),
    incomplete: /^((?:Stale|Interrupted) at .*)$/m.exec(text)?.[1],
    successRtt: /^success-responses : (.*)$/m.exec(text)?.[1],
    connects: /^connects {10}: (.*)$/m.exec(text)?.[1],
  };
}

/** CPU figures of one process over the request phase. */
export interface ProcessCpu {
  /** CPU ms (utime+stime, all threads) in the request phase */
  cpuMs: number;
  /** % of one core over the request phase */
  cpuPercent: number;
  /** CPU seconds per 1,000 completed requests */
  cpuSecondsPer1000: number;
  peakRssMb: number | undefined;
}

/** Machine figures of the request phase (whole machine, 2 cores shared with others). */
export interface PhaseMachine {
  /** busy ms on all cores */
  busyMs: number;
  /** irq + softirq ms (mostly the loopback traffic) */
  irqMs: number;
  /** busy ms not used by server or client: other processes, this runner (and irq time on kernels accounting it apart) */
  otherMs: number;
  udpRcvbufErrors: number;
  udpSndbufErrors: number;
  /** 1-minute load average when the run started */
  loadAverage: number;
}

/** One measured run of a variant. */
export interface VariantRun {
  id: Variant['id'];
  label: string;
  clients: number;
  requestsPerClient: number;
  exitCode: number | null;
  /** the client was ended by the runner's time limit */
  timedOut: boolean;
  /** request phase as seen by the runner (from "Benchmark started." to "... finished."), ms */
  phaseMs: number;
  report: ClientReport;
  client: ProcessCpu & { wholeProcessCpuMs: number | undefined; wholeProcessCpuSecondsPer1000: number | undefined };
  server: ProcessCpu;
  machine: PhaseMachine;
  /** the last lines of the client's output when it failed */
  outputTail?: string;
  cpuProfiles?: { client: ProfileSummary | null; clientFile: string | null; server: ProfileSummary | null; serverFile: string | null };
}


/** Resolves true once the server's log contains `needle` (false after `ms` or when the server exited). */
async function logShows(server: ServerProcess, needle: string, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (server.logTail(1 << 20).includes(needle)) return true;
    if (server.exited() || Date.now() >= deadline) return false;
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A started server with its working directory and ports. */
interface StartedServer {
  server: ServerProcess;
  workDir: string;
  coapPort: number;
  coapsPort: number;
}

/**
 * Starts our server with /benchmark enabled in `workDir` and waits for it. The coap/coaps ports are free ports chosen
 * by the OS, not 5783/5784: other engineers' runs on this machine use those, and a probe answered by their server
 * would send our client to the wrong server; the server log must show both our endpoints started.
 */
async function startServer(ctx: BenchContext, workDir: string, cpuProfDir: string | undefined, serverMain?: string): Promise<StartedServer> {
  const main = serverMain ?? path.join(ctx.distRoot, 'src', 'cli', 'server-main.js');
  if (!fs.existsSync(main)) throw new Error(`${path.relative(ctx.repoRoot, main)} does not exist (build the server first)`);
  const coapPort = (await tryPort(0))!;
  let coapsPort = (await tryPort(0))!;
  while (coapsPort === coapPort) coapsPort = (await tryPort(0))!;
  fs.writeFileSync(
    path.join(workDir, 'Californium3.properties'),
    [`COAP.COAP_PORT=${coapPort}`, `COAP.COAP_SECURE_PORT=${coapsPort}`, ONE_PROCESS_PROPERTY, ...ctx.options.oursProps].join('\n') + '\n',
  );
  const nodeArgs = cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${cpuProfDir}`] : [];
  const server = spawnNode('server', [main, '--no-plugtest', '--no-ipv6', '--no-external', '--benchmark'], workDir, nodeArgs);
  try {
    if (ctx.options.pin) pinToCpu(server.pid, 1);
    await probeCoap(coapPort, '127.0.0.1', 'echo', 15_000);
    for (const uri of [`coap://127.0.0.1:${coapPort}`, `coaps://127.0.0.1:${coapsPort}`]) {
      if (!(await logShows(server, `"endpoint":"${uri}","msg":"endpoint started"`, 3000))) {
        throw new Error(`our server did not start ${uri} (port taken by another process?)`);
      }
    }
  } catch (err) {
    const tail = server.logTail(1500);
    await server.stop();
    throw new Error(`${(err as Error).message}${server.exited() ? ' (process exited)' : ''}\n${tail}`);
  }
  return { server, workDir, coapPort, coapsPort };
}

/** Requests per client (a multiple of 50) for a run of about `seconds` at `rps` requests/s. */
export function requestsPerClient(seconds: number, rps: number, clients = BENCHMARK_CLIENTS): number {
  return Math.min(MAX_REQUESTS, Math.max(MIN_REQUESTS, Math.round((seconds * rps) / clients / 50) * 50));
}

/** Rounds to `d` decimals. */
function round(v: number, d: number): number {
  const f = 10 ** d;
  return Math.round(v * f) / f;
}

/** Process CPU figures of a phase. */
function cpuFigures(cpuMs: number, phaseMs: number, completed: number, peakRssMb: number | undefined): ProcessCpu {
  return {
    cpuMs: Math.round(cpuMs),
    cpuPercent: phaseMs > 0 ? Math.round((cpuMs * 100) / phaseMs) : 0,
    cpuSecondsPer1000: completed > 0 ? round(cpuMs / completed, 4) : 0,
    peakRssMb,
  };
}

/**
 * Runs the benchmark client once against a started server and samples both processes' CPU around its request phase.
 * The client is bounded by `limitMs` (SIGTERM: it prints its statistics as interrupted; SIGKILL 5 s later).
 */
function runClient(ctx: BenchContext, variant: Variant, s: StartedServer, perClient: number, limitMs: number, cpuProfDir: string | undefined): Promise<VariantRun> {
  const main = path.join(ctx.distRoot, 'src', 'cli', 'benchmark-main.js');
  const uri = variant.secure
    ? `coaps://127.0.0.1:${s.coapsPort}/benchmark?rlen=${RESPONSE_LENGTH}`
    : `coap://127.0.0.1:${s.coapPort}/benchmark?rlen=${RESPONSE_LENGTH}`;
  const args = [main, uri, '--clients', String(BENCHMARK_CLIENTS), '--requests', String(perClient), ...variant.extraArgs];
  const nodeArgs = cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${cpuProfDir}`] : [];
  const env = benchmarkClientEnv();
  const loadAverage = round(os.loadavg()[0] ?? 0, 2);
  return new Promise<VariantRun>((resolve, reject) => {
    const child = spawn(process.execPath, [...nodeArgs, ...args], { cwd: s.workDir, env, stdio: ['ignore', 'pipe', 'pipe'] });
    trackChild(child);
    const pid = child.pid ?? -1;
    if (ctx.options.pin && pid > 0) pinToCpu(pid, 0);
    let timedOut = false;
    // samples at the start and the end of the request phase
    let start: ReturnType<typeof sample> | undefined;
    let end: ReturnType<typeof sample> | undefined;
    // the client's CPU just before it ends (fallback when the end line is not seen, e.g. after SIGTERM)
    let lastClientCpu = 0;
    const sample = () => ({
      t: performance.now(),
      client: processCpuMs(pid) ?? lastClientCpu,
      clientRssMb: processPeakRssMb(pid),
      server: processCpuMs(s.server.pid) ?? 0,
      machine: machineCpuMs(),
      udp: udpCounters(),
    });
    const poll = setInterval(() => {
      lastClientCpu = processCpuMs(pid) ?? lastClientCpu;
    }, 200);
    const onLine = (line: string): void => {
      if (start === undefined && line === 'Benchmark started.') start = sample();
      else if (start !== undefined && end === undefined && / benchmark clients (finished|stopped)\.$/.test(line)) end = sample();
    };
    const stdout = stdoutLines(child, onLine);
    let stderr = '';
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (chunk: string) => {
      if (stderr.length < 20_000) stderr += chunk;
    });
    let killTimer: NodeJS.Timeout | undefined;
    const limit = setTimeout(() => {
      timedOut = true;
      child.kill('SIGTERM');
      killTimer = setTimeout(() => child.kill('SIGKILL'), 5000);
    }, limitMs);
    child.once('error', (err) => {
      clearInterval(poll);
      clearTimeout(limit);
      reject(err);
    });
    child.once('close', (code) => {
      clearInterval(poll);
      clearTimeout(limit);
      clearTimeout(killTimer);
      stdout.flush();
      const output = stdout.output();
      const report = parseClientReport(output);
      if (start === undefined) {
        reject(new Error(`benchmark client exited with ${code} before its request phase${timedOut ? ' (time limit)' : ''}\n${(output + stderr).slice(-1500)}`));
        return;
      }
      // after SIGTERM the end line may be missing: the last CPU polled before the client ended
      const stop = end ?? { ...sample(), client: lastClientCpu };
      const phaseMs = stop.t - start.t;
      const completed = report.requests ?? 0;
      const clientMs = stop.client - start.client;
      const serverMs = stop.server - start.server;
      const busyMs = stop.machine.busy - start.machine.busy;
      const irqMs = stop.machine.irq - start.machine.irq;
      const run: VariantRun = {
        id: variant.id,
        label: variant.label,
        clients: BENCHMARK_CLIENTS,
        requestsPerClient: perClient,
        exitCode: code,
        timedOut,
        phaseMs: Math.round(phaseMs),
        report,
        client: {
          ...cpuFigures(clientMs, phaseMs, completed, stop.clientRssMb),
          wholeProcessCpuMs: report.cpuTimeMs,
          wholeProcessCpuSecondsPer1000: report.cpuTimeMs !== undefined && completed > 0 ? round(report.cpuTimeMs / completed, 4) : undefined,
        },
        server: cpuFigures(serverMs, phaseMs, completed, processPeakRssMb(s.server.pid)),
        machine: {
          busyMs: Math.round(busyMs),
          irqMs: Math.round(irqMs),
          // irq time is not subtracted: with tick-based accounting (this machine: busy = client + server in a quiet
          // run) the softirq work of the loopback traffic is already inside the two processes' stime
          otherMs: Math.max(0, Math.round(busyMs - clientMs - serverMs)),
          udpRcvbufErrors: (stop.udp['RcvbufErrors'] ?? 0) - (start.udp['RcvbufErrors'] ?? 0),
          udpSndbufErrors: (stop.udp['SndbufErrors'] ?? 0) - (start.udp['SndbufErrors'] ?? 0),
          loadAverage,
        },
      };
      if (code !== 0 || timedOut) run.outputTail = (output + stderr).slice(-1500);
      resolve(run);
    });
  });
}

/** Share of the request phase other processes used the CPU. */
function noise(r: VariantRun): number {
  return r.phaseMs > 0 ? r.machine.otherMs / r.phaseMs : 0;
}

/** Starts a server (serverMain: another build's server-main.js), runs the client once, stops the server; keeps the temp dir only when profiled or failed. */
async function attempt(ctx: BenchContext, variant: Variant, perClient: number, serverMain?: string): Promise<VariantRun> {
  const o = ctx.options;
  if (o.quietWait > 0) {
    const busy = await waitForQuiet(0.15, o.quietWait * 1000);
    if (busy > 0.15) ctx.log(`  machine still busy (${Math.round(busy * 100)}% of a core used by others) after ${o.quietWait} s: measuring anyway`);
  }
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), `extplugtest-bench-benchmark-${variant.id}-`));
  const profDir = (side: string): string | undefined => {
    if (!o.cpuProf) return undefined;
    const dir = path.join(workDir, `${side}-profile`);
    fs.mkdirSync(dir);
    return dir;
  };
  const serverProf = profDir('server');
  const clientProf = profDir('client');
  let keep = o.cpuProf;
  let s: StartedServer | undefined;
  try {
    s = await startServer(ctx, workDir, serverProf, serverMain);
    // expected ~duration s at the target rate; allow 6 times that (a slow run) plus start-up, handshakes and the report
    const limitMs = Math.round(o.duration * 6 * 1000 + 60_000);
    const run = await runClient(ctx, variant, s, perClient, limitMs, clientProf);
    if (run.exitCode !== 0) keep = true;
    if (o.cpuProf) {
      await s.server.stop(); // the server's profile is written when it exits
      const cf = clientProf ? findProfile(clientProf) : undefined;
      const sf = serverProf ? findProfile(serverProf) : undefined;
      run.cpuProfiles = {
        clientFile: cf ?? null,
        client: cf ? summarizeProfile(cf, 15) : null,
        serverFile: sf ?? null,
        server: sf ? summarizeProfile(sf, 15) : null,
      };
    }
    return run;
  } catch (err) {
    keep = true;
    throw new Error(`${(err as Error).message}${s ? `\nserver log (${s.server.logPath}): ${s.server.logTail(800)}` : ''}`);
  } finally {
    await s?.server.stop();
    if (!keep) fs.rmSync(workDir, { recursive: true, force: true });
  }
}

/** Outcome of a variant: the quietest run, or the error. */
export interface VariantOutcome {
  variant: Variant;
  run?: VariantRun;
  attempts: number;
  error?: string;
}

/** Runs a variant up to 1 + --retries times while its request phase is noisy; keeps the quietest run (serverMain: another build's server). */
export async function measureVariant(ctx: BenchContext, variant: Variant, serverMain?: string): Promise<VariantOutcome> {
  const o = ctx.options;
  const perClient = requestsPerClient(o.duration, variant.sizingRps);
  ctx.log(`benchmark client: ${variant.label}, ${BENCHMARK_CLIENTS} clients × ${perClient} requests (rlen=${RESPONSE_LENGTH}), load average ${loadAverage()}`);
  let best: VariantRun | undefined;
  let attempts = 0;
  for (let i = 0; i <= o.retries; i++) {
    attempts++;
    let run: VariantRun;
    try {
      run = await attempt(ctx, variant, perClient, serverMain);
    } catch (err) {
      ctx.log(`  ${variant.label}: FAILED: ${(err as Error).message.split('\n').slice(0, 6).join('\n    ')}`);
      if (best) break;
      return { variant, attempts, error: (err as Error).message };
    }
    const r = run.report;
    ctx.log(
      `  ${variant.label}: ${r.requestsPerSecond ?? 'n/a'} req/s (${r.sent ?? '?'}/${r.expected ?? '?'} requests in ${r.requestMs ?? '?'} ms), ` +
        `retransmissions ${r.retransmissions}, errors ${r.transmissionErrors}, client CPU ${run.client.cpuPercent}% (${run.client.cpuSecondsPer1000} s/1k), ` +
        `server CPU ${run.server.cpuPercent}% (${run.server.cpuSecondsPer1000} s/1k), other ${run.machine.otherMs} ms` +
        (run.exitCode !== 0 ? `, client exit ${run.exitCode}${run.timedOut ? ' (time limit)' : ''}` : ''),
    );
    if (!best || noise(run) < noise(best)) best = run;
    if (run.exitCode !== 0 || noise(run) <= NOISY) break;
    if (i < o.retries) ctx.log(`  ${variant.label}: noisy request phase (other processes used ${Math.round(noise(run) * 100)}% of it): repeating`);
  }
  return { variant, run: best, attempts };
}

/** The 1/5/15-minute load averages as text. */
function loadAverage(): string {
  return os.loadavg().map((l) => l.toFixed(2)).join(' ');
}

/** Table row of an outcome. */
function row(t: VariantOutcome): (string | number)[] {
  const r = t.run;
  if (!r) return [t.variant.label, 'FAILED', '', '', '', '', '', '', '', '', ''];
  return [
    t.variant.label,
    r.report.requestsPerSecond ?? 'n/a',
    `${r.report.sent ?? '?'}/${r.report.expected ?? '?'}`,
    r.report.retransmissions,
    r.report.transmissionErrors,
    r.client.cpuSecondsPer1000.toFixed(4),
    r.server.cpuSecondsPer1000.toFixed(4),
    r.client.cpuPercent,
    r.server.cpuPercent,
    r.machine.otherMs,
    r.machine.loadAverage.toFixed(2),
  ];
}

/** Which side limited a run: a process using ≥ 90% of a core, or neither. */
function limitedBy(r: VariantRun): string {
  const sides = [r.client.cpuPercent >= 90 ? 'client' : '', r.server.cpuPercent >= 90 ? 'server' : ''].filter(Boolean);
  return sides.length > 0 ? sides.join(' and ') : 'neither process at a full core (round trips, scheduling or other processes)';
}

/** Runs the section: coap CON, then coaps CON with CID. */
async function run(ctx: BenchContext): Promise<SectionResult> {
  const o = ctx.options;
  const loadAtStart = loadAverage();
  const outcomes: VariantOutcome[] = [];
  for (const variant of VARIANTS) {
    // --only coap / --only coaps-cid selects one run; other --only ids (ours, npm, raw) leave both
    if (VARIANTS.some((v) => o.only.has(v.id)) && !o.only.has(variant.id)) continue;
    outcomes.push(await measureVariant(ctx, variant));
  }
  const report = [
    `benchmark client (dist/src/cli/benchmark-main.js) against our server (--benchmark), CON POST /benchmark?rlen=${RESPONSE_LENGTH}, ` +
      `${BENCHMARK_CLIENTS} clients (one socket each), requests per client sized for ~${o.duration} s at the quiet-machine rate (${VARIANTS.map((v) => `${v.id} ${v.sizingRps}`).join(", ")} req/s)` +
      `${o.pin ? ', pinned (server CPU 1, client CPU 0)' : ''}; CPU = utime+stime of each process in the request phase, per 1,000 requests`,
    `machine: ${os.cpus().length} CPUs shared with other users' processes, load average at section start ${loadAtStart}`,
    '',
    ...formatTable(
      ['run', 'req/s', 'sent/expected', 'retrans', 'errors', 'client CPU s/1k', 'server CPU s/1k', 'client CPU%', 'server CPU%', 'other CPU ms', 'load1'],
      outcomes.map(row),
    ),
    '',
  ];
  for (const t of outcomes) {
    const r = t.run;
    if (!r) {
      report.push(`${t.variant.label}: FAILED: ${(t.error ?? '').split('\n')[0]}`);
      continue;
    }
    report.push(
      `${t.variant.label}: ${r.report.requestsPerSecond ?? 'n/a'} req/s, client ${r.client.cpuSecondsPer1000} CPU s/1k requests ` +
        `(whole process ${r.client.wholeProcessCpuSecondsPer1000 ?? 'n/a'}), server ${r.server.cpuSecondsPer1000} CPU s/1k requests; limited by: ${limitedBy(r)}`,
    );
    if (r.report.successRtt) report.push(`  round trips: ${r.report.successRtt}`);
    if (t.variant.secure && r.report.connects) report.push(`  connects (incl. handshake): ${r.report.connects}`);
    if (r.report.incomplete) report.push(`  note: ${r.report.incomplete}`);
    if (r.exitCode !== 0) report.push(`  note: client exit status ${r.exitCode}${r.timedOut ? ' (ended by the time limit)' : ''}`);
    if (r.report.sent !== undefined && r.report.expected !== undefined && r.report.sent !== r.report.expected) {
      report.push(`  note: ${r.report.sent} of ${r.report.expected} requests answered`);
    }
    if (noise(r) > NOISY) report.push(`  note: other processes used ${r.machine.otherMs} CPU ms of the ${r.phaseMs} ms request phase: figures are noisy`);
    if (r.machine.udpRcvbufErrors > 0) report.push(`  note: ${r.machine.udpRcvbufErrors} UDP receive-buffer drops (whole machine) during the request phase`);
    if (t.attempts > 1) report.push(`  note: kept the quietest of ${t.attempts} runs`);
    if (r.cpuProfiles) {
      report.push(`  cpu profile of the client: ${r.cpuProfiles.clientFile ?? 'none written'}`);
      if (r.cpuProfiles.client) report.push(...formatProfile(r.cpuProfiles.client).map((l) => `  ${l}`));
      report.push(`  cpu profile of the server: ${r.cpuProfiles.serverFile ?? 'none written'}`);
      if (r.cpuProfiles.server) report.push(...formatProfile(r.cpuProfiles.server).map((l) => `  ${l}`));
    }
  }
  const rps = (id: Variant['id']): number | undefined => outcomes.find((t) => t.variant.id === id)?.run?.report.requestsPerSecond;
  const complete = (id: Variant['id']): number | undefined => {
    const r = outcomes.find((t) => t.variant.id === id)?.run;
    // a run that did not complete all its requests does not count as measured
    return r && r.exitCode === 0 && r.report.sent === r.report.expected ? rps(id) : undefined;
  };
  const checks: TargetCheck[] = outcomes.map((t) => ({
    name: `benchmark client ${t.variant.label} req/s (${BENCHMARK_CLIENTS} clients, rlen=${RESPONSE_LENGTH})`,
    value: complete(t.variant.id),
    atLeast: t.variant.target,
    unit: 'req/s',
  }));
  return {
    report,
    checks,
    data: {
      settings: { clients: BENCHMARK_CLIENTS, rlen: RESPONSE_LENGTH, cidLength: CID_LENGTH, durationS: o.duration, pinned: o.pin, oursProps: o.oursProps },
      loadAverageAtStart: loadAtStart,
      coapRequestsPerSecond: rps('coap') ?? null,
      coapsCidRequestsPerSecond: rps('coaps-cid') ?? null,
      runs: outcomes.map((t) => ({ id: t.variant.id, label: t.variant.label, target: t.variant.target, attempts: t.attempts, error: t.error ?? null, run: t.run ?? null })),
    },
  };
}

/** The benchmark-client section (`--section benchmark`). */
export const benchmarkSection: Section = { id: 'benchmark', title: 'benchmark client against our server (issue 4)', run };

// Graceful-restart demo (restart.md §3) under load: the benchmark client (dist/src/cli/benchmark-main.js) over coaps
// with CID (--cid-length 6, PSK, CON, --no-stop) from 2,000 clients against our server (--no-plugtest --no-ipv6
// --no-external --no-tcp --benchmark --diagnose, free loopback ports in a temp Californium3.properties), and while the
// benchmark runs:
//   save-load: `save` on the server console, a pause, `load`;
//   restart:   SIGTERM (the process writes --store-file), a new process with the same flags on the same ports (it
//              loads the file before its servers start).
// Each scenario is its own benchmark run against a fresh server. Checked: no new handshake (the client's `connects`
// count stays at the number of clients; with --no-stop every failed request would force a new full handshake and
// add a connect; and the server's /diagnose `handshakes succeeded` does not grow, resp. stays 0 in the new process),
// zero transmission errors, every request answered, `load: <ms> ms, <n> items` with n = clients. Reported: the dip in
// the client's 10 s progress lines (requests/s before, during, after) and the gap of the server.
//
//   npm run build && node dist/bench/restart-demo.js [--clients 2000] [--requests 500] [--after-line 2] [--offset 3] [--pause 2]
//        [--scenario save-load|restart|both] [--timeout 300] [--out bench-results-restart.json]
import { spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { benchmarkClientEnv, parseClientReport, type ClientReport } from './benchmark-section.js';
import { coapGet } from './coap-wire.js';
import { killChildren, killChildrenOnSignal, tryPort, trackChild, waitForQuiet } from './proc-util.js';

/** dist/bench → dist. */
const distRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
/** dist → repository root. */
const repoRoot = path.resolve(distRoot, '..');
const SERVER_MAIN = path.join(distRoot, 'src', 'cli', 'server-main.js');
const CLIENT_MAIN = path.join(distRoot, 'src', 'cli', 'benchmark-main.js');

/** Client CID length (the server persists only connections with a CID). */
const CID_LENGTH = 6;
/** Response payload length (`rlen`). */
const RESPONSE_LENGTH = 40;
/** Bound of every wait for a server log line / start (ms). */
const LOG_WAIT_MS = 30_000;

type ScenarioId = 'save-load' | 'restart';

interface DemoOptions {
  clients: number;
  requests: number;
  /** the event follows the client's progress line [000<afterLine>] ... */
  afterLine: number;
  /** ... by this many seconds (inside the next 10 s window) */
  offset: number;
  /** seconds between "Saved:" and the `load` command */
  pause: number;
  scenarios: ScenarioId[];
  /** per scenario: the benchmark client is killed after this many seconds */
  timeout: number;
  /** before each scenario wait up to this many seconds for other processes to go idle */
  quietWait: number;
  out: string;
}

function parseOptions(argv: string[]): DemoOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      clients: { type: 'string', default: '2000' },
      requests: { type: 'string', default: '500' },
      'after-line': { type: 'string', default: '2' },
      offset: { type: 'string', default: '3' },
      pause: { type: 'string', default: '2' },
      scenario: { type: 'string', default: 'both' },
      timeout: { type: 'string', default: '300' },
      'quiet-wait': { type: 'string', default: '30' },
      out: { type: 'string', default: path.join(repoRoot, 'bench-results-restart.json') },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log(
      [
        'usage: node dist/bench/restart-demo.js [options]',
        '  --clients <n>      benchmark clients (coaps, PSK, CID 6, CON, --no-stop) (default 2000)',
        '  --requests <n>     requests per client (default 500: about a minute at ~15,000 reqs/s)',
        '  --after-line <n>   the event follows the client\'s progress line [000n] (default 2: the first 10 s window',
        '                     holds the handshakes, the second is the clean "before" window) ...',
        '  --offset <s>       ... by this many seconds, inside the next window (default 3)',
        '  --pause <s>        save-load: seconds between "Saved:" and the load command (default 2)',
        '  --scenario <id>    save-load | restart | both (default both; one benchmark run and one server each)',
        '  --timeout <s>      per scenario: the benchmark client is killed after this long (default 300)',
        '  --quiet-wait <s>   before each scenario wait up to this long for other processes to go idle (default 30, 0 = off)',
        '  --out <file>       JSON output (default bench-results-restart.json in the repository root)',
      ].join('\n'),
    );
    process.exit(0);
  }
  const num = (name: string, v: string, min: number, max: number): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < min || n > max) throw new Error(`--${name} must be a number in ${min}..${max}`);
    return n;
  };
  const scenario = values.scenario;
  if (!['save-load', 'restart', 'both'].includes(scenario)) throw new Error('--scenario must be save-load, restart or both');
  return {
    clients: Math.floor(num('clients', values.clients, 1, 10_000)),
    requests: Math.floor(num('requests', values.requests, 11, 100_000)),
    afterLine: Math.floor(num('after-line', values['after-line'], 1, 100)),
    offset: num('offset', values.offset, 0, 9),
    pause: num('pause', values.pause, 0, 60),
    scenarios: scenario === 'both' ? ['save-load', 'restart'] : [scenario as ScenarioId],
    timeout: num('timeout', values.timeout, 10, 3600),
    quietWait: num('quiet-wait', values['quiet-wait'], 0, 600),
    out: path.resolve(values.out),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// the server process

/** A server process with its console (stdin) and its log file (stdout + stderr). */
interface DemoServer {
  child: ChildProcess;
  logPath: string;
  /** the whole log so far */
  log(): string;
  /** one console line */
  write(line: string): void;
  /** resolves with the exit code */
  exited: Promise<number | null>;
  /** SIGTERM, SIGKILL after graceMs; resolves with the exit code */
  stop(graceMs?: number): Promise<number | null>;
}

/** Starts `server-main.js <args>` in workDir (stdin piped, output into workDir/<name>.log) and waits for both endpoints. */
async function startServer(workDir: string, name: string, args: string[], ports: { coap: number; coaps: number }): Promise<DemoServer> {
  const logPath = path.join(workDir, `${name}.log`);
  const fd = fs.openSync(logPath, 'w');
  const child = spawn(process.execPath, [SERVER_MAIN, ...args], { cwd: workDir, stdio: ['pipe', fd, fd] });
  fs.closeSync(fd);
  trackChild(child);
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => resolve(code));
    child.once('error', () => resolve(null));
  });
  let done = false;
  void exited.then(() => (done = true));
  const server: DemoServer = {
    child,
    logPath,
    log: () => {
      try {
        return fs.readFileSync(logPath, 'utf8');
      } catch {
        return '';
      }
    },
    write: (line) => child.stdin!.write(line + '\n'),
    exited,
    async stop(graceMs = 10_000) {
      if (!done) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
  for (const uri of [`coap://127.0.0.1:${ports.coap}`, `coaps://127.0.0.1:${ports.coaps}`]) {
    const needle = `"endpoint":"${uri}","msg":"endpoint started"`;
    if (!(await waitLog(server, (text) => text.includes(needle), LOG_WAIT_MS))) {
      await server.stop(1000);
      throw new Error(`server ${name} did not start ${uri} (port taken?):\n${server.log().slice(-2000)}`);
    }
  }
  if (!(await waitLog(server, (text) => text.includes('started ...'), LOG_WAIT_MS))) {
    await server.stop(1000);
    throw new Error(`server ${name} did not log "started ...":\n${server.log().slice(-2000)}`);
  }
  return server;
}

/** Polls the server log every 20 ms until `test` holds (true), the process ended or `ms` passed (false). */
async function waitLog(server: DemoServer, test: (text: string) => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  let exited = false;
  void server.exited.then(() => (exited = true));
  for (;;) {
    if (test(server.log())) return true;
    if (exited || Date.now() >= deadline) return test(server.log());
    await sleep(20);
  }
}

/** The first JSON log line whose msg matches `re`: its `time` (epoch ms, server clock) and the match. */
function logEntry(text: string, re: RegExp): { time: number; match: RegExpExecArray } | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith('{')) continue;
    let entry: { time?: number; msg?: string };
    try {
      entry = JSON.parse(line) as { time?: number; msg?: string };
    } catch {
      continue;
    }
    const m = typeof entry.msg === 'string' ? re.exec(entry.msg) : null;
    if (m) return { time: entry.time ?? 0, match: m };
  }
  return undefined;
}

/** Warnings and errors the server logged (level ≥ 40), at most `max`. */
function logWarnings(text: string, max = 20): string[] {
  const out: string[] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith('{')) {
      if (line.trim().length > 0 && !line.startsWith('> ')) out.push(line);
    } else {
      try {
        const e = JSON.parse(line) as { level?: number; msg?: string };
        if ((e.level ?? 0) >= 40) out.push(e.msg ?? line);
      } catch {
        out.push(line);
      }
    }
    if (out.length >= max) break;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// /diagnose over plain coap

/** The DTLS connector's counters of /diagnose/DTLS:127.0.0.1:<coaps> (cur + all), read over plain CoAP. */
interface DtlsCounters {
  handshakesSucceeded: number;
  handshakesFailed: number;
  connections: number;
  /** CoAP responses sent by the coaps endpoint (its `send-responses`) */
  responses: number;
}

async function dtlsCounters(ports: { coap: number; coaps: number }, ms = 6000): Promise<DtlsCounters> {
  const text = await coapGet(ports.coap, `diagnose/DTLS:127.0.0.1:${ports.coaps}`, ms);
  const value = (key: string): number => {
    const m = new RegExp(`^ {3}${key},(\\d+),(\\d+)$`, 'm').exec(text);
    if (!m) throw new Error(`no '${key}' in /diagnose:\n${text}`);
    return Number(m[1]) + (key === 'connections' ? 0 : Number(m[2]));
  };
  return {
    handshakesSucceeded: value('handshakes succeeded'),
    handshakesFailed: value('handshakes failed'),
    connections: value('connections'),
    responses: value('send-responses'),
  };
}

/** One second of the server's answers: rate over the previous sample of the same process. */
interface RateSample {
  /** ms after "Benchmark started." (end of the second) */
  atMs: number;
  rps: number;
}

/**
 * Samples the server's coaps `send-responses` every second (a finer view of the dip than the 10 s progress lines).
 * While the servers are stopped nothing answers: no sample. A new process counts from 0 (`server` changes).
 */
function sampleRates(current: () => { index: number; ports: { coap: number; coaps: number } }, rel: () => number): { stop(): RateSample[] } {
  const samples: RateSample[] = [];
  let last: { index: number; atMs: number; responses: number } | undefined;
  let stopped = false;
  const loop = async (): Promise<void> => {
    while (!stopped) {
      const next = rel() + 1000;
      const { index, ports } = current();
      try {
        const c = await dtlsCounters(ports, 800);
        const atMs = rel();
        if (last && last.index === index && atMs > last.atMs) samples.push({ atMs, rps: Math.round(((c.responses - last.responses) * 1000) / (atMs - last.atMs)) });
        else if (last && last.index !== index && atMs > last.atMs) samples.push({ atMs, rps: Math.round((c.responses * 1000) / (atMs - last.atMs)) });
        last = { index, atMs, responses: c.responses };
      } catch {
        // stopped servers: no answer
      }
      await sleep(next - rel());
    }
  };
  void loop();
  return {
    stop() {
      stopped = true;
      return samples;
    },
  };
}

/** The dip as the 1 s samples show it. */
interface FineDip {
  /** median rate of the 10 s before the event */
  beforeRps: number | undefined;
  /** time from the event's start until the first second at ≥ 80 % of `beforeRps` (ms) */
  recoveryMs: number | undefined;
  /** lowest 1 s rate after the event */
  minRps: number | undefined;
  /** the samples from 5 s before to 20 s after the event's start */
  around: RateSample[];
}

function fineDipOf(samples: RateSample[], event: EventTimes | undefined): FineDip {
  if (!event) return { beforeRps: undefined, recoveryMs: undefined, minRps: undefined, around: [] };
  const before = samples.filter((x) => x.atMs <= event.startMs && x.atMs > event.startMs - 10_000).map((x) => x.rps).sort((a, b) => a - b);
  const beforeRps = before.length > 0 ? before[Math.floor(before.length / 2)] : undefined;
  const afterSamples = samples.filter((x) => x.atMs > event.startMs);
  const recovered = beforeRps === undefined ? undefined : afterSamples.find((x) => x.atMs > event.endMs && x.rps >= 0.8 * beforeRps);
  return {
    beforeRps,
    recoveryMs: recovered ? recovered.atMs - event.startMs : undefined,
    minRps: afterSamples.length > 0 ? Math.min(...afterSamples.slice(0, 10).map((x) => x.rps)) : undefined,
    around: samples.filter((x) => x.atMs >= event.startMs - 5000 && x.atMs <= event.startMs + 20_000),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// the benchmark client

/** One 10 s progress line of the client, with the time we read it (ms after "Benchmark started."). */
interface ProgressLine {
  line: number;
  /** end of the window, ms after "Benchmark started." (as seen by the runner) */
  atMs: number;
  sent: number;
  /** as printed: responses of the window / 10 */
  reqsPerSecond: number;
  /** requests started in the window / its real length (the client divides by 10 s even when its timer was late) */
  measuredRps: number;
  retransmissions: number;
  transmissionErrors: number;
  clients: number;
  text: string;
}

const PROGRESS = /^\[(\d+)\]: (\d+) requests \((\d+) reqs\/s, (\d+) retransmissions(?: \([^)]*\))?, (\d+) transmission errors(?: \([^)]*\))?.*, (\d+) clients(?:, \d+ pending)?\)$/;

/** A running benchmark client whose output is read line by line. */
interface ClientRun {
  /** resolves when "Benchmark started." was printed (performance.now() of that moment) */
  started: Promise<number>;
  /** resolves when the process ended */
  done: Promise<{ code: number | null; signal: NodeJS.Signals | null; timedOut: boolean; stdout: string; stderr: string; progress: ProgressLine[]; startedAt: number | undefined; finishedAt: number | undefined }>;
  /** true once the process printed "... benchmark clients finished." / "stopped." or exited */
  ended(): boolean;
  /** the progress lines so far */
  progress(): readonly ProgressLine[];
  /** SIGKILL */
  kill(): void;
}

function runClient(args: string[], timeoutMs: number): ClientRun {
  const child = spawn(process.execPath, [CLIENT_MAIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: benchmarkClientEnv() });
  trackChild(child);
  let stdout = '';
  let stderr = '';
  const progress: ProgressLine[] = [];
  let startedAt: number | undefined;
  let finishedAt: number | undefined;
  let resolveStarted!: (t: number) => void;
  let rejectStarted!: (e: Error) => void;
  const started = new Promise<number>((res, rej) => {
    resolveStarted = res;
    rejectStarted = rej;
  });
  started.catch(() => {});
  let ended = false;
  const rl = readline.createInterface({ input: child.stdout! });
  const closed = new Promise<void>((resolve) => rl.once('close', resolve));
  rl.on('line', (line) => {
    const now = performance.now();
    stdout += line + '\n';
    if (line === 'Benchmark started.') {
      startedAt = now;
      resolveStarted(now);
    } else if (/^\d+ benchmark clients (finished|stopped)\.$/.test(line)) {
      finishedAt = now;
      ended = true;
    } else {
      const m = PROGRESS.exec(line);
      if (m && startedAt !== undefined) {
        const prev = progress.at(-1);
        const atMs = Math.round(now - startedAt);
        const sent = Number(m[2]);
        const spanMs = atMs - (prev?.atMs ?? 0);
        progress.push({
          line: Number(m[1]),
          atMs,
          sent,
          reqsPerSecond: Number(m[3]),
          measuredRps: spanMs > 0 ? Math.round(((sent - (prev?.sent ?? 0)) * 1000) / spanMs) : 0,
          retransmissions: Number(m[4]),
          transmissionErrors: Number(m[5]),
          clients: Number(m[6]),
          text: line,
        });
      }
    }
  });
  child.stderr!.on('data', (d) => (stderr += d.toString()));
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill('SIGKILL');
  }, timeoutMs);
  const done = new Promise<Awaited<ClientRun['done']>>((resolve) => {
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      ended = true;
      rejectStarted(new Error(`benchmark client ended (${code ?? signal}) before "Benchmark started.":\n${stdout.slice(-2000)}\n${stderr}`));
      // the last lines may still be in the pipe
      void closed.then(() => resolve({ code, signal, timedOut, stdout, stderr, progress, startedAt, finishedAt }));
    });
  });
  return { started, done, ended: () => ended, progress: () => progress, kill: () => child.kill('SIGKILL') };
}

// ---------------------------------------------------------------------------------------------------------------
// one scenario

/** Times of the event, ms after "Benchmark started." (runner clock) unless named otherwise. */
interface EventTimes {
  /** save command written / SIGTERM sent */
  startMs: number;
  /** "Loaded:" logged / new process logged "started ..." */
  endMs: number;
  /** servers not answering: server log time of Loaded / started minus the runner's time of the command (ms) */
  gapMs: number;
  steps: Record<string, number>;
}

/**
 * Figures around the event from the progress lines; rates are the measured ones (requests started per real second of
 * the window), the printed reqs/s are kept beside them.
 */
interface Dip {
  /** rate of the last window that ended before the event (undefined when there is none) */
  beforeRps: number | undefined;
  /** windows overlapping the event and the next one */
  during: Array<{ line: number; fromMs: number; atMs: number; measuredRps: number; printedRps: number; retransmissions: number }>;
  /** lowest rate of those */
  minRps: number | undefined;
  /** rate of the first window starting at least 10 s after the event ended */
  afterRps: number | undefined;
  /** Σ (before − rate) × window / before over the dip windows: seconds of a complete outage with the same loss */
  lostSeconds: number | undefined;
  /** progress windows longer than 12 s (the client's timer was late: a busy machine) */
  stretchedWindows: number;
}

interface ScenarioResult {
  id: ScenarioId;
  pass: boolean;
  failures: string[];
  clients: number;
  requestsPerClient: number;
  client: {
    exitCode: number | null;
    timedOut: boolean;
    connects: number | undefined;
    report: ClientReport;
    /** request phase, ms after "Benchmark started." */
    finishedAtMs: number | undefined;
    progress: ProgressLine[];
    stderr: string;
    outputTail?: string;
  };
  server: {
    /** handshakes succeeded right before the event (first process) */
    handshakesBefore: number | undefined;
    /** handshakes succeeded after the run (same process for save-load, the new one for restart) */
    handshakesAfter: number | undefined;
    newHandshakes: number | undefined;
    handshakesFailedAfter: number | undefined;
    connectionsAfter: number | undefined;
    savedLine: string | undefined;
    loadLine: string | undefined;
    loadedItems: number | undefined;
    loadMs: number | undefined;
    warnings: string[];
  };
  event: EventTimes | undefined;
  dip: Dip;
  /** the dip in the server's 1 s answer rate */
  fineDip: FineDip;
  /** busy cores (other processes) and 1-minute load average when the scenario started */
  machineAtStart: { busyCores: number; loadAverage: number };
}

function dipOf(progress: ProgressLine[], event: EventTimes | undefined): Dip {
  const windows = progress.map((p, i) => ({ ...p, fromMs: i === 0 ? 0 : progress[i - 1]!.atMs }));
  const stretchedWindows = windows.filter((w) => w.atMs - w.fromMs > 12_000).length;
  const empty: Dip = { beforeRps: undefined, during: [], minRps: undefined, afterRps: undefined, lostSeconds: undefined, stretchedWindows };
  if (!event) return empty;
  const before = windows.filter((w) => w.atMs <= event.startMs).at(-1);
  // the dip: windows overlapping the event, and the one after (CoAP retransmissions back off: 2-3 s, then 4-6 s more)
  const overlapping = windows.filter((w) => w.atMs > event.startMs && w.fromMs < event.endMs);
  const lastIndex = overlapping.length > 0 ? windows.indexOf(overlapping.at(-1)!) : -1;
  const during = lastIndex >= 0 && windows[lastIndex + 1] ? [...overlapping, windows[lastIndex + 1]!] : overlapping;
  const after = windows.find((w) => w.fromMs >= event.endMs + 10_000);
  const beforeRps = before?.measuredRps;
  const lost =
    beforeRps && beforeRps > 0 && during.length > 0
      ? during.reduce((s, w) => s + (Math.max(0, beforeRps - w.measuredRps) * (w.atMs - w.fromMs)) / 1000 / beforeRps, 0)
      : undefined;
  return {
    beforeRps,
    during: during.map((w) => ({ line: w.line, fromMs: w.fromMs, atMs: w.atMs, measuredRps: w.measuredRps, printedRps: w.reqsPerSecond, retransmissions: w.retransmissions })),
    minRps: during.length > 0 ? Math.min(...during.map((w) => w.measuredRps)) : undefined,
    afterRps: after?.measuredRps,
    lostSeconds: lost === undefined ? undefined : Math.round(lost * 10) / 10,
    stretchedWindows,
  };
}

async function runScenario(id: ScenarioId, o: DemoOptions, log: (line: string) => void): Promise<ScenarioResult> {
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), `restart-demo-${id}-`));
  const failures: string[] = [];
  const servers: DemoServer[] = [];
  const busyCores = o.quietWait > 0 ? await waitForQuiet(0.3, o.quietWait * 1000) : 0;
  const machineAtStart = { busyCores: Math.round(busyCores * 100) / 100, loadAverage: os.loadavg()[0]! };
  if (busyCores > 0.3) log(`[${id}] note: the machine is busy (${machineAtStart.busyCores} cores used by other processes), the rates will be noisy`);
  try {
    const coap = (await tryPort(0))!;
    let coaps = (await tryPort(0))!;
    while (coaps === coap) coaps = (await tryPort(0))!;
    const ports = { coap, coaps };
    fs.writeFileSync(path.join(workDir, 'Californium3.properties'), [`COAP.COAP_PORT=${coap}`, `COAP.COAP_SECURE_PORT=${coaps}`].join('\n') + '\n');
    const storeFile = path.join(workDir, 'dtls-state.bin');
    const password64 = crypto.randomBytes(16).toString('base64');
    const serverArgs = ['--no-plugtest', '--no-ipv6', '--no-external', '--no-tcp', '--benchmark', '--diagnose', '--store-file', storeFile, '--store-password64', password64, '--store-max-age', '1'];
    log(`[${id}] server: node dist/src/cli/server-main.js ${serverArgs.join(' ').replace(password64, '<random>')} (coap ${coap}, coaps ${coaps}, cwd ${workDir})`);
    servers.push(await startServer(workDir, 'server-1', serverArgs, ports));

    const uri = `coaps://127.0.0.1:${coaps}/benchmark?rlen=${RESPONSE_LENGTH}`;
    const clientArgs = [uri, '--clients', String(o.clients), '--requests', String(o.requests), '--cid-length', String(CID_LENGTH), '--no-stop'];
    log(`[${id}] client: node dist/src/cli/benchmark-main.js ${clientArgs.join(' ')}`);
    const run = runClient(clientArgs, o.timeout * 1000);
    const startedAt = await run.started;
    log(`[${id}] Benchmark started; event ${o.offset} s after progress line ${o.afterLine}`);
    const rel = (): number => Math.round(performance.now() - startedAt);
    const sampler = sampleRates(() => ({ index: servers.length, ports }), rel);

    let event: EventTimes | undefined;
    let handshakesBefore: number | undefined;
    let savedLine: string | undefined;
    let loadLine: string | undefined;
    let loadedItems: number | undefined;
    let loadMs: number | undefined;
    const eventError = await (async (): Promise<string | undefined> => {
      // wait for the event time (or the end of the run)
      while (run.progress().length < o.afterLine && !run.ended()) await sleep(50);
      const at = (run.progress()[o.afterLine - 1]?.atMs ?? 0) + o.offset * 1000;
      while (rel() < at && !run.ended()) await sleep(Math.min(200, at - rel()));
      if (run.ended()) return `the benchmark ended before the event (raise --requests)`;
      // a busy machine may still be handshaking: the event should hit established connections only (bounded wait)
      const handshakeDeadline = Date.now() + LOG_WAIT_MS;
      handshakesBefore = (await dtlsCounters(ports)).handshakesSucceeded;
      while (handshakesBefore < o.clients && Date.now() < handshakeDeadline && !run.ended()) {
        await sleep(200);
        handshakesBefore = (await dtlsCounters(ports)).handshakesSucceeded;
      }
      if (rel() > at + 500) log(`[${id}] note: the handshakes ended only ${(rel() / 1000).toFixed(1)} s after "Benchmark started."; event delayed`);
      const first = servers[0]!;
      if (id === 'save-load') {
        const startMs = rel();
        const startEpoch = Date.now();
        first.write('save');
        if (!(await waitLog(first, (t) => logEntry(t, /^Saved: \d+ Bytes/) !== undefined, LOG_WAIT_MS))) return 'no "Saved:" in the server log';
        const saved = logEntry(first.log(), /^Saved: (\d+) Bytes/)!;
        savedLine = saved.match[0];
        const savedMs = rel();
        await sleep(o.pause * 1000);
        const loadCmdMs = rel();
        first.write('load');
        if (!(await waitLog(first, (t) => logEntry(t, /^Loaded: \d+ Bytes/) !== undefined, LOG_WAIT_MS))) return 'no "Loaded:" in the server log';
        const loaded = logEntry(first.log(), /^Loaded: \d+ Bytes/)!;
        const endMs = rel();
        event = { startMs, endMs, gapMs: loaded.time - startEpoch, steps: { saveCommand: startMs, savedSeen: savedMs, loadCommand: loadCmdMs, loadedSeen: endMs } };
      } else {
        const startMs = rel();
        const startEpoch = Date.now();
        const code = await first.stop(LOG_WAIT_MS);
        const exitMs = rel();
        const saved = logEntry(first.log(), /^store file .*: (\d+) bytes, (\d+) connections saved$/);
        savedLine = saved?.match[0];
        if (code !== 0) failures.push(`first server exited with ${code}`);
        if (!saved) return `no "store file …: <n> bytes, <m> connections saved" in the first server's log:\n${first.log().slice(-1500)}`;
        const second = await startServer(workDir, 'server-2', serverArgs, ports);
        servers.push(second);
        const started = logEntry(second.log(), /started \.\.\.$/)!;
        const endMs = rel();
        event = { startMs, endMs, gapMs: started.time - startEpoch, steps: { sigterm: startMs, exited: exitMs, secondStartedSeen: endMs } };
        if (fs.existsSync(storeFile)) failures.push('the store file still exists after the new process loaded it');
      }
      const last = servers.at(-1)!;
      const load = logEntry(last.log(), /^load: (\d+) ms, (\d+) items$/);
      loadLine = load?.match[0];
      loadMs = load ? Number(load.match[1]) : undefined;
      loadedItems = load ? Number(load.match[2]) : undefined;
      log(`[${id}] event: ${savedLine ?? '?'}; ${loadLine ?? 'no load line'}; servers answered again ${event.gapMs} ms after the ${id === 'save-load' ? 'save command' : 'SIGTERM'}`);
      return undefined;
    })().catch((err: unknown) => `event failed: ${(err as Error).message}`);
    if (eventError) {
      failures.push(eventError);
      // nothing left to measure: do not wait for the client's stale detection
      run.kill();
    }

    const result = await run.done;
    const samples = sampler.stop();
    const report = parseClientReport(result.stdout);
    const connects = /^connects {10}: #: (\d+)/m.exec(result.stdout);
    const last = servers.at(-1)!;
    let after: DtlsCounters | undefined;
    if (!last.child.killed && last.child.exitCode === null) {
      after = await dtlsCounters(ports).catch((err: unknown) => {
        failures.push(`/diagnose after the run: ${(err as Error).message}`);
        return undefined;
      });
    }
    // new handshakes: the same process counts on from `before`; a restarted process starts at 0
    const newHandshakes = after === undefined || handshakesBefore === undefined ? undefined : id === 'save-load' ? after.handshakesSucceeded - handshakesBefore : after.handshakesSucceeded;
    const warnings = servers.flatMap((s) => logWarnings(s.log()));

    const expected = o.clients * o.requests;
    if (result.timedOut) failures.push(`benchmark client killed after ${o.timeout} s`);
    if (result.code !== 0) failures.push(`benchmark client exit ${result.code ?? result.signal}`);
    if (result.stderr.trim()) failures.push(`benchmark client stderr: ${result.stderr.trim().slice(0, 500)}`);
    if (!result.stdout.includes(`${o.clients} benchmark clients finished.`)) failures.push('benchmark not finished (stale or interrupted)');
    if (report.sent !== expected || report.expected !== expected) failures.push(`requests: ${report.sent} sent, ${report.expected} expected, want ${expected}`);
    if (report.transmissionErrors !== 0) failures.push(`${report.transmissionErrors} transmission errors`);
    if (report.incomplete) failures.push(report.incomplete);
    const connectCount = connects ? Number(connects[1]) : undefined;
    if (connectCount !== o.clients) failures.push(`client connects ${connectCount ?? '?'} ≠ ${o.clients} clients (a new handshake after a failed request)`);
    if (handshakesBefore !== undefined && handshakesBefore !== o.clients) failures.push(`server handshakes before the event: ${handshakesBefore}, want ${o.clients}`);
    if (newHandshakes !== 0) failures.push(`server-side new handshakes: ${newHandshakes ?? '?'}`);
    if (loadedItems !== o.clients) failures.push(`load items ${loadedItems ?? '?'} ≠ ${o.clients}`);
    if (event && result.finishedAt !== undefined && event.endMs > result.finishedAt - startedAt) failures.push('the event ended after the benchmark finished');
    if (result.progress.some((p) => p.transmissionErrors > 0)) failures.push('transmission errors in the progress lines');

    const finishedAtMs = result.finishedAt === undefined ? undefined : Math.round(result.finishedAt - startedAt);
    return {
      id,
      pass: failures.length === 0,
      failures,
      clients: o.clients,
      requestsPerClient: o.requests,
      client: {
        exitCode: result.code,
        timedOut: result.timedOut,
        connects: connectCount,
        report,
        finishedAtMs,
        progress: result.progress,
        stderr: result.stderr,
        ...(failures.length > 0 ? { outputTail: result.stdout.split('\n').filter((l) => !/^( {2}|Payload|hello)/.test(l)).slice(-60).join('\n') } : {}),
      },
      server: {
        handshakesBefore,
        handshakesAfter: after?.handshakesSucceeded,
        newHandshakes,
        handshakesFailedAfter: after?.handshakesFailed,
        connectionsAfter: after?.connections,
        savedLine,
        loadLine,
        loadedItems,
        loadMs,
        warnings,
      },
      event,
      dip: dipOf(result.progress, event),
      fineDip: fineDipOf(samples, event),
      machineAtStart,
    };
  } finally {
    for (const s of servers) await s.stop(5000);
    fs.rmSync(workDir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------------------------
// report

function summary(r: ScenarioResult): string[] {
  const lines: string[] = [];
  const e = r.event;
  const what = r.id === 'save-load' ? 'console save, pause, load' : 'SIGTERM (store file written), new process (store file loaded)';
  lines.push(`== ${r.id}: ${what}; ${r.clients} clients × ${r.requestsPerClient} requests, coaps PSK CID ${CID_LENGTH}, CON, --no-stop: ${r.pass ? 'PASS' : 'FAIL'}`);
  lines.push(`machine at start: ${r.machineAtStart.busyCores} cores busy with other processes, load average ${r.machineAtStart.loadAverage.toFixed(2)}`);
  if (e) lines.push(`event ${(e.startMs / 1000).toFixed(1)} s .. ${(e.endMs / 1000).toFixed(1)} s after "Benchmark started."; servers answered again after ${e.gapMs} ms`);
  lines.push(`server: ${r.server.savedLine ?? '-'}; ${r.server.loadLine ?? '-'}`);
  lines.push(
    `handshakes (server /diagnose): before ${r.server.handshakesBefore ?? '?'}, after ${r.server.handshakesAfter ?? '?'}${r.id === 'restart' ? ' (new process)' : ''} → new ${r.server.newHandshakes ?? '?'}; failed ${r.server.handshakesFailedAfter ?? '?'}; connections ${r.server.connectionsAfter ?? '?'}`,
  );
  const rep = r.client.report;
  lines.push(`client: connects ${r.client.connects ?? '?'}, ${rep.sent ?? '?'} requests sent of ${rep.expected ?? '?'}, ${rep.transmissionErrors} transmission errors, ${rep.retransmissions} retransmissions, ${rep.requestsPerSecond ?? '?'} reqs/s overall`);
  lines.push('progress (t = end of the 10 s window after "Benchmark started."):');
  for (const p of r.client.progress) {
    const from = r.client.progress[r.client.progress.indexOf(p) - 1]?.atMs ?? 0;
    const mark = e && p.atMs > e.startMs && from < e.endMs ? '  <- event' : '';
    lines.push(`  t=${(p.atMs / 1000).toFixed(1).padStart(5)} s ${p.text} [measured ${p.measuredRps} reqs/s over ${((p.atMs - from) / 1000).toFixed(1)} s]${mark}`);
  }
  const d = r.dip;
  lines.push(
    `dip (measured): before ${d.beforeRps ?? '?'} reqs/s, during ${d.during.map((w) => w.measuredRps).join(' / ') || '?'} reqs/s (min ${d.minRps ?? '?'}), after ${d.afterRps ?? '?'} reqs/s; loss ≈ ${d.lostSeconds ?? '?'} s of full throughput`,
  );
  const f = r.fineDip;
  if (e && f.around.length > 0) {
    lines.push(
      `server answers per second (t after "Benchmark started."): ${f.around.map((x) => `${(x.atMs / 1000).toFixed(1)}s:${x.rps}`).join(' ')}`,
      `1 s view: before ${f.beforeRps ?? '?'} reqs/s, min ${f.minRps ?? '?'} after the event, back at ≥ 80 % ${f.recoveryMs === undefined ? 'not within the run' : `${(f.recoveryMs / 1000).toFixed(1)} s after the ${r.id === 'save-load' ? 'save command' : 'SIGTERM'}`}`,
    );
  }
  if (d.stretchedWindows > 0) lines.push(`note: ${d.stretchedWindows} progress window(s) longer than 12 s: the machine was busy, rates are noisy`);
  if (r.server.warnings.length > 0) lines.push(`server warnings: ${r.server.warnings.join(' | ')}`);
  for (const f of r.failures) lines.push(`FAILED: ${f}`);
  if (!r.pass && r.client.outputTail) lines.push('client output (tail):', r.client.outputTail);
  return lines;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, Math.max(0, ms)));
}

async function main(): Promise<number> {
  const o = parseOptions(process.argv.slice(2));
  for (const f of [SERVER_MAIN, CLIENT_MAIN]) if (!fs.existsSync(f)) throw new Error(`${path.relative(repoRoot, f)} missing: npm run build first`);
  const log = (line: string): void => console.log(line);
  const startedAt = new Date();
  log(`restart demo: ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? '?'}), node ${process.version}, load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  const results: ScenarioResult[] = [];
  const errors: Array<{ id: ScenarioId; error: string }> = [];
  for (const id of o.scenarios) {
    try {
      results.push(await runScenario(id, o, log));
    } catch (err) {
      errors.push({ id, error: (err as Error).stack ?? String(err) });
      log(`== ${id}: FAILED: ${(err as Error).message}`);
    }
  }
  log('');
  for (const r of results) for (const line of [...summary(r), '']) log(line);
  const pass = errors.length === 0 && results.every((r) => r.pass);
  const json = {
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model ?? null, node: process.version, loadavgAtEnd: os.loadavg() },
    options: o,
    pass,
    scenarios: results,
    errors,
  };
  fs.writeFileSync(o.out, JSON.stringify(json, null, 2) + '\n');
  log(`${pass ? 'PASS' : 'FAIL'}; figures written to ${path.relative(process.cwd(), o.out) || o.out}`);
  return pass ? 0 : 1;
}

killChildrenOnSignal();

main().then(
  (code) => (process.exitCode = code),
  (err: unknown) => {
    console.error((err as Error).stack ?? err);
    killChildren();
    process.exitCode = 2;
  },
);

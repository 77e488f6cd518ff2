// Cluster section of `npm run bench` (`--section cluster`): the benchmark client (dist/src/cli/benchmark-main.js, 200
// clients, CON POST /benchmark?rlen=40, coaps with CID 6) against (1) ONE node — a static single-node DTLS CID cluster,
// no NAT — and (2) a three-node dynamic cluster (127.0.0.2-4) behind the NAT process on 127.0.0.1 in three modes:
// backward (default), direct (--no-dtls-cluster-backward, NAT -r) and the NAT's --cid routing; as a reference also the
// one node behind the same NAT. During the NAT runs the NAT console gets `clear <n>` periodically so that clients are
// re-mapped to random nodes and the cluster really forwards; the nodes' forwarding counters come from their /diagnose
// afterwards. Every run: a warm-up client, then the measured client with the same request count. Figures per mode:
// requests/s and its ratio to the one-node run of the same section, CPU (utime+stime from /proc) of the nodes, the NAT
// and the client per request, the NAT's CPU per datagram, errors and lost requests. Loopback only, every load bounded.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { formatTable, type BenchContext, type Section, type SectionResult, type TargetCheck } from './sections.js';
import { BENCHMARK_CLIENTS, CID_LENGTH, RESPONSE_LENGTH, benchmarkClientEnv, parseClientReport, requestsPerClient, type ClientReport } from './benchmark-section.js';
import { machineCpuMs, processCpuMs, processTreeCpuMs, stdoutLines, trackChild, udpCounters, waitForQuiet } from './proc-util.js';
import { readNodeCounters, startClusterNodes, startNatProcess, type ClusterNodes, type NatProcess, type NatSnapshot, type NodeCounters } from './cluster-procs.js';

/** Targets of the issue: requests/s of the cluster modes as a share of one node. */
export const TARGET_BACKWARD_RATIO = 0.85;
/** --cid mode target (the nodes forward nothing). */
export const TARGET_CID_RATIO = 0.97;
/** Nodes of the cluster runs. */
export const CLUSTER_SIZE = 3;
/** Period of the NAT `clear <n>` commands in the cluster runs (ms). */
export const CLEAR_INTERVAL_MS = 500;
/** Entries dropped per `clear` (the oldest first, so all clients are re-mapped in turn). */
export const CLEAR_COUNT = 20;
/** Clearing stops once this share of the run's requests went through the NAT (re-mapped clients catch up before the end). */
const CLEAR_UNTIL_SHARE = 0.75;
/** Requests/s the warm-up's request count is sized for (with --warmup seconds). */
const BASELINE_SIZING_RPS = 15_000;
/**
 * The measured runs are sized for --duration seconds at this multiple of the one-node warm-up rate: the warm-up pays
 * for 200 handshakes and the cold JIT and reaches about half the warm rate (one node; the NAT runs take longer).
 */
const WARM_RATE_FACTOR = 2;
/** Quiet wait before each run is capped at this many seconds (the section has five runs). */
const MAX_QUIET_WAIT_S = 3;

/** Run ids (`--only nat1|backward|direct|cid`; the one-node baseline always runs). */
export type ModeId = 'baseline' | 'nat1' | 'backward' | 'direct' | 'cid';

/** One run of the section. */
interface Mode {
  id: ModeId;
  label: string;
  nodes: number;
  /** false: --no-dtls-cluster-backward */
  backward: boolean;
  /** NAT arguments after the destinations; undefined = no NAT (the client talks to node 1) */
  natArgs?: (c: ClusterNodes) => string[];
  /** issue NAT `clear <n>` during the run */
  clears: boolean;
  /** ratio target (of the one-node requests/s) */
  target?: number;
}

/** The runs, baseline first. */
const MODES: Mode[] = [
  { id: 'baseline', label: 'one node (static single-node cluster), no NAT', nodes: 1, backward: true, clears: false },
  // reference: the same NAT and clears without a cluster (what the NAT and the re-mapping cost on this machine)
  { id: 'nat1', label: 'one node behind the NAT (same clears)', nodes: 1, backward: true, natArgs: () => [], clears: true },
  { id: 'backward', label: `${CLUSTER_SIZE} nodes + NAT, backward`, nodes: CLUSTER_SIZE, backward: true, natArgs: () => [], clears: true, target: TARGET_BACKWARD_RATIO },
  { id: 'direct', label: `${CLUSTER_SIZE} nodes + NAT -r, direct`, nodes: CLUSTER_SIZE, backward: false, natArgs: () => ['-r'], clears: true },
  {
    id: 'cid',
    label: `${CLUSTER_SIZE} nodes + NAT --cid`,
    nodes: CLUSTER_SIZE,
    backward: true,
    natArgs: (c) => [`--cid=${c.destinations.map((d, i) => `${i + 1}=${d}`).join(',')}`],
    clears: true,
    target: TARGET_CID_RATIO,
  },
];

/** Cluster counters summed over the nodes (cluster.md §4.5) plus the per-node forwarded figures. */
interface ClusterFigures {
  forwarded: number;
  processForwarded: number;
  backwarded: number;
  sendBackwarded: number;
  dropForward: number;
  dropBackward: number;
  badForward: number;
  badBackward: number;
  handshakes: number;
  perNode: Array<{ node: number; counters: NodeCounters | null; error?: string }>;
}

/** NAT figures of the request phase. */
interface NatFigures {
  forwarded: number;
  backwarded: number;
  datagrams: number;
  cidRouted: number;
  wronglyRouted: number;
  droppedWrong: number;
  cpuMs: number;
  /** NAT CPU µs per datagram (forwarded + backwarded) */
  cpuUsPerDatagram: number | null;
}

/** One measured run. */
interface ModeRun {
  id: ModeId;
  label: string;
  nodes: number;
  clients: number;
  requestsPerClient: number;
  exitCode: number | null;
  timedOut: boolean;
  /** request phase as seen by the runner ("Benchmark started." to "... finished."), ms */
  phaseMs: number;
  report: ClientReport;
  /** expected − answered requests */
  lost: number | null;
  /** CPU ms of the request phase and µs per completed request */
  cpu: {
    nodesMs: number;
    perNodeMs: number[];
    natMs: number | null;
    clientMs: number;
    nodesUsPerRequest: number | null;
    natUsPerRequest: number | null;
    clientUsPerRequest: number | null;
  };
  machine: { busyMs: number; otherMs: number; udpRcvbufErrors: number; udpSndbufErrors: number; loadAverage: number };
  nat: NatFigures | null;
  clears: { startAfterMs: number; intervalMs: number; count: number; commands: number; entriesDropped: number } | null;
  cluster: ClusterFigures | null;
  outputTail?: string;
}

/** Rounds to `d` decimals. */
function round(v: number, d: number): number {
  const f = 10 ** d;
  return Math.round(v * f) / f;
}

/** The 1/5/15-minute load averages as text. */
function loadAverage(): string {
  return os.loadavg().map((l) => l.toFixed(2)).join(' ');
}

/** Sums the nodes' counters. */
function clusterFigures(perNode: ClusterFigures['perNode']): ClusterFigures {
  const sum = (k: string): number => perNode.reduce((a, n) => a + (n.counters?.[k] ?? 0), 0);
  return {
    forwarded: sum('forwarded'),
    processForwarded: sum('process forwarded'),
    backwarded: sum('backwarded'),
    sendBackwarded: sum('send backwarded'),
    dropForward: sum('drop forward'),
    dropBackward: sum('drop backward'),
    badForward: sum('bad forward'),
    badBackward: sum('bad backward'),
    handshakes: sum('handshakes succeeded'),
    perNode,
  };
}

/** What the client driver needs besides the mode. */
interface DriveInput {
  uri: string;
  workDir: string;
  perClient: number;
  limitMs: number;
  cluster: ClusterNodes;
  nat: NatProcess | undefined;
  clearDelayMs: number;
  /** issue the NAT clears (false for the warm-up) */
  clears: boolean;
}

/**
 * Runs the benchmark client once; samples the CPU of the client and every node (and the NAT counters and CPU) when the
 * client prints "Benchmark started." and "... benchmark clients finished."; issues the NAT clears in between. The
 * client is bounded by `limitMs` (SIGTERM: it prints its statistics as interrupted; SIGKILL 5 s later).
 */
function drive(ctx: BenchContext, mode: Mode, d: DriveInput): Promise<Omit<ModeRun, 'cluster'>> {
  const main = path.join(ctx.distRoot, 'src', 'cli', 'benchmark-main.js');
  const args = [main, d.uri, '--clients', String(BENCHMARK_CLIENTS), '--requests', String(d.perClient), '--cid-length', String(CID_LENGTH)];
  const env = benchmarkClientEnv();
  const overall = BENCHMARK_CLIENTS * d.perClient;
  const la = round(os.loadavg()[0] ?? 0, 2);
  const nodePids = d.cluster.nodes.map((n) => n.pid);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: d.workDir, env, stdio: ['ignore', 'pipe', 'pipe'] });
    trackChild(child);
    const pid = child.pid ?? -1;
    let stderr = '';
    let timedOut = false;
    let lastClientCpu = 0;
    const sample = () => ({
      t: performance.now(),
      client: processCpuMs(pid) ?? lastClientCpu,
      nodes: nodePids.map((p) => processTreeCpuMs(p) ?? 0),
      machine: machineCpuMs(),
      udp: udpCounters(),
    });
    let start: ReturnType<typeof sample> | undefined;
    let end: ReturnType<typeof sample> | undefined;
    let natStart: Promise<NatSnapshot | undefined> = Promise.resolve(undefined);
    let natEnd: Promise<NatSnapshot | undefined> = Promise.resolve(undefined);
    let natStartValue: NatSnapshot | undefined;
    // the NAT clears: after clearDelayMs, every CLEAR_INTERVAL_MS, until CLEAR_UNTIL_SHARE of the requests passed
    const clears = { startAfterMs: d.clearDelayMs, intervalMs: CLEAR_INTERVAL_MS, count: CLEAR_COUNT, commands: 0, entriesDropped: 0 };
    let clearTimer: NodeJS.Timeout | undefined;
    let clearBusy = false;
    let clearing = d.clears && d.nat !== undefined;
    const stopClearing = (): void => {
      clearing = false;
      clearTimeout(clearTimer);
      clearInterval(clearTimer);
    };
    const clearTick = (): void => {
      const nat = d.nat;
      if (!clearing || clearBusy || nat === undefined) return;
      clearBusy = true;
      void (async () => {
        try {
          const s = await nat.snapshot();
          if (natStartValue && s.forwarded - natStartValue.forwarded >= CLEAR_UNTIL_SHARE * overall) {
            stopClearing();
            return;
          }
          if (!clearing) return;
          clears.entriesDropped += await nat.clear(CLEAR_COUNT);
          clears.commands++;
        } catch {
          stopClearing();
        } finally {
          clearBusy = false;
        }
      })();
    };
    const poll = setInterval(() => {
      lastClientCpu = processCpuMs(pid) ?? lastClientCpu;
    }, 200);
    const onLine = (line: string): void => {
      if (start === undefined && line === 'Benchmark started.') {
        start = sample();
        if (d.nat) {
          natStart = d.nat.snapshot().then(
            (s) => (natStartValue = s),
            () => undefined,
          );
          if (clearing) {
            clearTimer = setTimeout(() => {
              clearTick();
              clearTimer = setInterval(clearTick, CLEAR_INTERVAL_MS);
            }, d.clearDelayMs);
          }
        }
      } else if (start !== undefined && end === undefined && / benchmark clients (finished|stopped)\.$/.test(line)) {
        end = sample();
        stopClearing();
        if (d.nat) natEnd = d.nat.snapshot().catch(() => undefined);
      }
    };
    const stdout = stdoutLines(child, onLine);
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (chunk: string) => {
      if (stderr.length < 20_000) stderr += chunk;
    });
    let killTimer: NodeJS.Timeout | undefined;
    const limit = setTimeout(() => {
      timedOut = true;
      child.kill('SIGTERM');
      killTimer = setTimeout(() => child.kill('SIGKILL'), 5000);
    }, d.limitMs);
    const cleanup = (): void => {
      clearInterval(poll);
      clearTimeout(limit);
      clearTimeout(killTimer);
      stopClearing();
    };
    child.once('error', (err) => {
      cleanup();
      reject(err);
    });
    child.once('close', (code) => {
      cleanup();
      stdout.flush();
      const output = stdout.output();
      const report = parseClientReport(output);
      if (start === undefined) {
        reject(new Error(`benchmark client exited with ${code} before its request phase${timedOut ? ' (time limit)' : ''}\n${(output + stderr).slice(-1500)}`));
        return;
      }
      const s0 = start;
      // after SIGTERM the end line may be missing: the last CPU polled before the client ended
      const s1 = end ?? { ...sample(), client: lastClientCpu };
      if (end === undefined && d.nat) natEnd = d.nat.snapshot().catch(() => undefined);
      void (async () => {
        const n0 = await natStart;
        const n1 = await natEnd;
        // a clear still in flight finishes before the NAT is stopped
        for (let i = 0; i < 50 && clearBusy; i++) await new Promise((r) => setTimeout(r, 100));
        const phaseMs = s1.t - s0.t;
        const completed = report.requests ?? 0;
        const clientMs = s1.client - s0.client;
        const perNodeMs = s1.nodes.map((v, i) => Math.round(v - (s0.nodes[i] ?? 0)));
        const nodesMs = perNodeMs.reduce((a, b) => a + b, 0);
        let nat: NatFigures | null = null;
        if (n0 && n1) {
          const datagrams = n1.forwarded - n0.forwarded + (n1.backwarded - n0.backwarded);
          const cpuMs = n1.cpuMs - n0.cpuMs;
          nat = {
            forwarded: n1.forwarded - n0.forwarded,
            backwarded: n1.backwarded - n0.backwarded,
            datagrams,
            cidRouted: n1.cidRouted - n0.cidRouted,
            wronglyRouted: n1.wronglyRouted - n0.wronglyRouted,
            droppedWrong: n1.droppedWrong - n0.droppedWrong,
            cpuMs: Math.round(cpuMs),
            cpuUsPerDatagram: datagrams > 0 ? round((cpuMs * 1000) / datagrams, 2) : null,
          };
        }
        const perRequest = (ms: number | null): number | null => (ms !== null && completed > 0 ? round((ms * 1000) / completed, 1) : null);
        const busyMs = s1.machine.busy - s0.machine.busy;
        const run: Omit<ModeRun, 'cluster'> = {
          id: mode.id,
          label: mode.label,
          nodes: mode.nodes,
          clients: BENCHMARK_CLIENTS,
          requestsPerClient: d.perClient,
          exitCode: code,
          timedOut,
          phaseMs: Math.round(phaseMs),
          report,
          lost: report.expected !== undefined && report.sent !== undefined ? report.expected - report.sent : null,
          cpu: {
            nodesMs,
            perNodeMs,
            natMs: nat?.cpuMs ?? null,
            clientMs: Math.round(clientMs),
            nodesUsPerRequest: perRequest(nodesMs),
            natUsPerRequest: perRequest(nat?.cpuMs ?? null),
            clientUsPerRequest: perRequest(clientMs),
          },
          machine: {
            busyMs: Math.round(busyMs),
            // busy time not used by the nodes, the NAT or the client: other users' processes and this runner
            otherMs: Math.max(0, Math.round(busyMs - nodesMs - (nat?.cpuMs ?? 0) - clientMs)),
            udpRcvbufErrors: (s1.udp['RcvbufErrors'] ?? 0) - (s0.udp['RcvbufErrors'] ?? 0),
            udpSndbufErrors: (s1.udp['SndbufErrors'] ?? 0) - (s0.udp['SndbufErrors'] ?? 0),
            loadAverage: la,
          },
          nat,
          clears: d.clears && d.nat ? clears : null,
        };
        if (code !== 0 || timedOut) run.outputTail = (output + stderr).slice(-1500);
        resolve(run);
      })();
    });
  });
}

/** Requests per client of a run: fixed, or sized from the warm-up's requests/s. */
type Sizing = { warmPerClient: number; perClient: number | ((warmRps: number | undefined) => number) };

/**
 * Starts the nodes (and the NAT), warms them up with a short client run (no clears, not measured: JIT, connections),
 * runs the measured client, reads the nodes' counters, stops everything. Resolves with the run and the warm-up rate.
 */
async function runMode(ctx: BenchContext, mode: Mode, sizing: Sizing, clearDelayMs: number): Promise<{ run: ModeRun; warmRps: number | undefined }> {
  const o = ctx.options;
  const quiet = Math.min(o.quietWait, MAX_QUIET_WAIT_S);
  if (quiet > 0) {
    const busy = await waitForQuiet(0.15, quiet * 1000);
    if (busy > 0.15) ctx.log(`  machine still busy (${Math.round(busy * 100)}% of a core used by others) after ${quiet} s: measuring anyway`);
  }
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), `extplugtest-bench-cluster-${mode.id}-`));
  let keep = false;
  let cluster: ClusterNodes | undefined;
  let nat: NatProcess | undefined;
  try {
    cluster = await startClusterNodes({ size: mode.nodes, dynamic: mode.nodes > 1, backward: mode.backward, properties: o.oursProps, workDir, distRoot: ctx.distRoot });
    if (mode.natArgs) nat = await startNatProcess(ctx.distRoot, workDir, cluster.destinations, mode.natArgs(cluster));
    const target = nat ? `127.0.0.1:${nat.port}` : `${cluster.ips[0]}:${cluster.dtlsPort}`;
    const uri = `coaps://${target}/benchmark?rlen=${RESPONSE_LENGTH}`;
    let warmRps: number | undefined;
    if (sizing.warmPerClient > 0) {
      const warm = await drive(ctx, mode, { uri, workDir, perClient: sizing.warmPerClient, limitMs: Math.round(o.warmup * 6 * 1000 + 30_000), cluster, nat, clearDelayMs, clears: false });
      if (warm.exitCode !== 0) throw new Error(`warm-up client exit ${warm.exitCode}${warm.timedOut ? ' (time limit)' : ''}\n${warm.outputTail ?? ''}`);
      warmRps = warm.report.requestsPerSecond;
      // the warm-up client's NAT entries go, so that the clears of the measured run re-map the measured clients
      if (nat) await nat.clear();
    }
    const perClient = typeof sizing.perClient === 'number' ? sizing.perClient : sizing.perClient(warmRps);
    ctx.log(`  measuring: ${BENCHMARK_CLIENTS} clients × ${perClient} requests${warmRps !== undefined ? ` (warm-up ${BENCHMARK_CLIENTS} × ${sizing.warmPerClient}: ${warmRps} req/s)` : ''}`);
    // expected ~duration s; allow 4 times that plus start-up, handshakes and the report
    const limitMs = Math.round(o.duration * 4 * 1000 + 30_000);
    const run = await drive(ctx, mode, { uri, workDir, perClient, limitMs, cluster, nat, clearDelayMs, clears: mode.clears });
    if (run.exitCode !== 0) keep = true;
    let figures: ClusterFigures | null = null;
    if (mode.nodes > 1) {
      const c = cluster;
      const perNode = await Promise.all(
        c.ips.map((ip, i) =>
          readNodeCounters(ctx.distRoot, workDir, ip, c.dtlsPort, i + 1).then(
            (counters) => ({ node: i + 1, counters }),
            (err: unknown) => ({ node: i + 1, counters: null, error: (err as Error).message.split('\n')[0] }),
          ),
        ),
      );
      figures = clusterFigures(perNode);
    }
    return { run: { ...run, cluster: figures }, warmRps };
  } catch (err) {
    keep = true;
    const logs = cluster ? cluster.nodes.map((n, i) => `node ${i + 1} log (${n.logPath}): ${n.logTail(400)}`).join('\n') : '';
    throw new Error(`${(err as Error).message}${nat ? `\nNAT output: ${nat.outputTail(400)}` : ''}${logs ? `\n${logs}` : ''}`);
  } finally {
    await nat?.stop();
    await cluster?.stop();
    if (!keep) fs.rmSync(workDir, { recursive: true, force: true });
  }
}

/** Outcome of a mode: the run, or the error. */
interface ModeOutcome {
  mode: Mode;
  run?: ModeRun;
  error?: string;
}

/** Longest connect (incl. handshake) in ms from the client's `connects` summary. */
function maxConnectMs(r: ClientReport): number | undefined {
  const m = r.connects ? /max\.: (\d+) ms/.exec(r.connects) : null;
  return m ? Number(m[1]) : undefined;
}

/** Requests/s of a run that completed every request without errors, else undefined. */
function cleanRps(run: ModeRun | undefined): number | undefined {
  if (!run || run.exitCode !== 0 || run.lost !== 0 || run.report.transmissionErrors !== 0) return undefined;
  return run.report.requestsPerSecond;
}

/** Runs the section: the one-node baseline, then the cluster modes selected by --only (all by default). */
async function run(ctx: BenchContext): Promise<SectionResult> {
  const o = ctx.options;
  const loadAtStart = loadAverage();
  const selected = MODES.some((m) => m.id !== 'baseline' && o.only.has(m.id)) ? MODES.filter((m) => m.id === 'baseline' || o.only.has(m.id)) : MODES;
  const outcomes: ModeOutcome[] = [];
  // every run sends the same number of requests: sized for ~duration s at the one-node warm-up rate
  const warmPerClient = o.warmup > 0 ? requestsPerClient(o.warmup, BASELINE_SIZING_RPS) : 0;
  let perClient: number | undefined;
  // clears start once every client connected: twice the longest connect of the one-node run, 2..10 s
  let clearDelayMs = 3000;
  for (const mode of selected) {
    ctx.log(`cluster: ${mode.label} (rlen=${RESPONSE_LENGTH}, CID ${CID_LENGTH}), load average ${loadAverage()}`);
    try {
      const sizing: Sizing = { warmPerClient, perClient: perClient ?? ((rps) => requestsPerClient(o.duration, rps !== undefined ? rps * WARM_RATE_FACTOR : BASELINE_SIZING_RPS)) };
      const { run: r } = await runMode(ctx, mode, sizing, clearDelayMs);
      outcomes.push({ mode, run: r });
      perClient ??= r.requestsPerClient;
      if (mode.id === 'baseline') {
        const connect = maxConnectMs(r.report);
        if (connect !== undefined) clearDelayMs = Math.min(10_000, Math.max(2000, 2 * connect));
      }
      ctx.log(
        `  ${mode.label}: ${r.report.requestsPerSecond ?? 'n/a'} req/s (${r.report.sent ?? '?'}/${r.report.expected ?? '?'} in ${r.report.requestMs ?? '?'} ms), ` +
          `retransmissions ${r.report.retransmissions}, errors ${r.report.transmissionErrors}, nodes CPU ${r.cpu.nodesUsPerRequest ?? 'n/a'} µs/req` +
          (r.nat ? `, NAT ${r.nat.cpuUsPerDatagram ?? 'n/a'} µs/datagram` : '') +
          (r.cluster ? `, nodes forwarded ${r.cluster.forwarded}, backwarded ${r.cluster.backwarded}` : '') +
          (r.clears ? `, NAT entries cleared ${r.clears.entriesDropped}` : '') +
          `, other CPU ${r.machine.otherMs} ms` +
          (r.exitCode !== 0 ? `, client exit ${r.exitCode}${r.timedOut ? ' (time limit)' : ''}` : ''),
      );
    } catch (err) {
      ctx.log(`  ${mode.label}: FAILED: ${(err as Error).message.split('\n').slice(0, 8).join('\n    ')}`);
      outcomes.push({ mode, error: (err as Error).message });
    }
  }
  const baseline = outcomes.find((t) => t.mode.id === 'baseline')?.run;
  const baseRps = cleanRps(baseline);
  const baseNodeUs = baseline?.cpu.nodesUsPerRequest ?? null;
  const ratio = (t: ModeOutcome): number | undefined => {
    const rps = cleanRps(t.run);
    return rps !== undefined && baseRps ? round(rps / baseRps, 3) : undefined;
  };
  // requests/s against the one node behind the same NAT with the same clears: what the cluster itself costs
  const natRps = cleanRps(outcomes.find((t) => t.mode.id === 'nat1')?.run);
  const natRatio = (t: ModeOutcome): number | undefined => {
    const rps = cleanRps(t.run);
    return rps !== undefined && natRps ? round(rps / natRps, 3) : undefined;
  };
  const fmt = (v: number | null | undefined, d = 1): string => (v === null || v === undefined ? 'n/a' : v.toFixed(d));
  const throughputRows = outcomes.map((t) => {
    const r = t.run;
    if (!r) return [t.mode.id, 'FAILED', '', '', '', '', '', '', '', ''];
    const q = ratio(t);
    return [
      t.mode.id,
      r.report.requestsPerSecond ?? 'n/a',
      t.mode.id === 'baseline' ? '1.000' : fmt(q, 3),
      t.mode.nodes > 1 ? fmt(natRatio(t), 3) : '-',
      t.mode.target !== undefined ? `≥ ${t.mode.target.toFixed(2)} ${q === undefined ? 'n/a' : q >= t.mode.target ? 'PASS' : 'BELOW'}` : '-',
      `${r.report.sent ?? '?'}/${r.report.expected ?? '?'}`,
      r.report.transmissionErrors,
      r.lost ?? 'n/a',
      r.report.retransmissions,
      r.machine.otherMs,
    ];
  });
  const cpuRows = outcomes.flatMap((t) => {
    const r = t.run;
    if (!r) return [];
    const c = r.cpu;
    const total = c.nodesUsPerRequest !== null && c.clientUsPerRequest !== null ? c.nodesUsPerRequest + (c.natUsPerRequest ?? 0) + c.clientUsPerRequest : null;
    const serverSide = c.nodesUsPerRequest !== null ? c.nodesUsPerRequest + (c.natUsPerRequest ?? 0) : null;
    return [
      [
        t.mode.id,
        fmt(c.nodesUsPerRequest),
        c.perNodeMs.join('/'),
        fmt(c.natUsPerRequest),
        fmt(c.clientUsPerRequest),
        fmt(total),
        baseNodeUs !== null && c.nodesUsPerRequest ? fmt(baseNodeUs / c.nodesUsPerRequest, 3) : 'n/a',
        baseNodeUs !== null && serverSide ? fmt(baseNodeUs / serverSide, 3) : 'n/a',
        r.nat ? fmt(r.nat.cpuUsPerDatagram, 2) : '-',
        r.nat ? r.nat.datagrams : '-',
      ],
    ];
  });
  const forwardRows = outcomes.flatMap((t) => {
    const r = t.run;
    if (!r?.cluster) return [];
    const f = r.cluster;
    const completed = r.report.requests ?? 0;
    return [
      [
        t.mode.id,
        f.perNode.map((n) => n.counters?.['forwarded'] ?? '?').join('/'),
        f.forwarded,
        completed > 0 ? `${Math.round((f.forwarded * 100) / completed)}%` : 'n/a',
        f.processForwarded,
        f.backwarded,
        f.sendBackwarded,
        `${f.dropForward}/${f.dropBackward}`,
        `${f.badForward}/${f.badBackward}`,
        r.nat ? r.nat.cidRouted : '-',
        r.nat ? `${r.nat.wronglyRouted} (${r.nat.droppedWrong})` : '-',
        r.clears ? `${r.clears.entriesDropped} (${r.clears.commands}×)` : '-',
      ],
    ];
  });
  const report = [
    `benchmark client (dist/src/cli/benchmark-main.js), CON POST /benchmark?rlen=${RESPONSE_LENGTH}, ${BENCHMARK_CLIENTS} clients, coaps with CID ${CID_LENGTH}; ` +
      `one node = static single-node cluster on 127.0.0.2 (client direct); cluster = ${CLUSTER_SIZE}-node dynamic cluster on 127.0.0.2-${CLUSTER_SIZE + 1} ` +
      `behind the NAT process on 127.0.0.1 (backward: default; direct: --no-dtls-cluster-backward + NAT -r; cid: NAT --cid by node-id)`,
    `reference nat1 = the same single node behind the same NAT with the same clears (NAT and re-mapping cost without a cluster)`,
    `NAT re-mapping in the NAT runs: \`clear ${CLEAR_COUNT}\` every ${CLEAR_INTERVAL_MS} ms from ${outcomes.find((t) => t.run?.clears)?.run?.clears?.startAfterMs ?? '?'} ms after ` +
      `"Benchmark started." (all clients connected) until ${Math.round(CLEAR_UNTIL_SHARE * 100)}% of the requests passed; a cleared client gets a new NAT port and a ` +
      `random node, a response in flight to its old port is lost (CoAP retransmission after 2-3 s, counted as retrans); ` +
      `node counters from each node's /diagnose after the run (since node start; the warm-up has no clears, so it forwards nothing)`,
    `every run: a warm-up client (${BENCHMARK_CLIENTS} × ${warmPerClient} requests, no clears, not counted) on the started processes, then the measured client with the same ` +
      `request count in every run, sized for ~${o.duration} s at ${WARM_RATE_FACTOR} × the one-node warm-up rate; ` +
      `CPU = utime+stime from /proc over the request phase; machine: ${os.cpus().length} CPUs shared by the nodes, the NAT, the client and other users' processes, ` +
      `load average at section start ${loadAtStart}`,
    '',
    ...formatTable(['run', 'req/s', '÷ one node', '÷ nat1', 'target (÷ one node)', 'answered/expected', 'errors', 'lost', 'retrans', 'other CPU ms'], throughputRows),
    '',
    ...formatTable(
      ['run', 'nodes µs/req', 'per-node CPU ms', 'NAT µs/req', 'client µs/req', 'total µs/req', 'CPU ratio nodes', 'CPU ratio nodes+NAT', 'NAT µs/datagram', 'NAT datagrams'],
      cpuRows,
    ),
    '(CPU ratio = the one node\'s CPU per request ÷ the run\'s nodes (+ NAT) CPU per request: the share of the one-node efficiency kept; ' +
      'on these 2 shared cores the req/s ratio also pays for the extra processes, the fair cluster figure is the CPU ratio)',
    '',
    ...(forwardRows.length > 0
      ? [
          ...formatTable(
            ['run', 'forwarded per node', 'forwarded', 'of requests', 'process fwd', 'backwarded', 'send backw.', 'drop fwd/bwd', 'bad fwd/bwd', 'NAT cid-routed', 'NAT wrongly routed (dropped)', 'NAT entries cleared'],
            forwardRows,
          ),
          '',
        ]
      : []),
  ];
  for (const t of outcomes) {
    const r = t.run;
    if (!r) {
      report.push(`${t.mode.id}: FAILED: ${(t.error ?? '').split('\n')[0]}`);
      continue;
    }
    if (r.report.incomplete) report.push(`${t.mode.id}: note: ${r.report.incomplete}`);
    if (r.exitCode !== 0) report.push(`${t.mode.id}: note: client exit status ${r.exitCode}${r.timedOut ? ' (ended by the time limit)' : ''}`);
    if (r.machine.udpRcvbufErrors > 0) report.push(`${t.mode.id}: note: ${r.machine.udpRcvbufErrors} UDP receive-buffer drops (whole machine) in the request phase`);
    if (r.phaseMs > 0 && r.machine.otherMs / r.phaseMs > 0.1) {
      report.push(`${t.mode.id}: note: other processes used ${r.machine.otherMs} CPU ms of the ${r.phaseMs} ms request phase: figures are noisy`);
    }
    for (const n of r.cluster?.perNode ?? []) if (n.error) report.push(`${t.mode.id}: note: node ${n.node} counters: ${n.error}`);
    if (t.mode.clears && r.cluster && (t.mode.id === 'backward' || t.mode.id === 'direct') && r.cluster.forwarded === 0) {
      report.push(`${t.mode.id}: note: the nodes forwarded nothing (no clears in the run?): the figure does not show forwarding`);
    }
  }
  const checks: TargetCheck[] = outcomes
    .filter((t) => t.mode.target !== undefined)
    .map((t) => ({
      name: `cluster ${t.mode.id}: req/s of ${CLUSTER_SIZE} nodes behind the NAT ÷ one node (no errors, nothing lost)`,
      value: ratio(t),
      atLeast: t.mode.target!,
      unit: '× one node',
    }));
  const byId = (id: ModeId): ModeOutcome | undefined => outcomes.find((t) => t.mode.id === id);
  return {
    report,
    checks,
    data: {
      settings: {
        clients: BENCHMARK_CLIENTS,
        rlen: RESPONSE_LENGTH,
        cidLength: CID_LENGTH,
        clusterSize: CLUSTER_SIZE,
        durationS: o.duration,
        clearIntervalMs: CLEAR_INTERVAL_MS,
        clearCount: CLEAR_COUNT,
        clearUntilShare: CLEAR_UNTIL_SHARE,
        oursProps: o.oursProps,
      },
      loadAverageAtStart: loadAtStart,
      baselineRequestsPerSecond: baseline?.report.requestsPerSecond ?? null,
      ratios: Object.fromEntries((['nat1', 'backward', 'direct', 'cid'] as const).map((id) => [id, byId(id) ? (ratio(byId(id)!) ?? null) : null])),
      ratiosToNat1: Object.fromEntries((['backward', 'direct', 'cid'] as const).map((id) => [id, byId(id) ? (natRatio(byId(id)!) ?? null) : null])),
      targets: { backward: TARGET_BACKWARD_RATIO, cid: TARGET_CID_RATIO },
      runs: outcomes.map((t) => ({ id: t.mode.id, label: t.mode.label, target: t.mode.target ?? null, error: t.error ?? null, run: t.run ?? null })),
    },
  };
}

/** The cluster section (`--section cluster`; `--only backward|direct|cid` picks cluster runs, the one-node run always runs). */
export const clusterSection: Section = { id: 'cluster', title: `DTLS CID cluster: ${CLUSTER_SIZE} nodes behind the NAT against one node`, run };

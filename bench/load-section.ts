// Load section of `npm run bench` (issue 10): the server build of the commit before this work (bench/baseline.ts,
// default 3995914) beside the current build, each started as a process with the same arguments (--no-plugtest
// --no-ipv6 --no-external, temp cwd) and loaded by the *current* generators:
//  - server CPU per request over coap and over coaps (PSK, TLS_PSK_WITH_AES_128_CCM_8, CID 6): the benchmark client
//    (benchmark-section.ts measureVariant), server utime+stime in its request phase ÷ answered requests;
//  - server CPU per full PSK and per full ECDHE_ECDSA (X.509 client certificate) handshake: bench/dtls-handshakes.ts as
//    a generator (HelloVerifyRequest + full handshake, no resumption), server CPU in its window ÷ completed handshakes;
//  - beside the request figures, the crypto floor (bench/ccm-floor.ts): what AES-CCM_8 open + seal through node:crypto
//    adds to a bare Node UDP echo per request, against the budget the coaps / coap target leaves;
//  - memory per idle connection at 10,000 and 100,000 connections: bench/idle-memory.ts measureIdleMemory() (idle
//    sessions from bench/idle-sessions.ts, the server's RSS from VmRSS and V8 heap after a full GC through a preloaded
//    probe) before and after, difference ÷ sessions.
// On 2+ CPUs the server runs pinned to CPU 1 and the generators to CPU 0 (--no-pin: unpinned; unpinned figures vary
// by up to 1.6x between runs, e.g. 135-221 µs per PSK handshake, as the scheduler sometimes shares one core).
// Each kind of figure is measured for the old build and then for the new one, back to back. Targets (checked on the new build):
// coaps ≤ 1.3 × coap CPU per request, a full PSK handshake ≤ 150 µs server CPU, ≤ 2 KB RSS per idle connection at
// 100,000 connections. Speed is reported, never asserted.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { formatTable, type BenchContext, type Section, type SectionResult, type TargetCheck } from './sections.js';
import { BENCHMARK_CLIENTS, CID_LENGTH, measureVariant, VARIANTS, type Variant, type VariantRun } from './benchmark-section.js';
import { noise, quiet, quietest, startServer } from './dtls-section.js';
import { HANDSHAKE_SCENARIOS, type HandshakeLoadResult } from './dtls-handshakes.js';
import { measureWithGenerator, type Measurement } from './measure.js';
import { DEFAULT_BASELINE, prepareBaseline, type BaselineBuild } from './baseline.js';
import { measureIdleMemory, type IdleMemoryStep, type MemorySample } from './idle-memory.js';
import { describeCcmFloor, measureCcmFloor, type CcmFloor } from './ccm-floor.js';

/** Target: server CPU per coaps request at most this multiple of the CPU per coap request. */
export const TARGET_COAPS_CPU_RATIO = 1.3;
/** Target: server CPU per full PSK handshake, µs. */
export const TARGET_PSK_HANDSHAKE_US = 150;
/** Target: resident memory per idle connection at 100,000 connections, bytes (2 KB). */
export const TARGET_IDLE_RSS_BYTES = 2048;
/** Idle connection counts measured (ascending: the second step adds sessions to the first). */
export const IDLE_COUNTS = [10_000, 100_000] as const;
/** The idle count the memory target applies to. */
const TARGET_IDLE_COUNT = 100_000;
/** Measured window per figure at most (s; --duration shortens it), so that the section takes a few minutes. */
const WINDOW_MAX_S = 3;
/** Quiet-wait per measurement at most (s) and repeats of a noisy measurement at most, whatever the options say. */
const QUIET_WAIT_MAX_S = 10;
const RETRIES_MAX = 1;
/** Parallel client connectors of the handshake generator (as the handshakes section). */
const HANDSHAKE_PARALLEL = 16;
/** Pause after the server started and after opening idle sessions before the memory is read, ms. */
const IDLE_SETTLE_MS = 3000;
/** Sockets in flight of the idle-session generator. */
const IDLE_CONCURRENCY = 200;

/** Target ids of this section for --only (none of them given: all run). */
export const LOAD_TARGETS = ['req', 'psk', 'ecdhe', 'idle10k', 'idle100k'] as const;
type LoadTarget = (typeof LOAD_TARGETS)[number];

/** The benchmark-client runs of this section: plain coap, and coaps with PSK, CCM_8 and CID 6. */
export const LOAD_VARIANTS: Variant[] = [
  { ...VARIANTS.find((v) => v.id === 'coap')!, sizingRps: 30_000 },
  {
    id: 'coaps-cid',
    label: `coaps CON PSK CCM_8 CID ${CID_LENGTH}`,
    secure: true,
    extraArgs: ['--auth', 'PSK', '--cipher', 'TLS_PSK_WITH_AES_128_CCM_8', '--cid-length', String(CID_LENGTH)],
    target: 0,
    sizingRps: 15_000,
  },
];

/** One server build to measure. */
export interface ServerBuild {
  id: 'old' | 'new';
  /** column label, e.g. "old (3995914)" */
  label: string;
  serverMain: string;
}

/** Memory of one idle step (bytes per connection over the server as started). */
export interface IdleFigure {
  count: number;
  /** sessions the generator established (the figures are per established session) */
  established: number;
  /** connections the server itself counts (console health dump), null when not available */
  serverConnections: number | null;
  rssBytesPerConnection: number | undefined;
  heapBytesPerConnection: number | undefined;
  /** Buffers and other off-heap memory per connection (process.memoryUsage().external) */
  externalBytesPerConnection: number | undefined;
  /** the step as bench/idle-memory.ts measured it */
  step: IdleMemoryStep;
}

/** Everything measured for one build. */
export interface BuildFigures {
  build: ServerBuild;
  coapUsPerRequest?: number;
  coapsUsPerRequest?: number;
  coapsCoapRatio?: number;
  pskUsPerHandshake?: number;
  ecdheUsPerHandshake?: number;
  idle: IdleFigure[];
  /** memory of the freshly started server before the idle sessions (bytes) */
  idleBase?: MemorySample;
  runs: Record<string, unknown>;
  notes: string[];
}

/** Rounds to `d` decimals. */
function round(v: number, d = 1): number {
  const f = 10 ** d;
  return Math.round(v * f) / f;
}

/** Server CPU µs per answered request of a benchmark-client run (undefined when nothing was answered). */
export function usPerRequest(run: VariantRun | undefined): number | undefined {
  const n = run?.report.requests ?? 0;
  return run && n > 0 ? round((run.server.cpuMs * 1000) / n) : undefined;
}

/** Server CPU µs per completed handshake of a generator window. */
export function usPerHandshake(m: Measurement | undefined): number | undefined {
  return m && m.load.completed > 0 ? round((m.server.cpuMs * 1000) / m.load.completed) : undefined;
}

/** The options of this section's measurements: short windows, bounded quiet-waits and repeats. */
function shortContext(ctx: BenchContext): BenchContext {
  const o = ctx.options;
  return {
    ...ctx,
    options: { ...o, pin: o.pin ?? os.cpus().length >= 2, duration: Math.min(o.duration, WINDOW_MAX_S), warmup: Math.min(o.warmup, 1), quietWait: Math.min(o.quietWait, QUIET_WAIT_MAX_S), retries: Math.min(o.retries, RETRIES_MAX) },
  };
}

/** Server CPU per request over coap and coaps for one build (benchmark client, one server process per run). */
async function measureRequests(ctx: BenchContext, f: BuildFigures): Promise<void> {
  for (const variant of LOAD_VARIANTS) {
    ctx.log(`  ${f.build.label}: ${variant.label}`);
    const outcome = await measureVariant(ctx, variant, f.build.serverMain);
    const run = outcome.run;
    const us = usPerRequest(run);
    if (variant.secure) f.coapsUsPerRequest = us;
    else f.coapUsPerRequest = us;
    f.runs[variant.id] = { attempts: outcome.attempts, error: outcome.error ?? null, run: run ?? null };
    if (outcome.error) f.notes.push(`${variant.label}: FAILED: ${outcome.error.split('\n')[0]}`);
    if (run && (run.exitCode !== 0 || run.report.sent !== run.report.expected)) {
      f.notes.push(`${variant.label}: ${run.report.sent ?? '?'} of ${run.report.expected ?? '?'} requests answered, client exit ${run.exitCode}`);
    }
    if (run && run.phaseMs > 0 && run.machine.otherMs / run.phaseMs > 0.1) f.notes.push(`${variant.label}: other processes used ${run.machine.otherMs} of ${run.phaseMs} ms: noisy`);
  }
  if (f.coapUsPerRequest !== undefined && f.coapsUsPerRequest !== undefined && f.coapUsPerRequest > 0) f.coapsCoapRatio = round(f.coapsUsPerRequest / f.coapUsPerRequest, 2);
}

/** Server CPU per full handshake (PSK and ECDHE_ECDSA X.509) for one build, one server process for both. */
async function measureHandshakes(ctx: BenchContext, f: BuildFigures, wanted: { psk: boolean; ecdhe: boolean }): Promise<void> {
  const o = ctx.options;
  await quiet(ctx);
  // --cpu-prof: the new build's handshake server is profiled (its work dir, with the profile, is kept)
  const profile = o.cpuProf && f.build.id === 'new';
  const s = await startServer(ctx, `load-${f.build.id}-handshakes`, profile, f.build.serverMain);
  let failed = false;
  try {
    for (const id of ['psk', 'x509'] as const) {
      if (!(id === 'psk' ? wanted.psk : wanted.ecdhe)) continue;
      const scenario = HANDSHAKE_SCENARIOS.find((x) => x.id === id)!;
      try {
        const { m, attempts } = await quietest(ctx, `${f.build.label} ${scenario.name}`, async () => {
          await quiet(ctx);
          const args = ['--port', String(s.coapsPort), '--scenario', id, '--parallel', String(HANDSHAKE_PARALLEL), '--seconds', String(o.duration), '--warmup', String(o.warmup)];
          const limitMs = (o.duration + o.warmup) * 1000 + 60_000;
          return { m: await measureWithGenerator(path.join(ctx.distRoot, 'bench', 'dtls-handshakes.js'), args, s.server.pid, limitMs, o.pin ? 0 : undefined) };
        });
        const l = m.load as HandshakeLoadResult;
        const us = usPerHandshake(m);
        ctx.log(`  ${f.build.label}: ${scenario.name}: ${l.handshakesPerSecond} handshakes/s, server ${us ?? 'n/a'} µs CPU per handshake (${m.server.cpuPercent}% of a core), failures ${l.failures}, timeouts ${l.timeouts}`);
        if (id === 'psk') f.pskUsPerHandshake = us;
        else f.ecdheUsPerHandshake = us;
        f.runs[`handshakes-${id}`] = { attempts, measurement: m };
        if (l.failures + l.timeouts > 0) f.notes.push(`${scenario.name}: ${l.failures} failed, ${l.timeouts} timed out ${JSON.stringify(l.errorCodes)}`);
        if (noise(m) > 0.1) f.notes.push(`${scenario.name}: other processes used ${m.machine.otherMs} of ${Math.round(l.windowMs)} ms: noisy`);
      } catch (err) {
        failed = true;
        f.notes.push(`${scenario.name}: FAILED: ${(err as Error).message.split('\n')[0]}`);
        ctx.log(`  ${f.build.label}: ${scenario.name}: FAILED: ${(err as Error).message}`);
      }
    }
  } finally {
    await s.server.stop();
    if (failed) f.notes.push(`server log kept: ${s.server.logPath}`);
    else if (profile) f.notes.push(`cpu profile of the handshake server kept in ${s.workDir}`);
    else fs.rmSync(s.workDir, { recursive: true, force: true });
  }
}

/**
 * Memory per idle connection for one build through bench/idle-memory.ts measureIdleMemory(): a fresh server of the
 * build with its memory probe preloaded, RSS and heap (after a full GC) as started and after idle sessions were opened
 * up to each count (the later counts add to the earlier); bytes per connection = (after - as started) ÷ sessions.
 */
async function measureIdle(ctx: BenchContext, f: BuildFigures, counts: readonly number[]): Promise<void> {
  if (counts.length === 0) return;
  await quiet(ctx);
  const t0 = Date.now();
  try {
    const r = await measureIdleMemory({
      serverDist: path.resolve(path.dirname(f.build.serverMain), '..', '..'),
      counts: [...counts],
      settleMs: IDLE_SETTLE_MS,
      concurrency: IDLE_CONCURRENCY,
      cid: CID_LENGTH,
      properties: ctx.options.oursProps,
      onLog: (line) => {
        // the generator's once-a-second progress stays out of the bench log
        if (!line.startsWith('  ')) ctx.log(`  ${f.build.label}: ${line}`);
      },
    });
    f.idleBase = r.baseline;
    r.steps.forEach((step, i) => {
      const count = counts[i]!;
      f.idle.push({
        count,
        established: step.sessions,
        serverConnections: step.serverConnections,
        rssBytesPerConnection: step.rssPerConnection,
        heapBytesPerConnection: step.heapPerConnection,
        externalBytesPerConnection: step.heapAndExternalPerConnection - step.heapPerConnection,
        step,
      });
      if (step.sessions < count) f.notes.push(`idle ${count}: only ${step.sessions} sessions established (${step.run.failed} failed ${JSON.stringify(step.run.failures)}, ${step.run.bindErrors} ports taken)`);
    });
    f.runs['idle'] = { elapsedS: Math.round((Date.now() - t0) / 1000), generatorBaseline: r.generatorBaseline };
  } catch (err) {
    f.notes.push(`idle memory: FAILED: ${(err as Error).message.split('\n')[0]}`);
    ctx.log(`  ${f.build.label}: idle memory: FAILED: ${(err as Error).message}`);
  }
}

/** Printable value (n/a for missing). */
function show(v: number | undefined): string {
  return v === undefined ? 'n/a' : String(v);
}

/** One comparison row: what, the old and the new figure, the target (≤) and whether the new figure meets it. */
export interface ComparisonRow {
  figure: string;
  old: number | undefined;
  new: number | undefined;
  atMost?: number;
  unit: string;
}

/** Table lines of the comparison: figure | old | new | target | met? (met: the new figure against the target). */
export function comparisonTable(oldLabel: string, rows: ComparisonRow[]): string[] {
  return formatTable(
    ['figure', oldLabel, 'new', 'target', 'met?'],
    rows.map((r) => [
      `${r.figure} (${r.unit})`,
      show(r.old),
      show(r.new),
      r.atMost === undefined ? '' : `≤ ${r.atMost}`,
      r.atMost === undefined ? '' : r.new === undefined ? 'n/a' : r.new <= r.atMost ? 'yes' : 'NO',
    ]),
  );
}

/** The rows of the comparison from the two builds' figures (old may be missing: --baseline none or a failed build). */
export function comparisonRows(oldF: BuildFigures | undefined, newF: BuildFigures, counts: readonly number[]): ComparisonRow[] {
  const idle = (f: BuildFigures | undefined, count: number): IdleFigure | undefined => f?.idle.find((i) => i.count === count);
  const rows: ComparisonRow[] = [
    { figure: 'server CPU per request, coap', old: oldF?.coapUsPerRequest, new: newF.coapUsPerRequest, unit: 'µs' },
    { figure: `server CPU per request, coaps PSK CCM_8 CID ${CID_LENGTH}`, old: oldF?.coapsUsPerRequest, new: newF.coapsUsPerRequest, unit: 'µs' },
    { figure: 'server CPU per request, coaps / coap', old: oldF?.coapsCoapRatio, new: newF.coapsCoapRatio, atMost: TARGET_COAPS_CPU_RATIO, unit: 'x' },
    { figure: 'server CPU per full PSK handshake', old: oldF?.pskUsPerHandshake, new: newF.pskUsPerHandshake, atMost: TARGET_PSK_HANDSHAKE_US, unit: 'µs' },
    { figure: 'server CPU per full ECDHE_ECDSA handshake', old: oldF?.ecdheUsPerHandshake, new: newF.ecdheUsPerHandshake, unit: 'µs' },
  ];
  for (const count of counts) {
    const target = count === TARGET_IDLE_COUNT ? TARGET_IDLE_RSS_BYTES : undefined;
    const at = count.toLocaleString('en-US');
    rows.push(
      { figure: `RSS per idle connection at ${at}`, old: idle(oldF, count)?.rssBytesPerConnection, new: idle(newF, count)?.rssBytesPerConnection, ...(target !== undefined ? { atMost: target } : {}), unit: 'B' },
      { figure: `heap per idle connection at ${at}`, old: idle(oldF, count)?.heapBytesPerConnection, new: idle(newF, count)?.heapBytesPerConnection, unit: 'B' },
      { figure: `off-heap (external) per idle connection at ${at}`, old: idle(oldF, count)?.externalBytesPerConnection, new: idle(newF, count)?.externalBytesPerConnection, unit: 'B' },
    );
  }
  return rows;
}

/** The target checks of the issue (on the new build). */
export function loadChecks(newF: BuildFigures, counts: readonly number[]): TargetCheck[] {
  const checks: TargetCheck[] = [
    { name: `server CPU per request coaps (PSK CCM_8 CID ${CID_LENGTH}) / coap`, value: newF.coapsCoapRatio, atMost: TARGET_COAPS_CPU_RATIO, unit: 'x' },
    { name: 'server CPU per full PSK handshake', value: newF.pskUsPerHandshake, atMost: TARGET_PSK_HANDSHAKE_US, unit: 'µs' },
  ];
  if (counts.includes(TARGET_IDLE_COUNT)) {
    const f = newF.idle.find((i) => i.count === TARGET_IDLE_COUNT);
    checks.push({ name: `RSS per idle connection at ${TARGET_IDLE_COUNT.toLocaleString('en-US')} connections`, value: f?.rssBytesPerConnection, atMost: TARGET_IDLE_RSS_BYTES, unit: 'B' });
  }
  return checks;
}

/** Creates the load section; `baselineRef` yields the --baseline commit ('none': the new build only). */
export function createLoadSection(baselineRef: () => string = () => DEFAULT_BASELINE): Section {
  return { id: 'load', title: `server CPU and memory, old build beside the new (issue 10)`, run: (ctx) => runLoad(ctx, baselineRef()) };
}

/** Runs the section. */
async function runLoad(full: BenchContext, baselineRef: string): Promise<SectionResult> {
  const t0 = Date.now();
  const ctx = shortContext(full);
  const o = ctx.options;
  const loadAtStart = os.loadavg().map((l) => l.toFixed(2)).join(' ');
  // --only with ids of this section selects among them; other ids (of other sections) leave all
  const mine = LOAD_TARGETS.some((t) => o.only.has(t));
  const wants = (t: LoadTarget): boolean => !mine || o.only.has(t);
  const counts = IDLE_COUNTS.filter((c) => wants(c === 10_000 ? 'idle10k' : 'idle100k'));

  const builds: ServerBuild[] = [];
  let baseline: BaselineBuild | undefined;
  let baselineError: string | undefined;
  if (baselineRef !== 'none') {
    try {
      baseline = await prepareBaseline(ctx.repoRoot, baselineRef, ctx.log);
      builds.push({ id: 'old', label: `old (${baselineRef})`, serverMain: baseline.serverMain });
    } catch (err) {
      baselineError = (err as Error).message;
      ctx.log(`  baseline ${baselineRef}: FAILED: ${baselineError}`);
    }
  }
  builds.push({ id: 'new', label: 'new', serverMain: path.join(ctx.distRoot, 'src', 'cli', 'server-main.js') });
  const figures = builds.map((build): BuildFigures => ({ build, idle: [], runs: {}, notes: [] }));
  const timings: Record<string, number> = {};
  const step = async (name: string, fn: (f: BuildFigures) => Promise<void>): Promise<void> => {
    const s0 = Date.now();
    for (const f of figures) await fn(f);
    timings[name] = Math.round((Date.now() - s0) / 1000);
  };
  ctx.log(`load: ${builds.map((b) => b.label).join(' and ')}, windows of ${o.duration} s (+ ${o.warmup} s warm-up), idle counts ${counts.join(', ') || 'none'}`);
  if (wants('req')) await step('requests', (f) => measureRequests(ctx, f));
  // the least node:crypto lets the coaps path add (bench/ccm-floor.ts), beside the budget the ratio target leaves
  let floor: CcmFloor | undefined;
  if (wants('req')) {
    const s0 = Date.now();
    try {
      floor = await measureCcmFloor(BENCHMARK_CLIENTS, o.duration, o.pin === true, (l) => ctx.log(`  crypto floor: ${l}`));
    } catch (err) {
      ctx.log(`  crypto floor: FAILED: ${(err as Error).message}`);
    }
    timings['crypto floor'] = Math.round((Date.now() - s0) / 1000);
  }
  if (wants('psk') || wants('ecdhe')) await step('handshakes', (f) => measureHandshakes(ctx, f, { psk: wants('psk'), ecdhe: wants('ecdhe') }));
  if (counts.length > 0) await step('idle', (f) => measureIdle(ctx, f, counts));

  const newF = figures.find((f) => f.build.id === 'new')!;
  const oldF = figures.find((f) => f.build.id === 'old');
  const oldLabel = oldF?.build.label ?? `old (${baselineRef === 'none' ? 'not run' : `${baselineRef}: failed`})`;
  const elapsedS = Math.round((Date.now() - t0) / 1000);
  const report = [
    (baseline
      ? `the server build of ${baselineRef} (${baseline.sha.slice(0, 10)}, ${baseline.cached ? 'cached build' : `compiled in ${round(baseline.buildMs / 1000)} s`}) beside the current build`
      : `the current server build only (old build ${baselineRef === 'none' ? 'not asked for: --baseline none' : 'failed'})`) +
      `, same arguments (--no-plugtest --no-ipv6 --no-external), loaded by the current generators; ` +
      `CPU = server utime+stime in the measured window ÷ answered requests / completed handshakes; benchmark client ${LOAD_VARIANTS.map((v) => v.label).join(' / ')} ` +
      `with ${BENCHMARK_CLIENTS} clients, requests sized for ~${o.duration} s; handshakes: ${HANDSHAKE_PARALLEL} parallel full handshakes (X.509 client certificate for ECDHE_ECDSA), ` +
      `${o.warmup} + ${o.duration} s; memory: RSS (VmRSS) and V8 heap after a full GC of a fresh server, before and after opening the idle DTLS sessions (PSK CCM_8, CID ${CID_LENGTH})`,
    `machine: ${os.cpus().length} CPUs shared with other users' processes, load average at section start ${loadAtStart}; section run time ${elapsedS} s ` +
      `${o.pin ? '; pinned: server on CPU 1, generators on CPU 0 (taskset; unpinned, the scheduler sometimes puts both on one core and the server CPU per request or handshake varies by up to 1.6x between runs; --no-pin)' : '; not pinned'} ` +
      `(${Object.entries(timings).map(([k, v]) => `${k} ${v} s`).join(', ')})`,
    '',
    ...comparisonTable(oldLabel, comparisonRows(oldF, newF, counts)),
  ];
  if (floor !== undefined) {
    const coap = newF.coapUsPerRequest;
    const budget = coap === undefined ? undefined : round(coap * (TARGET_COAPS_CPU_RATIO - 1));
    report.push(
      '',
      `crypto floor: ${describeCcmFloor(floor)}; the coaps / coap target leaves ${budget ?? 'n/a'} µs (${round(TARGET_COAPS_CPU_RATIO - 1, 2)} × coap) for all of DTLS ` +
        `(record parsing, replay window, connection lookup, AEAD, record writing)${budget !== undefined && floor.floorUs > budget ? ': the AEAD alone does not fit' : ''}`,
    );
  }
  if (baselineError) report.push('', `baseline ${baselineRef}: FAILED: ${baselineError.split('\n')[0]}`);
  if (baseline && baseline.compilerWarnings.length > 0) report.push(`note: the old build compiled with complaints: ${baseline.compilerWarnings[0]}`);
  for (const f of figures) for (const n of f.notes) report.push(`note: ${f.build.label}: ${n}`);
  return {
    report,
    checks: loadChecks(newF, counts),
    data: {
      baseline: baseline ? { ref: baseline.ref, sha: baseline.sha, dir: baseline.dir, cached: baseline.cached, buildMs: baseline.buildMs } : { ref: baselineRef, error: baselineError ?? null },
      settings: { windowS: o.duration, warmupS: o.warmup, quietWaitS: o.quietWait, retries: o.retries, handshakeParallel: HANDSHAKE_PARALLEL, idleCounts: counts, idleConcurrency: IDLE_CONCURRENCY, pinned: o.pin },
      loadAverageAtStart: loadAtStart,
      elapsedS,
      timingsS: timings,
      comparison: comparisonRows(oldF, newF, counts).map((r) => ({ ...r, old: r.old ?? null, new: r.new ?? null })),
      builds: figures,
      cryptoFloor: floor ?? null,
    },
  };
}

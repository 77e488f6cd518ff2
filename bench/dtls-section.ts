// DTLS sections of `npm run bench`: coaps throughput of our server beside the plain CoAP figure of the same run,
// and full handshakes per second (PSK, ECDHE_ECDSA with X.509 and with RPK) against the real server process.
// Both start our server as a process (--no-plugtest --no-ipv6 --no-external, temp cwd, coaps on 5784 or a free
// port) and load it from a separate generator process (bench/coaps-load.ts, bench/dtls-handshakes.ts).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { formatTable, type BenchContext, type Section, type SectionResult, type TargetCheck } from './sections.js';
import { measureWithGenerator, pinToCpu, type Measurement } from './measure.js';
import { ONE_PROCESS_PROPERTY, pickPort, tryPort, spawnNode, waitForQuiet, type ServerProcess } from './proc-util.js';
import { probeCoap } from './probe.js';
import { findProfile, formatProfile, summarizeProfile, type ProfileSummary } from './profile-summary.js';
import type { CoapsLoadResult } from './coaps-load.js';
import { HANDSHAKE_SCENARIOS, type HandshakeLoadResult, type HandshakeScenario } from './dtls-handshakes.js';

/** Preferred plain CoAP port of the server (readiness probe). */
const PREFERRED_COAP_PORT = 5783;
/** Preferred coaps port of the extended server (COAP.COAP_SECURE_PORT). */
const PREFERRED_COAPS_PORT = 5784;
/** coaps throughput target: at least this share of the plain CoAP req/s of the same run. */
export const TARGET_COAPS_RATIO = 0.6;
/** Handshake targets (handshakes/s on this machine). */
export const TARGET_PSK_HPS = 2000;
/** ECDHE_ECDSA handshakes/s target (checked for the X.509 and for the RPK client). */
export const TARGET_ECDHE_HPS = 500;
/** DTLS sessions of the coaps generator: a few hundred connections, one socket each (see coaps-load.ts). */
export const COAPS_SESSIONS = 256;
/** Client connectors handshaking in parallel against the server. */
export const HANDSHAKE_PARALLEL = 16;
/** Measured window per handshake scenario, at most (s). */
const HANDSHAKE_SECONDS = 5;
/** In-process handshake figure: seconds per scenario (0 would skip it). */
const IN_PROCESS_SECONDS = 3;
/** Above this share of the window used by other processes a run is repeated (when --retries allows). */
const NOISY = 0.1;
/** Server CPU (% of a core) / generator event-loop utilisation above which that side counts as saturated. */
const SATURATED_CPU_PERCENT = 90;
const SATURATED_ELU = 0.9;



/** A started server: process, its working directory and the ports read back from its properties file. */
export interface StartedServer {
  server: ServerProcess;
  workDir: string;
  coapPort: number;
  coapsPort: number;
  readyMs: number;
}

/** Reads a numeric key from a properties file (first match), or undefined. */
function propertyNumber(file: string, key: string): number | undefined {
  try {
    const m = new RegExp(`^${key.replace(/\./g, '\\.')}=(\\d+)`, 'm').exec(fs.readFileSync(file, 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Starts our server in a temp cwd with a properties file naming free coap/coaps ports (5783/5784 when free)
 * plus the --ours-prop lines; waits until its plain endpoint answers, then reads the ports back from the file.
 * `serverMain` starts another build's server-main.js (default: this build's).
 */
export async function startServer(ctx: BenchContext, id: string, cpuProf: boolean, serverMain?: string): Promise<StartedServer> {
  const main = serverMain ?? path.join(ctx.distRoot, 'src', 'cli', 'server-main.js');
  if (!fs.existsSync(main)) throw new Error(`${path.relative(ctx.repoRoot, main)} does not exist (build the server first)`);
  const coapPort = await pickPort(PREFERRED_COAP_PORT);
  let coapsPort = await pickPort(PREFERRED_COAPS_PORT);
  if (coapsPort === coapPort) coapsPort = (await tryPort(0))!;
  if (coapsPort !== PREFERRED_COAPS_PORT) ctx.log(`  UDP port ${PREFERRED_COAPS_PORT} is taken (another process): coaps on ${coapsPort}`);
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), `extplugtest-bench-${id}-`));
  const propsFile = path.join(workDir, 'Californium3.properties');
  fs.writeFileSync(propsFile, [`COAP.COAP_PORT=${coapPort}`, `COAP.COAP_SECURE_PORT=${coapsPort}`, ONE_PROCESS_PROPERTY, ...ctx.options.oursProps].join('\n') + '\n');
  const nodeArgs = cpuProf ? ['--cpu-prof', `--cpu-prof-dir=${workDir}`] : [];
  const server = spawnNode('server', [main, '--no-plugtest', '--no-ipv6', '--no-external'], workDir, nodeArgs);
  const t0 = Date.now();
  try {
    if (ctx.options.pin) pinToCpu(server.pid, 1);
    await probeCoap(coapPort, '127.0.0.1', 'echo', 15_000);
  } catch (err) {
    const tail = server.logTail(1500);
    await server.stop();
    throw new Error(`${(err as Error).message}${server.exited() ? ' (process exited)' : ''}\n${tail}`);
  }
  return {
    server,
    workDir,
    coapPort: propertyNumber(propsFile, 'COAP.COAP_PORT') ?? coapPort,
    coapsPort: propertyNumber(propsFile, 'COAP.COAP_SECURE_PORT') ?? coapsPort,
    readyMs: Date.now() - t0,
  };
}

/** Waits (bounded) for other processes to go idle, as the plain section does. */
export async function quiet(ctx: BenchContext): Promise<void> {
  const o = ctx.options;
  if (o.quietWait <= 0) return;
  const busy = await waitForQuiet(0.15, o.quietWait * 1000);
  if (busy > 0.15) ctx.log(`  machine still busy (${Math.round(busy * 100)}% of a core used by others) after ${o.quietWait} s: measuring anyway`);
}

/** Share of the window other processes used the CPU. */
export function noise(m: Measurement): number {
  return m.load.windowMs > 0 ? m.machine.otherMs / m.load.windowMs : 0;
}

/** Runs `attempt` up to 1 + retries times while its window is noisy; keeps the quietest run. */
export async function quietest<T extends { m: Measurement }>(ctx: BenchContext, label: string, attempt: () => Promise<T>): Promise<T & { attempts: number }> {
  let best: T | undefined;
  let attempts = 0;
  for (let i = 0; i <= ctx.options.retries; i++) {
    const run = await attempt();
    attempts++;
    if (!best || noise(run.m) < noise(best.m)) best = run;
    if (noise(run.m) <= NOISY) break;
    if (i < ctx.options.retries) ctx.log(`  ${label}: noisy window (other processes used ${Math.round(noise(run.m) * 100)}% of it): repeating`);
  }
  return { ...best!, attempts };
}

/** Which side limited a run: the server (≥ 90% of a core), the generator (ELU ≥ 0.9), both, or neither. */
export function saturatedSide(m: Measurement): string {
  const server = m.server.cpuPercent >= SATURATED_CPU_PERCENT;
  const generator = m.load.generatorElu >= SATURATED_ELU;
  if (server && generator) return 'both server and generator';
  if (server) return 'server';
  if (generator) return 'generator';
  return 'neither (latency bound or machine noise)';
}

/** Common notes of a measurement: noise, drops, repeated runs. */
function notes(label: string, m: Measurement, attempts: number): string[] {
  const out: string[] = [];
  if (noise(m) > NOISY) out.push(`note: other processes used ${m.machine.otherMs} CPU ms during the ${label} window: figures are noisy`);
  if (m.machine.udpRcvbufErrors > 0) out.push(`note: ${m.machine.udpRcvbufErrors} UDP receive-buffer drops during the ${label} window`);
  if (attempts > 1) out.push(`note: ${label}: kept the quietest of ${attempts} runs (noisy machine)`);
  return out;
}

/** The 1/5/15-minute load averages as text. */
function loadAverage(): string {
  return os.loadavg().map((l) => l.toFixed(2)).join(' ');
}

/** Rounds to 2 decimals. */
function r2(v: number): number {
  return Math.round(v * 100) / 100;
}

// ------------------------------------------------------------------------------------------ coaps throughput

/** Runs the coaps throughput section; `plainRps` yields our server's plain CoAP req/s of this run (if measured). */
async function runCoaps(ctx: BenchContext, plainRps: () => { rps: number; cpuMsPer1000: number } | undefined): Promise<SectionResult> {
  const o = ctx.options;
  const sessions = COAPS_SESSIONS;
  const loadAtStart = loadAverage();
  ctx.log(`coaps: our server, ${sessions} DTLS sessions (PSK CCM_8, server CID 6), ${o.outstanding} outstanding`);
  type Profile = { file: string | undefined; dir: string; summary?: ProfileSummary };
  const { m, attempts, profile } = await quietest(ctx, 'coaps', async (): Promise<{ m: Measurement; profile: Profile | undefined }> => {
    await quiet(ctx);
    const s = await startServer(ctx, 'coaps', o.cpuProf);
    let failed = false;
    try {
      ctx.log(`  our server (coaps ${s.coapsPort}): ready after ${s.readyMs} ms, opening ${sessions} sessions, loading for ${o.warmup} + ${o.duration} s`);
      const args = [
        '--port', String(s.coapsPort),
        '--sessions', String(sessions),
        '--outstanding', String(o.outstanding),
        '--duration', String(o.duration),
        '--warmup', String(o.warmup),
      ];
      const limitMs = (o.duration + o.warmup) * 1000 + 60_000;
      const m = await measureWithGenerator(path.join(ctx.distRoot, 'bench', 'coaps-load.js'), args, s.server.pid, limitMs, o.pin ? 0 : undefined);
      const l = m.load as CoapsLoadResult;
      ctx.log(
        `  coaps: ${l.requestsPerSecond} req/s over ${l.sessionsEstablished} sessions, timeouts ${l.timeouts}, errors ${l.errors}, ` +
          `server CPU ${m.server.cpuPercent}% (${m.server.cpuMsPer1000} ms/1k req), generator ELU ${Math.round(l.generatorElu * 100)}%`,
      );
      // the profile is written when the server exits
      await s.server.stop();
      return { m, profile: o.cpuProf ? { file: findProfile(s.workDir), dir: s.workDir } : undefined };
    } catch (err) {
      failed = true;
      throw new Error(`${(err as Error).message}\nserver log: ${s.server.logTail(1500)}`);
    } finally {
      await s.server.stop();
      if (!o.cpuProf && !failed) fs.rmSync(s.workDir, { recursive: true, force: true });
    }
  });
  const l = m.load as CoapsLoadResult;
  const plain = plainRps();
  const ratio = plain !== undefined && plain.rps > 0 ? r2(l.requestsPerSecond / plain.rps) : undefined;
  // server CPU per request plain ÷ coaps: the throughput ratio when both runs are server-bound, independent of noise
  const cpuRatio = plain !== undefined && plain.cpuMsPer1000 > 0 && m.server.cpuMsPer1000 > 0 ? r2(plain.cpuMsPer1000 / m.server.cpuMsPer1000) : undefined;
  const report = [
    `coaps: CON POST /echo, 40-byte text payload, ${o.outstanding} outstanding over ${l.sessionsEstablished} DTLS sessions ` +
      `(one client socket each, ${l.suite}, server CID ${l.serverCidLength} bytes, client CID ${l.clientCidLength}, ${l.recordPath} record path), ` +
      `${o.duration} s measured after ${o.warmup} s warm-up${o.pin ? ', pinned (server CPU 1, generator CPU 0)' : ''}`,
    '',
    ...formatTable(
      ['target', 'req/s', 'timeouts', 'errors', 'avg ms', 'p50 ms', 'p99 ms', 'srv CPU%', 'srv CPU ms/1k', 'gen ELU%', 'other CPU ms'],
      [
        [
          'our server coaps',
          l.requestsPerSecond,
          l.timeouts,
          l.errors,
          l.latency.avgMs.toFixed(2),
          l.latency.p50Ms.toFixed(2),
          l.latency.p99Ms.toFixed(2),
          m.server.cpuPercent,
          m.server.cpuMsPer1000.toFixed(1),
          Math.round(l.generatorElu * 100),
          m.machine.otherMs,
        ],
      ],
    ),
    '',
    `coaps: ${l.requestsPerSecond} req/s`,
    `plain CoAP (same run): ${plain?.rps ?? 'n/a (run the coap section in the same run)'} req/s`,
    `ratio coaps / plain: ${ratio ?? 'n/a'}`,
    `server CPU per 1k requests: coaps ${m.server.cpuMsPer1000} ms${plain ? `, plain ${plain.cpuMsPer1000} ms` : ''}` +
      (cpuRatio !== undefined ? ` (CPU-normalised ratio plain/coaps ${cpuRatio}: the throughput ratio if both runs are server-bound)` : ''),
    `saturated: ${saturatedSide(m)} (server ${m.server.cpuPercent}% of a core, generator event loop ${Math.round(l.generatorElu * 100)}% busy, ` +
      `generator CPU ${l.generatorCpuMs} ms = ${r2((l.generatorCpuMs * 1000) / Math.max(1, l.completed))} ms/1k req)`,
    `sessions: ${l.sessionsEstablished}/${l.sessionsRequested} opened in ${l.handshakeMs} ms` + (l.handshakeFailures > 0 ? `, ${l.handshakeFailures} failed: ${l.handshakeFailureReason}` : ''),
    `machine load average at section start: ${loadAtStart} (2 cores shared with other users' processes: see 'other CPU ms')`,
    ...notes('coaps', m, attempts),
  ];
  if (l.badRecords > 0) report.push(`note: ${l.badRecords} received records were no authentic application record`);
  if (l.midExhausted > 0) report.push(`note: ${l.midExhausted} requests not sent: a session used up its 16-bit MID space (shorter --duration or more sessions)`);
  if (profile) {
    report.push(`cpu profile of our server under coaps load: ${profile.file ?? `none written in ${profile.dir}`}`);
    if (profile.file) {
      profile.summary = summarizeProfile(profile.file, 20);
      report.push(...formatProfile(profile.summary));
    }
  }
  const checks: TargetCheck[] = [{ name: 'coaps req/s / plain CoAP req/s (same run)', value: ratio, atLeast: TARGET_COAPS_RATIO, unit: 'x' }];
  return {
    report,
    checks,
    data: {
      settings: { sessions, outstanding: o.outstanding, durationS: o.duration, warmupS: o.warmup, payloadBytes: 40, pinned: o.pin, oursProps: o.oursProps },
      coapsRequestsPerSecond: l.requestsPerSecond,
      plainRequestsPerSecond: plain?.rps ?? null,
      ratio: ratio ?? null,
      cpuNormalisedRatio: cpuRatio ?? null,
      serverCpuMsPer1000: m.server.cpuMsPer1000,
      plainServerCpuMsPer1000: plain?.cpuMsPer1000 ?? null,
      saturated: saturatedSide(m),
      loadAverageAtStart: loadAtStart,
      attempts,
      measurement: m,
      cpuProfile: profile ? { file: profile.file ?? null, summary: profile.summary ?? null } : null,
    },
  };
}

/** coaps throughput section; `plainRps` returns the plain CoAP figure of our server measured earlier in the same run. */
export function createCoapsSection(plainRps: () => { rps: number; cpuMsPer1000: number } | undefined): Section {
  return { id: 'coaps', title: 'coaps throughput', run: (ctx) => runCoaps(ctx, plainRps) };
}

// ------------------------------------------------------------------------------------------ handshakes/s

/** One scenario's outcome against the server process. */
interface ScenarioOutcome {
  scenario: HandshakeScenario;
  measurement?: Measurement;
  attempts?: number;
  error?: string;
}

/** In-process figures of dtls-handshakes.js (server connector in a worker thread). */
interface InProcessFigures {
  server: string;
  parallel: number;
  seconds: number;
  results: HandshakeLoadResult[];
}

/** Runs `node dist/bench/dtls-handshakes.js --json` (in-process mode) with a time limit. */
function runInProcess(ctx: BenchContext, seconds: number): Promise<InProcessFigures> {
  const script = path.join(ctx.distRoot, 'bench', 'dtls-handshakes.js');
  const limitMs = (seconds + 2) * HANDSHAKE_SCENARIOS.length * 1000 + 30_000;
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [script, '--json', '--seconds', String(seconds), '--parallel', String(HANDSHAKE_PARALLEL)],
      { timeout: limitMs, killSignal: 'SIGKILL', maxBuffer: 16 << 20 },
      (err, stdout) => {
        if (err) return reject(err);
        try {
          resolve(JSON.parse(stdout.trim().split('\n').pop()!) as InProcessFigures);
        } catch (e) {
          reject(e as Error);
        }
      },
    );
  });
}

/** Table row of one scenario outcome. */
function scenarioRow(t: ScenarioOutcome): (string | number)[] {
  const m = t.measurement;
  if (!m) return [t.scenario.name, 'FAILED', '', '', '', '', '', '', '', ''];
  const l = m.load as HandshakeLoadResult;
  return [
    t.scenario.name,
    l.handshakesPerSecond,
    l.failures,
    l.timeouts,
    l.latency.avgMs.toFixed(1),
    l.latency.p99Ms.toFixed(1),
    m.server.cpuPercent,
    // cpuMsPer1000 is ms per 1,000 handshakes = µs per handshake
    Math.round(m.server.cpuMsPer1000),
    Math.round(l.generatorElu * 100),
    m.machine.otherMs,
  ];
}

/** Runs the handshakes/s section: one server process, one generator process per scenario, then the in-process figure. */
async function runHandshakes(ctx: BenchContext): Promise<SectionResult> {
  const o = ctx.options;
  const seconds = Math.min(HANDSHAKE_SECONDS, o.duration);
  const outcomes: ScenarioOutcome[] = [];
  const loadAtStart = loadAverage();
  await quiet(ctx);
  const s = await startServer(ctx, 'handshakes', false);
  let failed = false;
  try {
    ctx.log(`  our server (coaps ${s.coapsPort}): ready after ${s.readyMs} ms`);
    for (const scenario of HANDSHAKE_SCENARIOS) {
      ctx.log(`handshakes: ${scenario.name}, ${HANDSHAKE_PARALLEL} parallel client connectors, ${o.warmup} + ${seconds} s`);
      try {
        const { m, attempts } = await quietest(ctx, scenario.name, async () => {
          await quiet(ctx);
          const args = ['--port', String(s.coapsPort), '--scenario', scenario.id, '--parallel', String(HANDSHAKE_PARALLEL), '--seconds', String(seconds), '--warmup', String(o.warmup)];
          const limitMs = (seconds + o.warmup) * 1000 + 60_000;
          return { m: await measureWithGenerator(path.join(ctx.distRoot, 'bench', 'dtls-handshakes.js'), args, s.server.pid, limitMs, o.pin ? 0 : undefined) };
        });
        const l = m.load as HandshakeLoadResult;
        ctx.log(`  ${l.handshakesPerSecond} handshakes/s, failures ${l.failures}, timeouts ${l.timeouts}, server CPU ${m.server.cpuPercent}% (${Math.round(m.server.cpuMsPer1000)} µs/handshake)`);
        outcomes.push({ scenario, measurement: m, attempts });
      } catch (err) {
        failed = true;
        ctx.log(`  ${scenario.name}: FAILED: ${(err as Error).message}`);
        outcomes.push({ scenario, error: (err as Error).message });
      }
    }
  } finally {
    await s.server.stop();
    if (failed) ctx.log(`  server log kept: ${s.server.logPath}`);
    else fs.rmSync(s.workDir, { recursive: true, force: true });
  }
  let inProcess: InProcessFigures | undefined;
  let inProcessError: string | undefined;
  if (IN_PROCESS_SECONDS > 0) {
    ctx.log(`handshakes in-process (dtls-handshakes.js, server connector in a worker thread), ${IN_PROCESS_SECONDS} s per scenario`);
    try {
      await quiet(ctx);
      inProcess = await runInProcess(ctx, IN_PROCESS_SECONDS);
    } catch (err) {
      inProcessError = (err as Error).message;
    }
  }
  const hps = (id: string): number | undefined => {
    const m = outcomes.find((t) => t.scenario.id === id)?.measurement;
    return m ? (m.load as HandshakeLoadResult).handshakesPerSecond : undefined;
  };
  const report = [
    `full handshakes (HelloVerifyRequest + full handshake, no resumption) from ${HANDSHAKE_PARALLEL} client connectors in one generator process ` +
      `against the server process, ${o.warmup} s warm-up + ${seconds} s per scenario; each connector re-handshakes from its own socket, so the ` +
      `server replaces the older connection of that address (its store stays at ~${HANDSHAKE_PARALLEL} connections)`,
    '',
    `machine load average at section start: ${loadAtStart}`,
    '',
    ...formatTable(['scenario', 'hs/s', 'failures', 'timeouts', 'avg ms', 'p99 ms', 'srv CPU%', 'srv CPU µs/hs', 'gen ELU%', 'other CPU ms'], outcomes.map(scenarioRow)),
  ];
  for (const t of outcomes) {
    if (t.error) report.push(`${t.scenario.name}: FAILED: ${t.error.split('\n')[0]}`);
    if (!t.measurement) continue;
    const l = t.measurement.load as HandshakeLoadResult;
    report.push(`${t.scenario.name}: saturated: ${saturatedSide(t.measurement)}`);
    if (l.failures > 0) report.push(`note: ${t.scenario.name}: ${l.failures} failed handshakes: ${JSON.stringify(l.errorCodes)}`);
    report.push(...notes(t.scenario.name, t.measurement, t.attempts ?? 1));
  }
  if (inProcess) {
    report.push(
      '',
      `in-process (client connectors and a server connector in a worker thread of one process, clientAuthentication WANTED, ${inProcess.parallel} parallel, ${inProcess.seconds} s):`,
    );
    for (const r of inProcess.results) {
      const name = HANDSHAKE_SCENARIOS.find((x) => x.id === r.scenario)?.name ?? r.scenario;
      report.push(`  ${name.padEnd(36)} ${r.handshakesPerSecond} handshakes/s${r.failures + r.timeouts > 0 ? ` (${r.failures} failed, ${r.timeouts} timed out)` : ''}`);
    }
  } else if (inProcessError) report.push('', `in-process figure: FAILED: ${inProcessError.split('\n')[0]}`);
  const checks: TargetCheck[] = [
    { name: 'PSK handshakes/s (server process)', value: hps('psk'), atLeast: TARGET_PSK_HPS, unit: 'hs/s' },
    { name: 'ECDHE_ECDSA x509 handshakes/s (server process)', value: hps('x509'), atLeast: TARGET_ECDHE_HPS, unit: 'hs/s' },
    { name: 'ECDHE_ECDSA RPK handshakes/s (server process)', value: hps('rpk'), atLeast: TARGET_ECDHE_HPS, unit: 'hs/s' },
  ];
  return {
    report,
    checks,
    data: {
      settings: { parallel: HANDSHAKE_PARALLEL, seconds, warmupS: o.warmup, pinned: o.pin },
      loadAverageAtStart: loadAtStart,
      pskHandshakesPerSecond: hps('psk') ?? null,
      ecdheEcdsaX509HandshakesPerSecond: hps('x509') ?? null,
      ecdheEcdsaRpkHandshakesPerSecond: hps('rpk') ?? null,
      scenarios: outcomes.map((t) => ({ id: t.scenario.id, name: t.scenario.name, error: t.error ?? null, attempts: t.attempts ?? null, measurement: t.measurement ?? null })),
      inProcess: inProcess ?? (inProcessError ? { error: inProcessError } : null),
    },
  };
}

/** Full handshakes per second against the server process (PSK, ECDHE_ECDSA x509 and RPK). */
export const handshakesSection: Section = { id: 'handshakes', title: 'DTLS handshakes per second', run: runHandshakes };

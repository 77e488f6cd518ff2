// What the load generators share: the run timeline (ramp-up during the warm-up, the measured window,
// generator CPU and event-loop use) and the latency histogram summary.
import { performance, type EventLoopUtilization } from 'node:perf_hooks';
import type { GeneratorMessage, LatencySummary, LoadPhase } from './coap-load.js';
import { formatCode, TOKEN_OFFSET } from './coap-wire.js';

/** Latency histogram resolution (µs per bucket) and range (2 s + overflow bucket). */
export const BUCKET_US = 10;
export const BUCKETS = 200_001;

/** Flags the generators read on their hot path. */
export interface RunState {
  running: boolean;
  measuring: boolean;
  /** start of the measured window (performance.now()), Infinity before it */
  windowStart: number;
}

/** Length of the measured window and what the generator itself used in it. */
export interface MeasuredWindow {
  windowMs: number;
  cpu: NodeJS.CpuUsage;
  elu: EventLoopUtilization;
}

/** Timeline settings. */
export interface TimelineOptions {
  warmupMs: number;
  durationMs: number;
  timeoutMs: number;
  onPhase?: (phase: LoadPhase) => void;
}

/**
 * Starts `count` request slots, ramped up over the first half of the warm-up (at most 500 ms) so that a cold
 * server is not hit by one burst that overflows its socket receive buffer, runs `sweep` periodically, measures
 * `durationMs` after the warm-up and resolves with the measured window once the run has ended.
 */
export function runTimeline(o: TimelineOptions, state: RunState, count: number, start: (i: number) => void, sweep: () => void): Promise<MeasuredWindow> {
  return new Promise((resolve) => {
    const sweepTimer = setInterval(sweep, Math.min(100, Math.max(10, o.timeoutMs / 10)));
    const rampMs = Math.min(500, o.warmupMs / 2);
    const rampTicks = Math.max(1, Math.floor(rampMs / 10));
    const perTick = Math.ceil(count / rampTicks);
    let started = 0;
    const startSome = (): void => {
      const end = Math.min(count, started + perTick);
      for (; started < end; started++) start(started);
      if (started < count && state.running) setTimeout(startSome, 10);
    };
    startSome();
    setTimeout(() => {
      state.measuring = true;
      const t0 = performance.now();
      state.windowStart = t0;
      const cpu0 = process.cpuUsage();
      const elu0 = performance.eventLoopUtilization();
      o.onPhase?.('measure-start');
      setTimeout(() => {
        state.measuring = false;
        state.running = false;
        const windowMs = performance.now() - t0;
        const cpu = process.cpuUsage(cpu0);
        const elu = performance.eventLoopUtilization(elu0);
        o.onPhase?.('measure-end');
        clearInterval(sweepTimer);
        resolve({ windowMs, cpu, elu });
      }, o.durationMs);
    }, o.warmupMs);
  });
}

/** Rounds to a number of decimals. */
export function round(v: number, decimals: number): number {
  const f = 10 ** decimals;
  return Math.round(v * f) / f;
}

/** Latency summary from the histogram (bucket mid-points). */
export function summarize(hist: Uint32Array, count: number, sumMs: number, maxMs: number): LatencySummary {
  const pct = (p: number): number => {
    if (count === 0) return 0;
    const want = Math.ceil(count * p);
    let acc = 0;
    for (let i = 0; i < hist.length; i++) {
      acc += hist[i]!;
      if (acc >= want) return round(((i + 0.5) * BUCKET_US) / 1000, 3);
    }
    return round(maxMs, 3);
  };
  return {
    avgMs: count > 0 ? round(sumMs / count, 3) : 0,
    p50Ms: pct(0.5),
    p90Ms: pct(0.9),
    p99Ms: pct(0.99),
    maxMs: round(maxMs, 3),
  };
}

/**
 * Entry of a generator process: runs one load run; under fork() it reports the phases and the result over IPC,
 * on a terminal it prints the result (JSON or one line).
 */
export async function generatorMain<R>(
  json: boolean,
  run: (onPhase: (phase: LoadPhase) => void) => Promise<R>,
  format: (r: R) => string,
): Promise<void> {
  const ipc = typeof process.send === 'function';
  const post = (m: GeneratorMessage): Promise<void> =>
    new Promise<void>((resolve) => {
      if (ipc) process.send!(m, undefined, {}, () => resolve());
      else resolve();
    });
  try {
    const result = await run((phase) => void post({ type: 'phase', phase }));
    await post({ type: 'result', result } as GeneratorMessage);
    if (!ipc) console.log(json ? JSON.stringify(result, null, 2) : format(result));
  } catch (err) {
    await post({ type: 'error', message: (err as Error).message });
    if (!ipc) console.error((err as Error).message);
    process.exitCode = 1;
  }
  if (ipc) process.disconnect();
}

/** First byte of a piggy-backed answer: version 1, ACK, token length 4. */
const ACK_B0 = 0x40 | (2 << 4) | 4;

/** Counts the window's answers: the good ones with their latency histogram, the bad ones by a key. */
export class Tally {
  completed = 0;
  errors = 0;
  readonly errorCodes: Record<string, number> = {};
  private readonly hist = new Uint32Array(BUCKETS);
  private sumMs = 0;
  private maxMs = 0;

  /** A good answer to a request sent at `sentAt` (performance.now()). */
  ok(sentAt: number): void {
    this.completed++;
    const ms = performance.now() - sentAt;
    this.sumMs += ms;
    if (ms > this.maxMs) this.maxMs = ms;
    const b = (ms * (1000 / BUCKET_US)) | 0;
    this.hist[b < BUCKETS ? b : BUCKETS - 1]!++;
  }

  /** A bad answer, counted under `key`. */
  fail(key: string): void {
    this.errors++;
    this.errorCodes[key] = (this.errorCodes[key] ?? 0) + 1;
  }

  /** Latency summary of the good answers. */
  latency(): LatencySummary {
    return summarize(this.hist, this.completed, this.sumMs, this.maxMs);
  }
}

/** The LoadResult fields every generator derives alike from its tally and measured window. */
export function tallyFields(tally: Tally, w: MeasuredWindow) {
  return {
    windowMs: round(w.windowMs, 1),
    completed: tally.completed,
    requestsPerSecond: Math.round((tally.completed * 1000) / w.windowMs),
    errors: tally.errors,
    errorCodes: tally.errorCodes,
    latency: tally.latency(),
    generatorCpuMs: Math.round((w.cpu.user + w.cpu.system) / 1000),
    generatorElu: round(w.elu.utilization, 3),
  };
}

/** Checks answers (piggy-backed ACK, expected code, token, echoed payload) and counts them with their latency. */
export class AnswerTally extends Tally {
  constructor(
    private readonly payload: Buffer,
    private readonly expect: number,
  ) {
    super();
  }

  /** One answer `msg` (length n) to the request with `token` sent at `sentAt`; counted only while measuring. */
  answer(msg: Buffer, n: number, token: number, sentAt: number, measuring: boolean): void {
    if (!measuring) return;
    const payload = this.payload;
    const plen = payload.length;
    const code = msg[1]!;
    const ok =
      n >= 8 + (plen > 0 ? plen + 1 : 0) &&
      msg[0] === ACK_B0 &&
      code === this.expect &&
      msg.readUInt32BE(TOKEN_OFFSET) === token &&
      (plen === 0 || (msg[n - plen - 1] === 0xff && payload.compare(msg, n - plen, n) === 0));
    if (ok) {
      this.ok(sentAt);
    } else {
      let key = `${['CON', 'NON', 'ACK', 'RST'][(msg[0]! >> 4) & 3]} ${formatCode(code)}`;
      if (msg[0] === ACK_B0 && code === this.expect) key += n >= 8 && msg.readUInt32BE(TOKEN_OFFSET) !== token ? ' token mismatch' : ' payload mismatch';
      this.fail(key);
    }
  }
}

// One benchmark run (clients.md §3.3–§3.5): start lines, clients and the traced first request, the request,
// reverse and observe phases with their 10-second lines and stale detection, the distribution and the final statistics.
import fs from 'node:fs';
import { CON, NON, Opt, codeName, type CoapMessage } from '../../coap/message.js';
import { addOption, encodeBlock, sizeToSzx } from '../../coap/options.js';
import { TimerWheel } from '../../util/timer-wheel.js';
import { requestLines, responseLines } from '../print.js';
import { ConnectionRefusedError } from '../connected-transport.js';
import { describeSession, resolveDestination } from '../transport.js';
import { isTcpScheme } from '../tcp-client.js';
import type { BenchmarkClient, BenchmarkLog, ClientShared } from './client.js';
import { authLine, clientFactory } from './create-client.js';
import { benchmarkStackConfig, DTLS_STALE_TIMEOUT, PROGRESS_INTERVAL } from './defaults.js';
import { distributionLines, formatPerSecond, formatTime, lineCounter, progressLine, roundDiv } from './format.js';
import type { BenchmarkCommandLine } from './options.js';
import { processLines, statisticsHeader, watchGc } from './process-stats.js';
import { reportLines } from './report.js';
import { buildRequestSpecs } from './requests.js';
import { createState, type BenchmarkState } from './state.js';

/** Exit status of a failed start (the reference's System.exit(-1)). */
export const EXIT_FAILED = 255;
/** Exit status after an interruption (SIGINT). */
export const EXIT_INTERRUPTED = 130;
/** File the statistics are appended to with env CALIFORNIUM_STATISTIC=<tag>. */
export const STATISTICS_FILE = 'benchmark-statistic.log';

/** Where the run prints. */
export interface RunIo {
  /** one console line */
  out(line: string): void;
  /** the program arguments (statistics header) */
  args: readonly string[];
  env: NodeJS.ProcessEnv;
}

/** Most lines of one frequent kind per 10 s. */
const FILTER_LIMITS = { error: 3, response: 5 } as const;

/** Client log lines; frequent kinds are limited per 10 s unless verbose. */
function createLog(out: (line: string) => void, verbose: boolean): BenchmarkLog {
  const windows = { error: { start: 0, count: 0 }, response: { start: 0, count: 0 } };
  return {
    warn: out,
    filtered(kind, line) {
      if (!verbose) {
        const w = windows[kind];
        const now = performance.now();
        if (now - w.start > PROGRESS_INTERVAL) {
          w.start = now;
          w.count = 0;
        }
        if (++w.count > FILTER_LIMITS[kind]) return;
      }
      out(line);
    },
  };
}

/** Resolves after `ms` or when the state signals. */
function sleepOrSignal(state: BenchmarkState, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      state.signal = () => {};
      resolve();
    };
    const timer = setTimeout(done, ms);
    state.signal = done;
  });
}

/** Waits up to `ms` for `cond`; true when it holds. */
async function waitUntil(state: BenchmarkState, cond: () => boolean, ms: number): Promise<boolean> {
  const deadline = performance.now() + ms;
  while (!cond()) {
    const left = deadline - performance.now();
    if (left <= 0) return false;
    await sleepOrSignal(state, left);
  }
  return true;
}

/** Sums a message counter over all clients' endpoints. */
function sumStat(clients: readonly BenchmarkClient[], name: 'send-requests' | 'send-request retransmissions'): number {
  let n = 0;
  for (const c of clients) n += c.ep.stats.get(name);
  return n;
}

/** The request the first client sends, for the trace. */
function tracedRequest(shared: ClientShared, exchange: { token: Buffer; lastMid: number } | undefined, observe: boolean): CoapMessage {
  const spec = observe ? shared.specs.observe : shared.specs.request;
  const options = [...(spec.options ?? [])];
  if (spec.blockSize !== undefined) addOption(options, Opt.BLOCK2, encodeBlock({ num: 0, more: false, szx: sizeToSzx(spec.blockSize) }));
  const payload = typeof spec.payload === 'string' ? Buffer.from(spec.payload) : (spec.payload ?? Buffer.alloc(0));
  return { type: shared.con ? CON : NON, code: spec.method, mid: exchange?.lastMid ?? 0, token: exchange?.token ?? Buffer.alloc(0), options, payload };
}

/** Longest payload traced in full; longer ones are cut and marked with `»`. */
const TRACE_PAYLOAD = 256;

/** Trace lines of a request or response (Californium's prettyPrint blocks), a long payload cut. */
export function traceLines(msg: CoapMessage, rttMs?: number): string[] {
  return msg.code < 32 ? requestLines(msg, { maxPayload: TRACE_PAYLOAD }) : responseLines(msg, { rttMs, maxPayload: TRACE_PAYLOAD });
}

/** Runs the benchmark; resolves with the exit status. */
export async function runBenchmark(cmd: BenchmarkCommandLine, io: RunIo): Promise<number> {
  const { client: opts, settings } = cmd;
  const out = io.out;
  const gc = watchGc();
  const secure = opts.uri.protocol === 'coaps:' || opts.uri.protocol === 'coaps+tcp:';
  const tcp = isTcpScheme(opts.uri);
  const dest = await resolveDestination(opts.uri);
  const state = createState(settings.clients, settings.requests, settings.reverse?.responses ?? 0, settings.observe?.notifies ?? 0);
  const config = benchmarkStackConfig(settings.blocksize, settings.timeout, settings.bertBlocks);
  const shared: ClientShared = {
    settings,
    state,
    specs: buildRequestSpecs(opts, settings, config.nonLifetime),
    config,
    wheel: new TimerWheel(10, 1024),
    secure,
    tcp,
    con: opts.con,
    log: createLog(out, opts.verbose),
  };
  const uri = opts.uri.href;
  out(`Create ${settings.clients} ${settings.stop ? '' : 'none-stop '}${secure ? 'secure ' : ''}benchmark clients, expect to send ${state.overallRequests} requests overall to ${uri}`);
  if (state.overallReverse > 0) {
    const r = settings.reverse!;
    out(`Expect ${state.overallReverse} notifies sent, interval ${r.min}${r.min === r.max ? '' : ` ... ${r.max}`} [ms]`);
  }
  if (state.overallNotifies > 0) {
    const o = settings.observe!;
    out(`Expect ${state.overallNotifies} notifies received, reregister every ${o.reregister} and register every ${o.register} notify`);
  }
  const factory = clientFactory(opts, shared, dest);
  if (secure) out(authLine(factory.auth));

  // ---- the first client and its traced connectivity test
  let startup = performance.now();
  const clients: BenchmarkClient[] = [];
  try {
    const first = factory.create(0);
    if (first.identity !== undefined) {
      const secretText = first.secret && /^[\x20-\x7e]*$/.test(first.secret.toString('latin1')) ? `, ${first.secret.toString('latin1')}` : '';
      out(`ID: ${first.identity}${secretText}`);
    }
    clients.push(first.client);
    await first.client.start();
  } catch (err) {
    out(`${(err as Error).message}`);
    out('Failed after 0 clients, exit Benchmark.');
    return EXIT_FAILED;
  }
  const client0 = clients[0]!;
  const testSpec = settings.observe !== undefined ? shared.specs.observe : shared.specs.request;
  const testStart = performance.now();
  const test = client0.testRequest();
  out(`Request:\n${traceLines(tracedRequest(shared, test.exchange, settings.observe !== undefined)).join('\n')}`);
  if (secure) out('>>> CONNECTING <<<');
  const outcome = await test.outcome;
  const rtt = performance.now() - testStart;
  let ok = false;
  if (outcome.response) {
    const session = outcome.context ? describeSession(outcome.context) : undefined;
    if (session) out(session);
    if (outcome.response.code >> 5 === 2) {
      out(`Received response:\n${traceLines(outcome.response, rtt).join('\n')}`);
      client0.testSucceeded();
      ok = true;
    } else {
      out(`Received error response: ${codeName(outcome.response.code)} - ${outcome.response.payload.toString('utf8')}`);
    }
  } else if (outcome.error instanceof ConnectionRefusedError) {
    out(`${uri}: ${outcome.error.message}`);
  } else {
    out(`Received no response! (${outcome.error?.message ?? 'unknown'})`);
  }
  if (!ok) {
    out(`Request ${uri} ${codeName(testSpec.method)} failed, exit Benchmark.`);
    await client0.destroy();
    return EXIT_FAILED;
  }
  out('Benchmark clients, first request successful.');

  // ---- the other clients
  if (settings.clients > 1) startup = performance.now();
  try {
    const BATCH = 64;
    for (let index = 1; index < settings.clients; index += BATCH) {
      const batch: BenchmarkClient[] = [];
      for (let i = index; i < Math.min(settings.clients, index + BATCH); i++) batch.push(factory.create(i).client);
      clients.push(...batch);
      await Promise.all(batch.map((c) => c.start()));
    }
  } catch (err) {
    out(`${(err as Error).message}`);
    out(`Failed after ${clients.length - 1} clients, exit Benchmark.`);
    await Promise.all(clients.map((c) => c.destroy().catch(() => 0)));
    return EXIT_FAILED;
  }
  const startupMs = performance.now() - startup;
  if (settings.clients === 1) out(`Benchmark client created. ${formatTime(startupMs)}`);
  else out(`Benchmark clients created. ${formatTime(startupMs)}${formatPerSecond('clients', settings.clients - 1, startupMs)}`);

  // ---- start
  const times = { startRequest: performance.now(), startReverse: 0, startNotifies: 0, requestMs: 0, reverseMs: 0, notifiesMs: 0 };
  times.startReverse = times.startRequest;
  times.startNotifies = times.startRequest;
  let done = false;
  let lastRequestsLeft = state.requestsLeft;
  let lastResponsesLeft = state.responsesLeft;
  let lastTransmissions = sumStat(clients, 'send-requests');
  let lastRetransmissions = sumStat(clients, 'send-request retransmissions');
  let lastErrors = state.transmissionErrors;
  let lastUnavailable = state.unavailable;
  let lastHono = state.honoCmds;
  let requestsPerClient = settings.requests <= 10 ? settings.requests : -1;
  for (let index = clients.length - 1; index >= 0; index--) {
    if (index === 0) --requestsPerClient;
    clients[index]!.startBenchmark(requestsPerClient);
  }

  const finalStatistics = (): void => {
    const now = performance.now();
    const lines = [
      ...processLines(gc),
      ...reportLines({
        state,
        requestMs: times.requestMs || now - times.startRequest,
        reverseMs: times.reverseMs || now - times.startReverse,
        notifiesMs: times.notifiesMs || now - times.startNotifies,
        retransmissions: sumStat(clients, 'send-request retransmissions'),
        done,
      }),
    ];
    for (const line of lines) out(line);
    const tag = io.env.CALIFORNIUM_STATISTIC;
    if (tag) {
      try {
        fs.appendFileSync(STATISTICS_FILE, [...statisticsHeader(tag, io.args), ...lines].join('\n') + '\n');
      } catch (err) {
        out(`statistics file ${STATISTICS_FILE}: ${(err as Error).message}`);
      }
    }
  };
  const interrupted = (): void => {
    out(`\n${settings.clients} benchmark clients interrupted.`);
    finalStatistics();
    process.exit(EXIT_INTERRUPTED);
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  out('Benchmark started.');

  // ---- request phase
  let line = 0;
  let stale = false;
  const interval = secure ? Math.max(settings.interval, DTLS_STALE_TIMEOUT) : settings.interval;
  const staleTimeout = PROGRESS_INTERVAL + interval;
  let staleTime = performance.now();
  const requestsDone = () => state.responsesLeft <= 0 && state.connectsPending <= 0;
  // every client stopped (errors, e.g. the timeouts of a server that went away): nothing can make progress, end the
  // phase at once instead of waiting for the stale timeout (the reference waits 10 s + interval, 130 s for coaps)
  const allStopped = () => state.clientsActive <= 0;
  while (!(await waitUntil(state, () => requestsDone() || allStopped(), PROGRESS_INTERVAL))) {
    const now = performance.now();
    const requestsLeft = state.requestsLeft;
    const responsesLeft = state.responsesLeft;
    const responses = lastResponsesLeft - responsesLeft;
    const sent = state.overallRequests - requestsLeft;
    if ((responses === 0 && responsesLeft < state.overallRequests) || state.clientsActive === 0) {
      const idle = now - staleTime;
      if (idle > staleTimeout) {
        times.startRequest += idle;
        times.startReverse = times.startRequest;
        times.startNotifies = times.startRequest;
        stale = true;
        out(`${lineCounter(++line)}: ${sent} requests, stale (${state.clientsActive} clients, ${state.connectsPending} pending)`);
        break;
      }
    } else {
      staleTime = now;
    }
    const transmissions = sumStat(clients, 'send-requests');
    const retransmissions = sumStat(clients, 'send-request retransmissions');
    out(
      progressLine({
        line: ++line,
        sent,
        requests: lastRequestsLeft - requestsLeft,
        responses,
        transmissions: transmissions - lastTransmissions,
        retransmissions: retransmissions - lastRetransmissions,
        errors: state.transmissionErrors - lastErrors,
        unavailableTotal: state.unavailable,
        unavailable: state.unavailable - lastUnavailable,
        honoTotal: state.honoCmds,
        hono: state.honoCmds - lastHono,
        clients: state.clientsActive,
        pending: state.connectsPending,
        seconds: PROGRESS_INTERVAL / 1000,
      }),
    );
    lastRequestsLeft = requestsLeft;
    lastResponsesLeft = responsesLeft;
    lastTransmissions = transmissions;
    lastRetransmissions = retransmissions;
    lastErrors = state.transmissionErrors;
    lastUnavailable = state.unavailable;
    lastHono = state.honoCmds;
  }
  if (!stale && !requestsDone() && allStopped()) {
    stale = true;
    out(`${lineCounter(++line)}: ${state.overallRequests - state.requestsLeft} requests, stale (0 clients, ${state.connectsPending} pending)`);
  }
  times.requestMs = performance.now() - times.startRequest;

  // ---- reverse phase: the server sends requests or notifications to the feed resources
  if (settings.reverse && state.reverseLeft > 0) {
    out('Requests sent.');
    let lastChange = performance.now();
    let lastLeft = state.reverseLeft;
    let observe = false;
    while (!(await waitUntil(state, () => state.reverseLeft <= 0, PROGRESS_INTERVAL))) {
      const now = performance.now();
      const left = state.reverseLeft;
      const diff = lastLeft - left;
      const total = state.overallReverse - left;
      if (state.feedRegistrations > 0) observe = true;
      let observers = 0;
      for (const c of clients) observers += c.feedObservers;
      let idle = 0;
      if (left < state.overallReverse) {
        if (diff === 0) idle = now - lastChange;
        else lastChange = now;
      } else {
        // wait an extra period for the first reverse response
        idle = now - lastChange - PROGRESS_INTERVAL;
      }
      if (settings.reverse.max < idle - PROGRESS_INTERVAL || state.clientsActive === 0) {
        times.startReverse += idle;
        stale = true;
        if (observe) out(`${lineCounter(++line)}: ${total} notifies, stale (${state.clientsActive} clients, ${observers} observes)`);
        else out(`${lineCounter(++line)}: ${total} reverse-responses, stale (${state.clientsActive} clients)`);
        break;
      }
      lastLeft = left;
      const rate = roundDiv(diff, PROGRESS_INTERVAL / 1000);
      if (observe) out(`${lineCounter(++line)}: ${total} notifies (${rate} notifies/s, ${state.clientsActive} clients, ${observers} observes)`);
      else out(`${lineCounter(++line)}: ${total} reverse-responses (${rate} reverse-responses/s, ${state.clientsActive} clients)`);
    }
  }
  times.reverseMs = performance.now() - times.startReverse;

  // ---- observe phase: notifications of the observed resource
  if (settings.observe && state.notifiesLeft > 0) {
    out('Observe-Requests sent.');
    let sentRequests = state.overallRequests - state.requestsLeft;
    let lastChange = performance.now();
    let lastLeft = state.notifiesLeft;
    while (!(await waitUntil(state, () => state.notifiesLeft <= 0, PROGRESS_INTERVAL))) {
      const now = performance.now();
      const requestsLeft = state.requestsLeft;
      sentRequests += lastRequestsLeft - requestsLeft;
      const left = state.notifiesLeft;
      const diff = lastLeft - left;
      const total = state.overallNotifies - left;
      let idle = 0;
      if (left < state.overallNotifies) {
        if (diff === 0) idle = now - lastChange;
        else lastChange = now;
      } else {
        idle = now - lastChange - PROGRESS_INTERVAL;
      }
      if (idle > PROGRESS_INTERVAL || state.clientsActive === 0) {
        times.startNotifies += idle;
        stale = true;
        out(`${lineCounter(++line)}: ${total} notifies, ${sentRequests} request, stale (${state.clientsActive} clients)`);
        break;
      }
      lastRequestsLeft = requestsLeft;
      lastLeft = left;
      out(`${lineCounter(++line)}: ${total} notifies, ${sentRequests} request (${roundDiv(diff, PROGRESS_INTERVAL / 1000)} notifies/s, ${state.clientsActive} clients)`);
    }
  }
  times.notifiesMs = performance.now() - times.startNotifies;

  out(`${settings.clients} benchmark clients ${stale ? 'stopped' : 'finished'}.`);
  const perClient = await Promise.all(clients.map((c) => c.destroy()));
  if (settings.clients > 1) for (const l of distributionLines(perClient, state.overallRequests)) out(l);
  done = true;
  process.off('SIGINT', interrupted);
  process.off('SIGTERM', interrupted);
  finalStatistics();
  return 0;
}

// Bounded loopback CoAP load generator (library + CLI): keeps N CON POST /echo requests outstanding over a few
// UDP sockets and reports completed requests/s, timeouts, errors and latency for a measured window.
import dgram from 'node:dgram';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { performance } from 'node:perf_hooks';
import { buildTemplate, CODE_CHANGED, CODE_POST, formatCode, MID_OFFSET, parseCode, textPayload, TOKEN_OFFSET } from './coap-wire.js';
import { AnswerTally, generatorMain, runTimeline, tallyFields, type RunState } from './load-timeline.js';
import { cliNumber } from './cli-number.js';

/** Options of one load run. */
export interface LoadOptions {
  /** server address (loopback only: 127.0.0.1 or ::1) */
  host: string;
  /** server UDP port */
  port: number;
  /** number of client UDP sockets (each with its own 16-bit MID counter) */
  sockets: number;
  /** CON requests kept outstanding overall (spread round-robin over the sockets) */
  outstanding: number;
  /** measured window in ms */
  durationMs: number;
  /** warm-up before the measured window in ms (not counted) */
  warmupMs: number;
  /** a request unanswered after this many ms counts as a timeout and is replaced (no retransmission) */
  timeoutMs: number;
  /** Uri-Path of the requests */
  path: string;
  /** payload size in bytes (text/plain) */
  payloadSize: number;
  /** expected response code byte (2.04 = 0x44) */
  expectCode: number;
  /** called when the measured window starts / ends (the runner samples the server's CPU time then) */
  onPhase?: (phase: LoadPhase) => void;
}

/** Phases reported while a load run is going. */
export type LoadPhase = 'measure-start' | 'measure-end';

/** Latency summary in milliseconds. */
export interface LatencySummary {
  avgMs: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  maxMs: number;
}

/** Figures of one load run (counts are for the measured window only). */
export interface LoadResult {
  target: string;
  sockets: number;
  outstanding: number;
  payloadSize: number;
  warmupMs: number;
  /** actual length of the measured window in ms */
  windowMs: number;
  /** requests answered correctly in the window */
  completed: number;
  /** completed per second of the window */
  requestsPerSecond: number;
  /** requests sent in the window */
  sent: number;
  /** requests sent in the window and replaced after timeoutMs without an answer */
  timeouts: number;
  /** answers with a wrong type, code, token or payload */
  errors: number;
  /** error answers by code ("2.05": n), to diagnose a wrong expectation */
  errorCodes: Record<string, number>;
  /** answers matching no outstanding request (late after a timeout, or duplicates) */
  unmatched: number;
  /** socket errors (send failures, ICMP unreachable) */
  socketErrors: number;
  /** sockets replaced because their 16-bit MID space was used up */
  socketRotations: number;
  latency: LatencySummary;
  /** generator CPU time in the window, ms */
  generatorCpuMs: number;
  /** generator event-loop utilisation in the window (0..1; near 1 means the generator is saturated) */
  generatorElu: number;
}

/** Defaults: 16 sockets, 256 outstanding, 10 s + 1 s warm-up, 2 s timeout, POST /echo 40 bytes, expect 2.04. */
export const DEFAULT_LOAD_OPTIONS: Omit<LoadOptions, 'port'> = {
  host: '127.0.0.1',
  sockets: 16,
  outstanding: 256,
  durationMs: 10_000,
  warmupMs: 1_000,
  timeoutMs: 2_000,
  path: 'echo',
  payloadSize: 40,
  expectCode: CODE_CHANGED,
};

/** Hard bounds on the parameters, so that a typo cannot turn into an unbounded flood. */
const MAX_OUTSTANDING = 10_000;
const MAX_SOCKETS = 256;
const MAX_DURATION_MS = 600_000;
/** Open the replacement socket when this many MIDs of a socket are used; switch at 65536. */
const MID_SPACE = 0x10000;
const ROTATE_PREPARE_AT = 0xf000;

/** A UDP socket with its MID space and MID → slot map. */
interface Conn {
  sock: dgram.Socket;
  lane: Lane;
  midBase: number;
  used: number;
  /** MID → slot index, -1 when free */
  slotOfMid: Int32Array;
  outstanding: number;
  retired: boolean;
  closed: boolean;
}

/** A socket position: its current Conn, the replacement being opened, and slots waiting for it. */
interface Lane {
  index: number;
  current: Conn;
  next: Conn | undefined;
  opening: boolean;
  waiting: Slot[];
}

/** One outstanding-request position with its own datagram buffer (patched in place per request). */
interface Slot {
  index: number;
  lane: Lane;
  buf: Buffer;
  token: number;
  mid: number;
  conn: Conn | undefined;
  sentAt: number;
}

/** Checks that a host is a loopback address (the benchmark never sends anywhere else). */
function assertLoopback(host: string): void {
  if (!/^127\.\d+\.\d+\.\d+$/.test(host) && host !== '::1') throw new Error(`refusing non-loopback host ${host}`);
}

/** Runs one bounded load run and resolves with its figures. */
export async function runLoad(options: Partial<LoadOptions> & { port: number }): Promise<LoadResult> {
  const o: LoadOptions = { ...DEFAULT_LOAD_OPTIONS, ...options };
  assertLoopback(o.host);
  if (!(o.outstanding >= 1 && o.outstanding <= MAX_OUTSTANDING)) throw new Error(`outstanding must be 1..${MAX_OUTSTANDING}`);
  if (!(o.sockets >= 1 && o.sockets <= MAX_SOCKETS)) throw new Error(`sockets must be 1..${MAX_SOCKETS}`);
  if (!(o.durationMs > 0 && o.durationMs <= MAX_DURATION_MS)) throw new Error(`duration must be 0..${MAX_DURATION_MS} ms`);
  if (!(o.warmupMs >= 0 && o.warmupMs <= MAX_DURATION_MS)) throw new Error('bad warm-up');
  const sockets = Math.min(o.sockets, o.outstanding);
  const payload = textPayload(o.payloadSize);
  const plen = payload.length;
  const template = buildTemplate({ type: 0, code: CODE_POST, tokenLength: 4, path: o.path, contentFormat: 0, payload });
  const family = o.host.includes(':') ? 'udp6' : 'udp4';

  const state: RunState = { running: true, measuring: false, windowStart: Infinity };
  let tokenCounter = (Math.random() * 0x1_0000_0000) >>> 0;
  let sent = 0;
  let timeouts = 0;
  let unmatched = 0;
  let socketErrors = 0;
  let socketRotations = 0;
  const tally = new AnswerTally(payload, o.expectCode);

  const slots: Slot[] = [];
  const lanes: Lane[] = [];
  const allConns = new Set<Conn>();

  const closeConn = (conn: Conn): void => {
    if (conn.closed) return;
    conn.closed = true;
    allConns.delete(conn);
    try {
      conn.sock.close();
    } catch {
      // already closed
    }
  };

  const openConn = (lane: Lane): Promise<Conn> =>
    new Promise<Conn>((resolve, reject) => {
      const sock = dgram.createSocket({ type: family, recvBufferSize: 1 << 20, sendBufferSize: 1 << 20 });
      const conn: Conn = {
        sock,
        lane,
        midBase: (Math.random() * MID_SPACE) | 0,
        used: 0,
        slotOfMid: new Int32Array(MID_SPACE).fill(-1),
        outstanding: 0,
        retired: false,
        closed: false,
      };
      const onStartError = (err: Error): void => reject(err);
      sock.once('error', onStartError);
      sock.connect(o.port, o.host, () => {
        sock.off('error', onStartError);
        sock.on('error', () => {
          socketErrors++;
        });
        sock.on('message', (msg: Buffer) => onMessage(conn, msg));
        allConns.add(conn);
        resolve(conn);
      });
    });

  const prepareNext = (lane: Lane): void => {
    if (lane.opening || lane.next) return;
    lane.opening = true;
    openConn(lane).then(
      (conn) => {
        lane.opening = false;
        if (!state.running) {
          closeConn(conn);
          return;
        }
        lane.next = conn;
        if (lane.waiting.length > 0) {
          const waiting = lane.waiting;
          lane.waiting = [];
          for (const s of waiting) send(s);
        }
      },
      () => {
        lane.opening = false;
        socketErrors++;
      },
    );
  };

  const release = (slot: Slot): void => {
    const conn = slot.conn!;
    conn.slotOfMid[slot.mid] = -1;
    conn.outstanding--;
    slot.conn = undefined;
    if (conn.retired && conn.outstanding === 0) closeConn(conn);
  };

  const send = (slot: Slot): void => {
    if (!state.running) return;
    const lane = slot.lane;
    let conn = lane.current;
    if (conn.used >= MID_SPACE) {
      const next = lane.next;
      if (!next) {
        lane.waiting.push(slot);
        prepareNext(lane);
        return;
      }
      conn.retired = true;
      if (conn.outstanding === 0) closeConn(conn);
      lane.current = conn = next;
      lane.next = undefined;
      socketRotations++;
    }
    const used = conn.used++;
    if (used === ROTATE_PREPARE_AT) prepareNext(lane);
    const mid = (conn.midBase + used) & 0xffff;
    const token = (tokenCounter = (tokenCounter + 1) >>> 0);
    const buf = slot.buf;
    buf[MID_OFFSET] = mid >> 8;
    buf[MID_OFFSET + 1] = mid & 0xff;
    buf.writeUInt32BE(token, TOKEN_OFFSET);
    slot.token = token;
    slot.mid = mid;
    slot.conn = conn;
    slot.sentAt = performance.now();
    conn.slotOfMid[mid] = slot.index;
    conn.outstanding++;
    if (state.measuring) sent++;
    conn.sock.send(buf);
  };

  const onMessage = (conn: Conn, msg: Buffer): void => {
    const n = msg.length;
    if (n < 4) {
      if (state.measuring) tally.errors++;
      return;
    }
    const si = conn.slotOfMid[(msg[2]! << 8) | msg[3]!]!;
    if (si < 0) {
      if (state.measuring) unmatched++;
      return;
    }
    const slot = slots[si]!;
    tally.answer(msg, n, slot.token, slot.sentAt, state.measuring);
    release(slot);
    send(slot);
  };

  const sweep = (): void => {
    const limit = performance.now() - o.timeoutMs;
    for (const slot of slots) {
      if (slot.conn && slot.sentAt < limit) {
        // only requests sent inside the window count (a cold-start loss in the warm-up is not a window timeout)
        if (state.measuring && slot.sentAt >= state.windowStart) timeouts++;
        release(slot);
        send(slot);
      }
    }
  };

  for (let i = 0; i < sockets; i++) {
    const lane: Lane = { index: i, current: undefined as unknown as Conn, next: undefined, opening: false, waiting: [] };
    lane.current = await openConn(lane);
    lanes.push(lane);
  }
  for (let i = 0; i < o.outstanding; i++) {
    slots.push({ index: i, lane: lanes[i % sockets]!, buf: Buffer.from(template), token: 0, mid: 0, conn: undefined, sentAt: 0 });
  }

  const measured = await runTimeline(o, state, slots.length, (i) => send(slots[i]!), sweep);
  for (const conn of [...allConns]) closeConn(conn);
  return {
    target: `${o.host}:${o.port}`,
    sockets,
    outstanding: o.outstanding,
    payloadSize: plen,
    warmupMs: o.warmupMs,
    ...tallyFields(tally, measured),
    sent,
    timeouts,
    unmatched,
    socketErrors,
    socketRotations,
  };
}

/** Messages a forked generator sends to its parent over IPC. */
export type GeneratorMessage = { type: 'phase'; phase: LoadPhase } | { type: 'result'; result: LoadResult } | { type: 'error'; message: string };

/** Parses CLI arguments into load options (durations in seconds on the command line). */
export function parseLoadArgs(argv: string[]): Partial<LoadOptions> & { port: number; json: boolean } {
  const { values } = parseArgs({
    args: argv,
    options: {
      host: { type: 'string', default: DEFAULT_LOAD_OPTIONS.host },
      port: { type: 'string', default: '5783' },
      sockets: { type: 'string', default: String(DEFAULT_LOAD_OPTIONS.sockets) },
      outstanding: { type: 'string', default: String(DEFAULT_LOAD_OPTIONS.outstanding) },
      duration: { type: 'string', default: String(DEFAULT_LOAD_OPTIONS.durationMs / 1000) },
      warmup: { type: 'string', default: String(DEFAULT_LOAD_OPTIONS.warmupMs / 1000) },
      timeout: { type: 'string', default: String(DEFAULT_LOAD_OPTIONS.timeoutMs / 1000) },
      path: { type: 'string', default: DEFAULT_LOAD_OPTIONS.path },
      'payload-size': { type: 'string', default: String(DEFAULT_LOAD_OPTIONS.payloadSize) },
      expect: { type: 'string', default: formatCode(DEFAULT_LOAD_OPTIONS.expectCode) },
      json: { type: 'boolean', default: false },
    },
    strict: true,
  });
  const num = cliNumber;
  return {
    host: values.host,
    port: num('port', values.port),
    sockets: num('sockets', values.sockets),
    outstanding: num('outstanding', values.outstanding),
    durationMs: num('duration', values.duration) * 1000,
    warmupMs: num('warmup', values.warmup) * 1000,
    timeoutMs: num('timeout', values.timeout) * 1000,
    path: values.path,
    payloadSize: num('payload-size', values['payload-size']),
    expectCode: parseCode(values.expect),
    json: values.json,
  };
}

/** One-line human summary of a result. */
export function formatLoadResult(r: LoadResult): string {
  return (
    `${r.target}: ${r.requestsPerSecond} req/s (${r.completed} in ${(r.windowMs / 1000).toFixed(2)} s), ` +
    `timeouts ${r.timeouts}, errors ${r.errors}, unmatched ${r.unmatched}, ` +
    `latency avg ${r.latency.avgMs} ms p50 ${r.latency.p50Ms} ms p99 ${r.latency.p99Ms} ms, ` +
    `generator cpu ${r.generatorCpuMs} ms elu ${r.generatorElu}`
  );
}

/** CLI entry: runs one load run (see generatorMain). */
async function main(): Promise<void> {
  const { json, ...opts } = parseLoadArgs(process.argv.slice(2));
  await generatorMain(Boolean(json), (onPhase) => runLoad({ ...opts, onPhase }), formatLoadResult);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  void main();
}

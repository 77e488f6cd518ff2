// Bounded loopback coaps load generator (library + CLI): opens S DTLS sessions (PSK `cali.` identities,
// TLS_PSK_WITH_AES_128_CCM_8, server-issued CIDs), then keeps N CON POST /echo requests outstanding over them
// and reports completed requests/s, timeouts, errors and latency for a measured window (the LoadResult shape
// of coap-load, so that measure.ts can sample the server around the window).
// A client DtlsConnector has one socket and one session per server address, so each session is its own
// connector (and socket); the connectors share one timer wheel. Requests are spread round-robin over the sessions.
// Record path (--record-path):
//  - lean (default): after its handshake a session's connector is stopped and the session continues on a
//    connected UDP socket bound to the same local port (the server sees the same peer), sealing and opening
//    the records with the connection's RecordProtection directly — the coaps counterpart of coap-load's
//    connected raw sockets, so that the generator spends its CPU on crypto and syscalls, not on a client stack;
//  - connector: every request goes through DtlsConnector.send / onDatagram (the full client record path).
import dgram from 'node:dgram';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { performance } from 'node:perf_hooks';
import { cipherSuiteByName } from '../src/dtls/cipher-suites.js';
import { DtlsConnector } from '../src/dtls/connector.js';
import type { Connection } from '../src/dtls/connection.js';
import { takeSequenceNumber } from '../src/dtls/epoch-state.js';
import { ContentType, parseRecord } from '../src/dtls/record.js';
import { TimerWheel } from '../src/util/timer-wheel.js';
import { buildTemplate, CODE_CHANGED, CODE_POST, formatCode, MID_OFFSET, parseCode, textPayload, TOKEN_OFFSET } from './coap-wire.js';
import type { GeneratorMessage, LatencySummary, LoadPhase, LoadResult } from './coap-load.js';
import { AnswerTally, generatorMain, round, runTimeline, tallyFields, type RunState } from './load-timeline.js';
import { cliNumber } from './cli-number.js';

/** Options of one coaps load run. */
export interface CoapsLoadOptions {
  /** server address (loopback only) */
  host: string;
  /** server coaps port */
  port: number;
  /** DTLS sessions (= client connectors = UDP sockets) */
  sessions: number;
  /** CON requests kept outstanding overall (spread round-robin over the sessions) */
  outstanding: number;
  /** measured window, ms */
  durationMs: number;
  /** warm-up before the window, ms (not counted) */
  warmupMs: number;
  /** a request unanswered after this many ms counts as a timeout and is replaced (no retransmission) */
  timeoutMs: number;
  /** Uri-Path of the requests */
  path: string;
  /** payload size in bytes (text/plain) */
  payloadSize: number;
  /** expected response code byte (2.04 = 0x44) */
  expectCode: number;
  /** CID length the client asks the server to use towards it (0 = CID support, but records to the client carry none) */
  clientCidLength: number;
  /** cipher suite name (PSK) */
  suite: string;
  /** handshakes run in parallel while the sessions are opened */
  handshakeParallel: number;
  /** a session handshake not done after this many ms is retried (at most twice) */
  handshakeTimeoutMs: number;
  /** lean: own connected socket + RecordProtection after the handshake; connector: DtlsConnector.send/onDatagram */
  recordPath: RecordPath;
  /** called when the measured window starts / ends */
  onPhase?: (phase: LoadPhase) => void;
}

/** How application records are sent and received (see the file comment). */
export type RecordPath = 'lean' | 'connector';

/** Figures of a coaps run: the LoadResult of coap-load plus the session set-up. */
export interface CoapsLoadResult extends LoadResult {
  /** sessions asked for / established */
  sessionsRequested: number;
  sessionsEstablished: number;
  /** failed session handshakes (after retries) and their first reason */
  handshakeFailures: number;
  handshakeFailureReason?: string;
  /** time to open all sessions, ms */
  handshakeMs: number;
  suite: string;
  /** server CID length seen by the client (bytes in every request record) */
  serverCidLength: number;
  clientCidLength: number;
  recordPath: RecordPath;
  /** received datagrams that were no authentic application record of the session (alerts, bad MAC) */
  badRecords: number;
  /** requests not sent because their session used up its 16-bit MID space */
  midExhausted: number;
}

/** Defaults: 256 sessions, 256 outstanding, 10 s + 1 s warm-up, 2 s timeout, POST /echo 40 bytes, client CID 0. */
export const DEFAULT_COAPS_OPTIONS: Omit<CoapsLoadOptions, 'port'> = {
  host: '127.0.0.1',
  sessions: 256,
  outstanding: 256,
  durationMs: 10_000,
  warmupMs: 1_000,
  timeoutMs: 2_000,
  path: 'echo',
  payloadSize: 40,
  expectCode: CODE_CHANGED,
  clientCidLength: 0,
  suite: 'TLS_PSK_WITH_AES_128_CCM_8',
  handshakeParallel: 32,
  handshakeTimeoutMs: 5_000,
  recordPath: 'lean',
};

/** Hard bounds, so that a typo cannot turn into an unbounded flood. */
const MAX_SESSIONS = 1024;
const MAX_OUTSTANDING = 10_000;
const MAX_DURATION_MS = 600_000;
/** MIDs per session (a reused MID within EXCHANGE_LIFETIME would be a duplicate for the server). */
const MID_SPACE = 0x10000;

/** One DTLS session: its connection, how a request leaves, its MID counter and slots. */
interface Session {
  index: number;
  connector: DtlsConnector;
  conn: Connection;
  /** sends one CoAP message (encrypts synchronously: the buffer may be patched again right after) */
  transmit: (coap: Buffer) => void;
  /** lean path: the connected socket that replaced the connector's */
  sock: dgram.Socket | undefined;
  midBase: number;
  used: number;
  slots: Slot[];
}

/** One outstanding-request position with its own plaintext buffer (patched in place per request). */
interface Slot {
  index: number;
  session: Session;
  buf: Buffer;
  token: number;
  mid: number;
  pending: boolean;
  sentAt: number;
}

/** Checks that a host is a loopback address (the benchmark never sends anywhere else). */
function assertLoopback(host: string): void {
  if (!/^127\.\d+\.\d+\.\d+$/.test(host) && host !== '::1') throw new Error(`refusing non-loopback host ${host}`);
}

/** A benchmark PSK identity: `cali.` + 16 uppercase hex characters (run-unique prefix, session index). */
function caliIdentity(run: number, index: number): string {
  return 'cali.' + (run.toString(16) + index.toString(16).padStart(8, '0')).toUpperCase().padStart(16, '0');
}

/** Opens one session: connects with a timeout, retries twice; resolves with the connection. */
async function openSession(c: DtlsConnector, host: string, port: number, timeoutMs: number): Promise<Connection> {
  let lastError: Error | undefined;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
          c.close(host, port);
          reject(new Error(`handshake timeout after ${timeoutMs} ms`));
        }, timeoutMs);
        c.connect(host, port).then(
          () => {
            clearTimeout(timer);
            resolve();
          },
          (err: Error) => {
            clearTimeout(timer);
            reject(err);
          },
        );
      });
      const conn = c.getConnection(host, port);
      if (conn === undefined) throw new Error('no connection after the handshake');
      return conn;
    } catch (err) {
      lastError = err as Error;
    }
  }
  throw lastError ?? new Error('handshake failed');
}

/** Runs one bounded coaps load run and resolves with its figures. */
export async function runCoapsLoad(options: Partial<CoapsLoadOptions> & { port: number }): Promise<CoapsLoadResult> {
  const o: CoapsLoadOptions = { ...DEFAULT_COAPS_OPTIONS, ...options };
  assertLoopback(o.host);
  if (!(o.sessions >= 1 && o.sessions <= MAX_SESSIONS)) throw new Error(`sessions must be 1..${MAX_SESSIONS}`);
  if (!(o.outstanding >= 1 && o.outstanding <= MAX_OUTSTANDING)) throw new Error(`outstanding must be 1..${MAX_OUTSTANDING}`);
  if (!(o.durationMs > 0 && o.durationMs <= MAX_DURATION_MS)) throw new Error(`duration must be 0..${MAX_DURATION_MS} ms`);
  if (!(o.warmupMs >= 0 && o.warmupMs <= MAX_DURATION_MS)) throw new Error('bad warm-up');
  const suite = cipherSuiteByName(o.suite);
  if (suite === undefined || !suite.psk) throw new Error(`${o.suite}: not a known PSK cipher suite`);
  const payload = textPayload(o.payloadSize);
  const plen = payload.length;
  const template = buildTemplate({ type: 0, code: CODE_POST, tokenLength: 4, path: o.path, contentFormat: 0, payload });
  const wheel = new TimerWheel(10);

  const state: RunState = { running: true, measuring: false, windowStart: Infinity };
  let tokenCounter = (Math.random() * 0x1_0000_0000) >>> 0;
  let sent = 0;
  let timeouts = 0;
  let unmatched = 0;
  let socketErrors = 0;
  let midExhausted = 0;
  let badRecords = 0;
  const tally = new AnswerTally(payload, o.expectCode);

  // ---- open the sessions (bounded parallelism)
  const run = (Math.random() * 0xffffff) >>> 0;
  const connectors: DtlsConnector[] = [];
  for (let i = 0; i < o.sessions; i++) {
    const c = new DtlsConnector({
      address: o.host.includes(':') ? '::1' : '127.0.0.1',
      port: 0,
      role: 'client',
      pskIdentity: caliIdentity(run, i),
      pskSecret: Buffer.from('.fornium'),
      offeredCipherSuites: [suite],
      wheel,
      config: { cidLength: o.clientCidLength, maxConnections: 4 },
      onError: () => {
        socketErrors++;
      },
    });
    await c.start();
    connectors.push(c);
  }
  const hs0 = performance.now();
  const sessions: Session[] = [];
  let handshakeFailures = 0;
  let handshakeFailureReason: string | undefined;
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(o.handshakeParallel, o.sessions) }, async () => {
      while (next < connectors.length) {
        const c = connectors[next++]!;
        try {
          const conn = await openSession(c, o.host, o.port, o.handshakeTimeoutMs);
          sessions.push({
            index: connectors.indexOf(c),
            connector: c,
            conn,
            transmit: () => {},
            sock: undefined,
            midBase: (Math.random() * MID_SPACE) | 0,
            used: 0,
            slots: [],
          });
        } catch (err) {
          handshakeFailures++;
          handshakeFailureReason ??= (err as Error).message;
        }
      }
    }),
  );
  const handshakeMs = performance.now() - hs0;
  if (sessions.length === 0) {
    await Promise.all(connectors.map((c) => c.stop()));
    wheel.clear();
    throw new Error(`no DTLS session could be opened (${handshakeFailureReason ?? 'unknown'})`);
  }
  sessions.sort((a, b) => a.index - b.index);
  const serverCidLength = sessions[0]!.conn.writeCid?.length ?? 0;
  const onSendError = (err: Error | null): void => {
    if (err) socketErrors++;
  };
  for (const s of sessions) {
    if (o.recordPath === 'connector') {
      const ctx = { address: o.host, port: o.port, connection: s.conn };
      s.transmit = (coap) => s.connector.send(coap, ctx, onSendError);
      s.connector.onDatagram = (data) => onMessage(s, data);
    } else {
      s.sock = await takeOver(s, o.host, o.port);
      const conn = s.conn;
      const protection = conn.protection!;
      const epoch = conn.epoch!;
      const writeCid = conn.writeCid;
      const sock = s.sock;
      s.transmit = (coap) => {
        const seq = takeSequenceNumber(epoch);
        if (seq === undefined) return;
        sock.send(protection.encryptRecord(ContentType.APPLICATION_DATA, 1, seq, coap, writeCid));
      };
      const readCidLength = conn.readCid?.length ?? 0;
      sock.on('message', (msg: Buffer) => {
        const record = parseRecord(msg, 0, readCidLength);
        const plain = record !== undefined && record.epoch === 1 ? protection.decrypt(record) : undefined;
        if (plain === undefined || plain.type !== ContentType.APPLICATION_DATA) {
          if (state.measuring) badRecords++;
          return;
        }
        onMessage(s, plain.plaintext);
      });
      sock.on('error', () => {
        socketErrors++;
      });
    }
  }

  // ---- request slots, spread round-robin over the sessions
  const slots: Slot[] = [];
  for (let i = 0; i < o.outstanding; i++) {
    const session = sessions[i % sessions.length]!;
    const slot: Slot = { index: i, session, buf: Buffer.from(template), token: 0, mid: 0, pending: false, sentAt: 0 };
    session.slots.push(slot);
    slots.push(slot);
  }

  const send = (slot: Slot): void => {
    if (!state.running) return;
    const s = slot.session;
    if (s.used >= MID_SPACE) {
      if (state.measuring) midExhausted++;
      return;
    }
    const mid = (s.midBase + s.used++) & 0xffff;
    const token = (tokenCounter = (tokenCounter + 1) >>> 0);
    const buf = slot.buf;
    buf[MID_OFFSET] = mid >> 8;
    buf[MID_OFFSET + 1] = mid & 0xff;
    buf.writeUInt32BE(token, TOKEN_OFFSET);
    slot.token = token;
    slot.mid = mid;
    slot.pending = true;
    slot.sentAt = performance.now();
    if (state.measuring) sent++;
    s.transmit(buf);
  };

  const onMessage = (session: Session, msg: Buffer): void => {
    const n = msg.length;
    if (n < 4) {
      if (state.measuring) tally.errors++;
      return;
    }
    const mid = (msg[2]! << 8) | msg[3]!;
    let slot: Slot | undefined;
    const list = session.slots;
    for (let i = 0; i < list.length; i++) {
      const s = list[i]!;
      if (s.pending && s.mid === mid) {
        slot = s;
        break;
      }
    }
    if (slot === undefined) {
      if (state.measuring) unmatched++;
      return;
    }
    tally.answer(msg, n, slot.token, slot.sentAt, state.measuring);
    slot.pending = false;
    send(slot);
  };

  const sweep = (): void => {
    const limit = performance.now() - o.timeoutMs;
    for (const slot of slots) {
      if (slot.pending && slot.sentAt < limit) {
        // only requests sent inside the window count (a cold-start loss in the warm-up is not a window timeout)
        if (state.measuring && slot.sentAt >= state.windowStart) timeouts++;
        slot.pending = false;
        send(slot);
      }
    }
  };

  const measured = await runTimeline(o, state, slots.length, (i) => send(slots[i]!), sweep);
  for (const s of sessions) s.sock?.close();
  await Promise.all(connectors.map((c) => c.stop()));
  wheel.clear();
  return {
    target: `${o.host}:${o.port}`,
    sockets: sessions.length,
    outstanding: o.outstanding,
    payloadSize: plen,
    warmupMs: o.warmupMs,
    ...tallyFields(tally, measured),
    sent,
    timeouts,
    unmatched,
    socketErrors,
    socketRotations: 0,
    sessionsRequested: o.sessions,
    sessionsEstablished: sessions.length,
    handshakeFailures,
    ...(handshakeFailureReason !== undefined ? { handshakeFailureReason } : {}),
    handshakeMs: Math.round(handshakeMs),
    suite: o.suite,
    serverCidLength,
    clientCidLength: o.clientCidLength,
    recordPath: o.recordPath,
    badRecords,
    midExhausted,
  };
}

/**
 * Lean record path: stops the session's connector (its connection object, keys and sequence numbers stay) and
 * binds a new UDP socket to the same local port, connected to the server.
 */
async function takeOver(s: Session, host: string, port: number): Promise<dgram.Socket> {
  const localPort = s.connector.localPort;
  const localAddress = s.connector.localAddress;
  await s.connector.stop();
  const sock = dgram.createSocket({ type: localAddress.includes(':') ? 'udp6' : 'udp4', recvBufferSize: 1 << 18, sendBufferSize: 1 << 18 });
  await new Promise<void>((resolve, reject) => {
    sock.once('error', reject);
    sock.bind({ address: localAddress, port: localPort, exclusive: true }, () => {
      sock.connect(port, host, () => {
        sock.off('error', reject);
        resolve();
      });
    });
  });
  return sock;
}

/** Checks a --record-path value. */
function recordPathOf(v: string): RecordPath {
  if (v !== 'lean' && v !== 'connector') throw new Error(`--record-path must be lean or connector, got ${v}`);
  return v;
}

/** Parses CLI arguments into load options (durations in seconds on the command line). */
export function parseCoapsLoadArgs(argv: string[]): Partial<CoapsLoadOptions> & { port: number; json: boolean } {
  const d = DEFAULT_COAPS_OPTIONS;
  const { values } = parseArgs({
    args: argv,
    options: {
      host: { type: 'string', default: d.host },
      port: { type: 'string', default: '5784' },
      sessions: { type: 'string', default: String(d.sessions) },
      outstanding: { type: 'string', default: String(d.outstanding) },
      duration: { type: 'string', default: String(d.durationMs / 1000) },
      warmup: { type: 'string', default: String(d.warmupMs / 1000) },
      timeout: { type: 'string', default: String(d.timeoutMs / 1000) },
      path: { type: 'string', default: d.path },
      'payload-size': { type: 'string', default: String(d.payloadSize) },
      expect: { type: 'string', default: formatCode(d.expectCode) },
      'client-cid': { type: 'string', default: String(d.clientCidLength) },
      suite: { type: 'string', default: d.suite },
      'handshake-parallel': { type: 'string', default: String(d.handshakeParallel) },
      'record-path': { type: 'string', default: d.recordPath },
      json: { type: 'boolean', default: false },
    },
    strict: true,
  });
  const num = cliNumber;
  return {
    host: values.host,
    port: num('port', values.port),
    sessions: num('sessions', values.sessions),
    outstanding: num('outstanding', values.outstanding),
    durationMs: num('duration', values.duration) * 1000,
    warmupMs: num('warmup', values.warmup) * 1000,
    timeoutMs: num('timeout', values.timeout) * 1000,
    path: values.path,
    payloadSize: num('payload-size', values['payload-size']),
    expectCode: parseCode(values.expect),
    clientCidLength: num('client-cid', values['client-cid']),
    suite: values.suite,
    handshakeParallel: num('handshake-parallel', values['handshake-parallel']),
    recordPath: recordPathOf(values['record-path']),
    json: values.json,
  };
}

/** One-line human summary of a result. */
export function formatCoapsLoadResult(r: CoapsLoadResult): string {
  return (
    `coaps ${r.target}: ${r.requestsPerSecond} req/s (${r.completed} in ${(r.windowMs / 1000).toFixed(2)} s) over ` +
    `${r.sessionsEstablished}/${r.sessionsRequested} sessions (opened in ${r.handshakeMs} ms, ${r.recordPath} record path), ` +
    `timeouts ${r.timeouts}, errors ${r.errors}, unmatched ${r.unmatched}, bad records ${r.badRecords}, ` +
    `latency avg ${r.latency.avgMs} ms p50 ${r.latency.p50Ms} ms p99 ${r.latency.p99Ms} ms, ` +
    `generator cpu ${r.generatorCpuMs} ms elu ${r.generatorElu}`
  );
}

/** CLI entry: runs one load run (see generatorMain). */
async function main(): Promise<void> {
  const { json, ...opts } = parseCoapsLoadArgs(process.argv.slice(2));
  await generatorMain(Boolean(json), (onPhase) => runCoapsLoad({ ...opts, onPhase }), formatCoapsLoadResult);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  void main();
}

// coap+tcp / coaps+tcp load generator (library + CLI, issue 11): N connections (node:net, or node:tls), each sends
// its CSM first (RFC 8323 §5.3), then keeps a bounded window of pipelined CON-less requests in flight; the same
// request over plain coap (mode udp: N UDP sockets, CON with piggy-backed ACK) for the baseline. The request is
// the benchmark scenario's (clients.md §3.3, §6 run 2): POST /benchmark?rlen=40 with a 40-byte payload,
// Content-Format 0 and Accept 0, answered 2.04 with a 40-byte payload (resources.md §2.2, §1.2).
import crypto from 'node:crypto';
import dgram from 'node:dgram';
import net from 'node:net';
import tls from 'node:tls';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { performance } from 'node:perf_hooks';
import { decodeMessage, encode, isFormatFailure } from '../src/coap/codec.js';
import { CON, Code, Opt, type CoapMessage } from '../src/coap/message.js';
import { createTcpFrameReader, encodeTcp } from '../src/coap/tcp-codec.js';
import { buildCsm } from '../src/coap/tcp-signaling.js';
import { cliNumber } from './cli-number.js';
import type { LoadPhase, LoadResult } from './coap-load.js';
import { generatorMain, runTimeline, Tally, tallyFields, type RunState } from './load-timeline.js';

/** Transport of a run. */
export type TcpLoadMode = 'udp' | 'tcp' | 'tls';

/** Options of one run. */
export interface TcpLoadOptions {
  host: string;
  port: number;
  mode: TcpLoadMode;
  /** connections (udp: sockets) */
  connections: number;
  /** requests in flight per connection */
  window: number;
  /** `rlen` of the request (response payload length) */
  rlen: number;
  /** request payload bytes */
  payloadSize: number;
  durationMs: number;
  warmupMs: number;
  /** an unanswered request is replaced after this many ms (TCP: the connection is kept) */
  timeoutMs: number;
  /** connections and handshakes must be up within this many ms */
  connectTimeoutMs: number;
  onPhase?: (phase: LoadPhase) => void;
}

/** Bounds of the generator whatever the command line asks. */
export const MAX_CONNECTIONS = 2000;
export const MAX_WINDOW = 64;

/** The benchmark request (clients.md §3.3): POST /benchmark?rlen=n, Content-Format 0, Accept 0, payload. */
export function benchmarkRequest(rlen: number, payload: Buffer, token: Buffer, mid: number): CoapMessage {
  return {
    type: CON,
    code: Code.POST,
    mid,
    token,
    options: [
      { number: Opt.URI_PATH, value: Buffer.from('benchmark') },
      { number: Opt.CONTENT_FORMAT, value: Buffer.alloc(0) },
      { number: Opt.URI_QUERY, value: Buffer.from(`rlen=${rlen}`) },
      { number: Opt.ACCEPT, value: Buffer.alloc(0) },
    ],
    payload,
  };
}

interface Conn {
  index: number;
  write: (frame: Buffer) => void;
  /** per slot: sent time (0 = idle) */
  sentAt: Float64Array;
  /** per slot: the request bytes (UDP: the MID is rewritten per send) */
  frames: Buffer[];
  destroy: () => void;
}

/** Runs the load and returns the figures (coap-load's shape, so bench/measure.ts can fork it). */
export async function runTcpLoad(o: TcpLoadOptions): Promise<LoadResult> {
  if (o.connections < 1 || o.connections > MAX_CONNECTIONS) throw new RangeError(`connections must be 1..${MAX_CONNECTIONS}`);
  if (o.window < 1 || o.window > MAX_WINDOW) throw new RangeError(`window must be 1..${MAX_WINDOW}`);
  const state: RunState = { running: true, measuring: false, windowStart: Infinity };
  const tally = new Tally();
  const payload = crypto.randomBytes(o.payloadSize);
  let sent = 0;
  let timeouts = 0;
  let unmatched = 0;
  let socketErrors = 0;
  let closedEarly = 0;
  let mid = (Math.random() * 0x10000) | 0;

  /** One answer on connection c. */
  const answer = (c: Conn, msg: CoapMessage): void => {
    if (msg.code >> 5 === 7) return; // signaling (CSM, Pong)
    if (msg.token.length !== 4) {
      if (state.measuring) unmatched++;
      return;
    }
    const slot = msg.token.readUInt32BE(0) & 0xff;
    const t = c.sentAt[slot];
    if (t === undefined || t === 0) {
      if (state.measuring) unmatched++;
      return;
    }
    c.sentAt[slot] = 0;
    if (state.measuring && t >= state.windowStart) {
      if (msg.code === Code.CHANGED && msg.payload.length === o.rlen) {
        tally.ok(t);
      } else {
        tally.fail(`code ${msg.code >> 5}.${String(msg.code & 31).padStart(2, '0')} payload ${msg.payload.length}`);
      }
    }
    if (state.running) send(c, slot);
  };

  const send = (c: Conn, slot: number): void => {
    const frame = c.frames[slot]!;
    if (o.mode === 'udp') {
      mid = (mid + 1) & 0xffff;
      frame.writeUInt16BE(mid, 2);
    }
    c.sentAt[slot] = performance.now();
    if (state.measuring) sent++;
    c.write(frame);
  };

  const frameOf = (index: number, slot: number): Buffer => {
    const token = Buffer.alloc(4);
    token.writeUInt32BE(((index & 0xffffff) << 8) | slot);
    const msg = benchmarkRequest(o.rlen, payload, token, 0);
    return o.mode === 'udp' ? encode(msg) : encodeTcp(msg);
  };

  const openUdp = (index: number): Promise<Conn> =>
    new Promise((resolve, reject) => {
      const s = dgram.createSocket('udp4');
      const c: Conn = {
        index,
        write: (frame) => s.send(frame, o.port, o.host),
        sentAt: new Float64Array(o.window),
        frames: Array.from({ length: o.window }, (_, slot) => frameOf(index, slot)),
        destroy: () => s.close(),
      };
      s.on('message', (data) => {
        const m = decodeMessage(data);
        if (isFormatFailure(m)) {
          if (state.measuring) tally.fail('undecodable');
          return;
        }
        answer(c, m);
      });
      s.on('error', () => socketErrors++);
      s.once('error', reject);
      s.bind(0, '127.0.0.1', () => {
        s.off('error', reject);
        resolve(c);
      });
    });

  const openStream = (index: number): Promise<Conn> =>
    new Promise((resolve, reject) => {
      const socket =
        o.mode === 'tls'
          ? tls.connect({ host: o.host, port: o.port, rejectUnauthorized: false, servername: 'localhost' })
          : net.connect({ host: o.host, port: o.port });
      socket.setNoDelay(true);
      const reader = createTcpFrameReader({ maxMessageSize: 1 << 20 });
      const c: Conn = {
        index,
        write: (frame) => void socket.write(frame),
        sentAt: new Float64Array(o.window),
        frames: Array.from({ length: o.window }, (_, slot) => frameOf(index, slot)),
        destroy: () => socket.destroy(),
      };
      let up = false;
      socket.on('data', (chunk: Buffer) => {
        let msgs: CoapMessage[];
        try {
          msgs = reader.push(chunk);
        } catch {
          if (state.measuring) tally.fail('bad frame');
          socket.destroy();
          return;
        }
        for (const m of msgs) {
          if (!up && m.code === buildCsm().code) {
            up = true;
            resolve(c);
          }
          answer(c, m);
        }
      });
      socket.on('error', (err) => {
        socketErrors++;
        if (!up) reject(err);
      });
      socket.on('close', () => {
        if (state.running) closedEarly++;
        if (!up) reject(new Error(`connection ${index} closed before the server's CSM`));
      });
      socket.once(o.mode === 'tls' ? 'secureConnect' : 'connect', () => socket.write(encodeTcp(buildCsm({ maxMessageSize: 1 << 20 }))));
    });

  // open all connections (in batches, so that the accept queue is not flooded), bounded in time
  const conns: Conn[] = [];
  const connectAll = async (): Promise<void> => {
    for (let i = 0; i < o.connections; i += 50) {
      const batch = [];
      for (let j = i; j < Math.min(o.connections, i + 50); j++) batch.push(o.mode === 'udp' ? openUdp(j) : openStream(j));
      conns.push(...(await Promise.all(batch)));
    }
  };
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      connectAll(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${o.connections} ${o.mode} connections not up within ${o.connectTimeoutMs} ms`)), o.connectTimeoutMs);
      }),
    ]);
  } catch (err) {
    for (const c of conns) c.destroy();
    throw err;
  } finally {
    clearTimeout(timer);
  }

  const sweep = (): void => {
    const now = performance.now();
    for (const c of conns) {
      for (let s = 0; s < o.window; s++) {
        const t = c.sentAt[s]!;
        if (t === 0 || now - t < o.timeoutMs) continue;
        if (state.measuring && t >= state.windowStart) timeouts++;
        c.sentAt[s] = 0;
        if (state.running) send(c, s);
      }
    }
  };
  const total = conns.length * o.window;
  // slot i: connection i % n, window position i / n (the ramp-up fills every connection's first slot first)
  const measured = await runTimeline(o, state, total, (i) => send(conns[i % conns.length]!, Math.floor(i / conns.length)), sweep);
  for (const c of conns) c.destroy();
  return {
    target: `${o.mode} ${o.host}:${o.port} POST /benchmark?rlen=${o.rlen} x${o.connections} window ${o.window}${closedEarly > 0 ? ` (${closedEarly} closed early)` : ''}`,
    sockets: o.connections,
    outstanding: total,
    payloadSize: o.payloadSize,
    warmupMs: o.warmupMs,
    ...tallyFields(tally, measured),
    sent,
    timeouts,
    unmatched,
    socketErrors,
    socketRotations: 0,
  };
}

/** CLI entry (forked by bench/tcp-section.ts through measure.ts, or run by hand). */
async function main(): Promise<void> {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    options: {
      host: { type: 'string', default: '127.0.0.1' },
      port: { type: 'string', default: '5783' },
      mode: { type: 'string', default: 'tcp' },
      connections: { type: 'string', default: '200' },
      window: { type: 'string', default: '2' },
      rlen: { type: 'string', default: '40' },
      payload: { type: 'string', default: '40' },
      duration: { type: 'string', default: '10' },
      warmup: { type: 'string', default: '1' },
      timeout: { type: 'string', default: '2' },
      json: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.mode !== 'udp' && values.mode !== 'tcp' && values.mode !== 'tls') throw new Error(`--mode udp|tcp|tls, not ${values.mode}`);
  if (!/^(127\.\d+\.\d+\.\d+|::1|localhost)$/.test(values.host)) throw new Error('--host must be a loopback address');
  const opts: TcpLoadOptions = {
    host: values.host,
    port: cliNumber('port', values.port),
    mode: values.mode,
    connections: cliNumber('connections', values.connections),
    window: cliNumber('window', values.window),
    rlen: cliNumber('rlen', values.rlen),
    payloadSize: cliNumber('payload', values.payload),
    durationMs: cliNumber('duration', values.duration) * 1000,
    warmupMs: cliNumber('warmup', values.warmup) * 1000,
    timeoutMs: cliNumber('timeout', values.timeout) * 1000,
    connectTimeoutMs: 30_000,
  };
  await generatorMain(Boolean(values.json), (onPhase) => runTcpLoad({ ...opts, onPhase }), (r) => `${r.target}: ${r.requestsPerSecond} req/s, timeouts ${r.timeouts}, errors ${r.errors} ${JSON.stringify(r.errorCodes)}`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  void main();
}

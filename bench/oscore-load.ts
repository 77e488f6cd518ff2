// OSCORE load generator (library + CLI, issue 11): keeps N CON requests outstanding towards the plugtest
// server's coap endpoint, either plain GET /test or OSCORE-protected GET /oscore (RFC 8613 §8.1, the
// plugtest client context; every answer verified, §8.4). Both modes build and check every message with
// the same codec, so their figures differ by the OSCORE work only. The generator does only the OSCORE work
// a request needs: its inner request (code, Uri-Path) is the same for all, so its plaintext (§5.3) is
// encoded once; every request still takes the next sequence number (a fresh Partial IV, nonce and AAD) and
// is encrypted on its own (oscore/protect.ts protectRequestPlaintext), and every response counted was
// decrypted and verified against its request (§8.4, protect.ts unprotectResponse: AEAD tag, inner code 2.05,
// non-empty payload). One UDP socket at a time (a new one when
// the 16-bit MID space runs out): requests reach the server in sequence-number order, which its replay
// window of 32 needs (§7.4), so keep at most 32 outstanding.
import dgram from 'node:dgram';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { performance } from 'node:perf_hooks';
import { decode, encode } from '../src/coap/codec.js';
import { ACK, CON, Code, Opt, type CoapMessage, type CoapOption } from '../src/coap/message.js';
import { decodeBlock, encodeBlock, getOption } from '../src/coap/options.js';
import type { SecurityContext } from '../src/oscore/context.js';
import { contextFromInfo, parseOscoreInfo } from '../src/oscore/info-parse.js';
import { countOscoreOptions, oscoreOptionOf } from '../src/oscore/option-classes.js';
import { encodePlaintext, protectRequestPlaintext, unprotectResponse, type RequestBinding } from '../src/oscore/protect.js';
import { plugtestClientContext } from '../src/oscore/store.js';
import { cliNumber } from './cli-number.js';
import type { LoadPhase, LoadResult } from './coap-load.js';
import { generatorMain, runTimeline, Tally, tallyFields, type RunState } from './load-timeline.js';

/** What is sent: plain GET /test or OSCORE-protected GET /oscore. */
export type OscoreLoadMode = 'plain' | 'oscore';

/** Options of one run. */
export interface OscoreLoadOptions {
  host: string;
  port: number;
  mode: OscoreLoadMode;
  /** outstanding CON requests (at most 32: the server's replay window) */
  outstanding: number;
  durationMs: number;
  warmupMs: number;
  /** an unanswered request is replaced after this many ms (no retransmission) */
  timeoutMs: number;
  onPhase?: (phase: LoadPhase) => void;
}

/** The server's replay window (resources.md §3.22): more outstanding requests could arrive too far out of order. */
export const MAX_OSCORE_OUTSTANDING = 32;
/** MIDs used on one socket before the next one takes over (the server deduplicates by peer and MID). */
const MIDS_PER_SOCKET = 60_000;

interface Slot {
  mid: number;
  token: Buffer;
  sentAt: number;
  sock: dgram.Socket | undefined;
  binding: RequestBinding | undefined;
}

/**
 * The plugtest client context continued where the server's /oscoreInfo says (ID Context, next sequence number),
 * so that a second run against the same server is not refused as a replay; read with plain CON GETs, block by
 * block (RFC 7959 §2.4; the plugtest endpoint answers in small blocks).
 */
async function syncedContext(o: OscoreLoadOptions): Promise<SecurityContext> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => s.bind(0, '127.0.0.1', () => resolve()));
  const call = (req: CoapMessage): Promise<CoapMessage | undefined> =>
    new Promise((resolve) => {
      const timer = setTimeout(() => resolve(undefined), 3000);
      const onMessage = (data: Buffer): void => {
        try {
          const m = decode(data);
          if (m.mid !== req.mid) return;
          clearTimeout(timer);
          s.off('message', onMessage);
          resolve(m);
        } catch {
          // not CoAP: keep waiting
        }
      };
      s.on('message', onMessage);
      s.send(encode(req), o.port, o.host);
    });
  const chunks: Buffer[] = [];
  try {
    let block: Buffer | undefined;
    for (let num = 0; num < 64; num++) {
      const options: CoapOption[] = [{ number: Opt.URI_PATH, value: Buffer.from('oscoreInfo') }];
      if (block !== undefined) options.push({ number: Opt.BLOCK2, value: block });
      const res = await call({ type: CON, code: Code.GET, mid: 100 + num, token: Buffer.from('01', 'hex'), options, payload: Buffer.alloc(0) });
      if (res === undefined) break;
      chunks.push(res.payload);
      const b2 = getOption(res, Opt.BLOCK2);
      const b = b2 === undefined ? undefined : decodeBlock(b2);
      if (b === undefined || !b.more) break;
      block = encodeBlock({ num: b.num + 1, more: false, szx: b.szx });
    }
    return contextFromInfo(plugtestClientContext(), parseOscoreInfo(Buffer.concat(chunks).toString('utf8')));
  } finally {
    s.close();
  }
}

/** Runs the load and returns the figures (the shape of coap-load's, so bench/measure.ts can run it). */
export async function runOscoreLoad(o: OscoreLoadOptions): Promise<LoadResult> {
  if (o.outstanding < 1 || o.outstanding > MAX_OSCORE_OUTSTANDING) throw new RangeError(`outstanding must be 1..${MAX_OSCORE_OUTSTANDING}`);
  const ctx = await syncedContext(o);
  const state: RunState = { running: true, measuring: false, windowStart: Infinity };
  const tally = new Tally();
  let sent = 0;
  let timeouts = 0;
  let unmatched = 0;
  let socketErrors = 0;
  let rotations = 0;
  const byMid = new Map<number, Slot>();
  const sockets = new Set<dgram.Socket>();
  let sock = await openSocket();
  let used = 0;
  let mid = (Math.random() * 0x10000) | 0;
  const path = o.mode === 'oscore' ? 'oscore' : 'test';
  // the inner request of every OSCORE request (§5.3): GET, Uri-Path, no payload
  const innerPlaintext = o.mode === 'oscore' ? encodePlaintext({ code: Code.GET, options: [{ number: Opt.URI_PATH, value: Buffer.from(path) }], payload: Buffer.alloc(0) }) : undefined;

  function openSocket(): Promise<dgram.Socket> {
    const s = dgram.createSocket('udp4');
    s.on('error', () => socketErrors++);
    s.on('message', (data) => receive(s, data));
    sockets.add(s);
    return new Promise((resolve) => s.bind(0, '127.0.0.1', () => resolve(s)));
  }

  function receive(s: dgram.Socket, data: Buffer): void {
    let msg: CoapMessage;
    try {
      msg = decode(data);
    } catch {
      if (state.measuring) tally.fail('undecodable');
      return;
    }
    const slot = byMid.get(msg.mid);
    if (slot === undefined || slot.sock !== s || msg.type !== ACK) {
      if (state.measuring) unmatched++;
      return;
    }
    byMid.delete(msg.mid);
    // the inner code and payload (an unprotected answer, e.g. 4.01 Replay detected, counts with its own code)
    let code = msg.code;
    let payload = msg.payload;
    if (slot.binding !== undefined) {
      const count = countOscoreOptions(msg.options);
      if (count === 1) {
        try {
          const inner = unprotectResponse(ctx, oscoreOptionOf(msg.options)!, msg.payload, slot.binding);
          code = inner.code;
          payload = inner.payload;
        } catch {
          code = -1;
        }
      } else if (count > 1 || msg.code === Code.CONTENT) {
        // a repeated OSCORE option, or a 2.05 that is not protected: nothing verified
        code = -1;
      }
    }
    if (state.measuring && slot.sentAt >= state.windowStart) {
      if (code === Code.CONTENT && msg.token.equals(slot.token) && payload.length > 0) {
        tally.ok(slot.sentAt);
      } else {
        tally.fail(code === -1 ? 'verification failed' : `code ${code >> 5}.${String(code & 31).padStart(2, '0')}`);
      }
    }
    if (state.running) void send(slot);
  }

  async function send(slot: Slot): Promise<void> {
    if (used >= MIDS_PER_SOCKET) {
      used = 0;
      rotations++;
      sock = await openSocket();
    }
    used++;
    mid = (mid + 1) & 0xffff;
    slot.mid = mid;
    slot.sock = sock;
    let msg: CoapMessage;
    if (innerPlaintext === undefined) {
      msg = { type: CON, code: Code.GET, mid, token: slot.token, options: [{ number: Opt.URI_PATH, value: Buffer.from(path) }], payload: Buffer.alloc(0) };
      slot.binding = undefined;
    } else {
      // §8.1: next sequence number, its nonce and AAD, the inner GET encrypted; outer POST with the OSCORE option
      const p = protectRequestPlaintext(ctx, innerPlaintext);
      msg = { type: CON, code: Code.POST, mid, token: slot.token, options: [{ number: Opt.OSCORE, value: p.option }], payload: p.ciphertext };
      slot.binding = p.request;
    }
    byMid.set(mid, slot);
    slot.sentAt = performance.now();
    if (state.measuring) sent++;
    sock.send(encode(msg), o.port, o.host);
  }

  const slots: Slot[] = [];
  for (let i = 0; i < o.outstanding; i++) {
    const token = Buffer.alloc(4);
    token.writeUInt32BE(i);
    slots.push({ mid: 0, token, sentAt: 0, sock: undefined, binding: undefined });
  }
  const sweep = (): void => {
    const now = performance.now();
    for (const [m, slot] of byMid) {
      if (now - slot.sentAt < o.timeoutMs) continue;
      byMid.delete(m);
      if (state.measuring && slot.sentAt >= state.windowStart) timeouts++;
      if (state.running) void send(slot);
    }
  };
  const measured = await runTimeline(o, state, slots.length, (i) => void send(slots[i]!), sweep);
  for (const s of sockets) s.close();
  return {
    target: `${o.host}:${o.port} ${o.mode} GET /${path}`,
    sockets: 1,
    outstanding: o.outstanding,
    payloadSize: 0,
    warmupMs: o.warmupMs,
    ...tallyFields(tally, measured),
    sent,
    timeouts,
    unmatched,
    socketErrors,
    socketRotations: rotations,
  };
}

/** CLI entry (forked by bench/oscore-section.ts through measure.ts, or run by hand). */
async function main(): Promise<void> {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    options: {
      host: { type: 'string', default: '127.0.0.1' },
      port: { type: 'string', default: '5683' },
      mode: { type: 'string', default: 'oscore' },
      outstanding: { type: 'string', default: String(MAX_OSCORE_OUTSTANDING) },
      duration: { type: 'string', default: '10' },
      warmup: { type: 'string', default: '1' },
      timeout: { type: 'string', default: '2' },
      json: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.mode !== 'plain' && values.mode !== 'oscore') throw new Error(`--mode plain|oscore, not ${values.mode}`);
  const mode = values.mode;
  const opts: OscoreLoadOptions = {
    host: values.host,
    port: cliNumber('port', values.port),
    mode,
    outstanding: cliNumber('outstanding', values.outstanding),
    durationMs: cliNumber('duration', values.duration) * 1000,
    warmupMs: cliNumber('warmup', values.warmup) * 1000,
    timeoutMs: cliNumber('timeout', values.timeout) * 1000,
  };
  await generatorMain(Boolean(values.json), (onPhase) => runOscoreLoad({ ...opts, onPhase }), (r) => `${r.target}: ${r.requestsPerSecond} req/s, timeouts ${r.timeouts}, errors ${r.errors} ${JSON.stringify(r.errorCodes)}`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  void main();
}

// The least a DTLS record layer built on node:crypto can add to a Node UDP server (issue 10's coaps / coap target):
// one server process answers every datagram, either as a bare echo ("udp") or after opening the datagram and
// sealing the answer with AES-CCM_8 (RFC 6655) through src/dtls/ccm.ts, the reused-context CCM of our DTLS stack,
// with one key per peer as a real server has ("ccm"); nothing else (no CoAP, no record header, no connection
// lookup). Server CPU per answered datagram of the two modes, same generator, same run, pinned on 2+ CPUs:
// "ccm" − "udp" is the crypto floor, the CPU any DTLS server on node:crypto spends per request beyond plain UDP.
// Run: npm run build && node dist/bench/ccm-floor.js [--seconds 3] [--peers 200] [--out file.json]. Prints figures,
// asserts nothing.
import dgram from 'node:dgram';
import fs from 'node:fs';
import os from 'node:os';
import { fork } from 'node:child_process';
import { parseArgs } from 'node:util';
import { randomBytes } from 'node:crypto';
import { pathToFileURL, fileURLToPath } from 'node:url';
import { ccmOpen, ccmSeal, createCcmContext, type CcmContext } from '../src/dtls/ccm.js';
import { processCpuMs, trackChild, killChildrenOnSignal } from './proc-util.js';
import { cpuListOf, pinToCpu } from './measure.js';

/** Request and answer sizes of the load section's coaps run (POST /benchmark?rlen=40, CID 6, CCM_8). */
const REQUEST_BYTES = 60;
const ANSWER_BYTES = 50;
/** CCM_8 over a DTLS 1.2 nonce (RFC 6655 §3): 12-byte nonce, 8-byte tag, 13-byte AAD + CID. */
const TAG = 8;
const AAD_BYTES = 13 + 6 + 2;
/** Datagrams in flight per generator socket. */
const IN_FLIGHT = 4;

type Mode = 'udp' | 'ccm';

/** The measured server: answers each datagram (after CCM open + seal in "ccm" mode); reports its port over IPC. */
function serve(mode: Mode): void {
  const sock = dgram.createSocket({ type: 'udp4', recvBufferSize: 1 << 20, sendBufferSize: 1 << 20 });
  const keys = new Map<number, { read: CcmContext; write: CcmContext; seq: number }>();
  const nonce = Buffer.alloc(12);
  const aad = Buffer.alloc(AAD_BYTES);
  const answer = Buffer.alloc(ANSWER_BYTES, 0x41);
  let opened = 0;
  sock.on('message', (msg, rinfo) => {
    if (mode === 'udp') {
      const out = Buffer.allocUnsafe(ANSWER_BYTES + 13 + 6 + 8 + TAG);
      msg.copy(out, 0, 0, Math.min(msg.length, out.length));
      sock.send(out, rinfo.port, rinfo.address);
      return;
    }
    let k = keys.get(rinfo.port);
    if (k === undefined) {
      k = { read: createCcmContext(randomBytes(16)), write: createCcmContext(randomBytes(16)), seq: 0 };
      keys.set(rinfo.port, k);
    }
    // open: nonce = fixed IV ‖ epoch ‖ seq (the peer's, from the datagram), AAD from the header; the tag cannot verify
    // (the generator sends random bytes) but ccmOpen does the whole work before comparing
    msg.copy(nonce, 4, 3, 11);
    msg.copy(aad, 0, 0, Math.min(msg.length, AAD_BYTES));
    if (ccmOpen(k.read, TAG, nonce, aad, msg, 29, msg.length - 29 - TAG) !== undefined) opened++;
    // seal the answer: header (29 bytes, copied) ‖ ciphertext ‖ tag
    const out = Buffer.allocUnsafe(29 + ANSWER_BYTES + TAG);
    msg.copy(out, 0, 0, 29);
    nonce.writeUInt32BE(k.seq++, 8);
    ccmSeal(k.write, TAG, nonce, aad, answer, out, 29);
    sock.send(out, rinfo.port, rinfo.address);
  });
  sock.bind(0, '127.0.0.1', () => process.send!({ port: sock.address().port, opened }));
}

/** Runs the generator against a server: `peers` sockets, IN_FLIGHT datagrams each; answered datagrams and server CPU in the window. */
/** One measured window. */
interface FloorRun {
  mode: Mode;
  answered: number;
  serverCpuMs: number;
  usPerDatagram: number;
  /** answered datagrams per second */
  rate: number;
}

async function measure(mode: Mode, peers: number, seconds: number, pin: boolean): Promise<FloorRun> {
  const child = fork(fileURLToPath(import.meta.url), ['--serve', mode], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  trackChild(child);
  try {
    const port = await new Promise<number>((resolve, reject) => {
      child.once('message', (m) => resolve((m as { port: number }).port));
      child.once('exit', (code) => reject(new Error(`server exited (${code})`)));
    });
    if (pin) {
      pinToCpu(child.pid!, 1);
      pinToCpu(process.pid, 0);
    }
    let answered = 0;
    let counting = false;
    const sockets: dgram.Socket[] = [];
    for (let i = 0; i < peers; i++) {
      const s = dgram.createSocket('udp4');
      await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
      const request = randomBytes(REQUEST_BYTES);
      request[0] = 25;
      s.on('message', () => {
        if (counting) answered++;
        request.writeUInt32BE((request.readUInt32BE(7) + 1) >>> 0, 7);
        s.send(request, port, '127.0.0.1');
      });
      sockets.push(s);
      for (let j = 0; j < IN_FLIGHT; j++) s.send(request, port, '127.0.0.1');
    }
    await new Promise((r) => setTimeout(r, 1000)); // warm-up: JIT, contexts of every peer
    const cpu0 = processCpuMs(child.pid!) ?? 0;
    counting = true;
    const t0 = performance.now();
    await new Promise((r) => setTimeout(r, seconds * 1000));
    counting = false;
    const ms = performance.now() - t0;
    const serverCpuMs = (processCpuMs(child.pid!) ?? 0) - cpu0;
    for (const s of sockets) s.close();
    return { mode, answered, serverCpuMs, usPerDatagram: Math.round((serverCpuMs * 10_000) / Math.max(1, answered)) / 10, rate: Math.round((answered * 1000) / ms) };
  } finally {
    child.kill();
  }
}

/** The floor: "udp" and "ccm" measured twice each, alternating; the best (lowest) CPU per datagram of each mode. */
export interface CcmFloor {
  runs: FloorRun[];
  udpUs: number;
  ccmUs: number;
  /** ccmUs − udpUs */
  floorUs: number;
  peers: number;
  pinned: boolean;
}

/** Measures the crypto floor (this module's header); `log` gets a line per run. */
export async function measureCcmFloor(peers: number, seconds: number, pin: boolean, log: (line: string) => void): Promise<CcmFloor> {
  const runs: FloorRun[] = [];
  // pinning moves this process (the generator) to CPU 0: its own CPUs come back afterwards, so that the processes a
  // calling bench section starts later do not inherit CPU 0 alone
  const cpus = pin ? cpuListOf(process.pid) : undefined;
  try {
    for (const mode of ['udp', 'ccm', 'udp', 'ccm'] as const) {
      const r = await measure(mode, peers, seconds, pin);
      log(`${mode}: ${r.rate} datagrams/s answered, server ${r.usPerDatagram} µs CPU per datagram`);
      runs.push(r);
    }
  } finally {
    if (cpus !== undefined) pinToCpu(process.pid, cpus);
  }
  const best = (m: Mode) => Math.min(...runs.filter((r) => r.mode === m).map((r) => r.usPerDatagram));
  return { runs, udpUs: best('udp'), ccmUs: best('ccm'), floorUs: Math.round((best('ccm') - best('udp')) * 10) / 10, peers, pinned: pin };
}

/** One line describing a floor measurement. */
export function describeCcmFloor(f: CcmFloor): string {
  return (
    `AES-CCM_8 open (${REQUEST_BYTES - 29 - TAG} bytes) + seal (${ANSWER_BYTES} bytes) with node:crypto (src/dtls/ccm.ts) adds ${f.floorUs} µs of server CPU per request ` +
    `to a bare Node UDP echo (${f.udpUs} → ${f.ccmUs} µs, best of two runs each, ${f.peers} peers${f.pinned ? ', pinned' : ''})`
  );
}

/** CLI: measures the floor and prints it. */
async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      serve: { type: 'string' },
      seconds: { type: 'string', default: '3' },
      peers: { type: 'string', default: '200' },
      'no-pin': { type: 'boolean', default: false },
      out: { type: 'string', default: 'ccm-floor.json' },
    },
  });
  if (values.serve !== undefined) {
    serve(values.serve as Mode);
    return;
  }
  killChildrenOnSignal();
  const seconds = Number(values.seconds);
  const peers = Number(values.peers);
  const pin = !values['no-pin'] && os.cpus().length >= 2;
  const f = await measureCcmFloor(peers, seconds, pin, (l) => console.log(l));
  console.log(`crypto floor: ${describeCcmFloor(f)}`);
  fs.writeFileSync(values.out!, JSON.stringify({ date: new Date().toISOString(), node: process.version, seconds, ...f }, null, 2) + '\n');
}

if (import.meta.url === pathToFileURL(process.argv[1]!).href) {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}

// Floods against the real server process (issue 10) while legitimate clients make a fresh request every
// 500 ms: libcoap's coap-client-openssl over coaps (PSK, a full handshake each time) and a plain CoAP
// client (a new socket each time, CON GET /mycontext). Three phases on the extended server:
//  1. ClientHellos without cookie from 64 sockets on 127.0.0.2-65, as fast as a worker thread can send;
//  2. the same, but every flood socket answers HelloVerifyRequests with a second ClientHello carrying the
//     cookie (the server starts handshakes, which must stay bounded);
//  3. plain CoAP NON requests from 4 sockets.
// Each phase: at least 95% of the legitimate requests answered; each flood grows the server's resident
// memory by less than 50 MB (on Node 24 the heap the floods grew is kept: about +51 MB over all three at 300k
// datagrams/s, against +2 MB on Node 20); the defence logs once per episode (not per datagram). The flood rates
// reached are printed (the flooder shares the machine's cores with the server: the rate is what it is).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import dgram from 'node:dgram';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeClientHello, encodeFullHandshakeMessage, HandshakeType } from '../../src/dtls/handshake/index.js';
import { encodeRecord } from '../../src/dtls/record.js';
import { parseDiagnose, udpDrops, vmRssKb } from '../helpers/dtls-client.js';
import { runCoapClient } from '../helpers/libcoap.js';
import { requirePeer } from '../helpers/peers.js';
import { startServer, type ServerProcess } from '../helpers/server-process.js';

const PHASE_MS = 8000;
const LEGIT_EVERY_MS = 500;
const FLOOD_SOCKETS = 64;
const COAP_FLOOD_SOCKETS = 4;
/** Flooder threads (each sends from its share of the sockets). */
const FLOOD_WORKERS = Number(process.env.FLOOD_WORKERS ?? 2);
/** Upper bound of datagrams per phase (the time bound usually ends it first). */
const MAX_DATAGRAMS = 4_000_000;
const RSS_GROWTH_LIMIT_KB = 50 * 1024;
const REPORT = path.join(os.tmpdir(), 'extplugtest-flood-report.json');

const libcoap = requirePeer('coap-client-openssl');
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** The flooder, run in a worker thread so that the test's own clients keep their timing. Plain JS. */
const FLOODER = `
const { parentPort, workerData } = require('node:worker_threads');
const dgram = require('node:dgram');
const { randomBytes } = require('node:crypto');
const { mode, port, hosts, template, durationMs, maxDatagrams, cookieOffset } = workerData;
const tpl = Buffer.from(template);
const sockets = [];
let sent = 0, received = 0, seconds = 0, stopAt = 0;

/** A second ClientHello: the template with random r and the cookie inserted (RFC 6347 §4.2.1). */
function withCookie(r, cookie, seq) {
  const d = Buffer.concat([tpl.subarray(0, cookieOffset), Buffer.from([cookie.length]), cookie, tpl.subarray(cookieOffset + 1)]);
  r.copy(d, 27);
  d.writeUIntBE(seq, 5, 6);
  d.writeUInt16BE(d.readUInt16BE(11) + cookie.length, 11);
  d.writeUIntBE(d.readUIntBE(14, 3) + cookie.length, 14, 3);
  d.writeUIntBE(d.readUIntBE(22, 3) + cookie.length, 22, 3);
  d.writeUInt16BE(1, 17); // message_seq
  return d;
}

async function main() {
  for (const host of hosts) {
    const s = dgram.createSocket('udp4');
    await new Promise((r) => s.bind(0, host, r));
    await new Promise((r) => s.connect(port, '127.0.0.1', r));
    s.on('error', () => {});
    const st = { s, data: Buffer.from(tpl), seq: 0, randoms: new Map(), answered: new Set() };
    s.on('message', (m) => {
      received++;
      // HelloVerifyRequest: handshake record, msg_type 3; its record seq names the random it answers
      if (mode !== 'cookie' || m.length < 28 || m[0] !== 22 || m[13] !== 3) return;
      const seq = m.readUIntBE(5, 6);
      const round = Math.floor(seq / 16);
      const r = st.randoms.get(round);
      if (r === undefined || st.answered.has(round)) return;
      st.answered.add(round);
      s.send(withCookie(r, m.subarray(28, 28 + m[27]), seq + 1));
    });
    sockets.push(st);
  }
  parentPort.postMessage({ ready: true });
  const start = Date.now();
  stopAt = start + durationMs;
  let mid = 0;
  while (Date.now() < stopAt && sent < maxDatagrams) {
    for (let k = 0; k < 16; k++) {
      for (const st of sockets) {
        const d = st.data;
        if (mode === 'coap') {
          mid = (mid + 1) & 0xffff;
          d.writeUInt16BE(mid, 2);
        } else {
          const seq = st.seq++;
          if (seq % 16 === 0) {
            // a new client random every 16 ClientHellos (the cookie answers refer to it by record seq)
            const round = seq / 16;
            const r = randomBytes(32);
            st.randoms.set(round, r);
            st.randoms.delete(round - 64);
            st.answered.delete(round - 64);
            r.copy(d, 27);
          }
          d.writeUIntBE(seq, 5, 6);
        }
        st.s.send(d);
        sent++;
      }
    }
    // let answers in and the send queues drain
    await new Promise((r) => setImmediate(r));
    let queued = 0;
    for (const st of sockets) queued += st.s.getSendQueueCount();
    if (queued > 4096) await new Promise((r) => setTimeout(r, 1));
  }
  const ms = Date.now() - start;
  await new Promise((r) => setTimeout(r, 200));
  for (const st of sockets) st.s.close();
  parentPort.postMessage({ sent, received, ms });
}
main().catch((err) => parentPort.postMessage({ error: String(err && err.stack || err) }));
`;

/** Result of one flood. */
interface FloodResult {
  sent: number;
  received: number;
  ms: number;
}

/** Runs FLOOD_WORKERS flooders, each with its share of the hosts; resolves when they are ready, with the promise of the summed result. */
async function flood(data: Record<string, unknown> & { hosts: string[] }): Promise<Promise<FloodResult>> {
  const shares = Array.from({ length: FLOOD_WORKERS }, (_, w) => data.hosts.filter((_, i) => i % FLOOD_WORKERS === w)).filter((h) => h.length > 0);
  const runs = await Promise.all(shares.map((hosts) => floodWorker({ ...data, hosts, maxDatagrams: Math.ceil(MAX_DATAGRAMS / shares.length) })));
  return Promise.all(runs).then((rs) => ({ sent: rs.reduce((n, r) => n + r.sent, 0), received: rs.reduce((n, r) => n + r.received, 0), ms: Math.max(...rs.map((r) => r.ms)) }));
}

/** Runs one flooder; resolves when it is ready (sockets bound) with the promise of its result. */
async function floodWorker(data: Record<string, unknown>): Promise<Promise<FloodResult>> {
  const worker = new Worker(FLOODER, { eval: true, workerData: data });
  let onReady!: () => void;
  const ready = new Promise<void>((r) => (onReady = r));
  const done = new Promise<FloodResult>((resolve, reject) => {
    worker.on('message', (m: { ready?: boolean; error?: string } & FloodResult) => {
      if (m.ready) onReady();
      else if (m.error) reject(new Error(m.error));
      else resolve(m);
    });
    worker.on('error', reject);
  });
  await Promise.race([ready, done]);
  return done.finally(() => worker.terminate());
}

/** A first ClientHello (PSK CCM_8, extended master secret, empty CID), as the flood sends it. */
function clientHelloTemplate(): { data: Buffer; cookieOffset: number } {
  const body = encodeClientHello({
    clientVersion: 0xfefd,
    random: Buffer.alloc(32, 1),
    sessionId: Buffer.alloc(0),
    cookie: Buffer.alloc(0),
    cipherSuites: [0xc0a8, 0x00ff],
    compressionMethods: [0],
    extensions: { extendedMasterSecret: true, connectionId: Buffer.alloc(0) },
  });
  const data = encodeRecord(22, 0xfefd, 0, 0, encodeFullHandshakeMessage({ msgType: HandshakeType.CLIENT_HELLO, messageSeq: 0, body }));
  return { data, cookieOffset: 13 + 12 + 2 + 32 + 1 };
}

/** CoAP GET /mycontext (RFC 7252 §3): `type` 0 CON, 1 NON. */
function getMyContext(type: number, mid: number, token: Buffer): Buffer {
  const path = Buffer.from('mycontext');
  return Buffer.concat([Buffer.from([0x40 | (type << 4) | token.length, 0x01, mid >> 8, mid & 0xff]), token, Buffer.from([0xb0 | path.length]), path]);
}

/** A fresh plain CoAP client: new socket, CON GET /mycontext, retransmitted after 2 s and 4 s; true when answered with 2.05. */
async function plainRequest(port: number, n: number): Promise<boolean> {
  const sock = dgram.createSocket('udp4');
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
  const token = Buffer.from([0xfe, n & 0xff, (n >> 8) & 0xff, 0x42]);
  const mid = (n * 7919) & 0xffff;
  const req = getMyContext(0, mid, token);
  try {
    return await new Promise<boolean>((resolve) => {
      const timers = [0, 2000, 6000].map((t) => setTimeout(() => sock.send(req, port, '127.0.0.1'), t));
      const giveUp = setTimeout(() => resolve(false), 10_000);
      sock.on('message', (m) => {
        const tkl = m[0]! & 0x0f;
        if (m.length >= 4 + tkl && m[1] === 0x45 && m.subarray(4, 4 + tkl).equals(token)) {
          for (const t of timers) clearTimeout(t);
          clearTimeout(giveUp);
          resolve(true);
        }
      });
    });
  } finally {
    sock.close();
  }
}

/** A fresh coap-client-openssl run (full PSK handshake, GET /mycontext); true when it printed the context. */
async function dtlsRequest(port: number): Promise<boolean> {
  try {
    const run = await runCoapClient(libcoap.path!, ['-m', 'get', `coaps://127.0.0.1:${port}/mycontext`], 12_000, ['-u', 'Client_identity', '-k', 'secretPSK']);
    return run.code === 0 && /ip: 127\.0\.0\.1/.test(run.stdout);
  } catch {
    return false;
  }
}

/** CPU time (user + system) of a process in ms (/proc/<pid>/stat, clock ticks of 10 ms). */
function cpuMs(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const cols = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(cols[11]) + Number(cols[12])) * 10;
}

/** Figures of one phase. */
interface Phase {
  name: string;
  sent: number;
  ms: number;
  rate: number;
  answersToFlood: number;
  /** datagrams the kernel dropped at the flooded port during the phase (receive buffer full) */
  kernelDrops: number;
  /** CPU time the server used during the phase (ms) */
  serverCpuMs: number;
  dtls: [answered: number, total: number];
  plain: [answered: number, total: number];
  rssKb: number;
}

describe.skipIf(libcoap.skipReason !== undefined)(`floods against the real server, legitimate clients every ${LEGIT_EVERY_MS} ms${libcoap.skipReason ? ` (skipped: ${libcoap.skipReason})` : ''}`, () => {
  let sp: ServerProcess;
  let rssStart = 0;
  const phases: Phase[] = [];

  beforeAll(async () => {
    // FLOOD_DEFENCE_OFF=1: the same run with the defences switched off (to see the test fail without them)
    const off = process.env.FLOOD_DEFENCE_OFF === '1' ? ['DTLS.CLIENT_HELLO_RATE_LIMIT=0', 'DTLS.HANDSHAKE_START_RATE_LIMIT=0', 'DTLS.CLIENT_HELLO_PEER_RATE_LIMIT=0', 'UDP.FAIR_QUEUE_BATCH=0'] : [];
    // FLOOD_SERVER_MAIN=<other build>/dist/src/cli/server-main.js: the same run against another build
    sp = await startServer({ args: ['--no-external', '--diagnose'], properties: off, main: process.env.FLOOD_SERVER_MAIN });
    // warm-up: JIT, buffers, the first handshake
    expect(await dtlsRequest(sp.ports.extSecure)).toBe(true);
    expect(await plainRequest(sp.ports.ext, 0)).toBe(true);
    await sleep(300);
    rssStart = vmRssKb(sp.proc.pid!);
  });
  afterAll(async () => {
    if (phases.length > 0) {
      const lines = phases.map(
        (p) =>
          `${p.name}: ${p.sent} datagrams in ${p.ms} ms = ${p.rate}/s (${p.answersToFlood} answers to the flood, ${p.kernelDrops} dropped by the kernel, server CPU ${p.serverCpuMs} ms); legitimate answered: coaps ${p.dtls[0]}/${p.dtls[1]}, coap ${p.plain[0]}/${p.plain[1]}; server RSS ${p.rssKb} kB (start ${rssStart} kB)`,
      );
      console.log(`flood test (2 shared cores, noisy):\n  ${lines.join('\n  ')}`);
      fs.writeFileSync(REPORT, JSON.stringify({ rssStartKb: rssStart, phases }, null, 2));
    }
    await sp?.stop();
  });

  /** Runs a flood for PHASE_MS while both legitimate clients make a fresh request every 500 ms. */
  async function phase(name: string, flooder: Record<string, unknown>): Promise<Phase> {
    const dropsBefore = udpDrops(flooder.port as number);
    const cpuBefore = cpuMs(sp.proc.pid!);
    const result = await flood({ durationMs: PHASE_MS, ...flooder } as unknown as Record<string, unknown> & { hosts: string[] });
    const dtls: Promise<boolean>[] = [];
    const plain: Promise<boolean>[] = [];
    for (let i = 0; i < PHASE_MS / LEGIT_EVERY_MS; i++) {
      dtls.push(dtlsRequest(sp.ports.extSecure));
      plain.push(plainRequest(sp.ports.ext, phases.length * 100 + i + 1));
      await sleep(LEGIT_EVERY_MS);
    }
    const r = await result;
    const d = await Promise.all(dtls);
    const p = await Promise.all(plain);
    const figures: Phase = {
      name,
      sent: r.sent,
      ms: r.ms,
      rate: Math.round((r.sent * 1000) / r.ms),
      answersToFlood: r.received,
      kernelDrops: udpDrops(flooder.port as number) - dropsBefore,
      serverCpuMs: cpuMs(sp.proc.pid!) - cpuBefore,
      dtls: [d.filter(Boolean).length, d.length],
      plain: [p.filter(Boolean).length, p.length],
      rssKb: vmRssKb(sp.proc.pid!),
    };
    phases.push(figures);
    console.log(`${name}: ${JSON.stringify(figures)}`);
    return figures;
  }

  const floodHosts = (n: number) => Array.from({ length: n }, (_, i) => `127.0.0.${2 + i}`);
  const answeredShare = (p: Phase) => (p.dtls[0] + p.plain[0]) / (p.dtls[1] + p.plain[1]);

  /** Counters of the coaps endpoint's /diagnose group whose tag starts with `prefix` (cur values), read with coap-client (block-wise). */
  async function diagnose(prefix: string): Promise<Map<string, number>> {
    const run = await runCoapClient(libcoap.path!, ['-m', 'get', `coaps://127.0.0.1:${sp.ports.extSecure}/diagnose`], 12_000, ['-u', 'Client_identity', '-k', 'secretPSK']);
    const groups = parseDiagnose(run.stdout);
    const tag = [...groups.keys()].find((k) => k.startsWith(prefix));
    expect(tag, `${prefix} group in /diagnose:\n${run.stdout}`).toBeDefined();
    return new Map([...groups.get(tag!)!].map(([k, v]) => [k, v[0]]));
  }

  it('ClientHellos without cookie from 64 sockets: legitimate clients answered, the flood mostly dropped (counted), logged once', async () => {
    const { data, cookieOffset } = clientHelloTemplate();
    const p = await phase('ClientHello flood', { mode: 'hello', port: sp.ports.extSecure, hosts: floodHosts(FLOOD_SOCKETS), template: data, cookieOffset });
    expect(answeredShare(p), JSON.stringify(p)).toBeGreaterThanOrEqual(0.95);
    expect(p.rssKb - rssStart, `RSS ${rssStart} kB → ${p.rssKb} kB`).toBeLessThan(RSS_GROWTH_LIMIT_KB);
    // the flood was answered with far fewer HelloVerifyRequests than it sent ClientHellos
    expect(p.answersToFlood, JSON.stringify(p)).toBeLessThan(p.sent / 2);
    expect(sp.output().match(/dtls flood defence engaged/g)?.length ?? 0, 'one warning per episode').toBeGreaterThanOrEqual(1);
    expect(sp.output().match(/dtls flood defence engaged/g)!.length, 'not per datagram').toBeLessThanOrEqual(4);
  });

  it('ClientHellos answering the cookie from 64 sockets: handshakes in progress stay bounded, legitimate clients answered', async () => {
    const rssBeforeFlood = vmRssKb(sp.proc.pid!);
    const { data, cookieOffset } = clientHelloTemplate();
    const p = await phase('ClientHello flood answering the cookie', { mode: 'cookie', port: sp.ports.extSecure, hosts: floodHosts(FLOOD_SOCKETS), template: data, cookieOffset });
    expect(answeredShare(p), JSON.stringify(p)).toBeGreaterThanOrEqual(0.95);
    const dtls = await diagnose('dtls:');
    console.log(`after the cookie flood: ${JSON.stringify(Object.fromEntries(dtls))}`);
    // handshakes in progress count as connections: a flood source (address:port) holds at most one (a newer
    // ClientHello replaces it), the legitimate clients closed theirs (libcoap sends close_notify on exit)
    expect(dtls.get('connections'), JSON.stringify([...dtls])).toBeLessThanOrEqual(FLOOD_SOCKETS + 4);
    // this flood's own growth (the bound is per flood, see the plain CoAP case)
    const growth = vmRssKb(sp.proc.pid!) - rssBeforeFlood;
    expect(growth, `RSS ${rssBeforeFlood} kB → +${growth} kB (since the first flood: +${vmRssKb(sp.proc.pid!) - rssStart} kB)`).toBeLessThan(RSS_GROWTH_LIMIT_KB);
  });

  it('plain CoAP requests from 4 sockets: other sources are not starved, memory bounded', async () => {
    const rssBeforeFlood = vmRssKb(sp.proc.pid!);
    const p = await phase('CoAP request flood', { mode: 'coap', port: sp.ports.ext, hosts: floodHosts(COAP_FLOOD_SOCKETS), template: getMyContext(1, 0, Buffer.from([1, 2, 3, 4])) });
    expect(answeredShare(p), JSON.stringify(p)).toBeGreaterThanOrEqual(0.95);
    const engaged = sp.output().match(/fair queue engaged/g)?.length ?? 0;
    expect(engaged, 'the fair queue engaged, logged once per episode').toBeGreaterThanOrEqual(1);
    expect(engaged).toBeLessThanOrEqual(20);
    await sleep(500);
    // this flood's own growth (the issue's bound is per flood); Node 24 keeps the heap the two DTLS floods grew
    // (about +48 MB at 300k datagrams/s, under the bound as asserted there) instead of returning it
    const growth = vmRssKb(sp.proc.pid!) - rssBeforeFlood;
    console.log(`plain CoAP flood: RSS ${rssBeforeFlood} kB → +${growth} kB (since the first flood: +${vmRssKb(sp.proc.pid!) - rssStart} kB)`);
    expect(growth, `RSS ${rssBeforeFlood} kB → +${growth} kB`).toBeLessThan(RSS_GROWTH_LIMIT_KB);
    expect(sp.proc.exitCode).toBeNull();
  });
});

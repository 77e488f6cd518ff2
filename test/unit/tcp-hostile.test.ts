// Hostile input to the coap+tcp endpoint (RFC 8323), real sockets on 127.0.0.1: CSMs with absurd values,
// seeded random bytes, a burst of connections against the bound, frames split into single bytes and
// many frames in one segment. The server keeps serving a well-behaved connection throughout.
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { CON, Code, EMPTY, type CoapMessage } from '../../src/coap/message.js';
import { encodeTcp } from '../../src/coap/tcp-codec.js';
import { SignalCode, SignalOpt, buildCsm, buildPing, parseSignal } from '../../src/coap/tcp-signaling.js';
import { createTcpServer, type TcpServer } from '../../src/tcp/server.js';
import { mulberry32 } from '../helpers/random.js';
import { connectTcp, type TcpPeer } from '../helpers/tcp-peer.js';

const logger = pino({ level: 'silent' });
const servers: TcpServer[] = [];
const peers: TcpPeer[] = [];

afterEach(async () => {
  for (const p of peers.splice(0)) p.destroy();
  await Promise.all(servers.splice(0).map((s) => s.stop()));
});

async function start(maxConnections = 100, maxWriteBuffer = 1 << 20): Promise<TcpServer> {
  const server = createTcpServer({
    address: '127.0.0.1',
    port: 0,
    maxMessageSize: 8192,
    blockWiseTransfer: true,
    maxConnections,
    idleTimeout: 0,
    csmTimeout: 5000,
    maxWriteBuffer,
    closeGrace: 500,
    logger,
  });
  server.onMessage = (msg, ctx) => {
    if (msg.code === Code.GET) server.sendMessage({ type: CON, code: Code.CONTENT, mid: 0, token: msg.token, options: [], payload: msg.payload }, ctx);
  };
  await server.start();
  servers.push(server);
  return server;
}

async function open(server: TcpServer): Promise<TcpPeer> {
  const p = await connectTcp(server.localPort);
  peers.push(p);
  return p;
}

async function ready(server: TcpServer, csm: CoapMessage = buildCsm({ maxMessageSize: 1 << 20 })): Promise<TcpPeer> {
  const p = await open(server);
  expect((await p.next()).code).toBe(SignalCode.CSM);
  p.send(csm);
  return p;
}

function get(token: string, payload: Buffer = EMPTY): CoapMessage {
  return { type: CON, code: Code.GET, mid: 0, token: Buffer.from(token), options: [], payload };
}

async function roundTrip(p: TcpPeer, token: string): Promise<void> {
  p.send(get(token, Buffer.from(token)));
  const res = await p.next();
  expect(res.code).toBe(Code.CONTENT);
  expect(res.payload.toString()).toBe(token);
}

async function until(cond: () => boolean, ms = 3000): Promise<boolean> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, 10));
  }
  return true;
}

describe('coap+tcp CSM with absurd values (RFC 8323 §5.3.1, §5.6)', () => {
  it('clamps a Max-Message-Size of 2^32-1 and sends large messages', async () => {
    const server = await start();
    const p = await ready(server, buildCsm({ maxMessageSize: 0xffffffff }));
    // above the 1152 bytes assumed before a CSM
    p.send(get('b', Buffer.alloc(4000, 7)));
    const res = await p.next();
    expect(res.payload.length).toBe(4000);
    expect(server.stats.sendErrors).toBe(0);
  });

  it.each([
    ['a Max-Message-Size of 10', buildCsm({ maxMessageSize: 10 }), SignalOpt.MAX_MESSAGE_SIZE],
    ['a 5-byte Max-Message-Size', { ...buildCsm(), options: [{ number: SignalOpt.MAX_MESSAGE_SIZE, value: Buffer.alloc(5, 0xff) }] }, SignalOpt.MAX_MESSAGE_SIZE],
    ['a Block-Wise-Transfer with a value', { ...buildCsm(), options: [{ number: SignalOpt.BLOCK_WISE_TRANSFER, value: Buffer.from([1]) }] }, SignalOpt.BLOCK_WISE_TRANSFER],
  ])('aborts %s with Bad-CSM-Option', async (_name, csm, option) => {
    const server = await start();
    const good = await ready(server);
    const p = await open(server);
    await p.next();
    p.send(csm);
    expect(parseSignal(await p.next())).toMatchObject({ kind: 'abort', badCsmOption: option });
    expect(await p.waitClosed()).toBe(true);
    await roundTrip(good, 'still');
  });
});

describe('coap+tcp random bytes', () => {
  it('answers seeded garbage with Abort or ignores it, and never disturbs another connection', async () => {
    const server = await start();
    const good = await ready(server);
    const random = mulberry32(0x7c9);
    const bytes = (n: number): Buffer => Buffer.from(Array.from({ length: n }, () => Math.floor(random() * 256)));
    const victims: TcpPeer[] = [];
    for (let i = 0; i < 30; i++) {
      // half after a valid CSM, half as the very first bytes
      const p = i % 2 === 0 ? await ready(server) : await open(server);
      for (let k = 0; k < 4; k++) p.sendRaw(bytes(1 + Math.floor(random() * 200)));
      victims.push(p);
    }
    await roundTrip(good, 'g1');
    await new Promise((r) => setTimeout(r, 300));
    // a garbage connection is closed after an Abort, or still open waiting for a frame to complete
    const closed = victims.filter((v) => v.closed);
    expect(closed.length).toBeGreaterThan(10);
    for (const v of closed) expect(v.queue.at(-1)?.code).toBe(SignalCode.ABORT);
    expect(server.stats.abortsSent).toBe(closed.length);
    for (const v of victims) v.destroy();
    expect(await until(() => server.connectionCount === 1)).toBe(true);
    await roundTrip(good, 'g2');
    expect(server.stats.active).toBe(1);
  });
});

describe('coap+tcp connection burst against the bound', () => {
  it('drops every connection beyond TCP.MAX_CONNECTIONS, counts each, and serves the admitted ones', async () => {
    const server = await start(20);
    const admitted: TcpPeer[] = [];
    for (let i = 0; i < 20; i++) admitted.push(await ready(server));
    const burst = await Promise.all(Array.from({ length: 180 }, () => open(server)));
    expect(await until(() => burst.every((p) => p.closed))).toBe(true);
    expect(burst.every((p) => p.queue.length === 0)).toBe(true);
    expect(server.stats.overBound).toBe(180);
    expect(server.stats.accepted).toBe(20);
    for (const [i, p] of admitted.entries()) await roundTrip(p, `a${i}`);
  });
});

describe('coap+tcp stream shapes', () => {
  it('assembles a frame sent one byte per segment', async () => {
    const server = await start();
    const p = await ready(server);
    p.socket.setNoDelay(true);
    const frame = encodeTcp(get('s', Buffer.from('split')));
    for (const b of frame) {
      p.sendRaw(Buffer.from([b]));
      await new Promise((r) => setImmediate(r));
    }
    const res = await p.next();
    expect(res.payload.toString()).toBe('split');
  });

  it('answers 1000 Pings written in one segment with 1000 Pongs in order', async () => {
    const server = await start();
    const p = await ready(server);
    const frames: Buffer[] = [];
    for (let i = 0; i < 1000; i++) frames.push(encodeTcp(buildPing({ token: Buffer.from([i >> 8, i & 0xff]) })));
    p.sendRaw(Buffer.concat(frames));
    for (let i = 0; i < 1000; i++) {
      const pong = parseSignal(await p.next());
      expect(pong?.kind).toBe('pong');
      expect(pong!.token.readUInt16BE(0)).toBe(i);
    }
    expect(server.stats.messagesOut).toBe(1001);
  });
});

describe('coap+tcp peer that pings without reading', () => {
  it('closes the connection at the write bound instead of queueing Pongs without limit', async () => {
    const server = await start(100, 16384);
    const good = await ready(server);
    const p = await ready(server);
    p.socket.pause();
    const batch = Buffer.concat(Array.from({ length: 10_000 }, (_, i) => encodeTcp(buildPing({ token: Buffer.alloc(8, i & 0xff) }))));
    let batches = 0;
    // at most 300 batches of 100 KB; the loopback buffers hold a few MB
    while (batches < 300 && !p.closed && server.stats.writeOverflows === 0) {
      batches++;
      if (!p.socket.write(batch)) await new Promise((r) => { p.socket.once('drain', r); p.socket.once('close', r); });
    }
    expect(await until(() => server.stats.writeOverflows === 1, 5000)).toBe(true);
    expect(batches).toBeLessThan(300);
    expect(await until(() => server.connectionCount === 1)).toBe(true);
    await roundTrip(good, 'fine');
  });
});

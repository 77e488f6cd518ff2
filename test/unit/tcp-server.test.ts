// The coap+tcp endpoint (RFC 8323) with real sockets on 127.0.0.1 and ::1: CSM exchange (§5.3),
// Ping/Pong with Custody (§5.4), Release (§5.5), Abort (§5.6), messages up and down, the peer's
// Max-Message-Size, the connection bound, the idle and CSM timeouts, slowloris and the write bound.
import { createServer } from 'node:net';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { CON, Code, EMPTY, type CoapMessage } from '../../src/coap/message.js';
import { SignalCode, SignalOpt, buildAbort, buildCsm, buildPing, buildRelease, parseSignal } from '../../src/coap/tcp-signaling.js';
import type { EndpointContext } from '../../src/transport/connector.js';
import { peerAddressText } from '../../src/tcp/connection.js';
import { createTcpServer, tcpConnectionId, type TcpServer, type TcpServerOptions } from '../../src/tcp/server.js';
import { connectTcp, type TcpPeer } from '../helpers/tcp-peer.js';

const logger = pino({ level: 'silent' });

function get(token: string, path = 'x'): CoapMessage {
  return { type: CON, code: Code.GET, mid: 0, token: Buffer.from(token), options: [{ number: 11, value: Buffer.from(path) }], payload: EMPTY };
}

function content(token: Buffer, payload: string | Buffer): CoapMessage {
  return { type: CON, code: Code.CONTENT, mid: 0, token, options: [], payload: Buffer.isBuffer(payload) ? payload : Buffer.from(payload) };
}

interface Received {
  msg: CoapMessage;
  ctx: EndpointContext;
}

const servers: TcpServer[] = [];
const peers: TcpPeer[] = [];

afterEach(async () => {
  for (const p of peers.splice(0)) p.destroy();
  await Promise.all(servers.splice(0).map((s) => s.stop()));
});

/** A server on an ephemeral port; `reply` answers every request with 2.05 "ok:<path>" at once. */
async function start(over: Partial<TcpServerOptions> = {}, reply = true): Promise<{ server: TcpServer; received: Received[] }> {
  const received: Received[] = [];
  const server = createTcpServer({
    address: '127.0.0.1',
    port: 0,
    maxMessageSize: 8192,
    blockWiseTransfer: true,
    maxConnections: 100,
    idleTimeout: 0,
    csmTimeout: 5000,
    maxWriteBuffer: 262144,
    closeGrace: 500,
    logger,
    ...over,
  });
  server.onMessage = (msg, ctx) => {
    received.push({ msg, ctx });
    if (reply && msg.code === Code.GET) server.sendMessage(content(msg.token, `ok:${msg.options[0]?.value.toString() ?? ''}`), ctx);
  };
  await server.start();
  servers.push(server);
  return { server, received };
}

async function open(server: TcpServer, host = '127.0.0.1'): Promise<TcpPeer> {
  const p = await connectTcp(server.localPort, host);
  peers.push(p);
  return p;
}

/** Connects, takes the server's CSM and sends ours. */
async function ready(server: TcpServer, csm: CoapMessage = buildCsm({ maxMessageSize: 65536 }), host?: string): Promise<TcpPeer> {
  const p = await open(server, host);
  const first = await p.next();
  expect(first.code).toBe(SignalCode.CSM);
  p.send(csm);
  return p;
}

async function roundTrip(p: TcpPeer, token: string): Promise<void> {
  p.send(get(token, token));
  const res = await p.next();
  expect(res.code).toBe(Code.CONTENT);
  expect(res.token.toString()).toBe(token);
  expect(res.payload.toString()).toBe(`ok:${token}`);
}

/** Polls `cond` every 10 ms for at most `ms`. */
async function until(cond: () => boolean, ms = 2000): Promise<boolean> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, 10));
  }
  return true;
}

describe('coap+tcp CSM exchange (RFC 8323 §5.3)', () => {
  it('sends its CSM first, with Max-Message-Size and Block-Wise-Transfer', async () => {
    const { server } = await start({ maxMessageSize: 8192, blockWiseTransfer: true });
    const p = await open(server);
    const csm = parseSignal(await p.next());
    expect(csm).toMatchObject({ kind: 'csm', maxMessageSize: 8192, blockWiseTransfer: true });
  });

  it('leaves Block-Wise-Transfer out when BERT is off', async () => {
    const { server } = await start({ maxMessageSize: 1152, blockWiseTransfer: false });
    const p = await open(server);
    expect(parseSignal(await p.next())).toMatchObject({ kind: 'csm', maxMessageSize: 1152, blockWiseTransfer: false });
  });

  it('hands requests up with the peer address and connection, and sends the answer back', async () => {
    const { server, received } = await start();
    const p = await ready(server);
    await roundTrip(p, 'a1');
    await roundTrip(p, 'b2');
    expect(received).toHaveLength(2);
    const ctx = received[0]!.ctx;
    expect(ctx.address).toBe('127.0.0.1');
    expect(ctx.port).toBe(p.socket.localPort);
    expect(ctx.tls).toBeUndefined();
    expect(tcpConnectionId(ctx)).toMatch(/^tcp#\d+$/);
    expect(received[1]!.ctx.connection).toBe(ctx.connection);
    expect(server.stats).toMatchObject({ accepted: 1, active: 1, messagesIn: 2, messagesOut: 3 });
  });

  it('aborts a connection whose first message is not a CSM, without handing it up', async () => {
    const { server, received } = await start();
    const p = await open(server);
    await p.next();
    p.send(get('zz'));
    const abort = parseSignal(await p.next());
    expect(abort).toMatchObject({ kind: 'abort' });
    expect(abort?.kind === 'abort' && abort.diagnostic).toMatch(/expected CSM/);
    expect(await p.waitClosed()).toBe(true);
    expect(received).toHaveLength(0);
    expect(server.stats.abortsSent).toBe(1);
  });

  it('aborts a CSM with an unknown critical option, naming it in Bad-CSM-Option', async () => {
    const { server } = await start();
    const p = await open(server);
    await p.next();
    const csm = buildCsm({ maxMessageSize: 4096 });
    csm.options.push({ number: 9, value: EMPTY });
    p.send(csm);
    expect(parseSignal(await p.next())).toMatchObject({ kind: 'abort', badCsmOption: 9 });
    expect(await p.waitClosed()).toBe(true);
  });

  it('aborts a Ping with an unknown critical option (§5.2)', async () => {
    const { server } = await start();
    const p = await ready(server);
    const ping = buildPing({ token: Buffer.from('p') });
    ping.options.push({ number: 3, value: EMPTY });
    p.send(ping);
    expect(parseSignal(await p.next())).toMatchObject({ kind: 'abort' });
    expect(await p.waitClosed()).toBe(true);
  });
});

describe('coap+tcp Ping/Pong (RFC 8323 §5.4)', () => {
  it('answers a Ping with a Pong echoing token and Custody', async () => {
    const { server } = await start();
    const p = await ready(server);
    p.send(buildPing({ token: Buffer.from('t1') }));
    expect(parseSignal(await p.next())).toMatchObject({ kind: 'pong', token: Buffer.from('t1'), custody: false });
    p.send(buildPing({ token: Buffer.from('t2'), custody: true }));
    expect(parseSignal(await p.next())).toMatchObject({ kind: 'pong', token: Buffer.from('t2'), custody: true });
  });

  it('holds the Pong to a Ping with Custody until the earlier requests are answered (§5.4.1)', async () => {
    const { server, received } = await start({}, false);
    const p = await ready(server);
    p.send(get('r1'));
    p.send(buildPing({ token: Buffer.from('c'), custody: true }));
    expect(await until(() => received.length === 1)).toBe(true);
    expect(await p.anyWithin(200)).toBe(false);
    const { msg, ctx } = received[0]!;
    server.sendMessage(content(msg.token, 'late'), ctx);
    const first = await p.next();
    expect(first.code).toBe(Code.CONTENT);
    expect(parseSignal(await p.next())).toMatchObject({ kind: 'pong', token: Buffer.from('c'), custody: true });
  });
});

describe('coap+tcp Release and Abort (RFC 8323 §5.5, §5.6)', () => {
  it('closes after a Release once the pending request is answered', async () => {
    const { server, received } = await start({}, false);
    const p = await ready(server);
    p.send(get('q'));
    expect(await until(() => received.length === 1)).toBe(true);
    p.send(buildRelease({ diagnostic: 'bye' }));
    expect(await p.waitClosed(200)).toBe(false);
    // a request after Release is not taken
    p.send(get('late'));
    const { msg, ctx } = received[0]!;
    expect(await until(() => server.stats.releasesReceived === 1)).toBe(true);
    server.sendMessage(content(msg.token, 'answer'), ctx);
    expect((await p.next()).payload.toString()).toBe('answer');
    expect(await p.waitClosed()).toBe(true);
    expect(received).toHaveLength(1);
  });

  it('closes at once on a Release without pending requests', async () => {
    const { server } = await start();
    const p = await ready(server);
    p.send(buildRelease());
    expect(await p.waitClosed()).toBe(true);
    expect(server.stats.releasesReceived).toBe(1);
  });

  it('closes on a received Abort without answering', async () => {
    const { server } = await start();
    const p = await ready(server);
    p.send(buildAbort({ diagnostic: 'stop' }));
    expect(await p.waitClosed()).toBe(true);
    expect(p.queue).toHaveLength(0);
    expect(server.stats.abortsReceived).toBe(1);
    expect(await until(() => server.connectionCount === 0)).toBe(true);
  });

  it('answers a malformed frame with Abort and closes only that connection', async () => {
    const { server } = await start();
    const bad = await ready(server);
    const good = await ready(server);
    await roundTrip(good, 'g1');
    // Len 0, TKL 9: a token length RFC 7252 §3 reserves
    bad.sendRaw(Buffer.from([0x09, 0x01, 1, 2, 3, 4, 5, 6, 7, 8, 9]));
    const abort = await bad.next();
    expect(abort.code).toBe(SignalCode.ABORT);
    expect(await bad.waitClosed()).toBe(true);
    await roundTrip(good, 'g2');
    expect(server.stats).toMatchObject({ malformedFrames: 1, abortsSent: 1, active: 1 });
  });

  it('aborts a frame larger than our Max-Message-Size as soon as its length is read', async () => {
    const { server } = await start({ maxMessageSize: 1024 });
    const p = await ready(server);
    // Len 14: 16-bit extended length 269 + 2000, code GET; no body follows
    const head = Buffer.from([0xe0, 0, 0, Code.GET]);
    head.writeUInt16BE(2000, 1);
    p.sendRaw(head);
    const abort = parseSignal(await p.next());
    expect(abort?.kind).toBe('abort');
    expect(await p.waitClosed()).toBe(true);
    expect(server.stats.malformedFrames).toBe(1);
  });

  it('sends Release on every connection when stopped', async () => {
    const { server } = await start();
    const a = await ready(server);
    const b = await ready(server);
    await roundTrip(a, 'a');
    await roundTrip(b, 'b');
    await server.stop();
    for (const p of [a, b]) {
      expect(parseSignal(await p.next())?.kind).toBe('release');
      expect(await p.waitClosed()).toBe(true);
    }
  });
});

describe('coap+tcp sending', () => {
  it("refuses a message above the peer's Max-Message-Size and still sends smaller ones", async () => {
    const { server, received } = await start({}, false);
    const p = await ready(server, buildCsm({ maxMessageSize: 100 }));
    p.send(get('m'));
    expect(await until(() => received.length === 1)).toBe(true);
    const { msg, ctx } = received[0]!;
    const errors: Error[] = [];
    server.sendMessage(content(msg.token, Buffer.alloc(200)), ctx, (e) => errors.push(e));
    expect(errors).toHaveLength(1);
    expect(errors[0]!.message).toMatch(/Max-Message-Size 100/);
    server.sendMessage(content(msg.token, Buffer.alloc(80)), ctx, (e) => errors.push(e));
    expect((await p.next()).payload.length).toBe(80);
    expect(errors).toHaveLength(1);
    expect(server.stats.sendErrors).toBe(1);
  });

  it('fails sends on a closed connection', async () => {
    const { server, received } = await start({}, false);
    const p = await ready(server);
    p.send(get('m'));
    expect(await until(() => received.length === 1)).toBe(true);
    p.destroy();
    expect(await until(() => server.connectionCount === 0)).toBe(true);
    const errors: Error[] = [];
    server.sendMessage(content(Buffer.from('m'), 'x'), received[0]!.ctx, (e) => errors.push(e));
    expect(errors).toHaveLength(1);
    expect(server.stats.closedByPeer).toBe(1);
  });

  it('closes a connection whose peer does not read once the write buffer bound is reached', async () => {
    const { server, received } = await start({ maxWriteBuffer: 16384 }, false);
    const p = await ready(server);
    p.send(get('w'));
    expect(await until(() => received.length === 1)).toBe(true);
    p.socket.pause();
    const { msg, ctx } = received[0]!;
    const errors: Error[] = [];
    let sent = 0;
    // the kernel buffers take a few MB first; 20000 x 1 KB is well beyond
    for (; sent < 20000 && errors.length === 0; sent++) {
      server.sendMessage(content(msg.token, Buffer.alloc(1000)), ctx, (e) => errors.push(e));
    }
    expect(errors).toHaveLength(1);
    expect(errors[0]!.message).toMatch(/write buffer full/);
    expect(server.stats.writeOverflows).toBe(1);
    expect(await until(() => server.connectionCount === 0)).toBe(true);
  });
});

describe('coap+tcp bounds and timeouts', () => {
  it('closes connections over TCP.MAX_CONNECTIONS at once and keeps serving the others', async () => {
    const { server } = await start({ maxConnections: 3 });
    const ok = [await ready(server), await ready(server), await ready(server)];
    const extra = await open(server);
    expect(await extra.waitClosed()).toBe(true);
    expect(extra.queue).toHaveLength(0);
    expect(server.stats.overBound).toBe(1);
    for (const [i, p] of ok.entries()) await roundTrip(p, `k${i}`);
    // the bound is on concurrent connections: one closed makes room for one more
    ok[0]!.destroy();
    expect(await until(() => server.connectionCount === 2)).toBe(true);
    const again = await ready(server);
    await roundTrip(again, 'again');
    expect(server.stats).toMatchObject({ overBound: 1, accepted: 4, active: 3 });
  });

  it('releases a connection without messages after the idle timeout, not one that pings', async () => {
    const { server } = await start({ idleTimeout: 300 });
    const idle = await ready(server);
    const busy = await ready(server);
    const t0 = Date.now();
    let pings = 0;
    const pinger = setInterval(() => {
      if (pings++ < 20) busy.send(buildPing());
    }, 100);
    try {
      expect(await idle.waitClosed(3000)).toBe(true);
      const took = Date.now() - t0;
      expect(took).toBeGreaterThanOrEqual(200);
      expect(parseSignal(idle.queue[0]!)).toMatchObject({ kind: 'release', diagnostic: 'idle' });
      // the pinging connection outlives three idle periods
      expect(await busy.waitClosed(1000 - took)).toBe(false);
      expect(server.stats.idleClosed).toBe(1);
    } finally {
      clearInterval(pinger);
    }
  });

  it('aborts a connection that sends no CSM within the handshake timeout', async () => {
    const { server } = await start({ csmTimeout: 300 });
    const p = await open(server);
    await p.next();
    const t0 = Date.now();
    expect(await p.waitClosed(3000)).toBe(true);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(200);
    expect(parseSignal(p.queue[0]!)).toMatchObject({ kind: 'abort' });
    expect(server.stats.csmTimeouts).toBe(1);
  });

  it('closes a slowloris connection dripping a partial frame by the idle timeout', async () => {
    const { server } = await start({ idleTimeout: 400, maxMessageSize: 1024 });
    const slow = await ready(server);
    const good = await ready(server);
    // a frame of 1000 bytes announced (Len 14), then one byte each 50 ms: never complete
    const head = Buffer.from([0xe0, 0, 0, Code.GET]);
    head.writeUInt16BE(1000 - 269, 1);
    slow.sendRaw(head);
    let drips = 0;
    const dripper = setInterval(() => {
      if (drips++ < 60 && !slow.closed) slow.sendRaw(Buffer.from([0]));
    }, 50);
    const pinger = setInterval(() => good.send(buildPing()), 100);
    try {
      expect(await slow.waitClosed(3000)).toBe(true);
      expect(drips).toBeLessThan(60);
      expect(good.closed).toBe(false);
      expect(server.stats.idleClosed).toBe(1);
    } finally {
      clearInterval(dripper);
      clearInterval(pinger);
    }
  });
});

/** Whether ::1 can be bound on this host. */
async function ipv6Loopback(): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen({ host: '::1', port: 0 }, () => s.close(() => resolve(true)));
  });
}

describe('coap+tcp on IPv6', async () => {
  const v6 = await ipv6Loopback();
  it.skipIf(!v6)('serves a connection on ::1 with the peer address in the context', async () => {
    const { server, received } = await start({ address: '::1' });
    expect(server.localAddress).toBe('::1');
    const p = await ready(server, undefined, '::1');
    await roundTrip(p, 'six');
    expect(received[0]!.ctx.address).toBe('::1');
  });
});

describe('coap+tcp signaling option numbers', () => {
  it('uses Max-Message-Size 2 and Block-Wise-Transfer 4 in the CSM it sends', async () => {
    const { server } = await start({ maxMessageSize: 4096, blockWiseTransfer: true });
    const p = await open(server);
    const csm = await p.next();
    expect(csm.options.map((o) => o.number)).toEqual([SignalOpt.MAX_MESSAGE_SIZE, SignalOpt.BLOCK_WISE_TRANSFER]);
    expect(csm.options[0]!.value).toEqual(Buffer.from([0x10, 0x00]));
  });
});

describe('peerAddressText', () => {
  it('shows IPv4-mapped IPv6 peers (dual-stack sockets) as IPv4 and leaves other addresses alone', () => {
    expect(peerAddressText('::ffff:192.0.2.7')).toBe('192.0.2.7');
    expect(peerAddressText('::ffff:c000:207')).toBe('::ffff:c000:207');
    expect(peerAddressText('2001:db8::1')).toBe('2001:db8::1');
    expect(peerAddressText('127.0.0.1')).toBe('127.0.0.1');
  });
});

// The client side of coap+tcp (RFC 8323) against a raw TCP peer on loopback: our CSM first, requests held until the
// server's CSM, the connect timeout, a refused connection, and a lost connection failing the pending request.
import { createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { CoapEndpoint } from '../../src/coap/endpoint.js';
import { requestAsync } from '../../src/coap/client-layer.js';
import { Code, type CoapMessage } from '../../src/coap/message.js';
import { DEFAULT_STACK_CONFIG } from '../../src/coap/stack-config.js';
import { createTcpFrameReader, encodeTcp } from '../../src/coap/tcp-codec.js';
import { SignalCode, SignalOpt, buildCsm } from '../../src/coap/tcp-signaling.js';
import { decodeUint } from '../../src/coap/options.js';
import { MAX_QUEUED_MESSAGES, TcpClientConnector } from '../../src/tcp/client-connector.js';

/** A raw peer: collects the decoded messages of each accepted socket. */
interface RawPeer {
  server: Server;
  port: number;
  sockets: Socket[];
  received: CoapMessage[];
}

const peers: RawPeer[] = [];
const connectors: TcpClientConnector[] = [];

async function rawPeer(onMessage?: (msg: CoapMessage, socket: Socket) => void): Promise<RawPeer> {
  const peer: RawPeer = { server: createServer(), port: 0, sockets: [], received: [] };
  peer.server.on('connection', (socket) => {
    peer.sockets.push(socket);
    const reader = createTcpFrameReader({ maxMessageSize: 65536 });
    socket.on('error', () => undefined);
    socket.on('data', (chunk) => {
      for (const msg of reader.push(chunk)) {
        peer.received.push(msg);
        onMessage?.(msg, socket);
      }
    });
  });
  await new Promise<void>((resolve) => peer.server.listen(0, '127.0.0.1', resolve));
  peer.port = (peer.server.address() as { port: number }).port;
  peers.push(peer);
  return peer;
}

function client(port: number, connectTimeout = 2000): TcpClientConnector {
  const c = new TcpClientConnector({ destination: { address: '127.0.0.1', port }, localAddress: '127.0.0.1', connectTimeout, maxMessageSize: 1152, blockWiseTransfer: true });
  connectors.push(c);
  return c;
}

async function until(cond: () => boolean, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

afterEach(async () => {
  for (const c of connectors.splice(0)) await c.stop();
  for (const p of peers.splice(0)) {
    for (const s of p.sockets) s.destroy();
    await new Promise<void>((resolve) => p.server.close(() => resolve()));
  }
});

describe('TcpClientConnector', () => {
  it('sends its CSM first and holds a request until the server CSM arrived', async () => {
    const peer = await rawPeer();
    const c = client(peer.port);
    let started = false;
    const start = c.start().then(() => void (started = true));
    await until(() => peer.received.length >= 1);
    const csm = peer.received[0]!;
    expect(csm.code).toBe(SignalCode.CSM);
    const mms = csm.options.find((o) => o.number === SignalOpt.MAX_MESSAGE_SIZE);
    expect(mms && decodeUint(mms.value)).toBe(1152);
    // a request before the server's CSM waits
    const errors: Error[] = [];
    c.sendMessage({ type: 0, code: Code.GET, mid: 0, token: Buffer.from([1, 2]), options: [], payload: Buffer.alloc(0) }, { address: '127.0.0.1', port: peer.port }, (e) => errors.push(e));
    await new Promise((r) => setTimeout(r, 100));
    expect(started).toBe(false);
    expect(c.isReady).toBe(false);
    expect(peer.received).toHaveLength(1);
    peer.sockets[0]!.write(encodeTcp(buildCsm({ maxMessageSize: 2048 })));
    await start;
    expect(c.isReady).toBe(true);
    await until(() => peer.received.length >= 2);
    expect(peer.received[1]!.code).toBe(Code.GET);
    expect(peer.received[1]!.token).toEqual(Buffer.from([1, 2]));
    expect(errors).toEqual([]);
  });

  it('bounds the messages waiting for the connection', async () => {
    const peer = await rawPeer();
    const c = client(peer.port, 1000);
    const start = c.start().catch((e: Error) => e);
    let failed = 0;
    for (let i = 0; i < MAX_QUEUED_MESSAGES + 5; i++) {
      c.sendMessage({ type: 0, code: Code.GET, mid: 0, token: Buffer.from([i & 0xff]), options: [], payload: Buffer.alloc(0) }, { address: '127.0.0.1', port: peer.port }, () => failed++);
    }
    expect(failed).toBe(5);
    // without the server's CSM the connect times out and the queued ones fail too
    const err = await start;
    expect(err).toBeInstanceOf(Error);
    expect(failed).toBe(MAX_QUEUED_MESSAGES + 5);
  });

  it('fails start() after the connect timeout when the server accepts but never answers', async () => {
    const peer = await rawPeer();
    const c = client(peer.port, 300);
    const t0 = Date.now();
    await expect(c.start()).rejects.toThrow(/no connection within 300 ms/);
    const took = Date.now() - t0;
    expect(took).toBeGreaterThanOrEqual(250);
    expect(took).toBeLessThan(2000);
    // the socket is closed
    await until(() => peer.sockets[0]?.destroyed === true || peer.sockets[0]?.readableEnded === true);
  });

  it('fails start() at once for a port without a server', async () => {
    const peer = await rawPeer();
    const port = peer.port;
    await new Promise<void>((resolve) => peer.server.close(() => resolve()));
    peers.splice(peers.indexOf(peer), 1);
    const c = client(port, 5000);
    const t0 = Date.now();
    await expect(c.start()).rejects.toThrow(/ECONNREFUSED/);
    expect(Date.now() - t0).toBeLessThan(1000);
  });

  it('answers a Ping with a Pong and fails the pending request of an endpoint when the connection is lost', async () => {
    const peer = await rawPeer((msg, socket) => {
      if (msg.code === SignalCode.CSM) socket.write(encodeTcp(buildCsm({})));
    });
    const c = client(peer.port);
    const ep = new CoapEndpoint({ connector: c, config: { ...DEFAULT_STACK_CONFIG } });
    await ep.start();
    try {
      const ping: CoapMessage = { type: 0, code: SignalCode.PING, mid: 0, token: Buffer.from([9]), options: [], payload: Buffer.alloc(0) };
      peer.sockets[0]!.write(encodeTcp(ping));
      await until(() => peer.received.some((m) => m.code === SignalCode.PONG));
      const pending = requestAsync(ep, { method: Code.GET, path: ['never'], timeout: 10_000 }, { address: '127.0.0.1', port: peer.port });
      await until(() => peer.received.some((m) => m.code === Code.GET));
      const t0 = Date.now();
      peer.sockets[0]!.destroy();
      await expect(pending).rejects.toThrow(/closed/);
      expect(Date.now() - t0).toBeLessThan(2000);
      expect(c.isReady).toBe(false);
      // the next request connects again
      const again = requestAsync(ep, { method: Code.GET, path: ['again'], timeout: 3000 }, { address: '127.0.0.1', port: peer.port });
      await until(() => peer.sockets.length === 2 && peer.received.filter((m) => m.code === Code.GET).length === 2);
      peer.sockets[1]!.destroy();
      await expect(again).rejects.toThrow(/closed/);
    } finally {
      await ep.stop();
    }
  });
});

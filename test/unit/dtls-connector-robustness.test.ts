// Hostile and overload conditions: stateless HelloVerifyRequest under a ClientHello flood, wrong PSK,
// store capacity (refuse vs evict stale), MAC error filter, and random/mutated records against a live
// server that must keep serving a good client.
import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import type { DtlsConnector } from '../../src/dtls/connector.js';
import { encodeClientHello, encodeFullHandshakeMessage, HandshakeType } from '../../src/dtls/handshake/index.js';
import { encodeRecord, parseDatagram } from '../../src/dtls/record.js';
import { client, echoServer, FAST, roundTrip, waitFor } from '../helpers/dtls-pair.js';

const started: DtlsConnector[] = [];
const sockets: dgram.Socket[] = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((c) => c.stop()));
  for (const s of sockets.splice(0)) s.close();
});

const PSK = { pskIdentity: 'Client_identity', pskSecret: Buffer.from('secretPSK') };

async function rawSocket(): Promise<{ socket: dgram.Socket; received: Buffer[] }> {
  const socket = dgram.createSocket('udp4');
  sockets.push(socket);
  const received: Buffer[] = [];
  socket.on('message', (m) => received.push(m));
  await new Promise<void>((r) => socket.bind(0, '127.0.0.1', r));
  return { socket, received };
}

function clientHelloRecord(cookie = Buffer.alloc(0)): Buffer {
  const body = encodeClientHello({
    clientVersion: 0xfefd,
    random: randomBytes(32),
    sessionId: Buffer.alloc(0),
    cookie,
    cipherSuites: [0xc0a8, 0x00ff],
    compressionMethods: [0],
    extensions: { extendedMasterSecret: true, connectionId: randomBytes(6) },
  });
  return encodeRecord(22, 0xfefd, 0, 0, encodeFullHandshakeMessage({ msgType: HandshakeType.CLIENT_HELLO, messageSeq: 0, body }));
}

describe('stateless HelloVerifyRequest', () => {
  it('a flood of 5,000 ClientHellos without cookie from many ports creates no state', async () => {
    const s = await echoServer({ config: { receiveBufferSize: 1_000_000, clientHelloRateLimit: 0 } }); // statelessness, not the flood budget (dtls-flood-guard.test.ts)
    started.push(s.server);
    const senders = await Promise.all(Array.from({ length: 50 }, () => rawSocket()));
    for (let round = 0; round < 100; round++) {
      for (const { socket } of senders) socket.send(clientHelloRecord(), s.server.localPort, '127.0.0.1');
      await new Promise((r) => setTimeout(r, 1)); // pace: the server shares this thread
    }
    await waitFor(() => senders.reduce((n, x) => n + x.received.length, 0) >= s.server.detailStats.helloVerifyRequests && s.server.detailStats.helloVerifyRequests > 4500, 3000);
    expect(s.server.detailStats.helloVerifyRequests).toBeGreaterThan(4500);
    expect(s.server.detailStats.verifiedClientHellos).toBe(0);
    expect(s.server.store.size).toBe(0);
    expect(s.server.stats.connections).toBe(0);
    // every answer is a HelloVerifyRequest with a 32-byte cookie, same record sequence number
    const answer = parseDatagram(senders[0]!.received[0]!, 6)[0]!;
    expect(answer.type).toBe(22);
    expect(answer.fragment[0]).toBe(HandshakeType.HELLO_VERIFY_REQUEST);
    expect(answer.fragment.length).toBe(12 + 2 + 1 + 32);
    // a ClientHello with a forged cookie is answered statelessly as well
    const forged = clientHelloRecord(randomBytes(32));
    senders[0]!.socket.send(forged, s.server.localPort, '127.0.0.1');
    const before = senders[0]!.received.length;
    await waitFor(() => senders[0]!.received.length > before);
    expect(s.server.store.size).toBe(0);
    // and the server still serves a real client
    const c = await client(PSK);
    started.push(c.client);
    await roundTrip(c, s, 'still alive');
  });
});

describe('wrong PSK secret and unknown identity look the same (RFC 4279 §2, no identity oracle)', () => {
  it('default (DTLS.PSK_FAILURE_ALERT=NONE): no alert, the client times out, the server drops the handshake, others keep working', async () => {
    const s = await echoServer({ config: FAST });
    const good = await client(PSK);
    const wrong = await client({ pskIdentity: 'Client_identity', pskSecret: Buffer.from('wrongPSK'), config: FAST });
    const unknown = await client({ pskIdentity: 'nobody', pskSecret: Buffer.from('secretPSK'), config: FAST });
    started.push(s.server, good.client, wrong.client, unknown.client);
    await roundTrip(good, s, 'good 1');
    const [w, u] = await Promise.allSettled([
      wrong.client.connect('127.0.0.1', s.server.localPort),
      unknown.client.connect('127.0.0.1', s.server.localPort),
    ]);
    for (const r of [w, u]) {
      expect(r.status).toBe('rejected');
      expect(String((r as PromiseRejectedResult).reason)).toMatch(/handshake timeout/);
    }
    expect(wrong.client.detailStats.alertsReceived).toBe(0);
    expect(unknown.client.detailStats.alertsReceived).toBe(0);
    expect(s.server.detailStats.alertsSent).toBe(0);
    expect(await waitFor(() => s.server.stats['handshakes failed'] === 2, 5000)).toBe(true);
    expect(s.server.stats['dropped received mac-errors']).toBeGreaterThanOrEqual(2);
    expect(s.server.store.size).toBe(1);
    const { atClient } = await roundTrip(good, s, 'good 2');
    expect(atClient.data.toString()).toBe('echo:good 2');
  });

  it('DTLS.PSK_FAILURE_ALERT=DECRYPT_ERROR: both get a fatal decrypt_error (51)', async () => {
    const s = await echoServer({ config: { pskFailureAlert: 'DECRYPT_ERROR' } });
    started.push(s.server);
    for (const creds of [
      { pskIdentity: 'Client_identity', pskSecret: Buffer.from('wrongPSK') },
      { pskIdentity: 'nobody', pskSecret: Buffer.from('secretPSK') },
    ]) {
      const c = await client({ ...creds, config: FAST });
      started.push(c.client);
      await expect(c.client.connect('127.0.0.1', s.server.localPort)).rejects.toThrow(/fatal alert 51/);
      expect(c.client.store.size).toBe(0);
    }
    expect(s.server.stats['handshakes failed']).toBe(2);
    expect(s.server.store.size).toBe(0);
  });
});

describe('connection store capacity (dtls.md §8)', () => {
  it('a full store of non-stale connections refuses a new handshake', async () => {
    const s = await echoServer({ config: { maxConnections: 2, staleConnectionThreshold: 60_000 } });
    started.push(s.server);
    const clients = await Promise.all([0, 1, 2].map(() => client({ ...PSK, config: FAST })));
    for (const c of clients) started.push(c.client);
    await clients[0]!.client.connect('127.0.0.1', s.server.localPort);
    await clients[1]!.client.connect('127.0.0.1', s.server.localPort);
    await expect(clients[2]!.client.connect('127.0.0.1', s.server.localPort)).rejects.toThrow(/timeout/);
    expect(s.server.detailStats.refusedHandshakes).toBeGreaterThan(0);
    expect(s.server.store.size).toBe(2);
    await roundTrip(clients[0]!, s, 'still here');
  });

  it('a stale least-recently-used connection is evicted for a new one', async () => {
    const s = await echoServer({ config: { maxConnections: 2, staleConnectionThreshold: 200 } });
    started.push(s.server);
    const clients = await Promise.all([0, 1, 2].map(() => client({ ...PSK, config: FAST })));
    for (const c of clients) started.push(c.client);
    await roundTrip(clients[0]!, s, 'a');
    await roundTrip(clients[1]!, s, 'b');
    await new Promise((r) => setTimeout(r, 120));
    await roundTrip(clients[1]!, s, 'b again'); // client 1 stays fresh
    await new Promise((r) => setTimeout(r, 120));
    await clients[2]!.client.connect('127.0.0.1', s.server.localPort);
    expect(s.server.detailStats.evictedConnections).toBe(1);
    expect(s.server.store.size).toBe(2);
    expect(s.server.getConnection('127.0.0.1', clients[0]!.client.localPort)).toBeUndefined();
    expect(s.server.getConnection('127.0.0.1', clients[1]!.client.localPort)).toBeDefined();
    await roundTrip(clients[2]!, s, 'c');
  });
});

describe('MAC error filter (config.md §3)', () => {
  it('more than THRESHOLD bad records block the connection for QUIET_TIME', async () => {
    const captured: Buffer[] = [];
    const s = await echoServer({ config: { macErrorFilterThreshold: 3, macErrorFilterQuietTime: 300 } });
    const c = await client({ ...PSK, outboundFilter: (d) => (captured.push(d), true) });
    started.push(s.server, c.client);
    await roundTrip(c, s, 'ok');
    const record = captured[captured.length - 1]!;
    for (let i = 0; i < 4; i++) {
      const bad = Buffer.from(record);
      bad.writeUInt32BE(1000 + i, 7); // new sequence number, tag no longer matches
      s.server.receiveDatagram(bad, '127.0.0.1', c.client.localPort);
    }
    expect(s.server.stats['dropped received mac-errors']).toBe(4);
    c.client.send(Buffer.from('blocked'), { address: '127.0.0.1', port: s.server.localPort });
    await expect(s.inbox.next(150)).rejects.toThrow();
    expect(s.server.detailStats.macFilterDrops).toBe(1);
    await new Promise((r) => setTimeout(r, 250));
    await roundTrip(c, s, 'unblocked');
  });
});

describe('random and mutated records', () => {
  it('2,000 hostile datagrams leave the server answering a good client', async () => {
    const captured: Buffer[] = [];
    const s = await echoServer({ config: { macErrorFilterThreshold: 0 } });
    const good = await client({ ...PSK, outboundFilter: (d) => (captured.push(d), true) });
    started.push(s.server, good.client);
    await roundTrip(good, s, 'before');
    const attacker = await rawSocket();
    let seed = 12345;
    const rnd = (n: number): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const mutate = (src: Buffer): Buffer => {
      const d = Buffer.from(src);
      switch (rnd(5)) {
        case 0:
          for (let k = 0; k < 1 + rnd(4); k++) d[rnd(d.length)] = rnd(256);
          return d;
        case 1:
          return d.subarray(0, rnd(d.length + 1));
        case 2:
          d.writeUInt16BE(rnd(65536), Math.min(d.length - 2, 11 + rnd(8)));
          return d;
        case 3:
          return Buffer.concat([d, randomBytes(rnd(64))]);
        default:
          d[0] = [20, 21, 22, 23, 25][rnd(5)]!;
          return d;
      }
    };
    for (let i = 0; i < 2000; i++) {
      const kind = rnd(3);
      const datagram = kind === 0 ? randomBytes(1 + rnd(300)) : mutate(captured[rnd(captured.length)]!);
      if (i % 2 === 0) attacker.socket.send(datagram, s.server.localPort, '127.0.0.1');
      // also straight into the receive path as if it came from the good client's address
      else s.server.receiveDatagram(datagram, '127.0.0.1', good.client.localPort);
      if (i % 200 === 199) await new Promise((r) => setTimeout(r, 2));
    }
    await new Promise((r) => setTimeout(r, 50));
    const { atClient } = await roundTrip(good, s, 'after');
    expect(atClient.data.toString()).toBe('echo:after');
    expect(s.server.stats['dropped received records'] + s.server.stats['dropped received mac-errors']).toBeGreaterThan(100);
    const fresh = await client(PSK);
    started.push(fresh.client);
    await roundTrip(fresh, s, 'new client');
  });
});

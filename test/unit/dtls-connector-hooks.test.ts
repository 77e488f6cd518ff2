// The cluster seam (a wrapping datagram transport, forwarded records, node-id CIDs), renegotiation refusal, a new
// handshake from the same address, HelloVerifyRequest version clamping, EMS modes, max_fragment_length.
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import type { PeerAddress } from '../../src/transport/connector.js';
import { UdpTransport, type DatagramHandler, type DatagramTransport, type SendDone } from '../../src/transport/datagram.js';
import type { DtlsConnector } from '../../src/dtls/connector.js';
import { takeSequenceNumber } from '../../src/dtls/epoch-state.js';
import { encodeClientHello, encodeFullHandshakeMessage, HandshakeType } from '../../src/dtls/handshake/index.js';
import { clampVersion, helloVerifyRequestRecord, parseInitialClientHello } from '../../src/dtls/hello-verify.js';
import { parseDatagram, parseRecord, encodeRecord, peekCid } from '../../src/dtls/record.js';
import { client, echoServer, roundTrip, waitFor } from '../helpers/dtls-pair.js';

const started: DtlsConnector[] = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((c) => c.stop()));
});

const PSK = { pskIdentity: 'Client_identity', pskSecret: Buffer.from('secretPSK') };

/** A UDP transport whose receive and send paths a test can intercept (what a cluster transport does). */
class TapTransport implements DatagramTransport {
  consume = false;
  readonly filtered: Buffer[] = [];
  readonly routed: { datagram: Buffer; client: PeerAddress; router: PeerAddress }[] = [];
  onDatagram: DatagramHandler = () => {};
  private readonly udp = new UdpTransport({ address: '127.0.0.1', port: 0 });
  readonly localAddress = '127.0.0.1';
  constructor() {
    this.udp.onDatagram = (data, address, port, router) => {
      if (this.consume && data[0] === 25) this.filtered.push(Buffer.from(data));
      else this.onDatagram(data, address, port, router);
    };
  }
  get localPort(): number {
    return this.udp.localPort;
  }
  get running(): boolean {
    return this.udp.running;
  }
  start(): Promise<void> {
    return this.udp.start();
  }
  stop(): Promise<void> {
    return this.udp.stop();
  }
  /** delivers a datagram as "received from client via router" */
  forwarded(data: Buffer, client: PeerAddress, router: PeerAddress): void {
    this.onDatagram(data, client.address, client.port, router);
  }
  send(data: Buffer, address: string, port: number, router: PeerAddress | undefined, done: SendDone): void {
    if (router !== undefined) {
      this.routed.push({ datagram: Buffer.from(data), client: { address, port }, router });
      done(null);
      return;
    }
    this.udp.send(data, address, port, router, done);
  }
}

describe('cluster seam: the datagram transport', () => {
  it('a wrapping transport sees CID datagrams first; forwarded records mark via and answers carry the router', async () => {
    const tap = new TapTransport();
    const s = await echoServer({ config: { cidLength: 6, nodeId: 7 }, transport: tap });
    const c = await client(PSK);
    started.push(s.server, c.client);
    const first = await roundTrip(c, s, 'direct');
    expect(first.atServer.ctx.dtls!.readCid![0]).toBe(7);
    expect(first.atServer.ctx.dtls!.nodeId).toBe(7);
    expect(first.atServer.ctx.dtls!.via).toBeUndefined();
    expect(first.atServer.ctx.router).toBeUndefined();
    tap.consume = true;
    c.client.send(Buffer.from('via router'), { address: '127.0.0.1', port: s.server.localPort });
    expect(await waitFor(() => tap.filtered.length === 1)).toBe(true);
    expect(peekCid(tap.filtered[0]!, 6)![0]).toBe(7);
    expect(s.inbox.items.length).toBe(0);
    const router = { address: '127.0.0.9', port: 5884 };
    const natted = { address: '127.0.0.1', port: 40000 };
    tap.forwarded(tap.filtered[0]!, natted, router);
    const atServer = await s.inbox.next();
    expect(atServer.data.toString()).toBe('via router');
    expect(atServer.ctx.dtls!.via).toBe('dtls-cid-router');
    expect(atServer.ctx.router).toEqual(router);
    expect(atServer.ctx.dtls!.prevPort).toBe(c.client.localPort);
    expect(tap.routed.length).toBe(1);
    expect(tap.routed[0]!.client).toEqual(natted);
    expect(tap.routed[0]!.router).toEqual(router);
    expect(parseDatagram(tap.routed[0]!.datagram, 6)[0]!.type).toBe(25);
    // a newest record received directly clears the router again
    tap.consume = false;
    const direct = await roundTrip(c, s, 'direct again');
    expect(direct.atServer.ctx.dtls!.via).toBeUndefined();
    expect(tap.routed.length).toBe(1);
  });
});

describe('renegotiation and new handshakes', () => {
  it('a ClientHello inside the session is refused with a no_renegotiation warning; the session continues', async () => {
    const out: Buffer[] = [];
    const s = await echoServer({ outboundFilter: (d) => (out.push(d), true) });
    const c = await client(PSK);
    started.push(s.server, c.client);
    await roundTrip(c, s, 'x');
    const conn = c.client.getConnection('127.0.0.1', s.server.localPort)!;
    const body = encodeClientHello({ clientVersion: 0xfefd, random: randomBytes(32), sessionId: Buffer.alloc(0), cookie: Buffer.alloc(0), cipherSuites: [0xc0a8], compressionMethods: [0] });
    const hello = encodeFullHandshakeMessage({ msgType: HandshakeType.CLIENT_HELLO, messageSeq: 4, body });
    const record = conn.protection!.encryptRecord(22, 1, takeSequenceNumber(conn.epoch!)!, hello, conn.writeCid);
    out.length = 0;
    s.server.receiveDatagram(record, '127.0.0.1', c.client.localPort);
    expect(out.length).toBe(1);
    const alert = conn.protection!.decrypt(parseRecord(out[0]!, 0, 6)!)!;
    expect(alert.type).toBe(21);
    expect([...alert.plaintext]).toEqual([1, 100]);
    await roundTrip(c, s, 'still established');
    expect(s.server.stats['handshakes succeeded']).toBe(1);
  });

  it('a new handshake from the same address keeps the old connection until it completes', async () => {
    let holdFlight4 = false;
    const held: Buffer[] = [];
    const s = await echoServer({
      outboundFilter: (d) => {
        if (holdFlight4 && d[0] === 22 && parseDatagram(d, 6).some((r) => r.fragment[0] === HandshakeType.SERVER_HELLO)) {
          held.push(d);
          return false;
        }
        return true;
      },
    });
    const c = await client({ ...PSK, config: { retransmissionTimeout: 2000 } });
    started.push(s.server, c.client);
    const r1 = await roundTrip(c, s, 'old');
    holdFlight4 = true;
    c.client.forceFullHandshake = true;
    const second = c.client.connect('127.0.0.1', s.server.localPort);
    expect(await waitFor(() => held.length === 1)).toBe(true);
    expect(s.server.store.size).toBe(2);
    const during = await roundTrip(c, s, 'during');
    expect(during.atServer.ctx.connection).toBe(r1.atServer.ctx.connection);
    holdFlight4 = false;
    // deliver the held flight 4 to the client
    c.client.receiveDatagram(held[0]!, '127.0.0.1', s.server.localPort);
    await second;
    expect(await waitFor(() => s.server.stats['handshakes succeeded'] === 2)).toBe(true);
    expect(s.server.store.size).toBe(1);
    const after = await roundTrip(c, s, 'new');
    expect(after.atServer.ctx.connection).not.toBe(r1.atServer.ctx.connection);
  });
});

describe('HelloVerifyRequest', () => {
  it('uses the ClientHello record sequence number, message_seq and clamped version', () => {
    const body = encodeClientHello({ clientVersion: 0xfefd, random: randomBytes(32), sessionId: Buffer.alloc(0), cookie: Buffer.alloc(0), cipherSuites: [0xc0a8], compressionMethods: [0] });
    for (const [version, expected] of [
      [0xfeff, 0xfeff],
      [0xfefd, 0xfefd],
      [0xfefc, 0xfefd],
      [0xff00, 0xfeff],
    ] as const) {
      const rec = parseRecord(encodeRecord(22, version, 0, 42, encodeFullHandshakeMessage({ msgType: 1, messageSeq: 3, body })), 0, 0)!;
      const ch = parseInitialClientHello(rec)!;
      const hvr = parseRecord(helloVerifyRequestRecord(rec, ch.message, Buffer.alloc(32, 9)), 0, 0)!;
      expect(hvr.version).toBe(expected);
      expect(clampVersion(version)).toBe(expected);
      expect(hvr.seq).toBe(42);
      expect(hvr.epoch).toBe(0);
      expect(hvr.fragment.readUInt16BE(4)).toBe(3); // message_seq
      expect(hvr.fragment.readUInt16BE(12)).toBe(expected); // server_version
    }
  });
});

describe('negotiated options', () => {
  it('EMS: a client without it is accepted (ENABLED), refused (REQUIRED)', async () => {
    const s = await echoServer();
    const c = await client({ ...PSK, config: { extendedMasterSecretMode: 'NONE' } });
    started.push(s.server, c.client);
    const { atServer } = await roundTrip(c, s, 'no ems');
    expect(atServer.ctx.dtls!.extendedMasterSecret).toBe(false);
    const strict = await echoServer({ config: { extendedMasterSecretMode: 'REQUIRED' } });
    started.push(strict.server);
    await expect(c.client.connect('127.0.0.1', strict.server.localPort)).rejects.toThrow(/fatal alert 40/);
  });

  it('max_fragment_length 512: records to the client stay within 512 bytes of plaintext', async () => {
    const out: Buffer[] = [];
    const s = await echoServer({ outboundFilter: (d) => (out.push(d), true) });
    const c = await client({ ...PSK, config: { maxFragmentSize: 512 } });
    started.push(s.server, c.client);
    const { atServer } = await roundTrip(c, s, 'mfl');
    expect(atServer.ctx.dtls!.messageSizeLimit).toBe(512 - 16 - 1);
    const errors: Error[] = [];
    s.server.send(Buffer.alloc(600), atServer.ctx, (e) => errors.push(e));
    expect(errors.length).toBe(1);
  });
});

describe('statistics', () => {
  it('counts records in and out', async () => {
    const s = await echoServer();
    const c = await client(PSK);
    started.push(s.server, c.client);
    await roundTrip(c, s, 'count');
    expect(s.server.stats['received records']).toBeGreaterThanOrEqual(6);
    expect(s.server.stats['sending records']).toBeGreaterThanOrEqual(5);
    expect(s.server.stats.connections).toBe(1);
    expect(s.server.stats['handshakes succeeded']).toBe(1);
    expect(Object.keys(s.server.stats)).toContain('dropped received mac-errors');
  });
});

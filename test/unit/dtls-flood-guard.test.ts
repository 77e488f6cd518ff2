// DTLS flood defence (issue 10) on a server connector with a fake transport and clock: the cheap
// HelloVerifyRequest equals the full path's, ClientHello budgets per 100 ms slice with light/heavy peers,
// the separate budget of cookie-verified handshake starts, the bound of handshakes in progress (oldest
// abandoned, per address too), episodes logged once, and counters in detailStats.
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { describe, expect, it } from 'vitest';
import { DtlsConnector } from '../../src/dtls/connector.js';
import type { DtlsConfig } from '../../src/dtls/config.js';
import { createCookieGenerator } from '../../src/dtls/cookie.js';
import { encodeClientHello, encodeFullHandshakeMessage, HandshakeType } from '../../src/dtls/handshake/index.js';
import { clientHelloCookieOffset, fastHelloVerifyRequest, helloVerifyRequestRecord, isPlainFirstClientHello, parseInitialClientHello } from '../../src/dtls/hello-verify.js';
import { encodeRecord, parseDatagram } from '../../src/dtls/record.js';
import type { DatagramTransport } from '../../src/transport/datagram.js';

interface Sent {
  data: Buffer;
  address: string;
  port: number;
}

/** A ClientHello datagram (PSK CCM_8, EMS, CID) with the given random, cookie and session id. */
function clientHello(random: Buffer, cookie: Buffer = Buffer.alloc(0), sessionId: Buffer = Buffer.alloc(0), seq = 0): Buffer {
  const body = encodeClientHello({
    clientVersion: 0xfefd,
    random,
    sessionId,
    cookie,
    cipherSuites: [0xc0a8, 0x00ff],
    compressionMethods: [0],
    extensions: { extendedMasterSecret: true, connectionId: Buffer.alloc(0) },
  });
  return encodeRecord(22, 0xfefd, 0, seq, encodeFullHandshakeMessage({ msgType: HandshakeType.CLIENT_HELLO, messageSeq: 0, body }));
}

/** The cookie of a HelloVerifyRequest datagram. */
function cookieOf(hvr: Buffer): Buffer {
  const rec = parseDatagram(hvr, 0)[0]!;
  expect(rec.fragment[0]).toBe(HandshakeType.HELLO_VERIFY_REQUEST);
  return Buffer.from(rec.fragment.subarray(15, 15 + rec.fragment[14]!));
}

function logCapture(): { logger: Logger; warn: string[]; info: string[] } {
  const warn: string[] = [];
  const info: string[] = [];
  const logger = {
    warn: (...a: unknown[]) => warn.push(String(a.find((x) => typeof x === 'string'))),
    info: (...a: unknown[]) => info.push(String(a.find((x) => typeof x === 'string'))),
    debug: () => {},
    error: () => {},
    trace: () => {},
  } as unknown as Logger;
  return { logger, warn, info };
}

/** A server connector on a fake transport with a settable clock. */
function server(config: Partial<DtlsConfig>) {
  const sent: Sent[] = [];
  let time = 1_000_000;
  const transport: DatagramTransport = {
    localAddress: '127.0.0.1',
    localPort: 5684,
    running: true,
    onDatagram: () => {},
    start: async () => {},
    stop: async () => {},
    send: (data, address, port, _router, done) => {
      sent.push({ data: Buffer.from(data), address, port });
      done(null);
    },
  };
  const log = logCapture();
  const conn = new DtlsConnector({ address: '127.0.0.1', port: 0, role: 'server', transport, config: { cidLength: 6, ...config }, now: () => time, logger: log.logger });
  return {
    conn,
    sent,
    log,
    advance: (ms: number) => (time += ms),
    /** a datagram from address:port as the transport delivers it */
    receive: (d: Buffer, port: number, address = '127.0.0.1') => transport.onDatagram(d, address, port, undefined),
  };
}

describe('cheap HelloVerifyRequest (RFC 6347 §4.2.1)', () => {
  it('classifies with byte reads and builds the same record as the full path', () => {
    const d = clientHello(randomBytes(32), Buffer.alloc(0), Buffer.alloc(0), 77);
    const offset = clientHelloCookieOffset(d);
    expect(offset).toBe(13 + 12 + 2 + 32 + 1);
    expect(isPlainFirstClientHello(d, offset)).toBe(true);
    const cookie = randomBytes(32);
    const rec = parseDatagram(d, 0)[0]!;
    const init = parseInitialClientHello(rec)!;
    expect(fastHelloVerifyRequest(d, cookie)).toEqual(helloVerifyRequestRecord(rec, init.message, cookie));
    // the cookie HMAC input is the body without the cookie field, as for the full path
    const gen = createCookieGenerator({ newSecret: () => Buffer.alloc(32, 7) });
    const body = d.subarray(25);
    const without = Buffer.concat([body.subarray(0, offset - 25), body.subarray(offset - 25 + 1)]);
    expect(gen.generateParts!('10.1.2.3', 999, d.subarray(25, offset), d.subarray(offset + 1))).toEqual(gen.generate('10.1.2.3', 999, without));
    expect(gen.generateParts!('::1', 999, d.subarray(25, offset), d.subarray(offset + 1))).toEqual(gen.generate('::1', 999, without));
  });

  it('leaves everything else to the full parser', () => {
    const d = clientHello(randomBytes(32));
    const offset = clientHelloCookieOffset(d);
    expect(clientHelloCookieOffset(Buffer.from([23, 0xfe, 0xfd, 0, 1]))).toBe(-1); // application data
    const epoch1 = Buffer.from(d);
    epoch1[4] = 1;
    expect(clientHelloCookieOffset(epoch1)).toBe(-1);
    expect(clientHelloCookieOffset(d.subarray(0, 40))).toBe(0); // too short to find the cookie
    expect(isPlainFirstClientHello(clientHello(randomBytes(32), randomBytes(32)), clientHelloCookieOffset(clientHello(randomBytes(32), randomBytes(32))))).toBe(false);
    const withSession = clientHello(randomBytes(32), Buffer.alloc(0), randomBytes(32));
    expect(isPlainFirstClientHello(withSession, clientHelloCookieOffset(withSession))).toBe(false);
    expect(isPlainFirstClientHello(Buffer.concat([d, d]), offset)).toBe(false); // two records
    expect(isPlainFirstClientHello(d.subarray(0, d.length - 1), offset)).toBe(false); // truncated
    const badExt = Buffer.from(d);
    badExt[badExt.length - 3]! += 1; // last extension's length runs past the end
    expect(isPlainFirstClientHello(badExt, offset)).toBe(false);
    const fragment = Buffer.from(d);
    fragment.writeUIntBE(d.readUIntBE(14, 3) - 1, 22, 3); // fragment_length < length
    expect(isPlainFirstClientHello(fragment, offset)).toBe(false);
  });
});

/** A fake transport that hands what it sends to `deliver` on the next turn and records it. */
function linkedTransport(localPort: number, deliver: (d: Buffer) => void): DatagramTransport & { sent: Buffer[] } {
  const sent: Buffer[] = [];
  return {
    sent,
    localAddress: '127.0.0.1',
    localPort,
    running: true,
    onDatagram: () => {},
    start: async () => {},
    stop: async () => {},
    send: (data, _address, _port, _router, done) => {
      const copy = Buffer.from(data);
      sent.push(copy);
      setImmediate(() => deliver(copy));
      done(null);
    },
  };
}

describe('first ClientHellos from the address of an established connection (RFC 6347 §4.2.8)', () => {
  it('a late copy of the ClientHello that created it is dropped, a new one gets a HelloVerifyRequest and the connection stays', async () => {
    const CLIENT_PORT = 40_000;
    const clientTransport = linkedTransport(CLIENT_PORT, (d) => fromServer.onDatagram(d, '127.0.0.1', CLIENT_PORT, undefined));
    const fromServer = linkedTransport(5684, (d) => clientTransport.onDatagram(d, '127.0.0.1', 5684, undefined));
    const srv = new DtlsConnector({ address: '127.0.0.1', port: 0, role: 'server', transport: fromServer, config: { cidLength: 6 } });
    const cli = new DtlsConnector({ address: '127.0.0.1', port: 0, role: 'client', transport: clientTransport, pskIdentity: 'Client_identity', pskSecret: Buffer.from('secretPSK') });
    await srv.start();
    await cli.start();
    const session = await cli.connect('127.0.0.1', 5684);
    expect(session.cipherSuite).toBe('TLS_PSK_WITH_AES_128_CCM_8');
    const established = srv.getConnection('127.0.0.1', CLIENT_PORT);
    expect(established?.established).toBe(true);
    const firstHello = clientTransport.sent[0]!;
    expect(firstHello[13]).toBe(HandshakeType.CLIENT_HELLO);
    const settle = () => new Promise<void>((r) => setTimeout(r, 20));
    const sentBefore = fromServer.sent.length;
    fromServer.onDatagram(firstHello, '127.0.0.1', CLIENT_PORT, undefined);
    await settle();
    expect(fromServer.sent.length, 'late copy answered').toBe(sentBefore);
    fromServer.onDatagram(clientHello(randomBytes(32)), '127.0.0.1', CLIENT_PORT, undefined);
    await settle();
    expect(fromServer.sent.length).toBe(sentBefore + 1);
    const hvr = fromServer.sent.at(-1)!;
    expect(hvr[0]).toBe(22);
    expect(hvr[13]).toBe(HandshakeType.HELLO_VERIFY_REQUEST);
    // the established connection is untouched until a cookie proves the new handshake
    expect(srv.getConnection('127.0.0.1', CLIENT_PORT)).toBe(established);
    await cli.stop();
    await srv.stop();
  });
});

describe('ClientHello budgets', () => {
  // 100/s = 10 per 100 ms slice, everyone up to 5, light peers (< 3 this second) up to 10
  const limits: Partial<DtlsConfig> = { clientHelloRateLimit: 100, clientHelloPeerRateLimit: 3 };

  it('a heavy peer is cut off at half the budget, light peers are still answered up to the budget, drops counted', () => {
    const s = server(limits);
    for (let i = 0; i < 20; i++) s.receive(clientHello(randomBytes(32)), 40000);
    expect(s.sent).toHaveLength(5);
    expect(s.conn.detailStats.helloVerifyRequests).toBe(5);
    expect(s.conn.detailStats.droppedClientHellos).toBe(15);
    // light peers: the rest of the slice's budget
    for (let p = 0; p < 10; p++) s.receive(clientHello(randomBytes(32)), 41000 + p);
    expect(s.sent).toHaveLength(10);
    expect(new Set(s.sent.slice(5).map((x) => x.port)).size).toBe(5);
    expect(s.conn.detailStats.droppedClientHellos).toBe(20);
    expect(s.conn.stats['dropped received records']).toBe(20);
    expect(s.conn.store.size).toBe(0);
    // the next slice has a fresh budget; the heavy peer stays heavy within its second
    s.advance(100);
    s.receive(clientHello(randomBytes(32)), 42000);
    expect(s.sent).toHaveLength(11);
    for (let i = 0; i < 10; i++) s.receive(clientHello(randomBytes(32)), 40000);
    expect(s.sent).toHaveLength(15); // 4 left below half the budget
    // logged once per episode: one warning, one end line after 2 s without drops
    expect(s.log.warn.filter((l) => l.includes('flood defence engaged'))).toHaveLength(1);
    expect(s.conn.detailStats.floodEpisodes).toBe(1);
    s.advance(2100);
    s.receive(clientHello(randomBytes(32)), 43000);
    expect(s.log.info.filter((l) => l.includes('episode ended'))).toHaveLength(1);
    s.conn.stop();
  });

  it('a cookie-verified ClientHello uses the budget of handshake starts, not the exhausted HelloVerifyRequest budget', () => {
    const s = server({ ...limits, handshakeStartRateLimit: 100 });
    const random = randomBytes(32);
    s.receive(clientHello(random), 50000);
    const cookie = cookieOf(s.sent[0]!.data);
    for (let p = 0; p < 30; p++) s.receive(clientHello(randomBytes(32)), 51000 + p); // uses up the HVR budget
    expect(s.conn.detailStats.droppedClientHellos).toBeGreaterThan(0);
    const before = s.sent.length;
    s.receive(clientHello(random, cookie, Buffer.alloc(0), 1), 50000);
    expect(s.conn.detailStats.verifiedClientHellos).toBe(1);
    expect(s.sent.length).toBeGreaterThan(before); // ServerHello flight
    expect(s.conn.store.getHandshake('127.0.0.1:50000')).toBeDefined();
    s.conn.stop();
  });

  it('handshake starts over their budget are dropped for heavy peers', () => {
    const s = server({ clientHelloRateLimit: 0, handshakeStartRateLimit: 20, clientHelloPeerRateLimit: 1 }); // 2 per slice, 1 for everyone
    const port = 52000;
    let started = 0;
    for (let i = 0; i < 4; i++) {
      const random = randomBytes(32);
      s.sent.length = 0;
      s.receive(clientHello(random), port);
      const cookie = cookieOf(s.sent[0]!.data);
      const before = s.conn.detailStats.verifiedClientHellos;
      s.receive(clientHello(random, cookie, Buffer.alloc(0), 1), port);
      started += s.conn.detailStats.verifiedClientHellos - before;
    }
    expect(started).toBe(1); // the peer is heavy after its first ClientHello
    expect(s.conn.detailStats.droppedVerifiedClientHellos).toBe(3);
    s.conn.stop();
  });
});

describe('peers with an established connection', () => {
  it('handshake again and again above the soft budgets (a handshake benchmark) without a drop', async () => {
    const CLIENT_PORT = 40_001;
    const clientTransport = linkedTransport(CLIENT_PORT, (d) => fromServer.onDatagram(d, '127.0.0.1', CLIENT_PORT, undefined));
    const fromServer = linkedTransport(5684, (d) => clientTransport.onDatagram(d, '127.0.0.1', 5684, undefined));
    // 3 per 100 ms slice of each budget, 1 for heavy peers; a peer is heavy from its 2nd ClientHello in a second
    const limits: Partial<DtlsConfig> = { cidLength: 6, clientHelloRateLimit: 30, handshakeStartRateLimit: 30, clientHelloPeerRateLimit: 1 };
    const srv = new DtlsConnector({ address: '127.0.0.1', port: 0, role: 'server', transport: fromServer, config: limits });
    const cli = new DtlsConnector({ address: '127.0.0.1', port: 0, role: 'client', transport: clientTransport, pskIdentity: 'Client_identity', pskSecret: Buffer.from('secretPSK') });
    cli.forceFullHandshake = true;
    await srv.start();
    await cli.start();
    for (let i = 0; i < 3; i++) await cli.connect('127.0.0.1', 5684);
    expect(srv.detailStats.verifiedClientHellos).toBe(3);
    expect(srv.detailStats.droppedClientHellos + srv.detailStats.droppedVerifiedClientHellos).toBe(0);
    // a peer without an established connection is heavy at the same rate: its 2nd ClientHello is dropped
    const before = fromServer.sent.length;
    fromServer.onDatagram(clientHello(randomBytes(32)), '127.0.0.1', 40_002, undefined);
    fromServer.onDatagram(clientHello(randomBytes(32)), '127.0.0.1', 40_002, undefined);
    expect(fromServer.sent.length - before).toBeLessThanOrEqual(1);
    await cli.stop();
    await srv.stop();
  });
});

describe('handshakes in progress', () => {
  /** Cookie exchange + verified ClientHello from address:port; true when a handshake started. */
  function handshake(s: ReturnType<typeof server>, port: number, address = '127.0.0.1'): boolean {
    const random = randomBytes(32);
    s.sent.length = 0;
    s.receive(clientHello(random), port, address);
    const cookie = cookieOf(s.sent[0]!.data);
    const before = s.conn.detailStats.verifiedClientHellos;
    s.receive(clientHello(random, cookie, Buffer.alloc(0), 1), port, address);
    return s.conn.detailStats.verifiedClientHellos === before + 1;
  }

  it('at DTLS.MAX_PENDING_HANDSHAKES the oldest is abandoned for the new one', () => {
    const s = server({ maxPendingHandshakes: 3, maxPendingHandshakesPerAddress: 0 });
    for (let p = 0; p < 5; p++) expect(handshake(s, 53000 + p)).toBe(true);
    expect(s.conn.store.size).toBe(3);
    expect(s.conn.detailStats.abandonedHandshakes).toBe(2);
    expect(s.conn.store.getHandshake('127.0.0.1:53000')).toBeUndefined();
    expect(s.conn.store.getHandshake('127.0.0.1:53001')).toBeUndefined();
    expect(s.conn.store.getHandshake('127.0.0.1:53004')).toBeDefined();
    expect(s.log.warn.filter((l) => l.includes('DTLS.MAX_PENDING_HANDSHAKES'))).toHaveLength(1);
    s.conn.stop();
  });

  it('per IP address: the oldest handshake of that address goes, other addresses keep theirs', () => {
    const s = server({ maxPendingHandshakes: 100, maxPendingHandshakesPerAddress: 2 });
    expect(handshake(s, 54000, '127.0.0.2')).toBe(true);
    for (let p = 0; p < 4; p++) expect(handshake(s, 54100 + p, '127.0.0.3')).toBe(true);
    expect(s.conn.store.size).toBe(3);
    expect(s.conn.store.getHandshake('127.0.0.2:54000')).toBeDefined();
    expect(s.conn.store.getHandshake('127.0.0.3:54103')).toBeDefined();
    expect(s.conn.store.getHandshake('127.0.0.3:54102')).toBeDefined();
    expect(s.conn.detailStats.abandonedHandshakes).toBe(2);
    s.conn.stop();
  });
});

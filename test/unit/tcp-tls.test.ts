// The coaps+tcp endpoint (RFC 8323 §9) with node:tls clients on 127.0.0.1 and ::1: the demo PKI's
// server chain verified by the demo CA, TLS 1.2 and 1.3, client certificates per client-auth mode
// (NONE, WANTED, NEEDED), --trust-all, the TLS session in the EndpointContext, and the counters.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { CON, Code, EMPTY, type CoapMessage } from '../../src/coap/message.js';
import { SignalCode, buildCsm } from '../../src/coap/tcp-signaling.js';
import type { ClientAuthMode } from '../../src/dtls/config.js';
import { defaultPkiDir, loadCertificates, loadDemoCredentials } from '../../src/dtls/credentials/index.js';
import type { EndpointContext } from '../../src/transport/connector.js';
import { createTcpServer, tcpConnectionId, type TcpServer } from '../../src/tcp/server.js';
import { sessionIdOf } from '../../src/tcp/tls-options.js';
import { connectTls, type TcpPeer } from '../helpers/tcp-peer.js';

const logger = pino({ level: 'silent' });
const pki = defaultPkiDir();
const pem = (name: string): string => readFileSync(join(pki, name), 'utf8');
const TRUST = pem('trust.pem');
const CLIENT = { key: pem('cf-client-key.pem'), cert: pem('cf-client-chain.pem') };
const CLIENT_SUBJECT = 'CN=cf-client,OU=Californium,O=Eclipse IoT,L=Ottawa,C=CA';

const servers: TcpServer[] = [];
const peers: TcpPeer[] = [];

afterEach(async () => {
  for (const p of peers.splice(0)) p.destroy();
  await Promise.all(servers.splice(0).map((s) => s.stop()));
});

interface Options {
  clientAuth?: ClientAuthMode;
  trustAll?: boolean;
  /** trust anchors other than the demo trust.pem */
  anchors?: string;
  address?: string;
  handshakeTimeout?: number;
}

async function start(o: Options = {}): Promise<{ server: TcpServer; received: EndpointContext[] }> {
  const demo = loadDemoCredentials();
  const received: EndpointContext[] = [];
  const server = createTcpServer({
    address: o.address ?? '127.0.0.1',
    port: 0,
    maxMessageSize: 8192,
    blockWiseTransfer: true,
    maxConnections: 10,
    idleTimeout: 0,
    csmTimeout: 5000,
    maxWriteBuffer: 262144,
    closeGrace: 500,
    logger,
    tls: {
      identities: demo.identities,
      trustAnchors: o.anchors !== undefined ? loadCertificates(join(pki, o.anchors)) : demo.trustAnchors,
      clientAuth: o.clientAuth ?? 'WANTED',
      trustAll: o.trustAll ?? false,
      handshakeTimeout: o.handshakeTimeout ?? 5000,
      sessionTimeout: 3_600_000,
    },
  });
  server.onMessage = (msg, ctx) => {
    received.push(ctx);
    server.sendMessage({ type: CON, code: Code.CONTENT, mid: 0, token: msg.token, options: [], payload: Buffer.from('tls') }, ctx);
  };
  await server.start();
  servers.push(server);
  return { server, received };
}

function get(token: string): CoapMessage {
  return { type: CON, code: Code.GET, mid: 0, token: Buffer.from(token), options: [], payload: EMPTY };
}

/** Handshake, CSM exchange and one GET; returns the peer. Rejects when the server refuses the client. */
async function exchange(server: TcpServer, tlsOpts: Parameters<typeof connectTls>[1]): Promise<TcpPeer> {
  const p = await connectTls(server.localPort, { ca: TRUST, ...tlsOpts });
  peers.push(p);
  const csm = await p.next();
  expect(csm.code).toBe(SignalCode.CSM);
  p.send(buildCsm({ maxMessageSize: 8192 }));
  p.send(get('t'));
  const res = await p.next();
  expect(res.code).toBe(Code.CONTENT);
  expect(res.payload.toString()).toBe('tls');
  return p;
}

/** Resolves true when the server refused the client: error or close before the CSM arrived. */
async function refused(server: TcpServer, tlsOpts: Parameters<typeof connectTls>[1]): Promise<boolean> {
  let p: TcpPeer;
  try {
    p = await connectTls(server.localPort, { ca: TRUST, ...tlsOpts });
  } catch {
    return true;
  }
  peers.push(p);
  try {
    await p.next(3000);
    return false;
  } catch (err) {
    if (!/connection closed/.test((err as Error).message)) throw err;
    return true;
  }
}

describe('coaps+tcp with the demo PKI', () => {
  it('presents the demo server chain, verified by the demo trust anchors, with TLS 1.3', async () => {
    const { server, received } = await start({ clientAuth: 'NEEDED' });
    const p = await exchange(server, CLIENT);
    const socket = p.socket as import('node:tls').TLSSocket;
    expect(socket.authorized).toBe(true);
    expect(socket.getPeerCertificate().subject.CN).toBe('cf-server');
    expect(socket.getProtocol()).toBe('TLSv1.3');
    const tls = received[0]!.tls!;
    expect(tls.peerIdentity).toBe(CLIENT_SUBJECT);
    expect(tls.protocol).toBe('TLSv1.3');
    expect(tls.cipherSuite).toMatch(/^TLS_(AES|CHACHA20)_/);
    expect(tls.resumed).toBe(false);
    expect(tcpConnectionId(received[0]!)).toMatch(/^tls#\d+$/);
    expect(received[0]!.address).toBe('127.0.0.1');
    expect(received[0]!.port).toBe(socket.localPort);
    expect(server.protocol).toBe('TLS');
    expect(server.scheme).toBe('coaps+tcp');
  });

  it('speaks TLS 1.2 with an IANA cipher suite name, and resumes the session with the client identity', async () => {
    const { server, received } = await start({ clientAuth: 'NEEDED' });
    const first = await exchange(server, { ...CLIENT, maxVersion: 'TLSv1.2' });
    const session = (first.socket as import('node:tls').TLSSocket).getSession();
    expect(session).toBeDefined();
    await exchange(server, { ...CLIENT, maxVersion: 'TLSv1.2', session: session! });
    expect(received[0]!.tls!.resumed).toBe(false);
    expect(received[1]!.tls).toMatchObject({ resumed: true, protocol: 'TLSv1.2', peerIdentity: CLIENT_SUBJECT });
    const tls = received[0]!.tls!;
    expect(tls.protocol).toBe('TLSv1.2');
    expect(tls.cipherSuite).toMatch(/^TLS_ECDHE_(ECDSA|RSA)_WITH_AES_(128|256)_GCM_SHA(256|384)$/);
    // session tickets (RFC 5077): OpenSSL leaves the server's session id empty
    expect(tls.sessionId).toEqual(Buffer.alloc(0));
    expect(tls.peerIdentity).toBe(CLIENT_SUBJECT);
  });

  it('offers the RSA chain to a client that only accepts RSA signatures', async () => {
    const { server } = await start({ clientAuth: 'NONE' });
    const p = await exchange(server, { maxVersion: 'TLSv1.2', sigalgs: 'RSA+SHA256:rsa_pss_rsae_sha256' });
    expect((p.socket as import('node:tls').TLSSocket).getPeerCertificate().subject.CN).toBe('cf-server-rsa');
  });

  it('is refused by a client that trusts another CA', async () => {
    const { server } = await start({ clientAuth: 'NONE' });
    await expect(connectTls(server.localPort, { ca: pem('cf-ca-rsa.pem') })).rejects.toThrow();
  });

  it('NEEDED: refuses a client without certificate, with TLS 1.2 and 1.3', async () => {
    const { server, received } = await start({ clientAuth: 'NEEDED' });
    expect(await refused(server, {})).toBe(true);
    expect(await refused(server, { maxVersion: 'TLSv1.2' })).toBe(true);
    expect(received).toHaveLength(0);
    expect(server.stats.handshakeFailures).toBe(2);
  });

  it('WANTED: serves a client without certificate anonymously, and one with a certificate with its identity', async () => {
    const { server, received } = await start({ clientAuth: 'WANTED' });
    await exchange(server, {});
    await exchange(server, CLIENT);
    expect(received[0]!.tls!.peerIdentity).toBeUndefined();
    expect(received[1]!.tls!.peerIdentity).toBe(CLIENT_SUBJECT);
  });

  it('NONE: asks for no certificate', async () => {
    const { server, received } = await start({ clientAuth: 'NONE' });
    await exchange(server, CLIENT);
    expect(received[0]!.tls!.peerIdentity).toBeUndefined();
  });

  it('refuses a client certificate that does not chain to the trust anchors (WANTED and NEEDED)', async () => {
    for (const clientAuth of ['WANTED', 'NEEDED'] as const) {
      const { server, received } = await start({ clientAuth, anchors: 'cf-ca-rsa.pem' });
      expect(await refused(server, CLIENT)).toBe(true);
      expect(received).toHaveLength(0);
      expect(server.stats.handshakeFailures).toBe(1);
    }
  });

  it('trust-all: accepts that client certificate chain, with its identity', async () => {
    const { server, received } = await start({ clientAuth: 'NEEDED', anchors: 'cf-ca-rsa.pem', trustAll: true });
    await exchange(server, CLIENT);
    expect(received[0]!.tls!.peerIdentity).toBe(CLIENT_SUBJECT);
    // still NEEDED: no certificate, no connection
    expect(await refused(server, {})).toBe(true);
  });

  it('counts a client that stalls in the handshake and closes it after the handshake timeout', async () => {
    const { server } = await start({ handshakeTimeout: 300 });
    const { connect } = await import('node:net');
    const raw = connect({ port: server.localPort, host: '127.0.0.1' });
    raw.on('error', () => undefined);
    // a TLS record header that never completes
    raw.write(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00]));
    const closed = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), 3000);
      raw.once('close', () => {
        clearTimeout(timer);
        resolve(true);
      });
    });
    raw.destroy();
    expect(closed).toBe(true);
    expect(server.stats.handshakeFailures).toBe(1);
  });
});

async function ipv6Loopback(): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen({ host: '::1', port: 0 }, () => s.close(() => resolve(true)));
  });
}

describe('coaps+tcp on IPv6', async () => {
  const v6 = await ipv6Loopback();
  it.skipIf(!v6)('verifies the server certificate for ::1 and serves the client', async () => {
    const { server, received } = await start({ address: '::1', clientAuth: 'NEEDED' });
    await exchange(server, { ...CLIENT, host: '::1' });
    expect(received[0]!.address).toBe('::1');
    expect(received[0]!.tls!.peerIdentity).toBe(CLIENT_SUBJECT);
  });
});

describe('sessionIdOf', () => {
  it('reads the session id of a DER SSL_SESSION and is empty for anything else', () => {
    // SEQUENCE { INTEGER 1, INTEGER 0x0303, OCTET STRING 13 01, OCTET STRING aa bb cc }
    const der = Buffer.from('3010020101020203030402130104 03aabbcc'.replace(/\s/g, ''), 'hex');
    expect(sessionIdOf(der)).toEqual(Buffer.from('aabbcc', 'hex'));
    expect(sessionIdOf(Buffer.from('3003020101', 'hex'))).toEqual(Buffer.alloc(0));
    expect(sessionIdOf(undefined)).toEqual(Buffer.alloc(0));
  });
});

// coap+tcp and coaps+tcp (RFC 8323, issue 11) against the real server process: libcoap's clients (GET, PUT,
// block-wise with -b, observe, TLS with the demo CA and client certificate), openssl s_client for the TLS
// handshake itself, and a raw RFC 8323 peer for what libcoap does not show (CSM, no empty ACK before a
// separate response, Ping/Pong, Release on shutdown is covered by the connection layer's own tests).
import { execFile } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Code, Opt, type CoapMessage } from '../../src/coap/message.js';
import { encodeUint } from '../../src/coap/options.js';
import { SignalCode } from '../../src/coap/tcp-signaling.js';
import { packageRoot } from '../../src/server/app.js';
import { protectOutgoingRequest, unprotectIncomingResponse } from '../../src/oscore/client.js';
import { deriveContext } from '../../src/oscore/context.js';
import { plugtestClientContext } from '../../src/oscore/store.js';
import { requirePeer } from '../helpers/peers.js';
import { runCoapClient } from '../helpers/libcoap.js';
import { connectTcp, connectTls } from '../helpers/tcp-peer.js';
import { startServer, type ServerProcess } from '../helpers/server-process.js';
import { freeTcpPorts } from '../helpers/restore.js';

const notls = requirePeer('coap-client-notls');
const withOpenssl = requirePeer('coap-client-openssl');
const withGnutls = requirePeer('coap-client-gnutls');
const openssl = requirePeer('openssl');
const PKI = path.join(packageRoot(), 'resources', 'pki');
const HOST = '127.0.0.1';
let sp: ServerProcess;

beforeAll(async () => {
  sp = await startServer({ args: ['--no-external', '--diagnose'] });
}, 30_000);
afterAll(async () => {
  await sp?.stop();
});

const clientCert = ['-c', path.join(PKI, 'cf-client-chain.pem'), '-j', path.join(PKI, 'cf-client-key.pem'), '-R', path.join(PKI, 'trust.pem')];

function get(path: string, token: number): CoapMessage {
  return { type: 0, code: Code.GET, mid: 0, token: Buffer.from([token]), options: path.split('/').map((p) => ({ number: Opt.URI_PATH, value: Buffer.from(p) })), payload: Buffer.alloc(0) };
}

describe.skipIf(notls.skipReason !== undefined)('coap+tcp with libcoap (coap-client-notls)', () => {
  it('GET /test and PUT /test on the plugtest server', async () => {
    const g = await runCoapClient(notls.path!, ['-m', 'get', `coap+tcp://${HOST}:${sp.ports.plug}/test`]);
    expect(g.code, g.stderr).toBe(0);
    expect(g.stdout).toMatch(/Type: 0 \(CON\)\nCode: 1 \(GET\)/);
    const p = await runCoapClient(notls.path!, ['-m', 'put', '-e', 'over tcp', `coap+tcp://${HOST}:${sp.ports.plug}/test`]);
    expect(p.code, p.stderr).toBe(0);
  });

  it('block-wise: GET /large with -b 64 brings the same body as over UDP', async () => {
    const r = await runCoapClient(notls.path!, ['-m', 'get', '-b', '64', `coap+tcp://${HOST}:${sp.ports.plug}/large`]);
    expect(r.code, r.stderr).toBe(0);
    const udp = await runCoapClient(notls.path!, ['-m', 'get', '-b', '64', `coap://${HOST}:${sp.ports.plug}/large`]);
    expect(r.stdout.length).toBeGreaterThan(1200);
    expect(r.stdout).toBe(udp.stdout);
  });

  it('observe: /obs notifies over the stream (at least 2 notifications in 11 s)', async () => {
    const r = await runCoapClient(notls.path!, ['-s', '11', '-m', 'get', `coap+tcp://${HOST}:${sp.ports.plug}/obs`], 20_000);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.match(/\d\d:\d\d:\d\d/g)?.length ?? 0).toBeGreaterThanOrEqual(2);
  }, 25_000);

  it('/mycontext of the extended server over coap+tcp shows the peer address and no TLS fields', async () => {
    const r = await runCoapClient(notls.path!, ['-m', 'get', `coap+tcp://${HOST}:${sp.ports.ext}/mycontext`]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^ip: 127\.0\.0\.1\nport: \d+\nserver: extplugtest /m);
    expect(r.stdout).not.toMatch(/cipher-suite/);
  });
});

describe.skipIf(notls.skipReason !== undefined)('/diagnose over coap+tcp', () => {
  it('lists the TCP endpoint with its connection counters: the asking connection is open, earlier ones were closed by their peer', async () => {
    for (let i = 0; i < 3; i++) expect((await runCoapClient(notls.path!, ['-m', 'get', `coap+tcp://${HOST}:${sp.ports.ext}/test`])).code).toBe(0);
    const r = await runCoapClient(notls.path!, ['-m', 'get', `coap+tcp://${HOST}:${sp.ports.ext}/diagnose`]);
    expect(r.code, r.stderr).toBe(0);
    const group = r.stdout.split(`tcp:127.0.0.1:${sp.ports.ext}\n`)[1]?.split(/\n(?! )/)[0] ?? '';
    const row = (name: string): number[] => (new RegExp(`^ {3}${name},(\\d+),(\\d+)$`, 'm').exec(group) ?? []).slice(1).map(Number);
    expect(row('connections'), r.stdout).toEqual([1, 1]);
    const [accepted] = row('accepted');
    const [closed] = row('closed by peer');
    expect(accepted).toBeGreaterThanOrEqual(4);
    expect(closed).toBe(accepted! - 1);
    expect(r.stdout).toContain(`coap+tcp://127.0.0.1:${sp.ports.ext}\n`);
  });
});

describe.skipIf(notls.skipReason !== undefined)('/metrics with --k8s-monitor', () => {
  it('exports the TCP connection counters as tcp_* series of the TCP endpoint, not as DTLS connections', async () => {
    const [monitor] = await freeTcpPorts(1);
    const m = await startServer({ args: ['--no-external', '--no-ipv6', '--no-plugtest', '--k8s-monitor', `127.0.0.1:${monitor}`] });
    try {
      for (let i = 0; i < 2; i++) expect((await runCoapClient(notls.path!, ['-m', 'get', `coap+tcp://${HOST}:${m.ports.ext}/test`])).code).toBe(0);
      const text = await (await fetch(`http://127.0.0.1:${monitor}/metrics`)).text();
      const endpoint = `endpoint="coap+tcp://127.0.0.1:${m.ports.ext}"`;
      const value = (name: string): number | undefined => {
        const line = text.split('\n').find((l) => l.startsWith(`extplugtest_${name}{`) && l.includes(endpoint));
        return line === undefined ? undefined : Number(line.split(' ').at(-1));
      };
      expect(value('tcp_accepted_connections_total'), text.slice(0, 1500)).toBe(2);
      expect(value('tcp_received_messages_total')).toBe(2);
      expect(value('tcp_connections')).toBeGreaterThanOrEqual(0);
      expect(value('dtls_connections')).toBeUndefined();
    } finally {
      await m.stop();
    }
  });
});

describe.skipIf(withOpenssl.skipReason !== undefined)('coaps+tcp with libcoap (coap-client-openssl)', () => {
  it('the demo CA verifies the server; the client certificate is the peer of /mycontext', async () => {
    const r = await runCoapClient(withOpenssl.path!, ['-m', 'get', ...clientCert, `coaps+tcp://${HOST}:${sp.ports.extSecure}/mycontext`]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('peer: CN=cf-client,OU=Californium,O=Eclipse IoT,L=Ottawa,C=CA');
    expect(r.stdout).toMatch(/cipher-suite: TLS_\w+/);
    expect(r.stdout).toMatch(/tls-version: TLSv1\.[23]/);
  });

  it('block-wise and PUT over TLS on the plugtest server', async () => {
    const big = await runCoapClient(withOpenssl.path!, ['-m', 'get', '-b', '64', ...clientCert, `coaps+tcp://${HOST}:${sp.ports.plugSecure}/large`]);
    expect(big.code, big.stderr).toBe(0);
    const udp = await runCoapClient(notls.path!, ['-m', 'get', '-b', '64', `coap://${HOST}:${sp.ports.plug}/large`]);
    expect(big.stdout.length).toBeGreaterThan(1200);
    expect(big.stdout).toBe(udp.stdout);
    const put = await runCoapClient(withOpenssl.path!, ['-m', 'put', '-e', 'tls', ...clientCert, `coaps+tcp://${HOST}:${sp.ports.plugSecure}/test`]);
    expect(put.code, put.stderr).toBe(0);
  });
});

describe.skipIf(withGnutls.skipReason !== undefined)('coaps+tcp with libcoap (coap-client-gnutls)', () => {
  it('GET /mycontext with the client certificate', async () => {
    const r = await runCoapClient(withGnutls.path!, ['-m', 'get', ...clientCert, `coaps+tcp://${HOST}:${sp.ports.extSecure}/mycontext`]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('peer: CN=cf-client');
  });
});

/** openssl s_client against the coaps+tcp port; its output (the handshake summary). */
function sClient(args: string[]): Promise<string> {
  return new Promise((resolve) => {
    const child = execFile(openssl.path!, ['s_client', '-connect', `${HOST}:${sp.ports.extSecure}`, '-CAfile', path.join(PKI, 'trust.pem'), ...args], { timeout: 15_000 }, (_err, stdout, stderr) =>
      resolve(stdout + stderr),
    );
    child.stdin?.end();
  });
}

describe.skipIf(openssl.skipReason !== undefined)('the TLS handshake with openssl s_client', () => {
  it('TLS 1.3 and TLS 1.2: the demo chain verifies against the demo CA', async () => {
    const v13 = await sClient(['-tls1_3']);
    expect(v13).toMatch(/Verify return code: 0 \(ok\)/);
    expect(v13).toMatch(/TLSv1\.3/);
    const v12 = await sClient(['-tls1_2']);
    expect(v12).toMatch(/Verify return code: 0 \(ok\)/);
    expect(v12).toMatch(/Protocol\s*: TLSv1\.2/);
  });
});

describe('RFC 8323 details a raw peer sees', () => {
  it('the server sends its CSM first; a separate response comes without any empty message before it', async () => {
    const peer = await connectTcp(sp.ports.plug, HOST);
    try {
      const csm = await peer.next(3000);
      expect(csm.code).toBe(SignalCode.CSM);
      peer.send({ type: 0, code: SignalCode.CSM, mid: 0, token: Buffer.alloc(0), options: [], payload: Buffer.alloc(0) });
      peer.send(get('separate', 1));
      const res = await peer.next(5000);
      expect(res.code).toBe(Code.CONTENT);
      expect(res.token).toEqual(Buffer.from([1]));
      // Ping with a token: Pong with the same token (§5.4)
      peer.send({ type: 0, code: SignalCode.PING, mid: 0, token: Buffer.from([9]), options: [], payload: Buffer.alloc(0) });
      const pong = await peer.next(3000);
      expect(pong.code).toBe(SignalCode.PONG);
      expect(pong.token).toEqual(Buffer.from([9]));
    } finally {
      peer.destroy();
    }
  });

  it('observe over TLS: the registration is answered with Observe, and the relation ends with the connection', async () => {
    const peer = await connectTls(sp.ports.plugSecure, { host: HOST, ca: [], rejectUnauthorized: false });
    try {
      await peer.next(3000); // CSM
      peer.send({ type: 0, code: SignalCode.CSM, mid: 0, token: Buffer.alloc(0), options: [], payload: Buffer.alloc(0) });
      const reg = get('obs', 2);
      reg.options.unshift({ number: Opt.OBSERVE, value: encodeUint(0) });
      peer.send(reg);
      const first = await peer.next(5000);
      expect(first.code).toBe(Code.CONTENT);
      expect(first.options.some((o) => o.number === Opt.OBSERVE)).toBe(true);
    } finally {
      peer.destroy();
    }
  });

  it('OSCORE over coap+tcp: a protected GET /oscore is answered 2.05 with an OSCORE option; a plain one 4.01', async () => {
    const peer = await connectTcp(sp.ports.plug, HOST);
    try {
      await peer.next(3000); // CSM
      peer.send({ type: 0, code: SignalCode.CSM, mid: 0, token: Buffer.alloc(0), options: [], payload: Buffer.alloc(0) });
      peer.send(get('oscore', 3));
      expect((await peer.next(5000)).code).toBe(Code.UNAUTHORIZED);
      // a fresh server: the client context starts at sequence number 0
      const ctx = deriveContext(plugtestClientContext());
      const { message, binding } = protectOutgoingRequest(ctx, get('oscore', 4));
      peer.send(message);
      const outer = await peer.next(5000);
      expect(outer.options.some((o) => o.number === Opt.OSCORE)).toBe(true);
      const inner = unprotectIncomingResponse(ctx, outer, binding);
      expect(inner.kind).toBe('ok');
      if (inner.kind === 'ok') {
        expect(inner.response.code).toBe(Code.CONTENT);
        expect(inner.response.payload.toString()).toMatch(/^OSCORE Resource/);
      }
    } finally {
      peer.destroy();
    }
  });
});

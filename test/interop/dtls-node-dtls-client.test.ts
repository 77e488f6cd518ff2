// Interop: the npm package node-dtls-client (1.x, PSK only, no extensions, no EMS, no CID) against the
// real server process. Handshakes with every suite both support — TLS_PSK_WITH_AES_128_CCM_8, _CCM
// (16-byte tag; enabled through DTLS.CIPHER_SUITES because it is not preselected), _GCM_SHA256 and
// _CBC_SHA256 — then a CoAP GET /mycontext encoded with coap-packet; the 2.05 answer must show the suite
// node-dtls-client negotiated. node-dtls-client sends a ClientHello without an extensions block and hashes
// the server's messages re-serialized from its own parse, so a ServerHello must not carry an (empty)
// extensions block the client did not ask for (RFC 5246 §7.4.1.4); that is checked at byte level too.
import dgram from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { generate, parse, type ParsedPacket } from 'coap-packet';
import { dtls } from 'node-dtls-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseContext } from '../helpers/dtls-client.js';
import { hasIpv6Loopback, startServer, type ServerProcess } from '../helpers/server-process.js';

type Suite = 'TLS_PSK_WITH_AES_128_CCM_8' | 'TLS_PSK_WITH_AES_128_CCM' | 'TLS_PSK_WITH_AES_128_GCM_SHA256' | 'TLS_PSK_WITH_AES_128_CBC_SHA256';
const SUITES: Array<{ suite: Suite; expansion: number }> = [
  { suite: 'TLS_PSK_WITH_AES_128_CCM_8', expansion: 16 },
  { suite: 'TLS_PSK_WITH_AES_128_CCM', expansion: 24 },
  { suite: 'TLS_PSK_WITH_AES_128_GCM_SHA256', expansion: 24 },
  { suite: 'TLS_PSK_WITH_AES_128_CBC_SHA256', expansion: 65 },
];

interface Outcome {
  connected: boolean;
  responses: ParsedPacket[];
  error?: Error;
}

/**
 * Connects with node-dtls-client, sends the requests one after the other (each after the previous
 * answer) and collects the answers; bounded by the library's handshake timeout and an overall 8 s.
 */
function exchange(host: string, port: number, suite: Suite, requests: Buffer[], psk: Record<string, string> = { Client_identity: 'secretPSK' }): Promise<Outcome> {
  return new Promise((resolve) => {
    const out: Outcome = { connected: false, responses: [] };
    let done = false;
    const socket = dtls.createSocket({ type: host.includes(':') ? 'udp6' : 'udp4', address: host, port, psk, timeout: 3000, ciphers: [suite] });
    const end = (err?: Error) => {
      if (done) return;
      done = true;
      clearTimeout(guard);
      if (err) out.error = err;
      try {
        socket.close();
      } catch {
        // already closed
      }
      resolve(out);
    };
    const guard = setTimeout(() => end(new Error('no answer within 8 s')), 8000);
    socket.on('connected', () => {
      out.connected = true;
      socket.send(requests[0]!);
    });
    socket.on('message', (msg: Buffer) => {
      out.responses.push(parse(msg));
      if (out.responses.length < requests.length) socket.send(requests[out.responses.length]!);
      else end();
    });
    socket.on('error', (e: Error) => end(e));
  });
}

function getContext(mid: number, token: Buffer): Buffer {
  return generate({ code: 'GET', messageId: mid, token, confirmable: true, options: [{ name: 'Uri-Path', value: Buffer.from('mycontext') }] });
}

describe('node-dtls-client (PSK) against the real server', () => {
  let sp: ServerProcess;
  beforeAll(async () => {
    // the wrong-secret case below wants an answer rather than the default silence (no identity oracle either way)
    sp = await startServer({ args: ['--no-external'], properties: [`DTLS.CIPHER_SUITES=${SUITES.map((s) => s.suite).join(', ')}`, 'DTLS.PSK_FAILURE_ALERT=DECRYPT_ERROR'] });
  });
  afterAll(async () => {
    await sp?.stop();
  });

  it('root cause check: a ServerHello to a ClientHello without extensions has no extensions block', async () => {
    const body = await serverHelloBody('127.0.0.1', sp.ports.extSecure);
    // server_version 2 + random 32 + session_id 1+32 + cipher_suite 2 + compression 1 = 70; `00 00` after it
    // is an empty extensions block the client never offered (node-dtls-client then computes another
    // handshake hash and fails the Finished check: "received fatal alert: decrypt_error")
    expect(body.subarray(70).toString('hex'), `ServerHello body ${body.toString('hex')}`).toBe('');
    expect(body.length).toBe(70);
  });

  for (const { suite, expansion } of SUITES) {
    it(`${suite}: handshake, GET /mycontext twice on the session, 2.05 shows the suite`, async () => {
      const t1 = randomBytes(4);
      const t2 = randomBytes(2);
      const r = await exchange('127.0.0.1', sp.ports.extSecure, suite, [getContext(0x1234, t1), getContext(0x1235, t2)]);
      expect(r.error?.message, 'node-dtls-client error').toBeUndefined();
      expect(r.connected).toBe(true);
      expect(r.responses).toHaveLength(2);
      const [a, b] = r.responses;
      for (const [res, mid, token] of [[a!, 0x1234, t1], [b!, 0x1235, t2]] as const) {
        expect(res.code).toBe('2.05');
        expect(res.ack).toBe(true);
        expect(res.messageId).toBe(mid);
        expect(res.token).toEqual(token);
      }
      const f = parseContext(a!.payload.toString('utf8'));
      expect(f.get('ip')).toBe('127.0.0.1');
      expect(f.get('peer')).toBe('Client_identity');
      expect(f.get('cipher-suite')).toBe(suite);
      expect(f.get('session-id')).toMatch(/^[0-9A-F]{64}$/);
      // node-dtls-client offers neither EMS, renegotiation_info nor CID
      expect(f.has('ext-master-secret')).toBe(false);
      expect(f.has('secure-renegotiation')).toBe(false);
      expect(f.has('read-cid')).toBe(false);
      expect(f.get('message-size-limit')).toBe(String(1500 - 64 - 13 - expansion));
      expect(parseContext(b!.payload.toString('utf8')).get('session-id')).toBe(f.get('session-id'));
    });
  }

  it.skipIf(!hasIpv6Loopback())('TLS_PSK_WITH_AES_128_CCM_8 over [::1]', async () => {
    const token = randomBytes(3);
    const r = await exchange('::1', sp.ports.extSecure, 'TLS_PSK_WITH_AES_128_CCM_8', [getContext(7, token)]);
    expect(r.error?.message, 'node-dtls-client error').toBeUndefined();
    expect(r.responses[0]?.code).toBe('2.05');
    const f = parseContext(r.responses[0]!.payload.toString('utf8'));
    expect(f.get('ip')).toBe('::1');
    expect(f.get('cipher-suite')).toBe('TLS_PSK_WITH_AES_128_CCM_8');
    expect(f.get('message-size-limit')).toBe(String(1500 - 128 - 13 - 16));
  });

  it('wrong PSK secret (DTLS.PSK_FAILURE_ALERT=DECRYPT_ERROR): node-dtls-client reports the fatal decrypt_error, never connects', async () => {
    const r = await exchange('127.0.0.1', sp.ports.extSecure, 'TLS_PSK_WITH_AES_128_CCM_8', [getContext(1, randomBytes(2))], { Client_identity: 'wrongPSK' });
    expect(r.connected).toBe(false);
    expect(r.error?.message).toMatch(/fatal alert: decrypt_error/);
  });
});

describe('node-dtls-client against the default suites (TLS_PSK_WITH_AES_128_CCM not preselected)', () => {
  let sp: ServerProcess;
  beforeAll(async () => {
    sp = await startServer({ args: ['--no-external'] });
  });
  afterAll(async () => {
    await sp?.stop();
  });

  it('offering only TLS_PSK_WITH_AES_128_CCM: fatal handshake_failure (no common suite)', async () => {
    const r = await exchange('127.0.0.1', sp.ports.extSecure, 'TLS_PSK_WITH_AES_128_CCM', [getContext(1, randomBytes(2))]);
    expect(r.connected).toBe(false);
    expect(r.error?.message).toMatch(/fatal alert: handshake_failure/);
  });
});

// ---- byte-level ClientHello without extensions (what node-dtls-client sends) ----

function clientHelloRecord(random: Buffer, cookie: Buffer, messageSeq: number, recordSeq: number): Buffer {
  const body = Buffer.concat([
    Buffer.from([0xfe, 0xfd]),
    random,
    Buffer.from([0]), // session id
    Buffer.from([cookie.length]),
    cookie,
    Buffer.from([0x00, 0x02, 0xc0, 0xa8]), // TLS_PSK_WITH_AES_128_CCM_8
    Buffer.from([0x01, 0x00]), // null compression; no extensions block at all
  ]);
  const hs = Buffer.alloc(12);
  hs[0] = 1;
  hs.writeUIntBE(body.length, 1, 3);
  hs.writeUInt16BE(messageSeq, 4);
  hs.writeUIntBE(0, 6, 3);
  hs.writeUIntBE(body.length, 9, 3);
  const rec = Buffer.alloc(13);
  rec[0] = 22;
  rec.writeUInt16BE(0xfefd, 1);
  rec.writeUInt16BE(0, 3);
  rec.writeUIntBE(recordSeq, 5, 6);
  rec.writeUInt16BE(hs.length + body.length, 11);
  return Buffer.concat([rec, hs, body]);
}

/** Handshake messages (type, body) of the plaintext records of a datagram. */
function handshakeMessages(d: Buffer): Array<{ type: number; body: Buffer }> {
  const out: Array<{ type: number; body: Buffer }> = [];
  let pos = 0;
  while (pos + 13 <= d.length) {
    const type = d[pos]!;
    const len = d.readUInt16BE(pos + 11);
    const frag = d.subarray(pos + 13, pos + 13 + len);
    if (type === 22 && frag.length >= 12) out.push({ type: frag[0]!, body: frag.subarray(12, 12 + frag.readUIntBE(9, 3)) });
    pos += 13 + len;
  }
  return out;
}

/** Cookie exchange with a ClientHello without extensions; returns the ServerHello body. */
async function serverHelloBody(host: string, port: number): Promise<Buffer> {
  const sock = dgram.createSocket('udp4');
  const inbox: Buffer[] = [];
  let wake: (() => void) | undefined;
  sock.on('message', (m) => {
    inbox.push(m);
    wake?.();
  });
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
  const next = async (type: number): Promise<Buffer> => {
    const deadline = Date.now() + 3000;
    for (;;) {
      for (const d of inbox.splice(0)) {
        const m = handshakeMessages(d).find((x) => x.type === type);
        if (m) return m.body;
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no handshake message ${type}`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        wake = () => {
          clearTimeout(t);
          r();
        };
      });
    }
  };
  try {
    const random = randomBytes(32);
    sock.send(clientHelloRecord(random, Buffer.alloc(0), 0, 0), port, host);
    const hvr = await next(3);
    const cookie = hvr.subarray(3, 3 + hvr[2]!);
    sock.send(clientHelloRecord(random, cookie, 1, 1), port, host);
    return await next(2);
  } finally {
    sock.close();
  }
}

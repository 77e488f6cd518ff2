// The OSCORE load generator (bench/oscore-load.ts) against a small loopback OSCORE server made of the
// project's server-side OSCORE (RFC 8613 §8.2 verify, §8.3 protect): every request it sends is a valid,
// fresh one (the server's replay window accepts each), and it counts only responses that verify (§8.4);
// tampered or unprotected 2.05 answers are errors, not completed requests.
import dgram from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import { decode, encode } from '../../src/coap/codec.js';
import { ACK, Code, type CoapMessage } from '../../src/coap/message.js';
import { oscoreInfoText } from '../../src/oscore/info.js';
import { protectOutgoingResponse, unprotectIncomingRequest } from '../../src/oscore/server.js';
import { createOscoreContextStore, plugtestServerContext } from '../../src/oscore/store.js';
import { runOscoreLoad } from '../../bench/oscore-load.js';

/** How the fake server answers a verified OSCORE request. */
type Answer = 'protected' | 'tampered' | 'unprotected';

interface FakeServer {
  port: number;
  /** Partial IVs (sequence numbers) of the requests that verified, in arrival order */
  verified: number[];
  /** requests refused by the OSCORE layer (replay, decryption failure ...) */
  refused: number;
  close(): void;
}

const sockets: dgram.Socket[] = [];
afterEach(() => {
  for (const s of sockets.splice(0)) s.close();
});

async function fakeServer(answer: Answer): Promise<FakeServer> {
  const store = createOscoreContextStore([plugtestServerContext()]);
  const s = dgram.createSocket('udp4');
  sockets.push(s);
  const out: FakeServer = { port: 0, verified: [], refused: 0, close: () => s.close() };
  const reply = (m: CoapMessage, port: number, address: string): void => void s.send(encode(m), port, address);
  s.on('message', (data, rinfo) => {
    const msg = decode(data);
    const r = unprotectIncomingRequest(store, msg);
    if (r.kind === 'plain') {
      // the generator's /oscoreInfo read (one block is enough for this text)
      const payload = Buffer.from(oscoreInfoText(store));
      reply({ type: ACK, code: Code.CONTENT, mid: msg.mid, token: msg.token, options: [], payload }, rinfo.port, rinfo.address);
      return;
    }
    if (r.kind === 'error') {
      out.refused++;
      reply({ ...r.response, type: ACK }, rinfo.port, rinfo.address);
      return;
    }
    out.verified.push(r.state.sequenceNumber);
    const inner: CoapMessage = { type: ACK, code: Code.CONTENT, mid: msg.mid, token: msg.token, options: [], payload: Buffer.from('OSCORE Resource') };
    if (answer === 'unprotected') {
      reply(inner, rinfo.port, rinfo.address);
      return;
    }
    const prot = protectOutgoingResponse(r.state, inner);
    if (answer === 'tampered') prot.payload[0] = prot.payload[0]! ^ 0x01;
    reply(prot, rinfo.port, rinfo.address);
  });
  await new Promise<void>((resolve) => s.bind(0, '127.0.0.1', () => resolve()));
  out.port = s.address().port;
  return out;
}

const run = (port: number) =>
  runOscoreLoad({ host: '127.0.0.1', port, mode: 'oscore', outstanding: 8, durationMs: 400, warmupMs: 100, timeoutMs: 500 });

describe('OSCORE load generator', () => {
  it('sends valid requests with fresh Partial IVs and counts the verified 2.05 answers', async () => {
    const srv = await fakeServer('protected');
    const r = await run(srv.port);
    expect(r.errors).toBe(0);
    expect(r.completed).toBeGreaterThan(50);
    expect(srv.refused).toBe(0);
    // every request the server accepted had its own sequence number
    expect(new Set(srv.verified).size).toBe(srv.verified.length);
    expect(srv.verified.length).toBeGreaterThanOrEqual(r.completed);
  });

  it('counts a response whose ciphertext does not verify as an error, never as completed', async () => {
    const srv = await fakeServer('tampered');
    const r = await run(srv.port);
    expect(r.completed).toBe(0);
    expect(r.errors).toBeGreaterThan(0);
    expect(Object.keys(r.errorCodes)).toEqual(['verification failed']);
  });

  it('counts an unprotected 2.05 to a protected request as an error', async () => {
    const srv = await fakeServer('unprotected');
    const r = await run(srv.port);
    expect(r.completed).toBe(0);
    expect(r.errorCodes['verification failed']).toBe(r.errors);
    expect(r.errors).toBeGreaterThan(0);
  });

  it('a second run continues after the sequence numbers the server has seen (/oscoreInfo), so none is a replay', async () => {
    const srv = await fakeServer('protected');
    // the first run advances the server's replay window; /oscoreInfo lets the second continue after it
    await run(srv.port);
    const r = await run(srv.port);
    expect(r.errors).toBe(0);
    expect(srv.refused).toBe(0);
    expect(r.completed).toBeGreaterThan(50);
  });
});

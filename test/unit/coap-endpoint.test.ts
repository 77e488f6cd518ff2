// Engine tests: a server endpoint and a client endpoint talking over loopback UDP.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import dgram from 'node:dgram';
import { CoapEndpoint } from '../../src/coap/endpoint.js';
import { UdpConnector } from '../../src/transport/udp-connector.js';
import { DEFAULT_STACK_CONFIG, type CoapStackConfig } from '../../src/coap/stack-config.js';
import { addChild, createResource, notifyObservers, clearObservers, type Resource } from '../../src/coap/resource.js';
import { ACK, CON, NON, RST, Code, Opt, type CoapMessage } from '../../src/coap/message.js';
import { encode, decode } from '../../src/coap/codec.js';
import { request, requestAsync } from '../../src/coap/client-layer.js';
import { decodeBlock, getOption, getUint } from '../../src/coap/options.js';

const config: CoapStackConfig = { ...DEFAULT_STACK_CONFIG, maxMessageSize: 64, preferredBlockSize: 64, ackTimeout: 200 };

let server: CoapEndpoint;
let client: CoapEndpoint;
let obsRes: Resource;
let obsValue = 0;
let handlerRuns = 0;
const big = Buffer.from('x'.repeat(300) + 'END');

function ctx() {
  return { address: '127.0.0.1', port: server.connector.localPort };
}

beforeAll(async () => {
  const root = createResource('');
  addChild(root, createResource('hello', {
    handlers: { GET: (ex) => { handlerRuns++; ex.respond({ code: Code.CONTENT, payload: 'world', format: 0 }); } },
  }));
  addChild(root, createResource('sep', {
    handlers: { GET: (ex) => { ex.accept(); setTimeout(() => ex.respond({ code: Code.CONTENT, payload: 'late', format: 0 }), 50); } },
  }));
  addChild(root, createResource('big', { handlers: { GET: (ex) => ex.respond({ code: Code.CONTENT, payload: big, format: 0 }) } }));
  addChild(root, createResource('upload', {
    handlers: { POST: (ex) => ex.respond({ code: Code.CHANGED, payload: `got ${ex.request.payload.length}`, format: 0 }) },
  }));
  obsRes = addChild(root, createResource('obs', {
    observable: true,
    handlers: { GET: (ex) => ex.respond({ code: Code.CONTENT, payload: `v${obsValue}`, format: 0 }) },
  }));
  server = new CoapEndpoint({ connector: new UdpConnector({ address: '127.0.0.1', port: 0 }), config, root });
  client = new CoapEndpoint({ connector: new UdpConnector({ address: '127.0.0.1', port: 0 }), config });
  await server.start();
  await client.start();
});

afterAll(async () => {
  await client.stop();
  await server.stop();
});

/** Sends raw bytes from a fresh socket and collects datagrams for `ms`. */
async function raw(data: Buffer[], ms = 300): Promise<CoapMessage[]> {
  const sock = dgram.createSocket('udp4');
  const got: CoapMessage[] = [];
  sock.on('message', (m) => got.push(decode(m)));
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
  for (const d of data) sock.send(d, server.connector.localPort, '127.0.0.1');
  await new Promise((r) => setTimeout(r, ms));
  sock.close();
  return got;
}

describe('CoAP endpoint', () => {
  it('answers a CON GET piggy-backed', async () => {
    const res = await requestAsync(client, { method: Code.GET, path: 'hello' }, ctx());
    expect(res.type).toBe(ACK);
    expect(res.code).toBe(Code.CONTENT);
    expect(res.payload.toString()).toBe('world');
    expect(getUint(res, Opt.CONTENT_FORMAT)).toBe(0);
  });

  it('answers a NON GET with NON', async () => {
    const res = await requestAsync(client, { method: Code.GET, type: NON, path: 'hello' }, ctx());
    expect(res.type).toBe(NON);
  });

  it('sends a separate CON response after an empty ACK', async () => {
    const req = encode({ type: CON, code: Code.GET, mid: 4711, token: Buffer.from('BEEF', 'hex'), options: [{ number: Opt.URI_PATH, value: Buffer.from('sep') }], payload: Buffer.alloc(0) });
    const got = await raw([req], 400);
    expect(got[0]).toMatchObject({ type: ACK, code: 0, mid: 4711 });
    const sep = got.find((m) => m.code === Code.CONTENT)!;
    expect(sep.type).toBe(CON);
    expect(sep.token.toString('hex')).toBe('beef');
  });

  it('deduplicates: the handler runs once, the duplicate gets the same response', async () => {
    const before = handlerRuns;
    const req = encode({ type: CON, code: Code.GET, mid: 999, token: Buffer.from([1]), options: [{ number: Opt.URI_PATH, value: Buffer.from('hello') }], payload: Buffer.alloc(0) });
    const got = await raw([req, req]);
    expect(got.length).toBe(2);
    expect(encode(got[0]!)).toEqual(encode(got[1]!));
    expect(handlerRuns - before).toBe(1);
  });

  it('rejects a ping and a malformed CON with RST, ignores a malformed NON', async () => {
    const ping = encode({ type: CON, code: 0, mid: 77, token: Buffer.alloc(0), options: [], payload: Buffer.alloc(0) });
    const badTkl = Buffer.from([0x49, 0x01, 0x00, 0x10, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const badNon = Buffer.from([0x59, 0x01, 0x00, 0x11, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const got = await raw([ping, badTkl, badNon]);
    expect(got.map((m) => [m.type, m.mid])).toEqual([[RST, 77], [RST, 0x10]]);
  });

  it('answers an unknown critical option with 4.02', async () => {
    const res = await requestAsync(client, { method: Code.GET, path: 'hello', options: [{ number: 2049, value: Buffer.from([1]) }] }, ctx());
    expect(res.code).toBe(Code.BAD_OPTION);
  });

  it('answers 4.04 and 4.05', async () => {
    expect((await requestAsync(client, { method: Code.GET, path: 'nope' }, ctx())).code).toBe(Code.NOT_FOUND);
    expect((await requestAsync(client, { method: Code.DELETE, path: 'hello' }, ctx())).code).toBe(Code.METHOD_NOT_ALLOWED);
  });

  it('serves Block2 and the client assembles it', async () => {
    const res = await requestAsync(client, { method: Code.GET, path: 'big' }, ctx());
    expect(res.payload).toEqual(big);
    const small = await requestAsync(client, { method: Code.GET, path: 'big', blockSize: 16 }, ctx());
    expect(small.payload).toEqual(big);
  });

  it('sends the first block with Size2 and M=1', async () => {
    const req = encode({ type: CON, code: Code.GET, mid: 1234, token: Buffer.from([9]), options: [{ number: Opt.URI_PATH, value: Buffer.from('big') }], payload: Buffer.alloc(0) });
    const [res] = await raw([req]);
    expect(decodeBlock(getOption(res!, Opt.BLOCK2)!)).toEqual({ num: 0, more: true, szx: 2 });
    expect(getUint(res!, Opt.SIZE2)).toBe(big.length);
    expect(res!.payload.length).toBe(64);
  });

  it('reassembles Block1 and answers 4.13 above the body limit', async () => {
    const res = await requestAsync(client, { method: Code.POST, path: 'upload', payload: Buffer.alloc(1000, 0x41), format: 0, blockSize: 64 }, ctx());
    expect(res.code).toBe(Code.CHANGED);
    expect(res.payload.toString()).toBe('got 1000');
    expect(decodeBlock(getOption(res, Opt.BLOCK1)!)).toMatchObject({ more: false, szx: 2 });
    const tooBig = await requestAsync(client, { method: Code.POST, path: 'upload', payload: Buffer.alloc(9000, 0x41), blockSize: 1024 }, ctx());
    expect(tooBig.code).toBe(Code.REQUEST_ENTITY_TOO_LARGE);
    expect(tooBig.payload.toString()).toBe('body too large, max. 8192 bytes');
  });

  it('answers an out-of-order Block1 with 4.08', async () => {
    const opts = [
      { number: Opt.URI_PATH, value: Buffer.from('upload') },
      { number: Opt.BLOCK1, value: Buffer.from([0x5a]) },
    ];
    const [res] = await raw([encode({ type: CON, code: Code.POST, mid: 555, token: Buffer.from([5]), options: opts, payload: Buffer.alloc(64) })]);
    expect(res!.code).toBe(Code.REQUEST_ENTITY_INCOMPLETE);
  });

  it('observes: notifications, cancel by client forget + RST', async () => {
    const seen: string[] = [];
    const first = await new Promise<CoapMessage>((resolve, reject) => {
      const ex = request(client, { method: Code.GET, path: 'obs', observe: 0 }, ctx(), {
        onResponse: resolve,
        onError: reject,
        onNotification: (m) => {
          seen.push(m.payload.toString());
          if (seen.length === 2) ex.cancel();
        },
      });
    });
    expect(getOption(first, Opt.OBSERVE)).toBeDefined();
    expect(obsRes.observers.size).toBe(1);
    for (let i = 1; i <= 3; i++) {
      obsValue = i;
      notifyObservers(obsRes);
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(seen).toEqual(['v1', 'v2']);
    // the third notification was answered with RST: the relation is gone
    expect(obsRes.observers.size).toBe(0);
  });

  it('ends a relation with a 4.04 notification without Observe', async () => {
    let last: CoapMessage | undefined;
    await new Promise<CoapMessage>((resolve, reject) => {
      request(client, { method: Code.GET, path: 'obs', observe: 0 }, ctx(), { onResponse: resolve, onError: reject, onNotification: (m) => (last = m) });
    });
    clearObservers(obsRes, Code.NOT_FOUND);
    await new Promise((r) => setTimeout(r, 100));
    expect(last?.code).toBe(Code.NOT_FOUND);
    expect(getOption(last!, Opt.OBSERVE)).toBeUndefined();
    expect(obsRes.observers.size).toBe(0);
  });
});

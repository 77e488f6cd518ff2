// Interop: the npm `coap` package (node-coap 1.5) as a client of the plugtest server over coap/UDP.
import coap from 'coap';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasIpv6Loopback, startServer, type ServerProcess } from '../helpers/server-process.js';

type Incoming = InstanceType<typeof coap.IncomingMessage>;
type Agent = InstanceType<typeof coap.Agent>;
interface RawPacket {
  messageId: number;
  token: Buffer;
  confirmable: boolean;
  ack: boolean;
  reset: boolean;
  options: Array<{ name: string; value: unknown }>;
}
const packetOf = (res: Incoming): RawPacket => (res as unknown as { _packet: RawPacket })._packet;

/** The 1280-byte /large text (resources.md §3.5). */
function largeText(): string {
  let s = '';
  for (let n = 1; n <= 5; n++) {
    s += '/' + '-'.repeat(61) + '\\\n';
    s += '|' + ' '.repeat(17) + `RESOURCE BLOCK NO. ${n} OF 5` + ' '.repeat(19) + '|\n';
    s += '|' + ' '.repeat(15) + '[each line contains 64 bytes]' + ' '.repeat(17) + '|\n';
    s += '\\' + '-'.repeat(61) + '/\n';
  }
  return s;
}

const hosts = [
  { name: 'IPv4', host: '127.0.0.1', type: 'udp4' as const, skip: false },
  { name: 'IPv6', host: '::1', type: 'udp6' as const, skip: !hasIpv6Loopback() },
];

describe('npm coap client against the plugtest server', () => {
  let sp: ServerProcess;
  beforeAll(async () => {
    sp = await startServer({ args: ['--no-external', '--notify-interval', '300ms'] });
  });
  afterAll(async () => {
    await sp?.stop();
  });

  for (const { name, host, type, skip } of hosts) {
    describe.skipIf(skip)(`${name} ${host}${skip ? ' (skipped: ::1 not configured)' : ''}`, () => {
      let agent: Agent;
      beforeAll(() => {
        agent = new coap.Agent({ type });
      });
      afterAll(() => {
        agent?.close();
      });

      function send(params: Omit<coap.CoapRequestParams, 'hostname' | 'port' | 'agent'>, payload?: string | Buffer): Promise<Incoming> {
        return new Promise((resolve, reject) => {
          const req = coap.request({ hostname: host, port: sp.ports.plug, agent, ...params });
          const t = setTimeout(() => reject(new Error(`no response for ${params.method ?? 'GET'} ${params.pathname}`)), 15_000);
          req.on('response', (res: Incoming) => {
            clearTimeout(t);
            resolve(res);
          });
          req.on('error', (err: Error) => {
            clearTimeout(t);
            reject(err);
          });
          req.on('timeout', (err: Error) => {
            clearTimeout(t);
            reject(err);
          });
          req.end(payload);
        });
      }

      it('GET /test (CON): 2.05 piggy-backed, text naming the request MID and token, Max-Age 30', async () => {
        const res = await send({ pathname: '/test' });
        const pkt = packetOf(res);
        expect(res.code).toBe('2.05');
        expect(pkt.ack).toBe(true);
        expect(res.headers['Content-Format']).toBe('text/plain');
        expect(res.headers['Max-Age']).toBe(30);
        // piggy-backed: the ACK carries the request's MID; the token is echoed
        const tok = pkt.token.toString('hex').toUpperCase();
        const expected = `Type: 0 (CON)\nCode: 1 (GET)\nMID: ${pkt.messageId}\nToken: ${tok}`;
        const text = res.payload.toString('utf8');
        if (expected.length > 64) expect(text).toBe(expected.slice(0, 62) + '\u00bb');
        else expect(text).toBe(expected);
      });

      it('GET /test (NON): NON 2.05 naming a NON request', async () => {
        const res = await send({ pathname: '/test', confirmable: false });
        const pkt = packetOf(res);
        expect(res.code).toBe('2.05');
        expect(pkt.ack).toBe(false);
        expect(pkt.confirmable).toBe(false);
        const text = res.payload.toString('utf8');
        const tok = pkt.token.toString('hex').toUpperCase();
        expect(text).toMatch(/^Type: 1 \(NON\)\nCode: 1 \(GET\)\nMID: \d{1,5}\nToken: /);
        expect(text.length).toBeLessThanOrEqual(64);
        const full = `Token: ${tok}`;
        if (text.endsWith('\u00bb')) expect(full.startsWith(text.split('\n')[3]!.slice(0, -1))).toBe(true);
        else expect(text.split('\n')[3]).toBe(full);
      });

      it('PUT /test: 2.04 without payload; PUT with If-None-Match: 4.12', async () => {
        const res = await send({ pathname: '/test', method: 'PUT' }, 'hello');
        expect(res.code).toBe('2.04');
        expect(res.payload.length).toBe(0);
        const res2 = await send({ pathname: '/test', method: 'PUT', options: { 'If-None-Match': Buffer.alloc(0) } }, 'again');
        expect(res2.code).toBe('4.12');
      });

      it('POST /test: 2.01 with Location-Path location1, location2, location3', async () => {
        const res = await send({ pathname: '/test', method: 'POST' }, 'data');
        expect(res.code).toBe('2.01');
        const loc = packetOf(res)
          .options.filter((o) => o.name === 'Location-Path')
          .map((o) => String(o.value));
        expect(loc).toEqual(['location1', 'location2', 'location3']);
      });

      it('DELETE /test: 2.02', async () => {
        const res = await send({ pathname: '/test', method: 'DELETE' });
        expect(res.code).toBe('2.02');
        expect(res.payload.length).toBe(0);
      });

      it('GET /nonexistent: 4.04', async () => {
        const res = await send({ pathname: '/no/such/resource' });
        expect(res.code).toBe('4.04');
      });

      it('GET /large: block-wise (Block2, 64-byte blocks), reassembled to the exact 1280-byte text', async () => {
        const res = await send({ pathname: '/large' });
        expect(res.code).toBe('2.05');
        expect(res.payload.toString('latin1')).toBe(largeText());
        // the last block: num 19, no more, szx 2 (64 bytes)
        const block2 = packetOf(res).options.find((o) => o.name === 'Block2')?.value as Buffer | undefined;
        expect(block2 && Buffer.from(block2).toString('hex')).toBe('0132');
      });

      it('observe /obs: first response and notifications with increasing Observe, time payloads; close stops them', async () => {
        const got: Array<{ observe: number; text: string }> = [];
        const req = coap.request({ hostname: host, port: sp.ports.plug, agent, pathname: '/obs', observe: true });
        const stream = await new Promise<Incoming & { close(eager?: boolean): void }>((resolve, reject) => {
          const t = setTimeout(() => reject(new Error('no observe response')), 10_000);
          req.on('response', (res: Incoming) => {
            clearTimeout(t);
            resolve(res as Incoming & { close(eager?: boolean): void });
          });
          req.on('error', reject);
          req.end();
        });
        expect(stream.code).toBe('2.05');
        await new Promise<void>((resolve, reject) => {
          const t = setTimeout(() => reject(new Error(`only ${got.length} notifications in 8 s`)), 8000);
          stream.on('data', (d: Buffer) => {
            got.push({ observe: Number(stream.headers.Observe), text: d.toString('utf8') });
            if (got.length === 5) {
              clearTimeout(t);
              resolve();
            }
          });
        });
        stream.close();
        const count = got.length;
        await new Promise((r) => setTimeout(r, 1000));
        // after close no more data is delivered (the client rejects further notifications with RST)
        expect(got.length).toBe(count);
        for (const g of got) expect(g.text).toMatch(/^\d\d:\d\d:\d\d$/);
        for (let i = 1; i < got.length; i++) expect(got[i]!.observe).toBeGreaterThan(got[i - 1]!.observe);
        // the server still answers normally on the same agent afterwards
        const res = await send({ pathname: '/test' });
        expect(res.code).toBe('2.05');
      });
    });
  }
});

// /benchmark, /requests, /diagnose, /reverse-request and /reverse-observe (resources.md §2.1-2.6) against the
// real server process over UDP on 127.0.0.1, and over coap+tcp and coaps+tcp (RFC 8323: the same answers; the reverse
// requests and observes come back on the client's connection); the reverse resources talk back to the test
// client's own endpoint.
import fs from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { decode as cborDecode } from 'cbor-x';
import { randomUUID } from 'node:crypto';
import { Code, Format, Opt, type CoapMessage } from '../../src/coap/message.js';
import { getOption, getUint } from '../../src/coap/options.js';
import type { CoapEndpoint } from '../../src/coap/endpoint.js';
import type { RequestSpec } from '../../src/coap/client-layer.js';
import { addChild, createResource, notifyObservers, type Exchange, type Resource } from '../../src/coap/resource.js';
import { encodePathSegment } from '../../src/coap/link-format.js';
import { startServer, type ServerProcess } from '../helpers/server-process.js';
import { createClient, createTransportClient, type TestClient } from '../helpers/coap-client.js';
import { StreamPeer, schemeOf, transportCases, type Transport } from '../helpers/stream-peer.js';
import { parseContext } from '../helpers/dtls-client.js';

const HOST = '127.0.0.1';
const INTERVAL = 200;

let sp: ServerProcess;
let client: TestClient;
const cleanups: Array<() => Promise<void> | void> = [];

beforeAll(async () => {
  sp = await startServer({ args: ['--no-external', '--benchmark', '--diagnose', '--notify-interval', `${INTERVAL}ms`] });
});

afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

afterAll(async () => {
  await sp?.stop();
});

const str = (m: CoapMessage): string => m.payload.toString('utf8');
const cf = (m: CoapMessage): number | undefined => getUint(m, Opt.CONTENT_FORMAT);

/** Polls `pred` every 20 ms until it holds or `ms` passed (bounded). */
async function waitUntil(pred: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The extended server's port for a transport: coap and coap+tcp share the number, coaps+tcp has the secure one. */
function extPort(transport: Transport): number {
  return transport === 'tls' ? sp.ports.extSecure : sp.ports.ext;
}

/** The name of an endpoint in /diagnose children (resources.md §2.3): `UDP:host:port`, `TCP:...`, `TLS:...`. */
function diagnoseName(transport: Transport, port: number): string {
  return `${transport.toUpperCase()}:${HOST}:${port}`;
}

describe.each(transportCases([HOST]))('extended resources over $name', ({ transport }) => {
  const stream = transport !== 'udp';

  beforeAll(async () => {
    client = await createTransportClient(transport, HOST, extPort(transport));
  });

  afterAll(async () => {
    await client?.close();
  });

  /** A client endpoint that also serves `root`, so the server's reverse requests reach it. */
  async function serverClient(root: Resource): Promise<{ ep: CoapEndpoint; send(spec: RequestSpec): Promise<CoapMessage> }> {
    const c = await createTransportClient(transport, HOST, extPort(transport), { root, serverTag: 'TEST-CLIENT' });
    cleanups.push(() => c.close());
    return c;
  }

  describe('/benchmark (--benchmark)', () => {
    it('GET → 2.05 "hello observe NNN", POST → 2.04 "hello benchmark", Content-Format 0', async () => {
      const g = await client.send({ method: Code.GET, path: 'benchmark' });
      expect(g.code).toBe(Code.CONTENT);
      expect(cf(g)).toBe(Format.TEXT);
      expect(str(g)).toMatch(/^hello observe \d{3}$/);
      const p = await client.send({ method: Code.POST, path: 'benchmark', payload: 'ignored' });
      expect(p.code).toBe(Code.CHANGED);
      expect(str(p)).toBe('hello benchmark');
    });
    it('rlen pads with * (block-wise beyond 1024 bytes) and is limited to 8192', async () => {
      expect(str(await client.send({ method: Code.POST, path: 'benchmark', query: ['rlen=20'] }))).toBe('hello benchmark*****');
      const big = await client.send({ method: Code.POST, path: 'benchmark', query: ['rlen=3000'] });
      expect(big.payload.length).toBe(3000);
      expect(big.payload.subarray(15).every((b) => b === 0x2a)).toBe(true);
      const bad = await client.send({ method: Code.GET, path: 'benchmark', query: ['rlen=8193'] });
      expect(bad.code).toBe(Code.BAD_OPTION);
      expect(str(bad)).toBe("URI-query-option 'rlen=8193' is more than 8192!");
      expect((await client.send({ method: Code.GET, path: 'benchmark', accept: Format.JSON })).code).toBe(Code.NOT_ACCEPTABLE);
    });
    it('ack → separate response', async () => {
      const res = await client.send({ method: Code.POST, path: 'benchmark', query: ['ack'] });
      expect(res.code).toBe(Code.CHANGED);
      // CON: a separate response, not piggy-backed on the ACK (a stream has neither: the response simply arrives)
      if (!stream) expect(res.type).toBe(0);
    });
    it('is observable: notifications every notify interval with new milliseconds', async () => {
      const notes: CoapMessage[] = [];
      const { first, exchange } = await client.observe({ method: Code.GET, path: 'benchmark' }, (m) => notes.push(m));
      cleanups.push(() => exchange.cancel());
      expect(getOption(first, Opt.OBSERVE)).toBeDefined();
      await waitUntil(() => notes.length >= 3, 5000);
      for (const n of notes) expect(str(n)).toMatch(/^hello observe \d{3}$/);
      expect(new Set(notes.map(str)).size).toBeGreaterThan(1);
    });
  });

  describe('/requests', () => {
    it('three POSTs of one device: JSON history newest first with source address and port', async () => {
      const dev = randomUUID();
      for (const rid of ['RID1', 'RID2']) {
        const r = await client.send({ method: Code.POST, path: 'requests', query: [`dev=${dev}`, `rid=${rid}`, 'ep'] });
        expect(r.code).toBe(Code.CHANGED);
      }
      const res = await client.send({ method: Code.POST, path: 'requests', query: [`dev=${dev}`, 'rid=RID3', 'ep'], accept: Format.JSON });
      expect(res.code).toBe(Code.CHANGED);
      expect(cf(res)).toBe(Format.JSON);
      const list = JSON.parse(str(res)) as Array<Record<string, unknown>>;
      expect(list).toHaveLength(4);
      expect(typeof list[0]!.systemstart).toBe('number');
      expect(list.slice(1).map((e) => e.rid)).toEqual(['RID3', 'RID2', 'RID1']);
      const port = client.ep.connector.localPort;
      for (const e of list.slice(1)) {
        expect(e.ep).toBe(HOST);
        expect(e.port).toBe(port);
        expect(Math.abs((e.time as number) - Date.now())).toBeLessThan(10_000);
      }
    });
    it('text and CBOR layouts', async () => {
      const dev = randomUUID();
      await client.send({ method: Code.POST, path: 'requests', query: [`dev=${dev}`, 'rid=A'] });
      const text = str(await client.send({ method: Code.POST, path: 'requests', query: [`dev=${dev}`, 'rid=B'] }));
      expect(text).toMatch(/^systemstart:\d+\nB:\d+\nA:\d+\n$/);
      const c = await client.send({ method: Code.POST, path: 'requests', query: [`dev=${dev}`, 'rid=C', 'ep'], accept: Format.CBOR });
      expect(cf(c)).toBe(Format.CBOR);
      const list = cborDecode(c.payload) as Array<Record<string, unknown>>;
      expect(list.map((e) => e.rid)).toEqual([undefined, 'C', 'B', 'A']);
      expect(Buffer.from(list[1]!.ep as Uint8Array)).toEqual(Buffer.from([127, 0, 0, 1]));
      expect((list[1]!.port as number) & 0xffff).toBe(client.ep.connector.localPort);
    });
    it('query errors → 4.02 with the texts', async () => {
      const cases: [string[], string][] = [
        [[], "missing URI-query-options for 'dev' and 'rid'!"],
        [['dev=x'], "missing URI-query-option for 'rid'!"],
        [['rid=1'], "missing URI-query-option for 'dev'!"],
        [['dev=x', 'rid=a:b'], "URI-query-option 'rid' contains :!"],
        [['dev=x', 'rid=1', 'rlen=2000'], "URI-query-option 'rlen=2000' is more than 1023!"],
        [['dev=x', 'rid=1', 'bad'], "URI-query-option 'bad' is not supported!"],
      ];
      for (const [query, message] of cases) {
        const r = await client.send({ method: Code.POST, path: 'requests', query });
        expect(r.code).toBe(Code.BAD_OPTION);
        expect(cf(r)).toBe(Format.TEXT);
        expect(str(r)).toBe(message);
      }
    });
    // the device store's bound does not depend on the transport: the flood runs over UDP only
    it.skipIf(stream)('a flood of 20,000 devices evicts the oldest device and keeps the server memory bounded', async () => {
      const victim = `victim-${randomUUID()}`;
      await client.send({ method: Code.POST, path: 'requests', query: [`dev=${victim}`, 'rid=first'] });
      const rss = (): number | undefined => {
        try {
          const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${sp.proc.pid}/status`, 'utf8'));
          return m ? Number(m[1]) * 1024 : undefined;
        } catch {
          return undefined;
        }
      };
      const total = 20_000;
      let next = 0;
      let failures = 0;
      const worker = async (): Promise<void> => {
        while (next < total) {
          const i = next++;
          const r = await client.send({ method: Code.POST, path: 'requests', query: [`dev=flood-${i}-${randomUUID()}`, `rid=R${i}`] });
          if (r.code !== Code.CHANGED) failures++;
        }
      };
      await Promise.all(Array.from({ length: 64 }, worker));
      expect(failures).toBe(0);
      const after = rss();
      if (after !== undefined) expect(after).toBeLessThan(400 * 1024 * 1024);
      const res = await client.send({ method: Code.POST, path: 'requests', query: [`dev=${victim}`, 'rid=second'], accept: Format.JSON });
      const list = JSON.parse(str(res)) as Array<Record<string, unknown>>;
      expect(list.slice(1).map((e) => e.rid)).toEqual(['second']);
    }, 120_000);
  });

  describe('/diagnose (--diagnose)', () => {
    const recvRequests = (text: string, uri: string): [number, number] => {
      const block = text.split(`\n${uri}\n`)[1] ?? '';
      const m = /^ {3}recv-requests,(\d+),(\d+)$/m.exec(block);
      if (!m) throw new Error(`no recv-requests for ${uri} in:\n${text}`);
      return [Number(m[1]), Number(m[2])];
    };

    it('text: systemstart, since, observe statistics of both servers and the endpoint counters; recv-requests grows', async () => {
      const uri = `${schemeOf(transport)}://${HOST}:${extPort(transport)}`;
      const first = await client.send({ method: Code.GET, path: 'diagnose' });
      expect(first.code).toBe(Code.CONTENT);
      expect(cf(first)).toBe(Format.TEXT);
      const t1 = str(first);
      expect(t1).toMatch(/^systemstart:\d+\nsince: \d+s\n/);
      expect(t1).toContain('\nEXTENDED-TEST\n   observes,');
      expect(t1).toContain('\nPLUG-TEST\n   observes,');
      expect(t1).not.toContain('node-id');
      const [before] = recvRequests(t1, uri);
      for (let i = 0; i < 5; i++) await client.send({ method: Code.GET, path: 'benchmark' });
      const [afterCount] = recvRequests(str(await client.send({ method: Code.GET, path: 'diagnose' })), uri);
      expect(afterCount).toBeGreaterThanOrEqual(before + 6);
    });
    it('JSON and CBOR layouts', async () => {
      const uri = `${schemeOf(transport)}://${HOST}:${extPort(transport)}`;
      const j = await client.send({ method: Code.GET, path: 'diagnose', accept: Format.JSON });
      expect(cf(j)).toBe(Format.JSON);
      const obj = JSON.parse(str(j));
      expect(Object.keys(obj).slice(0, 2)).toEqual(['systemstart', 'since']);
      expect(obj.since).toMatch(/^\d+s$/);
      expect(obj[uri]['recv-requests'].cur).toBeGreaterThan(0);
      expect(obj['EXTENDED-TEST']).toHaveProperty('observe-request');
      const c = await client.send({ method: Code.GET, path: 'diagnose', accept: Format.CBOR });
      const map = cborDecode(c.payload) as Record<string, unknown>;
      expect(Number(map.systemstart)).toBe(obj.systemstart);
      expect((await client.send({ method: Code.GET, path: 'diagnose', accept: Format.LINK })).code).toBe(Code.NOT_ACCEPTABLE);
    });
    it('discovery lists /diagnose and one child per endpoint of both servers; a child answers', async () => {
      const wk = str(await client.send({ method: Code.GET, path: '.well-known/core' }));
      expect(wk).toContain('</diagnose>;ct="0 50 60";title="Resource for diagnose statistics"');
      const ext = diagnoseName(transport, extPort(transport));
      const plug = diagnoseName(transport, transport === 'tls' ? sp.ports.plugSecure : sp.ports.plug);
      // path segments are URL-encoded in link-format (`:` → %3A)
      expect(wk).toContain(`</diagnose/${encodePathSegment(ext)}>;ct="0 50 60";title="Resource for diagnose statistic of ${ext}"`);
      expect(wk).toContain(`</diagnose/${encodePathSegment(plug)}>`);
      expect(encodePathSegment(ext)).toBe(`${transport.toUpperCase()}%3A${HOST}%3A${extPort(transport)}`);
      for (const name of ['requests', 'benchmark', 'reverse-request', 'reverse-observe']) expect(wk).toContain(`</${name}>`);
      const child = await client.send({ method: Code.GET, path: ['diagnose', plug] });
      expect(child.code).toBe(Code.CONTENT);
      expect(str(child)).toContain(`\n${schemeOf(transport)}://${HOST}:${transport === 'tls' ? sp.ports.plugSecure : sp.ports.plug}\n   send-requests,`);
    });
  });

  describe('/reverse-request', () => {
    it('the server GETs the client resource req times with the copied queries', async () => {
      const seen: Exchange[] = [];
      const root = createResource('');
      addChild(
        root,
        createResource('feed', {
          handlers: {
            GET: (ex) => {
              seen.push(ex);
              ex.respond({ code: Code.CONTENT, payload: `feed ${seen.length}`, format: 0 });
            },
          },
        }),
      );
      const c = await serverClient(root);
      const stats = async (): Promise<number[]> => {
        const r = await c.send({ method: Code.POST, path: 'reverse-request', accept: Format.OCTETS });
        expect(r.payload.length).toBe(24);
        return [0, 8, 16].map((o) => Number(r.payload.readBigUInt64BE(o)));
      };
      const [requested0, sent0] = await stats();
      const res = await c.send({ method: Code.POST, path: 'reverse-request', query: ['req=3', 'res=feed', 'rlen=7', 'x'] });
      expect(res.code).toBe(Code.CHANGED);
      expect(res.payload.length).toBe(0);
      await waitUntil(() => seen.length >= 3);
      await new Promise((r) => setTimeout(r, 200));
      expect(seen).toHaveLength(3);
      for (const ex of seen) {
        expect(ex.request.code).toBe(Code.GET);
        expect(ex.request.type).toBe(0);
        const q = ex.request.options.filter((o) => o.number === Opt.URI_QUERY).map((o) => o.value.toString());
        expect(q).toEqual(['rlen=7', 'x']);
      }
      const [requested, sent, pending] = await stats();
      expect(requested - requested0).toBe(3);
      expect(sent - sent0).toBe(3);
      expect(pending).toBe(0);
      const text = str(await c.send({ method: Code.POST, path: 'reverse-request' }));
      expect(text).toBe(`${requested} reverse-requests, ${sent} sent, 0 pending.`);
    });
    it('an error response of the client stops the sequence; bad req → 4.02', async () => {
      let gets = 0;
      const c = await serverClient(createResource(''));
      const root = c.ep.root!;
      addChild(root, createResource('gone', { handlers: { GET: (ex) => (gets++, ex.respond({ code: Code.NOT_FOUND })) } }));
      expect((await c.send({ method: Code.POST, path: 'reverse-request', query: ['req=5', 'res=gone'] })).code).toBe(Code.CHANGED);
      await waitUntil(() => gets >= 1);
      await new Promise((r) => setTimeout(r, 300));
      expect(gets).toBe(1);
      const bad = await c.send({ method: Code.POST, path: 'reverse-request', query: ['req=0', 'res=gone'] });
      expect(bad.code).toBe(Code.BAD_OPTION);
      expect(str(bad)).toBe("URI-query-option 'req=0' is less than 1!");
    });
  });

  describe('/reverse-observe', () => {
    it('establishes an observation on the client resource; the POST is answered with its token; re-registers after obs notifications', async () => {
      const registrations: Buffer[] = [];
      /** tokens of proactive cancels (GET Observe=1): how the server ends a relation on a stream (no RST there) */
      const cancels: Buffer[] = [];
      const root = createResource('');
      let value = 0;
      const feed = addChild(
        root,
        createResource('obs-feed', {
          observable: true,
          handlers: {
            GET: (ex) => {
              const observe = getUint(ex.request, Opt.OBSERVE);
              if (!ex.notification && observe === 0) registrations.push(ex.request.token);
              if (!ex.notification && observe === 1) cancels.push(ex.request.token);
              ex.respond({ code: Code.CONTENT, payload: `v${value}`, format: 0 });
            },
          },
        }),
      );
      const c = await serverClient(root);
      const res = await c.send({ method: Code.POST, path: 'reverse-observe', query: ['obs=2', 'res=obs-feed', 'timeout=60'] });
      expect(res.code).toBe(Code.CHANGED);
      expect(cf(res)).toBe(Format.TEXT);
      expect(registrations).toHaveLength(1);
      expect(str(res)).toBe(registrations[0]!.toString('hex').toUpperCase());
      expect(feed.observers.size).toBe(1);
      const statsText = str(await c.send({ method: Code.POST, path: 'reverse-observe' }));
      expect(statsText).toMatch(/^\d+ active observes, \d+ notifies\.$/);
      for (let i = 0; i < 2; i++) {
        value++;
        notifyObservers(feed);
        await new Promise((r) => setTimeout(r, 100));
      }
      await waitUntil(() => registrations.length >= 2);
      expect(registrations[1]!.equals(registrations[0]!)).toBe(false);
      if (stream) {
        // no RST on a stream: the server cancels the old relation proactively
        await waitUntil(() => feed.observers.size === 1);
        expect(cancels.map((t) => t.toString('hex'))).toEqual([registrations[0]!.toString('hex')]);
      } else {
        // the old relation is rejected with RST on its next notification
        value++;
        notifyObservers(feed);
        await waitUntil(() => feed.observers.size === 1);
        expect(cancels).toEqual([]);
      }
      const bin = await c.send({ method: Code.POST, path: 'reverse-observe', accept: Format.OCTETS });
      expect(bin.payload.length).toBe(12);
      expect(Number(bin.payload.readBigUInt64BE(4))).toBeGreaterThanOrEqual(3);
      const cancel = await c.send({ method: Code.POST, path: 'reverse-observe', query: ['obs=0', 'res=obs-feed'] });
      expect(cancel.code).toBe(Code.CHANGED);
      if (!stream) {
        value++;
        notifyObservers(feed);
      }
      await waitUntil(() => feed.observers.size === 0);
      if (stream) expect(cancels.map((t) => t.toString('hex'))).toEqual([registrations[0]!, registrations[1]!].map((t) => t.toString('hex')));
    });
    it('query errors → 4.02 without Content-Format', async () => {
      const bad = await client.send({ method: Code.POST, path: 'reverse-observe', query: ['obs=-1', 'res=x'] });
      expect(bad.code).toBe(Code.BAD_OPTION);
      expect(cf(bad)).toBeUndefined();
      expect(str(bad)).toBe("URI-query-option 'obs=-1' is less than 0!");
      expect((await client.send({ method: Code.POST, path: 'reverse-observe', accept: Format.JSON })).code).toBe(Code.NOT_ACCEPTABLE);
    });
    it('a client without the resource: the POST gets the error code of the registration', async () => {
      const c = await serverClient(createResource(''));
      const res = await c.send({ method: Code.POST, path: 'reverse-observe', query: ['obs=1', 'res=missing'] });
      expect(res.code).toBe(Code.NOT_FOUND);
    });
  });

});

describe('/mycontext over coaps+tcp: the TLS session', () => {
  it.each(['TLSv1.2', 'TLSv1.3'] as const)('%s: session-id TIME:<handshake ms> (no id without resumption), the same on the connection, another on the next', async (version) => {
    const contexts: Array<Map<string, string>> = [];
    const windows: Array<[number, number]> = [];
    for (let conn = 0; conn < 2; conn++) {
      const before = Date.now();
      const peer = await StreamPeer.open('tls', HOST, sp.ports.extSecure, { minVersion: version, maxVersion: version });
      const after = Date.now();
      try {
        const first = await peer.request({ code: Code.GET, path: 'mycontext' });
        const second = await peer.request({ code: Code.GET, path: 'mycontext' });
        expect(first.code).toBe(Code.CONTENT);
        const f = parseContext(str(first));
        expect(f.get('tls-version')).toBe(version);
        expect(f.get('peer')).toBe('CN=cf-client,OU=Californium,O=Eclipse IoT,L=Ottawa,C=CA');
        expect(parseContext(str(second)).get('session-id'), 'stable on the connection').toBe(f.get('session-id'));
        contexts.push(f);
        windows.push([before, after]);
      } finally {
        peer.close();
      }
      await new Promise((r) => setTimeout(r, 5));
    }
    contexts.forEach((f, i) => {
      const id = f.get('session-id') ?? '';
      expect(id).toMatch(/^[0-9A-F]+$/);
      const stand = /^TIME:(\d+)$/.exec(Buffer.from(id, 'hex').toString('latin1'));
      expect(stand, `session-id ${id} is hex of TIME:<ms>`).not.toBeNull();
      const ms = Number(stand![1]);
      expect(ms).toBeGreaterThanOrEqual(windows[i]![0]);
      expect(ms).toBeLessThanOrEqual(windows[i]![1] + 100);
    });
    expect(contexts[1]!.get('session-id'), 'each connection its own session').not.toBe(contexts[0]!.get('session-id'));
  });
});

describe('without --benchmark / --diagnose', () => {
  let plain: ServerProcess;
  let c: TestClient;
  beforeAll(async () => {
    plain = await startServer({ args: ['--no-external', '--no-plugtest'] });
    c = await createClient(HOST, plain.ports.ext);
  });
  afterAll(async () => {
    await c?.close();
    await plain?.stop();
  });
  it('/benchmark answers 5.01, /diagnose does not exist', async () => {
    const b = await c.send({ method: Code.GET, path: 'benchmark' });
    expect(b.code).toBe(Code.NOT_IMPLEMENTED);
    expect(str(b)).toBe('benchmark is not supported on this host!');
    expect((await c.send({ method: Code.GET, path: 'diagnose' })).code).toBe(Code.NOT_FOUND);
    const wk = str(await c.send({ method: Code.GET, path: '.well-known/core' }));
    expect(wk).toContain('</benchmark>;ct=0;title="Benchmark (disabled)"');
    expect(wk).not.toContain('diagnose');
  });
});

// ETSI TD_COAP_LINK_01..09 (plugtest.md §2) against the real server process over UDP, on 127.0.0.1 and ::1, and over
// coap+tcp and coaps+tcp (RFC 8323: the same links and blocks; no message types or MIDs to check).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Code, type CoapMessage } from '../../src/coap/message.js';
import { hasIpv6Loopback, startServer, type ServerProcess } from '../helpers/server-process.js';
import {
  ACK,
  block2Of,
  cf,
  expectMsg,
  getBlockwise,
  loopbackHosts,
  parseLinkFormat,
  type ParsedLink,
} from '../helpers/plugtest-checks.js';
import { openPeer, transportCases, type CoapPeer } from '../helpers/stream-peer.js';

let sp: ServerProcess;

beforeAll(async () => {
  sp = await startServer({ args: ['--no-external'] });
});

afterAll(async () => {
  await sp?.stop();
});

/** Resources resources.md §0.2 marks invisible in discovery. */
const INVISIBLE = ['/.well-known/core', '/.well-known', '/myip', '/mycontext', '/telemetry', '/event', '/create1'];

describe.each(transportCases(loopbackHosts(hasIpv6Loopback())))('TD_COAP_LINK over $name', ({ transport, host }) => {
  let peer: CoapPeer;
  const stream = transport !== 'udp';

  beforeAll(async () => {
    peer = await openPeer(transport, host, transport === 'tls' ? sp.ports.plugSecure : sp.ports.plug);
  });

  afterAll(() => {
    peer?.close();
  });

  /**
   * CON GET of a link-format resource (block-wise with the server's block size); every answer must
   * be a piggy-backed ACK (same MID/token) 2.05 with Content-Format 40. Returns the parsed links.
   */
  async function discover(path: string, query: string[] = []): Promise<{ text: string; links: ParsedLink[]; answers: CoapMessage[] }> {
    const t = await getBlockwise(peer, { code: Code.GET, path, query });
    t.answers.forEach((res, i) => {
      const req = t.requests[i]!;
      expectMsg(res, stream ? undefined : ACK, Code.CONTENT);
      if (!stream) expect(res.mid, 'same MID').toBe(req.mid);
      expect(res.token).toEqual(req.token);
      expect(cf(res), 'Content-Format 40').toBe(40);
    });
    if (t.answers.length > 1) {
      t.answers.forEach((res, i) => {
        const b = block2Of(res);
        expect([b.num, b.more, b.szx], `Block2 of block ${i}`).toEqual([i, i < t.answers.length - 1, 2]);
      });
    }
    const text = t.payload.toString('utf8');
    return { text, links: parseLinkFormat(text), answers: t.answers };
  }

  const uris = (links: ParsedLink[]) => links.map((l) => l.uri);

  it('LINK_01: GET /.well-known/core → 2.05 CF 40, all visible resources, sorted', async () => {
    const { text, links } = await discover('.well-known/core');
    expect(text.length).toBeGreaterThan(0);
    expect(text.endsWith(',')).toBe(false);
    const all = uris(links);
    for (const u of ['/test', '/seg1', '/seg1/seg2', '/seg1/seg2/seg3', '/query', '/separate', '/large', '/large-update', '/large-create', '/large-post',
      '/large-separate', '/obs', '/obs-non', '/obs-large', '/obs-pumping', '/obs-pumping-non', '/obs-reset', '/location-query', '/multi-format',
      '/link1', '/link2', '/link3', '/path', '/path/sub1', '/path/sub2', '/path/sub3', '/validate', '/shutdown', '/echo', '/oscore', '/oscoreInfo']) {
      expect(all, `link ${u}`).toContain(u);
    }
    for (const u of INVISIBLE) expect(all, `invisible ${u}`).not.toContain(u);
    expect(all, 'sorted by URI').toEqual([...all].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))));
    expect(new Set(all).size, 'no duplicates').toBe(all.length);
    const link1 = links.find((l) => l.uri === '/link1')!;
    expect(Object.fromEntries(link1.attrs)).toEqual({ if: ['If1'], rt: ['Type1', 'Type2'], title: ['Link', 'test', 'resource'] });
    expect(text).toContain('</link1>;if="If1";rt="Type1 Type2";title="Link test resource"');
    expect(text).toContain('</large>;rt="block";sz=1280;title="Large resource"');
    expect(links.find((l) => l.uri === '/obs')!.attrs.get('obs'), 'bare obs attribute').toEqual([]);
    // resources.md §3.22: /oscore carries the bare osc attribute (--oscore is on by default)
    expect(links.find((l) => l.uri === '/oscore')!.attrs.get('osc'), 'bare osc attribute').toEqual([]);
  });

  it('LINK_02: rt=Type1 → /link1, /link3', async () => {
    const { links } = await discover('.well-known/core', ['rt=Type1']);
    expect(uris(links)).toEqual(['/link1', '/link3']);
    for (const l of links) expect(l.attrs.get('rt')).toContain('Type1');
  });

  it('LINK_03: rt=* → non-empty, every link has rt', async () => {
    const { links } = await discover('.well-known/core', ['rt=*']);
    expect(links.length).toBeGreaterThan(0);
    for (const l of links) expect(l.attrs.has('rt'), `${l.uri} has rt`).toBe(true);
    const all = uris(links);
    for (const u of ['/large', '/large-update', '/large-create', '/large-post', '/large-separate', '/link1', '/link2', '/link3', '/obs', '/obs-non']) {
      expect(all).toContain(u);
    }
    expect(all).not.toContain('/test');
  });

  it('LINK_04: rt=Type2 → /link1, /link2', async () => {
    const { links } = await discover('.well-known/core', ['rt=Type2']);
    expect(uris(links)).toEqual(['/link1', '/link2']);
    for (const l of links) expect(l.attrs.get('rt')).toContain('Type2');
  });

  it('LINK_05: if=If* → /link1, /link2', async () => {
    const { links } = await discover('.well-known/core', ['if=If*']);
    expect(uris(links)).toEqual(['/link1', '/link2']);
    for (const l of links) expect(l.attrs.get('if')![0]!.startsWith('If')).toBe(true);
  });

  it('LINK_06: sz=* → the links having sz (/large, /large-update, /large-separate)', async () => {
    const { links } = await discover('.well-known/core', ['sz=*']);
    expect(links.length).toBeGreaterThan(0);
    for (const l of links) expect(l.attrs.has('sz'), `${l.uri} has sz`).toBe(true);
    const all = uris(links);
    for (const u of ['/large', '/large-update', '/large-separate']) expect(all).toContain(u);
    expect(links.find((l) => l.uri === '/large')!.attrs.get('sz')).toEqual(['1280']);
  });

  it('LINK_07: href=/link1 → only /link1', async () => {
    const { links } = await discover('.well-known/core', ['href=/link1']);
    expect(uris(links)).toEqual(['/link1']);
  });

  it('LINK_08: href=/link* → /link1, /link2, /link3', async () => {
    const { links } = await discover('.well-known/core', ['href=/link*']);
    expect(uris(links)).toEqual(['/link1', '/link2', '/link3']);
  });

  it('LINK_09: ct=40 → contains </path>; GET /path lists its children; GET /path/sub1 → 2.05', async () => {
    const { text, links } = await discover('.well-known/core', ['ct=40']);
    expect(text).toContain('</path>');
    for (const l of links) expect(l.attrs.get('ct'), `${l.uri} has ct 40`).toContain('40');

    const path = await discover('path');
    expect(path.text).toContain('</path/sub1>');
    expect(uris(path.links)).toEqual(['/path/sub1', '/path/sub2', '/path/sub3']);

    const req = peer.build({ code: Code.GET, path: 'path/sub1' });
    const res = await peer.call(req);
    expectMsg(res, stream ? undefined : ACK, Code.CONTENT);
    if (!stream) expect(res.mid).toBe(req.mid);
    expect(res.token).toEqual(req.token);
    expect(cf(res)).toBe(0);
    expect(res.payload.toString()).toBe('/path/sub1');
  });
});

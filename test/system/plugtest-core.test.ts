// ETSI TD_COAP_CORE_01..23 (plugtest.md §1) against the real server process over UDP, on 127.0.0.1 and ::1, and
// over coap+tcp and coaps+tcp (RFC 8323): the same codes, options and payloads; where UDP shows message types, MIDs,
// empty ACKs or deduplication, a stream shows none of them (§3) and the cases assert that instead.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decode as cborDecode } from 'cbor-x';
import { Code, Opt, type CoapMessage } from '../../src/coap/message.js';
import { getOption, getUint } from '../../src/coap/options.js';
import { hasIpv6Loopback, startServer, type ServerProcess } from '../helpers/server-process.js';
import {
  ACK,
  CON,
  NON,
  RawPeer,
  cf,
  checkerHasContentFormat,
  expectMsg,
  expectedTestPayload,
  getBlockwise,
  hasToken,
  locationPath,
  locationQuery,
  loopbackHosts,
  parseLinkFormat,
  summary,
  truncate,
  validateEtag,
} from '../helpers/plugtest-checks.js';
import { openPeer, transportCases, type CoapPeer } from '../helpers/stream-peer.js';

let sp: ServerProcess;

beforeAll(async () => {
  sp = await startServer({ args: ['--no-external'] });
});

afterAll(async () => {
  await sp?.stop();
});

/**
 * Asserts a piggy-backed answer: ACK, code, same MID and token as the request. Over coap+tcp / coaps+tcp: the code
 * and the token (RFC 8323 §3: no type, no MID).
 */
function expectAnswer(res: CoapMessage, req: CoapMessage, code: number | readonly number[], stream: boolean): void {
  expectMsg(res, stream ? undefined : ACK, code);
  if (!stream) expect(res.mid, 'same MID').toBe(req.mid);
  expect(res.token.toString('hex'), 'same token').toBe(req.token.toString('hex'));
}

/** Asserts the checker's "2.05 with Content-Format and non-empty payload". */
function expectContent(res: CoapMessage): void {
  expect(res.code).toBe(Code.CONTENT);
  expect(cf(res), 'Content-Format present').toBeDefined();
  expect(res.payload.length, 'non-empty payload').toBeGreaterThan(0);
}

describe.each(transportCases(loopbackHosts(hasIpv6Loopback())))('TD_COAP_CORE over $name', ({ transport, host }) => {
  let peer: CoapPeer;
  const stream = transport !== 'udp';
  /** the UDP message type expected; undefined (not checked) over a stream */
  const udp = <T>(type: T): T | undefined => (stream ? undefined : type);
  const expectPiggyBacked = (res: CoapMessage, req: CoapMessage, code: number | readonly number[]): void => expectAnswer(res, req, code, stream);

  beforeAll(async () => {
    peer = await openPeer(transport, host, transport === 'tls' ? sp.ports.plugSecure : sp.ports.plug);
  });

  afterAll(() => {
    peer?.close();
  });

  /**
   * A CON request whose response may be piggy-backed or separate ("ACK or CON"): returns the
   * response (the CON one after an empty ACK).
   */
  async function conResponse(req: CoapMessage): Promise<CoapMessage> {
    const from = peer.mark();
    const first = await peer.call(req);
    if (first.type === ACK && first.code === 0) {
      return peer.waitFor((m) => m.type === CON && m.code !== 0 && hasToken(req.token)(m), 6000, from, 'separate response');
    }
    return first;
  }

  it('CORE_01: CON GET /test → ACK 2.05, same MID, Content-Format, payload', async () => {
    const req = peer.build({ type: CON, code: Code.GET, path: 'test' });
    const res = await peer.call(req);
    expectPiggyBacked(res, req, Code.CONTENT);
    expectContent(res);
    expect(cf(res)).toBe(0);
    expect(getUint(res, Opt.MAX_AGE)).toBe(30);
    expect(res.payload.toString()).toBe(expectedTestPayload(req));
  });

  it('CORE_02: CON DELETE /test → ACK 2.02, same MID', async () => {
    const req = peer.build({ type: CON, code: Code.DELETE, path: 'test' });
    const res = await peer.call(req);
    expectPiggyBacked(res, req, Code.DELETED);
  });

  it('CORE_03: CON PUT /test text CF 0 → ACK 2.04, same MID', async () => {
    const req = peer.build({ type: CON, code: Code.PUT, path: 'test', payload: 'TD_COAP_CORE_03', format: 0 });
    const res = await peer.call(req);
    expectPiggyBacked(res, req, [Code.CREATED, Code.CHANGED]);
    expect(res.code, 'resources.md §3.1: PUT → 2.04').toBe(Code.CHANGED);
  });

  it('CORE_04: CON POST /test text CF 0 → ACK 2.01, same MID', async () => {
    const req = peer.build({ type: CON, code: Code.POST, path: 'test', payload: 'TD_COAP_CORE_04', format: 0 });
    const res = await peer.call(req);
    expectPiggyBacked(res, req, [Code.CREATED, Code.CHANGED]);
    expect(res.code, 'resources.md §3.1: POST → 2.01').toBe(Code.CREATED);
  });

  it('CORE_05: NON GET /test → NON 2.05, Content-Format, payload', async () => {
    const from = peer.mark();
    const req = peer.build({ type: NON, code: Code.GET, path: 'test' });
    const res = await peer.call(req);
    expectMsg(res, udp(NON), Code.CONTENT);
    expect(res.token.toString('hex')).toBe(req.token.toString('hex'));
    expectContent(res);
    expect(res.payload.toString()).toBe(expectedTestPayload(req));
    // a stream carries no type: the server reads every request as CON (RFC 8323 §3)
    expect(res.payload.toString()).toMatch(stream ? /^Type: 0 \(CON\)\nCode: 1 \(GET\)\nMID: 0\n/ : /^Type: 1 \(NON\)\n/);
    expect(peer.since(from, (m) => m.type === ACK), 'no ACK for a NON request').toEqual([]);
  });

  it('CORE_06: NON DELETE /test → NON 2.02', async () => {
    const req = peer.build({ type: NON, code: Code.DELETE, path: 'test' });
    const res = await peer.call(req);
    expectMsg(res, udp(NON), Code.DELETED);
    expect(res.token.toString('hex')).toBe(req.token.toString('hex'));
  });

  it('CORE_07: NON PUT /test text CF 0 → NON 2.04', async () => {
    const req = peer.build({ type: NON, code: Code.PUT, path: 'test', payload: 'TD_COAP_CORE_07', format: 0 });
    const res = await peer.call(req);
    expectMsg(res, udp(NON), [Code.CREATED, Code.CHANGED]);
    expect(res.code).toBe(Code.CHANGED);
    expect(res.token.toString('hex')).toBe(req.token.toString('hex'));
  });

  it('CORE_08: NON POST /test text CF 0 → NON 2.01', async () => {
    const req = peer.build({ type: NON, code: Code.POST, path: 'test', payload: 'TD_COAP_CORE_08', format: 0 });
    const res = await peer.call(req);
    expectMsg(res, udp(NON), [Code.CREATED, Code.CHANGED]);
    expect(res.code).toBe(Code.CREATED);
    expect(locationPath(res)).toEqual(['location1', 'location2', 'location3']);
  });

  it.runIf(stream)('CORE_09 over a stream: GET /separate → 2.05 after about 1 s with the token, nothing before it (no empty ACK)', async () => {
    const from = peer.mark();
    const req = peer.build({ code: Code.GET, path: 'separate' });
    const sent = Date.now();
    const res = await peer.call(req);
    expect(Date.now() - sent, 'response after about 1 s').toBeGreaterThanOrEqual(900);
    expectMsg(res, undefined, Code.CONTENT);
    expect(res.token).toEqual(req.token);
    expectContent(res);
    expect(res.payload.toString()).toBe(`${summary(req)}\n`);
    expect(peer.since(from), 'no empty message before the response').toEqual([res]);
  });

  it.skipIf(stream)('CORE_09: CON GET /separate → empty ACK, then CON 2.05 separate response', async () => {
    const from = peer.mark();
    const req = peer.build({ type: CON, code: Code.GET, path: 'separate' });
    const sent = Date.now();
    const ack = await peer.call(req);
    expect(ack.type).toBe(ACK);
    expect(ack.code, 'empty ACK').toBe(0);
    expect(ack.token.length).toBe(0);
    expect(ack.payload.length).toBe(0);
    expect(Date.now() - sent, 'empty ACK comes at once').toBeLessThan(800);
    const res = await peer.waitFor((m) => m.code !== 0 && hasToken(req.token)(m), 6000, from, 'separate response');
    expectMsg(res, CON, Code.CONTENT);
    expect(res.mid, 'separate response has its own MID').not.toBe(req.mid);
    expectContent(res);
    expect(res.payload.toString()).toBe(`${summary(req)}\n`);
    expect(Date.now() - sent, 'response after about 1 s').toBeGreaterThanOrEqual(900);
    const all = peer.since(from);
    expect(all.indexOf(ack)).toBeLessThan(all.indexOf(res));
    expect((peer as RawPeer).sentReplies.some((r) => r.type === ACK && r.mid === res.mid), 'we acknowledged it').toBe(true);
  });

  it('CORE_10: CON GET /test with token → ACK 2.05 with the same token', async () => {
    const token = Buffer.from('0123456789abcdef', 'hex');
    const req = peer.build({ type: CON, code: Code.GET, path: 'test', token });
    const res = await peer.call(req);
    expectPiggyBacked(res, req, Code.CONTENT);
    expect(res.token).toEqual(token);
    expectContent(res);
    expect(res.payload.toString()).toBe(expectedTestPayload(req));
    expect(res.payload.toString()).toContain('Token: 0123456789ABCDEF');
  });

  it.runIf(stream)('CORE_11 over a stream: GET /separate with token BEEF → 2.05 with token BEEF', async () => {
    const token = Buffer.from([0xbe, 0xef]);
    const req = peer.build({ code: Code.GET, path: 'separate', token });
    const res = await peer.call(req);
    expectMsg(res, undefined, Code.CONTENT);
    expect(res.token.toString('hex').toUpperCase()).toBe('BEEF');
    expectContent(res);
    expect(res.payload.toString()).toBe(`${summary(req)}\n`);
  });

  it.skipIf(stream)('CORE_11: CON GET /separate with token BEEF → CON separate 2.05 with token BEEF', async () => {
    const from = peer.mark();
    const token = Buffer.from([0xbe, 0xef]);
    const req = peer.build({ type: CON, code: Code.GET, path: 'separate', token });
    const ack = await peer.call(req);
    expect([ack.type, ack.code, ack.mid]).toEqual([ACK, 0, req.mid]);
    const res = await peer.waitFor((m) => m.code !== 0 && hasToken(token)(m), 6000, from, 'separate response');
    expectMsg(res, CON, Code.CONTENT);
    expect(res.token.toString('hex').toUpperCase()).toBe('BEEF');
    expectContent(res);
    expect(res.payload.toString()).toBe(`${summary(req)}\n`);
  });

  it('CORE_12: CON GET /test with empty token → ACK 2.05 with empty token', async () => {
    const req = peer.build({ type: CON, code: Code.GET, path: 'test', token: Buffer.alloc(0) });
    const res = await peer.call(req);
    expectPiggyBacked(res, req, Code.CONTENT);
    expect(res.token.length).toBe(0);
    expectContent(res);
    expect(res.payload.toString()).toBe(`${summary(req)}\nToken: `);
  });

  it('CORE_13: CON GET /seg1/seg2/seg3 → ACK 2.05', async () => {
    const req = peer.build({ type: CON, code: Code.GET, path: 'seg1/seg2/seg3' });
    const res = await peer.call(req);
    expectPiggyBacked(res, req, Code.CONTENT);
    expectContent(res);
    expect(cf(res)).toBe(0);
    expect(res.payload.toString()).toBe(`Long path resource\n${summary(req)}`);
  });

  it('CORE_14: CON GET /query?first=1&second=2&third=3 → 2.05 echoing the query', async () => {
    const req = peer.build({ type: CON, code: Code.GET, path: 'query', query: ['first=1', 'second=2', 'third=3'] });
    const res = await conResponse(req);
    expect([ACK, CON]).toContain(res.type);
    expect(res.token).toEqual(req.token);
    expectContent(res);
    expect(cf(res)).toBe(0);
    expect(res.payload.toString()).toBe(truncate(`${summary(req)}\n?first=1&second=2&third=3`, 64, 63));
  });

  it('CORE_15: CON GET /test → ACK or CON 2.05', async () => {
    const req = peer.build({ type: CON, code: Code.GET, path: 'test' });
    const res = await conResponse(req);
    expect([ACK, CON]).toContain(res.type);
    expectContent(res);
    expect(res.payload.toString()).toBe(expectedTestPayload(req));
  });

  // RFC 8323 §3: a stream has no MIDs and no deduplication (TCP delivers every request once): UDP only
  it.skipIf(stream)('CORE_16: duplicate CON GET /separate (same MID) is deduplicated, the handler runs once', async () => {
    const from = peer.mark();
    const req = peer.build({ type: CON, code: Code.GET, path: 'separate' });
    const ack = await peer.call(req);
    expect([ack.type, ack.code, ack.mid]).toEqual([ACK, 0, req.mid]);
    // the duplicate while the response is pending: empty ACK again, or nothing
    const dup1 = peer.mark();
    peer.send(req);
    const res = await peer.waitFor((m) => m.code !== 0 && hasToken(req.token)(m), 6000, from, 'separate response');
    expectMsg(res, CON, Code.CONTENT);
    expectContent(res);
    expect(res.payload.toString()).toBe(`${summary(req)}\n`);
    for (const m of peer.since(dup1)) {
      if (m === res || (m.type === CON && m.mid === res.mid)) continue;
      expect([m.type, m.code, m.mid], 'answer to the pending duplicate').toEqual([ACK, 0, req.mid]);
    }
    // the duplicate after the response: the empty ACK, the same response again (same MID) or nothing
    const dup2 = peer.mark();
    peer.send(req);
    await RawPeer.sleep(1500); // longer than the handler's 1 s delay: a second handler run would show
    for (const m of peer.since(dup2)) {
      if (m.code === 0) expect([m.type, m.mid], 'answer to the late duplicate').toEqual([ACK, req.mid]);
      else {
        expect(m.mid, 'a repeated response is the same message').toBe(res.mid);
        expect(m.payload).toEqual(res.payload);
      }
    }
    const responses = peer.since(from, (m) => m.code === Code.CONTENT && hasToken(req.token)(m));
    expect(new Set(responses.map((m) => m.mid)).size, 'exactly one separate 2.05 (plus retransmissions)').toBe(1);
  });

  it('CORE_17: NON GET /separate → NON 2.05 (no empty ACK)', async () => {
    const from = peer.mark();
    const req = peer.build({ type: NON, code: Code.GET, path: 'separate' });
    const res = await peer.call(req);
    expectMsg(res, udp(NON), Code.CONTENT);
    expect(res.token).toEqual(req.token);
    expectContent(res);
    expect(res.payload.toString()).toBe(`${summary(req)}\n`);
    expect(res.payload.toString()).toMatch(stream ? /^Type: 0 \(CON\)\n/ : /^Type: 1 \(NON\)\n/);
    expect(peer.since(from, (m) => m.type === ACK), 'nothing is acknowledged').toEqual([]);
    if (stream) expect(peer.since(from), 'nothing but the response').toEqual([res]);
  });

  it('CORE_18: CON POST /test → ACK 2.01, Location-Path location1/location2/location3', async () => {
    const req = peer.build({ type: CON, code: Code.POST, path: 'test', payload: 'TD_COAP_CORE_18', format: 0 });
    const res = await peer.call(req);
    expectPiggyBacked(res, req, Code.CREATED);
    expect(locationPath(res)).toEqual(['location1', 'location2', 'location3']);
  });

  it('CORE_19: CON POST /location-query → ACK 2.01, Location-Query first=1, second=2', async () => {
    const req = peer.build({ type: CON, code: Code.POST, path: 'location-query', payload: 'TD_COAP_CORE_19', format: 0 });
    const res = await peer.call(req);
    expectPiggyBacked(res, req, Code.CREATED);
    expect(locationQuery(res)).toEqual(['first=1', 'second=2']);
    expect(locationPath(res)).toEqual([]);
  });

  it('CORE_20: CON GET /multi-format with Accept 0, 41, 50, 60 → 2.05 in that format', async () => {
    const answers = new Map<number, { req: CoapMessage; res: CoapMessage }>();
    for (const acc of [0, 41, 50, 60]) {
      const req = peer.build({ type: CON, code: Code.GET, path: 'multi-format', accept: acc });
      const res = await peer.call(req);
      expectPiggyBacked(res, req, Code.CONTENT);
      expect(cf(res), `Content-Format for Accept ${acc}`).toBe(acc);
      expect(res.payload.length).toBeGreaterThan(0);
      answers.set(acc, { req, res });
    }
    const text = answers.get(0)!;
    expect(text.res.payload.toString()).toBe(`Status type: "CON"\nCode: "GET"\nMID: ${text.req.mid}\nAccept: 0`);
    const xml = answers.get(41)!;
    expect(xml.res.payload.toString()).toBe(`<msg type="CON" code="GET" mid="${xml.req.mid}" accept="41" />`);
    const json = answers.get(50)!;
    expect(JSON.parse(json.res.payload.toString())).toEqual({ type: 'CON', code: 'GET', mid: json.req.mid, accept: 50 });
    expect(json.res.payload.toString()).toBe(`{ "type":"CON", "code":"GET", "mid":${json.req.mid}, "accept":50 }`);
    const cbor = answers.get(60)!;
    expect(cborDecode(cbor.res.payload)).toEqual({ type: 'CON', code: 'GET', mid: cbor.req.mid, accept: 60 });
  });

  it('CORE_20 (resources.md §3.16): no Accept → text with Accept -1; unsupported Accept → 4.06 without Content-Format', async () => {
    const req = peer.build({ type: CON, code: Code.GET, path: 'multi-format' });
    const res = await peer.call(req);
    expectPiggyBacked(res, req, Code.CONTENT);
    expect(cf(res)).toBe(0);
    expect(res.payload.toString()).toBe(`Status type: "CON"\nCode: "GET"\nMID: ${req.mid}\nAccept: -1`);

    const bad = await getBlockwise(peer, { code: Code.GET, path: 'multi-format', accept: 42 });
    for (const a of bad.answers) {
      expectMsg(a, udp(ACK), Code.NOT_ACCEPTABLE);
      expect(cf(a), 'no Content-Format').toBeUndefined();
    }
    expect(bad.payload.toString()).toBe('text/plain, application/xml, application/json, or application/cbor only');
  });

  it('CORE_21: /validate ETag: 2.05+E1, 2.03 with E1, PUT, 2.05 with an ETag ≠ E1', async () => {
    const del = await peer.request({ code: Code.DELETE, path: 'validate' });
    expect(del.code, 'setup: DELETE /validate').toBe(Code.DELETED);

    const get1 = peer.build({ code: Code.GET, path: 'validate' });
    const r1 = await peer.call(get1);
    expectPiggyBacked(r1, get1, Code.CONTENT);
    const e1 = getOption(r1, Opt.ETAG);
    expect(e1, 'ETag E1').toBeDefined();
    expect(e1!.toString('hex'), 'no data → ETag 0x00').toBe('00');
    expect(cf(r1)).toBe(0);
    expect(r1.payload.toString()).toBe(truncate(`${summary(get1)}\nToken: ${get1.token.toString('hex').toUpperCase()}`, 64, 63));

    const get2 = peer.build({ code: Code.GET, path: 'validate', etag: e1 });
    const r2 = await peer.call(get2);
    expectPiggyBacked(r2, get2, Code.VALID);
    expect(getOption(r2, Opt.ETAG)).toEqual(e1);
    expect(r2.payload.length).toBe(0);

    const put = peer.build({ code: Code.PUT, path: 'validate', payload: 'It should change', format: 0 });
    const r3 = await peer.call(put);
    expectPiggyBacked(r3, put, Code.CHANGED);
    expect(getOption(r3, Opt.ETAG)).toEqual(validateEtag(Buffer.from('It should change')));

    const get4 = peer.build({ code: Code.GET, path: 'validate', etag: e1 });
    const r4 = await peer.call(get4);
    expectPiggyBacked(r4, get4, Code.CONTENT);
    const e4 = getOption(r4, Opt.ETAG);
    expect(e4).toBeDefined();
    expect(e4!.equals(e1!), 'ETag changed').toBe(false);
    expect(e4).toEqual(validateEtag(Buffer.from('It should change')));
    expect(cf(r4)).toBe(0);
    expect(r4.payload.toString()).toBe('It should change');
  });

  it('CORE_22: /validate If-Match: 2.04 with E1, E2 ≠ E1, stale If-Match → 4.12', async () => {
    const del = await peer.request({ code: Code.DELETE, path: 'validate' });
    expect(del.code, 'setup: DELETE /validate').toBe(Code.DELETED);

    const get1 = peer.build({ code: Code.GET, path: 'validate' });
    const r1 = await peer.call(get1);
    expectPiggyBacked(r1, get1, Code.CONTENT);
    expect(cf(r1)).toBeDefined();
    expect(r1.payload.length).toBeGreaterThan(0);
    const e1 = getOption(r1, Opt.ETAG);
    expect(e1).toBeDefined();

    const partA = `TD_COAP_CORE_22 ${host} Part A`;
    const put1 = peer.build({ code: Code.PUT, path: 'validate', ifMatch: [e1!], payload: partA, format: 0 });
    const r2 = await peer.call(put1);
    expectPiggyBacked(r2, put1, Code.CHANGED);
    expect(checkerHasContentFormat(r2)).toBe(true);
    expect(getOption(r2, Opt.ETAG)).toEqual(validateEtag(Buffer.from(partA)));

    const get3 = peer.build({ code: Code.GET, path: 'validate' });
    const r3 = await peer.call(get3);
    expectPiggyBacked(r3, get3, Code.CONTENT);
    const e2 = getOption(r3, Opt.ETAG);
    expect(e2).toBeDefined();
    expect(e2!.equals(e1!), 'E2 ≠ E1').toBe(false);
    expect(e2).toEqual(validateEtag(Buffer.from(partA)));
    expect(r3.payload.toString()).toBe(partA);

    const put4 = peer.build({ code: Code.PUT, path: 'validate', payload: `random ${Math.random()}`, format: 0 });
    const r4 = await peer.call(put4);
    expectPiggyBacked(r4, put4, Code.CHANGED);

    const put5 = peer.build({ code: Code.PUT, path: 'validate', ifMatch: [e1!], payload: `TD_COAP_CORE_22 ${host} Part B`, format: 0 });
    const r5 = await peer.call(put5);
    expectPiggyBacked(r5, put5, Code.PRECONDITION_FAILED);

    // resources.md §3.19: the 4.12 clears the data (ETag back to 0x00)
    const get6 = peer.build({ code: Code.GET, path: 'validate' });
    const r6 = await peer.call(get6);
    expectPiggyBacked(r6, get6, Code.CONTENT);
    expect(getOption(r6, Opt.ETAG)?.toString('hex')).toBe('00');
  });

  it('CORE_23: PUT /create1 If-None-Match → 2.01, again → 4.12 (data cleared, next PUT creates)', async () => {
    const del = await peer.request({ code: Code.DELETE, path: 'create1' });
    expect(del.code, 'setup: DELETE /create1').toBe(Code.DELETED);
    const hidden = await getBlockwise(peer, { code: Code.GET, path: '.well-known/core', query: ['href=/create1'] });
    expect(hidden.payload.toString(), '/create1 invisible before creation').toBe('');

    const partA = `TD_COAP_CORE_23 ${host} Part A`;
    const put1 = peer.build({ code: Code.PUT, path: 'create1', ifNoneMatch: true, payload: partA, format: 0 });
    const r1 = await peer.call(put1);
    expectPiggyBacked(r1, put1, Code.CREATED);

    const get = await peer.request({ code: Code.GET, path: 'create1' });
    expect([get.code, cf(get), get.payload.toString()]).toEqual([Code.CONTENT, 0, partA]);
    if (!stream) expect(get.type).toBe(ACK);
    const visible = await getBlockwise(peer, { code: Code.GET, path: '.well-known/core', query: ['href=/create1'] });
    expect(parseLinkFormat(visible.payload.toString()).map((l) => l.uri), '/create1 visible after creation').toEqual(['/create1']);

    const put2 = peer.build({ code: Code.PUT, path: 'create1', ifNoneMatch: true, payload: `TD_COAP_CORE_23 ${host} Part B`, format: 0 });
    const r2 = await peer.call(put2);
    expectPiggyBacked(r2, put2, Code.PRECONDITION_FAILED);

    const gone = await peer.request({ code: Code.GET, path: 'create1' });
    expect(gone.code, 'the 4.12 cleared the data').toBe(Code.NOT_FOUND);

    // the checker's retry after a leftover 4.12 creates again
    const put3 = peer.build({ code: Code.PUT, path: 'create1', ifNoneMatch: true, payload: partA, format: 0 });
    const r3 = await peer.call(put3);
    expectPiggyBacked(r3, put3, Code.CREATED);
  });
});

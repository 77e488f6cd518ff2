// ETSI plugtest cases (plugtest.md) over coaps: CORE_01/05/09/13/18/20/21, LINK_01/07, BLOCK_01/02/03/05 and
// OBS_01/07/09 against the real server's plugtest coaps endpoint (DTLS 1.2, PSK, CID 6), with a raw CoAP
// peer over our client DTLS connector: every CoAP message is one DTLS application record, so types, MIDs
// and tokens are checked exactly as over UDP. CORE and LINK run on 127.0.0.1 and ::1; every answer must
// arrive on the one DTLS session of the peer (no second handshake).
import { decode as cborDecode } from 'cbor-x';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Code, Opt, type CoapMessage, type MessageType } from '../../src/coap/message.js';
import { getOption, getUint } from '../../src/coap/options.js';
import { DtlsPeer, getBlockwise, sendBlockwise, type DtlsBlockTransfer } from '../helpers/dtls-client.js';
import {
  ACK,
  CON,
  NON,
  block1Of,
  block2Of,
  cf,
  describe as show,
  expectMsg,
  expectedTestPayload,
  hasToken,
  largeText,
  locationPath,
  loopbackHosts,
  observeOf,
  parseLinkFormat,
  requestBlockText,
  summary,
  truncate,
  validateEtag,
} from '../helpers/plugtest-checks.js';
import { hasIpv6Loopback, startServer, type ServerProcess } from '../helpers/server-process.js';

const INTERVAL = 300;
const NOTIFY_TIMEOUT = 6000;
const QUIET = 4 * INTERVAL;
const TIME = /^\d{2}:\d{2}:\d{2}$/;
const LARGE = largeText();
const BODY = Buffer.from(requestBlockText());

let sp: ServerProcess;
const peers: DtlsPeer[] = [];

beforeAll(async () => {
  sp = await startServer({ args: ['--no-external', '--notify-interval', `${INTERVAL}ms`] });
});
afterAll(async () => {
  for (const p of peers) {
    // every answer of the run came over the peer's single session
    expect(p.handshakes, `${p.host}: one handshake`).toBe(1);
    expect(p.undecodable, `${p.host}: every record held a CoAP message`).toBe(0);
    await p.close();
  }
  await sp?.stop();
});

async function openPeer(host: string): Promise<DtlsPeer> {
  const p = await DtlsPeer.open(host, sp.ports.plugSecure, { cidLength: 6 });
  peers.push(p);
  const info = await p.connect();
  expect(info.cipherSuite).toBe('TLS_PSK_WITH_AES_128_CCM_8');
  return p;
}

function expectPiggyBacked(res: CoapMessage, req: CoapMessage, code: number | readonly number[]): void {
  expectMsg(res, ACK, code);
  expect(res.mid, 'same MID').toBe(req.mid);
  expect(res.token.toString('hex'), 'same token').toBe(req.token.toString('hex'));
}

function expectContent(res: CoapMessage): void {
  expect(res.code).toBe(Code.CONTENT);
  expect(cf(res), 'Content-Format present').toBeDefined();
  expect(res.payload.length, 'non-empty payload').toBeGreaterThan(0);
}

function expectAllPiggyBacked(t: DtlsBlockTransfer): void {
  t.answers.forEach((res, i) => {
    expect(res.type, `answer ${i} is an ACK`).toBe(ACK);
    expect(res.mid, `answer ${i}: same MID`).toBe(t.requests[i]!.mid);
    expect(res.token, `answer ${i}: same token`).toEqual(t.requests[i]!.token);
  });
}

describe.each(loopbackHosts(hasIpv6Loopback()))('TD_COAP_CORE and TD_COAP_LINK over coaps://%s', (host) => {
  let peer: DtlsPeer;
  beforeAll(async () => {
    peer = await openPeer(host);
  });

  it('CORE_01: CON GET /test → ACK 2.05, same MID, Content-Format, payload; in a CID record of the session', async () => {
    const req = peer.build({ type: CON, code: Code.GET, path: 'test' });
    const rx = await peer.callFull(req);
    expectPiggyBacked(rx.msg, req, Code.CONTENT);
    expectContent(rx.msg);
    expect(cf(rx.msg)).toBe(0);
    expect(getUint(rx.msg, Opt.MAX_AGE)).toBe(30);
    expect(rx.msg.payload.toString()).toBe(expectedTestPayload(req));
    expect(rx.ctx.dtls?.cipherSuite).toBe('TLS_PSK_WITH_AES_128_CCM_8');
    expect(rx.ctx.dtls?.readCid?.length).toBe(6);
    expect(rx.ctx.address).toBe(host);
  });

  it('CORE_05: NON GET /test → NON 2.05, no ACK', async () => {
    const from = peer.mark();
    const req = peer.build({ type: NON, code: Code.GET, path: 'test' });
    const res = await peer.call(req);
    expectMsg(res, NON, Code.CONTENT);
    expect(res.token).toEqual(req.token);
    expectContent(res);
    expect(res.payload.toString()).toBe(expectedTestPayload(req));
    expect(res.payload.toString()).toMatch(/^Type: 1 \(NON\)\n/);
    expect(peer.since(from, (m) => m.type === ACK), 'no ACK for a NON request').toEqual([]);
  });

  it('CORE_09: CON GET /separate → empty ACK, then CON 2.05 separate response (acknowledged)', async () => {
    const from = peer.mark();
    const req = peer.build({ type: CON, code: Code.GET, path: 'separate' });
    const sent = Date.now();
    const ack = await peer.call(req);
    expect([ack.type, ack.code, ack.token.length, ack.payload.length]).toEqual([ACK, 0, 0, 0]);
    expect(Date.now() - sent, 'empty ACK at once').toBeLessThan(800);
    const { msg: res } = await peer.waitFor((m) => m.code !== 0 && hasToken(req.token)(m), 6000, from, 'separate response');
    expectMsg(res, CON, Code.CONTENT);
    expect(res.mid).not.toBe(req.mid);
    expectContent(res);
    expect(res.payload.toString()).toBe(`${summary(req)}\n`);
    expect(Date.now() - sent, 'after about 1 s').toBeGreaterThanOrEqual(900);
    expect(peer.sentReplies.some((r) => r.type === ACK && r.mid === res.mid), 'we acknowledged it').toBe(true);
  });

  it('CORE_13: CON GET /seg1/seg2/seg3 → ACK 2.05', async () => {
    const req = peer.build({ type: CON, code: Code.GET, path: 'seg1/seg2/seg3' });
    const res = await peer.call(req);
    expectPiggyBacked(res, req, Code.CONTENT);
    expect(res.payload.toString()).toBe(`Long path resource\n${summary(req)}`);
  });

  it('CORE_18: CON POST /test → ACK 2.01, Location-Path location1/location2/location3', async () => {
    const req = peer.build({ type: CON, code: Code.POST, path: 'test', payload: 'TD_COAP_CORE_18', format: 0 });
    const res = await peer.call(req);
    expectPiggyBacked(res, req, Code.CREATED);
    expect(locationPath(res)).toEqual(['location1', 'location2', 'location3']);
  });

  it('CORE_20: CON GET /multi-format with Accept 0, 41, 50, 60 → 2.05 in that format', async () => {
    const answers = new Map<number, { req: CoapMessage; res: CoapMessage }>();
    for (const acc of [0, 41, 50, 60]) {
      const req = peer.build({ type: CON, code: Code.GET, path: 'multi-format', accept: acc });
      const res = await peer.call(req);
      expectPiggyBacked(res, req, Code.CONTENT);
      expect(cf(res), `Content-Format for Accept ${acc}`).toBe(acc);
      answers.set(acc, { req, res });
    }
    const text = answers.get(0)!;
    expect(text.res.payload.toString()).toBe(`Status type: "CON"\nCode: "GET"\nMID: ${text.req.mid}\nAccept: 0`);
    const xml = answers.get(41)!;
    expect(xml.res.payload.toString()).toBe(`<msg type="CON" code="GET" mid="${xml.req.mid}" accept="41" />`);
    const json = answers.get(50)!;
    expect(JSON.parse(json.res.payload.toString())).toEqual({ type: 'CON', code: 'GET', mid: json.req.mid, accept: 50 });
    const cbor = answers.get(60)!;
    expect(cborDecode(cbor.res.payload)).toEqual({ type: 'CON', code: 'GET', mid: cbor.req.mid, accept: 60 });
  });

  it('CORE_21: /validate ETag: 2.05+E1, 2.03 with E1, PUT, after 1 s 2.05 with an ETag ≠ E1', async () => {
    expect((await peer.request({ code: Code.DELETE, path: 'validate' })).code, 'setup').toBe(Code.DELETED);
    const get1 = peer.build({ code: Code.GET, path: 'validate' });
    const r1 = await peer.call(get1);
    expectPiggyBacked(r1, get1, Code.CONTENT);
    const e1 = getOption(r1, Opt.ETAG);
    expect(e1).toBeDefined();
    expect(r1.payload.toString()).toBe(truncate(`${summary(get1)}\nToken: ${get1.token.toString('hex').toUpperCase()}`, 64, 63));
    const get2 = peer.build({ code: Code.GET, path: 'validate', etag: e1 });
    const r2 = await peer.call(get2);
    expectPiggyBacked(r2, get2, Code.VALID);
    expect(getOption(r2, Opt.ETAG)).toEqual(e1);
    const put = peer.build({ code: Code.PUT, path: 'validate', payload: 'It should change', format: 0 });
    expectPiggyBacked(await peer.call(put), put, Code.CHANGED);
    await new Promise((r) => setTimeout(r, 1000));
    const get4 = peer.build({ code: Code.GET, path: 'validate', etag: e1 });
    const r4 = await peer.call(get4);
    expectPiggyBacked(r4, get4, Code.CONTENT);
    const e4 = getOption(r4, Opt.ETAG);
    expect(e4!.equals(e1!), 'ETag changed').toBe(false);
    expect(e4).toEqual(validateEtag(Buffer.from('It should change')));
  });

  async function discover(query: string[] = []) {
    const t = await getBlockwise(peer, { code: Code.GET, path: '.well-known/core', query });
    expectAllPiggyBacked(t);
    t.answers.forEach((res, i) => {
      expectMsg(res, ACK, Code.CONTENT);
      expect(cf(res), 'Content-Format 40').toBe(40);
      if (t.answers.length > 1) {
        const b = block2Of(res);
        expect([b.num, b.more, b.szx], `Block2 of block ${i}`).toEqual([i, i < t.answers.length - 1, 2]);
      }
    });
    return parseLinkFormat(t.payload.toString('utf8')).map((l) => l.uri);
  }

  it('LINK_01: GET /.well-known/core → 2.05 CF 40 (64-byte blocks), the plugtest resources, /mycontext invisible', async () => {
    const uris = await discover();
    for (const u of ['/test', '/seg1/seg2/seg3', '/separate', '/large', '/large-update', '/large-post', '/obs', '/multi-format', '/link1', '/validate']) {
      expect(uris, u).toContain(u);
    }
    expect(uris).not.toContain('/mycontext');
    expect(uris).toEqual([...uris].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))));
  });

  it('LINK_07: href=/link1 → only /link1', async () => {
    expect(await discover(['href=/link1'])).toEqual(['/link1']);
  });
});

describe('TD_COAP_BLOCK over coaps://127.0.0.1', () => {
  let peer: DtlsPeer;
  beforeAll(async () => {
    peer = await openPeer('127.0.0.1');
  });

  function expectLarge(t: DtlsBlockTransfer): void {
    expect(t.answers.length, 'number of blocks').toBe(20);
    expectAllPiggyBacked(t);
    t.answers.forEach((res, i) => {
      expect(res.code).toBe(Code.CONTENT);
      const b = block2Of(res);
      expect([b.num, b.more, b.szx], `Block2 of block ${i}`).toEqual([i, i < 19, 2]);
      expect(cf(res)).toBe(0);
      expect(res.payload.toString()).toBe(LARGE.slice(i * 64, (i + 1) * 64));
    });
    expect(t.payload.toString()).toBe(LARGE);
  }

  function expectContinues(t: DtlsBlockTransfer): CoapMessage {
    expect(t.answers.length, 'all 20 blocks answered').toBe(20);
    expectAllPiggyBacked(t);
    for (let i = 0; i < 19; i++) {
      expect(t.answers[i]!.code, `block ${i}: 2.31`).toBe(Code.CONTINUE);
      const b = block1Of(t.answers[i]!);
      expect([b.num, b.more, b.szx]).toEqual([i, true, 2]);
    }
    const last = t.answers[19]!;
    const b = block1Of(last);
    expect([b.num, b.more, b.szx], 'Block1 of the final answer').toEqual([19, false, 2]);
    return last;
  }

  it('BLOCK_01: GET /large with early Block2 SZX 2 → 20 blocks, last ACK 2.05 M=0', async () => {
    const t = await getBlockwise(peer, { code: Code.GET, path: 'large' }, 2);
    expect(getOption(t.requests[0]!, Opt.BLOCK2)).toBeDefined();
    expectLarge(t);
  });

  it('BLOCK_02: GET /large without Block2 → server-initiated 64-byte Block2', async () => {
    const t = await getBlockwise(peer, { code: Code.GET, path: 'large' });
    expect(getOption(t.requests[0]!, Opt.BLOCK2)).toBeUndefined();
    expect(t.answers[0]!.payload.length).toBe(64);
    expectLarge(t);
  });

  it('BLOCK_03: PUT /large-update block-wise → 2.31 …, final ACK 2.04 with Block1 SZX 2; GET returns the body', async () => {
    const t = await sendBlockwise(peer, { code: Code.PUT, path: 'large-update', format: 0 }, BODY, 2);
    expectMsg(expectContinues(t), ACK, Code.CHANGED);
    const back = await getBlockwise(peer, { code: Code.GET, path: 'large-update' });
    expect(back.payload.toString()).toBe(BODY.toString());
  });

  it('BLOCK_05: POST /large-post block-wise → 2.04, Content-Format, upper-cased text via Block2', async () => {
    const token = peer.nextToken();
    const t = await sendBlockwise(peer, { code: Code.POST, path: 'large-post', format: 0, token }, BODY, 2);
    const last = expectContinues(t);
    expectMsg(last, ACK, Code.CHANGED);
    expect(cf(last)).toBe(0);
    const upper = BODY.toString().toUpperCase();
    const chunks = [last.payload];
    for (let num = 1; num < 40; num++) {
      const req = peer.build({ code: Code.POST, path: 'large-post', format: 0, token, block2: { num, more: false, szx: 2 } });
      const res = await peer.call(req);
      expectPiggyBacked(res, req, Code.CHANGED);
      const b = block2Of(res);
      expect([b.num, b.szx]).toEqual([num, 2]);
      chunks.push(res.payload);
      if (!b.more) break;
    }
    expect(chunks.length).toBe(20);
    expect(Buffer.concat(chunks).toString()).toBe(upper);
  });
});

describe('TD_COAP_OBS over coaps://127.0.0.1 (notify interval 300 ms)', () => {
  let peer: DtlsPeer;
  beforeAll(async () => {
    peer = await openPeer('127.0.0.1');
  });

  interface Relation {
    first: CoapMessage;
    from: number;
    token: Buffer;
  }

  async function register(path: string, type: MessageType = CON): Promise<Relation> {
    const token = peer.nextToken();
    const req = peer.build({ type, code: Code.GET, path, observe: 0, token });
    const first = await peer.call(req);
    expectPiggyBacked(first, req, Code.CONTENT);
    expect(cf(first)).toBe(0);
    expect(observeOf(first), 'Observe in the registration answer').toBeDefined();
    expect(getUint(first, Opt.MAX_AGE)).toBe(5);
    return { first, from: peer.log.findIndex((r) => r.msg === first) + 1, token };
  }

  function notifications(rel: Relation, from = rel.from): CoapMessage[] {
    const seen = new Set<number>();
    return peer.since(from, (m) => {
      if (!hasToken(rel.token)(m) || m.code === 0 || (m.type !== CON && m.type !== NON) || seen.has(m.mid)) return false;
      seen.add(m.mid);
      return true;
    });
  }

  async function waitNotifications(rel: Relation, n: number, from = rel.from): Promise<CoapMessage[]> {
    for (let k = 1; k <= n; k++) await peer.waitUntil(() => notifications(rel, from).length >= k, NOTIFY_TIMEOUT, `notification ${k} of ${n}`);
    return notifications(rel, from).slice(0, n);
  }

  function expectNotification(m: CoapMessage, rel: Relation): void {
    expectMsg(m, CON, Code.CONTENT);
    expect(m.token).toEqual(rel.token);
    expect(cf(m)).toBe(0);
    expect(observeOf(m)).toBeDefined();
    expect(getUint(m, Opt.MAX_AGE)).toBe(5);
    expect(peer.sentReplies.some((r) => r.type === ACK && r.mid === m.mid), `we acknowledged ${show(m)}`).toBe(true);
  }

  async function deregister(rel: Relation, path: string): Promise<CoapMessage> {
    const req = peer.build({ type: CON, code: Code.GET, path, observe: 1, token: rel.token });
    const res = await peer.call(req);
    expectPiggyBacked(res, req, Code.CONTENT);
    expect(observeOf(res), 'no Observe in the deregistration answer').toBeUndefined();
    return res;
  }

  async function expectQuiet(rel: Relation, from: number, except: CoapMessage[] = []): Promise<void> {
    await new Promise((r) => setTimeout(r, QUIET));
    const mids = new Set(except.map((m) => m.mid));
    expect(notifications(rel, from).filter((m) => !mids.has(m.mid)).map(show), 'no further notifications').toEqual([]);
  }

  it('OBS_01 + OBS_03: CON GET /obs Observe=0 → ACK; 5 CON notifications (acknowledged); deregistration without Observe', async () => {
    const rel = await register('obs');
    expect(rel.first.payload.toString()).toMatch(TIME);
    const list = await waitNotifications(rel, 5);
    for (const m of list) {
      expectNotification(m, rel);
      expect(m.payload.toString()).toMatch(TIME);
    }
    const seq = [rel.first, ...list].map((m) => observeOf(m)!);
    for (let i = 1; i < seq.length; i++) expect(seq[i]!, seq.join(',')).toBeGreaterThan(seq[i - 1]!);
    const res = await deregister(rel, 'obs');
    await expectQuiet(rel, peer.log.findIndex((r) => r.msg === res) + 1);
  });

  it('OBS_09: PUT "New value" to /obs → 2.04; the next notification carries exactly "New value"', async () => {
    const rel = await register('obs');
    await waitNotifications(rel, 2);
    const mark = peer.mark();
    await waitNotifications(rel, 1, mark);
    const putFrom = peer.mark();
    const put = peer.build({ type: CON, code: Code.PUT, path: 'obs', payload: 'New value', format: 0 });
    expectPiggyBacked(await peer.call(put), put, Code.CHANGED);
    const [next] = await waitNotifications(rel, 1, putFrom);
    expectNotification(next!, rel);
    expect(next!.payload.toString()).toBe('New value');
    await deregister(rel, 'obs');
  });

  it('OBS_07: DELETE /obs → 2.02; the observer gets a CON 4.04 without Observe, then nothing', async () => {
    const rel = await register('obs');
    await waitNotifications(rel, 2);
    const del = peer.build({ type: CON, code: Code.DELETE, path: 'obs' });
    const delFrom = peer.mark();
    expectPiggyBacked(await peer.call(del), del, Code.DELETED);
    const { msg: gone } = await peer.waitFor((m) => hasToken(rel.token)(m) && m.code === Code.NOT_FOUND, NOTIFY_TIMEOUT, delFrom, '4.04 notification');
    expect(gone.type).toBe(CON);
    expect(observeOf(gone)).toBeUndefined();
    await expectQuiet(rel, peer.log.findIndex((r) => r.msg === gone), [gone]);
  });
});

// ETSI TD_COAP_BLOCK_01..06 (plugtest.md §3) against the real server process over UDP: raw block-by-block
// exchanges checking every block's type, MID, code, SZX and M bit; and the same over coap+tcp and coaps+tcp
// (RFC 8323: the same codes, SZX, M bits and payloads with the base Max-Message-Size; no types or MIDs; no BERT).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Code, Opt, type CoapMessage } from '../../src/coap/message.js';
import { getOption } from '../../src/coap/options.js';
import { startServer, type ServerProcess } from '../helpers/server-process.js';
import {
  ACK,
  block1Of,
  block2Of,
  cf,
  expectMsg,
  getBlockwise,
  largeText,
  locationPath,
  parseLinkFormat,
  requestBlockText,
  sendBlockwise,
  type BlockTransfer,
} from '../helpers/plugtest-checks.js';
import { openPeer, transportCases, type CoapPeer } from '../helpers/stream-peer.js';

let sp: ServerProcess;
const LARGE = largeText();
const BODY = Buffer.from(requestBlockText());

beforeAll(async () => {
  sp = await startServer({ args: ['--no-external'] });
});

afterAll(async () => {
  await sp?.stop();
});

describe('TD_COAP_BLOCK request body', () => {
  it('request body: 1280 bytes, 20 lines of 64 bytes', () => {
    expect(BODY.length).toBe(1280);
    expect(BODY.toString().split('\n').slice(0, 20).every((l) => l.length === 63)).toBe(true);
    expect(BODY.toString()).toContain('|                 Request BLOCK NO. 3 OF 5');
  });
});

describe.each(transportCases(['127.0.0.1']))('TD_COAP_BLOCK over $name', ({ transport, host }) => {
  let peer: CoapPeer;
  const stream = transport !== 'udp';
  /** ACK over UDP; not checked over a stream (RFC 8323 §3: no types) */
  const ACK_OR_NONE = stream ? undefined : ACK;

  beforeAll(async () => {
    peer = await openPeer(transport, host, transport === 'tls' ? sp.ports.plugSecure : sp.ports.plug);
  });

  afterAll(() => {
    peer?.close();
  });

  /** Every answer is the piggy-backed ACK of its request (same MID and token); over a stream: the same token. */
  function expectPiggyBacked(t: BlockTransfer): void {
    t.answers.forEach((res, i) => {
      const req = t.requests[i]!;
      if (!stream) expect(res.type, `answer ${i} is an ACK`).toBe(ACK);
      if (!stream) expect(res.mid, `answer ${i}: same MID`).toBe(req.mid);
      expect(res.token, `answer ${i}: same token`).toEqual(req.token);
    });
  }

  /** Checks a Block2 download of /large in blocks of 2^(szx+4) bytes. */
  function expectLargeBlocks(t: BlockTransfer, szx: number): void {
    const size = 1 << (szx + 4);
    const count = 1280 / size;
    expect(t.answers.length, 'number of blocks').toBe(count);
    expectPiggyBacked(t);
    t.answers.forEach((res, i) => {
      expect(res.code, `block ${i} code`).toBe(Code.CONTENT);
      const b = block2Of(res);
      expect([b.num, b.more, b.szx], `Block2 of block ${i}`).toEqual([i, i < count - 1, szx]);
      expect(cf(res), `Content-Format of block ${i}`).toBe(0);
      expect(res.payload.toString(), `payload of block ${i}`).toBe(LARGE.slice(i * size, (i + 1) * size));
    });
    expect(t.payload.toString()).toBe(LARGE);
    const last = t.answers[count - 1]!;
    expectMsg(last, ACK_OR_NONE, Code.CONTENT);
    expect(last.payload.length).toBeGreaterThan(0);
  }

  /** Checks the 2.31 CONTINUE answers of a 64-byte Block1 upload of BODY (20 blocks). */
  function expectContinues(t: BlockTransfer): CoapMessage {
    expect(t.answers.length, 'all 20 blocks answered').toBe(20);
    expectPiggyBacked(t);
    for (let i = 0; i < 19; i++) {
      const res = t.answers[i]!;
      expect(res.code, `block ${i}: 2.31 CONTINUE`).toBe(Code.CONTINUE);
      const b = block1Of(res);
      expect([b.num, b.more, b.szx], `Block1 of the answer to block ${i}`).toEqual([i, true, 2]);
    }
    const last = t.answers[19]!;
    const b = block1Of(last);
    expect([b.num, b.more, b.szx], 'Block1 of the final answer').toEqual([19, false, 2]);
    return last;
  }

  it('BLOCK_01: GET /large with early Block2 SZX 2 → 20 blocks of 64 bytes, last ACK 2.05 M=0', async () => {
    const t = await getBlockwise(peer, { code: Code.GET, path: 'large' }, 2);
    expect(getOption(t.requests[0]!, Opt.BLOCK2), 'early Block2 sent').toBeDefined();
    expectLargeBlocks(t, 2);
  });

  it('BLOCK_02: GET /large without Block2 → server-initiated Block2 with 64-byte blocks', async () => {
    const t = await getBlockwise(peer, { code: Code.GET, path: 'large' });
    expect(getOption(t.requests[0]!, Opt.BLOCK2), 'no Block2 in the first request').toBeUndefined();
    const first = t.answers[0]!;
    expectMsg(first, ACK_OR_NONE, Code.CONTENT);
    expect(cf(first)).toBe(0);
    const b = block2Of(first);
    expect([b.num, b.more, b.szx]).toEqual([0, true, 2]);
    expect(first.payload.length).toBe(64);
    expectLargeBlocks(t, 2);
  });

  it('BLOCK_03: PUT /large-update block-wise (64-byte Block1) → 2.31 …, final ACK 2.04 with Block1 SZX 2', async () => {
    const t = await sendBlockwise(peer, { code: Code.PUT, path: 'large-update', format: 0 }, BODY, 2);
    const last = expectContinues(t);
    expectMsg(last, ACK_OR_NONE, Code.CHANGED);

    const back = await getBlockwise(peer, { code: Code.GET, path: 'large-update' });
    expect(back.answers.every((a) => a.code === Code.CONTENT && cf(a) === 0)).toBe(true);
    expect(back.payload.toString(), 'stored body').toBe(BODY.toString());
    const link = await getBlockwise(peer, { code: Code.GET, path: '.well-known/core', query: ['href=/large-update'] });
    const attrs = parseLinkFormat(link.payload.toString())[0]!.attrs;
    expect([attrs.get('ct'), attrs.get('sz')], 'ct/sz attributes updated').toEqual([['0'], ['1280']]);
  });

  it('BLOCK_04: POST /large-create block-wise → final 2.01, Block1 SZX 2, Location-Path', async () => {
    const t = await sendBlockwise(peer, { code: Code.POST, path: 'large-create', format: 0 }, BODY, 2);
    const last = expectContinues(t);
    expectMsg(last, ACK_OR_NONE, Code.CREATED);
    const loc = locationPath(last);
    expect(loc.length, 'Location-Path present').toBe(2);
    expect(loc[0]).toBe('large-create');
    expect(loc[1]).toMatch(/^[1-9][0-9]*$/);

    const child = await getBlockwise(peer, { code: Code.GET, path: loc.join('/') });
    expect(child.answers.every((a) => a.code === Code.CONTENT && cf(a) === 0)).toBe(true);
    expect(child.payload.toString(), 'created sub-resource holds the body').toBe(BODY.toString());
    const list = await getBlockwise(peer, { code: Code.GET, path: 'large-create' });
    expect(cf(list.answers[0]!)).toBe(40);
    expect(parseLinkFormat(list.payload.toString()).map((l) => l.uri)).toContain(`/large-create/${loc[1]}`);
  });

  it('BLOCK_05: POST /large-post block-wise → 2.04, Content-Format, upper-cased text via Block2', async () => {
    const token = peer.nextToken();
    const t = await sendBlockwise(peer, { code: Code.POST, path: 'large-post', format: 0, token }, BODY, 2);
    const last = expectContinues(t);
    expectMsg(last, ACK_OR_NONE, Code.CHANGED);
    expect(cf(last), 'Content-Format').toBe(0);
    const upper = BODY.toString().toUpperCase();
    const b2 = block2Of(last);
    expect([b2.num, b2.more, b2.szx], 'response Block2 of the final Block1 answer').toEqual([0, true, 2]);
    expect(last.payload.toString()).toBe(upper.slice(0, 64));
    // the rest of the response: the same POST with Block2 NUM 1.. (RFC 7959 §3.3)
    const chunks = [last.payload];
    for (let num = 1; num < 40; num++) {
      const req = peer.build({ code: Code.POST, path: 'large-post', format: 0, token, block2: { num, more: false, szx: 2 } });
      const res = await peer.call(req);
      expectMsg(res, ACK_OR_NONE, Code.CHANGED);
      if (!stream) expect(res.mid).toBe(req.mid);
      expect(res.token).toEqual(req.token);
      expect(cf(res)).toBe(0);
      const b = block2Of(res);
      expect([b.num, b.szx], `Block2 of response block ${num}`).toEqual([num, 2]);
      chunks.push(res.payload);
      if (!b.more) break;
    }
    expect(chunks.length, '20 response blocks').toBe(20);
    expect(Buffer.concat(chunks).toString()).toBe(upper);
  });

  it('BLOCK_06: GET /large with early Block2 SZX 0 → 80 blocks of 16 bytes, last ACK 2.05 SZX 0 M=0', async () => {
    const t = await getBlockwise(peer, { code: Code.GET, path: 'large' }, 0);
    expectLargeBlocks(t, 0);
  });
});

// OSCORE at the CoAP message level (RFC 8613 §4 option classes, §4.2 outer codes, §8.1-§8.4): client ↔ server round trips.
import { describe, expect, it } from 'vitest';
import { ACK, CON, Code, NON, Opt, type CoapMessage } from '../../src/coap/message.js';
import { decodeBlock, encodeBlock, encodeUint, getOption, getOptions, getUint } from '../../src/coap/options.js';
import { unprotectIncomingResponse, protectOutgoingRequest } from '../../src/oscore/client.js';
import { decodeOscoreOption } from '../../src/oscore/option.js';
import { mergeAfterVerification, optionClass, splitForProtection } from '../../src/oscore/option-classes.js';
import { protectOutgoingResponse, unprotectIncomingRequest, type OscoreExchange } from '../../src/oscore/server.js';
import { msg, numbers, path, plugtestPair, text } from '../helpers/oscore-messages.js';

/** Server side of one request: unprotects, expects 'ok', returns the inner request and the state. */
function serverReceive(store: ReturnType<typeof plugtestPair>['store'], m: CoapMessage): { request: CoapMessage; state: OscoreExchange } {
  const r = unprotectIncomingRequest(store, m);
  if (r.kind !== 'ok') throw new Error(`expected ok, got ${r.kind}${r.kind === 'error' ? ` ${r.response.payload.toString()}` : ''}`);
  return { request: r.request, state: r.state };
}

function uint(number: number, v: number): { number: number; value: Buffer } {
  return { number, value: encodeUint(v) };
}

describe('option classes (§4.1, Figure 5)', () => {
  it('classifies the registered options and treats unknown ones as Class E', () => {
    expect([Opt.URI_HOST, Opt.URI_PORT, Opt.PROXY_URI, Opt.PROXY_SCHEME, Opt.OSCORE].map(optionClass)).toEqual(['U', 'U', 'U', 'U', 'U']);
    expect([Opt.URI_PATH, Opt.URI_QUERY, Opt.CONTENT_FORMAT, Opt.ETAG, Opt.IF_MATCH, Opt.LOCATION_PATH, Opt.ACCEPT].map(optionClass)).toEqual(['E', 'E', 'E', 'E', 'E', 'E', 'E']);
    expect([Opt.OBSERVE, Opt.MAX_AGE, Opt.BLOCK1, Opt.BLOCK2, Opt.SIZE1, Opt.SIZE2, Opt.NO_RESPONSE].map(optionClass)).toEqual(['EU', 'EU', 'EU', 'EU', 'EU', 'EU', 'EU']);
    expect(optionClass(65000)).toBe('E');
  });

  it('splits: Class U outer, Observe both, everything else inner', () => {
    const m = msg({ code: Code.GET, path: ['a'], options: [{ number: Opt.URI_HOST, value: Buffer.from('h') }, uint(Opt.OBSERVE, 0), uint(Opt.MAX_AGE, 9), uint(Opt.BLOCK2, 2), uint(2000, 1)] });
    const s = splitForProtection(m.options);
    expect(s.outer.map((o) => o.number)).toEqual([Opt.URI_HOST, Opt.OBSERVE]);
    expect(s.inner.map((o) => o.number)).toEqual([Opt.OBSERVE, Opt.URI_PATH, Opt.MAX_AGE, Opt.BLOCK2, 2000]);
  });

  it('merges: inner wins, outer Class E / block / Observe / Max-Age dropped, OSCORE becomes an empty marker', () => {
    const inner = [{ number: Opt.URI_PATH, value: Buffer.from('in') }, uint(Opt.NO_RESPONSE, 2)];
    const outer = [
      { number: Opt.URI_HOST, value: Buffer.from('host') },
      uint(Opt.OBSERVE, 0),
      { number: Opt.OSCORE, value: Buffer.from('0901', 'hex') },
      { number: Opt.URI_PATH, value: Buffer.from('evil') },
      uint(Opt.MAX_AGE, 60),
      uint(Opt.BLOCK2, 0x16),
      uint(Opt.NO_RESPONSE, 26),
      { number: 2001, value: Buffer.from('x') },
    ];
    const merged = mergeAfterVerification(inner, outer);
    expect(merged.map((o) => o.number)).toEqual([Opt.URI_HOST, Opt.OSCORE, Opt.URI_PATH, Opt.NO_RESPONSE, 2001]);
    expect(merged.find((o) => o.number === Opt.OSCORE)!.value.length).toBe(0);
    expect(merged.find((o) => o.number === Opt.URI_PATH)!.value.toString()).toBe('in');
    expect(merged.find((o) => o.number === Opt.NO_RESPONSE)!.value).toEqual(encodeUint(2));
  });
});

describe('round trips at message level (plugtest context, §8.1-§8.4)', () => {
  it('OC01: CON GET /oscore → ACK 2.05 with Content-Format, Max-Age and payload, OSCORE option present', () => {
    const { store, client } = plugtestPair();
    const plain = msg({ code: Code.GET, mid: 0x0101, path: ['oscore'], options: [{ number: Opt.URI_HOST, value: Buffer.from('localhost') }] });
    const { message, binding } = protectOutgoingRequest(client, plain);
    // §4.2: outer POST; Class E hidden: only Uri-Host and OSCORE outside
    expect(message.code).toBe(Code.POST);
    expect(numbers(message)).toEqual([Opt.URI_HOST, Opt.OSCORE]);
    expect(message.payload.includes(Buffer.from('oscore'))).toBe(false);
    expect(decodeOscoreOption(getOption(message, Opt.OSCORE)!)).toEqual({ partialIv: Buffer.from([0]), kid: Buffer.from([1]), kidContext: Buffer.from('37cbf3210017a2d3', 'hex') });

    const { request, state } = serverReceive(store, message);
    expect(request.code).toBe(Code.GET);
    expect([request.type, request.mid, request.token]).toEqual([CON, 0x0101, plain.token]);
    expect(path(request)).toBe('oscore');
    expect(text(request, Opt.URI_HOST)).toBe('localhost');
    expect(getOption(request, Opt.OSCORE)).toEqual(Buffer.alloc(0));
    expect(request.payload.length).toBe(0);
    expect(state.observe).toBe(false);
    expect(state.sequenceNumber).toBe(0);

    const plainResp = msg({ type: ACK, code: Code.CONTENT, mid: 0x0101, token: plain.token, options: [uint(Opt.CONTENT_FORMAT, 0), uint(Opt.MAX_AGE, 30)], payload: 'OSCORE Resource' });
    const out = protectOutgoingResponse(state, plainResp);
    // §4.2: 2.04 outer without Observe; §4.1.3.1: no outer Max-Age on a protected success; first response: empty option
    expect([out.type, out.code, out.mid, out.token]).toEqual([ACK, Code.CHANGED, 0x0101, plain.token]);
    expect(numbers(out)).toEqual([Opt.OSCORE]);
    expect(getOption(out, Opt.OSCORE)!.length).toBe(0);

    const back = unprotectIncomingResponse(client, out, binding);
    expect(back.kind).toBe('ok');
    if (back.kind !== 'ok') return;
    expect(back.response.code).toBe(Code.CONTENT);
    expect(getUint(back.response, Opt.CONTENT_FORMAT)).toBe(0);
    expect(getUint(back.response, Opt.MAX_AGE)).toBe(30);
    expect(back.response.payload.toString()).toBe('OSCORE Resource');
    expect(back.partialIv).toBeUndefined();
  });

  it.each([
    ['OC02 DELETE', Code.DELETE, [], '', Code.DELETED, []],
    ['OC03 PUT text', Code.PUT, [uint(Opt.CONTENT_FORMAT, 0)], 'Hello, OSCORE!', Code.CHANGED, []],
    ['PUT If-None-Match', Code.PUT, [{ number: Opt.IF_NONE_MATCH, value: Buffer.alloc(0) }], 'x', Code.PRECONDITION_FAILED, []],
    ['POST → Location-Path', Code.POST, [uint(Opt.CONTENT_FORMAT, 0)], 'data', Code.CREATED, [{ number: Opt.LOCATION_PATH, value: Buffer.from('location1') }, { number: Opt.LOCATION_PATH, value: Buffer.from('location2') }]],
  ] as const)('%s', (_name, code, reqOpts, body, respCode, respOpts) => {
    const { store, client } = plugtestPair();
    // a few requests first, so the sequence numbers move
    for (let i = 0; i < 3; i++) serverReceive(store, protectOutgoingRequest(client, msg({ code: Code.GET, path: ['x'] })).message);
    const plain = msg({ code, mid: 7, path: ['oscore'], options: [...reqOpts], payload: body });
    const { message, binding } = protectOutgoingRequest(client, plain);
    expect(message.code).toBe(Code.POST);
    const { request, state } = serverReceive(store, message);
    expect(request.code).toBe(code);
    expect(request.payload.toString()).toBe(body);
    expect(numbers(request)).toEqual([...new Set([Opt.OSCORE, ...numbers(plain)])].sort((a, b) => a - b));
    expect(state.sequenceNumber).toBe(3);
    const out = protectOutgoingResponse(state, msg({ type: ACK, code: respCode, mid: 7, token: plain.token, options: [...respOpts] }));
    expect(out.code).toBe(Code.CHANGED);
    expect(numbers(out)).toEqual([Opt.OSCORE]);
    const back = unprotectIncomingResponse(client, out, binding);
    expect(back.kind).toBe('ok');
    if (back.kind !== 'ok') return;
    expect(back.response.code).toBe(respCode);
    expect(getOptions(back.response, Opt.LOCATION_PATH).map(String)).toEqual(respOpts.map((o) => String(o.value)));
  });

  it('NON requests keep their type; responses keep theirs', () => {
    const { store, client } = plugtestPair();
    const { message, binding } = protectOutgoingRequest(client, msg({ type: NON, code: Code.GET, path: ['oscore'] }));
    const { request, state } = serverReceive(store, message);
    expect(request.type).toBe(NON);
    const out = protectOutgoingResponse(state, msg({ type: NON, code: Code.CONTENT, mid: 99, payload: 'n' }));
    expect([out.type, out.mid]).toEqual([NON, 99]);
    expect(unprotectIncomingResponse(client, out, binding).kind).toBe('ok');
  });

  it('a second response to the same request never reuses the request nonce', () => {
    const { store, client } = plugtestPair();
    const { message, binding } = protectOutgoingRequest(client, msg({ code: Code.GET, path: ['oscore'] }));
    const { state } = serverReceive(store, message);
    const r1 = protectOutgoingResponse(state, msg({ type: ACK, code: Code.CONTENT, payload: 'same' }));
    const r2 = protectOutgoingResponse(state, msg({ type: ACK, code: Code.CONTENT, payload: 'same' }));
    expect(getOption(r1, Opt.OSCORE)!.length).toBe(0);
    expect(decodeOscoreOption(getOption(r2, Opt.OSCORE)!).partialIv).toEqual(Buffer.from([0]));
    expect(r1.payload.equals(r2.payload)).toBe(false);
    expect(unprotectIncomingResponse(client, r1, binding).kind).toBe('ok');
    expect(unprotectIncomingResponse(client, r2, binding).kind).toBe('ok');
  });
});

describe('Observe (§4.1.3.5) and notification order (§7.4.1)', () => {
  it('registration: outer FETCH with outer and inner Observe; notifications 2.05 outer with increasing Partial IVs', () => {
    const { store, client } = plugtestPair();
    const plain = msg({ code: Code.GET, path: ['obs'], options: [uint(Opt.OBSERVE, 0)] });
    const { message, binding } = protectOutgoingRequest(client, plain);
    expect(message.code).toBe(Code.FETCH);
    expect(numbers(message)).toEqual([Opt.OBSERVE, Opt.OSCORE]);
    const { request, state } = serverReceive(store, message);
    expect(request.code).toBe(Code.GET);
    expect(state.observe).toBe(true);
    expect(getUint(request, Opt.OBSERVE)).toBe(0);
    expect(getOptions(request, Opt.OBSERVE).length).toBe(1);

    // first answer (no notification flag) may reuse the request nonce
    const first = protectOutgoingResponse(state, msg({ type: ACK, code: Code.CONTENT, options: [uint(Opt.OBSERVE, 2), uint(Opt.CONTENT_FORMAT, 0)], payload: 'v0' }));
    expect(first.code).toBe(Code.CONTENT);
    expect(getUint(first, Opt.OBSERVE)).toBe(2);
    expect(getOption(first, Opt.CONTENT_FORMAT)).toBeUndefined();
    const r0 = unprotectIncomingResponse(client, first, binding);
    expect(r0.kind === 'ok' && r0.response.payload.toString()).toBe('v0');

    const notes: CoapMessage[] = [];
    for (let i = 1; i <= 4; i++) {
      notes.push(protectOutgoingResponse(state, msg({ type: CON, code: Code.CONTENT, mid: 100 + i, options: [uint(Opt.OBSERVE, 2 + i), uint(Opt.CONTENT_FORMAT, 0)], payload: `v${i}` }), { notification: true }));
    }
    const pivs = notes.map((n) => decodeOscoreOption(getOption(n, Opt.OSCORE)!).partialIv!.readUIntBE(0, 1));
    expect(pivs).toEqual([0, 1, 2, 3]);
    for (const [i, n] of notes.entries()) {
      expect(n.code).toBe(Code.CONTENT);
      expect(n.type).toBe(CON);
      const r = unprotectIncomingResponse(client, n, binding);
      expect(r.kind).toBe('ok');
      if (r.kind !== 'ok') return;
      expect(r.partialIv).toBe(i);
      expect(r.response.payload.toString()).toBe(`v${i + 1}`);
      expect(getUint(r.response, Opt.OBSERVE)).toBe(3 + i);
    }
    // an older (replayed or reordered) notification is not delivered
    const old = unprotectIncomingResponse(client, notes[1]!, binding);
    expect(old.kind === 'error' && old.failure).toBe('replay');
    // a notification for the relation after the end (deregistration answer without Observe) still verifies
    const last = protectOutgoingResponse(state, msg({ type: CON, code: Code.NOT_FOUND }), { notification: true });
    expect(last.code).toBe(Code.CHANGED);
    const lr = unprotectIncomingResponse(client, last, binding);
    expect(lr.kind === 'ok' && lr.response.code).toBe(Code.NOT_FOUND);
  });
});

describe('Block-wise (§4.1.3.4)', () => {
  it('inner Block2: each block is its own protected exchange; the outer messages carry no block options', () => {
    const { store, client } = plugtestPair();
    const body = Buffer.from('0123456789abcdef'.repeat(6)); // 96 bytes, 32-byte blocks
    const parts: Buffer[] = [];
    for (let num = 0; ; num++) {
      const { message, binding } = protectOutgoingRequest(client, msg({ code: Code.GET, mid: num, path: ['large'], options: num === 0 ? [] : [{ number: Opt.BLOCK2, value: encodeBlock({ num, more: false, szx: 1 }) }] }));
      expect(getOption(message, Opt.BLOCK2)).toBeUndefined();
      const { request, state } = serverReceive(store, message);
      const want = getOption(request, Opt.BLOCK2);
      const n = want === undefined ? 0 : decodeBlock(want)!.num;
      const chunk = body.subarray(n * 32, n * 32 + 32);
      const more = (n + 1) * 32 < body.length;
      const out = protectOutgoingResponse(state, msg({ type: ACK, code: Code.CONTENT, mid: num, options: [{ number: Opt.BLOCK2, value: encodeBlock({ num: n, more, szx: 1 }) }, uint(Opt.SIZE2, body.length)], payload: chunk }));
      expect(numbers(out)).toEqual([Opt.OSCORE]);
      const r = unprotectIncomingResponse(client, out, binding);
      if (r.kind !== 'ok') throw new Error('block response failed');
      expect(getUint(r.response, Opt.SIZE2)).toBe(96);
      parts.push(r.response.payload);
      if (!decodeBlock(getOption(r.response, Opt.BLOCK2)!)!.more) break;
    }
    expect(Buffer.concat(parts)).toEqual(body);
  });

  it('outer block options of the protected message are not handed to the resource (outer block-wise is out of scope)', () => {
    const { store, client } = plugtestPair();
    const { message } = protectOutgoingRequest(client, msg({ code: Code.GET, path: ['x'] }));
    message.options.push({ number: Opt.BLOCK2, value: encodeBlock({ num: 0, more: false, szx: 2 }) });
    const { request } = serverReceive(store, message);
    expect(getOption(request, Opt.BLOCK2)).toBeUndefined();
  });

  it('a response over MAX_UNFRAGMENTED_SIZE without inner block-wise becomes an unprotected 5.00', () => {
    const { store, client } = plugtestPair();
    const { message } = protectOutgoingRequest(client, msg({ code: Code.GET, path: ['x'] }));
    const { state } = serverReceive(store, message);
    const out = protectOutgoingResponse(state, msg({ type: ACK, code: Code.CONTENT, payload: Buffer.alloc(9000, 1) }));
    expect(out.code).toBe(Code.INTERNAL_SERVER_ERROR);
    expect(getOption(out, Opt.OSCORE)).toBeUndefined();
    expect(out.payload.length).toBe(0);
  });
});

describe('outer options (§4.1.3.3 Proxy-Uri, Uri-Host / Uri-Port, §8.2 step 2)', () => {
  it('Proxy-Uri is decomposed: path and query inner, scheme, host and port outer', () => {
    const { store, client } = plugtestPair();
    const { message } = protectOutgoingRequest(client, msg({ code: Code.GET, options: [{ number: Opt.PROXY_URI, value: Buffer.from('coap://example.com:5683/a/b%20c?x=1&y') }] }));
    expect(numbers(message)).toEqual([Opt.OSCORE, Opt.PROXY_URI]);
    expect(text(message, Opt.PROXY_URI)).toBe('coap://example.com:5683');
    const { request } = serverReceive(store, message);
    expect(path(request)).toBe('a/b c');
    expect(getOptions(request, Opt.URI_QUERY).map(String)).toEqual(['x=1', 'y']);
    expect(text(request, Opt.PROXY_URI)).toBe('coap://example.com:5683');
  });

  it('Uri-Host and Uri-Port stay outer and reach the request', () => {
    const { store, client } = plugtestPair();
    const { message } = protectOutgoingRequest(client, msg({ code: Code.GET, path: ['p'], options: [{ number: Opt.URI_HOST, value: Buffer.from('h') }, uint(Opt.URI_PORT, 5683)] }));
    expect(numbers(message)).toEqual([Opt.URI_HOST, Opt.URI_PORT, Opt.OSCORE]);
    const { request } = serverReceive(store, message);
    expect(getUint(request, Opt.URI_PORT)).toBe(5683);
  });

  it('an outer Class E option added on the way (Uri-Path, If-Match) is discarded', () => {
    const { store, client } = plugtestPair();
    const { message } = protectOutgoingRequest(client, msg({ code: Code.GET, path: ['safe'] }));
    message.options.push({ number: Opt.URI_PATH, value: Buffer.from('evil') }, { number: Opt.IF_MATCH, value: Buffer.from('e') });
    message.options.sort((a, b) => a.number - b.number);
    const { request } = serverReceive(store, message);
    expect(path(request)).toBe('safe');
    expect(getOption(request, Opt.IF_MATCH)).toBeUndefined();
  });

  it('No-Response travels inner', () => {
    const { store, client } = plugtestPair();
    const { message } = protectOutgoingRequest(client, msg({ type: NON, code: Code.POST, path: ['p'], options: [uint(Opt.NO_RESPONSE, 26)] }));
    expect(getOption(message, Opt.NO_RESPONSE)).toBeUndefined();
    const { request } = serverReceive(store, message);
    expect(getUint(request, Opt.NO_RESPONSE)).toBe(26);
  });
});

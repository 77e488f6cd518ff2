// OSCORE context store, Appendix B.2 re-derivation end to end, and the /oscoreInfo text (resources.md §3.22).
import { describe, expect, it } from 'vitest';
import { ACK, Code, Opt, type CoapMessage } from '../../src/coap/message.js';
import { getOption } from '../../src/coap/options.js';
import { protectOutgoingRequest, unprotectIncomingResponse } from '../../src/oscore/client.js';
import { deriveContext, type SecurityContext } from '../../src/oscore/context.js';
import { oscoreInfoText } from '../../src/oscore/info.js';
import { decodeOscoreOption } from '../../src/oscore/option.js';
import { continueClientRederivation, startClientRederivation } from '../../src/oscore/rederive-client.js';
import { decodeKidContext, encodeKidContext } from '../../src/oscore/rederive.js';
import { protectOutgoingResponse, unprotectIncomingRequest } from '../../src/oscore/server.js';
import {
  createOscoreContextStore,
  lookupContext,
  plugtestClientContext,
  plugtestServerContext,
  type KidContextEncoding,
  type OscoreContextStore,
} from '../../src/oscore/store.js';
import { msg, path } from '../helpers/oscore-messages.js';

const h = (hex: string): Buffer => Buffer.from(hex, 'hex');
const ID1 = h('1111111111111111');
const R3 = h('3333333333333333');

describe('context store', () => {
  it('holds the plugtest context of resources.md §3.22 and its client mirror', () => {
    const s = plugtestServerContext();
    const c = plugtestClientContext();
    expect([s.senderId, s.recipientId, s.idContext, s.replayWindowSize, s.rederivation, s.maxUnfragmentedSize]).toEqual([h('02'), h('01'), h('37cbf3210017a2d3'), 32, true, 8192]);
    expect([c.senderId, c.recipientId, c.idContext]).toEqual([h('01'), h('02'), h('37cbf3210017a2d3')]);
    const server = deriveContext(s);
    const client = deriveContext(c);
    expect(server.sender.key).toEqual(client.recipient.key);
    expect(server.recipient.key).toEqual(client.sender.key);
    expect(server.commonIv).toEqual(client.commonIv);
  });

  it('looks contexts up by kid and kid context', () => {
    const store = createOscoreContextStore([plugtestServerContext(), { ...plugtestServerContext(), recipientId: h('05'), idContext: undefined }]);
    expect(lookupContext(store, h('01'), undefined)).toBe(store.entries[0]);
    expect(lookupContext(store, h('01'), h('37cbf3210017a2d3'))).toBe(store.entries[0]);
    expect(lookupContext(store, h('01'), h('00'))).toBeUndefined();
    expect(lookupContext(store, h('05'), undefined)).toBe(store.entries[1]);
    expect(lookupContext(store, h('06'), undefined)).toBeUndefined();
  });

  it('refuses duplicate contexts and bad sizes', () => {
    expect(() => createOscoreContextStore([plugtestServerContext(), plugtestServerContext()])).toThrow(RangeError);
    expect(() => createOscoreContextStore([{ ...plugtestServerContext(), maxUnfragmentedSize: 0 }])).toThrow(RangeError);
  });
});

describe('kid context forms of the re-derivation', () => {
  it('raw is the value; cbor-bstr wraps it and refuses anything else', () => {
    expect(encodeKidContext(ID1, 'raw')).toEqual(ID1);
    expect(encodeKidContext(ID1, 'cbor-bstr')).toEqual(Buffer.concat([h('48'), ID1]));
    expect(decodeKidContext(h('48').subarray(0, 1), 'cbor-bstr')).toBeUndefined();
    expect(decodeKidContext(Buffer.concat([h('48'), ID1]), 'cbor-bstr')).toEqual(ID1);
    const long = Buffer.alloc(30, 7);
    expect(decodeKidContext(encodeKidContext(long, 'cbor-bstr'), 'cbor-bstr')).toEqual(long);
    for (const bad of ['', '40ff', '4911', '58', '5901', '0102', 'f6']) expect(decodeKidContext(h(bad), 'cbor-bstr')).toBeUndefined();
  });
});

/** Runs Request #1 / Response #1 / Request #2 / Response #2 and returns the client's new context. */
function rederivationFlow(store: OscoreContextStore, encoding: KidContextEncoding): SecurityContext {
  const entry = store.entries[0]!;
  const before = entry.active;
  const state = startClientRederivation({ ...plugtestClientContext(), kidContextEncoding: encoding }, ID1);
  // Request #1, protected with ID Context ID1
  const req1 = protectOutgoingRequest(state.ctx, msg({ code: Code.GET, mid: 1, path: ['oscore'] }), { kidContextValue: state.kidContext });
  expect(decodeOscoreOption(getOption(req1.message, Opt.OSCORE)!).kidContext).toEqual(encodeKidContext(ID1, encoding));
  const r1 = unprotectIncomingRequest(store, req1.message);
  // Response #1: protected 4.01 (outer 2.04) with kid context R2 and a Partial IV; the request is not processed
  expect(r1.kind).toBe('error');
  if (r1.kind !== 'error') throw new Error('no Response #1');
  expect(r1.reason).toBe('rederivation');
  expect([r1.response.type, r1.response.code, r1.response.mid]).toEqual([ACK, Code.CHANGED, 1]);
  const o1 = decodeOscoreOption(getOption(r1.response, Opt.OSCORE)!);
  expect(o1.partialIv).toBeDefined();
  const r2 = decodeKidContext(o1.kidContext!, encoding)!;
  expect(r2.length).toBe(8);
  expect(entry.pending?.r2).toEqual(r2);
  expect(entry.active).toBe(before);

  const next = continueClientRederivation(state, r1.response, req1.binding, R3);
  if (next.kind !== 'ok') throw new Error(next.message);
  expect(next.ctx.idContext).toEqual(Buffer.concat([r2, R3]));

  // Request #2 with kid context R2||R3: verified, processed, and the new context replaces the old one
  const req2 = protectOutgoingRequest(next.ctx, msg({ code: Code.GET, mid: 2, path: ['oscore'] }), { kidContextValue: next.kidContext });
  const r2res = unprotectIncomingRequest(store, req2.message);
  expect(r2res.kind).toBe('ok');
  if (r2res.kind !== 'ok') throw new Error('Request #2 refused');
  expect(path(r2res.request)).toBe('oscore');
  expect(entry.active.idContext).toEqual(Buffer.concat([r2, R3]));
  expect(entry.pending).toBeUndefined();
  const resp2 = protectOutgoingResponse(r2res.state, msg({ type: ACK, code: Code.CONTENT, mid: 2, payload: 'after B.2' }));
  const back = unprotectIncomingResponse(next.ctx, resp2, req2.binding);
  expect(back.kind === 'ok' && back.response.payload.toString()).toBe('after B.2');
  return next.ctx;
}

describe('Appendix B.2 context re-derivation', () => {
  it.each(['raw', 'cbor-bstr'] as const)('full flow, kid context %s', (encoding) => {
    const store = createOscoreContextStore([{ ...plugtestServerContext(), kidContextEncoding: encoding }]);
    const ctx = rederivationFlow(store, encoding);
    // later requests with the new context pass, with or without kid context
    for (const kidContext of [true, false]) {
      const { message } = protectOutgoingRequest(ctx, msg({ code: Code.GET, path: ['oscore'] }), { kidContext });
      expect(unprotectIncomingRequest(store, message).kind).toBe('ok');
    }
    // the old context's keys no longer work without kid context (4.00); with the old kid context they start B.2 again
    const old = deriveContext(plugtestClientContext());
    old.sender.sequenceNumber = 100;
    const stale = protectOutgoingRequest(old, msg({ code: Code.GET, path: ['oscore'] }), { kidContext: false }).message;
    const r = unprotectIncomingRequest(store, stale);
    expect(r.kind === 'error' && r.response.code).toBe(Code.BAD_REQUEST);
  });

  it('a client with the plugtest context but a stale ID Context gets Response #1 (recovery after a server restart)', () => {
    const store = createOscoreContextStore([plugtestServerContext()]);
    rederivationFlow(store, 'raw');
    const old = deriveContext(plugtestClientContext());
    const { message } = protectOutgoingRequest(old, msg({ code: Code.GET, path: ['oscore'] }));
    const r = unprotectIncomingRequest(store, message);
    expect(r.kind === 'error' && r.reason).toBe('rederivation');
  });

  it('keeps at most one pending re-derivation: a second Request #1 replaces the first R2', () => {
    const store = createOscoreContextStore([plugtestServerContext()]);
    const entry = store.entries[0]!;
    const a = startClientRederivation(plugtestClientContext(), h('aaaaaaaaaaaaaaaa'));
    const b = startClientRederivation(plugtestClientContext(), h('bbbbbbbbbbbbbbbb'));
    const ra = protectOutgoingRequest(a.ctx, msg({ code: Code.GET, path: ['x'] }), { kidContextValue: a.kidContext });
    const rb = protectOutgoingRequest(b.ctx, msg({ code: Code.GET, path: ['x'] }), { kidContextValue: b.kidContext });
    const respA = unprotectIncomingRequest(store, ra.message);
    const firstR2 = entry.pending!.r2;
    const respB = unprotectIncomingRequest(store, rb.message);
    expect(entry.pending!.r2.equals(firstR2)).toBe(false);
    if (respA.kind !== 'error' || respB.kind !== 'error') throw new Error('no Response #1');
    // a's Request #2 now carries an R2 that is not pending: it is taken as a new Request #1, not accepted
    const na = continueClientRederivation(a, respA.response, ra.binding, R3);
    if (na.kind !== 'ok') throw new Error(na.message);
    const req2 = protectOutgoingRequest(na.ctx, msg({ code: Code.GET, path: ['x'] }), { kidContextValue: na.kidContext });
    const r = unprotectIncomingRequest(store, req2.message);
    expect(r.kind === 'error' && r.reason).toBe('rederivation');
    expect(entry.active.idContext).toEqual(h('37cbf3210017a2d3'));
  });

  it('a forged Request #1 or Request #2 fails with 4.00 and changes nothing', () => {
    const store = createOscoreContextStore([plugtestServerContext()]);
    const entry = store.entries[0]!;
    const wrong = { ...plugtestClientContext(), masterSecret: h('ffffffffffffffffffffffffffffffff') };
    const forged1 = startClientRederivation(wrong, ID1);
    const m1 = protectOutgoingRequest(forged1.ctx, msg({ code: Code.GET, path: ['x'] }), { kidContextValue: forged1.kidContext }).message;
    const r1 = unprotectIncomingRequest(store, m1);
    expect(r1.kind === 'error' && r1.response.code).toBe(Code.BAD_REQUEST);
    expect(entry.pending).toBeUndefined();

    // a genuine Request #1, then a Request #2 with the pending R2 but the wrong keys
    const real = startClientRederivation(plugtestClientContext(), ID1);
    const rq = protectOutgoingRequest(real.ctx, msg({ code: Code.GET, path: ['x'] }), { kidContextValue: real.kidContext });
    const resp1 = unprotectIncomingRequest(store, rq.message);
    if (resp1.kind !== 'error') throw new Error('no Response #1');
    const r2 = entry.pending!.r2;
    const forged2 = deriveContext({ ...wrong, idContext: Buffer.concat([r2, R3]) });
    const m2 = protectOutgoingRequest(forged2, msg({ code: Code.GET, path: ['x'] })).message;
    const r = unprotectIncomingRequest(store, m2);
    expect(r.kind === 'error' && r.response.code).toBe(Code.BAD_REQUEST);
    expect(entry.active.idContext).toEqual(h('37cbf3210017a2d3'));
    expect(entry.pending?.r2).toEqual(r2);
  });

  it('the client refuses a Response #1 that is tampered with or not a 4.01', () => {
    const store = createOscoreContextStore([plugtestServerContext()]);
    const state = startClientRederivation(plugtestClientContext(), ID1);
    const rq = protectOutgoingRequest(state.ctx, msg({ code: Code.GET, path: ['x'] }), { kidContextValue: state.kidContext });
    const r1 = unprotectIncomingRequest(store, rq.message);
    if (r1.kind !== 'error') throw new Error('no Response #1');
    const bad: CoapMessage = { ...r1.response, payload: Buffer.from(r1.response.payload.map((b) => b ^ 1)) };
    expect(continueClientRederivation(state, bad, rq.binding).kind).toBe('error');
    expect(continueClientRederivation(state, msg({ type: ACK, code: Code.UNAUTHORIZED }), rq.binding).kind).toBe('error');
  });
});

describe('/oscoreInfo text (resources.md §3.22, Californium OscoreInfo)', () => {
  const expected = (idContext: string, n: number): string =>
    `\nExpected OSCORE configuration: \n(Usage of Appendix B.2 is also possible) \nID Context: ${idContext}\nClient Sender Sequence Number: ${n}`;

  it('starts with a blank line, shows the ID Context and the next client sequence number', () => {
    const store = createOscoreContextStore([plugtestServerContext()]);
    expect(oscoreInfoText(store)).toBe(expected('37CBF3210017A2D3', 0));
    const client = deriveContext(plugtestClientContext());
    for (let i = 0; i < 5; i++) unprotectIncomingRequest(store, protectOutgoingRequest(client, msg({ code: Code.GET, path: ['x'] })).message);
    expect(oscoreInfoText(store)).toBe(expected('37CBF3210017A2D3', 5));
    client.sender.sequenceNumber = 40;
    unprotectIncomingRequest(store, protectOutgoingRequest(client, msg({ code: Code.GET, path: ['x'] })).message);
    expect(oscoreInfoText(store)).toBe(expected('37CBF3210017A2D3', 41));
  });

  it('follows the ID Context after a re-derivation', () => {
    const store = createOscoreContextStore([plugtestServerContext()]);
    rederivationFlow(store, 'raw');
    const idc = store.entries[0]!.active.idContext!.toString('hex').toUpperCase();
    expect(idc.endsWith('3333333333333333')).toBe(true);
    expect(oscoreInfoText(store)).toBe(expected(idc, 1));
  });
});

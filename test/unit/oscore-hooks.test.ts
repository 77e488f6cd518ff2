// OSCORE message hooks (src/oscore/hooks.ts): server and client hooks back to back over fake hook slots, as the
// endpoint calls them (inbound after deduplication, outbound with the exchange's or relation's slot).
import { describe, expect, it } from 'vitest';
import { ACK, Code, Opt, type CoapMessage } from '../../src/coap/message.js';
import type { HookSlot, InboundVerdict } from '../../src/coap/message-layer.js';
import { encodeUint, getOption } from '../../src/coap/options.js';
import { deriveContext } from '../../src/oscore/context.js';
import { PROTECT_MARKER, oscoreClientHooks, oscoreServerHooks } from '../../src/oscore/hooks.js';
import { contextFromInfo, parseOscoreInfo } from '../../src/oscore/info-parse.js';
import { oscoreInfoText } from '../../src/oscore/info.js';
import { plugtestClientContext } from '../../src/oscore/store.js';
import { msg, path, plugtestPair } from '../helpers/oscore-messages.js';

const CTX = { address: '127.0.0.1', port: 5683 };
const slot = (): HookSlot => ({ hookState: undefined });

function asMessage(v: InboundVerdict): CoapMessage {
  if (v === undefined || 'reply' in v) throw new Error(`not a message: ${JSON.stringify(v)}`);
  return v;
}

/** The server's answer as the message layer would send it: ACK with the request's MID and token. */
function answer(req: CoapMessage, code: number, options: CoapMessage['options'] = [], payload = Buffer.alloc(0)): CoapMessage {
  return { type: ACK, code, mid: req.mid, token: req.token, options, payload };
}

describe('oscoreServerHooks', () => {
  it('passes plain requests and responses unchanged, and does not touch the slot', () => {
    const { store } = plugtestPair();
    const hooks = oscoreServerHooks(store);
    const req = msg({ code: Code.GET, path: ['test'] });
    const s = slot();
    expect(hooks.inbound(req, CTX, s)).toBe(req);
    expect(s.hookState).toBeUndefined();
    const res = answer(req, Code.CONTENT);
    expect(hooks.inbound(res, CTX, s)).toBe(res);
    expect(hooks.outbound(res, CTX, s)).toBe(res);
  });

  it('a foreign hookState is not taken for an OSCORE exchange', () => {
    const hooks = oscoreServerHooks(plugtestPair().store);
    const res = answer(msg({ code: Code.GET }), Code.CONTENT);
    const s: HookSlot = { hookState: { entry: {}, ctx: {}, request: {}, responses: 0 } };
    expect(hooks.outbound(res, CTX, s)).toBe(res);
  });

  it('a copy of a real exchange state with a look-alike brand is not taken either', () => {
    const { store, client } = plugtestPair();
    const server = oscoreServerHooks(store);
    const serverSlot = slot();
    const wire = oscoreClientHooks(client, { all: true }).outbound(msg({ code: Code.GET }), CTX, slot());
    asMessage(server.inbound(wire, CTX, serverSlot));
    const res = answer(msg({ code: Code.GET }), Code.CONTENT);
    const fake: HookSlot = { hookState: { ...(serverSlot.hookState as object), brand: Symbol('OscoreExchange') } };
    expect(server.outbound(res, CTX, fake)).toBe(res);
    expect(server.outbound(res, CTX, serverSlot).code).toBe(Code.CHANGED);
  });

  it('client → server → client: the inner request with the marker, the protected response verified', () => {
    const { store, client } = plugtestPair();
    const server = oscoreServerHooks(store);
    const clientHooks = oscoreClientHooks(client);
    const clientSlot = slot();
    const plain = msg({ code: Code.GET, path: ['oscore'], options: [PROTECT_MARKER] });
    const wire = clientHooks.outbound(plain, CTX, clientSlot);
    expect(wire.code).toBe(Code.POST);
    expect(getOption(wire, Opt.URI_PATH), 'Uri-Path is encrypted').toBeUndefined();
    const serverSlot = slot();
    const inner = asMessage(server.inbound(wire, CTX, serverSlot));
    expect(inner.code).toBe(Code.GET);
    expect(path(inner)).toBe('oscore');
    expect(getOption(inner, Opt.OSCORE), 'zero-length marker').toEqual(Buffer.alloc(0));
    expect([inner.mid, inner.type]).toEqual([wire.mid, wire.type]);
    const res = server.outbound(answer(inner, Code.CONTENT, [{ number: Opt.CONTENT_FORMAT, value: encodeUint(0) }], Buffer.from('hi')), CTX, serverSlot);
    expect(res.code).toBe(Code.CHANGED);
    expect(res.mid).toBe(wire.mid);
    const back = asMessage(clientHooks.inbound(res, CTX, clientSlot));
    expect(back.code).toBe(Code.CONTENT);
    expect(back.payload.toString()).toBe('hi');
  });

  it('errors become replies: unknown kid 4.01, replay 4.01', () => {
    const { store, client } = plugtestPair();
    const server = oscoreServerHooks(store);
    const stranger = oscoreClientHooks(deriveContext({ ...plugtestClientContext(), senderId: Buffer.from('07', 'hex') }), { all: true });
    const v = server.inbound(stranger.outbound(msg({ code: Code.GET }), CTX, slot()), CTX, slot());
    expect(v !== undefined && 'reply' in v && [v.reply.code, v.reply.payload.toString()]).toEqual([Code.UNAUTHORIZED, 'Security context not found']);
    const wire = oscoreClientHooks(client, { all: true }).outbound(msg({ code: Code.GET }), CTX, slot());
    asMessage(server.inbound(wire, CTX, slot()));
    const again = server.inbound({ ...wire, mid: wire.mid + 1 }, CTX, slot());
    expect(again !== undefined && 'reply' in again && [again.reply.code, again.reply.payload.toString()]).toEqual([Code.UNAUTHORIZED, 'Replay detected']);
  });

  it('a message with Observe (notification) gets a fresh Partial IV, every one a new one', () => {
    const { store, client } = plugtestPair();
    const server = oscoreServerHooks(store);
    const wire = oscoreClientHooks(client, { all: true }).outbound(msg({ code: Code.GET, options: [{ number: Opt.OBSERVE, value: Buffer.alloc(0) }] }), CTX, slot());
    const s = slot();
    const inner = asMessage(server.inbound(wire, CTX, s));
    const relation: HookSlot = { hookState: s.hookState };
    const options = (n: number) => [{ number: Opt.OBSERVE, value: encodeUint(n) }];
    const first = server.outbound(answer(inner, Code.CONTENT, options(1)), CTX, s);
    const second = server.outbound(answer(inner, Code.CONTENT, options(2)), CTX, relation);
    expect(first.code).toBe(Code.CONTENT);
    const piv = (m: CoapMessage) => getOption(m, Opt.OSCORE)!.toString('hex');
    expect(piv(first)).not.toBe('');
    expect(piv(second)).not.toBe(piv(first));
  });
});

describe('oscoreServerHooks on hostile input', () => {
  it('never throws: random OSCORE option values and payloads get a reply or pass as plain', () => {
    const { store } = plugtestPair();
    const hooks = oscoreServerHooks(store);
    let seed = 12345;
    const rnd = (n: number): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const bytes = (n: number): Buffer => Buffer.from(Array.from({ length: n }, () => rnd(256)));
    for (let i = 0; i < 5000; i++) {
      const options = [{ number: Opt.OSCORE, value: bytes(rnd(20)) }];
      if (rnd(4) === 0) options.push({ number: Opt.OSCORE, value: bytes(rnd(4)) });
      const m = msg({ code: 1 + rnd(31), options, payload: bytes(rnd(40)) });
      const v = hooks.inbound(m, CTX, slot());
      expect(v !== undefined && 'reply' in v, `input ${i}`).toBe(true);
    }
  });
});

describe('oscoreClientHooks', () => {
  it('leaves unmarked requests and responses of unprotected exchanges alone', () => {
    const hooks = oscoreClientHooks(plugtestPair().client);
    const req = msg({ code: Code.GET, path: ['test'] });
    const s = slot();
    expect(hooks.outbound(req, CTX, s)).toBe(req);
    const res = answer(req, Code.CONTENT);
    expect(hooks.inbound(res, CTX, s)).toBe(res);
  });

  it('an unprotected answer to a protected request (the server\'s error) is passed on', () => {
    const hooks = oscoreClientHooks(plugtestPair().client);
    const s = slot();
    const wire = hooks.outbound(msg({ code: Code.GET, options: [PROTECT_MARKER] }), CTX, s);
    const err = answer(wire, Code.UNAUTHORIZED, [], Buffer.from('Replay detected'));
    expect(hooks.inbound(err, CTX, s)).toBe(err);
  });

  it('a response that fails verification is dropped after onFailure', () => {
    const failures: string[] = [];
    const hooks = oscoreClientHooks(plugtestPair().client, { onFailure: (_s, m) => failures.push(m) });
    const s = slot();
    const wire = hooks.outbound(msg({ code: Code.GET, options: [PROTECT_MARKER] }), CTX, s);
    const forged = answer(wire, Code.CHANGED, [{ number: Opt.OSCORE, value: Buffer.alloc(0) }], Buffer.alloc(16, 7));
    expect(hooks.inbound(forged, CTX, s)).toBeUndefined();
    expect(failures).toHaveLength(1);
    expect(failures[0]).toMatch(/^OSCORE: /);
  });

  it('takes the context from a function at each protected request; onProtected sees plain and sent', () => {
    let ctx = deriveContext(plugtestClientContext());
    const seen: Array<[number, number]> = [];
    const hooks = oscoreClientHooks(() => ctx, { onProtected: (plain, sent) => seen.push([plain.code, sent.code]) });
    hooks.outbound(msg({ code: Code.DELETE, options: [PROTECT_MARKER] }), CTX, slot());
    ctx = contextFromInfo(plugtestClientContext(), { idContext: undefined, sequenceNumber: 40 });
    const wire = hooks.outbound(msg({ code: Code.GET, options: [PROTECT_MARKER] }), CTX, slot());
    expect(seen).toEqual([[Code.DELETE, Code.POST], [Code.GET, Code.POST]]);
    expect(ctx.sender.sequenceNumber).toBe(41);
    expect(getOption(wire, Opt.OSCORE)!.toString('hex')).toMatch(/^..28/);
  });
});

describe('parseOscoreInfo', () => {
  it('reads what oscoreInfoText writes, and refuses malformed values', () => {
    const { store } = plugtestPair();
    expect(parseOscoreInfo(oscoreInfoText(store))).toEqual({ idContext: Buffer.from('37cbf3210017a2d3', 'hex'), sequenceNumber: 0 });
    expect(parseOscoreInfo('\nID Context: ABC\nClient Sender Sequence Number: 99999999999999')).toEqual({ idContext: undefined, sequenceNumber: undefined });
    expect(parseOscoreInfo('nothing')).toEqual({ idContext: undefined, sequenceNumber: undefined });
    expect(parseOscoreInfo('\nID Context: \n').idContext).toEqual(Buffer.alloc(0));
  });
});

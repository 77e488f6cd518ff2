// The CoAP stack's seams (issue 11): the one outbound and inbound point with the message hooks (where
// OSCORE plugs in) and the message layer interface (a stream layer, as TCP will be, under the same
// exchange layer). An in-memory connector records every datagram the endpoint sends.
import { describe, expect, it } from 'vitest';
import { CoapEndpoint } from '../../src/coap/endpoint.js';
import { DEFAULT_STACK_CONFIG, type CoapStackConfig } from '../../src/coap/stack-config.js';
import { addChild, createResource, notifyObservers, type Resource } from '../../src/coap/resource.js';
import { ACK, CON, NON, RST, Code, Opt, EMPTY, type CoapMessage, type CoapOption } from '../../src/coap/message.js';
import { encode, decode } from '../../src/coap/codec.js';
import { getOption } from '../../src/coap/options.js';
import { request } from '../../src/coap/client-layer.js';
import { createDeduplicator } from '../../src/coap/dedup.js';
import { UDP_CODEC } from '../../src/coap/udp-message-layer.js';
import type { Connector, EndpointContext } from '../../src/transport/connector.js';
import type { HookSlot, MessageHooks, MessageLayer, MessageLayerHost } from '../../src/coap/message-layer.js';

const config: CoapStackConfig = { ...DEFAULT_STACK_CONFIG, ackTimeout: 40, ackInitRandom: 1, maxRetransmit: 2, useRandomMidStart: false };
const PEER: EndpointContext = { address: '10.0.0.1', port: 40000 };
const MARK = 65000; // an experimental elective option number the test hooks add (RFC 7252 §12.2)

/** A connector that keeps what the endpoint sends. */
function memoryConnector(): Connector & { sent: Buffer[] } {
  return {
    protocol: 'UDP',
    scheme: 'coap',
    localAddress: '127.0.0.1',
    localPort: 5683,
    onDatagram: () => {},
    start: () => Promise.resolve(),
    stop: () => Promise.resolve(),
    sent: [] as Buffer[],
    send(data: Buffer) {
      this.sent.push(data);
    },
  };
}

function tree(runs: string[]): { root: Resource; obs: Resource } {
  const root = createResource('');
  addChild(root, createResource('hello', { handlers: { GET: (ex) => { runs.push('hello'); ex.respond({ code: Code.CONTENT, payload: 'world' }); } } }));
  const obs = addChild(root, createResource('obs', { observable: true, handlers: { GET: (ex) => ex.respond({ code: Code.CONTENT, payload: `n${runs.push('obs')}` }) } }));
  return { root, obs };
}

function get(path: string, mid: number, type: 0 | 1 = CON, extra: CoapOption[] = []): Buffer {
  const options = [...extra.filter((o) => o.number < Opt.URI_PATH), { number: Opt.URI_PATH, value: Buffer.from(path) }, ...extra.filter((o) => o.number > Opt.URI_PATH)];
  return encode({ type, code: Code.GET, mid, token: Buffer.from([mid & 0xff, 7]), options, payload: EMPTY });
}

const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Hooks that record what they see: inbound keeps a state object in the slot, outbound adds a MARK option carrying it. */
function recordingHooks() {
  const seen = { inbound: [] as CoapMessage[], outbound: [] as { msg: CoapMessage; state: unknown }[] };
  let n = 0;
  const hooks: MessageHooks = {
    inbound(msg: CoapMessage, _ctx: EndpointContext, slot: HookSlot) {
      seen.inbound.push(msg);
      const path = getOption(msg, Opt.URI_PATH)?.toString();
      if (path === 'deny') return { reply: { type: ACK, code: Code.UNAUTHORIZED, mid: msg.mid, token: msg.token, options: [], payload: Buffer.from('no') } };
      if (path === 'drop') return undefined;
      if (slot.hookState === undefined) slot.hookState = { id: ++n };
      // the "inner request": /secret is served as /hello
      if (path === 'secret') return { ...msg, options: [{ number: Opt.URI_PATH, value: Buffer.from('hello') }] };
      return msg;
    },
    outbound(msg: CoapMessage, _ctx: EndpointContext, slot: HookSlot) {
      seen.outbound.push({ msg, state: slot.hookState });
      const id = (slot.hookState as { id: number } | undefined)?.id ?? 0;
      return { ...msg, options: [...msg.options, { number: MARK, value: Buffer.from([id]) }] };
    },
  };
  return { hooks, seen };
}

describe('one outbound and one inbound point with message hooks', () => {
  it('a piggy-backed response passes the outbound hook with the state the inbound hook kept; a duplicate gets the same bytes without a second hook run', () => {
    const runs: string[] = [];
    const c = memoryConnector();
    const { hooks, seen } = recordingHooks();
    const ep = new CoapEndpoint({ connector: c, config, root: tree(runs).root, messageHooks: hooks });
    ep.receive(get('hello', 100), PEER);
    expect(runs).toEqual(['hello']);
    expect(seen.inbound).toHaveLength(1);
    expect(seen.outbound).toHaveLength(1);
    expect(seen.outbound[0]!.state).toEqual({ id: 1 });
    expect(c.sent).toHaveLength(1);
    const res = decode(c.sent[0]!);
    expect(res.type).toBe(ACK);
    expect(res.mid).toBe(100);
    expect(getOption(res, MARK)).toEqual(Buffer.from([1]));
    // the retransmitted request: deduplicated before the hook (an OSCORE replay check must not see it)
    ep.receive(get('hello', 100), PEER);
    expect(runs).toEqual(['hello']);
    expect(seen.inbound).toHaveLength(1);
    expect(seen.outbound).toHaveLength(1);
    expect(c.sent[1]).toEqual(c.sent[0]);
    expect(ep.stats.get('recv-duplicate requests')).toBe(1);
  });

  it('inbound may replace the request, answer it with a reply, or drop it', () => {
    const runs: string[] = [];
    const c = memoryConnector();
    const { hooks } = recordingHooks();
    const ep = new CoapEndpoint({ connector: c, config, root: tree(runs).root, messageHooks: hooks });
    ep.receive(get('secret', 1), PEER);
    expect(runs).toEqual(['hello']);
    expect(decode(c.sent[0]!).payload.toString()).toBe('world');
    ep.receive(get('deny', 2), PEER);
    const denied = decode(c.sent[1]!);
    expect([denied.type, denied.code, denied.mid, denied.payload.toString()]).toEqual([ACK, Code.UNAUTHORIZED, 2, 'no']);
    // the reply passed the outbound hook too, with no state (an OSCORE error answer stays unprotected)
    expect(getOption(denied, MARK)).toEqual(Buffer.from([0]));
    ep.receive(get('drop', 3), PEER);
    expect(c.sent).toHaveLength(2);
    expect(runs).toEqual(['hello']);
  });

  it('empty messages (ping RST, the empty ACK of accept) do not pass the hook', () => {
    const c = memoryConnector();
    const { hooks, seen } = recordingHooks();
    const root = createResource('');
    const pending: (() => void)[] = [];
    addChild(root, createResource('sep', { handlers: { GET: (ex) => { ex.accept(); pending.push(() => ex.respond({ code: Code.CONTENT, payload: 'late' })); } } }));
    const ep = new CoapEndpoint({ connector: c, config, root, messageHooks: hooks });
    ep.receive(encode({ type: CON, code: 0, mid: 9, token: EMPTY, options: [], payload: EMPTY }), PEER);
    ep.receive(get('sep', 10), PEER);
    expect(c.sent.map((d) => decode(d).type)).toEqual([RST, ACK]);
    expect(seen.outbound).toHaveLength(0);
    pending[0]!();
    const late = decode(c.sent[2]!);
    expect([late.type, late.code]).toEqual([CON, Code.CONTENT]);
    expect(seen.outbound).toHaveLength(1);
    expect(seen.outbound[0]!.state).toEqual({ id: 1 });
  });

  it('notifications carry the registration state; a CON retransmission repeats the bytes without a new hook run', async () => {
    const runs: string[] = [];
    const c = memoryConnector();
    const { hooks, seen } = recordingHooks();
    const { root, obs } = tree(runs);
    const ep = new CoapEndpoint({ connector: c, config, root, messageHooks: hooks });
    await ep.start();
    try {
      ep.receive(get('obs', 20, CON, [{ number: Opt.OBSERVE, value: EMPTY }]), PEER);
      expect(obs.observers.size).toBe(1);
      notifyObservers(obs);
      expect(seen.outbound.map((o) => o.state)).toEqual([{ id: 1 }, { id: 1 }]);
      const note = decode(c.sent[1]!);
      expect(note.type).toBe(CON);
      expect(getOption(note, MARK)).toEqual(Buffer.from([1]));
      await wait(120);
      // retransmitted (ackTimeout 40 ms), byte for byte, and not passed through the hook again
      expect(c.sent.length).toBeGreaterThan(2);
      expect(c.sent[2]).toEqual(c.sent[1]);
      expect(seen.outbound).toHaveLength(2);
      expect(ep.stats.get('send-response retransmissions')).toBeGreaterThan(0);
      // the ACK ends the retransmissions
      ep.receive(encode({ type: ACK, code: 0, mid: note.mid, token: EMPTY, options: [], payload: EMPTY }), PEER);
      const count = c.sent.length;
      await wait(200);
      expect(c.sent.length).toBe(count);
    } finally {
      await ep.stop();
    }
  });

  it('client side: the request passes outbound with its exchange as slot, the response inbound with the same slot', () => {
    const c = memoryConnector();
    const slots: HookSlot[] = [];
    const hooks: MessageHooks = {
      outbound(msg, _ctx, slot) {
        slot.hookState = 'sent';
        slots.push(slot);
        return msg;
      },
      inbound(msg, _ctx, slot) {
        slots.push(slot);
        expect(slot.hookState).toBe('sent');
        return { ...msg, payload: Buffer.from('inner') };
      },
    };
    const ep = new CoapEndpoint({ connector: c, config, messageHooks: hooks });
    let got: CoapMessage | undefined;
    request(ep, { method: Code.GET, path: 'x' }, PEER, { onResponse: (m) => (got = m), onError: (e) => { throw e; } });
    const req = decode(c.sent[0]!);
    ep.receive(encode({ type: ACK, code: Code.CONTENT, mid: req.mid, token: req.token, options: [], payload: Buffer.from('outer') }), PEER);
    expect(got?.payload.toString()).toBe('inner');
    expect(slots).toHaveLength(2);
    expect(slots[0]).toBe(slots[1]);
  });
});

/** A message layer in the shape of RFC 8323's: no MIDs, no types, no ACK/RST, no deduplication (the stream is reliable). */
function streamLayer(host: MessageLayerHost, log: string[]): MessageLayer {
  return {
    codec: UDP_CODEC, // a TCP layer brings its own framing; the exchange layer does not care
    dedup: createDeduplicator({ ...host.config, deduplicator: 'NO_DEDUPLICATOR' }),
    receive(msg, ctx) {
      const peer = host.peerOf(ctx);
      if (msg.code >= 1 && msg.code <= 31) {
        host.receiveRequest(msg, ctx, peer, undefined);
        return;
      }
      const target = host.matchResponse(msg, peer);
      if (target) host.receiveResponse(target, msg, ctx);
    },
    receiveMalformed() {
      log.push('abort');
    },
    accept() {
      log.push('accept');
    },
    sendResponse(req, res) {
      log.push('response');
      host.transmit(res, req.context, req);
    },
    sendNotification(msg, ctx, slot, confirmable) {
      log.push(confirmable ? 'notification (confirmable wish)' : 'notification');
      host.transmit(msg, ctx, slot);
      return undefined;
    },
    sendRequest(msg, ctx, target) {
      log.push('request');
      host.transmit(msg, ctx, target);
      return undefined;
    },
    cancel() {},
    start() {},
    stop() {},
  };
}

describe('the message layer interface', () => {
  it('a stream-like layer runs the same exchange layer: dispatch, accept, observe, client requests', () => {
    const runs: string[] = [];
    const log: string[] = [];
    const c = memoryConnector();
    const { root, obs } = tree(runs);
    const pending: (() => void)[] = [];
    addChild(root, createResource('sep', { handlers: { GET: (ex) => { ex.accept(); pending.push(() => ex.respond({ code: Code.CONTENT, payload: 'late' })); } } }));
    const ep = new CoapEndpoint({ connector: c, config, root, messageLayer: (host) => streamLayer(host, log) });
    ep.receive(get('hello', 0, NON), PEER);
    ep.receive(get('hello', 0, NON), PEER); // no deduplication on a stream: served twice
    expect(runs).toEqual(['hello', 'hello']);
    ep.receive(get('sep', 0, NON), PEER);
    pending[0]!();
    // a CON registration: its notifications are wished confirmable, and the stream delivers them without waiting
    ep.receive(get('obs', 0, CON, [{ number: Opt.OBSERVE, value: EMPTY }]), PEER);
    notifyObservers(obs);
    notifyObservers(obs); // no CON in flight on a stream: the second is sent at once
    expect(log).toEqual(['response', 'response', 'accept', 'response', 'response', 'notification (confirmable wish)', 'notification (confirmable wish)']);
    const notes = c.sent.slice(-2).map(decode);
    expect(notes.map((m) => m.payload.toString())).toEqual(['n4', 'n5']);
    expect(notes.map((m) => getOption(m, Opt.OBSERVE)![0])).toEqual([2, 3]);
    let got: CoapMessage | undefined;
    request(ep, { method: Code.GET, path: 'x' }, PEER, { onResponse: (m) => (got = m), onError: (e) => { throw e; } });
    const req = decode(c.sent.at(-1)!);
    ep.receive(encode({ type: NON, code: Code.CONTENT, mid: 0, token: req.token, options: [], payload: Buffer.from('ok') }), PEER);
    expect(log.at(-1)).toBe('request');
    expect(got?.payload.toString()).toBe('ok');
    ep.receive(Buffer.from([0x40]), PEER);
    expect(log.at(-1)).toBe('abort');
    // the connection closes: the peer's relation ends and its pending client exchange fails
    let failed: Error | undefined;
    request(ep, { method: Code.GET, path: 'y' }, PEER, { onResponse: () => {}, onError: (e) => (failed = e) });
    request(ep, { method: Code.GET, path: 'y' }, { address: '10.0.0.2', port: 1 }, { onResponse: () => {}, onError: (e) => { throw e; } });
    expect(obs.observers.size).toBe(1);
    ep.dropPeer(ep.peerOf(PEER), 'connection closed');
    expect(obs.observers.size).toBe(0);
    expect(ep.relations.size).toBe(0);
    expect(failed?.message).toBe('connection closed');
    expect(ep.exchanges.size).toBe(1);
  });
});

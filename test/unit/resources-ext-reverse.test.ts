import { afterEach, describe, expect, it, vi } from 'vitest';
import { ACK, CON, Code, Format, Opt, type CoapMessage } from '../../src/coap/message.js';
import { encodeUint } from '../../src/coap/options.js';
import { addChild, createResource } from '../../src/coap/resource.js';
import type { ClientExchange, RequestSpec, ResponseHandlers } from '../../src/coap/client-layer.js';
import type { EndpointContext } from '../../src/transport/connector.js';
import {
  REVERSE_RESPONSE_TIMEOUT,
  createReverseRequestResource,
  reverseRequestBinary,
} from '../../src/resources/extended/reverse-request.js';
import {
  createReverseObserveResource,
  observationKey,
  reverseObserveBinary,
} from '../../src/resources/extended/reverse-observe.js';
import { createTreeTimers, type TreeTimers } from '../../src/resources/timers.js';
import { bytes, dispatch, text, type FakeExchange, type RequestInit } from '../helpers/fake-exchange.js';

/** One request the resource sent through the fake endpoint. */
interface Sent {
  spec: RequestSpec;
  ctx: EndpointContext;
  handlers: ResponseHandlers;
  token: Buffer;
  cancelled: boolean;
}

/** A fake `EndpointInfo.request` recording every request. */
function requester() {
  const sent: Sent[] = [];
  let counter = 0;
  const request = (spec: RequestSpec, ctx: EndpointContext, handlers: ResponseHandlers): ClientExchange => {
    const token = spec.token ?? Buffer.from([0xa0, ++counter]);
    const s: Sent = { spec, ctx, handlers, token, cancelled: false };
    sent.push(s);
    return { token, cancel: () => (s.cancelled = true) } as unknown as ClientExchange;
  };
  return { sent, request };
}

function response(code: number, token: Buffer, observe?: number, payload = ''): CoapMessage {
  const options = observe === undefined ? [] : [{ number: Opt.OBSERVE, value: encodeUint(observe) }];
  return { type: ACK, code, mid: 1, token, options, payload: Buffer.from(payload) };
}

const CTX = { address: '10.0.0.7', port: 40163 };

afterEach(() => {
  vi.useRealTimers();
});

describe('/reverse-request', () => {
  function tree(opts: { maxSequences?: number } = {}) {
    const root = createResource('');
    const r = createReverseRequestResource(opts);
    addChild(root, r.resource);
    const req = requester();
    const post = (init: RequestInit = {}): FakeExchange =>
      dispatch(root, { method: 'POST', path: '/reverse-request', ...init }, { endpoint: { request: req.request } });
    return { root, r, req, post };
  }

  it('attributes: title and ct="0 42", POST only', () => {
    const { r, root } = tree();
    expect(r.resource.attributes.get('title')).toEqual(['Reverse Request']);
    expect(r.resource.attributes.get('ct')).toEqual(['0', '42']);
    expect(dispatch(root, { path: '/reverse-request' }).response.code).toBe(Code.METHOD_NOT_ALLOWED);
  });
  it('Accept must be absent, 0 or 42', () => {
    const { post } = tree();
    expect(post({ accept: 50 }).response).toEqual({ code: Code.NOT_ACCEPTABLE });
    expect(post({ accept: 0 }).response.code).toBe(Code.CHANGED);
    expect(post({ accept: 42 }).response.code).toBe(Code.CHANGED);
  });
  it('statistics as text and as 24 bytes', () => {
    const { post } = tree();
    expect(post().response).toEqual({ code: Code.CHANGED, payload: '0 reverse-requests, 0 sent, 0 pending.', format: Format.TEXT });
    expect(post({ query: ['res=x'] }).response.payload).toBe('0 reverse-requests, 0 sent, 0 pending.');
    expect(post({ query: ['rlen=3'] }).response.payload).toBe('0 reverse-requests, 0 sent, 0 pending.');
    const bin = post({ accept: 42 }).response;
    expect(bin.format).toBe(Format.OCTETS);
    expect(bytes(bin)).toEqual(Buffer.alloc(24));
    expect(reverseRequestBinary({ requested: 1, sent: 2, pending: 3 }).toString('hex')).toBe(
      '000000000000000100000000000000020000000000000003',
    );
  });
  it('bad req → 4.02 with the strict-query texts', () => {
    const { post, req } = tree();
    expect(post({ query: ['req=x', 'res=a'] }).response).toEqual({
      code: Code.BAD_OPTION,
      payload: "URI-query-option 'req=x' is no number!",
      format: Format.TEXT,
    });
    expect(text(post({ query: ['req=0', 'res=a'] }).response)).toBe("URI-query-option 'req=0' is less than 1!");
    expect(text(post({ query: ['req=10000001', 'res=a'] }).response)).toBe("URI-query-option 'req=10000001' is more than 10000000!");
    expect(text(post({ query: ['req=', 'res=a'] }).response)).toBe("URI-query-option 'req=' is no number!");
    expect(req.sent).toHaveLength(0);
  });
  it('req and res: 2.04 at once, then sequential CON GETs with the copied queries until req answered', () => {
    const { post, req, r } = tree();
    const ex = post({ query: ['req=3', 'res=feed/sub', 'rlen=400', 'x'] });
    expect(ex.response).toEqual({ code: Code.CHANGED });
    expect(req.sent).toHaveLength(1);
    const first = req.sent[0]!;
    expect(first.spec).toEqual({ method: Code.GET, path: 'feed/sub', query: ['rlen=400', 'x'], timeout: REVERSE_RESPONSE_TIMEOUT });
    expect(first.spec.type ?? CON).toBe(CON);
    expect(first.ctx).toBe(ex.context);
    expect(r.counters).toEqual({ requested: 3, sent: 1, pending: 3 });
    first.handlers.onResponse(response(Code.CONTENT, first.token), CTX);
    expect(req.sent).toHaveLength(2);
    expect(req.sent[1]!.spec).toEqual(first.spec);
    expect(r.counters).toEqual({ requested: 3, sent: 2, pending: 2 });
    req.sent[1]!.handlers.onResponse(response(Code.CONTENT, req.sent[1]!.token), CTX);
    req.sent[2]!.handlers.onResponse(response(Code.CONTENT, req.sent[2]!.token), CTX);
    expect(req.sent).toHaveLength(3);
    expect(r.counters).toEqual({ requested: 3, sent: 3, pending: 0 });
    expect(r.active()).toBe(0);
    expect(post().response.payload).toBe('3 reverse-requests, 3 sent, 0 pending.');
  });
  it('`req` without value means one GET', () => {
    const { post, req, r } = tree();
    post({ query: ['req', 'res=feed'] });
    req.sent[0]!.handlers.onResponse(response(Code.CONTENT, req.sent[0]!.token), CTX);
    expect(req.sent).toHaveLength(1);
    expect(r.counters).toEqual({ requested: 1, sent: 1, pending: 0 });
  });
  it('an error response, a send error or a timeout stops the sequence', () => {
    const { post, req, r } = tree();
    post({ query: ['req=5', 'res=a'] });
    req.sent[0]!.handlers.onResponse(response(Code.CONTENT, req.sent[0]!.token), CTX);
    req.sent[1]!.handlers.onResponse(response(Code.NOT_FOUND, req.sent[1]!.token), CTX);
    expect(req.sent).toHaveLength(2);
    expect(r.counters).toEqual({ requested: 5, sent: 2, pending: 0 });
    post({ query: ['req=4', 'res=b'] });
    req.sent[2]!.handlers.onError(new Error('timeout'));
    expect(req.sent).toHaveLength(3);
    expect(r.counters).toEqual({ requested: 9, sent: 3, pending: 0 });
    // late callbacks are ignored
    req.sent[2]!.handlers.onResponse(response(Code.CONTENT, req.sent[2]!.token), CTX);
    expect(req.sent).toHaveLength(3);
    expect(r.counters.pending).toBe(0);
  });
  it('running sequences are bounded: beyond the limit 5.03', () => {
    const { post, req } = tree({ maxSequences: 1 });
    expect(post({ query: ['req=2', 'res=a'] }).response.code).toBe(Code.CHANGED);
    expect(post({ query: ['req=2', 'res=a'] }).response.code).toBe(Code.SERVICE_UNAVAILABLE);
    expect(req.sent).toHaveLength(1);
    req.sent[0]!.handlers.onResponse(response(Code.CONTENT, req.sent[0]!.token), CTX);
    req.sent[1]!.handlers.onResponse(response(Code.CONTENT, req.sent[1]!.token), CTX);
    expect(post({ query: ['req=2', 'res=a'] }).response.code).toBe(Code.CHANGED);
  });
  it('stop() cancels the running GETs', () => {
    const { post, req, r } = tree();
    post({ query: ['req=2', 'res=a'] });
    r.stop();
    expect(req.sent[0]!.cancelled).toBe(true);
    expect(r.active()).toBe(0);
    expect(r.counters.pending).toBe(0);
  });
});

describe('/reverse-observe', () => {
  let timers: TreeTimers;
  function tree(opts: { maxObservations?: number } = {}) {
    timers = createTreeTimers();
    const root = createResource('');
    const r = createReverseObserveResource({ timers, ...opts });
    addChild(root, r.resource);
    const req = requester();
    const post = (init: RequestInit = {}, context = CTX): FakeExchange =>
      dispatch(root, { method: 'POST', path: '/reverse-observe', ...init }, { endpoint: { request: req.request }, context });
    return { root, r, req, post };
  }
  afterEach(() => timers?.stop());
  const KEY = observationKey('coap', CTX, 'feed');

  /** POSTs obs/res and establishes the observation with the first notification. */
  function establish(t: ReturnType<typeof tree>, query = ['obs=2', 'res=feed'], accept?: number) {
    const ex = t.post({ query, accept });
    const s = t.req.sent[t.req.sent.length - 1]!;
    s.handlers.onResponse(response(Code.CONTENT, s.token, 1), CTX);
    return { ex, s };
  }

  it('attributes, Accept check, statistics as text and 12 bytes', () => {
    const { r, post } = tree();
    expect(r.resource.attributes.get('title')).toEqual(['Reverse Observe']);
    expect(r.resource.attributes.get('ct')).toEqual(['0', '42']);
    expect(post({ accept: 50 }).response).toEqual({ code: Code.NOT_ACCEPTABLE });
    expect(post().response).toEqual({ code: Code.CHANGED, payload: '0 active observes, 0 notifies.', format: Format.TEXT });
    expect(post({ query: ['res=feed'] }).response.payload).toBe('0 active observes, 0 notifies.');
    expect(bytes(post({ accept: 42 }).response)).toEqual(Buffer.alloc(12));
    expect(reverseObserveBinary(2, 5).toString('hex')).toBe('000000020000000000000005');
  });
  it('query errors → 4.02 with the text but without Content-Format', () => {
    const { post, req } = tree();
    expect(post({ query: ['obs=-1', 'res=a'] }).response).toEqual({ code: Code.BAD_OPTION, payload: "URI-query-option 'obs=-1' is less than 0!" });
    expect(post({ query: ['obs=10000001', 'res=a'] }).response.payload).toBe("URI-query-option 'obs=10000001' is more than 10000000!");
    expect(post({ query: ['obs=1', 'res=a', 'timeout=x'] }).response.payload).toBe("URI-query-option 'timeout=x' is no number!");
    expect(post({ query: ['obs=1', 'res=a', 'timeout=-1'] }).response.payload).toBe("URI-query-option 'timeout=-1' is less than 0!");
    expect(req.sent).toHaveLength(0);
  });
  it('obs > 0: accept, CON GET Observe=0 with res and copied queries; the first notification answers the POST with the token', () => {
    const t = tree();
    const ex = t.post({ query: ['obs=2', 'res=feed', 'rlen=4', 'x'] });
    expect(ex.accepted).toBe(1);
    expect(ex.responses).toHaveLength(0);
    const s = t.req.sent[0]!;
    expect(s.spec).toEqual({ method: Code.GET, path: 'feed', query: ['rlen=4', 'x'], observe: 0, token: undefined, timeout: 120_000 });
    expect(s.ctx).toBe(ex.context);
    expect(t.r.active()).toBe(1);
    // still pending: a POST for the same key gets 5.03, another key is fine
    expect(t.post({ query: ['obs=2', 'res=feed'] }).response).toEqual({ code: Code.SERVICE_UNAVAILABLE });
    expect(t.post({ query: ['obs=0', 'res=feed'] }).response).toEqual({ code: Code.SERVICE_UNAVAILABLE });
    expect(t.post({ query: ['obs=2', 'res=other'] }).responses).toHaveLength(0);
    s.handlers.onResponse(response(Code.CONTENT, Buffer.from('0a1b', 'hex'), 1), CTX);
    expect(ex.response).toEqual({ code: Code.CHANGED, payload: '0A1B', format: Format.TEXT });
    expect(t.r.tokenOf(KEY)).toEqual(Buffer.from('0a1b', 'hex'));
    expect(t.post().response.payload).toBe('2 active observes, 1 notifies.');
  });
  it('Accept 42: the POST is answered with the raw token bytes', () => {
    const t = tree();
    const { ex, s } = establish(t, ['obs=2', 'res=feed'], 42);
    expect(ex.response).toEqual({ code: Code.CHANGED, payload: s.token, format: Format.OCTETS });
  });
  it('after obs notifications the observation is cancelled locally and registered again (POST not answered again)', () => {
    const t = tree();
    const { ex, s } = establish(t);
    s.handlers.onNotification!(response(Code.CONTENT, s.token, 2), CTX);
    expect(t.req.sent).toHaveLength(1);
    s.handlers.onNotification!(response(Code.CONTENT, s.token, 3), CTX);
    expect(s.cancelled).toBe(true);
    expect(t.req.sent).toHaveLength(2);
    const again = t.req.sent[1]!;
    expect(again.spec).toMatchObject({ observe: 0, path: 'feed', token: undefined });
    expect(t.r.tokenOf(KEY)).toBeUndefined();
    again.handlers.onResponse(response(Code.CONTENT, again.token, 1), CTX);
    expect(ex.responses).toHaveLength(1);
    expect(t.r.tokenOf(KEY)).toEqual(again.token);
    expect(t.r.notifies()).toBe(4);
    // late notifications of the cancelled relation are not counted for the new one
    s.handlers.onNotification!(response(Code.CONTENT, s.token, 4), CTX);
    expect(t.r.notifies()).toBe(4);
  });
  it('no notification for `timeout` seconds → re-registration; notifications postpone it', () => {
    vi.useFakeTimers();
    const t = tree();
    const { s } = establish(t, ['obs=100', 'res=feed', 'timeout=2']);
    vi.advanceTimersByTime(1500);
    s.handlers.onNotification!(response(Code.CONTENT, s.token, 2), CTX);
    vi.advanceTimersByTime(1500);
    expect(t.req.sent).toHaveLength(1);
    vi.advanceTimersByTime(600);
    expect(t.req.sent).toHaveLength(2);
    expect(s.cancelled).toBe(true);
  });
  it('default timeout is 30 s; timeout=0 disables it', () => {
    vi.useFakeTimers();
    const t = tree();
    establish(t);
    vi.advanceTimersByTime(29_900);
    expect(t.req.sent).toHaveLength(1);
    vi.advanceTimersByTime(200);
    expect(t.req.sent).toHaveLength(2);
    const t2 = tree();
    establish(t2, ['obs=5', 'res=feed', 'timeout=0']);
    vi.advanceTimersByTime(3_600_000);
    expect(t2.req.sent).toHaveLength(1);
  });
  it('obs=0 cancels the observation and stops its timer (no re-registration)', () => {
    vi.useFakeTimers();
    const t = tree();
    const { s } = establish(t, ['obs=5', 'res=feed', 'timeout=1']);
    expect(t.post({ query: ['obs=0', 'res=feed'] }).response).toEqual({ code: Code.CHANGED });
    expect(s.cancelled).toBe(true);
    expect(t.r.active()).toBe(0);
    vi.advanceTimersByTime(10_000);
    expect(t.req.sent).toHaveLength(1);
  });
  it('obs=0 without observation → 2.04 and leaves no placeholder', () => {
    const t = tree();
    expect(t.post({ query: ['obs', 'res=feed'] }).response).toEqual({ code: Code.CHANGED });
    expect(t.r.active()).toBe(0);
    const ex = t.post({ query: ['obs=1', 'res=feed'] });
    expect(ex.responses).toHaveLength(0);
    expect(t.req.sent).toHaveLength(1);
  });
  it('a new POST for an established key re-uses its token', () => {
    const t = tree();
    const { s } = establish(t);
    const ex = t.post({ query: ['obs=3', 'res=feed'] });
    expect(ex.accepted).toBe(1);
    expect(s.cancelled).toBe(true);
    const again = t.req.sent[1]!;
    expect(again.spec.token).toEqual(s.token);
    again.handlers.onResponse(response(Code.CONTENT, s.token, 9), CTX);
    expect(ex.response).toEqual({ code: Code.CHANGED, payload: s.token.toString('hex').toUpperCase(), format: Format.TEXT });
  });
  it('registration outcomes: error code, no Observe (4.06), failure (5.00) — each removes the key', () => {
    const t = tree();
    const e1 = t.post({ query: ['obs=1', 'res=a'] });
    t.req.sent[0]!.handlers.onResponse(response(Code.NOT_FOUND, t.req.sent[0]!.token), CTX);
    expect(e1.response).toEqual({ code: Code.NOT_FOUND });
    const e2 = t.post({ query: ['obs=1', 'res=a'] });
    t.req.sent[1]!.handlers.onResponse(response(Code.CONTENT, t.req.sent[1]!.token), CTX);
    expect(e2.response).toEqual({ code: Code.NOT_ACCEPTABLE });
    const e3 = t.post({ query: ['obs=1', 'res=a'] });
    t.req.sent[2]!.handlers.onError(new Error('timeout'));
    expect(e3.response).toEqual({ code: Code.INTERNAL_SERVER_ERROR });
    expect(t.r.active()).toBe(0);
  });
  it('keys are per scheme, peer and res', () => {
    const t = tree();
    t.post({ query: ['obs=1', 'res=feed'] });
    expect(t.post({ query: ['obs=1', 'res=feed'] }, { address: '10.0.0.7', port: 1 }).responses).toHaveLength(0);
    expect(t.r.active()).toBe(2);
    expect(observationKey('coaps', { address: '::1', port: 5 }, 'a/b')).toBe('coaps://[::1]:5?a/b');
  });
  it('observations are bounded: beyond the limit 5.03', () => {
    const t = tree({ maxObservations: 1 });
    t.post({ query: ['obs=1', 'res=a'] });
    expect(t.post({ query: ['obs=1', 'res=b'] }).response.code).toBe(Code.SERVICE_UNAVAILABLE);
    expect(t.req.sent).toHaveLength(1);
  });
  it('the relation ended by the client: the timeout registers again', () => {
    vi.useFakeTimers();
    const t = tree();
    const { s } = establish(t, ['obs=5', 'res=feed', 'timeout=1']);
    s.handlers.onNotification!(response(Code.NOT_FOUND, s.token), CTX);
    vi.advanceTimersByTime(1100);
    expect(t.req.sent).toHaveLength(2);
  });
  it('stop() cancels everything', () => {
    vi.useFakeTimers();
    const t = tree();
    const { s } = establish(t, ['obs=5', 'res=feed', 'timeout=1']);
    t.r.stop();
    expect(s.cancelled).toBe(true);
    expect(t.r.active()).toBe(0);
    vi.advanceTimersByTime(5000);
    expect(t.req.sent).toHaveLength(1);
  });
});

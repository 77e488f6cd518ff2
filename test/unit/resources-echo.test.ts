import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Code, Format } from '../../src/coap/message.js';
import { addChild, createResource, type Resource } from '../../src/coap/resource.js';
import {
  ECHO_CAPACITY,
  ECHO_EVICT_AFTER_MS,
  ECHO_MAX_PENDING,
  createEchoResource,
  negotiateEchoFormat,
} from '../../src/resources/extended/echo.js';
import { createTreeTimers, type TreeTimers } from '../../src/resources/timers.js';
import { formatDayTime } from '../../src/resources/text.js';
import { DEFAULT_STACK_CONFIG } from '../../src/coap/stack-config.js';
import { bytes, dispatch, fakeDtls, fakeObserver, text, type RequestInit, type ExchangeSetup } from '../helpers/fake-exchange.js';

let now = new Date(2024, 2, 7, 10, 11, 12).getTime();
let timers: TreeTimers;

function echoTree(opts: { echoDelay?: boolean; capacity?: number; evictAfterMs?: number; maxPending?: number } = {}) {
  timers = createTreeTimers();
  const root = createResource('');
  const echo = addChild(root, createEchoResource({ echoDelay: opts.echoDelay ?? false, now: () => now, timers, ...opts }));
  return { root, echo };
}

function post(root: Resource, init: RequestInit = {}, setup: ExchangeSetup = {}) {
  return dispatch(root, { method: 'POST', path: '/echo', ...init }, setup);
}

beforeEach(() => {
  now = new Date(2024, 2, 7, 10, 11, 12).getTime();
});

describe('POST /echo content negotiation', () => {
  const cases: [cf: number | undefined, acc: number | undefined, result: number | 'x'][] = [
    [undefined, undefined, 42],
    [undefined, 0, 0],
    [undefined, 42, 42],
    [undefined, 40, 'x'],
    [undefined, 50, 'x'],
    [0, undefined, 0],
    [0, 0, 0],
    [0, 42, 'x'],
    [42, undefined, 42],
    [42, 42, 42],
    [42, 0, 'x'],
    [50, undefined, 'x'],
    [50, 50, 'x'],
    [40, 40, 'x'],
  ];
  for (const [cf, acc, result] of cases) {
    it(`Content-Format ${cf ?? '-'} / Accept ${acc ?? '-'} → ${result === 'x' ? '4.06' : result}`, () => {
      const { root } = echoTree();
      const ex = post(root, { contentFormat: cf, accept: acc, payload: 'hi' });
      if (result === 'x') expect(ex.response).toEqual({ code: Code.NOT_ACCEPTABLE });
      else expect(ex.response).toEqual({ code: Code.CHANGED, payload: Buffer.from('hi'), format: result });
    });
  }
  it('negotiateEchoFormat is the shared rule', () => {
    expect(negotiateEchoFormat(undefined, undefined)).toBe(42);
    expect(negotiateEchoFormat(0, 0)).toBe(0);
    expect(negotiateEchoFormat(0, 42)).toBeUndefined();
  });
});

describe('POST /echo queries', () => {
  it('rlen truncates or pads with *', () => {
    const { root } = echoTree();
    expect(bytes(post(root, { payload: 'hello', query: ['rlen=3'] }).response).toString()).toBe('hel');
    expect(bytes(post(root, { payload: 'hello', query: ['rlen=8'] }).response).toString()).toBe('hello***');
    expect(bytes(post(root, { payload: 'hello', query: ['rlen'] }).response).toString()).toBe('hello');
  });
  it('rlen is limited by the endpoint maxResourceBodySize', () => {
    const { root } = echoTree();
    expect(post(root, { query: ['rlen=8193'] }).response).toEqual({
      code: Code.BAD_OPTION,
      payload: "URI-query-option 'rlen=8193' is more than 8192!",
      format: Format.TEXT,
    });
    const small = post(root, { query: ['rlen=101'] }, { endpoint: { config: { ...DEFAULT_STACK_CONFIG, maxResourceBodySize: 100 } } });
    expect(small.response.payload).toBe("URI-query-option 'rlen=101' is more than 100!");
  });
  it('strict query errors', () => {
    const { root } = echoTree();
    expect(post(root, { query: ['foo'] }).response.payload).toBe("URI-query-option 'foo' is not supported!");
    expect(post(root, { query: ['delay=-1'] }).response.payload).toBe("URI-query-option 'delay=-1' is less than 0!");
    expect(post(root, { query: ['delay=3600001'] }).response.payload).toBe(
      "URI-query-option 'delay=3600001' is more than 3600000!",
    );
    expect(post(root, { query: ['rlen=x'] }).response.payload).toBe("URI-query-option 'rlen=x' is no number!");
  });
  it('ack accepts the exchange before responding', () => {
    const { root } = echoTree();
    const ex = post(root, { query: ['ack'], payload: 'a' });
    expect(ex.accepted).toBe(1);
    expect(ex.responses).toHaveLength(1);
    expect(post(root, { payload: 'a' }).accepted).toBe(0);
  });
});

describe('POST /echo delay', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('without --echo-delay the delay is validated but ignored', () => {
    const { root } = echoTree({ echoDelay: false });
    const ex = post(root, { query: ['delay=500'], payload: 'x' });
    expect(ex.responses).toHaveLength(1);
  });
  it('with --echo-delay the response is sent after delay ms', () => {
    const { root } = echoTree({ echoDelay: true });
    const ex = post(root, { query: ['delay=500', 'rlen=2'], payload: 'xyz', contentFormat: 0 });
    expect(ex.responses).toHaveLength(0);
    vi.advanceTimersByTime(499);
    expect(ex.responses).toHaveLength(0);
    vi.advanceTimersByTime(1);
    expect(ex.responses).toEqual([{ code: Code.CHANGED, payload: Buffer.from('xy'), format: 0 }]);
  });
  it('at most 999 delayed responses may be pending, then 5.03', () => {
    expect(ECHO_MAX_PENDING).toBe(999);
    const { root } = echoTree({ echoDelay: true });
    const pending = Array.from({ length: 999 }, () => post(root, { query: ['delay=1000'] }));
    expect(pending.every((p) => p.responses.length === 0)).toBe(true);
    const rejected = post(root, { query: ['delay=1000'] });
    expect(rejected.response).toEqual({
      code: Code.SERVICE_UNAVAILABLE,
      payload: 'Too many delayed responses pending!',
      format: Format.TEXT,
    });
    expect(post(root, { payload: 'now' }).response.code).toBe(Code.CHANGED);
    vi.advanceTimersByTime(1000);
    expect(pending.every((p) => p.responses.length === 1)).toBe(true);
    const later = post(root, { query: ['delay=10'] });
    vi.advanceTimersByTime(10);
    expect(later.response.code).toBe(Code.CHANGED);
  });
});

describe('/echo keep', () => {
  it('keeps by DTLS identity, lists children with ct, obs, scheme and time', () => {
    const { root, echo } = echoTree();
    const dtls = fakeDtls({ peerIdentity: 'cali.30FC0A725D79F82C' });
    post(root, { query: ['keep'], payload: 'data', contentFormat: 0 }, { dtls, endpoint: { scheme: 'coaps' } });
    expect(echo.children.has('cali.30FC0A725D79F82C')).toBe(true);
    const list = dispatch(root, { path: '/echo' });
    expect(list.response).toEqual({
      code: Code.CONTENT,
      payload: `</echo/cali.30FC0A725D79F82C>;ct=0;obs;scheme="coaps";time="${formatDayTime(now)}"`,
      format: Format.LINK,
    });
    expect(formatDayTime(now)).toBe('07.Mar-10:11:12');
  });
  it('identity wins over id; id is used without identity; neither → nothing kept', () => {
    const { root, echo } = echoTree();
    post(root, { query: ['keep', 'id=dev1'], payload: 'a' }, { dtls: fakeDtls({ peerIdentity: 'psk-id' }) });
    post(root, { query: ['keep', 'id=dev2'], payload: 'b' });
    post(root, { query: ['keep'], payload: 'c' });
    post(root, { query: ['keep', 'id'], payload: 'd' });
    post(root, { query: ['id=dev3'], payload: 'e' });
    expect([...echo.children.keys()].sort()).toEqual(['dev2', 'psk-id']);
  });
  it('identity names are URL-encoded in the link', () => {
    const { root } = echoTree();
    post(root, { query: ['keep'], payload: 'a' }, { dtls: fakeDtls({ peerIdentity: 'CN=cf-client,OU=Californium' }) });
    expect(text(dispatch(root, { path: '/echo' }).response)).toMatch(/^<\/echo\/CN%3Dcf-client%2COU%3DCalifornium>;obs;/);
    expect(dispatch(root, { path: ['echo', 'CN=cf-client,OU=Californium'] }).response.code).toBe(Code.CONTENT);
  });
  it('GET /echo: Accept absent or 40, else 4.06; empty list when nothing kept', () => {
    const { root } = echoTree();
    expect(dispatch(root, { path: '/echo' }).response).toEqual({ code: Code.CONTENT, payload: '', format: Format.LINK });
    expect(dispatch(root, { path: '/echo', accept: 40 }).response.code).toBe(Code.CONTENT);
    expect(dispatch(root, { path: '/echo', accept: 0 }).response).toEqual({ code: Code.NOT_ACCEPTABLE });
  });
  it('GET child negotiates against the kept Content-Format', () => {
    const { root } = echoTree();
    post(root, { query: ['keep', 'id=t'], payload: 'text', contentFormat: 0 });
    post(root, { query: ['keep', 'id=n'], payload: 'none' });
    const get = (id: string, accept?: number) => dispatch(root, { path: `/echo/${id}`, accept }).response;
    expect(get('t')).toEqual({ code: Code.CONTENT, payload: Buffer.from('text'), format: 0 });
    expect(get('t', 0).code).toBe(Code.CONTENT);
    expect(get('t', 42)).toEqual({ code: Code.NOT_ACCEPTABLE });
    expect(get('n')).toEqual({ code: Code.CONTENT, payload: Buffer.from('none'), format: 42 });
    expect(get('n', 0)).toEqual({ code: Code.CONTENT, payload: Buffer.from('none'), format: 0 });
    expect(get('n', 50)).toEqual({ code: Code.NOT_ACCEPTABLE });
    expect(get('missing').code).toBe(Code.NOT_FOUND);
  });
  it('keeps the full payload even with rlen', () => {
    const { root } = echoTree();
    const ex = post(root, { query: ['keep', 'id=r', 'rlen=2'], payload: 'abcdef', contentFormat: 0 });
    expect(text(ex.response)).toBe('ab');
    expect(text(dispatch(root, { path: '/echo/r' }).response)).toBe('abcdef');
  });
  it('a new POST replaces the content, updates attributes and notifies the child observers', () => {
    const { root, echo } = echoTree();
    post(root, { query: ['keep', 'id=d'], payload: 'one', contentFormat: 0 });
    const child = echo.children.get('d')!;
    expect(child.observable).toBe(true);
    const obs = fakeObserver(child);
    now += 61_000;
    post(root, { query: ['keep', 'id=d'], payload: 'two' });
    expect(echo.children.get('d')).toBe(child);
    expect(obs.notified).toBe(1);
    expect(child.attributes.has('ct')).toBe(false);
    expect(child.attributes.get('time')).toEqual([formatDayTime(now)]);
    expect(child.attributes.get('scheme')).toEqual(['coap']);
    expect(dispatch(root, { path: '/echo/d' }).response).toEqual({ code: Code.CONTENT, payload: Buffer.from('two'), format: 42 });
  });
  it('DELETE removes the child and ends its relations with 4.04', () => {
    const { root, echo } = echoTree();
    post(root, { query: ['keep', 'id=d'], payload: 'one' });
    const obs = fakeObserver(echo.children.get('d')!);
    expect(dispatch(root, { method: 'DELETE', path: '/echo/d' }).response).toEqual({ code: Code.DELETED });
    expect(obs.cancelled).toEqual([Code.NOT_FOUND]);
    expect(echo.children.size).toBe(0);
    expect(dispatch(root, { path: '/echo/d' }).response.code).toBe(Code.NOT_FOUND);
    expect(dispatch(root, { method: 'DELETE', path: '/echo' }).response.code).toBe(Code.METHOD_NOT_ALLOWED);
  });
});

describe('/echo keep capacity', () => {
  it('defaults: 500 children, evictable after 6 h', () => {
    expect(ECHO_CAPACITY).toBe(500);
    expect(ECHO_EVICT_AFTER_MS).toBe(6 * 3600 * 1000);
    const { root, echo } = echoTree();
    for (let i = 0; i < 500; i++) post(root, { query: ['keep', `id=d${i}`] });
    expect(echo.children.size).toBe(500);
    post(root, { query: ['keep', 'id=new'] });
    expect(echo.children.has('new')).toBe(false);
    expect(echo.children.size).toBe(500);
    now += ECHO_EVICT_AFTER_MS - 1;
    post(root, { query: ['keep', 'id=new'] });
    expect(echo.children.has('new')).toBe(false);
    now += 1;
    post(root, { query: ['keep', 'id=new'] });
    expect(echo.children.has('new')).toBe(true);
    expect(echo.children.has('d0')).toBe(false);
    expect(echo.children.size).toBe(500);
  });
  it('evicts the least recently updated child, silently ending its relations', () => {
    const { root, echo } = echoTree({ capacity: 2, evictAfterMs: 1000 });
    post(root, { query: ['keep', 'id=a'] });
    now += 10;
    post(root, { query: ['keep', 'id=b'] });
    now += 10;
    post(root, { query: ['keep', 'id=a'] });
    const obsB = fakeObserver(echo.children.get('b')!);
    now += 1000;
    post(root, { query: ['keep', 'id=c'] });
    expect([...echo.children.keys()].sort()).toEqual(['a', 'c']);
    expect(obsB.cancelled).toEqual([undefined]);
  });
  it('updating an existing child works even when the store is full', () => {
    const { root, echo } = echoTree({ capacity: 1, evictAfterMs: 1000 });
    post(root, { query: ['keep', 'id=a'], payload: '1' });
    post(root, { query: ['keep', 'id=a'], payload: '2' });
    expect(echo.children.size).toBe(1);
    expect(text(dispatch(root, { path: '/echo/a' }).response)).toBe('2');
  });
});

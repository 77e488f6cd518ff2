import { afterEach, describe, expect, it, vi } from 'vitest';
import { Code, Format } from '../../src/coap/message.js';
import { addChild, createResource } from '../../src/coap/resource.js';
import { DEFAULT_STACK_CONFIG } from '../../src/coap/stack-config.js';
import { createBenchmarkResource } from '../../src/resources/extended/benchmark.js';
import { createTreeTimers, type TreeTimers } from '../../src/resources/timers.js';
import { bytes, dispatch, fakeObserver, text, type RequestInit } from '../helpers/fake-exchange.js';

let timers: TreeTimers;
let now = 1_700_000_000_042;

function tree(enabled: boolean, notifyInterval = 5000) {
  timers = createTreeTimers();
  const root = createResource('');
  const benchmark = addChild(root, createBenchmarkResource({ enabled, notifyInterval, timers, now: () => now }));
  return { root, benchmark };
}

const get = (root: ReturnType<typeof tree>['root'], init: RequestInit = {}) => dispatch(root, { path: '/benchmark', ...init });
const post = (root: ReturnType<typeof tree>['root'], init: RequestInit = {}) => dispatch(root, { method: 'POST', path: '/benchmark', ...init });

afterEach(() => {
  timers?.stop();
  vi.useRealTimers();
  now = 1_700_000_000_042;
});

describe('/benchmark disabled', () => {
  it('answers GET and POST with 5.01 and the fixed text, before any other check', () => {
    const { root } = tree(false);
    for (const ex of [get(root), post(root, { payload: 'x' }), get(root, { accept: 50, query: ['bad'] })]) {
      expect(ex.response).toEqual({ code: Code.NOT_IMPLEMENTED, payload: 'benchmark is not supported on this host!', format: Format.TEXT });
    }
  });
  it('is not observable, titled "Benchmark (disabled)", ct=0, and has no timer', () => {
    const { benchmark } = tree(false);
    expect(benchmark.observable).toBe(false);
    expect(benchmark.attributes.get('title')).toEqual(['Benchmark (disabled)']);
    expect(benchmark.attributes.get('ct')).toEqual(['0']);
    expect(benchmark.attributes.has('obs')).toBe(false);
    const rel = fakeObserver(benchmark);
    timers.start();
    expect(rel.notified).toBe(0);
  });
});

describe('/benchmark enabled', () => {
  it('is observable with title "Benchmark"', () => {
    const { benchmark } = tree(true);
    expect(benchmark.observable).toBe(true);
    expect(benchmark.attributes.get('title')).toEqual(['Benchmark']);
    expect(benchmark.attributes.get('obs')).toEqual([]);
  });
  it('GET → 2.05 "hello observe 000" (17 bytes) before the timer ran', () => {
    const { root } = tree(true);
    const ex = get(root);
    expect(ex.response.code).toBe(Code.CONTENT);
    expect(ex.response.format).toBe(Format.TEXT);
    expect(bytes(ex.response).toString()).toBe('hello observe 000');
  });
  it('POST → 2.04 "hello benchmark", request payload ignored', () => {
    const { root } = tree(true);
    const ex = post(root, { payload: Buffer.alloc(3000, 1), contentFormat: 42 });
    expect(ex.response).toEqual({ code: Code.CHANGED, payload: Buffer.from('hello benchmark'), format: Format.TEXT });
  });
  it('the timer runs at once and then every interval, writing milliseconds-of-second and notifying', () => {
    vi.useFakeTimers();
    const { root, benchmark } = tree(true, 100);
    const rel = fakeObserver(benchmark);
    now = 1_700_000_000_007;
    timers.start();
    expect(rel.notified).toBe(1);
    expect(text(get(root).response)).toBe('hello observe 007');
    now = 1_700_000_000_999;
    vi.advanceTimersByTime(250);
    expect(rel.notified).toBe(3);
    expect(text(get(root).response)).toBe('hello observe 999');
    timers.stop();
    vi.advanceTimersByTime(1000);
    expect(rel.notified).toBe(3);
  });
  it('rlen truncates or pads with * (both methods); 0 keeps the default', () => {
    const { root } = tree(true);
    expect(text(get(root, { query: ['rlen=5'] }).response)).toBe('hello');
    expect(text(post(root, { query: ['rlen=20'] }).response)).toBe('hello benchmark*****');
    expect(text(post(root, { query: ['rlen=0'] }).response)).toBe('hello benchmark');
    expect(bytes(get(root, { query: ['rlen=8192'] }).response)).toHaveLength(8192);
  });
  it('rlen is limited to 0..MAX_RESOURCE_BODY_SIZE of the endpoint', () => {
    const { root } = tree(true);
    expect(get(root, { query: ['rlen=8193'] }).response).toEqual({
      code: Code.BAD_OPTION,
      payload: "URI-query-option 'rlen=8193' is more than 8192!",
      format: Format.TEXT,
    });
    expect(text(post(root, { query: ['rlen=-1'] }).response)).toBe("URI-query-option 'rlen=-1' is less than 0!");
    expect(text(post(root, { query: ['rlen=abc'] }).response)).toBe("URI-query-option 'rlen=abc' is no number!");
    const small = dispatch(root, { method: 'POST', path: '/benchmark', query: ['rlen=101'] }, {
      endpoint: { config: { ...DEFAULT_STACK_CONFIG, maxResourceBodySize: 100 } },
    });
    expect(text(small.response)).toBe("URI-query-option 'rlen=101' is more than 100!");
  });
  it('unsupported query → 4.02 with the raw option text', () => {
    const { root } = tree(true);
    expect(text(get(root, { query: ['ack', 'obs=1'] }).response)).toBe("URI-query-option 'obs=1' is not supported!");
  });
  it('ack accepts the exchange first (separate response)', () => {
    const { root } = tree(true);
    const ex = post(root, { query: ['ack'] });
    expect(ex.accepted).toBe(1);
    expect(ex.response.code).toBe(Code.CHANGED);
    expect(get(root).accepted).toBe(0);
  });
  it('Accept must be absent or 0, else 4.06 without payload', () => {
    const { root } = tree(true);
    expect(get(root, { accept: 0 }).response.code).toBe(Code.CONTENT);
    expect(get(root, { accept: 50 }).response).toEqual({ code: Code.NOT_ACCEPTABLE });
    expect(post(root, { accept: 42 }).response).toEqual({ code: Code.NOT_ACCEPTABLE });
  });
});

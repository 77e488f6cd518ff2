import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { CON, Code, Format, NON, Opt } from '../../src/coap/message.js';
import { decodeUint } from '../../src/coap/options.js';
import { createPlugtestResources, type ResourceTree } from '../../src/resources/plugtest/index.js';
import { createObservePumpingResource, pumpingText } from '../../src/resources/plugtest/observe-pumping.js';
import { largeObserveText } from '../../src/resources/plugtest/observe-large.js';
import { createTreeTimers } from '../../src/resources/timers.js';
import { dispatch, fakeObserver, resOption, text } from '../helpers/fake-exchange.js';

const START = new Date(2024, 0, 5, 7, 8, 9).getTime();

let t: ResourceTree;
beforeEach(() => {
  vi.useFakeTimers();
  vi.setSystemTime(START);
  t = createPlugtestResources({ notifyInterval: 5000, echoDelay: false, version: '1', shutdown: () => {} });
});
afterEach(() => {
  t.stop();
  vi.useRealTimers();
});

const res = (name: string) => t.root.children.get(name)!;

describe('observe resource attributes', () => {
  it('obs resources are observable with rt=observe and the right notification type', () => {
    expect(res('obs').observable).toBe(true);
    expect(res('obs').observeType).toBe(CON);
    expect(res('obs-non').observeType).toBe(NON);
    expect(res('obs-large').observeType).toBe(CON);
    expect(res('obs-pumping').observeType).toBe(CON);
    expect(res('obs-pumping-non').observeType).toBe(NON);
    for (const n of ['obs', 'obs-non', 'obs-large', 'obs-pumping', 'obs-pumping-non']) {
      expect(res(n).attributes.get('obs')).toEqual([]);
      expect(res(n).attributes.get('rt')).toEqual(['observe']);
    }
  });
});

describe('/obs and /obs-non', () => {
  for (const name of ['obs', 'obs-non']) {
    it(`${name}: GET answers the time with Max-Age 5`, () => {
      t.start();
      const ex = dispatch(t.root, { path: `/${name}` });
      expect(ex.response.code).toBe(Code.CONTENT);
      expect(ex.response.format).toBe(Format.TEXT);
      expect(text(ex.response)).toBe('07:08:09');
      expect(decodeUint(resOption(ex.response, Opt.MAX_AGE)!)).toBe(5);
    });
  }

  it('timer: first run immediately on start, then every notify interval', () => {
    const obs = fakeObserver(res('obs'));
    const non = fakeObserver(res('obs-non'));
    expect(obs.notified).toBe(0);
    t.start();
    expect(obs.notified).toBe(1);
    expect(non.notified).toBe(1);
    vi.advanceTimersByTime(4999);
    expect(obs.notified).toBe(1);
    vi.advanceTimersByTime(1);
    expect(obs.notified).toBe(2);
    expect(text(dispatch(t.root, { path: '/obs' }).response)).toBe('07:08:14');
    t.stop();
    vi.advanceTimersByTime(20000);
    expect(obs.notified).toBe(2);
  });

  it('uses nowMs when given and the configured interval', () => {
    t.stop();
    let now = new Date(2024, 0, 5, 12, 0, 0).getTime();
    t = createPlugtestResources({ notifyInterval: 100, echoDelay: false, version: '1', shutdown: () => {}, nowMs: () => now });
    const obs = fakeObserver(res('obs'));
    t.start();
    expect(text(dispatch(t.root, { path: '/obs' }).response)).toBe('12:00:00');
    now += 61_000;
    vi.advanceTimersByTime(100);
    expect(obs.notified).toBe(2);
    expect(text(dispatch(t.root, { path: '/obs' }).response)).toBe('12:01:01');
  });

  it('OBS_09: PUT with the same format notifies and the next GET/notification shows the payload once', () => {
    t.start();
    const obs = fakeObserver(res('obs'));
    const put = dispatch(t.root, { method: 'PUT', path: '/obs', payload: 'New value', contentFormat: 0 });
    expect(put.response).toEqual({ code: Code.CHANGED });
    expect(obs.notified).toBe(1);
    expect(obs.cancelled).toEqual([]);
    const note = dispatch(t.root, { path: '/obs', observe: 0 }, { notification: true });
    expect(note.response.code).toBe(Code.CONTENT);
    expect(text(note.response)).toBe('New value');
    expect(note.response.format).toBe(0);
    expect(decodeUint(resOption(note.response, Opt.MAX_AGE)!)).toBe(5);
    expect(text(dispatch(t.root, { path: '/obs' }).response)).toBe('07:08:09');
  });

  it('OBS_08: PUT with a different format ends relations with 4.06 first', () => {
    t.start();
    const a = fakeObserver(res('obs'));
    const b = fakeObserver(res('obs'));
    const put = dispatch(t.root, { method: 'PUT', path: '/obs', payload: 'Random', contentFormat: 1 });
    expect(put.response).toEqual({ code: Code.CHANGED });
    expect(a.cancelled).toEqual([Code.NOT_ACCEPTABLE]);
    expect(b.cancelled).toEqual([Code.NOT_ACCEPTABLE]);
    expect(a.notified).toBe(0);
    expect(res('obs').observers.size).toBe(0);
    expect(res('obs').attributes.get('ct')).toEqual(['1']);
    const get = dispatch(t.root, { path: '/obs' });
    expect(get.response.format).toBe(1);
    expect(text(get.response)).toBe('Random');
  });

  it('GET with an Accept different from the current format → 4.06', () => {
    expect(dispatch(t.root, { path: '/obs', accept: 50 }).response).toEqual({ code: Code.NOT_ACCEPTABLE });
    expect(dispatch(t.root, { path: '/obs', accept: 0 }).response.code).toBe(Code.CONTENT);
  });

  it('timer tick resets the format to text/plain', () => {
    t.start();
    dispatch(t.root, { method: 'PUT', path: '/obs', payload: 'x', contentFormat: 42 });
    dispatch(t.root, { path: '/obs' });
    vi.advanceTimersByTime(5000);
    const get = dispatch(t.root, { path: '/obs' });
    expect(get.response.format).toBe(0);
    expect(text(get.response)).toBe('07:08:14');
  });

  it('a tick before any GET replaces the PUT payload: never the PUT payload with text/plain', () => {
    t.start();
    dispatch(t.root, { method: 'PUT', path: '/obs', payload: 'x', contentFormat: 41 });
    vi.advanceTimersByTime(5000);
    const get = dispatch(t.root, { path: '/obs' });
    expect(get.response.format).toBe(0);
    expect(text(get.response)).toBe('07:08:14');
  });

  it('PUT without Content-Format → 4.00', () => {
    expect(dispatch(t.root, { method: 'PUT', path: '/obs', payload: 'x' }).response).toEqual({
      code: Code.BAD_REQUEST,
      payload: 'Content-Format not set',
      format: 0,
    });
  });

  it('OBS_07: DELETE ends relations with 4.04 and answers 2.02', () => {
    const a = fakeObserver(res('obs-non'));
    expect(dispatch(t.root, { method: 'DELETE', path: '/obs-non' }).response).toEqual({ code: Code.DELETED });
    expect(a.cancelled).toEqual([Code.NOT_FOUND]);
    expect(res('obs-non').observers.size).toBe(0);
  });

  it('POST is not allowed', () => {
    expect(dispatch(t.root, { method: 'POST', path: '/obs' }).response.code).toBe(Code.METHOD_NOT_ALLOWED);
  });
});

describe('/obs-large', () => {
  it('notifies a 162-byte text with Max-Age 5', () => {
    const obs = fakeObserver(res('obs-large'));
    t.start();
    expect(obs.notified).toBe(1);
    const ex = dispatch(t.root, { path: '/obs-large' });
    const expected = `${'-'.repeat(64)}\n07:08:09${' '.repeat(24)}\n${'-'.repeat(64)}`;
    expect(text(ex.response)).toBe(expected);
    expect(Buffer.byteLength(text(ex.response))).toBe(162);
    expect(largeObserveText('07:08:09')).toBe(expected);
    expect(ex.response.format).toBe(0);
    expect(decodeUint(resOption(ex.response, Opt.MAX_AGE)!)).toBe(5);
    vi.advanceTimersByTime(5000);
    expect(obs.notified).toBe(2);
    expect(text(dispatch(t.root, { path: '/obs-large' }).response)).toContain('07:08:14');
  });
});

describe('/obs-pumping', () => {
  it('pumpingText picks 84, 164 or 8 bytes', () => {
    const seq = (...v: number[]) => () => v.shift()!;
    const short = pumpingText('07:08:09', seq(0.9));
    expect(short).toBe(`${'-'.repeat(31)}\n${' '.repeat(11)}07:08:09\n${'-'.repeat(31)}\n`);
    expect(short).toHaveLength(84);
    const long = pumpingText('07:08:09', seq(0.2, 0.7));
    expect(long).toBe(`${'-'.repeat(63)}\n${' '.repeat(27)}07:08:09\n${'-'.repeat(63)}\n`);
    expect(long).toHaveLength(164);
    expect(pumpingText('07:08:09', seq(0.2, 0.3))).toBe('07:08:09');
  });
  it('each tick draws a new text and notifies', () => {
    const timers = createTreeTimers();
    const values = [0.9, 0.1, 0.1, 0.9];
    const r = createObservePumpingResource(NON, 1000, { now: Date.now, timers }, () => values.shift() ?? 0.9);
    expect(r.name).toBe('obs-pumping-non');
    const obs = fakeObserver(r);
    timers.start();
    expect(obs.notified).toBe(1);
    const get = () => {
      let out = '';
      r.handlers.GET!({
        request: {} as never,
        context: { address: '', port: 0 },
        endpoint: {} as never,
        resource: r,
        notification: true,
        accept() {},
        respond: (s) => (out = String(s.payload)),
      });
      return out;
    };
    expect(get()).toBe('07:08:09');
    vi.advanceTimersByTime(1000);
    expect(obs.notified).toBe(2);
    expect(get()).toHaveLength(84);
    timers.stop();
  });
  it('GET answers text/plain with Max-Age 5', () => {
    t.start();
    const ex = dispatch(t.root, { path: '/obs-pumping-non' });
    expect(ex.response.format).toBe(0);
    expect(text(ex.response)).toContain('07:08:09');
    expect(decodeUint(resOption(ex.response, Opt.MAX_AGE)!)).toBe(5);
  });
});

describe('/obs-reset', () => {
  it('sesame ends all relations of observable root children silently', () => {
    const names = ['obs', 'obs-non', 'obs-large', 'obs-pumping', 'obs-pumping-non'];
    const observers = names.map((n) => fakeObserver(res(n)));
    const ex = dispatch(t.root, { method: 'POST', path: '/obs-reset', payload: 'sesame' });
    expect(ex.response).toEqual({ code: Code.CHANGED });
    for (const o of observers) expect(o.cancelled).toEqual([undefined]);
    for (const n of names) expect(res(n).observers.size).toBe(0);
  });
  it('with query notfound the relations end with 4.04', () => {
    const o = fakeObserver(res('obs'));
    dispatch(t.root, { method: 'POST', path: '/obs-reset', payload: 'sesame', query: ['notfound'] });
    expect(o.cancelled).toEqual([Code.NOT_FOUND]);
  });
  it('other payload → 4.03 and relations stay', () => {
    const o = fakeObserver(res('obs'));
    expect(dispatch(t.root, { method: 'POST', path: '/obs-reset', payload: 'sesam' }).response).toEqual({
      code: Code.FORBIDDEN,
    });
    expect(o.cancelled).toEqual([]);
    expect(res('obs').observers.size).toBe(1);
  });
  it('does not touch relations of non-root resources', () => {
    dispatch(t.root, { method: 'POST', path: '/echo', query: ['keep', 'id=dev'], payload: 'x' });
    const kept = res('echo').children.get('dev')!;
    const o = fakeObserver(kept);
    dispatch(t.root, { method: 'POST', path: '/obs-reset', payload: 'sesame' });
    expect(o.cancelled).toEqual([]);
  });
});

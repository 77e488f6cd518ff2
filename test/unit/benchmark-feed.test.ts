// The benchmark client's feed resources (clients.md §3.6) served by a real endpoint over loopback UDP, requested
// and observed by a second endpoint (the role the server's /reverse-request and /reverse-observe play).
import { afterEach, describe, expect, it } from 'vitest';
import { CoapEndpoint } from '../../src/coap/endpoint.js';
import { UdpConnector } from '../../src/transport/udp-connector.js';
import { DEFAULT_STACK_CONFIG } from '../../src/coap/stack-config.js';
import { request, type RequestSpec } from '../../src/coap/client-layer.js';
import { Code, CON, NON, Opt, type CoapMessage } from '../../src/coap/message.js';
import { getUint } from '../../src/coap/options.js';
import { addChild, createResource } from '../../src/coap/resource.js';
import { TimerWheel } from '../../src/util/timer-wheel.js';
import { ConnectorTap } from '../../src/clients/benchmark/connector-tap.js';
import { createFeedResource, feedInterval, feedObservers } from '../../src/clients/benchmark/feed.js';
import { createState, type BenchmarkState } from '../../src/clients/benchmark/state.js';
import type { ReverseSettings } from '../../src/clients/benchmark/options.js';
import type { EndpointContext } from '../../src/transport/connector.js';

const endpoints: CoapEndpoint[] = [];
afterEach(async () => {
  for (const ep of endpoints.splice(0)) await ep.stop();
});

interface Setup {
  host: { index: number; stopped: boolean; tap: ConnectorTap };
  state: BenchmarkState;
  peer: CoapEndpoint;
  feedCtx: EndpointContext;
  feeds: ReturnType<typeof createFeedResource>[];
}

async function setup(reverse: ReverseSettings, expected = 1000): Promise<Setup> {
  const wheel = new TimerWheel(5, 256);
  const state = createState(1, 1, expected, 0);
  const tap = new ConnectorTap(new UdpConnector({ address: '127.0.0.1', port: 0 }));
  const host = { index: 3, stopped: false, tap };
  const root = createResource('');
  const feeds = (['CON', 'NON'] as const).map((t) => addChild(root, createFeedResource(t, host, reverse, state, wheel)));
  const feedEp = new CoapEndpoint({ connector: tap, config: { ...DEFAULT_STACK_CONFIG, maxResourceBodySize: 8192 }, root, wheel });
  tap.trackAcks();
  const peer = new CoapEndpoint({ connector: new UdpConnector({ address: '127.0.0.1', port: 0 }), config: DEFAULT_STACK_CONFIG, wheel });
  endpoints.push(feedEp, peer);
  await feedEp.start();
  await peer.start();
  return { host, state, peer, feedCtx: { address: '127.0.0.1', port: feedEp.info.localPort }, feeds };
}

function get(s: Setup, spec: Partial<RequestSpec> & { path: string }): Promise<CoapMessage> {
  return new Promise((resolve, reject) => {
    request(s.peer, { method: Code.GET, timeout: 2000, ...spec }, s.feedCtx, { onResponse: resolve, onError: reject });
  });
}

describe('feedInterval (cubic distribution)', () => {
  it('min = max gives that value; otherwise values in [min, max) favouring the middle', () => {
    expect(feedInterval(100, 100)).toBe(100);
    expect(feedInterval(-50, -50)).toBe(-50);
    let middle = 0;
    const n = 20_000;
    for (let i = 0; i < n; i++) {
      const v = feedInterval(-200, 200);
      expect(v).toBeGreaterThanOrEqual(-200);
      expect(v).toBeLessThan(200);
      if (v >= -100 && v < 100) middle++;
    }
    // uniform would put 50 % into the middle half; r³ puts P(|r| < 0.794) ≈ 79 % there
    expect(middle / n).toBeGreaterThan(0.75);
    expect(middle / n).toBeLessThan(0.84);
  });

  it('extremes of the random source map to min and (almost) max', () => {
    expect(feedInterval(0, 1000, () => 0)).toBe(0);
    expect(feedInterval(0, 1000, () => 0.5)).toBe(500);
    expect(feedInterval(0, 1000, () => 0.999999)).toBe(999);
  });
});

describe('feed resources', () => {
  it('GET answers `hello <index> feed-<k>` with rlen, Content-Format 0, and counts reverse responses', async () => {
    const s = await setup({ responses: 10, min: 100, max: 100 });
    const first = await get(s, { path: 'feed-CON', query: ['rlen=30'] });
    expect(first.code).toBe(Code.CONTENT);
    expect(first.payload.toString()).toBe('hello 3 feed-1' + '*'.repeat(16));
    expect(getUint(first, Opt.CONTENT_FORMAT)).toBe(0);
    const second = await get(s, { path: 'feed-NON', query: ['rlen=5'] });
    expect(second.payload.toString()).toBe('hello');
    const plain = await get(s, { path: 'feed-NON' });
    expect(plain.payload.toString()).toBe('hello 3 feed-3');
    expect(s.state.reverseLeft).toBe(1000 - 3);
  });

  it('Accept other than text → 4.06; bad or unknown query → 4.02; `ack` gives a separate response', async () => {
    const s = await setup({ responses: 10, min: 100, max: 100 });
    expect((await get(s, { path: 'feed-CON', accept: 50 })).code).toBe(Code.NOT_ACCEPTABLE);
    const bad = await get(s, { path: 'feed-CON', query: ['rlen=99999'] });
    expect(bad.code).toBe(Code.BAD_OPTION);
    expect(bad.payload.toString()).toBe("URI-query-option 'rlen=99999' is more than 8192!");
    expect((await get(s, { path: 'feed-CON', query: ['x=1'] })).code).toBe(Code.BAD_OPTION);
    const separate = await get(s, { path: 'feed-CON', query: ['ack'] });
    expect(separate.code).toBe(Code.CONTENT);
    expect(separate.type).toBe(CON);
    expect(s.state.reverseLeft).toBe(1000 - 1);
  });

  it('observe with a positive interval: notifications about every interval, registrations counted', async () => {
    const s = await setup({ responses: 10, min: 40, max: 40 });
    const notes: CoapMessage[] = [];
    const started = Date.now();
    const ex = request(s.peer, { method: Code.GET, path: 'feed-NON', observe: 0, timeout: 2000 }, s.feedCtx, {
      onResponse: () => {},
      onNotification: (m) => notes.push(m),
      onError: () => {},
    });
    await new Promise((r) => setTimeout(r, 450));
    ex.cancel();
    expect(s.state.feedRegistrations).toBe(1);
    expect(feedObservers(s.feeds)).toBe(1);
    // 450 ms / 40 ms ≈ 11; allow for timer granularity on a busy machine
    expect(notes.length).toBeGreaterThanOrEqual(5);
    expect(notes.length).toBeLessThanOrEqual(12);
    expect(notes.every((n) => n.type === NON)).toBe(true);
    expect(Date.now() - started).toBeGreaterThanOrEqual(450);
  });

  it('observe with interval ≤ 0: each change waits for the CON notification`s ACK', async () => {
    const s = await setup({ responses: 10, min: -30, max: -30 });
    const notes: CoapMessage[] = [];
    const ex = request(s.peer, { method: Code.GET, path: 'feed-CON', observe: 0, timeout: 2000 }, s.feedCtx, {
      onResponse: () => {},
      onNotification: (m) => notes.push(m),
      onError: () => {},
    });
    await new Promise((r) => setTimeout(r, 400));
    ex.cancel();
    // without ACK tracking no change would follow (the completion timeout is 5 s)
    expect(notes.length).toBeGreaterThanOrEqual(4);
    expect(notes.every((n) => n.type === CON)).toBe(true);
    expect(s.state.notifiesCompleteTimeouts).toBe(0);
  });

  it('a stopped client leaves GETs unanswered', async () => {
    const s = await setup({ responses: 10, min: 100, max: 100 });
    s.host.stopped = true;
    await expect(get(s, { path: 'feed-CON', type: NON, timeout: 300 })).rejects.toThrow('timeout');
    expect(s.state.reverseLeft).toBe(1000);
  });
});

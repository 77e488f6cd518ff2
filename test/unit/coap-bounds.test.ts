// Explicit bounds of the CoAP stack and their counters: the non-throwing decoder, deduplication bounded by
// messages and peers in every mode, block-wise state bounded in transfers and bytes, MAX_SERVER_OBSERVES=0
// as "no limit", and the /diagnose groups and health lines that show the evictions.
import { describe, expect, it } from 'vitest';
import type { Logger } from 'pino';
import { decode, decodeMessage, encode, isFormatFailure, CoapFormatError } from '../../src/coap/codec.js';
import { createDeduplicator, duplicateOf, type Deduplicator } from '../../src/coap/dedup.js';
import { TransferBudget, TransferStore, transferBytes, type Block1Transfer, type Block2Transfer } from '../../src/coap/blockwise.js';
import { BOUND_COUNTER_NAMES, PeriodCounters, counterLabel, periodRows, transferPeriod, type BoundCounterName } from '../../src/coap/stats.js';
import { DEFAULT_STACK_CONFIG, type CoapStackConfig } from '../../src/coap/stack-config.js';
import { CoapEndpoint } from '../../src/coap/endpoint.js';
import { ACK, CON, NON, RST, Code, Opt, type CoapMessage } from '../../src/coap/message.js';
import { addChild, createResource } from '../../src/coap/resource.js';
import { encodeUint } from '../../src/coap/options.js';
import type { Connector, EndpointContext } from '../../src/transport/connector.js';
import { CoapServer } from '../../src/coap/server.js';
import { boundGroups, createDiagnosticsSource } from '../../src/resources/extended/diagnostics-source.js';
import { diagnoseText } from '../../src/resources/extended/diagnose.js';
import { dumpHealth } from '../../src/server/health.js';
import { parseProperties, stackConfigFor } from '../../src/config/index.js';
import { createMetrics } from '../../src/monitor/metrics.js';
import { mulberry32 } from '../helpers/random.js';

/** `check` answered as before: undefined for a new message, the earlier message's handle for a duplicate. */
const check = (d: Deduplicator, peer: string, mid: number, time: number, con = true): number | undefined => {
  const r = d.check(peer, mid, time, con);
  return r < 0 ? duplicateOf(r) : undefined;
};
const counters = (): PeriodCounters<BoundCounterName> => new PeriodCounters(BOUND_COUNTER_NAMES);

describe('decoder without exceptions (RFC 7252 §3)', () => {
  it('returns a format failure with the readable header instead of throwing', () => {
    const cases: Array<[Buffer, string, boolean]> = [
      [Buffer.from([0x40, 0x01]), 'message shorter than 4 bytes', false],
      [Buffer.from([0x80, 0x01, 0x00, 0x01]), 'version 2', false],
      [Buffer.from([0x49, 0x01, 0x12, 0x34, 1, 2, 3, 4, 5, 6, 7, 8, 9]), 'token length 9', true],
      [Buffer.from([0x40, 0x01, 0x12, 0x34, 0xff]), 'payload marker without payload', true],
      [Buffer.from([0x40, 0x01, 0x12, 0x34, 0xf1, 0x00]), 'reserved option nibble 15', true],
      [Buffer.from([0x40, 0x01, 0x12, 0x34, 0xb5, 0x61]), 'option value exceeds message', true],
      [Buffer.from([0x41, 0x00, 0x12, 0x34, 0x07]), 'empty message with content', true],
    ];
    for (const [buf, reason, hasHeader] of cases) {
      const r = decodeMessage(buf);
      expect(isFormatFailure(r), reason).toBe(true);
      expect(r).toMatchObject({ reason, hasHeader });
      expect(r).not.toBeInstanceOf(Error);
    }
    expect(decodeMessage(Buffer.from([0x49, 0x01, 0x12, 0x34, 1, 2, 3, 4, 5, 6, 7, 8, 9]))).toMatchObject({ type: CON, mid: 0x1234 });
    // the throwing wrapper for tools and tests keeps its behaviour
    expect(() => decode(Buffer.from([0x40]))).toThrow(CoapFormatError);
  });

  it('random datagrams never throw; valid messages decode as before', () => {
    const rnd = mulberry32(7);
    const msg: CoapMessage = { type: NON, code: Code.GET, mid: 5, token: Buffer.from([1, 2]), options: [{ number: Opt.URI_PATH, value: Buffer.from('x') }], payload: Buffer.from('p') };
    const good = encode(msg);
    let failures = 0;
    for (let i = 0; i < 20_000; i++) {
      const len = Math.floor(rnd() * 40);
      const buf = Buffer.alloc(len);
      for (let j = 0; j < len; j++) buf[j] = Math.floor(rnd() * 256);
      if (len > 0 && rnd() < 0.5) buf[0] = 0x40 | (buf[0]! & 0x3f); // version 1 more often
      const r = decodeMessage(buf);
      if (isFormatFailure(r)) failures++;
    }
    expect(failures).toBeGreaterThan(1000);
    const back = decodeMessage(good);
    expect(isFormatFailure(back)).toBe(false);
    expect(encode(back as CoapMessage)).toEqual(good);
  });
});

describe('deduplication bounds (COAP.DEDUPLICATOR_MAX_MESSAGES, MAX_ACTIVE_PEERS, PEERS_MARK_AND_SWEEP_MESSAGES)', () => {
  it('MARK_AND_SWEEP: MAX_ACTIVE_PEERS counts peers, not messages', () => {
    const c = counters();
    const d = createDeduplicator({ ...DEFAULT_STACK_CONFIG, deduplicator: 'MARK_AND_SWEEP', maxActivePeers: 3 }, c);
    // one peer with many messages stays fully remembered (Californium: bounded by the lifetime only)
    for (let mid = 0; mid < 500; mid++) check(d, 'p', mid, mid);
    expect(d.size).toBe(500);
    expect(check(d, 'p', 0, 600)).toBeDefined();
    for (const peer of ['q', 'r', 's']) check(d, peer, 1, 700);
    expect(d.peers).toBe(3);
    expect(c.get('dedup-evicted peers')).toBe(1);
    expect(d.size).toBe(3); // p and its 500 messages went with it
    expect(check(d, 'p', 0, 800)).toBeUndefined();
  });

  it('MARK_AND_SWEEP: at most DEDUPLICATOR_MAX_MESSAGES messages, the oldest forgotten and counted', () => {
    const c = counters();
    const d = createDeduplicator({ ...DEFAULT_STACK_CONFIG, deduplicator: 'MARK_AND_SWEEP', dedupMaxMessages: 100 }, c);
    for (let i = 0; i < 250; i++) check(d, 'p' + (i % 10), i, i * 10);
    expect(d.size).toBe(100);
    expect(c.get('dedup-evicted messages')).toBe(150);
    // the youngest are still duplicates, the oldest are not
    expect(check(d, 'p9', 249, 3000)).toBeDefined();
    expect(check(d, 'p0', 0, 3000)).toBeUndefined();
  });

  it('PEERS_MARK_AND_SWEEP: per peer, per peers and in total, each eviction counted under its own key', () => {
    const c = counters();
    const cfg: CoapStackConfig = { ...DEFAULT_STACK_CONFIG, deduplicator: 'PEERS_MARK_AND_SWEEP', peersMarkAndSweepMessages: 4, maxActivePeers: 5, dedupMaxMessages: 12 };
    const d = createDeduplicator(cfg, c);
    for (let mid = 0; mid < 10; mid++) check(d, 'a', mid, mid);
    expect(d.size).toBe(4);
    expect(c.get('dedup-evicted peer messages')).toBe(6);
    for (const peer of ['b', 'c', 'd']) for (let mid = 0; mid < 4; mid++) check(d, peer, mid, 2000);
    expect(d.size).toBe(12);
    expect(c.get('dedup-evicted messages')).toBe(4); // a's messages made room, oldest first
    expect(check(d, 'a', 9, 2001)).toBeUndefined();
    for (const peer of ['e', 'f', 'g']) check(d, peer, 1, 3000);
    expect(d.peers).toBeLessThanOrEqual(5);
    expect(c.get('dedup-evicted peers')).toBeGreaterThan(0);
    expect(d.size).toBeLessThanOrEqual(12);
  });

  it('CROP_ROTATION: a generation holds half the messages and half the peers; early rotations count what they drop', () => {
    const c = counters();
    const d = createDeduplicator({ ...DEFAULT_STACK_CONFIG, deduplicator: 'CROP_ROTATION', dedupMaxMessages: 20, maxActivePeers: 1000 }, c);
    const now = Date.now();
    for (let mid = 0; mid < 35; mid++) check(d, 'p', mid, now);
    expect(d.size).toBeLessThanOrEqual(20);
    // generations of 10: rotating at mid 10 drops nothing, at mid 20 and 30 a generation of 10 young messages
    expect(c.get('dedup-evicted messages')).toBe(20);
    const p = counters();
    const byPeers = createDeduplicator({ ...DEFAULT_STACK_CONFIG, deduplicator: 'CROP_ROTATION', dedupMaxMessages: 1000, maxActivePeers: 4 }, p);
    for (let i = 0; i < 7; i++) check(byPeers, 'peer' + i, 1, now);
    expect(byPeers.peers).toBeLessThanOrEqual(4);
    // generations of 2 peers: peer2 rotates (nothing dropped), peer4 and peer6 drop a generation of 2 each
    expect(p.get('dedup-evicted peers')).toBe(4);
    expect(p.get('dedup-evicted messages')).toBe(4);
  });

  it('a sweep (lifetime) is not an eviction', () => {
    const c = counters();
    const d = createDeduplicator({ ...DEFAULT_STACK_CONFIG, deduplicator: 'PEERS_MARK_AND_SWEEP' }, c);
    for (let mid = 0; mid < 10; mid++) check(d, 'a', mid, 0);
    d.sweep(DEFAULT_STACK_CONFIG.exchangeLifetime + 1);
    expect(d.size).toBe(0);
    expect(c.rows().every(([, cur]) => cur === 0)).toBe(true);
  });

  it('the key is read from the properties (default and explicit value)', () => {
    expect(stackConfigFor(parseProperties(''), 'extended', false).dedupMaxMessages).toBe(DEFAULT_STACK_CONFIG.dedupMaxMessages);
    const p = parseProperties('COAP.DEDUPLICATOR_MAX_MESSAGES=1234\nCOAP.BLOCKWISE_MAX_TOTAL_BYTES=65536\n');
    expect(stackConfigFor(p, 'extended', false)).toMatchObject({ dedupMaxMessages: 1234, blockwiseMaxTotalBytes: 65536 });
  });
});

describe('block-wise transfer state bounded in transfers and bytes', () => {
  const block2 = (bytes: number, time: number): Block2Transfer => ({ code: Code.CONTENT, payload: Buffer.alloc(bytes), options: [], time });

  it('a shared byte budget evicts the least recently used transfer of either store, counted', () => {
    const c = counters();
    const budget = new TransferBudget(10_000, c);
    const b1 = new TransferStore<Block1Transfer>(100, 60_000, budget, transferBytes, c);
    const b2 = new TransferStore<Block2Transfer>(100, 60_000, budget, transferBytes, c);
    const upload: Block1Transfer = { chunks: [], length: 0, format: 0, time: 1 };
    b1.set('up', upload);
    b2.set('a', block2(4000, 2));
    b2.set('b', block2(4000, 3));
    expect(budget.bytes).toBe(8000);
    upload.chunks.push(Buffer.alloc(1500));
    upload.length += 1500;
    b1.touch('up', upload, 4); // now the youngest: 9500 bytes in all
    expect(budget.bytes).toBe(9500);
    b2.set('c', block2(3000, 5)); // 12500 > 10000: 'a' (least recently used) goes
    expect(b2.get('a', 6)).toBeUndefined();
    expect(b2.get('b', 6)).toBeDefined();
    expect(b1.get('up', 6)).toBe(upload);
    expect(budget.bytes).toBe(8500);
    expect(c.get('blockwise-evicted by bytes')).toBe(1);
    b1.delete('up');
    b2.clear();
    expect(budget.bytes).toBe(0);
  });

  it('a single transfer above the budget stays (it is bounded by MAX_RESOURCE_BODY_SIZE), the others go', () => {
    const c = counters();
    const budget = new TransferBudget(1024, c);
    const s = new TransferStore<Block2Transfer>(100, 60_000, budget, transferBytes, c);
    s.set('small', block2(500, 1));
    s.set('huge', block2(5000, 2));
    expect(s.size).toBe(1);
    expect(s.get('huge', 3)).toBeDefined();
    expect(c.get('blockwise-evicted by bytes')).toBe(1);
  });

  it('the transfer count bound evicts the oldest, counted separately; expiry is not counted', () => {
    const c = counters();
    const s = new TransferStore<Block2Transfer>(2, 1000, new TransferBudget(1 << 20, c), transferBytes, c);
    s.set('a', block2(10, 0));
    s.set('b', block2(10, 0));
    s.set('c', block2(10, 0));
    expect(s.size).toBe(2);
    expect(c.get('blockwise-evicted transfers')).toBe(1);
    s.sweep(5000);
    expect(s.size).toBe(0);
    expect(c.get('blockwise-evicted transfers')).toBe(1);
  });
});

/** A connector that delivers nothing by itself: the test injects datagrams and collects what is sent. */
function memoryConnector(): Connector & { sent: CoapMessage[] } {
  const sent: CoapMessage[] = [];
  return {
    protocol: 'UDP',
    scheme: 'coap',
    localAddress: '127.0.0.1',
    localPort: 5683,
    onDatagram: () => {},
    start: async () => {},
    stop: async () => {},
    send: (data: Buffer) => {
      sent.push(decode(data));
    },
    sent,
  };
}

function observeGet(mid: number): Buffer {
  const token = Buffer.alloc(4);
  token.writeUInt32BE(mid);
  return encode({ type: CON, code: Code.GET, mid, token, options: [{ number: Opt.OBSERVE, value: encodeUint(0) }, { number: Opt.URI_PATH, value: Buffer.from('obs') }], payload: Buffer.alloc(0) });
}

async function observeEndpoint(maxServerObserves: number): Promise<{ ep: CoapEndpoint; connector: ReturnType<typeof memoryConnector> }> {
  const root = createResource('');
  addChild(root, createResource('obs', { observable: true, handlers: { GET: (ex) => ex.respond({ code: Code.CONTENT, payload: 'v', format: 0 }) } }));
  const connector = memoryConnector();
  const ep = new CoapEndpoint({ connector, config: { ...DEFAULT_STACK_CONFIG, maxServerObserves }, root });
  await ep.start();
  return { ep, connector };
}

describe('COAP.MAX_SERVER_OBSERVES', () => {
  const ctx = (port: number): EndpointContext => ({ address: '10.0.0.1', port });

  it('0 means no limit', async () => {
    const { ep, connector } = await observeEndpoint(0);
    try {
      for (let i = 1; i <= 50; i++) connector.onDatagram(observeGet(i), ctx(1000 + i));
      expect(ep.relations.size).toBe(50);
      expect(connector.sent.every((m) => m.type === ACK && m.options.some((o) => o.number === Opt.OBSERVE))).toBe(true);
      expect(ep.stats.bounds.get('observe-refused relations')).toBe(0);
    } finally {
      await ep.stop();
    }
  });

  it('a limit refuses further relations (answered without Observe) and counts them', async () => {
    const { ep, connector } = await observeEndpoint(3);
    try {
      for (let i = 1; i <= 5; i++) connector.onDatagram(observeGet(i), ctx(2000 + i));
      expect(ep.relations.size).toBe(3);
      const withObserve = connector.sent.filter((m) => m.options.some((o) => o.number === Opt.OBSERVE));
      expect(withObserve).toHaveLength(3);
      expect(connector.sent).toHaveLength(5);
      expect(ep.stats.bounds.get('observe-refused relations')).toBe(2);
    } finally {
      await ep.stop();
    }
  });

  it('a malformed CON is answered with RST and counted, without an exception', async () => {
    const { ep, connector } = await observeEndpoint(0);
    try {
      connector.onDatagram(Buffer.from([0x4f, 0x01, 0x00, 0x42]), ctx(3000));
      expect(connector.sent.map((m) => [m.type, m.mid])).toEqual([[RST, 0x42]]);
      expect(ep.stats.get('recv-malformed')).toBe(1);
    } finally {
      await ep.stop();
    }
  });
});

describe('visibility: /diagnose groups and the health log', () => {
  it('cumulative counter objects are split into periods by transferPeriod', () => {
    const owner = {};
    const stats = { helloVerifyRequests: 3, refusedHandshakes: 0, text: 'ignored' };
    expect(periodRows(owner, 'x', stats)).toEqual([['helloVerifyRequests', 3, 0], ['refusedHandshakes', 0, 0]]);
    transferPeriod(owner, 'x', stats);
    stats.helloVerifyRequests = 5;
    expect(periodRows(owner, 'x', stats)).toEqual([['helloVerifyRequests', 2, 3], ['refusedHandshakes', 0, 0]]);
    expect(counterLabel('helloVerifyRequests')).toBe('hello verify requests');
  });

  it('shows bound counters, every detailStats field and transportStats, and logs the ones that counted', async () => {
    const connector = Object.assign(memoryConnector(), {
      detailStats: { helloVerifyRequests: 2, fieldAddedLater: 7 },
      transportStats: { floodDrops: 4 },
    });
    const server = new CoapServer('T', createResource(''));
    const ep = server.addEndpoint(connector, DEFAULT_STACK_CONFIG);
    ep.stats.bounds.inc('dedup-evicted peers', 3);
    const groups = boundGroups(ep);
    expect(groups.map((g) => g.tag)).toEqual(['dtls-details:127.0.0.1:5683', 'transport:127.0.0.1:5683', 'bounds:coap://127.0.0.1:5683']);
    expect(groups[0]!.counters).toEqual([['hello verify requests', 2, 0], ['field added later', 7, 0]]);
    expect(groups[2]!.counters.map((r) => r[0])).toEqual([...BOUND_COUNTER_NAMES]);
    const src = createDiagnosticsSource({ servers: () => [server], counters: true });
    const text = diagnoseText({ systemStart: 1, since: 0, groups: src.endpoints()[0]!.groups() });
    expect(text).toContain('\nbounds:coap://127.0.0.1:5683\n   dedup-evicted messages,0,0\n   dedup-evicted peer messages,0,0\n   dedup-evicted peers,3,0\n');
    expect(text).toContain('\ntransport:127.0.0.1:5683\n   flood drops,4,0\n');

    const lines: Array<{ obj: Record<string, unknown>; msg: string }> = [];
    const logger = { info: (obj: Record<string, unknown>, msg: string) => lines.push({ obj, msg }) } as unknown as Logger;
    dumpHealth([server], logger);
    expect(lines).toHaveLength(1);
    expect(lines[0]!.msg).toContain('bounds: dedup-evicted peers 3');
    expect(lines[0]!.msg).toContain('dtls-details: hello verify requests 2, field added later 7');
    expect(lines[0]!.msg).toContain('transport: flood drops 4');
    expect((lines[0]!.obj.stats as { groups: Record<string, unknown> }).groups['bounds:coap://127.0.0.1:5683']).toEqual({ 'dedup-evicted peers': [3, 3] });
    // the next period starts from zero, the totals keep the earlier periods
    connector.detailStats.helloVerifyRequests = 3;
    const after = boundGroups(ep);
    expect(after[0]!.counters[0]).toEqual(['hello verify requests', 1, 2]);
    expect(after[2]!.counters.find((r) => r[0] === 'dedup-evicted peers')).toEqual(['dedup-evicted peers', 0, 3]);
    lines.length = 0;
    dumpHealth([server], logger);
    expect(lines[0]!.msg).toContain('dedup-evicted peers 0 (3 overall)');
    expect(lines[0]!.msg).toContain('hello verify requests 1 (3 overall)');

    // prom metrics: bound counters as running totals, transportStats by counter name, detailStats fields
    const metrics = createMetrics(() => [server]);
    try {
      const text = await metrics.render();
      const labels = 'server="T",endpoint="coap://127.0.0.1:5683"';
      expect(text).toContain(`extplugtest_coap_dedup_evicted_peers_total{${labels}} 3\n`);
      expect(text).toContain(`extplugtest_coap_observe_refused_relations_total{${labels}} 0\n`);
      expect(text).toContain(`extplugtest_transport_events_total{${labels},counter="flood drops"} 4\n`);
      expect(text).toContain(`extplugtest_dtls_hello_verify_requests_total{${labels}} 3\n`);
    } finally {
      metrics.stop();
    }
  });
});

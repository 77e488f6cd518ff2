// Deduplicator bounds and lifetimes (config.md §2 deduplication semantics), and the timer wheel.
import { describe, expect, it, vi } from 'vitest';
import { createDeduplicator, duplicateOf, INLINE_RESPONSE_BYTES, type Deduplicator } from '../../src/coap/dedup.js';
import { BOUND_COUNTER_NAMES, PeriodCounters, type BoundCounterName } from '../../src/coap/stats.js';
import { DEFAULT_STACK_CONFIG } from '../../src/coap/stack-config.js';
import { TimerWheel } from '../../src/util/timer-wheel.js';

/** `check` answered as before: undefined for a new message, the earlier message's handle for a duplicate. */
const check = (d: Deduplicator, peer: string, mid: number, time: number, con = true): number | undefined => {
  const r = d.check(peer, mid, time, con);
  return r < 0 ? duplicateOf(r) : undefined;
};

describe('deduplicator', () => {
  it('MARK_AND_SWEEP finds duplicates within EXCHANGE_LIFETIME and forgets them after', () => {
    const d = createDeduplicator({ ...DEFAULT_STACK_CONFIG, deduplicator: 'MARK_AND_SWEEP' });
    const first = d.check('a', 1, 0, true);
    expect(first).toBeGreaterThanOrEqual(0); // new
    expect(check(d, 'a', 1, 1000)).toBe(first);
    expect(check(d, 'b', 1, 1000)).toBeUndefined();
    d.sweep(DEFAULT_STACK_CONFIG.exchangeLifetime + 1);
    expect(d.size).toBe(1);
    d.sweep(DEFAULT_STACK_CONFIG.exchangeLifetime + 2000);
    expect(d.size).toBe(0);
  });

  it('NON entries live NON_LIFETIME', () => {
    const d = createDeduplicator({ ...DEFAULT_STACK_CONFIG, deduplicator: 'MARK_AND_SWEEP' });
    check(d, 'a', 1, 0, false);
    d.sweep(DEFAULT_STACK_CONFIG.nonLifetime + 1);
    expect(d.size).toBe(0);
  });

  it('PEERS_MARK_AND_SWEEP keeps at most N messages per peer and at most MAX_ACTIVE_PEERS peers', () => {
    const d = createDeduplicator({ ...DEFAULT_STACK_CONFIG, deduplicator: 'PEERS_MARK_AND_SWEEP', peersMarkAndSweepMessages: 4, maxActivePeers: 3 });
    for (let mid = 0; mid < 10; mid++) check(d, 'p', mid, mid);
    expect(d.size).toBe(4);
    expect(check(d, 'p', 9, 20)).toBeDefined();
    expect(check(d, 'p', 0, 20)).toBeUndefined(); // evicted, so not a duplicate any more
    for (const peer of ['q', 'r', 's', 't']) check(d, peer, 1, 30);
    expect(d.size).toBeLessThanOrEqual(3 * 4);
  });

  it('MARK_AND_SWEEP is bounded by MAX_ACTIVE_PEERS entries', () => {
    const d = createDeduplicator({ ...DEFAULT_STACK_CONFIG, deduplicator: 'MARK_AND_SWEEP', maxActivePeers: 100 });
    for (let i = 0; i < 1000; i++) check(d, 'p' + i, i, i);
    expect(d.size).toBe(100);
  });

  it('NO_DEDUPLICATOR never reports duplicates', () => {
    const d = createDeduplicator({ ...DEFAULT_STACK_CONFIG, deduplicator: 'NO_DEDUPLICATOR' });
    check(d, 'a', 1, 0);
    expect(check(d, 'a', 1, 0)).toBeUndefined();
  });

  it('CROP_ROTATION forgets after two periods', () => {
    const d = createDeduplicator({ ...DEFAULT_STACK_CONFIG, deduplicator: 'CROP_ROTATION', cropRotationPeriod: 1000 });
    const now = Date.now();
    check(d, 'a', 1, now);
    d.sweep(now + 1000);
    expect(check(d, 'a', 1, now + 1000)).toBeDefined();
    d.sweep(now + 2000);
    d.sweep(now + 3000);
    expect(check(d, 'a', 1, now + 3000)).toBeUndefined();
  });
});

describe('deduplicator slots (state packed in typed arrays)', () => {
  const bytes = (n: number, seed: number): Buffer => Buffer.from(Array.from({ length: n }, (_, i) => (i * 7 + seed) & 0xff));

  it('a stale handle (its message evicted, the slot reused) writes nothing into the new owner', () => {
    const c = new PeriodCounters<BoundCounterName>(BOUND_COUNTER_NAMES);
    const d = createDeduplicator({ ...DEFAULT_STACK_CONFIG, deduplicator: 'MARK_AND_SWEEP', dedupMaxMessages: 2 }, c);
    const h1 = d.check('a', 1, 0, true);
    d.check('a', 2, 0, true);
    const h3 = d.check('a', 3, 0, true); // evicts MID 1 and takes its slot
    expect(c.get('dedup-evicted messages')).toBe(1);
    expect(h3).toBeGreaterThanOrEqual(0);
    expect(h3).not.toBe(h1);
    d.setResponse(h1, bytes(10, 1));
    d.setAccepted(h1);
    expect(d.response(h1)).toBeUndefined();
    expect(d.accepted(h1)).toBe(false);
    expect(check(d, 'a', 3, 1)).toBe(h3);
    expect(d.response(h3)).toBeUndefined();
    expect(d.accepted(h3)).toBe(false);
    expect(check(d, 'a', 1, 1)).toBeUndefined(); // forgotten, so new again
    // a stale handle after clear() too
    d.clear();
    d.setResponse(h3, bytes(10, 2));
    expect(d.response(h3)).toBeUndefined();
  });

  it('a handle stays stale however often its slot is reused (no generation wrap within 2^32 reuses)', () => {
    const d = createDeduplicator({ ...DEFAULT_STACK_CONFIG, deduplicator: 'PEERS_MARK_AND_SWEEP', peersMarkAndSweepMessages: 4, dedupMaxMessages: 1 });
    const h0 = d.check('a', 0, 0, true);
    let last = h0;
    // one slot, reused 65,536 times: a 16-bit generation would be back at h0's
    for (let i = 1; i <= 65_536; i++) last = d.check('a', i & 0xffff, 0, true);
    expect(d.size).toBe(1);
    expect(d.capacity).toBe(1);
    d.setResponse(h0, bytes(5, 1));
    d.setAccepted(h0);
    expect(d.response(last)).toBeUndefined();
    expect(d.accepted(last)).toBe(false);
    d.setResponse(last, bytes(5, 2));
    expect(d.response(check(d, 'a', 0, 1)!)).toEqual(bytes(5, 2));
  });

  it('the peer list keeps least-recently-active order: a peer active again after 1 s is evicted last', () => {
    const c = new PeriodCounters<BoundCounterName>(BOUND_COUNTER_NAMES);
    const d = createDeduplicator({ ...DEFAULT_STACK_CONFIG, deduplicator: 'MARK_AND_SWEEP', maxActivePeers: 3, maxPeerInactivityPeriod: 10_000 }, c);
    for (const peer of ['a', 'b', 'c']) d.check(peer, 1, 0, true);
    d.check('a', 2, 2000, true); // a moves to the young end
    d.check('d', 1, 2000, true); // evicts b, the least recently active
    expect(c.get('dedup-evicted peers')).toBe(1);
    expect(check(d, 'b', 1, 2000)).toBeUndefined(); // forgotten: new again, and evicts c, now the oldest
    expect(c.get('dedup-evicted peers')).toBe(2);
    expect(check(d, 'a', 1, 2000)).toBeDefined();
    expect(check(d, 'd', 1, 2000)).toBeDefined();
    expect(check(d, 'b', 1, 2000)).toBeDefined();
    expect(d.peers).toBe(3);
    expect(check(d, 'c', 1, 2000)).toBeUndefined();
    // a sweep drops peers with no messages left after MAX_PEER_INACTIVITY_PERIOD, the list stays consistent
    d.sweep(DEFAULT_STACK_CONFIG.exchangeLifetime + 20_000);
    expect([d.size, d.peers]).toEqual([0, 0]);
    for (const peer of ['x', 'y', 'z', 'w']) d.check(peer, 1, DEFAULT_STACK_CONFIG.exchangeLifetime + 30_000, true);
    expect(d.peers).toBe(3);
    expect(check(d, 'x', 1, DEFAULT_STACK_CONFIG.exchangeLifetime + 30_001)).toBeUndefined();
  });

  it('small (inline) and large responses round-trip byte-exact through a duplicate', () => {
    for (const mode of ['MARK_AND_SWEEP', 'PEERS_MARK_AND_SWEEP', 'CROP_ROTATION'] as const) {
      const d = createDeduplicator({ ...DEFAULT_STACK_CONFIG, deduplicator: mode });
      const sizes = [0, 1, 50, INLINE_RESPONSE_BYTES, INLINE_RESPONSE_BYTES + 1, 1200];
      const sent = sizes.map((n, i) => bytes(n, i));
      const handles = sizes.map((_, i) => d.check('p', i, 0, true));
      handles.forEach((h, i) => d.setResponse(h, sent[i]!));
      const kept = sent.map((b) => Buffer.from(b));
      for (const b of sent) b.fill(0xee); // the layer never changes sent bytes; small ones are copies anyway
      sizes.forEach((n, i) => {
        const dup = check(d, 'p', i, 1000);
        expect(dup).toBe(handles[i]);
        const r = d.response(dup!);
        expect(r).toBeInstanceOf(Buffer);
        expect(r!.length).toBe(n);
        if (n <= INLINE_RESPONSE_BYTES) expect(r).toEqual(kept[i]);
        else expect(r).toBe(sent[i]); // a large response is kept as the Buffer that was sent
      });
      // a later response replaces the earlier one (inline ↔ large)
      d.setResponse(handles[2]!, bytes(300, 9));
      d.setResponse(handles[4]!, bytes(3, 9));
      expect(d.response(handles[2]!)).toEqual(bytes(300, 9));
      expect(d.response(handles[4]!)).toEqual(bytes(3, 9));
      // accepted (separate response pending) is kept per message
      d.setAccepted(handles[1]!);
      expect([d.accepted(handles[0]!), d.accepted(handles[1]!)]).toEqual([false, true]);
    }
  });

  it('reuses the slots freed by a sweep instead of growing', () => {
    const d = createDeduplicator({ ...DEFAULT_STACK_CONFIG, deduplicator: 'MARK_AND_SWEEP' });
    expect(d.capacity).toBe(0); // an idle endpoint reserves nothing
    for (let i = 0; i < 1000; i++) d.check('p' + (i % 7), i, 0, i % 2 === 0);
    const capacity = d.capacity;
    expect(capacity).toBeGreaterThanOrEqual(1000);
    expect(capacity).toBeLessThan(4096);
    d.sweep(DEFAULT_STACK_CONFIG.exchangeLifetime + 1);
    expect(d.size).toBe(0);
    for (let i = 0; i < 1000; i++) d.setResponse(d.check('q' + (i % 5), i, DEFAULT_STACK_CONFIG.exchangeLifetime + 2, true), bytes(20, i));
    expect(d.size).toBe(1000);
    expect(d.capacity).toBe(capacity);
    for (let i = 0; i < 1000; i++) expect(d.response(check(d, 'q' + (i % 5), i, DEFAULT_STACK_CONFIG.exchangeLifetime + 3)!)).toEqual(bytes(20, i));
  });

  it('grows by doubling beyond the initial capacity, up to DEDUPLICATOR_MAX_MESSAGES', () => {
    const d = createDeduplicator({ ...DEFAULT_STACK_CONFIG, deduplicator: 'MARK_AND_SWEEP', dedupMaxMessages: 5000 });
    d.check('p', 0, 0, true);
    const initial = d.capacity;
    expect(initial).toBeGreaterThan(0);
    expect(initial).toBeLessThan(5000);
    for (let i = 1; i < 4000; i++) d.setResponse(d.check('p' + (i % 3), i, 0, true), bytes(40 + (i % 60), i));
    expect(d.capacity).toBeGreaterThanOrEqual(4000);
    expect(d.capacity).toBeLessThanOrEqual(5000);
    // the responses survived the copies into the grown arrays
    const wrong: number[] = [];
    for (let i = 1; i < 4000; i++) if (d.response(check(d, 'p' + (i % 3), i, 1)!)?.equals(bytes(40 + (i % 60), i)) !== true) wrong.push(i);
    expect(wrong).toEqual([]);
    for (let i = 4000; i < 9000; i++) d.check('p' + (i % 3), i, 2, true);
    expect(d.size).toBe(5000);
    expect(d.capacity).toBe(5000);
  });

  it('the message bound still evicts oldest first and counts, the survivors keep their responses', () => {
    const c = new PeriodCounters<BoundCounterName>(BOUND_COUNTER_NAMES);
    const d = createDeduplicator({ ...DEFAULT_STACK_CONFIG, deduplicator: 'MARK_AND_SWEEP', dedupMaxMessages: 300 }, c);
    // one peer: its oldest message is the oldest of all
    for (let i = 0; i < 1000; i++) d.setResponse(d.check('p', i, i, true), bytes(50, i));
    expect(d.size).toBe(300);
    expect(c.get('dedup-evicted messages')).toBe(700);
    expect(d.capacity).toBeLessThanOrEqual(300);
    for (let i = 700; i < 1000; i++) expect(d.response(check(d, 'p', i, 1000)!)).toEqual(bytes(50, i));
    expect(check(d, 'p', 0, 1000)).toBeUndefined();
    expect(c.get('dedup-evicted messages')).toBe(701);
  });

  it('CROP_ROTATION rotates, counts what an early rotation drops and frees its slots', () => {
    const c = new PeriodCounters<BoundCounterName>(BOUND_COUNTER_NAMES);
    const d = createDeduplicator({ ...DEFAULT_STACK_CONFIG, deduplicator: 'CROP_ROTATION', dedupMaxMessages: 100, cropRotationPeriod: 1000 }, c);
    const now = Date.now();
    const handles: number[] = [];
    for (let mid = 0; mid < 250; mid++) {
      const h = d.check('p', mid, now, true);
      d.setResponse(h, bytes(30, mid));
      handles.push(h);
    }
    // generations of 50: rotations at 50 (nothing dropped), 100, 150, 200 (50 young each)
    expect(d.size).toBe(100);
    expect(c.get('dedup-evicted messages')).toBe(150);
    expect(d.capacity).toBeLessThanOrEqual(100);
    expect(d.response(handles[0]!)).toBeUndefined(); // dropped: stale
    expect(d.response(check(d, 'p', 160, now)!)).toEqual(bytes(30, 160));
    expect(d.response(check(d, 'p', 249, now)!)).toEqual(bytes(30, 249));
    d.sweep(now + 1000);
    d.sweep(now + 2000);
    expect(d.size).toBe(0);
    expect(c.get('dedup-evicted messages')).toBe(150); // rotations by the period are not evictions
    expect(check(d, 'p', 249, now + 2000)).toBeUndefined();
  });
});

describe('timer wheel', () => {
  it('runs callbacks in deadline order, not before their time, and skips cancelled ones', () => {
    vi.useFakeTimers();
    try {
      const wheel = new TimerWheel(10, 16);
      const ran: string[] = [];
      wheel.schedule(300, () => ran.push('c'));
      wheel.schedule(50, () => ran.push('a'));
      const h = wheel.schedule(100, () => ran.push('x'));
      wheel.schedule(120, () => ran.push('b'));
      h.cancel();
      vi.advanceTimersByTime(40);
      expect(ran).toEqual([]);
      vi.advanceTimersByTime(100);
      expect(ran).toEqual(['a', 'b']);
      vi.advanceTimersByTime(200);
      expect(ran).toEqual(['a', 'b', 'c']);
      expect(wheel.size).toBe(0);
    } finally {
      vi.useRealTimers();
    }
  });
});

describe('timer wheel cancel', () => {
  it('removes a cancelled entry at once (size drops) and keeps the others running', () => {
    vi.useFakeTimers();
    try {
      const wheel = new TimerWheel(10, 16);
      const ran: number[] = [];
      const handles = [0, 1, 2, 3, 4].map((i) => wheel.schedule(50, () => ran.push(i)));
      expect(wheel.size).toBe(5);
      handles[1]!.cancel();
      handles[4]!.cancel();
      handles[1]!.cancel();
      expect(wheel.size).toBe(3);
      vi.advanceTimersByTime(100);
      expect(ran.sort()).toEqual([0, 2, 3]);
      expect(wheel.size).toBe(0);
      handles[0]!.cancel();
      expect(wheel.size).toBe(0);
    } finally {
      vi.useRealTimers();
    }
  });
});

// Deduplicator bounds and lifetimes (config.md §2 deduplication semantics), and the timer wheel.
import { describe, expect, it, vi } from 'vitest';
import { createDeduplicator, type DedupEntry } from '../../src/coap/dedup.js';
import { DEFAULT_STACK_CONFIG } from '../../src/coap/stack-config.js';
import { TimerWheel } from '../../src/util/timer-wheel.js';

const entry = (time: number, con = true): DedupEntry => ({ accepted: false, time, con });

describe('deduplicator', () => {
  it('MARK_AND_SWEEP finds duplicates within EXCHANGE_LIFETIME and forgets them after', () => {
    const d = createDeduplicator({ ...DEFAULT_STACK_CONFIG, deduplicator: 'MARK_AND_SWEEP' });
    const first = entry(0);
    expect(d.check('a', 1, first)).toBeUndefined();
    expect(d.check('a', 1, entry(1000))).toBe(first);
    expect(d.check('b', 1, entry(1000))).toBeUndefined();
    d.sweep(DEFAULT_STACK_CONFIG.exchangeLifetime + 1);
    expect(d.size).toBe(1);
    d.sweep(DEFAULT_STACK_CONFIG.exchangeLifetime + 2000);
    expect(d.size).toBe(0);
  });

  it('NON entries live NON_LIFETIME', () => {
    const d = createDeduplicator({ ...DEFAULT_STACK_CONFIG, deduplicator: 'MARK_AND_SWEEP' });
    d.check('a', 1, entry(0, false));
    d.sweep(DEFAULT_STACK_CONFIG.nonLifetime + 1);
    expect(d.size).toBe(0);
  });

  it('PEERS_MARK_AND_SWEEP keeps at most N messages per peer and at most MAX_ACTIVE_PEERS peers', () => {
    const d = createDeduplicator({ ...DEFAULT_STACK_CONFIG, deduplicator: 'PEERS_MARK_AND_SWEEP', peersMarkAndSweepMessages: 4, maxActivePeers: 3 });
    for (let mid = 0; mid < 10; mid++) d.check('p', mid, entry(mid));
    expect(d.size).toBe(4);
    expect(d.check('p', 9, entry(20))).toBeDefined();
    expect(d.check('p', 0, entry(20))).toBeUndefined(); // evicted, so not a duplicate any more
    for (const peer of ['q', 'r', 's', 't']) d.check(peer, 1, entry(30));
    expect(d.size).toBeLessThanOrEqual(3 * 4);
  });

  it('MARK_AND_SWEEP is bounded by MAX_ACTIVE_PEERS entries', () => {
    const d = createDeduplicator({ ...DEFAULT_STACK_CONFIG, deduplicator: 'MARK_AND_SWEEP', maxActivePeers: 100 });
    for (let i = 0; i < 1000; i++) d.check('p' + i, i, entry(i));
    expect(d.size).toBe(100);
  });

  it('NO_DEDUPLICATOR never reports duplicates', () => {
    const d = createDeduplicator({ ...DEFAULT_STACK_CONFIG, deduplicator: 'NO_DEDUPLICATOR' });
    d.check('a', 1, entry(0));
    expect(d.check('a', 1, entry(0))).toBeUndefined();
  });

  it('CROP_ROTATION forgets after two periods', () => {
    const d = createDeduplicator({ ...DEFAULT_STACK_CONFIG, deduplicator: 'CROP_ROTATION', cropRotationPeriod: 1000 });
    const now = Date.now();
    d.check('a', 1, entry(now));
    d.sweep(now + 1000);
    expect(d.check('a', 1, entry(now + 1000))).toBeDefined();
    d.sweep(now + 2000);
    d.sweep(now + 3000);
    expect(d.check('a', 1, entry(now + 3000))).toBeUndefined();
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

// Counter groups of several workers summed into the one server /diagnose shows (issue 13).
import { describe, expect, it } from 'vitest';
import type { CounterGroup } from '../../src/resources/extended/diagnose.js';
import { sumCounterGroups } from '../../src/workers/sum-counters.js';

describe('sumCounterGroups', () => {
  it('sums rows by group tag and counter name, keeping first-seen order, inputs untouched', () => {
    const w0: CounterGroup[] = [
      { tag: 'dtls:0.0.0.0:5784', counters: [['connections', 3, 3], ['received records', 10, 100]] },
      { tag: 'coaps://0.0.0.0:5784', counters: [['requests', 5, 50]] },
    ];
    const w1: CounterGroup[] = [
      { tag: 'coaps://0.0.0.0:5784', counters: [['requests', 7, 70], ['responses', 1, 1]] },
      { tag: 'dtls:0.0.0.0:5784', counters: [['received records', 2, 20], ['connections', 4, 4]] },
      { tag: 'transport:0.0.0.0:5784', counters: [['drops', 1, 2]] },
    ];
    const before = JSON.stringify([w0, w1]);
    expect(sumCounterGroups([w0, w1])).toEqual([
      { tag: 'dtls:0.0.0.0:5784', counters: [['connections', 7, 7], ['received records', 12, 120]] },
      { tag: 'coaps://0.0.0.0:5784', counters: [['requests', 12, 120], ['responses', 1, 1]] },
      { tag: 'transport:0.0.0.0:5784', counters: [['drops', 1, 2]] },
    ]);
    expect(JSON.stringify([w0, w1])).toBe(before);
  });

  it('one worker: its groups as they are; none: nothing', () => {
    const w: CounterGroup[] = [{ tag: 'a', counters: [['x', 1, 2]] }];
    expect(sumCounterGroups([w])).toEqual(w);
    expect(sumCounterGroups([])).toEqual([]);
  });
});

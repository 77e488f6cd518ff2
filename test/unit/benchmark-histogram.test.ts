// Round-trip-time histogram: bounded buckets, percentiles like the reference's time statistic, summary text.
import { describe, expect, it } from 'vitest';
import {
  addSample,
  bucketIndex,
  bucketUpperLimit,
  createHistogram,
  histogramSummary,
  mergeHistogram,
  percentileUs,
} from '../../src/clients/benchmark/histogram.js';

/** Exact percentile as the reference defines it on raw samples: the value where the samples above reach count·(1000−p)/1000. */
function exactPercentile(sortedUs: number[], perMill: number): number {
  const line = Math.floor((sortedUs.length * (1000 - perMill)) / 1000);
  return sortedUs[sortedUs.length - 1 - line]!;
}

describe('histogram buckets', () => {
  it('exact below 128 µs, contiguous indexes, value within its bucket', () => {
    for (let v = 0; v < 128; v++) expect(bucketIndex(v)).toBe(v);
    let last = bucketIndex(127);
    for (let v = 128; v < 1 << 18; v++) {
      const i = bucketIndex(v);
      if (i !== last && i !== last + 1) throw new Error(`index jumps from ${last} to ${i} at ${v}`);
      last = i;
      if (bucketUpperLimit(i) < v || bucketUpperLimit(i - 1) >= v) throw new Error(`${v} is not in bucket ${i}`);
    }
  });

  it('relative bucket width stays below 1/64 and the table is bounded', () => {
    for (const v of [200, 5_000, 123_456, 30_000_000, 0xffffffff]) {
      const i = bucketIndex(v);
      const low = bucketUpperLimit(i - 1) + 1;
      expect((bucketUpperLimit(i) - low + 1) / low).toBeLessThanOrEqual(1 / 64 + 1e-9);
    }
    expect(createHistogram().counts.length).toBe(bucketIndex(0xffffffff) + 1);
  });
});

describe('histogram percentiles', () => {
  it('no samples: "no values available!"', () => {
    expect(histogramSummary(createHistogram())).toBe('no values available!');
  });

  it('matches exact percentiles within the bucket resolution for many samples', () => {
    const h = createHistogram();
    const samples: number[] = [];
    let seed = 42;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
    for (let i = 0; i < 200_000; i++) {
      // long-tailed: mostly 1-5 ms, some up to 3 s
      const ms = rnd() < 0.98 ? 1 + rnd() * 4 : 5 + rnd() * rnd() * 3000;
      addSample(h, ms);
      samples.push(Math.round(ms * 1000));
    }
    samples.sort((a, b) => a - b);
    for (const p of [950, 990, 999]) {
      const exact = exactPercentile(samples, p);
      const got = percentileUs(h, p);
      expect(got).toBeGreaterThanOrEqual(exact);
      expect(got).toBeLessThanOrEqual(exact * (1 + 1 / 64) + 1);
    }
    expect(h.count).toBe(200_000);
    expect(h.maxUs).toBe(samples[samples.length - 1]);
  });

  it('percentiles are capped by the maximum; summary in whole ms with a 2-decimal average', () => {
    const h = createHistogram();
    for (const ms of [1, 2, 3, 4, 100.4]) addSample(h, ms);
    expect(percentileUs(h, 999)).toBe(100_400);
    expect(histogramSummary(h)).toBe('#: 5, avg.: 22.08 ms, 95%: 100 ms, 99%: 100 ms, 99.9%: 100 ms, max.: 100 ms');
    addSample(h, -1);
    addSample(h, Number.NaN);
    expect(h.count).toBe(5);
  });

  it('95% of 20 samples is the second largest (reference line rule)', () => {
    const h = createHistogram();
    for (let i = 1; i <= 20; i++) addSample(h, i);
    expect(Math.floor(percentileUs(h, 950) / 1000)).toBe(19);
    expect(Math.floor(percentileUs(h, 990) / 1000)).toBe(20);
  });

  it('merging adds counts, sums and keeps the maximum', () => {
    const a = createHistogram();
    const b = createHistogram();
    addSample(a, 1);
    addSample(b, 9);
    mergeHistogram(a, b);
    expect(a.count).toBe(2);
    expect(a.maxUs).toBe(9000);
    expect(histogramSummary(a)).toMatch(/^#: 2, avg\.: 5\.00 ms, /);
  });
});

// A compact log-linear histogram of round-trip times: bounded memory for any number of samples,
// percentiles computed like the reference's time statistic (upper slot limit, capped by the maximum).

/** Sub-buckets per power of two (relative error ≤ 1/64). */
const SUB_BITS = 6;
const SUB = 1 << SUB_BITS;
/** Largest recorded value in µs (about 71 minutes); larger samples count as this value. */
const MAX_VALUE = 0xffffffff;
/** Number of buckets: exact values below 2·SUB, then SUB buckets per power of two up to 2^32. */
const BUCKETS = (32 - SUB_BITS) * SUB + SUB;

/** Samples in microseconds: bucket counts, count, sum and maximum. */
export interface TimeHistogram {
  readonly counts: Float64Array;
  count: number;
  sumUs: number;
  maxUs: number;
}

/** A new, empty histogram (about 14 KB). */
export function createHistogram(): TimeHistogram {
  return { counts: new Float64Array(BUCKETS), count: 0, sumUs: 0, maxUs: 0 };
}

/** Bucket index of a value in µs: exact below 128, else 64 buckets per power of two. */
export function bucketIndex(us: number): number {
  if (us < 2 * SUB) return us;
  const shift = 31 - Math.clz32(us) - SUB_BITS;
  return shift * SUB + (us >>> shift);
}

/** Largest value (µs) that falls into a bucket. */
export function bucketUpperLimit(index: number): number {
  if (index < 2 * SUB) return index;
  const shift = (index >> SUB_BITS) - 1;
  const mantissa = index - shift * SUB;
  return (mantissa + 1) * 2 ** shift - 1;
}

/** Adds one sample given in milliseconds (negative samples are ignored). */
export function addSample(h: TimeHistogram, ms: number): void {
  if (!(ms >= 0)) return;
  let us = Math.round(ms * 1000);
  if (us > MAX_VALUE) us = MAX_VALUE;
  h.counts[bucketIndex(us)]!++;
  h.count++;
  h.sumUs += us;
  if (us > h.maxUs) h.maxUs = us;
}

/** Adds all samples of another histogram. */
export function mergeHistogram(into: TimeHistogram, from: TimeHistogram): void {
  for (let i = 0; i < BUCKETS; i++) into.counts[i]! += from.counts[i]!;
  into.count += from.count;
  into.sumUs += from.sumUs;
  if (from.maxUs > into.maxUs) into.maxUs = from.maxUs;
}

/**
 * Value (µs) of a per-mille percentile (950 = 95 %): scanning from the largest bucket, the bucket where the
 * samples above reach count·(1000 − p)/1000; its upper limit, capped by the maximum.
 */
export function percentileUs(h: TimeHistogram, perMill: number): number {
  if (h.count === 0) return 0;
  const line = Math.floor((h.count * (1000 - perMill)) / 1000);
  let down = 0;
  for (let i = BUCKETS - 1; i >= 0; i--) {
    const hits = h.counts[i]!;
    if (hits === 0) continue;
    const next = down + hits;
    if (down <= line && next > line) return Math.min(bucketUpperLimit(i), h.maxUs);
    down = next;
  }
  return h.maxUs;
}

/**
 * Summary `#: <count>, avg.: <x> ms, 95%: <a> ms, 99%: <b> ms, 99.9%: <c> ms, max.: <d> ms` (percentiles and maximum in
 * whole milliseconds as the reference prints them), or `no values available!`.
 */
export function histogramSummary(h: TimeHistogram): string {
  if (h.count === 0) return 'no values available!';
  const ms = (us: number) => Math.floor(us / 1000);
  const avg = (h.sumUs / 1000 / h.count).toFixed(2);
  return `#: ${h.count}, avg.: ${avg} ms, 95%: ${ms(percentileUs(h, 950))} ms, 99%: ${ms(percentileUs(h, 990))} ms, 99.9%: ${ms(percentileUs(h, 999))} ms, max.: ${ms(h.maxUs)} ms`;
}

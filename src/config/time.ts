// Time value syntax of the properties file and of --notify-interval (cli.md §2.1, §7).
import { ValueError } from './errors.js';

/** Milliseconds per accepted unit text (`ys`/`us`/`µs` are microseconds). */
const UNIT_MS: Readonly<Record<string, number>> = {
  ns: 1e-6,
  us: 1e-3,
  ys: 1e-3,
  'µs': 1e-3, // U+00B5 micro sign
  'μs': 1e-3, // U+03BC greek mu
  ms: 1,
  s: 1_000,
  min: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

const UNITS = 'ns|us|ys|µs|μs|ms|s|min|h|d';
const TIME_RE = new RegExp(`^(-?\\d+)\\s*(?:\\[\\s*(${UNITS})\\s*\\]|(${UNITS}))?$`);

/** Why a text is no time value (without the text). */
export const NOT_A_TIME = 'not a time like 2[s] (units ns, ys, ms, s, min, h, d)';

/**
 * Parses `<n>`, `<n>[<unit>]` or `<n><unit>` (units ns, us/ys/µs, ms, s, min, h, d; no unit = ms)
 * into milliseconds; sub-millisecond units may give fractions. Throws a ValueError on bad syntax.
 */
export function parseTime(text: string): number {
  const m = TIME_RE.exec(text.trim());
  if (!m) throw new ValueError(text, NOT_A_TIME, `'${text}' is ${NOT_A_TIME}`);
  const n = Number(m[1]);
  const unit = m[2] ?? m[3] ?? 'ms';
  const outOfRange = (): ValueError => new ValueError(text, 'out of range', `'${text}' is out of range`);
  if (!Number.isSafeInteger(n)) throw outOfRange();
  const ns = n * UNIT_MS[unit]! * 1e6;
  if (!Number.isSafeInteger(Math.round(ns))) throw outOfRange();
  // go through integral nanoseconds so that 1500[ys] is exactly 1.5 ms
  return Math.round(ns) / 1e6;
}

/** Step from one written unit to the next larger one (Californium's largest-exact-unit rule). */
const STEPS: ReadonlyArray<readonly [factor: number, unit: string]> = [
  [1000, 'ys'],
  [1000, 'ms'],
  [1000, 's'],
  [60, 'min'],
  [60, 'h'],
  [24, 'd'],
];

/** Writes milliseconds with the largest exact unit, e.g. 247000 → `247[s]`, 0 → `0[ms]`. */
export function formatTime(ms: number): string {
  if (!Number.isFinite(ms)) throw new Error(`cannot format time ${ms}`);
  if (ms === 0) return '0[ms]';
  let value = Math.round(ms * 1e6);
  let unit = 'ns';
  for (const [factor, next] of STEPS) {
    if (value % factor !== 0) break;
    value /= factor;
    unit = next;
  }
  return `${value}[${unit}]`;
}

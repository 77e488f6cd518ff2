import { describe, expect, it } from 'vitest';
import { ValueError, formatTime, parseTime, reasonFor } from '../../src/config/index.js';

describe('parseTime', () => {
  it.each([
    ['2000', 2000],
    ['0', 0],
    ['2[s]', 2000],
    ['2 [ s ]', 2000],
    ['2s', 2000],
    ['2 s', 2000],
    ['247[s]', 247_000],
    ['3[min]', 180_000],
    ['3min', 180_000],
    ['1[h]', 3_600_000],
    ['1h', 3_600_000],
    ['2[d]', 172_800_000],
    ['2000[ms]', 2000],
    ['15ms', 15],
    ['1500[ys]', 1.5],
    ['1500us', 1.5],
    ['1500µs', 1.5],
    ['1500μs', 1.5],
    ['2000000[ns]', 2],
    ['1ns', 0.000001],
    ['-5[ms]', -5],
    ['  7[s]  ', 7000],
  ])('%s → %d ms', (text, ms) => {
    expect(parseTime(text)).toBe(ms);
  });

  it.each(['', 'abc', '2[x]', '2x', '1.5[s]', '2[s', 's', '[s]2', '2[s]3', '99999999999999999[d]', '2 [ms] s'])(
    'rejects %j',
    (text) => {
      expect(() => parseTime(text)).toThrow();
    },
  );

  it('names the text in the error', () => {
    expect(() => parseTime('abc')).toThrow(/'abc'/);
  });

  it('throws a ValueError whose reason leaves the text out (for callers that name it themselves)', () => {
    const caught = (text: string): unknown => {
      try {
        parseTime(text);
      } catch (err) {
        return err;
      }
      throw new Error(`no error for ${text}`);
    };
    const bad = caught('abc');
    expect(bad).toBeInstanceOf(ValueError);
    expect(bad).toMatchObject({ value: 'abc', reason: 'not a time like 2[s] (units ns, ys, ms, s, min, h, d)' });
    expect((bad as Error).message).toBe("'abc' is not a time like 2[s] (units ns, ys, ms, s, min, h, d)");
    expect(reasonFor(bad, 'abc')).toBe('not a time like 2[s] (units ns, ys, ms, s, min, h, d)');
    // another text: the full message
    expect(reasonFor(bad, 'x,abc')).toBe("'abc' is not a time like 2[s] (units ns, ys, ms, s, min, h, d)");
    expect(caught('99999999999999999[d]')).toMatchObject({ reason: 'out of range' });
    expect(reasonFor(new Error('plain'), 'abc')).toBe('plain');
  });
});

describe('formatTime', () => {
  it.each([
    [0, '0[ms]'],
    [1, '1[ms]'],
    [2000, '2[s]'],
    [2500, '2500[ms]'],
    [247_000, '247[s]'],
    [180_000, '3[min]'],
    [90_000, '90[s]'],
    [3_600_000, '1[h]'],
    [86_400_000, '1[d]'],
    [90_000_000, '25[h]'],
    [1.5, '1500[ys]'],
    [0.000001, '1[ns]'],
    [-5000, '-5[s]'],
  ])('%d ms → %s', (ms, text) => {
    expect(formatTime(ms)).toBe(text);
  });

  it('round trips through parseTime', () => {
    for (const ms of [0, 1, 7, 999, 1000, 1001, 59_000, 60_000, 61_000, 3_599_000, 86_400_000, 0.25, 1.000001, 123_456_789]) {
      expect(parseTime(formatTime(ms))).toBe(ms);
    }
  });

  it('rejects non-finite values', () => {
    expect(() => formatTime(Number.NaN)).toThrow();
  });
});

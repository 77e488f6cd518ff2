import { describe, expect, it } from 'vitest';
import { accept, createReplayWindow, isDuplicate, isNewest, replayWindowFromJson } from '../../src/dtls/replay-window.js';

describe('anti-replay window (RFC 6347 §4.1.2.6)', () => {
  it('accepts fresh records and detects duplicates', () => {
    const w = createReplayWindow();
    expect(isDuplicate(w, 0)).toBe(false);
    expect(isNewest(w, 0)).toBe(true);
    expect(accept(w, 0)).toBe(true);
    expect(isDuplicate(w, 0)).toBe(true);
    expect(isNewest(w, 0)).toBe(false);
    expect(accept(w, 1)).toBe(true);
    expect(isDuplicate(w, 1)).toBe(true);
    expect(isDuplicate(w, 2)).toBe(false);
  });

  it('delivers out-of-order records once, without the newest flag', () => {
    const w = createReplayWindow();
    expect(accept(w, 10)).toBe(true);
    for (const seq of [5, 9, 0, 7]) {
      expect(isDuplicate(w, seq)).toBe(false);
      expect(isNewest(w, seq)).toBe(false);
      expect(accept(w, seq)).toBe(false);
      expect(isDuplicate(w, seq)).toBe(true);
    }
    for (const seq of [1, 2, 3, 4, 6, 8]) expect(isDuplicate(w, seq)).toBe(false);
    expect(accept(w, 11)).toBe(true);
    expect(isDuplicate(w, 10)).toBe(true);
    expect(isDuplicate(w, 5)).toBe(true);
  });

  it('rejects records left of the 64-record window', () => {
    const w = createReplayWindow();
    accept(w, 100);
    expect(isDuplicate(w, 37)).toBe(false); // 100 - 63
    expect(isDuplicate(w, 36)).toBe(true); // 100 - 64: too old
    expect(accept(w, 36)).toBe(false);
    expect(isDuplicate(w, 0)).toBe(true);
    expect(accept(w, 37)).toBe(false);
    expect(isDuplicate(w, 37)).toBe(true);
  });

  it('keeps bits across shifts of every size (both 32-bit halves)', () => {
    for (const shift of [1, 5, 31, 32, 33, 40, 63, 64, 65, 1000]) {
      const w = createReplayWindow();
      const seen = [0, 3, 20, 31, 32, 50];
      for (const s of seen) accept(w, s);
      const top = 50 + shift;
      expect(accept(w, top)).toBe(true);
      for (let s = 0; s <= top; s++) {
        const expected = top - s >= 64 || s === top || seen.includes(s);
        expect(isDuplicate(w, s), `shift ${shift} seq ${s}`).toBe(expected);
      }
    }
  });

  it('matches a reference model under random traffic', () => {
    let state = 12345;
    const rnd = (n: number) => {
      state = (state * 1103515245 + 12345) & 0x7fffffff;
      return state % n;
    };
    const w = createReplayWindow();
    const seen = new Set<number>();
    let max = -1;
    for (let i = 0; i < 5000; i++) {
      const seq = Math.max(0, max + rnd(80) - 60);
      const dup = seen.has(seq) || max - seq >= 64;
      expect(isDuplicate(w, seq)).toBe(dup);
      if (!dup) {
        expect(accept(w, seq)).toBe(seq > max);
        seen.add(seq);
        max = Math.max(max, seq);
      }
    }
  });

  it('handles 48-bit sequence numbers without bigint', () => {
    const w = createReplayWindow();
    const big = 2 ** 48 - 10;
    expect(accept(w, big)).toBe(true);
    expect(accept(w, big - 40)).toBe(false);
    expect(isDuplicate(w, big - 40)).toBe(true);
    expect(isDuplicate(w, big - 39)).toBe(false);
    expect(accept(w, 2 ** 48 - 1)).toBe(true);
    expect(isDuplicate(w, big)).toBe(true);
  });

  it('round-trips through JSON', () => {
    const w = createReplayWindow();
    for (const s of [1, 2, 40, 70]) accept(w, s);
    const restored = replayWindowFromJson(JSON.parse(JSON.stringify(w)));
    expect(restored).toEqual(w);
    for (let s = 0; s < 80; s++) expect(isDuplicate(restored!, s)).toBe(isDuplicate(w, s));
    expect(replayWindowFromJson({ maxSeq: 'x', lo: 0, hi: 0 })).toBeUndefined();
    expect(replayWindowFromJson({ maxSeq: 1, lo: -1, hi: 0 })).toBeUndefined();
    expect(replayWindowFromJson(null)).toBeUndefined();
  });
});

// Anti-replay sliding window of 64 records for one epoch (RFC 6347 §4.1.2.6).
// Plain data (three numbers, JSON-able as is); the 64-bit bitmap is kept as two uint32 halves
// so that the hot path uses no bigint.

/** Number of sequence numbers the window covers. */
export const REPLAY_WINDOW_SIZE = 64;

/** Receive window state of one epoch; bit i of (hi:lo) set ⇔ record maxSeq − i was accepted. */
export interface ReplayWindow {
  /** highest accepted sequence number, −1 before the first record */
  maxSeq: number;
  /** bits 0..31 of the bitmap (uint32) */
  lo: number;
  /** bits 32..63 of the bitmap (uint32) */
  hi: number;
}

/** An empty window (no record accepted yet). */
export function createReplayWindow(): ReplayWindow {
  return { maxSeq: -1, lo: 0, hi: 0 };
}

/** True if `seq` was already accepted or is left of the window (too old) and must be dropped. */
export function isDuplicate(window: ReplayWindow, seq: number): boolean {
  if (seq > window.maxSeq) return false;
  const d = window.maxSeq - seq;
  if (d >= REPLAY_WINDOW_SIZE) return true;
  return d < 32 ? ((window.lo >>> d) & 1) === 1 : ((window.hi >>> (d - 32)) & 1) === 1;
}

/** True if `seq` is higher than every record accepted so far (the CID address-update rule, dtls.md §6). */
export function isNewest(window: ReplayWindow, seq: number): boolean {
  return seq > window.maxSeq;
}

/**
 * Marks `seq` as received (call only after the record authenticated). Returns true if it was the newest
 * record so far (window moved). A record left of the window is ignored (returns false).
 */
export function accept(window: ReplayWindow, seq: number): boolean {
  if (seq > window.maxSeq) {
    const shift = seq - window.maxSeq;
    if (shift >= REPLAY_WINDOW_SIZE) {
      window.hi = 0;
      window.lo = 1;
    } else if (shift >= 32) {
      window.hi = (window.lo << (shift - 32)) >>> 0;
      window.lo = 1;
    } else {
      window.hi = ((window.hi << shift) | (window.lo >>> (32 - shift))) >>> 0;
      window.lo = ((window.lo << shift) | 1) >>> 0;
    }
    window.maxSeq = seq;
    return true;
  }
  const d = window.maxSeq - seq;
  if (d >= REPLAY_WINDOW_SIZE) return false;
  if (d < 32) window.lo = (window.lo | (1 << d)) >>> 0;
  else window.hi = (window.hi | (1 << (d - 32))) >>> 0;
  return false;
}

/** Copies a window (e.g. from parsed JSON), validating its shape; undefined if invalid. */
export function replayWindowFromJson(json: unknown): ReplayWindow | undefined {
  if (typeof json !== 'object' || json === null) return undefined;
  const { maxSeq, lo, hi } = json as Record<string, unknown>;
  const isUint32 = (v: unknown): v is number => Number.isInteger(v) && (v as number) >= 0 && (v as number) <= 0xffffffff;
  if (!Number.isSafeInteger(maxSeq) || (maxSeq as number) < -1 || !isUint32(lo) || !isUint32(hi)) return undefined;
  return { maxSeq: maxSeq as number, lo, hi };
}

// The time mark of a restart stream (restart.md §2) and the clock mapping between the connectors' clock
// (wall ms, Date.now) and the stream's monotonic nanoseconds, including the load-time shift.

/** Wall-clock ms and monotonic ns taken at the same moment. */
export interface TimeMark {
  wallMs: number;
  monoNs: bigint;
}

/** Connector timestamp (ms) → stream timestamp (monotonic ns). */
export type ToMono = (ms: number) => bigint;

/** Stream timestamp (monotonic ns) → connector timestamp (ms). */
export type FromMono = (ns: bigint) => number;

/** The current time mark of this process. */
export function nowMark(): TimeMark {
  return { wallMs: Date.now(), monoNs: process.hrtime.bigint() };
}

/**
 * restart.md §2: delta = (now_mono − saved_mono) − max(0, now_wall − saved_wall), in ns; added to every
 * stored monotonic timestamp so that ages survive a move to another process or host.
 */
export function timeShift(saved: TimeMark, now: TimeMark): bigint {
  const wallElapsedMs = Math.max(0, now.wallMs - saved.wallMs);
  return now.monoNs - saved.monoNs - BigInt(Math.round(wallElapsedMs)) * 1_000_000n;
}

/** Mapping for writing: connector ms → monotonic ns relative to `mark`. */
export function savingMapping(mark: TimeMark): ToMono {
  return (ms) => mark.monoNs + BigInt(Math.round((ms - mark.wallMs) * 1e6));
}

/** Mapping for reading a stream written at `saved` into this process at `now` (time shift applied). */
export function loadingMapping(saved: TimeMark, now: TimeMark): FromMono {
  const delta = timeShift(saved, now);
  return (ns) => Math.round(now.wallMs + Number(ns + delta - now.monoNs) / 1e6);
}

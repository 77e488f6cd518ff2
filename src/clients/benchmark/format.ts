// Text of the benchmark console output (clients.md §3.5): progress lines, rates, the per-client distribution.
// Percentages use 2 decimals with `.` as decimal separator; the reference follows the host locale (e.g. `1,72%`).

/** Integer division rounded half up (the reference's roundDiv). */
export function roundDiv(count: number, div: number): number {
  return Math.floor((count + Math.floor(div / 2)) / div);
}

/**
 * `part` as percentage of `whole` with 2 decimals. A period without any `whole` (e.g. no first transmissions while the
 * clients only retry) reads `0.00%` when nothing happened and `100.00%` otherwise, not the reference's NaN/Infinity.
 */
export function percent(part: number, whole: number): string {
  if (whole <= 0) return part > 0 ? '100.00' : '0.00';
  return ((part * 100) / whole).toFixed(2);
}

/** Running 4-digit line counter `[NNNN]`. */
export function lineCounter(n: number): string {
  return `[${String(n).padStart(4, '0')}]`;
}

/** Note appended inside the parentheses when no response arrived in the period. */
export const NO_RESPONSES = ', no responses received!';

/**
 * `<x> retransmissions (<p>%[, no responses received!])`, relative to first transmissions. Without transmissions the
 * percentage is left out (as the reference), unless no responses arrived: that period keeps its percentage and note.
 */
export function formatRetransmissions(retransmissions: number, transmissions: number, responses: number): string {
  if (transmissions <= 0 && responses > 0) return `${retransmissions} retransmissions`;
  const amend = responses === 0 ? NO_RESPONSES : '';
  return `${retransmissions} retransmissions (${percent(retransmissions, transmissions)}%${amend})`;
}

/** `<e> transmission errors (<q>%[, no responses received!])`, relative to requests; percentages as formatRetransmissions. */
export function formatTransmissionErrors(errors: number, requests: number, responses: number): string {
  if (requests <= 0 && responses > 0) return `${errors} transmission errors`;
  const amend = responses === 0 ? NO_RESPONSES : '';
  return `${errors} transmission errors (${percent(errors, requests)}%${amend})`;
}

/** `<u> unavailables (<v>%)`, relative to responses. */
export function formatUnavailable(unavailable: number, responses: number): string {
  if (responses <= 0) return `${unavailable} unavailables (no response-messages received!)`;
  return `${unavailable} unavailables (${percent(unavailable, responses)}%)`;
}

/** `<h> hono-cmds (<w>%)`, relative to responses. */
export function formatHonoCmds(cmds: number, responses: number): string {
  if (responses <= 0) return `${cmds} hono-cmds (no response-messages received!)`;
  return `${cmds} hono-cmds (${percent(cmds, responses)}%)`;
}

/** `, <n> <units>/s` for a count over a duration, empty for durations below 1 ms. */
export function formatPerSecond(units: string, count: number, ms: number): string {
  const millis = Math.floor(ms);
  if (millis <= 0) return '';
  return `, ${roundDiv(count * 1000, millis)} ${units}/s`;
}

/** Duration as `<ms> ms`, or `<s> s` above 10 s. */
export function formatTime(ms: number): string {
  const millis = Math.floor(ms);
  return millis > 10_000 ? `${Math.floor(millis / 1000)} s` : `${millis} ms`;
}

/** Counter differences of one progress period (10 s) and the current totals. */
export interface ProgressSample {
  /** line counter */
  line: number;
  /** requests started so far */
  sent: number;
  /** requests started in the period */
  requests: number;
  /** responses received in the period */
  responses: number;
  /** first transmissions in the period */
  transmissions: number;
  retransmissions: number;
  errors: number;
  /** unavailables overall and in the period */
  unavailableTotal: number;
  unavailable: number;
  /** hono commands overall and in the period */
  honoTotal: number;
  hono: number;
  /** active clients */
  clients: number;
  /** clients whose first exchange is still open */
  pending: number;
  /** length of the period in seconds */
  seconds: number;
}

/** `[NNNN]: <sent> requests (<r> reqs/s, <x> retransmissions (<p>%), <e> transmission errors (<q>%)[, …], <c> clients[, <k> pending])`. */
export function progressLine(s: ProgressSample): string {
  let line = `${lineCounter(s.line)}: ${s.sent} requests (${roundDiv(s.responses, s.seconds)} reqs/s`;
  line += ', ' + formatRetransmissions(s.retransmissions, s.transmissions, s.responses);
  line += ', ' + formatTransmissionErrors(s.errors, s.requests, s.responses);
  if (s.unavailableTotal > 0) line += ', ' + formatUnavailable(s.unavailable, s.responses);
  if (s.honoTotal > 0) line += ', ' + formatHonoCmds(s.hono, s.responses);
  line += `, ${s.clients} clients`;
  if (s.pending > 0) line += `, ${s.pending} pending`;
  return line + ')';
}

/** Step of the distribution groups: 10 requests, or total/50000 when total > 500000. */
export function distributionStep(overallRequests: number): number {
  return overallRequests > 500_000 ? Math.floor(overallRequests / 50_000) : 10;
}

/**
 * Lines `<k> clients with <a>[ to <b>] requests.` (k right-aligned to 4 columns as the reference): the sorted per-client
 * counts grouped while they stay in the same step.
 */
export function distributionLines(perClient: readonly number[], overallRequests: number): string[] {
  const sorted = [...perClient].sort((a, b) => a - b);
  const step = distributionStep(overallRequests);
  const lines: string[] = [];
  const group = (end: number, start: number) => {
    let text = `${String(end - start).padStart(4)} clients with ${sorted[start]}`;
    if (sorted[end - 1] !== sorted[start]) text += ` to ${sorted[end - 1]}`;
    lines.push(text + ' requests.');
  };
  if (sorted.length === 0) return lines;
  let last = 0;
  for (let i = 1; i < sorted.length; i++) {
    if (Math.floor(sorted[i]! / step) > Math.floor(sorted[last]! / step)) {
      group(i, last);
      last = i;
    }
  }
  group(sorted.length, last);
  return lines;
}

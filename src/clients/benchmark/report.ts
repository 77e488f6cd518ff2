// The final statistics of a benchmark run (clients.md §3.5), printed after the run and on interruption.
import { formatPerSecond, formatRetransmissions, formatTransmissionErrors, formatUnavailable } from './format.js';
import { histogramSummary } from './histogram.js';
import type { BenchmarkState } from './state.js';

/** Durations of the phases (ms) and the run's end state. */
export interface ReportInput {
  state: BenchmarkState;
  requestMs: number;
  reverseMs: number;
  notifiesMs: number;
  /** CoAP request retransmissions of all clients */
  retransmissions: number;
  /** the run completed (false: interrupted) */
  done: boolean;
}

/** The statistics lines after the process lines: counts, rates, errors and the round-trip-time summaries. */
export function reportLines(r: ReportInput): string[] {
  const st = r.state;
  const lines: string[] = [];
  const overall = st.overallRequests;
  lines.push(`${overall - st.responsesLeft} requests sent, ${overall} expected`);
  const sent = overall - Math.max(0, st.responsesLeft);
  lines.push(`${sent} requests in ${Math.floor(r.requestMs)} ms${formatPerSecond('reqs', sent, r.requestMs)}`);
  if (st.overallReverse > 0) {
    const reverse = st.overallReverse - st.reverseLeft;
    if (st.feedRegistrations > 0) {
      lines.push(`${reverse} notifies sent, ${st.overallReverse} expected, ${st.feedRegistrations} observe request`);
      lines.push(`${reverse} notifies sent in ${Math.floor(r.reverseMs)} ms${formatPerSecond('notifies', reverse, r.reverseMs)}`);
      lines.push(`${st.notifiesCompleteTimeouts} sent notifies could not be completed`);
    } else {
      lines.push(`${reverse} reverse-responses sent, ${st.overallReverse} expected`);
      lines.push(`${reverse} reverse-responses in ${Math.floor(r.reverseMs)} ms${formatPerSecond('reverse-responses', reverse, r.reverseMs)}`);
    }
  }
  if (st.overallNotifies > 0) {
    const received = st.overallNotifies - st.notifiesLeft;
    lines.push(`${received} notifies received, ${st.overallNotifies} expected`);
    lines.push(`${received} notifies received in ${Math.floor(r.notifiesMs)} ms${formatPerSecond('notifies', received, r.notifiesMs)}`);
  }
  if (r.retransmissions > 0) lines.push(formatRetransmissions(r.retransmissions, sent, sent));
  if (st.transmissionErrors > 0) lines.push(formatTransmissionErrors(st.transmissionErrors, sent, sent));
  if (sent < overall) {
    const p = Math.floor((sent * 100) / overall);
    lines.push(`${r.done ? 'Stale' : 'Interrupted'} at ${sent} messages (${p}%)`);
  }
  if (st.unavailable > 0) {
    lines.push(formatUnavailable(st.unavailable, sent));
    const successful = sent - st.unavailable;
    lines.push(`${successful} successful requests in ${Math.floor(r.requestMs)}ms${formatPerSecond('reqs', successful, r.requestMs)}`);
  }
  lines.push(`connects          : ${histogramSummary(st.connects)}`);
  lines.push(`success-responses : ${histogramSummary(st.success)}`);
  lines.push(`errors-responses  : ${histogramSummary(st.errors)}`);
  lines.push(`single-blocks     : ${histogramSummary(st.singleBlocks)}`);
  return lines;
}

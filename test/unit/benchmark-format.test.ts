// Benchmark console texts (clients.md §3.5): the 10-second progress line, rates, the per-client distribution.
import { describe, expect, it } from 'vitest';
import {
  distributionLines,
  distributionStep,
  formatPerSecond,
  formatRetransmissions,
  formatTime,
  formatTransmissionErrors,
  lineCounter,
  progressLine,
  roundDiv,
  type ProgressSample,
} from '../../src/clients/benchmark/format.js';
import { reportLines } from '../../src/clients/benchmark/report.js';
import { createState } from '../../src/clients/benchmark/state.js';
import { addSample } from '../../src/clients/benchmark/histogram.js';

const sample = (over: Partial<ProgressSample> = {}): ProgressSample => ({
  line: 1,
  sent: 286184,
  requests: 286184,
  responses: 286184,
  transmissions: 290989,
  retransmissions: 5005,
  errors: 0,
  unavailableTotal: 0,
  unavailable: 0,
  honoTotal: 0,
  hono: 0,
  clients: 2000,
  pending: 0,
  seconds: 10,
  ...over,
});

describe('progress line', () => {
  it('matches the reference layout (typical 2000 coaps clients line)', () => {
    expect(progressLine(sample())).toBe(
      '[0001]: 286184 requests (28618 reqs/s, 5005 retransmissions (1.72%), 0 transmission errors (0.00%), 2000 clients)',
    );
  });

  it('optional parts: unavailables, hono-cmds, pending', () => {
    const line = progressLine(sample({ line: 12, unavailableTotal: 30, unavailable: 10, honoTotal: 5, hono: 2, pending: 3 }));
    expect(line).toBe(
      '[0012]: 286184 requests (28618 reqs/s, 5005 retransmissions (1.72%), 0 transmission errors (0.00%), 10 unavailables (0.00%), 2 hono-cmds (0.00%), 2000 clients, 3 pending)',
    );
  });

  it('no responses in the period: the note inside the parentheses', () => {
    const line = progressLine(sample({ responses: 0, requests: 200, transmissions: 200, retransmissions: 400, errors: 3 }));
    expect(line).toBe(
      '[0001]: 286184 requests (0 reqs/s, 400 retransmissions (200.00%, no responses received!), 3 transmission errors (1.50%, no responses received!), 2000 clients)',
    );
  });

  it('no transmissions or requests in a period with responses: counts without percentage (as the reference)', () => {
    expect(formatRetransmissions(2, 0, 5)).toBe('2 retransmissions');
    expect(formatTransmissionErrors(1, 0, 5)).toBe('1 transmission errors');
  });

  it('no responses and no new requests (clients only retrying): the percentages stay, the note ends each part', () => {
    expect(formatRetransmissions(2, 0, 0)).toBe('2 retransmissions (100.00%, no responses received!)');
    expect(formatRetransmissions(0, 0, 0)).toBe('0 retransmissions (0.00%, no responses received!)');
    expect(formatTransmissionErrors(1, 0, 0)).toBe('1 transmission errors (100.00%, no responses received!)');
    expect(formatTransmissionErrors(0, 0, 0)).toBe('0 transmission errors (0.00%, no responses received!)');
    // a --no-stop period after the server went away: errors retried, nothing answered
    const line = progressLine(sample({ line: 2, responses: 0, requests: 0, transmissions: 23, retransmissions: 0, errors: 23, clients: 3 }));
    expect(line).toBe(
      '[0002]: 286184 requests (0 reqs/s, 0 retransmissions (0.00%, no responses received!), 23 transmission errors (100.00%, no responses received!), 3 clients)',
    );
    // CON requests waiting for their timeouts: only retransmissions in the period
    expect(progressLine(sample({ responses: 0, requests: 0, transmissions: 0, retransmissions: 40, errors: 0, clients: 3 }))).toBe(
      '[0001]: 286184 requests (0 reqs/s, 40 retransmissions (100.00%, no responses received!), 0 transmission errors (0.00%, no responses received!), 3 clients)',
    );
  });

  it('line counter, rounding, rates and times', () => {
    expect(lineCounter(7)).toBe('[0007]');
    expect(lineCounter(12345)).toBe('[12345]');
    expect(roundDiv(15, 10)).toBe(2);
    expect(roundDiv(14, 10)).toBe(1);
    expect(formatPerSecond('reqs', 1000, 142)).toBe(', 7042 reqs/s');
    expect(formatPerSecond('reqs', 1000, 0.5)).toBe('');
    expect(formatTime(9999)).toBe('9999 ms');
    expect(formatTime(12_345)).toBe('12 s');
  });
});

describe('distribution of requests per client', () => {
  it('groups sorted counts in steps of 10, k right-aligned', () => {
    const counts = [50, 47, 52, 49, 61, 75, 46, 57];
    expect(distributionLines(counts, 400)).toEqual([
      '   3 clients with 46 to 49 requests.',
      '   3 clients with 50 to 57 requests.',
      '   1 clients with 61 requests.',
      '   1 clients with 75 requests.',
    ]);
  });

  it('equal counts form one group without "to"', () => {
    expect(distributionLines([2, 2, 2], 6)).toEqual(['   3 clients with 2 requests.']);
  });

  it('step total/50000 above 500000 requests', () => {
    expect(distributionStep(500_000)).toBe(10);
    expect(distributionStep(1_000_000)).toBe(20);
    expect(distributionLines([100, 115, 119, 121], 1_000_000)).toEqual(['   3 clients with 100 to 119 requests.', '   1 clients with 121 requests.']);
  });
});

describe('final statistics lines', () => {
  it('counts, rates, stale/interrupted and the four summaries', () => {
    const st = createState(10, 10, 0, 0);
    st.responsesLeft = 20;
    st.transmissionErrors = 4;
    addSample(st.success, 2.5);
    const lines = reportLines({ state: st, requestMs: 2000, reverseMs: 0, notifiesMs: 0, retransmissions: 8, done: true });
    expect(lines).toEqual([
      '80 requests sent, 100 expected',
      '80 requests in 2000 ms, 40 reqs/s',
      '8 retransmissions (10.00%)',
      '4 transmission errors (5.00%)',
      'Stale at 80 messages (80%)',
      'connects          : no values available!',
      'success-responses : #: 1, avg.: 2.50 ms, 95%: 2 ms, 99%: 2 ms, 99.9%: 2 ms, max.: 2 ms',
      'errors-responses  : no values available!',
      'single-blocks     : no values available!',
    ]);
    const interrupted = reportLines({ state: st, requestMs: 2000, reverseMs: 0, notifiesMs: 0, retransmissions: 0, done: false });
    expect(interrupted).toContain('Interrupted at 80 messages (80%)');
  });

  it('reverse and observe totals', () => {
    const st = createState(2, 2, 10, 0);
    st.responsesLeft = 0;
    st.reverseLeft = 5;
    expect(reportLines({ state: st, requestMs: 100, reverseMs: 1000, notifiesMs: 0, retransmissions: 0, done: true }).slice(2, 4)).toEqual([
      '15 reverse-responses sent, 20 expected',
      '15 reverse-responses in 1000 ms, 15 reverse-responses/s',
    ]);
    st.feedRegistrations = 3;
    st.notifiesCompleteTimeouts = 1;
    expect(reportLines({ state: st, requestMs: 100, reverseMs: 1000, notifiesMs: 0, retransmissions: 0, done: true }).slice(2, 5)).toEqual([
      '15 notifies sent, 20 expected, 3 observe request',
      '15 notifies sent in 1000 ms, 15 notifies/s',
      '1 sent notifies could not be completed',
    ]);
    const obs = createState(4, 1, 0, 25);
    obs.responsesLeft = 0;
    obs.notifiesLeft = 0;
    expect(reportLines({ state: obs, requestMs: 10, reverseMs: 0, notifiesMs: 500, retransmissions: 0, done: true }).slice(2, 4)).toEqual([
      '100 notifies received, 100 expected',
      '100 notifies received in 500 ms, 200 notifies/s',
    ]);
  });
});

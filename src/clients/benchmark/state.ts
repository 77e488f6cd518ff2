// The counters all simulated clients share (the reference's static atomics), as one plain object.
import { createHistogram, type TimeHistogram } from './histogram.js';

/** Shared benchmark counters; `signal` wakes the runner when a phase may have ended. */
export interface BenchmarkState {
  overallRequests: number;
  overallReverse: number;
  overallNotifies: number;
  /** requests not yet started (may go below 0 in observe mode with --register) */
  requestsLeft: number;
  /** responses not yet received */
  responsesLeft: number;
  /** reverse responses / sent notifies still expected */
  reverseLeft: number;
  /** received notifies still expected */
  notifiesLeft: number;
  /** clients started and not stopped */
  clientsActive: number;
  /** clients whose first exchange is still open */
  connectsPending: number;
  transmissionErrors: number;
  unavailable: number;
  honoCmds: number;
  /** observe registrations at the feed resources */
  feedRegistrations: number;
  /** feed notifications that did not complete in time */
  notifiesCompleteTimeouts: number;
  closeBursts: number;
  fullBursts: number;
  /** process-wide counter of feed answers (payload suffix) */
  feedAnswers: number;
  connects: TimeHistogram;
  success: TimeHistogram;
  errors: TimeHistogram;
  singleBlocks: TimeHistogram;
  /** called when a phase may have ended */
  signal: () => void;
}

/** Fresh counters for `clients` clients with the expected totals. */
export function createState(clients: number, requests: number, reverse: number, notifies: number): BenchmarkState {
  const overallRequests = clampInt(clients * requests);
  const overallReverse = clampInt(clients * reverse);
  const overallNotifies = clampInt(clients * notifies);
  return {
    overallRequests,
    overallReverse,
    overallNotifies,
    requestsLeft: overallRequests,
    responsesLeft: overallRequests,
    reverseLeft: overallReverse,
    notifiesLeft: overallNotifies,
    clientsActive: 0,
    connectsPending: clients,
    transmissionErrors: 0,
    unavailable: 0,
    honoCmds: 0,
    feedRegistrations: 0,
    notifiesCompleteTimeouts: 0,
    closeBursts: 0,
    fullBursts: 0,
    feedAnswers: 0,
    connects: createHistogram(),
    success: createHistogram(),
    errors: createHistogram(),
    singleBlocks: createHistogram(),
    signal: () => {},
  };
}

/** The reference counts in 32-bit ints: an overflowing product becomes Integer.MAX_VALUE. */
function clampInt(n: number): number {
  return n > 0x7fffffff ? 0x7fffffff : n;
}

/** Counts a down-counter by one while it is positive; returns the new value (0 when it already was 0). */
export function countDown(state: BenchmarkState, key: 'responsesLeft' | 'requestsLeft' | 'closeBursts' | 'fullBursts', belowZero: boolean): number {
  if (belowZero) return --state[key];
  const c = state[key];
  if (c > 0) {
    state[key] = c - 1;
    return c - 1;
  }
  return 0;
}

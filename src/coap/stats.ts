// Per-endpoint CoAP message counters (resources.md §2.4, names as /diagnose shows them).

/** Counter names of a UDP/DTLS endpoint in display order. */
export const COUNTER_NAMES = [
  'send-requests',
  'send-responses',
  'send-errors',
  'recv-requests',
  'recv-responses',
  'recv-ignored',
  'recv-malformed',
  'send-acks',
  'send-rejects',
  'send-request retransmissions',
  'send-response retransmissions',
  'recv-acks',
  'recv-rejects',
  'recv-duplicate requests',
  'recv-duplicate responses',
  'recv-offloaded',
] as const;

/** A counter name. */
export type CounterName = (typeof COUNTER_NAMES)[number];

/** Counters: current period and accumulated total of earlier periods. */
export class EndpointStats {
  readonly current = new Map<CounterName, number>();
  readonly total = new Map<CounterName, number>();
  /** start of the current period (ms) */
  periodStart = Date.now();

  constructor() {
    for (const n of COUNTER_NAMES) {
      this.current.set(n, 0);
      this.total.set(n, 0);
    }
  }

  /** Adds one to a counter. */
  inc(name: CounterName): void {
    this.current.set(name, this.current.get(name)! + 1);
  }

  /** Value in the current period. */
  get(name: CounterName): number {
    return this.current.get(name)!;
  }

  /** Moves the current period into the totals (periodic health dump). */
  transfer(now = Date.now()): void {
    for (const n of COUNTER_NAMES) {
      this.total.set(n, this.total.get(n)! + this.current.get(n)!);
      this.current.set(n, 0);
    }
    this.periodStart = now;
  }
}

// Per-endpoint CoAP message counters (resources.md §2.4, names as /diagnose shows them), the endpoint's
// bound counters (evictions and refusals of bounded state), and period views of cumulative counter objects.

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

/**
 * Bound counters of an endpoint (beyond the reference): state dropped or refused before its lifetime
 * ended because a configured bound was reached. Shown by /diagnose as group `bounds:<uri>`.
 */
export const BOUND_COUNTER_NAMES = [
  /** remembered messages dropped for COAP.DEDUPLICATOR_MAX_MESSAGES (all modes) */
  'dedup-evicted messages',
  /** remembered messages dropped for COAP.PEERS_MARK_AND_SWEEP_MESSAGES (per peer) */
  'dedup-evicted peer messages',
  /** peers dropped with their messages for COAP.MAX_ACTIVE_PEERS */
  'dedup-evicted peers',
  /** block-wise transfers dropped for the transfer count bound */
  'blockwise-evicted transfers',
  /** block-wise transfers dropped for COAP.BLOCKWISE_MAX_TOTAL_BYTES */
  'blockwise-evicted by bytes',
  /** observe registrations refused for COAP.MAX_SERVER_OBSERVES */
  'observe-refused relations',
] as const;

/** A bound counter name. */
export type BoundCounterName = (typeof BOUND_COUNTER_NAMES)[number];

/** Counters of fixed names: current period and accumulated total of earlier periods. */
export class PeriodCounters<N extends string> {
  readonly current = new Map<N, number>();
  readonly total = new Map<N, number>();

  constructor(readonly names: readonly N[]) {
    for (const n of names) {
      this.current.set(n, 0);
      this.total.set(n, 0);
    }
  }

  /** Adds `by` (default one) to a counter. */
  inc(name: N, by = 1): void {
    this.current.set(name, this.current.get(name)! + by);
  }

  /** Value in the current period. */
  get(name: N): number {
    return this.current.get(name)!;
  }

  /** Moves the current period into the totals. */
  transfer(): void {
    for (const n of this.names) {
      this.total.set(n, this.total.get(n)! + this.current.get(n)!);
      this.current.set(n, 0);
    }
  }

  /** Rows [name, current period, total of earlier periods] in display order. */
  rows(): Array<[N, number, number]> {
    return this.names.map((n) => [n, this.current.get(n)!, this.total.get(n)!]);
  }
}

/** Counters: current period and accumulated total of earlier periods; `bounds` are the bound counters. */
export class EndpointStats extends PeriodCounters<CounterName> {
  /** evictions and refusals of bounded state (BOUND_COUNTER_NAMES) */
  readonly bounds = new PeriodCounters<BoundCounterName>(BOUND_COUNTER_NAMES);
  /** start of the current period (ms) */
  periodStart = Date.now();

  constructor() {
    super(COUNTER_NAMES);
  }

  /** Moves the current period into the totals (periodic health dump), bound counters included. */
  override transfer(now = Date.now()): void {
    super.transfer();
    this.bounds.transfer();
    this.periodStart = now;
  }
}

/** One row of a counter group: [key, current period, total of earlier periods]. */
export type PeriodRow = [key: string, cur: number, all: number];

/** Values of cumulative counter objects at the last period transfer, per owner and object name. */
const baselines = new WeakMap<object, Map<string, number>>();

/**
 * Rows of a cumulative counter object (never reset, e.g. a DTLS connector's `detailStats`): every
 * numeric field, in the object's order, split into the current period (value minus the value at the
 * last transferPeriod) and the earlier periods. `owner` identifies the counters (e.g. the connector).
 */
export function periodRows(owner: object, name: string, counters: Readonly<Record<string, unknown>>): PeriodRow[] {
  const base = baselines.get(owner);
  const rows: PeriodRow[] = [];
  for (const [k, v] of Object.entries(counters)) {
    if (typeof v !== 'number' || !Number.isFinite(v)) continue;
    const before = base?.get(name + '\0' + k) ?? 0;
    rows.push([k, v - before, before]);
  }
  return rows;
}

/** Starts a new period for a cumulative counter object (each periodic health dump). */
export function transferPeriod(owner: object, name: string, counters: Readonly<Record<string, unknown>>): void {
  let base = baselines.get(owner);
  if (base === undefined) baselines.set(owner, (base = new Map()));
  for (const [k, v] of Object.entries(counters)) {
    if (typeof v === 'number' && Number.isFinite(v)) base.set(name + '\0' + k, v);
  }
}

/** `helloVerifyRequests` → `hello verify requests` (the display style of the health keys). */
export function counterLabel(field: string): string {
  return field.replace(/([a-z0-9])([A-Z])/g, '$1 $2').replace(/_/g, ' ').toLowerCase();
}

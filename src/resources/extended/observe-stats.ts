// Server-wide observe statistics for /diagnose (resources.md §2.4): relation gauges computed from the
// endpoints' relations plus request counters the engine increments through ObserveHooks.
import type { CoapServer } from '../../coap/server.js';
import type { CounterRow } from './diagnose.js';

/** Counter keys of the observe statistics group, in display order. */
export const OBSERVE_COUNTER_NAMES = ['observes', 'observing-endpoints', 'observe-request', 'cancel-request', 'rejected-notifies'] as const;

/** An observe counter key. */
export type ObserveCounterName = (typeof OBSERVE_COUNTER_NAMES)[number];

/** What the engine calls (server-layer / observe); structurally typed so the engine needs no import. */
export interface ObserveHooks {
  /** a GET with Observe=0 on an observable resource arrived */
  observeRequest(): void;
  /** a GET with Observe=1 arrived */
  cancelRequest(): void;
  /** a notification was rejected with RST */
  rejectedNotify(): void;
}

/** Current live relation numbers of a server. */
export interface ObserveGauges {
  observes: number;
  endpoints: number;
}

/** Observe statistics of one server: counters with current period and total of earlier periods. */
export class ObserveStats implements ObserveHooks {
  /** the server tag, shown as group name */
  readonly tag: string;
  private readonly gauges: () => ObserveGauges;
  private readonly current = new Map<ObserveCounterName, number>();
  private readonly total = new Map<ObserveCounterName, number>();

  constructor(tag: string, gauges: () => ObserveGauges) {
    this.tag = tag;
    this.gauges = gauges;
    for (const n of OBSERVE_COUNTER_NAMES) {
      this.current.set(n, 0);
      this.total.set(n, 0);
    }
  }

  /** counts a GET with Observe=0 */
  observeRequest(): void {
    this.inc('observe-request');
  }

  /** counts a GET with Observe=1 */
  cancelRequest(): void {
    this.inc('cancel-request');
  }

  /** counts a notification rejected with RST */
  rejectedNotify(): void {
    this.inc('rejected-notifies');
  }

  private inc(name: ObserveCounterName): void {
    this.current.set(name, this.current.get(name)! + 1);
  }

  private sample(): void {
    const g = this.gauges();
    this.current.set('observes', g.observes);
    this.current.set('observing-endpoints', g.endpoints);
  }

  /** `[key, cur, all]` rows; the gauges show the live numbers as `cur`. */
  rows(): CounterRow[] {
    this.sample();
    return OBSERVE_COUNTER_NAMES.map((n) => [n, this.current.get(n)!, this.total.get(n)!] as const);
  }

  /** Starts a new period (call on every periodic health dump, like EndpointStats.transfer). */
  transfer(): void {
    this.sample();
    for (const n of OBSERVE_COUNTER_NAMES) {
      this.total.set(n, this.total.get(n)! + this.current.get(n)!);
      this.current.set(n, 0);
    }
  }
}

/** Live relation numbers of a server: relations, and distinct observing peers per endpoint. */
export function serverObserveGauges(server: CoapServer): ObserveGauges {
  let observes = 0;
  let endpoints = 0;
  for (const ep of server.endpoints) {
    observes += ep.relations.size;
    const peers = new Set<string>();
    for (const rel of ep.relations.values()) peers.add(rel.peer);
    endpoints += peers.size;
  }
  return { observes, endpoints };
}

const registry = new WeakMap<CoapServer, ObserveStats>();

/** The observe statistics of a server (created on first use, tag = server tag). */
export function observeStatsOf(server: CoapServer): ObserveStats {
  let stats = registry.get(server);
  if (!stats) {
    stats = new ObserveStats(server.tag, () => serverObserveGauges(server));
    registry.set(server, stats);
  }
  return stats;
}

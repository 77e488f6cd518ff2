// Destination health of the NAT's load balancer (clients.md §7.2): active, stale, probing, pending.
import type { Endpoint } from './address.js';
import { socketKind } from './entry.js';

/** Health state of a destination. */
export type DestinationState = 'ACTIVE' | 'STALE' | 'PROBING' | 'PENDING' | 'REMOVED';

/** A load-balancer destination; `usage` counts the NAT entries assigned to it. */
export interface Destination extends Endpoint {
  state: DestinationState;
  usage: number;
  /** ACTIVE/PENDING: time of the first unanswered send, STALE: time it became stale; -1 = nothing pending */
  since: number;
  /** `socketKind` of the endpoint: which outgoing socket of an entry sends to it */
  socketKind: number;
}

/** A state change found by `checkBalancer`, for logging. */
export interface Transition {
  destination: Destination;
  from: DestinationState;
  to: DestinationState;
}

/** Upper bound of destinations (active, stale, probing and pending together). */
export const MAX_DESTINATIONS = 1024;

/** The destination lists; each destination is in exactly one list, REMOVED ones in none. */
export interface Balancer {
  active: Destination[];
  stale: Destination[];
  probing: Destination[];
  pending: Destination[];
  /** every known destination by key */
  byKey: Map<string, Destination>;
  /** returns a number in [0, 1) */
  random: () => number;
}

/** Creates an empty balancer. */
export function createBalancer(random: () => number = Math.random): Balancer {
  return { active: [], stale: [], probing: [], pending: [], byKey: new Map(), random };
}

/** Number of known (not removed) destinations. */
export function destinationCount(b: Balancer): number {
  return b.byKey.size;
}

/** The known destination with that key, in any state. */
export function findDestination(b: Balancer, key: string): Destination | undefined {
  return b.byKey.get(key);
}

/** Adds an active destination; returns it, or undefined if it is already known or the bound is reached. */
export function addDestination(b: Balancer, endpoint: Endpoint): Destination | undefined {
  if (findDestination(b, endpoint.key) || destinationCount(b) >= MAX_DESTINATIONS) return undefined;
  const d: Destination = { ...endpoint, state: 'ACTIVE', usage: 0, since: -1, socketKind: socketKind(endpoint) };
  b.active.push(d);
  b.byKey.set(d.key, d);
  return d;
}

/** Removes a destination in any state; entries still using it choose another one on their next datagram. */
export function removeDestination(b: Balancer, key: string): Destination | undefined {
  for (const list of [b.active, b.stale, b.probing, b.pending]) {
    const i = list.findIndex((d) => d.key === key);
    if (i >= 0) {
      const [d] = list.splice(i, 1) as [Destination];
      d.state = 'REMOVED';
      b.byKey.delete(key);
      return d;
    }
  }
  return undefined;
}

/** True if new traffic may be sent to the destination. */
export function usable(d: Destination): boolean {
  return d.state === 'ACTIVE';
}

/**
 * Chooses the destination of a new assignment: the first probing destination (which becomes pending),
 * otherwise a random active one; without active destinations a stale or pending one.
 */
export function chooseDestination(b: Balancer): Destination | undefined {
  const probe = b.probing.shift();
  if (probe) {
    probe.state = 'PENDING';
    probe.since = -1;
    b.pending.push(probe);
    return probe;
  }
  const list = b.active.length > 0 ? b.active : b.stale.length > 0 ? b.stale : b.pending;
  if (list.length === 0) return undefined;
  return list.length === 1 ? list[0] : list[Math.floor(b.random() * list.length) % list.length];
}

/** Records a datagram sent to the destination: starts its answer timeout unless one is running. */
export function noteSent(d: Destination, now: number): void {
  if ((d.state === 'ACTIVE' || d.state === 'PENDING') && d.since < 0) d.since = now;
}

/** Records an answer from the destination: it is (again) active. Returns true if its state changed. */
export function noteAnswer(b: Balancer, d: Destination): boolean {
  d.since = -1;
  if (d.state === 'ACTIVE' || d.state === 'REMOVED') return false;
  const list = d.state === 'STALE' ? b.stale : d.state === 'PROBING' ? b.probing : b.pending;
  const i = list.indexOf(d);
  if (i >= 0) list.splice(i, 1);
  d.state = 'ACTIVE';
  b.active.push(d);
  return true;
}

/**
 * The periodic health check (every -tlb/4): stale destinations older than `timeout` become probing; active
 * and pending ones with a send unanswered for `timeout` become stale, keeping at least one active.
 */
export function checkBalancer(b: Balancer, now: number, timeout: number): Transition[] {
  const changes: Transition[] = [];
  for (let i = 0; i < b.stale.length; ) {
    const d = b.stale[i]!;
    if (now - d.since > timeout) {
      b.stale.splice(i, 1);
      d.state = 'PROBING';
      d.since = -1;
      b.probing.push(d);
      changes.push({ destination: d, from: 'STALE', to: 'PROBING' });
    } else ++i;
  }
  expire(b, b.active, 1, now, timeout, changes);
  expire(b, b.pending, 0, now, timeout, changes);
  return changes;
}

function expire(b: Balancer, list: Destination[], minimum: number, now: number, timeout: number, changes: Transition[]): void {
  for (let i = 0; i < list.length && list.length > minimum; ) {
    const d = list[i]!;
    if (d.since >= 0 && now - d.since > timeout) {
      list.splice(i, 1);
      changes.push({ destination: d, from: d.state, to: 'STALE' });
      d.state = 'STALE';
      d.since = now;
      b.stale.push(d);
    } else ++i;
  }
}

/** `rebalance`: every stale destination becomes active again; returns how many. */
export function reactivateStale(b: Balancer): number {
  const n = b.stale.length;
  for (const d of b.stale.splice(0)) {
    d.state = 'ACTIVE';
    d.since = -1;
    b.active.push(d);
  }
  return n;
}

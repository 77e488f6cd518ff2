// Load-balancer destination health (clients.md §7.2): active → stale → probing → pending → active.
import { describe, expect, it } from 'vitest';
import { numericEndpoint } from '../../src/nat/address.js';
import {
  addDestination,
  checkBalancer,
  chooseDestination,
  createBalancer,
  findDestination,
  noteAnswer,
  noteSent,
  reactivateStale,
  removeDestination,
  usable,
  type Balancer,
  type Destination,
} from '../../src/nat/balancer.js';

const TLB = 1000;

function setup(n: number, random = () => 0): { b: Balancer; d: Destination[] } {
  const b = createBalancer(random);
  const d = Array.from({ length: n }, (_, i) => addDestination(b, numericEndpoint(`127.0.0.${i + 2}`, 5684))!);
  return { b, d };
}

const names = (list: Destination[]): string[] => list.map((x) => x.name);

describe('balancer', () => {
  it('adds each address once and finds it by key', () => {
    const { b, d } = setup(2);
    expect(addDestination(b, numericEndpoint('127.0.0.2', 5684))).toBeUndefined();
    expect(findDestination(b, d[1]!.key)).toBe(d[1]);
    expect(names(b.active)).toEqual(['127.0.0.2:5684', '127.0.0.3:5684']);
    expect(usable(d[0]!)).toBe(true);
  });

  it('chooses a random active destination', () => {
    let r = 0;
    const { b, d } = setup(3, () => r);
    r = 0.1;
    expect(chooseDestination(b)).toBe(d[0]);
    r = 0.5;
    expect(chooseDestination(b)).toBe(d[1]);
    r = 0.99;
    expect(chooseDestination(b)).toBe(d[2]);
  });

  it('an answered destination never becomes stale', () => {
    const { b, d } = setup(2);
    noteSent(d[0]!, 0);
    noteAnswer(b, d[0]!);
    expect(checkBalancer(b, 5 * TLB, TLB)).toEqual([]);
    expect(b.active.length).toBe(2);
  });

  it('an unanswered destination becomes stale after the timeout, then probing, then pending, then active', () => {
    const { b, d } = setup(2);
    const [a, s] = d as [Destination, Destination];
    noteSent(s, 100);
    noteSent(s, 900); // the first unanswered send counts
    expect(checkBalancer(b, 1100, TLB)).toEqual([]);
    expect(checkBalancer(b, 1101, TLB)).toEqual([{ destination: s, from: 'ACTIVE', to: 'STALE' }]);
    expect(s.state).toBe('STALE');
    expect(usable(s)).toBe(false);
    expect(names(b.active)).toEqual([a.name]);
    expect(names(b.stale)).toEqual([s.name]);
    // stale for another timeout → probing
    expect(checkBalancer(b, 2101, TLB)).toEqual([]);
    expect(checkBalancer(b, 2102, TLB)).toEqual([{ destination: s, from: 'STALE', to: 'PROBING' }]);
    expect(names(b.probing)).toEqual([s.name]);
    // the next assignment takes the probing destination and marks it pending
    expect(chooseDestination(b)).toBe(s);
    expect(s.state).toBe('PENDING');
    expect(names(b.pending)).toEqual([s.name]);
    expect(chooseDestination(b)).toBe(a);
    // the probe is answered → active again
    noteSent(s, 2200);
    expect(noteAnswer(b, s)).toBe(true);
    expect(s.state).toBe('ACTIVE');
    expect(names(b.active)).toEqual([a.name, s.name]);
    expect(b.pending).toEqual([]);
  });

  it('an unanswered probe becomes stale again', () => {
    const { b, d } = setup(2);
    const s = d[1]!;
    noteSent(s, 0);
    checkBalancer(b, TLB + 1, TLB);
    checkBalancer(b, 2 * TLB + 2, TLB);
    expect(chooseDestination(b)).toBe(s);
    noteSent(s, 3000);
    expect(checkBalancer(b, 3000 + TLB + 1, TLB)).toEqual([{ destination: s, from: 'PENDING', to: 'STALE' }]);
    expect(names(b.stale)).toEqual([s.name]);
  });

  it('at least one destination stays active', () => {
    const { b, d } = setup(3);
    for (const x of d) noteSent(x, 0);
    const changes = checkBalancer(b, TLB + 1, TLB);
    expect(changes.length).toBe(2);
    expect(b.active.length).toBe(1);
    expect(b.stale.length).toBe(2);
    expect(checkBalancer(b, 10 * TLB, TLB).filter((c) => c.from === 'ACTIVE')).toEqual([]);
    expect(b.active.length).toBe(1);
  });

  it('a late answer of a stale destination re-activates it', () => {
    const { b, d } = setup(2);
    noteSent(d[0]!, 0);
    checkBalancer(b, TLB + 1, TLB);
    expect(d[0]!.state).toBe('STALE');
    expect(noteAnswer(b, d[0]!)).toBe(true);
    expect(b.stale).toEqual([]);
    expect(b.active.length).toBe(2);
  });

  it('rebalance re-activates stale destinations', () => {
    const { b, d } = setup(3);
    noteSent(d[0]!, 0);
    noteSent(d[1]!, 0);
    checkBalancer(b, TLB + 1, TLB);
    expect(b.stale.length).toBe(2);
    expect(reactivateStale(b)).toBe(2);
    expect(b.active.length).toBe(3);
    expect(b.active.every((x) => x.state === 'ACTIVE' && x.since === -1)).toBe(true);
  });

  it('removed destinations are unusable and unknown', () => {
    const { b, d } = setup(2);
    expect(removeDestination(b, d[0]!.key)).toBe(d[0]);
    expect(d[0]!.state).toBe('REMOVED');
    expect(usable(d[0]!)).toBe(false);
    expect(findDestination(b, d[0]!.key)).toBeUndefined();
    expect(removeDestination(b, d[0]!.key)).toBeUndefined();
    expect(chooseDestination(b)).toBe(d[1]);
    // a stale one can be removed too
    noteSent(d[1]!, 0);
    addDestination(b, numericEndpoint('127.0.0.9', 1));
    checkBalancer(b, TLB + 1, TLB);
    expect(removeDestination(b, d[1]!.key)).toBe(d[1]);
    expect(b.stale).toEqual([]);
  });

  it('without active destinations a stale one is chosen, none without any', () => {
    const { b, d } = setup(2);
    noteSent(d[0]!, 0);
    checkBalancer(b, TLB + 1, TLB);
    removeDestination(b, d[1]!.key);
    expect(chooseDestination(b)).toBe(d[0]);
    removeDestination(b, d[0]!.key);
    expect(chooseDestination(b)).toBeUndefined();
  });
});

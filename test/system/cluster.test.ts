// DTLS CID cluster system tests (cluster.md §1-7, §12): three nodes on 127.0.0.2-4 behind the NAT on
// 127.0.0.1. A CID client keeps its session and its node through NAT clear, reassign and rebalance:
// no new handshake, the owning node-id in /mycontext, `via: dtls-cid-router` once another node
// forwarded its record. Static, dynamic and secure (MAC) clusters, backward and direct mode.
import { afterEach, describe, expect, it } from 'vitest';
import { DtlsPeer } from '../helpers/dtls-client.js';
import { nodeCounters, startCluster, startTestNat, type ClusterMode, type TestCluster } from '../helpers/cluster.js';
import type { Nat } from '../../src/nat/nat.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A CID client (6-byte CID) talking to the NAT. */
async function cidClient(nat: { port: number }): Promise<DtlsPeer> {
  const peer = await DtlsPeer.open('127.0.0.1', nat.port, { cidLength: 6 });
  cleanups.push(() => peer.close());
  return peer;
}

/**
 * /mycontext fields, bounded retries: a NAT change may cost one lost datagram, and right after the start a node may
 * not have met the owner yet (a node is ready once it knows one other node; the tables complete within
 * CLUSTER_MGMT.REFRESH_INTERVAL, 4 s), so a record it receives for that owner is dropped until then.
 */
async function context(peer: DtlsPeer): Promise<Map<string, string>> {
  return (await peer.context(9000, 5)).fields;
}

/** The DTLS/cluster counter group of node n (1-based), read by a direct client of that node. */
function clusterCounters(cluster: TestCluster, n: number): Promise<Map<string, [number, number]>> {
  return nodeCounters(cluster, n, (fn) => cleanups.push(fn));
}

/** The NAT destination (node index 0-based) of the peer's current NAT entry, from the node's view of it. */
async function mapped(cluster: TestCluster, nat: Nat): Promise<void> {
  expect(cluster.destinations.length).toBeGreaterThan(0);
  expect(nat.stats()).toBeDefined();
}

/**
 * Runs `change` (a NAT console command) until a request of the peer went to a node other than its
 * owner (seen as `via: dtls-cid-router`), at most `tries` times; each time the session, node-id and
 * CID must stay and no handshake may happen.
 */
async function keepsSessionThrough(peer: DtlsPeer, nat: Nat, change: string, tries = 15): Promise<{ forwarded: number; owner: string }> {
  const first = await context(peer);
  const owner = first.get('node-id')!;
  const readCid = first.get('read-cid')!;
  const handshakes = peer.handshakes;
  expect(owner).toMatch(/^[123]$/);
  expect(readCid.slice(0, 2)).toBe(`0${owner}`);
  let forwarded = 0;
  for (let i = 0; i < tries && forwarded < 2; i++) {
    nat.command(change);
    const f = await context(peer);
    expect(f.get('node-id')).toBe(owner);
    expect(f.get('read-cid')).toBe(readCid);
    if (f.get('via') === 'dtls-cid-router') forwarded++;
  }
  expect(peer.handshakes).toBe(handshakes);
  return { forwarded, owner };
}

async function clusterWithNat(mode: ClusterMode, o: { direct?: boolean; reverse?: boolean } = {}): Promise<{ cluster: TestCluster; nat: Nat & { port: number } }> {
  const cluster = await startCluster({ mode, ...(o.direct ? { direct: true } : {}) });
  cleanups.push(() => cluster.stop());
  const nat = await startTestNat(cluster.destinations, o.reverse ? { reverse: true } : {});
  cleanups.push(() => nat.stop());
  return { cluster, nat };
}

describe('DTLS CID cluster behind the NAT', () => {
  for (const mode of ['static', 'dynamic', 'secure'] as const) {
    it(`${mode}: a CID client keeps its session and node through clear, reassign and rebalance`, async () => {
      const { cluster, nat } = await clusterWithNat(mode);
      const peer = await cidClient(nat);
      await peer.connect();
      expect(peer.handshakes).toBe(1);
      const cleared = await keepsSessionThrough(peer, nat, 'clear');
      // with three nodes and a random destination per new entry, 15 clears reach another node
      expect(cleared.forwarded).toBeGreaterThan(0);
      await keepsSessionThrough(peer, nat, 'reassign', 3);
      await keepsSessionThrough(peer, nat, 'rebalance', 6);
      expect(peer.handshakes).toBe(1);
      await mapped(cluster, nat);
      // the forwarding counters of the nodes moved: some node forwarded, the owner processed and backwarded
      let forwarded = 0;
      let processed = 0;
      let backwarded = 0;
      let sendBackwarded = 0;
      for (let n = 1; n <= 3; n++) {
        const group = await clusterCounters(cluster, n);
        const row = (k: string): number => (group.get(k) ?? [0, 0])[0];
        forwarded += row('forwarded');
        processed += row('process forwarded');
        backwarded += row('backwarded');
        sendBackwarded += row('send backwarded');
        expect(row('bad forward')).toBe(0);
        expect(row('bad backward')).toBe(0);
      }
      expect(forwarded).toBeGreaterThan(0);
      expect(processed).toBe(forwarded);
      expect(backwarded).toBeGreaterThan(0);
      expect(sendBackwarded).toBe(backwarded);
    });
  }

  it('direct mode (--no-dtls-cluster-backward) with the NAT in reverse mode: the owner answers the client itself', async () => {
    const { cluster, nat } = await clusterWithNat('dynamic', { direct: true, reverse: true });
    const peer = await cidClient(nat);
    await peer.connect();
    const { forwarded } = await keepsSessionThrough(peer, nat, 'clear');
    expect(forwarded).toBeGreaterThan(0);
    // nothing went back through the receiving node
    let processed = 0;
    for (let n = 1; n <= 3; n++) {
      const group = await clusterCounters(cluster, n);
      expect((group.get('backwarded') ?? [0, 0])[0]).toBe(0);
      processed += (group.get('process forwarded') ?? [0, 0])[0];
    }
    expect(processed).toBeGreaterThan(0);
  });

  it('a node killed mid-run: clients of the other nodes see no error, its own clients recover with a new handshake', async () => {
    const { cluster, nat } = await clusterWithNat('dynamic');
    // open clients until two different owners are seen (bounded)
    const byOwner = new Map<string, DtlsPeer>();
    for (let i = 0; i < 12 && byOwner.size < 3; i++) {
      const peer = await cidClient(nat);
      const owner = (await context(peer)).get('node-id')!;
      if (!byOwner.has(owner)) byOwner.set(owner, peer);
    }
    expect(byOwner.size).toBeGreaterThanOrEqual(2);
    const [victimId, victim] = [...byOwner.entries()][0]!;
    const survivors = [...byOwner.entries()].slice(1);
    await cluster.nodes[Number(victimId) - 1]!.stop();
    nat.command(`remove ${cluster.destinations[Number(victimId) - 1]}`);
    for (const [owner, peer] of survivors) {
      const before = peer.handshakes;
      for (let i = 0; i < 3; i++) {
        nat.command('clear');
        const f = await context(peer);
        expect(f.get('node-id')).toBe(owner);
      }
      expect(peer.handshakes).toBe(before);
    }
    // the victim's session is gone: its requests are lost (records to the dead node, or dropped as foreign CID)
    await expect(victim.context(1500, 0)).rejects.toThrow();
    // a new handshake brings it back, on a live node
    await victim.connect({ full: true });
    const f = await context(victim);
    expect(f.get('node-id')).not.toBe(victimId);
    expect(victim.handshakes).toBe(2);
  });
});

// The node manager of the dynamic/k8s modes (cluster.md §6.2, §7): PING/PONG, the node table, state
// and readiness, refresh and expiry, discovery; driven by hand through in-memory channels and a clock.
import { describe, expect, it } from 'vitest';
import { ClusterManager, type ClusterTimers } from '../../src/cluster/manager.js';
import type { MgmtChannel } from '../../src/cluster/mgmt-channel.js';
import { ClusterState, decodeMgmtMessage, encodeMgmtMessage, MGMT_PING, MGMT_PONG } from '../../src/cluster/mgmt-message.js';
import { clusterState, NodeTable } from '../../src/cluster/node-table.js';
import type { PeerAddress } from '../../src/transport/connector.js';

const TIMERS: ClusterTimers = { interval: 2000, refresh: 4000, discover: 10_000, expiration: 6000 };

interface Sent {
  from: PeerAddress;
  to: PeerAddress;
  data: Buffer;
  fresh: boolean;
}

/** Managers on in-memory channels: `deliver()` hands every queued message to its addressee. */
function net(count: number, initialNodes: (n: number) => number, scope?: (n: number) => PeerAddress[]) {
  let now = 1_000_000;
  const queue: Sent[] = [];
  const addr = (n: number): PeerAddress => ({ address: `127.0.0.${n + 1}`, port: 5884 });
  const managers = new Map<string, ClusterManager>();
  const all: ClusterManager[] = [];
  for (let n = 1; n <= count; n++) {
    const me = addr(n);
    const channel: MgmtChannel = {
      name: 'mem',
      secure: false,
      receive: () => {},
      onMessage: () => {},
      send: (data, to, fresh) => queue.push({ from: me, to, data: Buffer.from(data), fresh }),
      macKeys: () => undefined,
      start: () => Promise.resolve(),
      stop: () => Promise.resolve(),
    };
    const others = Array.from({ length: count }, (_, i) => addr(i + 1)).filter((a) => a.address !== me.address);
    const m = new ClusterManager({ nodeId: n, channel, initialNodes: initialNodes(n), scope: () => (scope ? scope(n) : others), timers: TIMERS, now: () => now });
    managers.set(me.address, m);
    all.push(m);
  }
  return {
    managers: all,
    queue,
    addr,
    advance: (ms: number) => (now += ms),
    /** delivers queued messages (and the answers they cause), at most `rounds` times */
    deliver(rounds = 10, drop?: (s: Sent) => boolean): Sent[] {
      const delivered: Sent[] = [];
      for (let i = 0; i < rounds && queue.length > 0; i++) {
        for (const s of queue.splice(0)) {
          if (drop?.(s)) continue;
          delivered.push(s);
          managers.get(s.to.address)?.onMessage(s.data, s.from);
        }
      }
      return delivered;
    },
  };
}

describe('cluster state and node table', () => {
  it('state: INITIALIZED when ready or the other is; UP at the initial size; else START', () => {
    expect(clusterState(true, 1, 3)).toBe(ClusterState.INITIALIZED);
    expect(clusterState(false, 1, 3, ClusterState.INITIALIZED)).toBe(ClusterState.INITIALIZED);
    expect(clusterState(false, 3, 3)).toBe(ClusterState.UP);
    expect(clusterState(false, 2, 3, ClusterState.UP)).toBe(ClusterState.START);
  });

  it('one entry per id and per address: an address taken by another id drops the old entry', () => {
    const t = new NodeTable();
    t.update(1, { address: '127.0.0.2', port: 1 }, ClusterState.UP, 0);
    t.update(2, { address: '127.0.0.3', port: 1 }, ClusterState.UP, 0);
    t.update(3, { address: '127.0.0.2', port: 1 }, ClusterState.START, 5);
    expect(t.get(1)).toBeUndefined();
    expect(t.get(3)!.address.address).toBe('127.0.0.2');
    expect(t.getByAddress({ address: '127.0.0.2', port: 1 })!.nodeId).toBe(3);
    // a node moving to another address is found there only
    t.update(2, { address: '127.0.0.9', port: 1 }, ClusterState.UP, 6);
    expect(t.getByAddress({ address: '127.0.0.3', port: 1 })).toBeUndefined();
    expect(t.size).toBe(2);
    expect(t.countUp()).toBe(1);
  });

  it('PING/PONG: 6 bytes, node-id little-endian; shorter or other messages are ignored', () => {
    const ping = encodeMgmtMessage({ type: MGMT_PING, nodeId: 0x01020304, state: ClusterState.UP });
    expect(ping.toString('hex')).toBe('3d0403020101');
    expect(decodeMgmtMessage(ping)).toEqual({ type: MGMT_PING, nodeId: 0x01020304, state: ClusterState.UP });
    expect(decodeMgmtMessage(ping.subarray(0, 5))).toBeUndefined();
    expect(decodeMgmtMessage(Buffer.from([59, 1, 0, 0, 0, 0]))).toBeUndefined();
    expect(decodeMgmtMessage(Buffer.from([60, 1, 0, 0, 0, 3]))).toBeUndefined();
  });
});

describe('ClusterManager', () => {
  it('three nodes: discovery pings (fresh handshakes), pongs, every node ready and knowing the others', async () => {
    const n = net(3, () => 2);
    expect(n.managers.every((m) => !m.ready)).toBe(true);
    await n.managers[0]!.runTimer();
    // the table is empty: node 1 pings the whole scope, forcing new sessions
    expect(n.queue.map((s) => [s.to.address, s.fresh, decodeMgmtMessage(s.data)!.type])).toEqual(
      expect.arrayContaining([
        ['127.0.0.3', true, MGMT_PING],
        ['127.0.0.4', true, MGMT_PING],
      ]),
    );
    const delivered = n.deliver();
    expect(delivered.some((s) => decodeMgmtMessage(s.data)!.type === MGMT_PONG)).toBe(true);
    // node 1 heard two UP nodes: ready; the others learn the rest from their own timer runs
    expect(n.managers[0]!.ready).toBe(true);
    for (const m of n.managers.slice(1)) await m.runTimer();
    n.deliver();
    expect(n.managers.every((m) => m.ready)).toBe(true);
    for (const m of n.managers) expect(m.table.size).toBe(2);
    expect(n.managers[1]!.nodeAddress(1)).toEqual(n.addr(1));
    expect(n.managers[1]!.routerAvailable(n.addr(3))).toBe(true);
    expect(n.managers[1]!.isNode({ address: '127.0.0.99', port: 5884 })).toBe(false);
  });

  it('a PING with the own node-id is ignored', () => {
    const n = net(2, () => 2);
    n.managers[0]!.onMessage(encodeMgmtMessage({ type: MGMT_PING, nodeId: 1, state: ClusterState.UP }), n.addr(2));
    expect(n.queue.length).toBe(0);
    expect(n.managers[0]!.table.size).toBe(0);
  });

  it('two-node dynamic cluster (one other address): ready at once and still discovers (recommended deviation)', async () => {
    const n = net(2, () => 1);
    expect(n.managers.every((m) => m.ready)).toBe(true);
    await n.managers[0]!.runTimer();
    expect(n.queue.length).toBe(1);
    n.deliver();
    expect(n.managers[0]!.nodeAddress(2)).toEqual(n.addr(2));
    expect(n.managers[1]!.nodeAddress(1)).toEqual(n.addr(1));
  });

  it('refresh after REFRESH_INTERVAL, expiry after REFRESH + EXPIRATION, then discovery again', async () => {
    const n = net(2, () => 1);
    await n.managers[0]!.runTimer();
    n.deliver();
    const m = n.managers[0]!;
    n.advance(2000);
    await m.runTimer();
    expect(n.queue.length).toBe(0); // fresh entries, no discovery before DISCOVER_INTERVAL
    n.advance(2500);
    await m.runTimer();
    expect(n.queue.map((s) => s.fresh)).toEqual([false]); // a refresh ping to the known node
    n.queue.length = 0; // node 2 is gone: nothing answers
    n.advance(6000);
    await m.runTimer();
    expect(m.table.size).toBe(0);
    expect(m.routerAvailable(n.addr(2))).toBe(false);
    // expired: discovery pings the scope with a fresh handshake
    expect(n.queue.map((s) => [s.to.address, s.fresh])).toEqual([['127.0.0.3', true]]);
  });

  it('discovery failure gives an empty scope, not an exception', async () => {
    const n = net(2, () => 2, () => {
      throw new Error('API down');
    });
    await expect(n.managers[0]!.runTimer()).resolves.toBeUndefined();
    expect(n.queue.length).toBe(0);
  });
});

// Shared DTLS connection store (issue 12) end to end: three secure dynamic nodes on 127.0.0.2-4 with
// --dtls-cluster-store, Redis of the test's own on 127.0.0.1, the NAT on 127.0.0.1. A CID client's node is killed with
// SIGKILL: the client's next request is answered by another node with the same session and CID and no new handshake,
// /mycontext shows `takeover: from node N`, /diagnose counts it. Start-up refuses the store without the cluster secret.
import { afterEach, beforeAll, afterAll, describe, expect, it } from 'vitest';
import { DtlsPeer } from '../helpers/dtls-client.js';
import { nodeCounters, startCluster, startTestNat, type TestCluster } from '../helpers/cluster.js';
import { requirePeer } from '../helpers/peers.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';
import { startServer, waitOutput } from '../helpers/server-process.js';
import { parseReport, runClient } from '../helpers/benchmark-run.js';

const redisPeer = requirePeer('redis-server');
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** Node timers: a silent node leaves the tables after about 2 s. */
const FAST_EXPIRY = ['CLUSTER_MGMT.REFRESH_INTERVAL=1000ms', 'CLUSTER_MGMT.EXPIRATION_TIME=1000ms'];

/** The store counters of node n (1-based) from its /diagnose group, read by a direct client of that node. */
function storeCounters(cluster: TestCluster, n: number): Promise<Map<string, [number, number]>> {
  return nodeCounters(cluster, n, (fn) => cleanups.push(fn));
}

function count(rows: Map<string, [number, number]>, key: string): number {
  const r = rows.get(key);
  expect(r, `row ${key}`).toBeDefined();
  return r![0] + r![1];
}

describe.skipIf(redisPeer.skipReason !== undefined)(`DTLS cluster with a shared connection store${redisPeer.skipReason ? ` (${redisPeer.skipReason})` : ''}`, () => {
  let redis: TestRedis;
  beforeAll(async () => {
    redis = await startRedis(redisPeer.path!);
  });
  afterAll(async () => {
    await redis?.stop();
  });

  it('a node killed with SIGKILL: another node answers its client with the same session and CID, no new handshake', async () => {
    const cluster = await startCluster({ mode: 'secure', args: [`--dtls-cluster-store=${redis.url}`], properties: FAST_EXPIRY });
    cleanups.push(() => cluster.stop());
    const nat = await startTestNat(cluster.destinations);
    cleanups.push(() => nat.stop());
    const peer = await DtlsPeer.open('127.0.0.1', nat.port, { cidLength: 6 });
    cleanups.push(() => peer.close());
    const first = (await peer.context(4000, 2)).fields;
    const owner = Number(first.get('node-id'));
    const readCid = first.get('read-cid')!;
    const sessionId = first.get('session-id')!;
    expect(owner).toBeGreaterThanOrEqual(1);
    expect(first.get('takeover')).toBeUndefined();
    expect(peer.handshakes).toBe(1);
    // the connection is in the store (written when the handshake completed)
    await waitOutput(cluster.nodes[owner - 1]!, /cluster store/, 1000);
    expect(count(await storeCounters(cluster, owner), 'store writes')).toBeGreaterThanOrEqual(1);

    const killedAt = Date.now();
    cluster.nodes[owner - 1]!.proc.kill('SIGKILL');
    nat.command(`remove ${cluster.destinations[owner - 1]}`);
    nat.command('clear');
    // the client retries until another node has seen the death (≈ 2 s) and took the connection over
    const after = (await peer.context(3000, 4)).fields;
    const answeredAfter = Date.now() - killedAt;
    const newOwner = Number(after.get('node-id'));
    expect(newOwner).not.toBe(owner);
    expect(after.get('takeover')).toBe(`from node ${owner}`);
    expect(after.get('read-cid')).toBe(readCid);
    expect(after.get('session-id')).toBe(sessionId);
    expect(peer.handshakes).toBe(1);
    expect(answeredAfter).toBeLessThan(12_000);
    const rows = await storeCounters(cluster, newOwner);
    expect(count(rows, 'takeovers')).toBe(1);

    // moved around by the NAT, the client stays with the new owner (the third node learns it from the store)
    for (let i = 0; i < 4; i++) {
      nat.command('clear');
      const f = (await peer.context(3000, 2)).fields;
      expect(f.get('node-id')).toBe(String(newOwner));
      expect(f.get('read-cid')).toBe(readCid);
    }
    expect(peer.handshakes).toBe(1);
    const third = [1, 2, 3].find((n) => n !== owner && n !== newOwner)!;
    const thirdRows = await storeCounters(cluster, third);
    expect(count(thirdRows, 'takeovers')).toBe(0);
    process.stdout.write(`takeover: node ${owner} killed, first answer from node ${newOwner} after ${answeredAfter} ms\n`);

    // the dead node comes back (same node-id, no state) and the NAT sends everything to it: it answers nothing for
    // the connection itself, it learns the new owner from the store and forwards there
    const back = await cluster.restart(owner);
    await waitOutput(back, /cluster ready/, 15_000);
    nat.command(`add ${cluster.destinations[owner - 1]}`);
    nat.command(`remove ${cluster.destinations[newOwner - 1]}`);
    nat.command(`remove ${cluster.destinations[third - 1]}`);
    nat.command('clear');
    for (let i = 0; i < 3; i++) {
      const f = (await peer.context(3000, 2)).fields;
      expect(f.get('node-id')).toBe(String(newOwner));
      expect(f.get('via')).toBe('dtls-cid-router');
      expect(f.get('read-cid')).toBe(readCid);
    }
    expect(peer.handshakes).toBe(1);
    const backRows = await storeCounters(cluster, owner);
    expect(count(backRows, 'owners learned')).toBe(1);
    expect(count(backRows, 'takeovers')).toBe(0);
  });

  /** Handshakes succeeded and connections of node n (this read's own handshake and connection included). */
  async function handshakesAndConnections(cluster: TestCluster, n: number): Promise<{ handshakes: number; connections: number }> {
    const rows = await storeCounters(cluster, n);
    return { handshakes: count(rows, 'handshakes succeeded'), connections: rows.get('connections')![0] };
  }

  it.each(['steady', 'reassign'] as const)(
    'benchmark client, 100 CID clients sustained, a node SIGKILLed mid-run (NAT %s): no new handshake, no transmission error, the takeover in the progress lines',
    async (nat$) => {
      const cluster = await startCluster({ mode: 'secure', args: [`--dtls-cluster-store=${redis.url}`], properties: FAST_EXPIRY });
      cleanups.push(() => cluster.stop());
      const nat = await startTestNat(cluster.destinations);
      cleanups.push(() => nat.stop());
      const victim = 2;
      const survivors = [1, 3];
      let before: Array<{ handshakes: number; connections: number }> | undefined;
      let victimClients = 0;
      let killed: Promise<void> | undefined;
      const reassigns: NodeJS.Timeout[] = [];
      cleanups.push(async () => reassigns.forEach((t) => clearInterval(t)));
      const run = await runClient(
        // paced (100 ms + 0-499 ms between a response and the next request: about 300 requests/s for about 17 s, on
        // any machine), so that the progress line at 10 s comes after the takeover's retransmissions
        [`coaps://127.0.0.1:${nat.port}/benchmark?rlen=40`, '--clients', '100', '--requests', '50', '--interval', '100', '--cid-length', '6'],
        90_000,
        (stdout) => {
          if (killed !== undefined || !/^Benchmark started\.$/m.test(stdout)) return;
          killed = (async () => {
            // every client connected (and sending) before the kill
            await new Promise((r) => setTimeout(r, 2500));
            victimClients = (await handshakesAndConnections(cluster, victim)).connections - 1;
            before = await Promise.all(survivors.map((n) => handshakesAndConnections(cluster, n)));
            cluster.nodes[victim - 1]!.proc.kill('SIGKILL');
            nat.command(`remove ${cluster.destinations[victim - 1]}`);
            if (nat$ === 'reassign') {
              let n = 0;
              const t = setInterval(() => {
                nat.command('reassign');
                if (++n === 8) clearInterval(t);
              }, 500);
              reassigns.push(t);
            }
          })();
        },
      );
      await killed;
      const report = parseReport(run.stdout);
      expect(run.code, run.stdout).toBe(0);
      expect(report.sent).toBe(report.expected);
      expect(report.transmissionErrors, run.stdout).toBe(false);
      expect(report.stale).toBe(false);
      expect(report.errors).toBe(0);
      expect(victimClients).toBeGreaterThan(0);
      // the takeover shows as retransmissions in a progress line
      expect(run.stdout, run.stdout).toMatch(/^\[\d{4}\]: \d+ requests \(\d+ reqs\/s, [1-9]\d* retransmissions/m);
      const after = await Promise.all(survivors.map((n) => handshakesAndConnections(cluster, n)));
      // no client handshook again: only this test's /diagnose reads (one per node) since the kill
      const newHandshakes = after.reduce((a, x, i) => a + x.handshakes - before![i]!.handshakes - 1, 0);
      expect(newHandshakes).toBe(0);
      const takeovers = (await Promise.all(survivors.map(async (n) => count(await storeCounters(cluster, n), 'takeovers')))).reduce((a, b) => a + b, 0);
      expect(takeovers).toBe(victimClients);
    },
    120_000,
  );

  it('Redis stopped mid-run: the nodes keep serving, a later takeover fails closed (counted) and the client handshakes again', async () => {
    const own = await startRedis(redisPeer.path!);
    cleanups.push(() => own.stop());
    const cluster = await startCluster({ mode: 'secure', args: [`--dtls-cluster-store=${own.url}`], properties: FAST_EXPIRY });
    cleanups.push(() => cluster.stop());
    const nat = await startTestNat(cluster.destinations);
    cleanups.push(() => nat.stop());
    const peer = await DtlsPeer.open('127.0.0.1', nat.port, { cidLength: 6 });
    cleanups.push(() => peer.close());
    const owner = Number((await peer.context(4000, 2)).fields.get('node-id'));
    expect(count(await storeCounters(cluster, owner), 'store writes')).toBeGreaterThanOrEqual(1);
    await own.stop();
    // serving goes on (through the NAT, also when another node forwards)
    for (let i = 0; i < 4; i++) {
      nat.command('clear');
      const f = (await peer.context(3000, 2)).fields;
      expect(f.get('node-id')).toBe(String(owner));
    }
    expect(peer.handshakes).toBe(1);
    cluster.nodes[owner - 1]!.proc.kill('SIGKILL');
    nat.command(`remove ${cluster.destinations[owner - 1]}`);
    nat.command('clear');
    // no takeover without the store: unanswered, also once the death was seen (the lookups fail, counted) ...
    const others = [1, 2, 3].filter((n) => n !== owner);
    const failures = async (): Promise<number> => (await Promise.all(others.map(async (n) => count(await storeCounters(cluster, n), 'takeover failures')))).reduce((a, b) => a + b, 0);
    let failed = 0;
    for (let i = 0; i < 6 && failed === 0; i++) {
      await expect(peer.context(1500, 0)).rejects.toThrow();
      failed = await failures();
    }
    expect(failed).toBeGreaterThanOrEqual(1);
    // ... and the device falls back to a handshake with a live node
    await peer.connect({ full: true });
    const f = (await peer.context(4000, 2)).fields;
    expect(others).toContain(Number(f.get('node-id')));
    expect(f.get('takeover')).toBeUndefined();
    expect(peer.handshakes).toBe(2);
  });

  it.each([
    ['the flag without the cluster secret', ['--dtls-cluster-group=127.0.0.3:5999', 'STORE'], [], '--dtls-cluster-store requires a cluster secret (--dtls-cluster-group-security'],
    ['CLUSTER_STORE.URL without the cluster secret', ['--dtls-cluster-group=127.0.0.3:5999'], ['CLUSTER_STORE.URL=<redis>'], '--dtls-cluster-store requires a cluster secret (--dtls-cluster-group-security'],
    ['a static cluster', ['STORE'], [], '--dtls-cluster-store requires a dynamic cluster (--dtls-cluster-group) or --k8s-dtls-cluster'],
  ])('refuses the store at start-up: %s', async (_what, flags, properties, message) => {
    const sp = await startServer({
      args: ['--no-external', '--no-ipv6', '--dtls-only', '--no-plugtest', '--dtls-cluster=127.0.0.2:0;127.0.0.2:0;1', ...flags.map((f) => (f === 'STORE' ? `--dtls-cluster-store=${redis.url}` : f))],
      properties: properties.map((p) => p.replace('<redis>', redis.url)),
      waitStarted: false,
    });
    cleanups.push(async () => void (await sp.stop()));
    const code = await sp.exited;
    expect(code).not.toBe(0);
    expect(sp.output()).toContain(message);
  });
});

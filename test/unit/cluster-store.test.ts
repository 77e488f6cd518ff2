// The shared DTLS connection store (issue 12): sealing, the Redis scripts against a real redis-server of the test's
// own, and the failover of two in-process nodes: write on handshake, checkpoint every N records, delete on close,
// takeover with the sequence jump and the replay window, a tampered entry refused, one winner of a claim race.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import pino from 'pino';
import { DtlsConnector } from '../../src/dtls/connector.js';
import { DEFAULT_DTLS_CONFIG, type DtlsConfig } from '../../src/dtls/config.js';
import { ClusterSetupError, createClusterConnectors, STORE_NEEDS_SECRET, type ClusterSetupOptions, type NodeConnectorFactory } from '../../src/cluster/setup.js';
import { Failover, type FailoverNode } from '../../src/cluster/store/failover.js';
import { createRedisStore, storeKey, type RedisStore } from '../../src/cluster/store/redis-store.js';
import { decodeEntry } from '../../src/cluster/store/entry.js';
import { deriveStoreKey, openEntry, sealEntry } from '../../src/cluster/store/seal.js';
import type { PeerAddress } from '../../src/transport/connector.js';
import { client, echoServer, roundTrip, waitFor } from '../helpers/dtls-pair.js';
import { requirePeer } from '../helpers/peers.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';

const redisPeer = requirePeer('redis-server');
const PSK = { pskIdentity: 'Client_identity', pskSecret: Buffer.from('secretPSK') };
const SECRET = Buffer.from('testClusterSecret');

describe('store entry sealing', () => {
  const key = deriveStoreKey(SECRET);
  const cid = Buffer.from('0102030405', 'hex');

  it('opens what it sealed, and nothing altered, moved to another CID or sealed with another secret', () => {
    const plain = Buffer.from('connection state');
    const sealed = sealEntry(key, cid, plain);
    expect(openEntry(key, cid, sealed)).toEqual(plain);
    expect(sealed.includes(plain)).toBe(false);
    for (const at of [0, 5, 20, sealed.length - 20, sealed.length - 1]) {
      const bad = Buffer.from(sealed);
      bad[at]! ^= 0x01;
      expect(openEntry(key, cid, bad), `byte ${at}`).toBeUndefined();
    }
    expect(openEntry(key, Buffer.from('0102030406', 'hex'), sealed)).toBeUndefined();
    expect(openEntry(deriveStoreKey(Buffer.from('otherSecret')), cid, sealed)).toBeUndefined();
    expect(openEntry(key, cid, sealed.subarray(0, 20))).toBeUndefined();
  });

  it('derives the store key from the secret (never the secret itself), two seals of one plaintext differ', () => {
    expect(key.length).toBe(32);
    expect(key.includes(SECRET)).toBe(false);
    const a = sealEntry(key, cid, Buffer.from('x'));
    const b = sealEntry(key, cid, Buffer.from('x'));
    expect(a.equals(b)).toBe(false);
  });
});

/** A plain Redis client of the test (its reconnect errors while Redis is stopped are expected). */
function rawClient(url: string): Redis {
  const r = new Redis(url);
  r.on('error', () => {});
  return r;
}

describe.skipIf(redisPeer.skipReason !== undefined)(`shared connection store in Redis${redisPeer.skipReason ? ` (${redisPeer.skipReason})` : ''}`, () => {
  let redis: TestRedis;
  let raw: Redis;
  const stores: RedisStore[] = [];
  const cleanups: Array<() => Promise<void> | void> = [];

  beforeAll(async () => {
    redis = await startRedis(redisPeer.path!);
    raw = rawClient(redis.url);
  });
  afterAll(async () => {
    raw?.disconnect();
    await redis?.stop();
  });
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
    for (const s of stores.splice(0)) await s.close();
    await raw.flushall();
  });

  async function store(entryLifetime = 60_000): Promise<RedisStore> {
    const s = createRedisStore({ url: redis.url, timeout: 1000, entryLifetime });
    stores.push(s);
    expect(await waitFor(() => s.connected, 3000)).toBe(true);
    return s;
  }

  it('k8s mode: the store runs with the management PSK as cluster secret and is refused without it', async () => {
    const logger = pino({ level: 'silent' });
    const o: ClusterSetupOptions = {
      k8s: { dtls: { host: '127.0.0.2', port: 0 }, mgmt: { host: '127.0.0.2', port: 0 }, externalMgmtPort: 5884 },
      backward: true,
      timers: { interval: 2000, refresh: 4000, discover: 10_000, expiration: 6000 },
      store: { url: redis.url, checkpointRecords: 1000, checkpointInterval: 10_000, sequenceMargin: 100_000, entryLifetime: 60_000, timeout: 1000 },
    };
    const base: DtlsConfig = { ...DEFAULT_DTLS_CONFIG, cidLength: 6 };
    const factory: NodeConnectorFactory = (address, port, config, transport) => new DtlsConnector({ address, port, role: 'server', config, transport });
    const source = (psk: boolean) => ({
      prepare: async () => ({ nodeId: 4, initialNodes: 1, ...(psk ? { mgmtPsk: { identity: 'dtls-mgmt', secret: Buffer.from('k8sSecret') } } : {}) }),
      scope: async () => [],
    });
    const [node] = await createClusterConnectors(o, base, factory, logger, source(true));
    expect(node!.failover).toBeDefined();
    await node!.redis!.close();
    await expect(createClusterConnectors(o, base, factory, logger, source(false))).rejects.toEqual(new ClusterSetupError(STORE_NEEDS_SECRET));
  });

  it('writes only as owner, deletes only as owner, and a claim race has one winner', async () => {
    const a = await store();
    const b = await store();
    const cid = Buffer.from('0201020304', 'hex');
    expect(await a.write(cid, 2, Buffer.from('state-2'))).toBe('written');
    expect(await b.write(cid, 3, Buffer.from('state-3'))).toBe('other-owner');
    await b.remove(cid, 3);
    expect(await a.lookup(cid)).toEqual({ owner: 2, data: Buffer.from('state-2') });
    // nodes 3 and 4 both see node 2 gone and claim at the same time
    const [c3, c4] = await Promise.all([a.claim(cid, 2, 3), b.claim(cid, 2, 4)]);
    const winners = [c3, c4].filter((c, i) => c?.owner === [3, 4][i]);
    expect(winners).toHaveLength(1);
    expect(winners[0]!.data).toEqual(Buffer.from('state-2'));
    const loser = c3?.owner === 3 ? c4 : c3;
    expect(loser).toEqual({ owner: winners[0]!.owner, data: undefined });
    // the former owner can no longer write or delete it
    expect(await a.write(cid, 2, Buffer.from('stale'))).toBe('other-owner');
    await a.remove(cid, 2);
    expect((await a.lookup(cid))?.owner).toBe(winners[0]!.owner);
    await a.remove(cid, winners[0]!.owner);
    expect(await a.lookup(cid)).toBeUndefined();
    expect(await a.claim(cid, 2, 3)).toBeUndefined();
  });

  /** A server connector (node `nodeId`, 6-byte CIDs) with a failover; `alive` lists the node-ids it sees. */
  /** A CID client whose records are captured instead of sent once `capture.on` is set (a node's death, seen from the client). */
  async function capturingClient() {
    const capture = { on: false };
    const captured: Buffer[] = [];
    const c = await client({ ...PSK, config: { cidLength: 6 }, outboundFilter: (d) => (capture.on ? (captured.push(Buffer.from(d)), false) : true) });
    cleanups.push(() => c.client.stop());
    return { c, captured, capture };
  }

  /** Node `id` dies: its server and failover stop (its state stays in Redis) and it leaves the node table `alive`. */
  async function kill(n: { server: { stop(): Promise<void> }; failover: { stop(): void } }, id: number, alive: Set<number>): Promise<void> {
    await n.server.stop();
    n.failover.stop();
    alive.delete(id);
  }

  async function node(nodeId: number, alive: Set<number>, o: { checkpointRecords?: number; sequenceMargin?: number; sent?: Buffer[]; entryLifetime?: number } = {}) {
    const s = await echoServer({ config: { cidLength: 6, nodeId }, ...(o.sent !== undefined ? { outboundFilter: (d: Buffer) => (o.sent!.push(Buffer.from(d)), true) } : {}) });
    const st = await store(o.entryLifetime);
    const delivered: Array<{ record: Buffer; client: PeerAddress; router: PeerAddress | undefined }> = [];
    const forwarded: Array<{ to: number; record: Buffer }> = [];
    const n: FailoverNode = {
      nodeAddress: (id) => (alive.has(id) ? { address: '127.0.0.1', port: 1000 + id } : undefined),
      ready: true,
      forwardTo: (to, record) => forwarded.push({ to, record }),
      deliver: (record, c, router) => {
        delivered.push({ record, client: c, router });
        s.server.receiveDatagram(record, c.address, c.port, router);
      },
    };
    const failover = new Failover(
      {
        nodeId,
        key: deriveStoreKey(SECRET),
        store: st,
        checkpointRecords: o.checkpointRecords ?? 1000,
        checkpointInterval: 200,
        sequenceMargin: o.sequenceMargin ?? 100,
        ...(o.entryLifetime !== undefined ? { entryLifetime: o.entryLifetime } : {}),
        takeoverDelay: 0,
      },
      s.server,
      n,
    );
    failover.start();
    cleanups.push(async () => {
      failover.stop();
      await s.server.stop();
    });
    return { ...s, failover, delivered, forwarded };
  }

  async function entryOf(cid: Buffer) {
    const [o, d] = await raw.hmgetBuffer(storeKey(cid), 'o', 'd');
    if (o === null || d === null) return undefined;
    const plain = openEntry(deriveStoreKey(SECRET), cid, d);
    expect(plain).toBeDefined();
    return { owner: Number(o.toString()), ...decodeEntry(plain!, Date.now()) };
  }

  function serverConn(server: DtlsConnector) {
    const conns = [...server.connections()];
    expect(conns).toHaveLength(1);
    return conns[0]!;
  }

  it('entries expire: an idle connection is written again before, an entry whose node died goes away', async () => {
    // sweeps every 200 ms; written again once older than 750 ms; expires 1500 ms after a write
    const n1 = await node(1, new Set([1]), { entryLifetime: 1500 });
    const c = await client({ ...PSK, config: { cidLength: 6 } });
    cleanups.push(() => c.client.stop());
    await roundTrip(c, n1, 'one');
    const cid = Buffer.from(serverConn(n1.server).readCid!);
    expect(await waitFor(() => n1.failover.stats['store writes'] >= 1, 2000)).toBe(true);
    const ttl = await raw.pttl(storeKey(cid));
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(1500);
    // idle for almost three lifetimes: still there, written again
    await new Promise((r) => setTimeout(r, 4000));
    expect(await raw.exists(storeKey(cid))).toBe(1);
    expect(n1.failover.stats['store writes']).toBeGreaterThanOrEqual(3);
    // its node dies: nobody writes it again
    n1.failover.stop();
    await n1.server.stop();
    const deadline = Date.now() + 3000;
    while ((await raw.exists(storeKey(cid))) === 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(await raw.exists(storeKey(cid))).toBe(0);
  });

  it('writes the connection on handshake, checkpoints every N records, deletes it on close', async () => {
    const n1 = await node(1, new Set([1]), { checkpointRecords: 5 });
    const c = await client({ ...PSK, config: { cidLength: 6 } });
    cleanups.push(() => c.client.stop());
    await roundTrip(c, n1, 'hello');
    const conn = serverConn(n1.server);
    const cid = conn.readCid!;
    expect(cid[0]).toBe(1);
    expect(await waitFor(() => n1.failover.stats['store writes'] >= 1, 2000)).toBe(true);
    const first = (await entryOf(cid))!;
    expect(first.owner).toBe(1);
    expect(first.conn.readCid).toEqual(cid);
    expect(first.conn.session!.masterSecret).toEqual(conn.session!.masterSecret);
    // the stored limit covers checkpoint + N + margin
    expect(first.seqLimit).toBeGreaterThanOrEqual(5 + 100);
    // no entry holds the master secret in the clear
    const rawData = (await raw.hgetBuffer(storeKey(cid), 'd'))!;
    expect(rawData.includes(conn.session!.masterSecret)).toBe(false);
    for (let i = 0; i < 12; i++) await roundTrip(c, n1, `m${i}`);
    expect(await waitFor(() => n1.failover.stats['store writes'] >= 3, 2000)).toBe(true);
    const later = (await entryOf(cid))!;
    expect(later.conn.nextSeq).toBeGreaterThanOrEqual(10);
    expect(later.conn.maxSeq).toBeGreaterThanOrEqual(10);
    expect(later.seqLimit).toBe(later.conn.nextSeq + 5 + 100);
    expect(conn.nextSeq).toBeLessThan(later.seqLimit);
    c.client.close('127.0.0.1', n1.server.localPort);
    expect(await waitFor(() => n1.failover.stats['store deletes'] === 1, 2000)).toBe(true);
    expect(await raw.exists(storeKey(cid))).toBe(0);
  });

  it('takes over the connection of a node that is gone: same session, write sequence beyond the limit, replays refused', async () => {
    const alive = new Set([1, 2]);
    const n1 = await node(1, alive);
    const n2 = await node(2, alive);
    const { c, captured, capture } = await capturingClient();
    await roundTrip(c, n1, 'before');
    await roundTrip(c, n1, 'before-2');
    const old = serverConn(n1.server);
    const cid = Buffer.from(old.readCid!);
    expect(await waitFor(() => n1.failover.stats['store writes'] >= 1, 2000)).toBe(true);
    const stored = (await entryOf(cid))!;
    // node 1 dies (its state stays in Redis) and leaves node 2's table
    await kill(n1, 1, alive);
    capture.on = true;
    const clientPort = c.client.localPort;
    c.client.send(Buffer.from('after'), { address: '127.0.0.1', port: n1.server.localPort });
    expect(await waitFor(() => captured.length === 1, 2000)).toBe(true);
    const record = captured[0]!;
    expect(n2.failover.route(record, record[11]!, { address: '127.0.0.1', port: clientPort })).toBe(true);
    const atServer = await n2.inbox.next(3000);
    expect(atServer.data.toString()).toBe('after');
    expect(atServer.ctx.dtls!.takeoverFrom).toBe(1);
    expect(atServer.ctx.dtls!.sessionId).toEqual(old.session!.id);
    const echo = await c.inbox.next(3000);
    expect(echo.data.toString()).toBe('echo:after');
    expect(n2.failover.stats.takeovers).toBe(1);
    const taken = serverConn(n2.server);
    // the first record node 2 wrote used the stored limit: beyond anything node 1 may have written
    expect(taken.nextSeq).toBe(stored.seqLimit + 1);
    expect(taken.takeoverFrom).toBe(1);
    expect((await entryOf(cid))!.owner).toBe(2);
    // the same record again (a replay) is refused by the checkpointed window
    const replayedBefore = n2.server.detailStats.replayed;
    expect(n2.failover.route(record, record[11]!, { address: '127.0.0.1', port: clientPort })).toBe(true);
    expect(await waitFor(() => n2.server.detailStats.replayed === replayedBefore + 1, 1000)).toBe(true);
    expect(n2.inbox.items).toHaveLength(0);
    // later records go straight to node 2 (owner learned: this node); the client follows the answer's address (CID)
    c.client.send(Buffer.from('again'), echo.ctx);
    expect(await waitFor(() => captured.length === 2, 2000)).toBe(true);
    expect(n2.failover.route(captured[1]!, captured[1]![11]!, { address: '127.0.0.1', port: clientPort })).toBe(true);
    expect((await n2.inbox.next(3000)).data.toString()).toBe('again');
    expect(n2.failover.stats['store lookups']).toBe(1);
  });

  it('a node back without state takes its CID back from a node that took it over and died, answering through the forwarding node', async () => {
    const alive = new Set([1, 2, 3]);
    const n1 = await node(1, alive);
    const n2 = await node(2, alive);
    const { c, captured, capture } = await capturingClient();
    await roundTrip(c, n1, 'one');
    expect(await waitFor(() => n1.failover.stats['store writes'] >= 1, 2000)).toBe(true);
    await kill(n1, 1, alive);
    capture.on = true;
    const from = { address: '127.0.0.1', port: c.client.localPort };
    c.client.send(Buffer.from('two'), { address: '127.0.0.1', port: n1.server.localPort });
    expect(await waitFor(() => captured.length === 1, 2000)).toBe(true);
    expect(n2.failover.route(captured[0]!, 1, from)).toBe(true);
    const echo = await c.inbox.next(3000);
    expect(echo.data.toString()).toBe('echo:two');
    // node 2 dies too; node 1 is back, without state
    await kill(n2, 2, alive);
    alive.add(1);
    const back = await node(1, alive);
    c.client.send(Buffer.from('three'), echo.ctx);
    expect(await waitFor(() => captured.length === 2, 2000)).toBe(true);
    // node 3 forwarded it to node 1 (its CID names node 1): node 1 takes it back from node 2
    const router = { address: '127.0.0.1', port: 1003 };
    expect(back.failover.route(captured[1]!, 1, from, router)).toBe(true);
    const atServer = await back.inbox.next(3000);
    expect(atServer.data.toString()).toBe('three');
    expect(atServer.ctx.dtls!.takeoverFrom).toBe(2);
    expect(atServer.ctx.router).toEqual(router);
    expect(back.delivered[0]!.router).toEqual(router);
    expect(back.failover.stats.takeovers).toBe(1);
    expect(c.client.stats['handshakes succeeded']).toBe(1);
  });

  it('two nodes racing to take over one connection: one wins, the other forwards to it', async () => {
    const alive = new Set([1, 2, 3]);
    const n1 = await node(1, alive);
    const n2 = await node(2, alive);
    const n3 = await node(3, alive);
    const { c, captured, capture } = await capturingClient();
    await roundTrip(c, n1, 'before');
    expect(await waitFor(() => n1.failover.stats['store writes'] >= 1, 2000)).toBe(true);
    await kill(n1, 1, alive);
    capture.on = true;
    c.client.send(Buffer.from('after'), { address: '127.0.0.1', port: n1.server.localPort });
    expect(await waitFor(() => captured.length === 1, 2000)).toBe(true);
    const record = captured[0]!;
    const from = { address: '127.0.0.1', port: c.client.localPort };
    // the same record reaches both (a retransmission through another NAT mapping)
    expect(n2.failover.route(record, 1, from)).toBe(true);
    expect(n3.failover.route(record, 1, from)).toBe(true);
    expect(await waitFor(() => n2.failover.stats.takeovers + n3.failover.stats.takeovers === 1 && n2.forwarded.length + n3.forwarded.length === 1, 3000)).toBe(true);
    const [winner, loser, winnerId] = n2.failover.stats.takeovers === 1 ? [n2, n3, 2] : [n3, n2, 3];
    expect(loser.failover.stats.takeovers).toBe(0);
    expect(loser.forwarded[0]!.to).toBe(winnerId);
    expect([...loser.server.connections()]).toHaveLength(0);
    expect((await winner.inbox.next(3000)).data.toString()).toBe('after');
    expect((await entryOf(Buffer.from(record.subarray(11, 17))))!.owner).toBe(winnerId);
  });

  it('a third node learns the new owner from the store and forwards there', async () => {
    const alive = new Set([2, 3]);
    const n3 = await node(3, alive);
    const cid = Buffer.from('0111223344ff', 'hex');
    const s = await store();
    expect(await s.write(cid, 2, Buffer.from('sealed elsewhere'))).toBe('written');
    const record = Buffer.concat([Buffer.from([25, 0xfe, 0xfd, 0, 1, 0, 0, 0, 0, 0, 9]), cid, Buffer.from([0, 4, 1, 2, 3, 4])]);
    expect(n3.failover.route(record, 1, { address: '127.0.0.1', port: 5000 })).toBe(true);
    expect(await waitFor(() => n3.forwarded.length === 1, 2000)).toBe(true);
    expect(n3.forwarded[0]!.to).toBe(2);
    expect(n3.failover.stats['owners learned']).toBe(1);
    // the next one without a lookup
    expect(n3.failover.route(record, 1, { address: '127.0.0.1', port: 5000 })).toBe(true);
    expect(n3.forwarded).toHaveLength(2);
    expect(n3.failover.stats['store lookups']).toBe(1);
  });

  it('a node back without state forwards records of its own CIDs that another node took over to that node', async () => {
    const alive = new Set([1, 2]);
    const n1 = await node(1, alive);
    const cid = Buffer.from('01aabbccddee', 'hex');
    const s = await store();
    expect(await s.write(cid, 2, Buffer.from('sealed by node 2'))).toBe('written');
    const record = Buffer.concat([Buffer.from([25, 0xfe, 0xfd, 0, 1, 0, 0, 0, 0, 0, 9]), cid, Buffer.from([0, 4, 1, 2, 3, 4])]);
    expect(n1.failover.route(record, 1, { address: '127.0.0.1', port: 5000 })).toBe(true);
    expect(await waitFor(() => n1.forwarded.length === 1, 2000)).toBe(true);
    expect(n1.forwarded[0]!.to).toBe(2);
    expect(n1.delivered).toHaveLength(0);
    // a CID of its own that nobody stored: not looked up again for a while (random CIDs are no Redis load)
    const unknown = Buffer.from(record);
    unknown[15] ^= 0xff;
    expect(n1.failover.route(unknown, 1, { address: '127.0.0.1', port: 5000 })).toBe(true);
    expect(await waitFor(() => n1.failover.stats['store lookups'] === 2, 2000)).toBe(true);
    await new Promise((r) => setTimeout(r, 50));
    expect(n1.failover.route(unknown, 1, { address: '127.0.0.1', port: 5000 })).toBe(false);
    expect(n1.failover.stats['store lookups']).toBe(2);
  });

  it('refuses a tampered entry (counted) and the client is left to a new handshake', async () => {
    const alive = new Set([1, 2]);
    const n1 = await node(1, alive);
    const n2 = await node(2, alive);
    const { c, captured, capture } = await capturingClient();
    await roundTrip(c, n1, 'before');
    const cid = Buffer.from(serverConn(n1.server).readCid!);
    expect(await waitFor(() => n1.failover.stats['store writes'] >= 1, 2000)).toBe(true);
    await kill(n1, 1, alive);
    const d = (await raw.hgetBuffer(storeKey(cid), 'd'))!;
    d[d.length - 30]! ^= 0x40;
    await raw.hset(storeKey(cid), 'd', d);
    capture.on = true;
    c.client.send(Buffer.from('after'), { address: '127.0.0.1', port: n1.server.localPort });
    expect(await waitFor(() => captured.length === 1, 2000)).toBe(true);
    expect(n2.failover.route(captured[0]!, 1, { address: '127.0.0.1', port: c.client.localPort })).toBe(true);
    expect(await waitFor(() => n2.failover.stats['store refused entries'] === 1, 2000)).toBe(true);
    expect(n2.failover.stats.takeovers).toBe(0);
    expect(n2.failover.stats['takeover failures']).toBe(1);
    expect([...n2.server.connections()]).toHaveLength(0);
    expect(n2.inbox.items).toHaveLength(0);
    // the unusable entry is deleted (the device handshakes again) and not looked up again for a while
    expect(await waitFor(() => n2.failover.stats['store deletes'] === 1, 2000)).toBe(true);
    expect(await raw.exists(storeKey(cid))).toBe(0);
    expect(n2.failover.route(captured[0]!, 1, { address: '127.0.0.1', port: c.client.localPort })).toBe(false);
    expect(n2.failover.stats['store lookups']).toBe(1);
  });

  it('a node whose connection was taken over drops it at its next checkpoint (stale state is not served)', async () => {
    const alive = new Set([1, 2]);
    const n1 = await node(1, alive, { checkpointRecords: 2 });
    const c = await client({ ...PSK, config: { cidLength: 6 } });
    cleanups.push(() => c.client.stop());
    await roundTrip(c, n1, 'one');
    const cid = Buffer.from(serverConn(n1.server).readCid!);
    expect(await waitFor(() => n1.failover.stats['store writes'] >= 1, 2000)).toBe(true);
    // another node claimed it while node 1 was cut off
    const s = await store();
    expect((await s.claim(cid, 1, 2))?.owner).toBe(2);
    for (let i = 0; i < 3; i++) c.client.send(Buffer.from(`x${i}`), { address: '127.0.0.1', port: n1.server.localPort });
    expect(await waitFor(() => n1.failover.stats['store conflicts'] === 1, 3000)).toBe(true);
    expect([...n1.server.connections()]).toHaveLength(0);
    expect((await entryOf(cid))!.owner).toBe(2);
  });

  it('a node restored by a graceful restart writes nothing for a connection taken over meanwhile and drops it', async () => {
    const alive = new Set([1, 2]);
    const n1 = await node(1, alive);
    const c = await client({ ...PSK, config: { cidLength: 6 } });
    cleanups.push(() => c.client.stop());
    await roundTrip(c, n1, 'one');
    const cid = Buffer.from(serverConn(n1.server).readCid!);
    expect(await waitFor(() => n1.failover.stats['store writes'] >= 1, 2000)).toBe(true);
    const saved = n1.server.saveConnections();
    await n1.server.stop();
    n1.failover.stop();
    // node 2 took it over while node 1 was away
    const s = await store();
    expect((await s.claim(cid, 1, 2))?.owner).toBe(2);
    const sent: Buffer[] = [];
    const back = await node(1, alive, { sent });
    expect(back.server.loadConnections(saved)).toBe(1);
    // a record of the client arrives before Redis answered: nothing is written for it
    const conn = serverConn(back.server);
    back.server.send(Buffer.from('stale'), { address: conn.address, port: conn.port, connection: conn });
    expect(await waitFor(() => back.failover.stats['store conflicts'] === 1, 3000)).toBe(true);
    expect([...back.server.connections()]).toHaveLength(0);
    expect(sent.filter((d) => d[0] === 25 || d[0] === 23)).toHaveLength(0);
    expect((await entryOf(cid))!.owner).toBe(2);
  });

  it('a node restored by a graceful restart serves its connections once Redis confirmed them', async () => {
    const n1 = await node(1, new Set([1]));
    let redirect: DtlsConnector | undefined;
    const c = await client({ ...PSK, config: { cidLength: 6 }, outboundFilter: (d) => (redirect !== undefined ? (redirect.receiveDatagram(Buffer.from(d), '127.0.0.1', c.client.localPort), false) : true) });
    cleanups.push(() => c.client.stop());
    await roundTrip(c, n1, 'one');
    expect(await waitFor(() => n1.failover.stats['store writes'] >= 1, 2000)).toBe(true);
    const saved = n1.server.saveConnections();
    await n1.server.stop();
    n1.failover.stop();
    const back = await node(1, new Set([1]));
    expect(back.server.loadConnections(saved)).toBe(1);
    expect(await waitFor(() => back.failover.stats['store writes'] === 1, 2000)).toBe(true);
    redirect = back.server;
    c.client.send(Buffer.from('two'), { address: '127.0.0.1', port: n1.server.localPort });
    expect((await back.inbox.next(3000)).data.toString()).toBe('two');
    expect((await c.inbox.next(3000)).data.toString()).toBe('echo:two');
    expect(c.client.stats['handshakes succeeded']).toBe(1);
    expect(back.failover.stats['store conflicts']).toBe(0);
  });

  it('never writes at or beyond the stored sequence limit: without Redis the connection ends there', async () => {
    const sent: Buffer[] = [];
    const n1 = await node(1, new Set([1]), { checkpointRecords: 2, sequenceMargin: 5, sent });
    const c = await client({ ...PSK, config: { cidLength: 6 } });
    cleanups.push(() => c.client.stop());
    await roundTrip(c, n1, 'one');
    const cid = Buffer.from(serverConn(n1.server).readCid!);
    expect(await waitFor(() => n1.failover.stats['store writes'] >= 1, 2000)).toBe(true);
    const limit = (await entryOf(cid))!.seqLimit;
    await redis.stop();
    try {
      let answered = 0;
      for (let i = 0; i < 20; i++) {
        c.client.send(Buffer.from(`m${i}`), { address: '127.0.0.1', port: n1.server.localPort });
        const got = await c.inbox.next(2000).catch(() => undefined);
        if (got === undefined) break;
        answered++;
      }
      // Redis never acknowledged another checkpoint: every epoch-1 record stayed below the stored limit
      const seqs = sent.filter((d) => d[0] === 25).map((d) => d.readUIntBE(5, 6));
      expect(Math.max(...seqs)).toBe(limit - 1);
      expect(answered).toBeLessThan(20);
      expect(n1.failover.stats['store sequence limits']).toBeGreaterThanOrEqual(1);
      expect(await waitFor(() => [...n1.server.connections()].length === 0, 2000)).toBe(true);
    } finally {
      redis = await startRedis(redisPeer.path!, redis.port);
      raw.disconnect();
      raw = rawClient(redis.url);
    }
  });

  it('Redis gone: the node keeps serving what it holds (store errors counted), takeovers fail closed', async () => {
    const alive = new Set([1, 2]);
    const n1 = await node(1, alive, { checkpointRecords: 2 });
    const n2 = await node(2, alive);
    const c = await client({ ...PSK, config: { cidLength: 6 } });
    cleanups.push(() => c.client.stop());
    await roundTrip(c, n1, 'one');
    expect(await waitFor(() => n1.failover.stats['store writes'] >= 1, 2000)).toBe(true);
    await redis.stop();
    try {
      for (let i = 0; i < 6; i++) expect((await roundTrip(c, n1, `m${i}`)).atClient.data.toString()).toBe(`echo:m${i}`);
      expect(await waitFor(() => n1.failover.stats['store errors'] > 0, 3000)).toBe(true);
      const cid = serverConn(n1.server).readCid!;
      const record = Buffer.concat([Buffer.from([25, 0xfe, 0xfd, 0, 1, 0, 0, 0, 0, 0, 9]), cid, Buffer.from([0, 4, 1, 2, 3, 4])]);
      alive.delete(1);
      expect(n2.failover.route(record, 1, { address: '127.0.0.1', port: 5000 })).toBe(true);
      expect(await waitFor(() => n2.failover.stats['takeover failures'] === 1, 3000)).toBe(true);
      expect(n2.failover.stats.takeovers).toBe(0);
      expect(n2.delivered).toHaveLength(0);
      // a handshake during the outage completes; its entry is written once Redis is back
      const c2 = await client({ ...PSK, config: { cidLength: 6 } });
      cleanups.push(() => c2.client.stop());
      expect((await roundTrip(c2, n1, 'new')).atClient.data.toString()).toBe('echo:new');
      const cid2 = Buffer.from([...n1.server.connections()].find((x) => !x.readCid!.equals(cid))!.readCid!);
      const errors = n1.failover.stats['store errors'];
      expect(await waitFor(() => n1.failover.stats['store errors'] > errors, 3000)).toBe(true);
      redis = await startRedis(redisPeer.path!, redis.port);
      raw.disconnect();
      raw = rawClient(redis.url);
      const deadline = Date.now() + 8000;
      while ((await raw.exists(storeKey(cid2))) === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      expect((await entryOf(cid2))?.owner).toBe(1);
    } finally {
      if (redis.proc.exitCode !== null || redis.proc.signalCode !== null) {
        redis = await startRedis(redisPeer.path!, redis.port);
        raw.disconnect();
        raw = rawClient(redis.url);
      }
    }
  });
});


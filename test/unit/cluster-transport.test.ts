// ClusterTransport (cluster.md §4): two nodes in-process on 127.0.0.2/.3 with a static resolver and
// fixed MAC keys. A CID datagram for the other node is forwarded with the client's address and
// delivered there "via" the router; answers go back through the router; a wrong MAC, a missing key,
// an unknown node-id and a sender that is no node are dropped and counted.
import { createSecretKey } from 'node:crypto';
import dgram from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import { ClusterTransport } from '../../src/cluster/cluster-transport.js';
import type { MgmtChannel } from '../../src/cluster/mgmt-channel.js';
import { staticResolver } from '../../src/cluster/resolver.js';
import type { PeerAddress } from '../../src/transport/connector.js';
import { waitFor } from '../helpers/dtls-pair.js';
import { hasIpv6Loopback } from '../helpers/server-process.js';
import { reusePortSupported } from '../../src/transport/datagram.js';

const started: Array<{ stop(): Promise<void> | void }> = [];
afterEach(async () => {
  for (const s of started.splice(0)) await s.stop();
});

const K1 = createSecretKey(Buffer.alloc(16, 1));
const K2 = createSecretKey(Buffer.alloc(16, 2));

/** A channel with fixed keys: node 1 writes K1, node 2 writes K2 (as two ends of one session would). */
function keyChannel(write: typeof K1, read: typeof K1, enabled = () => true): MgmtChannel {
  return {
    name: 'test',
    secure: true,
    receive: () => {},
    onMessage: () => {},
    send: () => {},
    macKeys: () => (enabled() ? { write, read } : undefined),
    start: () => Promise.resolve(),
    stop: () => Promise.resolve(),
  };
}

interface Node {
  t: ClusterTransport;
  got: Array<{ data: Buffer; address: string; port: number; router: PeerAddress | undefined }>;
}

async function pair(o: { mac: boolean; backward?: boolean; keysOn?: () => boolean }): Promise<[Node, Node]> {
  const mk = async (id: number, ip: string, others: Map<number, PeerAddress>, ch: MgmtChannel | undefined): Promise<Node> => {
    const t = new ClusterTransport({
      dtls: { address: ip, port: 0 },
      mgmt: { address: ip, port: 0 },
      nodeId: id,
      backward: o.backward ?? true,
      mac: o.mac,
      resolver: staticResolver(others),
    });
    t.channel = ch;
    const got: Node['got'] = [];
    t.onDatagram = (data, address, port, router) => got.push({ data: Buffer.from(data), address, port, router });
    await t.start();
    started.push(t);
    return { t, got };
  };
  // ports are known only after binding: bind first with empty resolvers, then set the real ones
  const a = await mk(1, '127.0.0.2', new Map(), o.mac ? keyChannel(K1, K2, o.keysOn) : undefined);
  const b = await mk(2, '127.0.0.3', new Map(), o.mac ? keyChannel(K2, K1, o.keysOn) : undefined);
  a.t.resolver = staticResolver(new Map([[2, { address: '127.0.0.3', port: b.t.mgmtPort }]]));
  b.t.resolver = staticResolver(new Map([[1, { address: '127.0.0.2', port: a.t.mgmtPort }]]));
  return [a, b];
}

/** A tls12_cid-looking datagram with node-id `id` at byte 11. */
function cidDatagram(id: number, len = 60): Buffer {
  const b = Buffer.alloc(len, 0xaa);
  b[0] = 25;
  b[1] = 0xfe;
  b[2] = 0xfd;
  b[11] = id;
  return b;
}

async function clientSocket(): Promise<dgram.Socket & { inbox: Buffer[] }> {
  const s = dgram.createSocket('udp4') as dgram.Socket & { inbox: Buffer[] };
  s.inbox = [];
  s.on('message', (m) => s.inbox.push(Buffer.from(m)));
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  started.push({ stop: () => new Promise<void>((r) => s.close(() => r())) });
  return s;
}

describe('ClusterTransport', () => {
  for (const mac of [false, true]) {
    it(`${mac ? 'with' : 'without'} MAC: forwards foreign CIDs, delivers via the router, answers backward`, async () => {
      const [a, b] = await pair({ mac });
      const client = await clientSocket();
      // a record for node 2 arrives at node 1
      client.send(cidDatagram(2), a.t.localPort, '127.0.0.2');
      expect(await waitFor(() => b.got.length === 1)).toBe(true);
      expect(a.got.length).toBe(0);
      const at2 = b.got[0]!;
      expect(at2.data.equals(cidDatagram(2))).toBe(true);
      expect(at2.address).toBe('127.0.0.1');
      expect(at2.port).toBe(client.address().port);
      expect(at2.router).toEqual({ address: '127.0.0.2', port: a.t.mgmtPort });
      expect(a.t.stats.forwarded).toBe(1);
      expect(b.t.stats['process forwarded']).toBe(1);
      // own node-id, non-CID and short datagrams stay local
      client.send(cidDatagram(1), a.t.localPort, '127.0.0.2');
      client.send(Buffer.from([22, 0xfe, 0xfd, 0, 0]), a.t.localPort, '127.0.0.2');
      expect(await waitFor(() => a.got.length === 2)).toBe(true);
      // node 2 answers through its router: node 1 sends it from its DTLS socket to the client
      const answer = Buffer.from('answer-record-bytes, long enough for a record');
      await new Promise<void>((resolve, reject) => b.t.send(answer, at2.address, at2.port, at2.router, (err) => (err ? reject(err) : resolve())));
      expect(await waitFor(() => client.inbox.length === 1)).toBe(true);
      expect(client.inbox[0]!.equals(answer)).toBe(true);
      expect(b.t.stats.backwarded).toBe(1);
      expect(a.t.stats['send backwarded']).toBe(1);
    });
  }

  it.skipIf(!hasIpv6Loopback())('IPv6: a client on ::1 is forwarded with its 16-byte address and answered backward', async () => {
    const mk = async (id: number): Promise<Node> => {
      const t = new ClusterTransport({ dtls: { address: '::1', port: 0 }, mgmt: { address: '::1', port: 0 }, nodeId: id, backward: true, mac: false, resolver: staticResolver(new Map()) });
      const got: Node['got'] = [];
      t.onDatagram = (data, address, port, router) => got.push({ data: Buffer.from(data), address, port, router });
      await t.start();
      started.push(t);
      return { t, got };
    };
    const a = await mk(1);
    const b = await mk(2);
    a.t.resolver = staticResolver(new Map([[2, { address: '::1', port: b.t.mgmtPort }]]));
    b.t.resolver = staticResolver(new Map([[1, { address: '::1', port: a.t.mgmtPort }]]));
    const client = dgram.createSocket({ type: 'udp6', ipv6Only: true });
    const inbox: Buffer[] = [];
    client.on('message', (m) => inbox.push(Buffer.from(m)));
    await new Promise<void>((r) => client.bind(0, '::1', () => r()));
    started.push({ stop: () => new Promise<void>((r) => client.close(() => r())) });
    client.send(cidDatagram(2), a.t.localPort, '::1');
    expect(await waitFor(() => b.got.length === 1)).toBe(true);
    expect(b.got[0]!.address).toBe('::1');
    expect(b.got[0]!.port).toBe(client.address().port);
    const answer = Buffer.alloc(48, 7);
    b.t.send(answer, '::1', client.address().port, b.got[0]!.router, () => {});
    expect(await waitFor(() => inbox.length === 1)).toBe(true);
    expect(inbox[0]!.equals(answer)).toBe(true);
  });

  it('direct mode sends from the own DTLS socket even with a router', async () => {
    const [, b] = await pair({ mac: false, backward: false });
    const client = await clientSocket();
    await new Promise<void>((resolve, reject) => b.t.send(Buffer.from('direct'), '127.0.0.1', client.address().port, { address: '127.0.0.2', port: 1 }, (e) => (e ? reject(e) : resolve())));
    expect(await waitFor(() => client.inbox.length === 1)).toBe(true);
    expect(b.t.stats.backwarded).toBe(0);
  });

  it('unknown node-id, missing MAC key, wrong MAC and a router that is gone are dropped and counted', async () => {
    let keys = true;
    const [a, b] = await pair({ mac: true, keysOn: () => keys });
    const client = await clientSocket();
    client.send(cidDatagram(9), a.t.localPort, '127.0.0.2');
    expect(await waitFor(() => a.t.stats['drop forward'] === 1)).toBe(true);
    keys = false;
    client.send(cidDatagram(2), a.t.localPort, '127.0.0.2');
    expect(await waitFor(() => a.t.stats['drop forward'] === 2)).toBe(true);
    keys = true;
    // a packet from node 1's management socket whose MAC was made with the wrong key
    const wrong = new ClusterTransport({
      dtls: { address: '127.0.0.2', port: 0 },
      mgmt: { address: '127.0.0.4', port: 0 },
      nodeId: 3,
      backward: true,
      mac: true,
      resolver: staticResolver(new Map([[2, { address: '127.0.0.3', port: b.t.mgmtPort }]])),
    });
    wrong.channel = keyChannel(K2, K2);
    wrong.onDatagram = () => {};
    await wrong.start();
    started.push(wrong);
    b.t.resolver = staticResolver(new Map([[1, { address: '127.0.0.2', port: a.t.mgmtPort }], [3, { address: '127.0.0.4', port: wrong.mgmtPort }]]));
    const c2 = await clientSocket();
    c2.send(cidDatagram(2), wrong.localPort, '127.0.0.2');
    expect(await waitFor(() => b.t.stats['bad forward'] === 1)).toBe(true);
    expect(b.got.length).toBe(0);
    // backward to a router that is no longer available (dynamic mode semantics)
    const gone = { ...b.t.resolver, routerAvailable: () => false };
    b.t.resolver = gone;
    const err = await new Promise<Error | null>((resolve) => b.t.send(Buffer.from('x'), '127.0.0.1', 5, { address: '127.0.0.2', port: a.t.mgmtPort }, resolve));
    expect(err?.message).toBe(`Cluster internal destination 127.0.0.2:${a.t.mgmtPort} not longer available!`);
    expect(b.t.stats['drop backward']).toBe(1);
  });
});

describe.runIf(reusePortSupported())('workers: two nodes sharing one DTLS port (SO_REUSEPORT, issue 13)', () => {
  it('every CID record reaches the node its CID names, whichever node the kernel hands it to; answers leave from the shared port', async () => {
    const mk = async (id: number, port: number): Promise<Node> => {
      const t = new ClusterTransport({
        dtls: { address: '127.0.0.1', port, reusePort: true },
        mgmt: { address: '127.0.0.1', port: 0 },
        nodeId: id,
        backward: true,
        mac: false,
        resolver: staticResolver(new Map()),
      });
      const got: Node['got'] = [];
      t.onDatagram = (data, address, p, router) => got.push({ data: Buffer.from(data), address, port: p, router });
      await t.start();
      started.push(t);
      return { t, got };
    };
    const a = await mk(1, 0);
    const b = await mk(2, a.t.localPort);
    expect(b.t.localPort).toBe(a.t.localPort);
    a.t.resolver = staticResolver(new Map([[2, { address: '127.0.0.1', port: b.t.mgmtPort }]]));
    b.t.resolver = staticResolver(new Map([[1, { address: '127.0.0.1', port: a.t.mgmtPort }]]));
    const clients = [];
    for (let i = 0; i < 16; i++) clients.push(await clientSocket());
    // each client sends one record for node 1 and one for node 2: the kernel picks one node per client address
    for (const c of clients) for (const id of [1, 2]) c.send(cidDatagram(id), a.t.localPort, '127.0.0.1');
    expect(await waitFor(() => a.got.length + b.got.length === 32)).toBe(true);
    expect(a.got.every((g) => g.data[11] === 1)).toBe(true);
    expect(b.got.every((g) => g.data[11] === 2)).toBe(true);
    expect(a.got).toHaveLength(16);
    expect(b.got).toHaveLength(16);
    // the kernel spread the clients: both nodes forwarded some records to the other
    expect(a.t.stats.forwarded).toBeGreaterThan(0);
    expect(b.t.stats.forwarded).toBeGreaterThan(0);
    // an answer of node 2 to a record that came through node 1 leaves from the shared port
    const via = b.got.find((g) => g.router !== undefined)!;
    const client = clients.find((c) => c.address().port === via.port)!;
    const from: number[] = [];
    client.on('message', (_m, rinfo) => from.push(rinfo.port));
    await new Promise<void>((resolve, reject) => b.t.send(Buffer.from('answer, long enough for a record'), via.address, via.port, via.router, (err) => (err ? reject(err) : resolve())));
    expect(await waitFor(() => from.length === 1)).toBe(true);
    expect(from[0]).toBe(a.t.localPort);
  });
});

describe.runIf(reusePortSupported())('workers of a dynamic-mode node: worker 0 runs the management socket, worker 1 relays through it (issue 13)', () => {
  it('records for another node and backward answers of worker 1 go through worker 0 (with the cluster MAC); records for worker 1 reach it', async () => {
    const got = (): Node['got'] => [];
    const mkA = async (index: number, port: number): Promise<Node> => {
      const t = new ClusterTransport({
        dtls: { address: '127.0.0.2', port, reusePort: true },
        mgmt: { address: '127.0.0.2', port: 0 },
        nodeId: 1,
        backward: true,
        mac: true,
        resolver: staticResolver(new Map()),
        worker: { index, socket: { address: '127.0.0.1', port: 0 }, relay: index !== 0 },
      });
      if (index === 0) t.channel = keyChannel(K1, K2);
      const n: Node = { t, got: got() };
      t.onDatagram = (data, address, p, router) => n.got.push({ data: Buffer.from(data), address, port: p, router });
      await t.start();
      started.push(t);
      return n;
    };
    const a0 = await mkA(0, 0);
    const a1 = await mkA(1, a0.t.localPort);
    // worker 1 binds no management socket: other nodes know node 1 by worker 0's alone
    expect(a1.t.mgmtPort).toBe(0);
    const table = new Map([
      [0, { address: '127.0.0.1', port: a0.t.workerPort }],
      [1, { address: '127.0.0.1', port: a1.t.workerPort }],
    ]);
    a0.t.workerResolver = staticResolver(new Map([[1, table.get(1)!]]));
    a1.t.workerResolver = staticResolver(new Map([[0, table.get(0)!]]));
    const b: Node = { t: new ClusterTransport({ dtls: { address: '127.0.0.3', port: 0 }, mgmt: { address: '127.0.0.3', port: 0 }, nodeId: 2, backward: true, mac: true, resolver: staticResolver(new Map()) }), got: got() };
    b.t.channel = keyChannel(K2, K1);
    b.t.onDatagram = (data, address, p, router) => b.got.push({ data: Buffer.from(data), address, port: p, router });
    await b.t.start();
    started.push(b.t);
    const nodeA = { address: '127.0.0.2', port: a0.t.mgmtPort };
    const nodeB = { address: '127.0.0.3', port: b.t.mgmtPort };
    a0.t.resolver = staticResolver(new Map([[2, nodeB]]));
    b.t.resolver = staticResolver(new Map([[1, nodeA]]));

    // 16 clients send a record for node 2 to node 1's shared port: the kernel spreads them over both workers,
    // and every one reaches node 2 from node 1's one management address, forwarded by worker 0
    const clients = [];
    for (let i = 0; i < 16; i++) clients.push(await clientSocket());
    for (const c of clients) c.send(cidDatagram(2), a0.t.localPort, '127.0.0.2');
    expect(await waitFor(() => b.got.length === 16)).toBe(true);
    expect(b.got.every((g) => g.router?.address === nodeA.address && g.router.port === nodeA.port)).toBe(true);
    expect(new Set(b.got.map((g) => g.port))).toEqual(new Set(clients.map((c) => c.address().port)));
    expect(a0.t.stats.forwarded).toBe(16);
    expect(a0.got.length + a1.got.length).toBe(0);

    // node 2 forwards a record of node 1's worker 1: it arrives at worker 0's management socket and is handed over
    const record = cidDatagram(1);
    record[12] = 1;
    const client = clients[0]!;
    client.send(record, b.t.localPort, '127.0.0.3');
    expect(await waitFor(() => a1.got.length === 1)).toBe(true);
    expect(a1.got[0]!.router).toEqual(nodeB);
    expect(a1.got[0]!.port).toBe(client.address().port);
    // worker 1's answer goes back through node 2 (backward), relayed by worker 0, and leaves from node 2's port
    const from: number[] = [];
    client.on('message', (_m, rinfo) => from.push(rinfo.port));
    await new Promise<void>((resolve, reject) => a1.t.send(Buffer.from('answer of worker 1, as long as a record'), '127.0.0.1', client.address().port, nodeB, (err) => (err ? reject(err) : resolve())));
    expect(await waitFor(() => from.length === 1)).toBe(true);
    expect(from[0]).toBe(b.t.localPort);
    expect(a0.t.stats.backwarded).toBe(1);
    expect(b.t.stats['send backwarded']).toBe(1);
  });

  it('without worker 0 a relaying worker drops and counts what it cannot hand over', async () => {
    const t = new ClusterTransport({
      dtls: { address: '127.0.0.2', port: 0 },
      mgmt: { address: '127.0.0.2', port: 0 },
      nodeId: 1,
      backward: true,
      mac: false,
      resolver: staticResolver(new Map()),
      worker: { index: 1, socket: { address: '127.0.0.1', port: 0 }, relay: true },
    });
    await t.start();
    started.push(t);
    const client = await clientSocket();
    client.send(cidDatagram(2), t.localPort, '127.0.0.2');
    expect(await waitFor(() => t.stats['drop forward'] === 1)).toBe(true);
    const err = await new Promise<Error | null>((resolve) => t.send(Buffer.from('x'), '127.0.0.1', 5, { address: '127.0.0.3', port: 7 }, resolve));
    expect(err?.message).toBe('worker 0 of this cluster node is not available');
    expect(t.stats['drop backward']).toBe(1);
  });
});

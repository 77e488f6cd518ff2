// A server of several worker processes (issue 13) as a user sees it: one server. The workers share the extended
// server's public ports (SO_REUSEPORT); a CID client whose address changes on every request keeps its session,
// served by the worker that owns its CID; a receive-test device that changes its source port sees one history;
// /diagnose sums over the workers; a killed worker is replaced and only its own clients see errors.
// (The plugtest and extended-resource suites run again with 2 and 4 workers: vitest.config.ts, projects workers-N.)
import dgram from 'node:dgram';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Code, Format } from '../../src/coap/message.js';
import { reusePortSupported } from '../../src/transport/datagram.js';
import { DtlsPeer, parseDiagnose } from '../helpers/dtls-client.js';
import { createClient } from '../helpers/coap-client.js';
import { startServer, type ServerProcess } from '../helpers/server-process.js';
import { startCluster, startTestNat, type ClusterMode } from '../helpers/cluster.js';
import { freeTcpPorts } from '../helpers/restore.js';

const HOST = '127.0.0.1';
const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function serverWith(workers: number, args: string[] = []): Promise<ServerProcess> {
  const sp = await startServer({ args: ['--no-external', '--diagnose', '--workers', String(workers), ...args], timeoutMs: 30_000 });
  cleanups.push(() => sp.stop());
  return sp;
}

/** The worker process ids the primary logged at start-up, by index. */
function workerPids(sp: ServerProcess): number[] {
  const m = /"pids":\[([\d,]+)\]/.exec(sp.output());
  expect(m, sp.output()).not.toBeNull();
  return m![1]!.split(',').map(Number);
}

async function cidClient(port: number): Promise<DtlsPeer> {
  const peer = await DtlsPeer.open(HOST, port, { cidLength: 6 });
  cleanups.push(() => peer.close());
  return peer;
}

/** POST /requests from a new source port each time; the history the last answer shows (newest first). */
async function receiveTest(sp: ServerProcess, dev: string, count: number): Promise<string[]> {
  let last = '';
  for (let i = 0; i < count; i++) {
    const client = await createClient(HOST, sp.ports.ext);
    try {
      const res = await client.send({ method: Code.POST, path: 'requests', query: [`dev=${dev}`, `rid=R${i}`], accept: Format.JSON });
      expect(res.code).toBe(Code.CHANGED);
      last = res.payload.toString();
    } finally {
      await client.close();
    }
  }
  return (JSON.parse(last) as Array<{ rid?: string }>).flatMap((e) => (e.rid !== undefined ? [e.rid] : []));
}

/** GET /mycontext from `count` clients, each on its own port (the kernel spreads them over the workers). */
async function requestsFromNewPorts(sp: ServerProcess, count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    const client = await createClient(HOST, sp.ports.ext);
    try {
      expect((await client.send({ method: Code.GET, path: 'mycontext' })).code).toBe(Code.CONTENT);
    } finally {
      await client.close();
    }
  }
}

describe.skipIf(!reusePortSupported())('--workers (SO_REUSEPORT, Node.js 22.12+)', () => {
  for (const workers of [2, 4]) {
    it(`${workers} workers share the extended ports; a CID client whose port changes on every request keeps its session and worker`, async () => {
      const sp = await serverWith(workers);
      expect(workerPids(sp)).toHaveLength(workers);
      const peer = await cidClient(sp.ports.extSecure);
      const first = (await peer.context(4000, 2)).fields;
      const owner = first.get('node-id')!;
      expect(Number(owner)).toBeGreaterThanOrEqual(0);
      expect(Number(owner)).toBeLessThan(workers);
      expect(first.get('read-cid')!.slice(0, 2)).toBe(Number(owner).toString(16).padStart(2, '0'));
      let forwarded = 0;
      for (let i = 0; i < 12; i++) {
        await peer.rebind();
        const f = (await peer.context(4000, 2)).fields;
        expect(f.get('node-id')).toBe(owner);
        expect(f.get('port')).toBe(String(peer.localPort));
        if (f.get('via') === 'dtls-cid-router') forwarded++;
      }
      expect(peer.handshakes).toBe(1);
      // with 12 new ports over 2+ workers, the kernel handed some record to a worker that does not own the CID
      expect(forwarded).toBeGreaterThan(0);
    });

    it(`${workers} workers: a receive-test device that changes its source port sees one history`, async () => {
      const sp = await serverWith(workers);
      const rids = await receiveTest(sp, `dev-${workers}-${process.pid}`, 8);
      expect(rids).toEqual(['R7', 'R6', 'R5', 'R4', 'R3', 'R2', 'R1', 'R0']);
    });
  }

  it('/diagnose sums the counters of all workers and lists the plugtest endpoints of the primary', async () => {
    const sp = await serverWith(2);
    // 16 clients on 16 ports: the kernel spreads them over both workers
    const sent = 16;
    await requestsFromNewPorts(sp, sent);
    const client = await createClient(HOST, sp.ports.ext);
    cleanups.push(() => client.close());
    const text = (await client.send({ method: Code.GET, path: 'diagnose' })).payload.toString();
    const groups = parseDiagnose(text);
    const coap = groups.get(`coap://${HOST}:${sp.ports.ext}`);
    expect(coap, text).toBeDefined();
    // every request of the 16 clients counted, plus this /diagnose request: whichever worker answered
    expect(coap!.get('recv-requests')![0]).toBe(sent + 1);
    expect(text).toContain('\nEXTENDED-TEST\n');
    expect(text).toContain('\nPLUG-TEST\n');
    // the worker-per-endpoint counters of the DTLS endpoint are there too (summed: no handshake yet)
    const wk = (await client.send({ method: Code.GET, path: '.well-known/core' })).payload.toString();
    expect(wk).toContain(`</diagnose/UDP%3A${HOST}%3A${sp.ports.plug}>`);
    const plug = (await client.send({ method: Code.GET, path: ['diagnose', `UDP:${HOST}:${sp.ports.plug}`] })).payload.toString();
    expect(parseDiagnose(plug).has(`coap://${HOST}:${sp.ports.plug}`)).toBe(true);
  });

  it('a killed worker is replaced: clients of the other workers see no error, its own recover with a new handshake', async () => {
    const sp = await serverWith(2);
    const pids = workerPids(sp);
    const byOwner = new Map<string, DtlsPeer>();
    for (let i = 0; i < 24 && byOwner.size < 2; i++) {
      const peer = await cidClient(sp.ports.extSecure);
      const owner = (await peer.context(4000, 2)).fields.get('node-id')!;
      if (!byOwner.has(owner)) byOwner.set(owner, peer);
      else await peer.close();
    }
    expect(byOwner.size).toBe(2);
    const victimId = '0';
    const victim = byOwner.get(victimId)!;
    const survivor = byOwner.get('1')!;
    process.kill(pids[0]!, 'SIGKILL');
    // the survivor is served on, by its worker, without a new handshake
    for (let i = 0; i < 5; i++) expect((await survivor.context(4000, 0)).fields.get('node-id')).toBe('1');
    expect(survivor.handshakes).toBe(1);
    const deadline = Date.now() + 15_000;
    while (!/worker 0 restarted/.test(sp.output()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(sp.output()).toMatch(/worker 0 died \(SIGKILL\), restarting it/);
    expect(sp.output()).toMatch(/worker 0 restarted/);
    // the victim's session died with its worker; a new handshake serves it again
    await expect(victim.context(1500, 0)).rejects.toThrow();
    await victim.connect({ full: true });
    expect((await victim.context(4000, 2)).fields.get('node-id')).toMatch(/^[01]$/);
    expect(victim.handshakes).toBe(2);
    expect(survivor.handshakes).toBe(1);
  });

  it('the console acts on every worker: one summed health line per endpoint, save and load keep the sessions, exit ends all', async () => {
    const sp = await serverWith(2);
    const pids = workerPids(sp);
    // CID clients of both workers
    const peers: DtlsPeer[] = [];
    const owners = new Set<string>();
    for (let i = 0; i < 24 && owners.size < 2; i++) {
      const peer = await cidClient(sp.ports.extSecure);
      owners.add((await peer.context(4000, 2)).fields.get('node-id')!);
      peers.push(peer);
    }
    expect(owners.size).toBe(2);
    const from = sp.output().length;
    sp.write('');
    const deadline = Date.now() + 5000;
    const dtlsLines = (): string[] =>
      sp.output().slice(from).split('\n').filter((l) => l.includes(`"endpoint":"coaps://${HOST}:${sp.ports.extSecure}"`) && l.includes('"msg":"health'));
    while (dtlsLines().length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    await new Promise((r) => setTimeout(r, 200));
    // one line for the endpoint both workers serve, with every worker's connections
    expect(dtlsLines()).toHaveLength(1);
    const stats = (JSON.parse(dtlsLines()[0]!) as { stats: { dtls: { counters: Record<string, [number, number]> } } }).stats;
    expect(stats.dtls.counters.connections![0]).toBe(peers.length);
    expect(stats.dtls.counters['handshakes succeeded']![0]).toBe(peers.length);

    sp.write('save');
    const saved = Date.now() + 5000;
    while (!(/"worker":0,"msg":"Saved: /.test(sp.output()) && /"worker":1,"msg":"Saved: /.test(sp.output())) && Date.now() < saved) {
      await new Promise((r) => setTimeout(r, 50));
    }
    // every worker saved its connections and stopped serving
    await expect(peers[0]!.context(1000, 0)).rejects.toThrow();
    sp.write('load');
    for (const peer of peers) {
      expect(Number((await peer.context(4000, 3)).fields.get('node-id'))).toBeLessThan(2);
      expect(peer.handshakes).toBe(1);
    }
    sp.write('exit');
    expect(await sp.exited).toBe(0);
    for (const pid of pids) expect(() => process.kill(pid, 0)).toThrow();
  });

  it('by default one worker per core (WORKERS=0); WORKERS=3 in the properties asks for three', async () => {
    const cores = os.availableParallelism();
    const byDefault = await startServer({ args: ['--no-external'], properties: ['WORKERS=0'], timeoutMs: 30_000 });
    cleanups.push(() => byDefault.stop());
    if (cores > 1) expect(byDefault.output()).toContain(`"msg":"${cores} workers serve the extended server"`);
    else expect(byDefault.output()).not.toMatch(/workers serve the extended server/);
    const three = await startServer({ args: ['--no-external'], properties: ['WORKERS=3'], timeoutMs: 30_000 });
    cleanups.push(() => three.stop());
    expect(workerPids(three)).toHaveLength(3);
  });

  it('by default a set-up several workers cannot run yet runs one worker and says why', async () => {
    const sp = await startServer({ args: ['--no-external'], properties: ['WORKERS=0', 'DTLS.CONNECTION_ID_LENGTH=4'], timeoutMs: 30_000 });
    cleanups.push(() => sp.stop());
    if (os.availableParallelism() < 2) return;
    expect(sp.output()).toMatch(/running one worker, not \d+ workers \(one per core\): the workers route by the node-id byte of the CIDs, which needs DTLS\.CONNECTION_ID_LENGTH of at least 5 \(or 0: no CIDs\), not 4/);
    expect(sp.output()).not.toMatch(/workers serve the extended server/);
  });

  it('--k8s-monitor: /ready while every worker runs, /metrics sums the workers\' counters and keeps one series per process', async () => {
    const [monitorPort] = await freeTcpPorts(1);
    const sp = await serverWith(2, ['--k8s-monitor', `127.0.0.1:${monitorPort}`]);
    const get = async (p: string): Promise<{ status: number; body: string }> => {
      const res = await fetch(`http://127.0.0.1:${monitorPort}${p}`);
      return { status: res.status, body: await res.text() };
    };
    expect((await get('/ready')).status).toBe(200);
    const sent = 16;
    await requestsFromNewPorts(sp, sent);
    const metrics = (await get('/metrics')).body;
    const line = metrics.split('\n').find((l) => l.startsWith(`extplugtest_coap_received_requests_total{server="EXTENDED-TEST",endpoint="coap://${HOST}:${sp.ports.ext}"}`));
    expect(line, metrics.slice(0, 2000)).toBeDefined();
    // the 16 clients spread over both workers: only the sum counts them all
    expect(Number(line!.split(' ').at(-1))).toBe(sent);
    for (const p of ['primary', 'worker-0', 'worker-1']) expect(metrics).toMatch(new RegExp(`^extplugtest_process_resident_memory_bytes\\{process="${p}"\\} \\d+`, 'm'));
    expect(metrics.match(/^# TYPE extplugtest_coap_received_requests_total /gm)).toHaveLength(1);
  });

  const clusterCases: Array<{ mode: ClusterMode; direct: boolean }> = [
    { mode: 'static', direct: false },
    { mode: 'static', direct: true },
    // dynamic modes: worker 0 of each node runs the management channel, worker 1 relays through it
    { mode: 'dynamic', direct: false },
    { mode: 'secure', direct: false },
    { mode: 'secure', direct: true },
  ];
  for (const { mode, direct } of clusterCases) {
    it(`a ${mode} cluster of 2 nodes with 2 workers each behind the NAT (${direct ? 'direct' : 'backward'} mode): a CID client keeps its session, node and worker`, async () => {
      const cluster = await startCluster({ mode, size: 2, direct, args: ['--workers', '2'] });
      cleanups.push(() => cluster.stop());
      for (const n of cluster.nodes) expect(n.output()).toMatch(/"msg":"2 workers serve the extended server"/);
      // direct mode: the owner answers the client itself, so the NAT must accept answers from every node (reverse)
      const nat = await startTestNat(cluster.destinations, direct ? { reverse: true } : {});
      cleanups.push(() => nat.stop());
      const peer = await cidClient(nat.port);
      const first = (await peer.context(4000, 2)).fields;
      const node = first.get('node-id')!;
      const readCid = first.get('read-cid')!;
      // byte 0: the cluster node, byte 1: its worker
      expect(readCid.slice(0, 2)).toBe(`0${node}`);
      expect(['00', '01']).toContain(readCid.slice(2, 4));
      let routed = 0;
      for (let i = 0; i < 12; i++) {
        // a new NAT entry: another node and, by the kernel's choice, another worker of it
        nat.command('clear');
        const f = (await peer.context(4000, 2)).fields;
        expect(f.get('node-id')).toBe(node);
        expect(f.get('read-cid')).toBe(readCid);
        if (f.get('via') === 'dtls-cid-router') routed++;
      }
      expect(peer.handshakes).toBe(1);
      expect(routed).toBeGreaterThan(0);
    });
  }

  it('start-up fails clearly when a public port is taken, before any worker starts', async () => {
    const blocker = dgram.createSocket('udp4');
    await new Promise<void>((r) => blocker.bind(0, HOST, () => r()));
    cleanups.push(() => new Promise<void>((r) => blocker.close(() => r())));
    const port = blocker.address().port;
    const sp = await startServer({ args: ['--no-external', '--no-ipv6', '--workers', '2'], properties: [`COAP.COAP_PORT=${port}`], waitStarted: false });
    cleanups.push(() => sp.stop());
    const code = await sp.exited;
    expect(code).toBe(1);
    expect(sp.output()).toContain(`Failed to create extplugtest server: cannot bind endpoint: UDP ${HOST}:${port} is in use (EADDRINUSE)`);
    expect(sp.output()).not.toMatch(/workers serve the extended server/);
  });

  it('refuses what cannot run with several workers yet, naming it', async () => {
    const sp = await startServer({ args: ['--no-external', '--workers', '2'], properties: ['DTLS.CONNECTION_ID_LENGTH=4'], waitStarted: false });
    cleanups.push(() => sp.stop());
    expect(await sp.exited).toBe(1);
    expect(sp.output()).toContain(
      '--workers 2: the workers route by the node-id byte of the CIDs, which needs DTLS.CONNECTION_ID_LENGTH of at least 5 (or 0: no CIDs), not 4; use --workers 1',
    );
  });

  it('--store-file holds every worker\'s connections; a restarted server loads each into the worker that owns its CID', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'extplugtest-workers-store-'));
    cleanups.push(async () => fs.rmSync(dir, { recursive: true, force: true }));
    const file = path.join(dir, 'state.bin');
    const args = ['--no-external', '--diagnose', '--workers', '2', '--store-file', file, '--store-password64', Buffer.from('pw').toString('base64'), '--store-max-age', '1'];
    const sp1 = await startServer({ args, timeoutMs: 30_000 });
    // CID clients of both workers
    const byOwner = new Map<string, { peer: DtlsPeer; readCid: string }>();
    for (let i = 0; i < 24 && byOwner.size < 2; i++) {
      const peer = await cidClient(sp1.ports.extSecure);
      const f = (await peer.context(4000, 2)).fields;
      if (byOwner.has(f.get('node-id')!)) await peer.close();
      else byOwner.set(f.get('node-id')!, { peer, readCid: f.get('read-cid')! });
    }
    expect(byOwner.size).toBe(2);
    expect(await sp1.stop()).toBe(0);
    expect(sp1.output()).toMatch(/store file .*: \d+ bytes, 2 connections saved/);
    const sp2 = await startServer({ args, ports: sp1.ports, timeoutMs: 30_000 });
    cleanups.push(() => sp2.stop());
    expect(sp2.output()).toMatch(/"worker":0,.*"msg":"load: \d+ ms, 1 items"/);
    expect(sp2.output()).toMatch(/"worker":1,.*"msg":"load: \d+ ms, 1 items"/);
    expect(fs.existsSync(file)).toBe(false);
    for (const [owner, { peer, readCid }] of byOwner) {
      // the same session, served by the worker that owns its CID, whatever port the client uses now
      await peer.rebind();
      const f = (await peer.context(4000, 2)).fields;
      expect(f.get('node-id')).toBe(owner);
      expect(f.get('read-cid')).toBe(readCid);
      expect(peer.handshakes).toBe(1);
    }
  });
});

describe.skipIf(reusePortSupported())('--workers before Node.js 22.12', () => {
  it('the default (one per core) runs one worker and says why', async () => {
    const sp = await startServer({ args: ['--no-external'], properties: ['WORKERS=0'] });
    cleanups.push(() => sp.stop());
    if (os.availableParallelism() < 2) return;
    expect(sp.output()).toMatch(/"level":30,.*"msg":"\d+ workers \(one per core\): Node\.js [\d.]+ on linux cannot share a UDP port between processes .*running one worker"/);
    expect(sp.output()).not.toMatch(/workers serve the extended server/);
  });
});

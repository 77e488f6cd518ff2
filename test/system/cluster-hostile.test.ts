// Hostile input on a cluster node's management port (cluster.md §4.3-§4.5): forged type 63/62 packets
// (not from a node, or without a valid MAC), truncated headers and random bytes are dropped and
// counted; the node keeps serving its CID clients and its memory stays bounded.
import dgram from 'node:dgram';
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, startTestNat, type TestCluster } from '../helpers/cluster.js';
import { DtlsPeer, getBlockwise, parseDiagnose } from '../helpers/dtls-client.js';
import { mulberry32 } from '../helpers/random.js';
import type { Nat } from '../../src/nat/nat.js';

let cluster: TestCluster;
let nat: Nat & { port: number };
const peers: DtlsPeer[] = [];

beforeAll(async () => {
  cluster = await startCluster({ mode: 'secure', size: 2 });
  nat = await startTestNat(cluster.destinations);
}, 30_000);

afterAll(async () => {
  for (const p of peers) await p.close();
  await nat?.stop();
  await cluster?.stop();
});

function rssKb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : 0;
}

async function counters(n: number): Promise<Map<string, [number, number]>> {
  const peer = await DtlsPeer.open(cluster.ips[n - 1]!, cluster.dtlsPort, { cidLength: 6 });
  peers.push(peer);
  const groups = parseDiagnose((await getBlockwise(peer, { code: 1, path: 'diagnose' })).payload.toString());
  const tag = [...groups.keys()].find((t) => t.startsWith(`dtls:node-${n}:`))!;
  return groups.get(tag)!;
}

/** A cluster packet header for 127.0.0.1:port with an 8-byte MAC field, then `record`. */
function forged(type: number, port: number, record: Buffer, mac: Buffer): Buffer {
  const h = Buffer.from([type, port & 0xff, port >> 8, 4, 127, 0, 0, 1]);
  return Buffer.concat([h, mac, record]);
}

describe('hostile input on the management port', () => {
  it('forged, truncated and random datagrams are dropped and counted; the node serves on; memory stays bounded', async () => {
    const client = await DtlsPeer.open('127.0.0.1', nat.port, { cidLength: 6 });
    peers.push(client);
    const owner = (await client.context(4000, 2)).fields.get('node-id')!;
    const target = 1;
    const node = cluster.nodes[target - 1]!;
    const before = await counters(target);
    const rssBefore = rssKb(node.proc.pid!);
    const rnd = mulberry32(7);
    const socket = dgram.createSocket('udp4');
    await new Promise<void>((r) => socket.bind(0, '127.0.0.1', () => r()));
    // a tls12_cid record header with node 1's id and a random body (what a forwarder would carry)
    const record = (): Buffer => {
      const b = Buffer.alloc(13 + 6 + 30 + Math.floor(rnd() * 100));
      for (let i = 0; i < b.length; i++) b[i] = Math.floor(rnd() * 256);
      b[0] = 25;
      b[1] = 0xfe;
      b[2] = 0xfd;
      b[11] = target;
      return b;
    };
    const kinds = [
      () => forged(63, 40000 + Math.floor(rnd() * 1000), record(), Buffer.alloc(8, Math.floor(rnd() * 256))),
      () => forged(62, 40000 + Math.floor(rnd() * 1000), record(), Buffer.alloc(8, Math.floor(rnd() * 256))),
      () => forged(63, 40000, record(), Buffer.alloc(8)).subarray(0, Math.floor(rnd() * 33)),
      () => Buffer.from([62, 1, 2, 16, 1, 2, 3]),
      () => {
        const b = Buffer.alloc(1 + Math.floor(rnd() * 200));
        for (let i = 0; i < b.length; i++) b[i] = Math.floor(rnd() * 256);
        return b;
      },
      () => {
        // DTLS-looking records for the management channel
        const b = record();
        b[0] = 20 + Math.floor(rnd() * 6);
        return b;
      },
    ];
    const total = 12_000;
    const sent = [0, 0, 0, 0, 0, 0];
    for (let i = 0; i < total; i++) {
      const k = i % kinds.length;
      sent[k]!++;
      socket.send(kinds[k]!(), cluster.mgmtPort, cluster.ips[target - 1]!);
      if (i % 500 === 499) {
        await new Promise((r) => setTimeout(r, 10));
        // the CID client is answered throughout (its owner may be either node)
        if (i % 3000 === 2999) expect((await client.context(4000, 2)).fields.get('node-id')).toBe(owner);
      }
    }
    socket.close();
    await new Promise((r) => setTimeout(r, 300));
    const after = await counters(target);
    const delta = (k: string): number => (after.get(k)?.[0] ?? 0) - (before.get(k)?.[0] ?? 0);
    // forged 63/62 from an address that is no node: refused before anything else
    expect(delta('bad forward')).toBeGreaterThanOrEqual(sent[0]! + sent[2]! - 200);
    expect(delta('bad backward')).toBeGreaterThanOrEqual(sent[1]! + sent[3]! - 200);
    expect(delta('process forwarded')).toBe(0);
    expect(delta('send backwarded')).toBe(0);
    // the random and DTLS-looking datagrams went to the management channel and were dropped there
    expect(delta('recv cluster mgmt')).toBeGreaterThan(sent[5]! / 2);
    expect(node.proc.exitCode).toBeNull();
    expect((await client.context(4000, 2)).fields.get('node-id')).toBe(owner);
    const grown = rssKb(node.proc.pid!) - rssBefore;
    expect(grown, `RSS grew by ${grown} kB`).toBeLessThan(40_000);
  }, 60_000);
});

// Blue/green restore between two server processes in pair mode (cluster.md §9-10): the new instance
// downloads the old one's DTLS state over mutual TLS (/restore), the old one stops, /ready and /alive
// switch as specified, and a client behind the NAT continues on the new instance without a handshake.
import fs from 'node:fs';
import { request } from 'node:https';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestNat } from '../helpers/cluster.js';
import { DtlsPeer } from '../helpers/dtls-client.js';
import { freeTcpPorts, httpGet, makeCertsDir, waitForStatus } from '../helpers/restore.js';
import { startServer, type ServerProcess, waitOutput } from '../helpers/server-process.js';

const H = '127.0.0.1';
const certs = makeCertsDir();
const procs: ServerProcess[] = [];
const cleanup: Array<() => Promise<unknown>> = [];
let restoreA: number;
let restoreB: number;
let monitorA: number;
let monitorB: number;

function instance(own: number, other: number, monitor: number): Promise<ServerProcess> {
  return startServer({
    args: ['--no-external', '--no-ipv6', '--dtls-only', '--no-plugtest', '--diagnose', `--local-restore=${H}:${own}`, `--other-restore=${H}:${other}`, `--k8s-monitor=${H}:${monitor}`],
    env: { EXTPLUGTEST_CERTS_DIR: certs },
  });
}

beforeAll(async () => {
  [restoreA, restoreB, monitorA, monitorB] = (await freeTcpPorts(4)) as [number, number, number, number];
});

afterAll(async () => {
  for (const c of cleanup.reverse()) await c().catch(() => {});
  await Promise.all(procs.map((p) => p.stop()));
  fs.rmSync(certs, { recursive: true, force: true });
});

describe('restore: pair mode', () => {
  it('the new instance takes over the DTLS sessions of the old one; /ready and /alive follow', async () => {
    const a = await instance(restoreA, restoreB, monitorA);
    procs.push(a);
    // A finds no other instance: its restore gives up after the retries and it becomes ready
    await waitOutput(a, /restore failed: .*ECONNREFUSED/, 10_000);
    await waitForStatus(H, monitorA, '/ready', 200, 5_000);
    expect(await httpGet(H, monitorA, '/alive')).toEqual({ status: 200, body: 'OK\n' });
    expect((await httpGet(H, monitorA, '/metrics')).body).toMatch(/^extplugtest_/m);

    const nat = await startTestNat([`${H}:${a.ports.extSecure}`]);
    cleanup.push(() => nat.stop());
    const peer = await DtlsPeer.open(H, nat.port, { cidLength: 6 });
    cleanup.push(() => peer.close());
    await peer.connect();
    const before = (await peer.context(6000, 2)).fields;

    const b = await instance(restoreB, restoreA, monitorB);
    procs.push(b);
    await waitOutput(b, new RegExp(`restored 1 connections from ${H}:${restoreA} in \\d+ ms`), 15_000);
    expect(a.output()).toMatch(/restore: 1 connections \(\d+ bytes\) sent to .*CN=cf-client/);
    await waitForStatus(H, monitorB, '/ready', 200, 5_000);
    // A stopped its servers: /ready stays OK during the 4 s grace, then DOWN; /alive STOPPED after 4 s
    expect((await httpGet(H, monitorA, '/ready')).status).toBe(200);
    const down = await waitForStatus(H, monitorA, '/ready', 503, 8_000);
    expect(down).toBeGreaterThan(2_500);
    expect(await httpGet(H, monitorA, '/ready')).toEqual({ status: 503, body: 'DOWN\n' });
    await waitForStatus(H, monitorA, '/alive', 503, 3_000);
    expect((await httpGet(H, monitorA, '/alive')).body).toBe('STOPPED\n');
    expect(await httpGet(H, monitorB, '/alive')).toEqual({ status: 200, body: 'OK\n' });

    // the load balancer moves the client to B: same session, same CIDs, no new handshake
    expect(nat.command(`add ${H}:${b.ports.extSecure}`)).toMatch(/added/);
    expect(nat.command(`remove ${H}:${a.ports.extSecure}`)).toMatch(/removed/);
    const after = (await peer.context(6000, 2)).fields;
    for (const k of ['session-id', 'read-cid', 'write-cid']) expect(after.get(k)).toBe(before.get(k));
    expect(peer.handshakes).toBe(1);
  }, 60_000);

  it('refuses a /restore request without a client certificate', async () => {
    const a = procs[0]!;
    const err = await new Promise<Error | number>((resolve) => {
      const req = request({ host: H, port: restoreA, path: '/restore', rejectUnauthorized: false, agent: false, timeout: 3000 }, (res) => resolve(res.statusCode ?? 0));
      req.on('error', resolve);
      req.end();
    });
    expect(err).toBeInstanceOf(Error);
    await waitOutput(a, /restore: TLS handshake with .* failed|restore: .*certificate/i, 3_000);
  }, 10_000);
});

// k8s restore, single-server mode (cluster.md §10 step 2) against a fake Kubernetes API over HTTPS: the
// old pod is labelled restore=true (so it does not restore itself), the new pod finds it through the
// `app` label selector, downloads its state from the same --k8s-restore port and serves the client.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reusePortSupported } from '../../src/transport/datagram.js';
import { startTestNat } from '../helpers/cluster.js';
import { DtlsPeer } from '../helpers/dtls-client.js';
import { requirePeer } from '../helpers/peers.js';
import { freeTcpPorts, httpGet, makeCertsDir, waitForStatus } from '../helpers/restore.js';
import { freeUdpPorts, startServer, type ServerProcess, waitOutput } from '../helpers/server-process.js';

const openssl = requirePeer('openssl');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'extplugtest-k8s-restore-'));
const certs = makeCertsDir();
const seen: string[] = [];
const procs: ServerProcess[] = [];
const cleanup: Array<() => Promise<unknown>> = [];
let api: Server;
let apiPort: number;

const OLD = { name: 'cf-extserver-7c9-old', ip: '127.0.0.2', labels: { app: 'cf-extserver', restore: 'true' } };
const NEW = { name: 'cf-extserver-7c9-new', ip: '127.0.0.3', labels: { app: 'cf-extserver' } };
// cluster mode: StatefulSets a (old, labelled restore=true by update0) and b (new), one node each
const A1 = { name: 'cf-extserver-a-1', ip: '127.0.0.4', labels: { app: 'cf-extserver', restore: 'true', 'controller-revision-hash': 'rev-a', initialDtlsClusterNodes: '1' } };
// the new StatefulSet has 2 nodes: b-1 is ready (and restores) only once b-2 runs; b-2 has no double (a-2 is unknown)
const B1 = { name: 'cf-extserver-b-1', ip: '127.0.0.5', labels: { app: 'cf-extserver', 'controller-revision-hash': 'rev-b', initialDtlsClusterNodes: '2' } };
const B2 = { name: 'cf-extserver-b-2', ip: '127.0.0.6', labels: { app: 'cf-extserver', 'controller-revision-hash': 'rev-b', initialDtlsClusterNodes: '2' } };
type PodSpec = { name: string; ip: string; labels: Record<string, string> };
const pod = (p: PodSpec) => ({
  kind: 'Pod',
  metadata: { name: p.name, labels: p.labels },
  status: { phase: 'Running', podIP: p.ip, conditions: [{ type: 'Ready', status: 'True' }] },
});

beforeAll(async () => {
  if (openssl.skipReason) return;
  execFileSync(openssl.path!, ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1', '-keyout', path.join(dir, 'k.pem'), '-out', path.join(dir, 'c.pem'), '-subj', '/CN=k8s', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
  api = createServer({ key: fs.readFileSync(path.join(dir, 'k.pem')), cert: fs.readFileSync(path.join(dir, 'c.pem')) }, (req, res) => {
    const url = req.url ?? '';
    seen.push(url);
    let body: unknown;
    if (url === `/api/v1/namespaces/cf/pods/${OLD.name}`) body = pod(OLD);
    else if (url === `/api/v1/namespaces/cf/pods/${NEW.name}`) body = pod(NEW);
    else if (url === '/api/v1/namespaces/cf/pods?labelSelector=app%3Dcf-extserver') body = { kind: 'PodList', items: [pod(OLD), pod(NEW)] };
    else if (url === `/api/v1/namespaces/cf/pods/${A1.name}`) body = pod(A1);
    else if (url === `/api/v1/namespaces/cf/pods/${B1.name}`) body = pod(B1);
    else if (url === `/api/v1/namespaces/cf/pods/${B2.name}`) body = pod(B2);
    else if (url === '/api/v1/namespaces/cf/pods?labelSelector=controller-revision-hash%3Drev-a') body = { kind: 'PodList', items: [pod(A1)] };
    else if (url === '/api/v1/namespaces/cf/pods?labelSelector=controller-revision-hash%3Drev-b') body = { kind: 'PodList', items: [pod(B1), pod(B2)] };
    res.writeHead(body ? 200 : 404, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body ?? { kind: 'Status', code: 404 }));
  });
  await new Promise<void>((resolve) => api.listen(0, '127.0.0.1', resolve));
  apiPort = (api.address() as AddressInfo).port;
});

afterAll(async () => {
  for (const c of cleanup.reverse()) await c().catch(() => {});
  await Promise.all(procs.map((p) => p.stop()));
  if (api) {
    api.closeAllConnections();
    await new Promise<void>((resolve) => api.close(() => resolve()));
  }
  fs.rmSync(dir, { recursive: true, force: true });
  fs.rmSync(certs, { recursive: true, force: true });
});

describe.skipIf(openssl.skipReason !== undefined)('restore: k8s single mode', () => {
  it('the new pod finds the old one by its app label and takes over its DTLS sessions', async () => {
    const [restorePort, monitorOld, monitorNew] = (await freeTcpPorts(3)) as [number, number, number];
    const start = (p: typeof OLD | typeof NEW, monitor: number) =>
      startServer({
        args: ['--no-external', '--no-ipv6', '--dtls-only', '--no-plugtest', `--k8s-restore=${p.ip}:${restorePort}`, `--k8s-monitor=127.0.0.1:${monitor}`],
        env: { EXTPLUGTEST_CERTS_DIR: certs, HOSTNAME: p.name, KUBECTL_HOST: `127.0.0.1:${apiPort}`, KUBECTL_NAMESPACE: 'cf' },
      });
    const old = await start(OLD, monitorOld);
    procs.push(old);
    // safety rule: an own pod labelled restore=true does not restore
    await waitOutput(old, /k8s: no restore: own pod cf-extserver-7c9-old is labelled restore=true/, 10_000);
    await waitForStatus('127.0.0.1', monitorOld, '/ready', 200, 5_000);

    const nat = await startTestNat([`127.0.0.1:${old.ports.extSecure}`]);
    cleanup.push(() => nat.stop());
    const peer = await DtlsPeer.open('127.0.0.1', nat.port, { cidLength: 6 });
    cleanup.push(() => peer.close());
    await peer.connect();
    const before = (await peer.context(6000, 2)).fields;

    const fresh = await start(NEW, monitorNew);
    procs.push(fresh);
    await waitOutput(fresh, new RegExp(`restored 1 connections from ${OLD.ip}:${restorePort} in \\d+ ms`), 15_000);
    expect(seen).toContain(`/api/v1/namespaces/cf/pods/${NEW.name}`);
    expect(seen).toContain('/api/v1/namespaces/cf/pods?labelSelector=app%3Dcf-extserver');
    await waitForStatus('127.0.0.1', monitorNew, '/ready', 200, 5_000);
    await waitForStatus('127.0.0.1', monitorOld, '/alive', 503, 8_000);
    // the grace of /ready starts with the first not-ready evaluation (the probe polls it)
    await waitForStatus('127.0.0.1', monitorOld, '/ready', 503, 6_000);
    expect((await httpGet('127.0.0.1', monitorOld, '/ready')).body).toBe('DOWN\n');

    nat.command(`add 127.0.0.1:${fresh.ports.extSecure}`);
    nat.command(`remove 127.0.0.1:${old.ports.extSecure}`);
    const after = (await peer.context(6000, 2)).fields;
    for (const k of ['session-id', 'read-cid', 'write-cid']) expect(after.get(k)).toBe(before.get(k));
    expect(peer.handshakes).toBe(1);
  }, 60_000);

  it('cluster mode: pod b-1 restores from its double a-1 once its cluster is ready', async () => {
    const [restorePort, monitorA, monitorB, monitorB2] = (await freeTcpPorts(4)) as [number, number, number, number];
    const [dtlsA, dtlsB, dtlsB2, mgmt] = await freeUdpPorts(4);
    // the coaps endpoints bind the wildcard address (as in the pods); on one host they need two ports
    const start = (p: PodSpec, dtls: number, monitor: number) =>
      startServer({
        // with SO_REUSEPORT (Node.js 24 in CI) 2 workers per pod: the primary restores once worker 0's node is ready
        args: [
          '--no-external',
          '--no-ipv6',
          '--dtls-only',
          `--k8s-dtls-cluster=:${dtls};${p.ip}:${mgmt};${mgmt}`,
          `--k8s-restore=${p.ip}:${restorePort}`,
          `--k8s-monitor=127.0.0.1:${monitor}`,
          ...(reusePortSupported() ? ['--workers', '2'] : []),
        ],
        properties: ['CLUSTER_MGMT.TIMER_INTERVAL=500ms'],
        env: { EXTPLUGTEST_CERTS_DIR: certs, HOSTNAME: p.name, KUBECTL_HOST: `127.0.0.1:${apiPort}`, KUBECTL_NAMESPACE: 'cf' },
      });
    const a = await start(A1, dtlsA!, monitorA);
    procs.push(a);
    await waitOutput(a, /k8s: no restore: own pod cf-extserver-a-1 is labelled restore=true/, 15_000);
    await waitForStatus('127.0.0.1', monitorA, '/ready', 200, 5_000);
    const nat = await startTestNat([`127.0.0.1:${dtlsA}`]);
    cleanup.push(() => nat.stop());
    const peer = await DtlsPeer.open('127.0.0.1', nat.port, { cidLength: 6 });
    cleanup.push(() => peer.close());
    await peer.connect();
    const before = (await peer.context(6000, 2)).fields;

    const b = await start(B1, dtlsB!, monitorB);
    procs.push(b);
    // alone, b-1's cluster of 2 is not ready: nothing is restored yet
    await new Promise((r) => setTimeout(r, 2000));
    expect(b.output()).not.toMatch(/cluster ready|restored \d+ connections/);
    const b2 = await start(B2, dtlsB2!, monitorB2);
    procs.push(b2);
    await waitOutput(b, /cluster ready/, 15_000);
    await waitOutput(b, new RegExp(`restored 1 connections from ${A1.ip}:${restorePort}`), 15_000);
    expect(b.output().indexOf('cluster ready')).toBeLessThan(b.output().indexOf('restored 1 connections'));
    expect(seen).toContain(`/api/v1/namespaces/cf/pods/${A1.name}`);
    await waitForStatus('127.0.0.1', monitorB, '/ready', 200, 5_000);

    nat.command(`add 127.0.0.1:${dtlsB}`);
    nat.command(`remove 127.0.0.1:${dtlsA}`);
    const after = (await peer.context(6000, 2)).fields;
    for (const k of ['session-id', 'read-cid', 'write-cid', 'node-id']) expect(after.get(k)).toBe(before.get(k));
    expect(peer.handshakes).toBe(1);
  }, 60_000);
});

// The k8s cluster mode (cluster.md §8) against a fake Kubernetes API over HTTPS on 127.0.0.1: two
// nodes named like StatefulSet pods (node-id from the host-name suffix), the label selector taken
// from the own pod, the initial node count from its label, the management channel over DTLS-PSK from
// DTLS_CID_MGMT_*, discovery of the other pod, and a CID client forwarded between them.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestNat, waitForOutput } from '../helpers/cluster.js';
import { DtlsPeer } from '../helpers/dtls-client.js';
import { requirePeer } from '../helpers/peers.js';
import { reusePortSupported } from '../../src/transport/datagram.js';
import { freeUdpPorts, startServer, type ServerProcess } from '../helpers/server-process.js';

const openssl = requirePeer('openssl');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'extplugtest-k8s-'));
const seen: string[] = [];
let api: Server;
let apiPort: number;
const nodes: ServerProcess[] = [];
let dtlsPort: number;
let mgmtPort: number;

const WORKERS = reusePortSupported() ? 2 : 1;

const POD = (n: number) => ({
  kind: 'Pod',
  metadata: { name: `cf-extserver-a-${n}`, labels: { app: 'cf-extserver', 'controller-revision-hash': 'cf-extserver-a-7d9', initialDtlsClusterNodes: '2' } },
  status: { phase: 'Running', podIP: `127.0.0.${n + 1}`, conditions: [{ type: 'Ready', status: 'True' }] },
});

beforeAll(async () => {
  if (openssl.skipReason) return;
  execFileSync(openssl.path!, ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1', '-keyout', path.join(dir, 'k.pem'), '-out', path.join(dir, 'c.pem'), '-subj', '/CN=k8s', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
  api = createServer({ key: fs.readFileSync(path.join(dir, 'k.pem')), cert: fs.readFileSync(path.join(dir, 'c.pem')) }, (req, res) => {
    const url = req.url ?? '';
    seen.push(url);
    const own = /^\/api\/v1\/namespaces\/cf\/pods\/cf-extserver-a-(\d+)$/.exec(url);
    let body: unknown;
    if (own) body = POD(Number(own[1]));
    else if (url === '/api/v1/namespaces/cf/pods?labelSelector=controller-revision-hash%3Dcf-extserver-a-7d9') body = { kind: 'PodList', items: [POD(1), POD(2)] };
    res.writeHead(body ? 200 : 404, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body ?? { kind: 'Status', code: 404 }));
  });
  await new Promise<void>((resolve) => api.listen(0, '127.0.0.1', resolve));
  apiPort = (api.address() as AddressInfo).port;
  [dtlsPort, mgmtPort] = (await freeUdpPorts(2)) as [number, number];
  const secret = randomBytes(32).toString('base64');
  for (const n of [1, 2]) {
    const ip = `127.0.0.${n + 1}`;
    nodes.push(
      await startServer({
        // with SO_REUSEPORT (Node.js 24 in CI) each pod runs 2 workers: worker 0 runs the management channel
        args: ['--no-external', '--no-ipv6', '--dtls-only', '--no-plugtest', '--diagnose', `--k8s-dtls-cluster=${ip}:${dtlsPort};${ip}:${mgmtPort};${mgmtPort}`, ...(WORKERS > 1 ? ['--workers', String(WORKERS)] : [])],
        properties: ['CLUSTER_MGMT.TIMER_INTERVAL=500ms'],
        env: {
          HOSTNAME: `cf-extserver-a-${n}`,
          KUBECTL_HOST: `127.0.0.1:${apiPort}`,
          KUBECTL_NAMESPACE: 'cf',
          DTLS_CID_MGMT_IDENTITY: 'cid-cluster-manager',
          DTLS_CID_MGMT_SECRET_BASE64: secret,
        },
      }),
    );
  }
}, 30_000);

afterAll(async () => {
  await Promise.all(nodes.map((n) => n.stop()));
  if (api) {
    api.closeAllConnections();
    await new Promise<void>((resolve) => api.close(() => resolve()));
  }
  fs.rmSync(dir, { recursive: true, force: true });
});

describe.skipIf(openssl.skipReason !== undefined)('k8s DTLS cluster', () => {
  it('two pods find each other through the API and forward CID records with a MAC', async () => {
    await waitForOutput(nodes, /cluster ready/, 15_000);
    // own pod and the pods of the same StatefulSet revision were asked for
    expect(seen).toContain('/api/v1/namespaces/cf/pods/cf-extserver-a-1');
    expect(seen).toContain('/api/v1/namespaces/cf/pods/cf-extserver-a-2');
    expect(seen).toContain('/api/v1/namespaces/cf/pods?labelSelector=controller-revision-hash%3Dcf-extserver-a-7d9');
    expect(nodes[0]!.output()).toMatch(/"channel":"mgmt-dtls-mac"/);
    if (WORKERS > 1) for (const n of nodes) expect(n.output()).toContain(`"msg":"${WORKERS} workers serve the extended server"`);
    const nat = await startTestNat([`127.0.0.2:${dtlsPort}`, `127.0.0.3:${dtlsPort}`]);
    const peer = await DtlsPeer.open('127.0.0.1', nat.port, { cidLength: 6 });
    try {
      const first = (await peer.context(4000, 2)).fields;
      const owner = first.get('node-id')!;
      expect(['1', '2']).toContain(owner);
      let via = 0;
      for (let i = 0; i < 12 && via === 0; i++) {
        nat.command('clear');
        const f = (await peer.context(4000, 2)).fields;
        expect(f.get('node-id')).toBe(owner);
        if (f.get('via') === 'dtls-cid-router') via++;
      }
      expect(via).toBe(1);
      expect(peer.handshakes).toBe(1);
    } finally {
      await peer.close();
      await nat.stop();
    }
  });
});

// k8s API client, discovery and restore-double lookup against a fake API server (HTTPS on 127.0.0.1 only).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino, type Logger } from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createK8sApi, type K8sApi } from '../../src/cluster/k8s/api.js';
import { discoverScope, prepareK8sCluster } from '../../src/cluster/k8s/discovery.js';
import { readK8sEnv, type K8sEnv } from '../../src/cluster/k8s/env.js';
import { K8sApiError } from '../../src/cluster/k8s/errors.js';
import { K8S_CLIENT_TRUST_FILE, SERVICE_ACCOUNT_CA_FILE, SERVICE_ACCOUNT_TOKEN_FILE } from '../../src/cluster/k8s/files.js';
import { findRestoreDouble, type RestoreDoubleOptions } from '../../src/cluster/k8s/restore-double.js';

type Answer = { status: number; body: unknown } | 'hang';
interface Seen {
  path: string;
  authorization?: string;
}

let dir: string;
let trustedPem: string; // certificate of `server` (CN/SAN localhost, 127.0.0.1)
let otherPem: string; // certificate of `otherServer` (SAN other.example only)
let server: Server;
let otherServer: Server;
let port: number;
let otherPort: number;
let seen: Seen[];
let answer: (path: string, count: number) => Answer;

function makeCert(name: string, subject: string, san: string): { key: string; cert: string } {
  const key = join(dir, `${name}.key`);
  const cert = join(dir, `${name}.pem`);
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1', '-keyout', key, '-out', cert,
      '-subj', subject, '-addext', `subjectAltName=${san}`],
    { stdio: 'ignore' },
  );
  return { key: readFileSync(key, 'utf8'), cert: readFileSync(cert, 'utf8') };
}

async function listen(credentials: { key: string; cert: string }): Promise<[Server, number]> {
  const s = createServer(credentials, (req, res) => {
    const path = req.url ?? '';
    seen.push({ path, authorization: req.headers.authorization });
    const reply = answer(path, seen.filter((r) => r.path === path).length);
    if (reply === 'hang') return;
    res.writeHead(reply.status, { 'content-type': 'application/json' });
    res.end(typeof reply.body === 'string' ? reply.body : JSON.stringify(reply.body));
  });
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  return [s, (s.address() as AddressInfo).port];
}

const closeServer = (s: Server) => new Promise<void>((resolve) => { s.closeAllConnections(); s.close(() => resolve()); });

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'k8s-api-'));
  const trusted = makeCert('server', '/CN=localhost', 'DNS:localhost,IP:127.0.0.1');
  const other = makeCert('other', '/CN=other.example', 'DNS:other.example');
  trustedPem = trusted.cert;
  otherPem = other.cert;
  [server, port] = await listen(trusted);
  [otherServer, otherPort] = await listen(other);
});

afterAll(async () => {
  await closeServer(server);
  await closeServer(otherServer);
  rmSync(dir, { recursive: true, force: true });
});

beforeEach(() => {
  seen = [];
  answer = () => ({ status: 404, body: { kind: 'Status', message: 'not found' } });
});

const NS = '/api/v1/namespaces/cali/pods';

function pod(name: string, options: { ip?: string; ips?: string[]; labels?: Record<string, string>; ready?: boolean } = {}) {
  return {
    kind: 'Pod',
    apiVersion: 'v1',
    metadata: { name, labels: options.labels ?? {} },
    status: {
      phase: 'Running',
      ...(options.ip ? { podIP: options.ip } : {}),
      ...(options.ips ? { podIPs: options.ips.map((ip) => ({ ip })) } : {}),
      conditions: [{ type: 'Ready', status: options.ready === false ? 'False' : 'True' }],
    },
  };
}
const podList = (...items: object[]) => ({ kind: 'PodList', apiVersion: 'v1', items });

function capture(): { logger: Logger; lines: { level: number; msg: string }[] } {
  const lines: { level: number; msg: string }[] = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
  return { logger, lines };
}

// The environment of a test: API at 127.0.0.1:<port>, namespace cali, trust file = the server's certificate.
function envOf(
  vars: Record<string, string>,
  files: Record<string, string> = { [K8S_CLIENT_TRUST_FILE]: trustedPem },
  hostName = 'cf-extserver-a-2',
): K8sEnv {
  const env = { KUBECTL_HOST: `127.0.0.1:${port}`, KUBECTL_NAMESPACE: 'cali', ...vars };
  return readK8sEnv({ env, readFile: (p) => files[p], hostName });
}

const api = (vars: Record<string, string> = {}, files?: Record<string, string>) => createK8sApi(envOf(vars, files));

describe('k8s API calls (cluster.md §8)', () => {
  it('getPod: path, bearer token and parsing', async () => {
    answer = () => ({ status: 200, body: pod('cf-extserver-a-0', { ip: '10.0.0.5', labels: { app: 'cf-extserver' } }) });
    const result = await api({ KUBECTL_TOKEN: 'tok-123' }).getPod('cf-extserver-a-0');
    expect(result).toEqual({ name: 'cf-extserver-a-0', labels: { app: 'cf-extserver' }, phase: 'Running', ip: '10.0.0.5', ready: true });
    expect(seen).toEqual([{ path: `${NS}/cf-extserver-a-0`, authorization: 'Bearer tok-123' }]);
  });

  it('token from the service-account file when KUBECTL_TOKEN is empty', async () => {
    answer = () => ({ status: 200, body: pod('p') });
    await api({ KUBECTL_TOKEN: '' }, { [K8S_CLIENT_TRUST_FILE]: trustedPem, [SERVICE_ACCOUNT_TOKEN_FILE]: 'sa-tok\n' }).getPod('p');
    expect(seen[0]?.authorization).toBe('Bearer sa-tok');
  });

  it('listPods: raw selector, no Authorization header without token, PodList parsing', async () => {
    answer = () => ({
      status: 200,
      body: podList(
        pod('a', { ip: '10.0.0.1' }),
        pod('b', { ips: ['fd00::2', '10.0.0.2'], ready: false }),
        pod('c', { labels: { restore: 'true' } }),
      ),
    });
    const pods = await api().listPods('app%3Dcf-extserver');
    expect(seen).toEqual([{ path: `${NS}?labelSelector=app%3Dcf-extserver`, authorization: undefined }]);
    expect(pods).toEqual([
      { name: 'a', labels: {}, phase: 'Running', ip: '10.0.0.1', ready: true },
      { name: 'b', labels: {}, phase: 'Running', ip: 'fd00::2', ready: false },
      { name: 'c', labels: { restore: 'true' }, phase: 'Running', ip: undefined, ready: true },
    ]);
  });

  it('listPods without selector lists the namespace', async () => {
    answer = () => ({ status: 200, body: podList() });
    expect(await api().listPods()).toEqual([]);
    expect(seen[0]?.path).toBe(NS);
  });

  it('non-200 answers reject with the status code', async () => {
    answer = () => ({ status: 403, body: { kind: 'Status', message: 'pods is forbidden' } });
    const error = await api().getPod('x').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(K8sApiError);
    expect((error as K8sApiError).status).toBe(403);
    expect((error as Error).message).toMatch(/HTTP 403 .*pods is forbidden/);
    answer = () => ({ status: 503, body: 'busy' });
    await expect(api().listPods('a%3Db')).rejects.toMatchObject({ status: 503 });
  });

  it('malformed or unexpected answers reject without status', async () => {
    for (const body of ['{"kind":"Pod", broken', 'plain text', JSON.stringify(podList())]) {
      answer = () => ({ status: 200, body });
      const error = await api().getPod('x').catch((e: unknown) => e);
      expect(error, body).toBeInstanceOf(K8sApiError);
      expect((error as K8sApiError).status, body).toBeUndefined();
    }
    answer = () => ({ status: 200, body: pod('x') });
    await expect(api().listPods('a%3Db')).rejects.toThrow(/expected kind PodList/);
  });

  it('a selector HTTP cannot carry rejects instead of throwing', async () => {
    await expect(api().listPods('app = x')).rejects.toBeInstanceOf(K8sApiError);
    expect(seen).toEqual([]);
  });

  it('read timeout and refused connections reject', async () => {
    answer = () => 'hang';
    const slow = createK8sApi({ ...envOf({}), readTimeoutMs: 300 });
    await expect(slow.getPod('x')).rejects.toThrow(/read timeout/);
    const [closed, closedPort] = await listen({ key: readFileSync(join(dir, 'server.key'), 'utf8'), cert: trustedPem });
    await closeServer(closed);
    const refused = createK8sApi({ ...envOf({}), baseUrl: `https://127.0.0.1:${closedPort}` });
    await expect(refused.getPod('x')).rejects.toThrow(/ECONNREFUSED/);
  });
});

describe('k8s API trust (cluster.md §8)', () => {
  beforeEach(() => {
    answer = () => ({ status: 200, body: pod('p') });
  });

  it('trusts the trust file, also by DNS name (KUBECTL_HOST with port)', async () => {
    await expect(api().getPod('p')).resolves.toMatchObject({ name: 'p' });
    const readFile = (p: string) => (p === K8S_CLIENT_TRUST_FILE ? trustedPem : undefined);
    const byName = readK8sEnv({ env: { KUBECTL_HOST: `localhost:${port}` }, readFile, hostName: 'h' });
    await expect(createK8sApi(byName).getPod('p')).resolves.toMatchObject({ name: 'p' });
    expect(seen[1]?.path).toBe('/api/v1/namespaces/default/pods/p');
  });

  it('a server whose certificate is not in the trust file fails', async () => {
    await expect(api({}, { [K8S_CLIENT_TRUST_FILE]: otherPem }).getPod('p')).rejects.toThrow(/self-signed certificate/);
    expect(seen).toEqual([]);
  });

  it('the service-account ca.crt is used when there is no trust file, the trust file wins', async () => {
    await expect(api({}, { [SERVICE_ACCOUNT_CA_FILE]: otherPem }).getPod('p')).rejects.toThrow(/self-signed certificate/);
    await expect(api({}, { [SERVICE_ACCOUNT_CA_FILE]: trustedPem }).getPod('p')).resolves.toMatchObject({ name: 'p' });
    await expect(api({}, { [K8S_CLIENT_TRUST_FILE]: trustedPem, [SERVICE_ACCOUNT_CA_FILE]: otherPem }).getPod('p')).resolves.toMatchObject({
      name: 'p',
    });
  });

  it('trusts all when neither file exists', async () => {
    await expect(api({}, {}).getPod('p')).resolves.toMatchObject({ name: 'p' });
  });

  it('verifies the host name, with trust file and with trust all', async () => {
    const other = (files: Record<string, string>) => createK8sApi({ ...envOf({}, files), baseUrl: `https://127.0.0.1:${otherPort}` });
    await expect(other({ [K8S_CLIENT_TRUST_FILE]: otherPem }).getPod('p')).rejects.toThrow(/does not match certificate/);
    await expect(other({}).getPod('p')).rejects.toThrow(/does not match certificate/);
    expect(seen).toEqual([]);
  });
});

describe('k8s cluster preparation and discovery (cluster.md §8, §7.3)', () => {
  it('node-id, selector from the own pod label and initial nodes', async () => {
    answer = () => ({
      status: 200,
      body: pod('cf-extserver-a-2', {
        ip: '10.0.0.2',
        labels: { 'controller-revision-hash': 'cf-extserver-a-5d9', initialDtlsClusterNodes: '3' },
      }),
    });
    const { logger } = capture();
    const setup = await prepareK8sCluster({ env: envOf({ KUBECTL_TOKEN: 't' }), logger });
    expect(seen).toEqual([{ path: `${NS}/cf-extserver-a-2`, authorization: 'Bearer t' }]);
    expect(setup).toMatchObject({ nodeId: 2, selector: 'controller-revision-hash%3Dcf-extserver-a-5d9', initialNodes: 3 });
    expect(setup.ownPod?.ip).toBe('10.0.0.2');
  });

  it('KUBECTL_SELECTOR, KUBECTL_SELECTOR_LABEL and KUBECTL_NODE_ID', async () => {
    answer = () => ({ status: 200, body: pod('cf-extserver-a-2', { labels: { app: 'cf' } }) });
    const { logger } = capture();
    const given = await prepareK8sCluster({ env: envOf({ KUBECTL_SELECTOR: 'tier%3Dfront', KUBECTL_NODE_ID: '9' }), logger });
    expect(given).toMatchObject({ nodeId: 9, selector: 'tier%3Dfront', initialNodes: 0 });
    const byLabel = await prepareK8sCluster({ env: envOf({ KUBECTL_SELECTOR_LABEL: 'app' }), logger });
    expect(byLabel.selector).toBe('app%3Dcf');
  });

  it('unreadable own pod → no selector, 0 initial nodes, a prominent warning', async () => {
    const { logger, lines } = capture();
    const setup = await prepareK8sCluster({ env: envOf({}), logger });
    expect(setup).toMatchObject({ nodeId: 2, selector: undefined, initialNodes: 0, ownPod: undefined });
    const warnings = lines.filter((l) => l.level === 40).map((l) => l.msg);
    expect(warnings.join('\n')).toMatch(/no label selector.*no initialDtlsClusterNodes.*no cluster management timer/);
  });

  it('node-id not derivable → "node-id not available!" before any API call', async () => {
    const { logger } = capture();
    await expect(prepareK8sCluster({ env: envOf({}, undefined, 'standalone'), logger })).rejects.toThrow(/^node-id not available!$/);
    expect(seen).toEqual([]);
  });

  it('discover scope: pods with IP other than the own one, with the external management port', async () => {
    answer = (path) =>
      path.endsWith('/cf-extserver-a-2')
        ? { status: 200, body: pod('cf-extserver-a-2', { ip: '10.0.0.2', labels: { 'controller-revision-hash': 'h1' } }) }
        : {
            status: 200,
            body: podList(
              pod('cf-extserver-a-0', { ip: '10.0.0.0' }),
              pod('cf-extserver-a-1', { ips: ['10.0.0.1'], ready: false }),
              pod('cf-extserver-a-2', { ip: '10.0.0.2' }),
              pod('cf-extserver-a-3'),
            ),
          };
    const { logger } = capture();
    const setup = await prepareK8sCluster({ env: envOf({}), logger });
    expect(await setup.discoverScope(5884)).toEqual([
      { address: '10.0.0.0', port: 5884 },
      { address: '10.0.0.1', port: 5884 },
    ]);
    expect(seen[1]?.path).toBe(`${NS}?labelSelector=controller-revision-hash%3Dh1`);
  });

  it('discovery errors are logged and give an empty scope', async () => {
    const { logger, lines } = capture();
    const context = { api: api(), hostName: 'cf-extserver-a-2', selector: 'a%3Db', logger };
    answer = () => ({ status: 500, body: 'oops' });
    expect(await discoverScope(context, 5884)).toEqual([]);
    answer = () => ({ status: 200, body: '{"kind":"PodList","items":[' });
    expect(await discoverScope(context, 5884)).toEqual([]);
    expect(lines.filter((l) => l.level === 40)).toHaveLength(2);
  });
});

describe('restore double (cluster.md §10 step 2)', () => {
  let pauses: number[];
  let k8s: K8sApi;
  const options = (extra: Partial<RestoreDoubleOptions>): RestoreDoubleOptions => ({
    api: k8s,
    hostName: 'cf-extserver-b-1',
    mode: 'cluster',
    restoreSelectorLabel: 'app',
    logger: capture().logger,
    sleep: async (ms) => void pauses.push(ms),
    random: Math.random,
    ...extra,
  });
  const own = (labels: Record<string, string> = {}) => pod('cf-extserver-b-1', { ip: '10.0.1.1', labels: { app: 'cf-extserver', ...labels } });

  beforeEach(() => {
    pauses = [];
    k8s = api();
  });

  it('cluster mode: GET the a/b double labelled restore=true', async () => {
    answer = (path) =>
      path.endsWith('/cf-extserver-b-1')
        ? { status: 200, body: own() }
        : { status: 200, body: pod('cf-extserver-a-1', { ip: '10.0.0.1', labels: { restore: 'true' } }) };
    expect(await findRestoreDouble(options({}))).toEqual({ address: '10.0.0.1', podName: 'cf-extserver-a-1' });
    expect(seen.map((s) => s.path)).toEqual([`${NS}/cf-extserver-b-1`, `${NS}/cf-extserver-a-1`]);
    expect(pauses).toEqual([]);
  });

  it('no restore when the own pod is labelled restore=true', async () => {
    const result = await findRestoreDouble(options({ ownPod: { name: 'cf-extserver-b-1', labels: { restore: 'TRUE' }, ready: true } }));
    expect(result.address).toBeUndefined();
    expect(result).toMatchObject({ reason: expect.stringMatching(/restore=true/) });
    expect(seen).toEqual([]);
  });

  it('no restore when the host name has no a/b form', async () => {
    const result = await findRestoreDouble(options({ hostName: 'cf-extserver-1' }));
    expect(result).toMatchObject({ address: undefined, reason: expect.stringMatching(/does not match/) });
    expect(seen).toEqual([]);
  });

  it('retries on 503 with 200-399 ms pauses', async () => {
    answer = (path, count) =>
      path.endsWith('/cf-extserver-b-1')
        ? { status: 200, body: own() }
        : count < 3
          ? { status: 503, body: { kind: 'Status', message: 'unavailable' } }
          : { status: 200, body: pod('cf-extserver-a-1', { ip: '10.0.0.1', labels: { restore: 'true' } }) };
    expect(await findRestoreDouble(options({}))).toEqual({ address: '10.0.0.1', podName: 'cf-extserver-a-1' });
    expect(pauses).toHaveLength(2);
    for (const ms of pauses) expect(ms >= 200 && ms <= 399, String(ms)).toBe(true);
    const edges: number[] = [];
    await findRestoreDouble(options({ sleep: async (ms) => void edges.push(ms), random: () => 0.999999 }));
    expect(edges.every((ms) => ms === 399)).toBe(true);
  });

  it('gives up after 3 attempts (503) and at once on 404', async () => {
    answer = (path) => (path.endsWith('/cf-extserver-b-1') ? { status: 200, body: own() } : { status: 503, body: '' });
    const busy = await findRestoreDouble(options({}));
    expect(busy).toMatchObject({ address: undefined, reason: expect.stringMatching(/503.*3 attempts/) });
    expect(seen.filter((s) => s.path.endsWith('/cf-extserver-a-1'))).toHaveLength(3);
    seen = [];
    pauses = [];
    answer = (path) => (path.endsWith('/cf-extserver-b-1') ? { status: 200, body: own() } : { status: 404, body: { kind: 'Status' } });
    const gone = await findRestoreDouble(options({}));
    expect(gone).toMatchObject({ address: undefined, reason: expect.stringMatching(/404/) });
    expect(seen.filter((s) => s.path.endsWith('/cf-extserver-a-1'))).toHaveLength(1);
    expect(pauses).toEqual([]);
  });

  it('a double without restore=true or without IP is no candidate', async () => {
    for (const double of [pod('cf-extserver-a-1', { ip: '10.0.0.1' }), pod('cf-extserver-a-1', { labels: { restore: 'true' } })]) {
      answer = () => ({ status: 200, body: double });
      const result = await findRestoreDouble(options({ ownPod: { name: 'cf-extserver-b-1', labels: {}, ready: true } }));
      expect(result).toMatchObject({ address: undefined, reason: expect.stringMatching(/no pod labelled restore=true/) });
    }
  });

  it('single mode: list by the restore selector label, exactly one candidate', async () => {
    const others = [
      pod('cf-extserver-b-1', { ip: '10.0.1.1', labels: { app: 'cf-extserver', restore: 'true' } }), // same name as own pod
      pod('old-1', { ip: '10.0.0.7', labels: { app: 'cf-extserver', restore: 'true' } }),
      pod('old-2', { ip: '10.0.0.8', labels: { app: 'cf-extserver' } }),
      pod('old-3', { labels: { app: 'cf-extserver', restore: 'true' } }),
    ];
    answer = (path) => (path.endsWith('/cf-extserver-b-1') ? { status: 200, body: own() } : { status: 200, body: podList(...others) });
    expect(await findRestoreDouble(options({ mode: 'single' }))).toEqual({ address: '10.0.0.7', podName: 'old-1' });
    expect(seen.map((s) => s.path)).toEqual([`${NS}/cf-extserver-b-1`, `${NS}?labelSelector=app%3Dcf-extserver`]);
  });

  it('single mode: two candidates → no restore after 3 attempts; no own label → no restore', async () => {
    const two = podList(
      pod('old-1', { ip: '10.0.0.7', labels: { restore: 'true' } }),
      pod('old-2', { ip: '10.0.0.8', labels: { restore: 'true' } }),
    );
    answer = (path) => (path.endsWith('/cf-extserver-b-1') ? { status: 200, body: own() } : { status: 200, body: two });
    expect(await findRestoreDouble(options({ mode: 'single' }))).toMatchObject({ address: undefined, reason: expect.stringMatching(/2 pods/) });
    expect(pauses).toHaveLength(2);
    seen = [];
    const unlabelled = await findRestoreDouble(options({ mode: 'single', restoreSelectorLabel: 'tier' }));
    expect(unlabelled).toMatchObject({ address: undefined, reason: expect.stringMatching(/tier/) });
    expect(seen).toHaveLength(1);
  });
});

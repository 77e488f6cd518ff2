// The container and k8s deployment files under service/ against the reference deployment facts
// (cluster.md §8-§11, cli.md §3.4, §8). The expected values below come from the spec, not from the files.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { parseServerArgs } from '../../src/cli/options.js';
import { loadHttpsCredentials } from '../../src/restart/https-certs.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SERVICE = path.join(ROOT, 'service');
const DEPLOY = path.join(SERVICE, 'deploy_k8s.sh');
const CREATE_SECRET = path.join(SERVICE, 'create-secret.sh');

// ---- spec facts ------------------------------------------------------------------------------------

const APP = 'cf-extserver';
const SECRET = 'cf-extserver-config';
/** cli.md §3.4: the typical container invocation of the reference (k8s, cluster). */
const CLUSTER_ARGS = [
  '--no-loopback',
  '--no-tcp',
  '--no-plugtest',
  '--benchmark',
  '--diagnose',
  '--k8s-dtls-cluster',
  ':5784;:5884;5884',
  '--k8s-monitor',
  ':8080',
  '--k8s-restore',
  ':5884',
];
/** cli.md §3.4: "Without cluster: same without --k8s-dtls-cluster". */
const SINGLE_ARGS = CLUSTER_ARGS.filter((a, i) => a !== '--k8s-dtls-cluster' && CLUSTER_ARGS[i - 1] !== '--k8s-dtls-cluster');
/** cluster.md §11: Service ports (UDP port → nodePort). */
const SERVICE_PORTS: Array<[number, number]> = [
  [5783, 30783],
  [5784, 30784],
];
/** cluster.md §11: container ports. */
const CLUSTER_PORTS = ['5783/UDP', '5784/UDP', '5884/UDP', '5884/TCP', '8080/TCP'];
/** Without cluster there is no management socket (cli.md §3.3). */
const SINGLE_PORTS = ['5783/UDP', '5784/UDP', '5884/TCP', '8080/TCP'];
/** cluster.md §11: env vars from the secret. */
const SECRET_ENV = [
  'KUBECTL_TOKEN',
  'KUBECTL_HOST',
  'KUBECTL_NAMESPACE',
  'KUBECTL_SELECTOR',
  'KUBECTL_SELECTOR_LABEL',
  'KUBECTL_NODE_ID',
  'DTLS_CID_MGMT_IDENTITY',
  'DTLS_CID_MGMT_SECRET_BASE64',
];
/** cluster.md §11, cli.md §8: files of the secret mounted at /etc/certs. */
const CERT_FILES = ['https_client_cert.pem', 'https_client_trust.pem', 'https_server_cert.pem', 'https_server_trust.pem'];
const CERTS_DIR = '/etc/certs';
/** cluster.md §11: readiness probe. */
const READINESS = { path: '/ready', port: 8080, initialDelaySeconds: 3, periodSeconds: 1, timeoutSeconds: 2 };
/** cluster.md §10: the double of a pod. */
const DOUBLE_NAME = /^(.*-)([ab])(-\d+)$/;

// ---- helpers ---------------------------------------------------------------------------------------

/** k8s objects are checked field by field. */
type K8sObject = any;

function parseYaml(text: string, source: string): K8sObject[] {
  const docs = parseAllDocuments(text);
  if (!Array.isArray(docs)) throw new Error(`${source}: not a YAML stream`);
  for (const d of docs) {
    if (d.errors.length > 0) throw new Error(`${source}: ${d.errors.map((e) => e.message).join('; ')}`);
  }
  return docs.map((d) => d.toJS() as K8sObject).filter((o) => o !== null && o !== undefined);
}

function manifest(file: string): K8sObject[] {
  return parseYaml(fs.readFileSync(path.join(SERVICE, file), 'utf8'), file);
}

function only(objects: K8sObject[], kind: string, name?: string): K8sObject {
  const found = objects.filter((o) => o.kind === kind && (name === undefined || o.metadata?.name === name));
  expect(found, `${kind} ${name ?? ''}`).toHaveLength(1);
  return found[0];
}

/** Runs a command with a minimal environment (the scripts read generic names like NAMESPACE, TAG, IMAGE). */
function run(cmd: string, args: string[], env: Record<string, string> = {}, input?: string) {
  const base = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: os.tmpdir(), LANG: 'C' };
  const r = spawnSync(cmd, args, { cwd: ROOT, encoding: 'utf8', env: { ...base, ...env }, input, timeout: 20_000 });
  return { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

function portsOf(container: K8sObject): string[] {
  return (container.ports ?? []).map((p: K8sObject) => `${p.containerPort}/${p.protocol ?? 'TCP'}`).sort();
}

/** A probe port: a number or the name of a container port. */
function probePort(container: K8sObject, port: number | string): number {
  if (typeof port === 'number') return port;
  if (/^\d+$/.test(port)) return Number(port);
  const named = (container.ports ?? []).find((p: K8sObject) => p.name === port);
  expect(named, `named port ${port}`).toBeDefined();
  return named.containerPort;
}

function isSubset(sub: Record<string, string>, of: Record<string, string>): boolean {
  return Object.entries(sub).every(([k, v]) => of[k] === v);
}

function expectArgsAccepted(args: string[]) {
  const result = parseServerArgs(args);
  expect(result.kind, JSON.stringify(result)).toBe('ok');
  if (result.kind !== 'ok') return undefined;
  return result.options;
}

/** Checks of a pod template shared by the StatefulSets and the Deployment. */
function expectPodTemplate(workload: K8sObject, ports: string[], args: string[], env: string[]) {
  const template = workload.spec.template;
  const labels: Record<string, string> = template.metadata.labels;
  expect(labels.app).toBe(APP);
  expect(labels.initialDtlsClusterNodes).toBe(String(workload.spec.replicas));
  expect(isSubset(workload.spec.selector.matchLabels, labels)).toBe(true);
  // Prometheus scrapes /metrics on the monitor port
  expect(template.metadata.annotations).toMatchObject({
    'prometheus.io/scrape': 'true',
    'prometheus.io/port': '8080',
    'prometheus.io/path': '/metrics',
  });

  const containers: K8sObject[] = template.spec.containers;
  expect(containers).toHaveLength(1);
  const c = containers[0];
  expect(c.args).toEqual(args);
  expect(c.command).toBeUndefined(); // the image's ENTRYPOINT runs the server
  expect(portsOf(c)).toEqual([...ports].sort());

  for (const name of env) {
    const e = (c.env ?? []).find((x: K8sObject) => x.name === name);
    expect(e, name).toBeDefined();
    expect(e.valueFrom?.secretKeyRef?.name, name).toBe(SECRET);
  }

  const mount = (c.volumeMounts ?? []).find((m: K8sObject) => m.mountPath === CERTS_DIR);
  expect(mount).toBeDefined();
  expect(mount.readOnly).toBe(true);
  const volume = (template.spec.volumes ?? []).find((v: K8sObject) => v.name === mount.name);
  expect(volume?.secret?.secretName).toBe(SECRET);

  const rp = c.readinessProbe;
  expect(rp.httpGet.path).toBe(READINESS.path);
  expect(probePort(c, rp.httpGet.port)).toBe(READINESS.port);
  expect(rp.initialDelaySeconds).toBe(READINESS.initialDelaySeconds);
  expect(rp.periodSeconds).toBe(READINESS.periodSeconds);
  expect(rp.timeoutSeconds).toBe(READINESS.timeoutSeconds);
  if (c.livenessProbe !== undefined) {
    expect(c.livenessProbe.httpGet.path).toBe('/alive');
    expect(probePort(c, c.livenessProbe.httpGet.port)).toBe(8080);
  }

  const security = { ...template.spec.securityContext, ...c.securityContext };
  expect(security.runAsNonRoot).toBe(true);
  expect(security.runAsUser).not.toBe(0);
  return c;
}

function expectService(objects: K8sObject[], podLabels: Record<string, string>) {
  const svc = only(objects, 'Service', APP);
  expect(svc.spec.selector).toEqual({ app: APP });
  expect(isSubset(svc.spec.selector, podLabels)).toBe(true);
  expect(svc.spec.externalTrafficPolicy).toBe('Local');
  for (const [port, nodePort] of SERVICE_PORTS) {
    const p = svc.spec.ports.find((x: K8sObject) => x.port === port);
    expect(p, String(port)).toBeDefined();
    expect(p.protocol).toBe('UDP');
    expect(p.nodePort).toBe(nodePort);
  }
}

function expectRbac(objects: K8sObject[]) {
  const role = only(objects, 'Role');
  const rule = role.rules.find((r: K8sObject) => r.resources.includes('pods'));
  expect(rule.apiGroups).toEqual(['']);
  expect(rule.verbs).toEqual(expect.arrayContaining(['get', 'list']));
  const binding = only(objects, 'RoleBinding');
  expect(binding.roleRef).toMatchObject({ kind: 'Role', name: role.metadata.name, apiGroup: 'rbac.authorization.k8s.io' });
  expect(binding.subjects).toContainEqual(expect.objectContaining({ kind: 'ServiceAccount', name: 'default' }));
}

// ---- Dockerfile --------------------------------------------------------------------------------------

interface Instruction {
  op: string;
  rest: string;
}

function dockerInstructions(text: string): Instruction[] {
  const joined = text
    .split('\n')
    .filter((l) => !/^\s*#/.test(l))
    .join('\n')
    .replace(/\\\n/g, ' ');
  return joined
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '')
    .map((l) => {
      const m = /^(\S+)\s*(.*)$/.exec(l)!;
      return { op: m[1]!.toUpperCase(), rest: m[2]! };
    });
}

describe('service/Dockerfile', () => {
  const all = dockerInstructions(fs.readFileSync(path.join(SERVICE, 'Dockerfile'), 'utf8'));
  const froms = all.flatMap((ins, i) => (ins.op === 'FROM' ? [i] : []));
  const runtime = all.slice(froms[froms.length - 1]);
  const jsonOf = (op: string): string[] => {
    const found = runtime.filter((i) => i.op === op);
    expect(found, op).toHaveLength(1);
    return JSON.parse(found[0]!.rest) as string[];
  };

  it('is multi-stage with a switchable Node.js base image', () => {
    expect(froms.length).toBeGreaterThanOrEqual(2);
    const arg = all.slice(0, froms[0]).find((i) => i.op === 'ARG' && i.rest.startsWith('NODE_IMAGE'));
    expect(arg?.rest).toMatch(/^NODE_IMAGE=node:(\d+)/);
    expect(Number(/^NODE_IMAGE=node:(\d+)/.exec(arg!.rest)![1])).toBeGreaterThanOrEqual(20); // engines: node >= 20.19
    for (const i of froms) expect(all[i]!.rest).toMatch(/^\$\{?NODE_IMAGE\}?\b/);
  });

  it('builds with npm ci + npm run build and installs only production dependencies in the runtime stage', () => {
    const builder = all.slice(froms[0], froms[froms.length - 1]);
    expect(builder.some((i) => i.op === 'RUN' && /npm ci\b/.test(i.rest))).toBe(true);
    expect(builder.some((i) => i.op === 'RUN' && /npm run build\b/.test(i.rest))).toBe(true);
    expect(runtime.some((i) => i.op === 'RUN' && i.rest.includes('npm ci --omit=dev'))).toBe(true);
    expect(runtime.some((i) => i.op === 'COPY' && /--from=\S+/.test(i.rest) && /\bdist\b/.test(i.rest))).toBe(true);
    expect(runtime.some((i) => i.op === 'COPY' && /\bresources\b/.test(i.rest))).toBe(true);
  });

  it('runs as a non-root user', () => {
    const users = runtime.filter((i) => i.op === 'USER');
    expect(users.length).toBeGreaterThan(0);
    const user = users[users.length - 1]!.rest.split(':')[0]!;
    expect(['root', '0']).not.toContain(user);
  });

  it('exposes the ports of the reference container', () => {
    const exposed = runtime
      .filter((i) => i.op === 'EXPOSE')
      .flatMap((i) => i.rest.split(/\s+/))
      .map((p) => (p.includes('/') ? p.toUpperCase() : `${p}/TCP`));
    expect([...new Set(exposed)].sort()).toEqual([...CLUSTER_PORTS].sort());
  });

  it('starts the server with the flags of the reference container, like the k8s manifest', () => {
    const entrypoint = jsonOf('ENTRYPOINT');
    expect(entrypoint[0]).toBe('node');
    expect(entrypoint[entrypoint.length - 1]).toMatch(/(^|\/)dist\/src\/cli\/server-main\.js$/);
    expect(fs.existsSync(path.join(ROOT, 'src/cli/server-main.ts'))).toBe(true);
    const cmd = jsonOf('CMD');
    expect(cmd).toEqual(CLUSTER_ARGS);
    const sts = only(manifest('k8s.yaml'), 'StatefulSet');
    expect(sts.spec.template.spec.containers[0].args).toEqual(cmd);
  });
});

// ---- k8s.yaml (cluster) ------------------------------------------------------------------------------

describe('service/k8s.yaml', () => {
  const objects = manifest('k8s.yaml');
  const sts = only(objects, 'StatefulSet', 'cf-extserver-a');

  it('contains the Service, the RBAC rules and StatefulSet cf-extserver-a', () => {
    expect(objects.map((o) => o.kind).sort()).toEqual(['Role', 'RoleBinding', 'Service', 'StatefulSet']);
    for (const o of objects) expect(o.metadata.namespace, `${o.kind} namespace-neutral`).toBeUndefined();
  });

  it('Service: selects app=cf-extserver, UDP 5783→30783, 5784→30784, externalTrafficPolicy Local', () => {
    expectService(objects, sts.spec.template.metadata.labels);
  });

  it('StatefulSet: Parallel pods, labels, spread by host', () => {
    expect(sts.spec.podManagementPolicy).toBe('Parallel');
    const spread = sts.spec.template.spec.topologySpreadConstraints;
    expect(spread.map((s: K8sObject) => s.topologyKey)).toContain('kubernetes.io/hostname');
  });

  it('StatefulSet: env from the secret, /etc/certs, ports, probes, args', () => {
    expectPodTemplate(sts, CLUSTER_PORTS, CLUSTER_ARGS, SECRET_ENV);
  });

  it('the container args are accepted by the server', () => {
    const opts = expectArgsAccepted(sts.spec.template.spec.containers[0].args);
    expect(opts).toMatchObject({ k8sDtlsCluster: ':5784;:5884;5884', k8sMonitor: ':8080', k8sRestore: ':5884', plugtest: false, loopback: false });
  });

  it('RBAC: get and list on pods for the default service account', () => {
    expectRbac(objects);
  });
});

// ---- k8s-single.yaml ---------------------------------------------------------------------------------

describe('service/k8s-single.yaml', () => {
  const objects = manifest('k8s-single.yaml');
  const dep = only(objects, 'Deployment');

  it('one pod, initialDtlsClusterNodes "1"', () => {
    expect(dep.spec.replicas).toBe(1);
    expect(dep.spec.template.metadata.labels.initialDtlsClusterNodes).toBe('1');
    expect(objects.filter((o) => o.kind === 'StatefulSet')).toEqual([]);
  });

  it('same pod template facts, without the cluster', () => {
    const c = expectPodTemplate(dep, SINGLE_PORTS, SINGLE_ARGS, ['KUBECTL_TOKEN', 'KUBECTL_HOST', 'KUBECTL_RESTORE_SELECTOR_LABEL']);
    const opts = expectArgsAccepted(c.args);
    expect(opts?.k8sDtlsCluster).toBeUndefined();
    expect(opts?.k8sRestore).toBe(':5884');
  });

  it('the old pod keeps running while the new one restores from it (found by its app label)', () => {
    const rolling = dep.spec.strategy;
    expect(rolling.type ?? 'RollingUpdate').toBe('RollingUpdate');
    expect(rolling.rollingUpdate.maxUnavailable).toBe(0);
    expect(rolling.rollingUpdate.maxSurge).toBeGreaterThanOrEqual(1);
    expect(dep.spec.template.metadata.labels.app).toBe(APP);
  });

  it('Service and RBAC as in the cluster variant', () => {
    expectService(objects, dep.spec.template.metadata.labels);
    expectRbac(objects);
  });
});

// ---- deploy_k8s.sh -----------------------------------------------------------------------------------

describe('service/deploy_k8s.sh', () => {
  const IMAGE_REF = 'registry.example:5000/extplugtest@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef';
  let tmp: string;

  beforeAll(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'service-manifests-'));
  });
  afterAll(() => {
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('is valid bash with install and update0 commands', () => {
    expect(run('bash', ['-n', DEPLOY]).status).toBe(0);
    const text = fs.readFileSync(DEPLOY, 'utf8');
    expect(text).toMatch(/^\s*install\)/m);
    expect(text).toMatch(/^\s*update0\)/m);
    expect(text).toMatch(/^set -euo pipefail$/m);
  });

  it('runs nothing when sourced', () => {
    const r = run('bash', ['-c', `source '${DEPLOY}' && echo sourced`], { KUBECTL: '/bin/false', DOCKER: '/bin/false' });
    expect(r.status).toBe(0);
    expect(r.stdout).toBe('sourced\n');
  });

  it('renders StatefulSet b from a: name, labels, replicas, initialDtlsClusterNodes, image', () => {
    const r = run('bash', [DEPLOY, 'render', 'b'], { REPLICAS: '3', IMAGE_REF });
    expect(r.status, r.stderr).toBe(0);
    const objects = parseYaml(r.stdout, 'render b');
    expect(objects).toHaveLength(1);
    const b = only(objects, 'StatefulSet', 'cf-extserver-b');
    expect(b.spec.replicas).toBe(3);
    expect(b.spec.podManagementPolicy).toBe('Parallel');
    expect(JSON.stringify(b)).not.toContain('cf-extserver-a');
    expect(b.spec.template.spec.containers[0].image).toBe(IMAGE_REF);
    expectPodTemplate(b, CLUSTER_PORTS, CLUSTER_ARGS, SECRET_ENV);
    // the doubles of cluster.md §10: cf-extserver-b-<i> <-> cf-extserver-a-<i>
    const a = only(manifest('k8s.yaml'), 'StatefulSet');
    for (let i = 0; i < 3; i++) {
      const m = DOUBLE_NAME.exec(`${b.metadata.name}-${i}`);
      expect(m).not.toBeNull();
      expect(`${m![1]}${m![2] === 'a' ? 'b' : 'a'}${m![3]}`).toBe(`${a.metadata.name}-${i}`);
    }
    // a and b pods are told apart, both are selected by the Service
    expect(isSubset(a.spec.selector.matchLabels, b.spec.template.metadata.labels)).toBe(false);
    expect(isSubset(b.spec.selector.matchLabels, a.spec.template.metadata.labels)).toBe(false);
  });

  it('renders the full cluster manifest and the single variant with the image', () => {
    const cluster = run('bash', [DEPLOY, 'render', 'cluster'], { REPLICAS: '4', IMAGE_REF });
    expect(cluster.status, cluster.stderr).toBe(0);
    const objects = parseYaml(cluster.stdout, 'render cluster');
    const a = only(objects, 'StatefulSet', 'cf-extserver-a');
    expect(a.spec.replicas).toBe(4);
    expect(a.spec.template.metadata.labels.initialDtlsClusterNodes).toBe('4');
    expect(a.spec.template.spec.containers[0].image).toBe(IMAGE_REF);
    expectService(objects, a.spec.template.metadata.labels);

    const single = run('bash', [DEPLOY, 'render', 'single'], { IMAGE_REF });
    expect(single.status, single.stderr).toBe(0);
    const dep = only(parseYaml(single.stdout, 'render single'), 'Deployment');
    expect(dep.spec.replicas).toBe(1);
    expect(dep.spec.template.spec.containers[0].image).toBe(IMAGE_REF);

    expect(run('bash', [DEPLOY, 'render', 'b'], { IMAGE_REF: 'bad|image' }).status).not.toBe(0);
  });

  /** A kubectl stand-in: logs its arguments, answers the replica queries of a ready StatefulSet <old>. */
  function fakeKubectl(old: 'a' | 'b', oldReady: number): { kubectl: string; calls: () => string[]; applied: () => string } {
    const dir = fs.mkdtempSync(path.join(tmp, `kubectl-${old}-`));
    const kubectl = path.join(dir, 'kubectl');
    const other = old === 'a' ? 'b' : 'a';
    fs.writeFileSync(
      kubectl,
      `#!/usr/bin/env bash
state='${dir}'
echo "$*" >> "$state/calls"
args=" $* "
case "$args" in
*" apply -f - "*) cat > "$state/applied.yaml"; touch "$state/created" ;;
*" get statefulset cf-extserver-${old} "*"{.spec.replicas}"*) printf 3 ;;
*" get statefulset cf-extserver-${old} "*"{.status.readyReplicas}"*) if [ ! -e "$state/created" ]; then printf ${oldReady}; fi ;;
*" get statefulset cf-extserver-${other} "*"{.spec.replicas}"*) if [ -e "$state/created" ]; then printf 3; fi ;;
*" get statefulset cf-extserver-${other} "*"{.status.readyReplicas}"*) if [ -e "$state/created" ]; then printf 3; fi ;;
esac
exit 0
`,
      { mode: 0o755 },
    );
    const read = (f: string) => (fs.existsSync(path.join(dir, f)) ? fs.readFileSync(path.join(dir, f), 'utf8') : '');
    return { kubectl, calls: () => read('calls').trim().split('\n'), applied: () => read('applied.yaml') };
  }

  for (const old of ['a', 'b'] as const) {
    const next = old === 'a' ? 'b' : 'a';
    it(`update0 ${old} → ${next}: label restore=true, create ${next} with the same replicas, wait, delete ${old}`, () => {
      const fake = fakeKubectl(old, 3);
      const r = run('bash', [DEPLOY, 'update0'], {
        KUBECTL: fake.kubectl,
        NAMESPACE: 'cali',
        IMAGE_REF,
        BUILD_FILE: path.join(tmp, 'build-number'),
        DOCKER: '/bin/false',
      });
      expect(r.status, r.stderr).toBe(0);
      const calls = fake.calls();
      for (const c of calls) expect(c).toMatch(/^-n cali /);
      const index = (re: RegExp) => {
        const i = calls.findIndex((c) => re.test(c));
        expect(i, String(re)).toBeGreaterThanOrEqual(0);
        return i;
      };
      const label = index(new RegExp(`label pods .*-l statefulset=cf-extserver-${old}\\b.*restore=true`));
      const apply = index(/apply -f -/);
      const waitNew = calls.reduce((last, c, i) => (c.includes(`get statefulset cf-extserver-${next} `) && c.includes('readyReplicas') ? i : last), -1);
      const remove = index(new RegExp(`delete statefulset cf-extserver-${old}\\b`));
      expect(label).toBeLessThan(apply);
      expect(apply).toBeLessThan(waitNew);
      expect(waitNew).toBeLessThan(remove);
      expect(calls.filter((c) => / delete /.test(c) && c.includes(`cf-extserver-${next}`) && !c.includes('--ignore-not-found'))).toEqual([]);

      const objects = parseYaml(fake.applied(), 'applied');
      expect(objects).toHaveLength(1);
      const sts = only(objects, 'StatefulSet', `cf-extserver-${next}`);
      expect(sts.spec.replicas).toBe(3);
      expect(sts.spec.template.metadata.labels.initialDtlsClusterNodes).toBe('3');
      expect(sts.spec.template.spec.containers[0].image).toBe(IMAGE_REF);
    });
  }

  it('update0 is cancelled when the current pods are not all ready', () => {
    const fake = fakeKubectl('a', 2);
    const r = run('bash', [DEPLOY, 'update0'], { KUBECTL: fake.kubectl, IMAGE_REF, BUILD_FILE: path.join(tmp, 'build-number') });
    expect(r.status).not.toBe(0);
    expect(fake.calls().some((c) => / label | apply | delete /.test(` ${c} `))).toBe(false);
  });
});

// ---- create-secret.sh --------------------------------------------------------------------------------

describe('service/create-secret.sh', () => {
  let r: ReturnType<typeof run>;
  beforeAll(() => {
    r = run('bash', [CREATE_SECRET, '--print']);
  });
  const secretOf = () => {
    expect(r.status, r.stderr).toBe(0);
    const secret = only(parseYaml(r.stdout, 'secret'), 'Secret', SECRET);
    const data: Record<string, string> = secret.data;
    return Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]));
  };

  it('is valid bash', () => {
    expect(run('bash', ['-n', CREATE_SECRET]).status).toBe(0);
  });

  it('provides every key the manifests require and the values of cluster.md §8/§11', () => {
    const data = secretOf();
    for (const file of ['k8s.yaml', 'k8s-single.yaml']) {
      for (const o of manifest(file).filter((x) => x.spec?.template)) {
        for (const e of o.spec.template.spec.containers[0].env) {
          const ref = e.valueFrom.secretKeyRef;
          if (ref.optional !== true) expect(Object.keys(data), `${file} ${e.name}`).toContain(ref.key);
          if (e.name === 'KUBECTL_TOKEN') expect(data[ref.key]).toBe(''); // empty: the service-account token
          if (e.name === 'KUBECTL_SELECTOR_LABEL') expect(data[ref.key]).toBe('controller-revision-hash');
          if (e.name === 'KUBECTL_RESTORE_SELECTOR_LABEL') expect(data[ref.key]).toBe('app');
          if (e.name === 'DTLS_CID_MGMT_IDENTITY') expect(data[ref.key]).toBe('cid-cluster-manager');
          if (e.name === 'DTLS_CID_MGMT_SECRET_BASE64') expect(Buffer.from(data[ref.key]!, 'base64').length).toBeGreaterThanOrEqual(16);
        }
      }
    }
    for (const f of CERT_FILES) expect(Object.keys(data)).toContain(f);
  });

  it('generates a random management secret', () => {
    const again = run('bash', [CREATE_SECRET, '--print']);
    expect(again.status).toBe(0);
    const key = (text: string) => /dtls_cid_mgmt_secret_base64: (\S+)/.exec(text)?.[1];
    expect(key(again.stdout)).toBeDefined();
    expect(key(again.stdout)).not.toBe(key(r.stdout));
  });

  it('its PEM files carry the mutual TLS of /restore', async () => {
    const data = secretOf();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'service-certs-'));
    try {
      for (const f of CERT_FILES) fs.writeFileSync(path.join(dir, f), data[f]!);
      const server = loadHttpsCredentials('server', dir);
      const client = loadHttpsCredentials('client', dir);
      // key + chain in one PEM
      expect(data['https_server_cert.pem']!.match(/BEGIN CERTIFICATE/g)!.length).toBeGreaterThanOrEqual(2);
      const srv = https.createServer({ key: server.key, cert: server.cert, ca: server.ca, requestCert: true, rejectUnauthorized: true }, (req, res) => {
        const peer = (req.socket as import('node:tls').TLSSocket).getPeerCertificate();
        res.end(`${peer.subject.CN}`);
      });
      await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
      try {
        const body = await new Promise<string>((resolve, reject) => {
          https
            .get(
              {
                host: '127.0.0.1',
                port: (srv.address() as AddressInfo).port,
                path: '/restore',
                key: client.key,
                cert: client.cert,
                ca: client.ca,
                // host names are not verified (cluster.md §10)
                checkServerIdentity: () => undefined,
              },
              (res) => {
                let text = '';
                res.on('data', (d: Buffer) => (text += d.toString()));
                res.on('end', () => resolve(`${res.statusCode} ${text}`));
              },
            )
            .on('error', reject);
        });
        expect(body).toBe('200 cf-client');
      } finally {
        await new Promise((resolve) => srv.close(resolve));
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

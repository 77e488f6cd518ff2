// k8s environment, node-id, trust choice and pod parsing (cluster.md §2, §6.1, §8) – no network.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readK8sEnv, describeK8sEnv } from '../../src/cluster/k8s/env.js';
import { K8sApiError, K8sConfigError } from '../../src/cluster/k8s/errors.js';
import {
  K8S_CLIENT_TRUST_FILE,
  SERVICE_ACCOUNT_CA_FILE,
  SERVICE_ACCOUNT_NAMESPACE_FILE,
  SERVICE_ACCOUNT_TOKEN_FILE,
} from '../../src/cluster/k8s/files.js';
import { deriveNodeId, NODE_ID_NOT_AVAILABLE } from '../../src/cluster/k8s/node-id.js';
import { parsePodAnswer } from '../../src/cluster/k8s/pod.js';
import { doubleNameOf } from '../../src/cluster/k8s/restore-double.js';
import { resolveK8sTrust } from '../../src/cluster/k8s/trust.js';

const files = (content: Record<string, string>) => (path: string) => content[path];

describe('k8s environment (cluster.md §8)', () => {
  it('uses the defaults on an empty environment', () => {
    const env = readK8sEnv({ env: {}, readFile: files({}), hostName: 'cf-extserver-a-0' });
    expect(env).toMatchObject({
      hostName: 'cf-extserver-a-0',
      baseUrl: 'https://kubernetes.default.svc',
      namespace: 'default',
      tokenSource: 'none',
      nodeIdValue: undefined,
      selector: undefined,
      selectorLabel: 'controller-revision-hash',
      restoreSelectorLabel: 'app',
      mgmtPsk: undefined,
      trust: { source: 'trust all' },
      warnings: [],
    });
    expect(env.token).toBeUndefined();
    expect(env.trust.ca).toBeUndefined();
  });

  it('takes the host name from the machine unless injected', () => {
    expect(readK8sEnv({ env: {}, readFile: files({}) }).hostName).toBe(hostname());
  });

  it('reads the variables', () => {
    const env = readK8sEnv({
      env: {
        KUBECTL_HOST: '10.152.183.1:6443',
        KUBECTL_NAMESPACE: 'cali',
        KUBECTL_TOKEN: 'secret-token',
        KUBECTL_NODE_ID: '7',
        KUBECTL_SELECTOR: 'app%3Dcf-extserver',
        KUBECTL_SELECTOR_LABEL: 'group',
        KUBECTL_RESTORE_SELECTOR_LABEL: 'tier',
      },
      readFile: files({ [SERVICE_ACCOUNT_NAMESPACE_FILE]: 'other' }),
      hostName: 'h',
    });
    expect(env).toMatchObject({
      baseUrl: 'https://10.152.183.1:6443',
      namespace: 'cali',
      token: 'secret-token',
      tokenSource: 'KUBECTL_TOKEN',
      nodeIdValue: '7',
      selector: 'app%3Dcf-extserver',
      selectorLabel: 'group',
      restoreSelectorLabel: 'tier',
    });
    expect(describeK8sEnv(env)).not.toContain('secret-token');
  });

  it('takes the namespace from the service account file, else default', () => {
    const read = files({ [SERVICE_ACCOUNT_NAMESPACE_FILE]: 'cali\n' });
    expect(readK8sEnv({ env: {}, readFile: read, hostName: 'h' }).namespace).toBe('cali');
    expect(readK8sEnv({ env: { KUBECTL_NAMESPACE: '' }, readFile: read, hostName: 'h' }).namespace).toBe('cali');
    expect(readK8sEnv({ env: {}, readFile: files({ [SERVICE_ACCOUNT_NAMESPACE_FILE]: ' \n' }), hostName: 'h' }).namespace).toBe('default');
  });

  it('token: unset → none, empty → service-account token file, else the value', () => {
    const read = files({ [SERVICE_ACCOUNT_TOKEN_FILE]: 'sa-token\n' });
    expect(readK8sEnv({ env: {}, readFile: read, hostName: 'h' }).token).toBeUndefined();
    const fromFile = readK8sEnv({ env: { KUBECTL_TOKEN: '' }, readFile: read, hostName: 'h' });
    expect(fromFile.token).toBe('sa-token');
    expect(fromFile.tokenSource).toBe(SERVICE_ACCOUNT_TOKEN_FILE);
    expect(readK8sEnv({ env: { KUBECTL_TOKEN: 'given' }, readFile: read, hostName: 'h' }).token).toBe('given');
    const missing = readK8sEnv({ env: { KUBECTL_TOKEN: '' }, readFile: files({}), hostName: 'h' });
    expect(missing.token).toBeUndefined();
    expect(missing.warnings.join()).toContain(SERVICE_ACCOUNT_TOKEN_FILE);
  });

  it('accepts KUBECTL_HOST with https:// and rejects garbage', () => {
    expect(readK8sEnv({ env: { KUBECTL_HOST: 'https://api.example:443/' }, readFile: files({}), hostName: 'h' }).baseUrl).toBe(
      'https://api.example',
    );
    expect(readK8sEnv({ env: { KUBECTL_HOST: '' }, readFile: files({}), hostName: 'h' }).baseUrl).toBe('https://kubernetes.default.svc');
    for (const bad of ['bad host', 'host:99999', 'host?x=1', 'user@host']) {
      expect(() => readK8sEnv({ env: { KUBECTL_HOST: bad }, readFile: files({}), hostName: 'h' }), bad).toThrow(/KUBECTL_HOST/);
    }
  });

  it('management PSK when both variables are set (§6.1)', () => {
    const secret = Buffer.from('0123456789abcdef0123456789abcdef');
    const env = readK8sEnv({
      env: { DTLS_CID_MGMT_IDENTITY: 'cid-cluster-manager', DTLS_CID_MGMT_SECRET_BASE64: secret.toString('base64') },
      readFile: files({}),
      hostName: 'h',
    });
    expect(env.mgmtPsk?.identity).toBe('cid-cluster-manager');
    expect(env.mgmtPsk?.secret).toEqual(secret);
    const unpadded = secret.toString('base64').replace(/=+$/, '');
    expect(
      readK8sEnv({ env: { DTLS_CID_MGMT_IDENTITY: 'i', DTLS_CID_MGMT_SECRET_BASE64: unpadded }, readFile: files({}), hostName: 'h' }).mgmtPsk
        ?.secret,
    ).toEqual(secret);
  });

  it('a bad base64 secret is an error naming the variable', () => {
    for (const bad of ['not base64!', '', 'abcde', 'ab=c']) {
      const read = () =>
        readK8sEnv({ env: { DTLS_CID_MGMT_IDENTITY: 'i', DTLS_CID_MGMT_SECRET_BASE64: bad }, readFile: files({}), hostName: 'h' });
      expect(read, bad).toThrow(K8sConfigError);
      expect(read, bad).toThrow(/DTLS_CID_MGMT_SECRET_BASE64/);
    }
  });

  it('only one PSK variable → no PSK and a warning', () => {
    const env = readK8sEnv({ env: { DTLS_CID_MGMT_IDENTITY: 'i' }, readFile: files({}), hostName: 'h' });
    expect(env.mgmtPsk).toBeUndefined();
    expect(env.warnings.join()).toContain('DTLS_CID_MGMT_SECRET_BASE64');
  });
});

describe('node-id (cluster.md §2)', () => {
  it('KUBECTL_NODE_ID wins over the host name', () => {
    expect(deriveNodeId('5', 'cf-extserver-a-2')).toBe(5);
    expect(deriveNodeId(' 0 ', 'x')).toBe(0);
  });

  it('numeric suffix of the host name after the last -', () => {
    expect(deriveNodeId(undefined, 'cf-extserver-a-2')).toBe(2);
    expect(deriveNodeId(undefined, 'cf-extserver-b-255')).toBe(255);
    expect(deriveNodeId('', 'node-07')).toBe(7);
  });

  it('not derivable → exactly "node-id not available!"', () => {
    for (const host of ['standalone', 'cf-extserver-a', 'cf-extserver-', '12', 'a-1b']) {
      expect(() => deriveNodeId(undefined, host), host).toThrow(new K8sConfigError(NODE_ID_NOT_AVAILABLE));
    }
    expect(NODE_ID_NOT_AVAILABLE).toBe('node-id not available!');
  });

  it('outside 0..255 or not a number → an explanation', () => {
    expect(() => deriveNodeId(undefined, 'cf-extserver-a-256')).toThrow(/0\.\.255/);
    expect(() => deriveNodeId('300', 'x-1')).toThrow(/KUBECTL_NODE_ID '300'.*0\.\.255/);
    expect(() => deriveNodeId('-1', 'x-1')).toThrow(/KUBECTL_NODE_ID '-1'/);
    expect(() => deriveNodeId('two', 'x-1')).toThrow(/KUBECTL_NODE_ID 'two'/);
  });
});

describe('trust choice (cluster.md §8)', () => {
  let dir: string;
  let pemA: string;
  let pemB: string;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'k8s-trust-'));
    const make = (name: string) => {
      execFileSync('openssl', [
        'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1',
        '-keyout', join(dir, `${name}.key`), '-out', join(dir, `${name}.pem`), '-subj', `/CN=${name}`,
      ], { stdio: 'ignore' });
      return readFileSync(join(dir, `${name}.pem`), 'utf8');
    };
    pemA = make('a');
    pemB = make('b');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('trust file, else service-account ca.crt, else trust all', () => {
    expect(resolveK8sTrust(files({ [K8S_CLIENT_TRUST_FILE]: pemA, [SERVICE_ACCOUNT_CA_FILE]: pemB }))).toEqual({
      ca: pemA.trim() + '\n',
      source: K8S_CLIENT_TRUST_FILE,
    });
    expect(resolveK8sTrust(files({ [SERVICE_ACCOUNT_CA_FILE]: pemB }))).toEqual({ ca: pemB.trim() + '\n', source: SERVICE_ACCOUNT_CA_FILE });
    expect(resolveK8sTrust(files({}))).toEqual({ source: 'trust all' });
  });

  it('keeps all certificates of a bundle', () => {
    const trust = resolveK8sTrust(files({ [K8S_CLIENT_TRUST_FILE]: `# bundle\n${pemA}\n${pemB}` }));
    expect(trust.ca?.match(/BEGIN CERTIFICATE/g)).toHaveLength(2);
  });

  it('a present file without a usable certificate is an error naming the file', () => {
    expect(() => resolveK8sTrust(files({ [K8S_CLIENT_TRUST_FILE]: 'garbage' }))).toThrow(K8S_CLIENT_TRUST_FILE);
    const broken = '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n';
    expect(() => resolveK8sTrust(files({ [SERVICE_ACCOUNT_CA_FILE]: broken }))).toThrow(K8sConfigError);
  });
});

describe('pod answers (cluster.md §8)', () => {
  const pod = {
    kind: 'Pod',
    apiVersion: 'v1',
    metadata: { name: 'cf-extserver-a-0', labels: { app: 'cf-extserver', initialDtlsClusterNodes: '3', odd: 5 } },
    status: {
      phase: 'Running',
      podIP: '10.1.0.5',
      podIPs: [{ ip: '10.1.0.5' }, { ip: 'fd00::5' }],
      conditions: [
        { type: 'Initialized', status: 'True' },
        { type: 'Ready', status: 'True' },
      ],
    },
  };

  it('parses a Pod', () => {
    expect(parsePodAnswer(JSON.stringify(pod))).toEqual({
      kind: 'Pod',
      pod: {
        name: 'cf-extserver-a-0',
        labels: { app: 'cf-extserver', initialDtlsClusterNodes: '3' },
        phase: 'Running',
        ip: '10.1.0.5',
        ready: true,
      },
    });
  });

  it('parses a PodList with podIP, podIPs and missing IPs', () => {
    const list = {
      kind: 'PodList',
      items: [
        { metadata: { name: 'p1' }, status: { podIPs: [{}, { ip: 'fd00::1' }, { ip: '10.0.0.1' }] } },
        { metadata: { name: 'p2' }, status: { phase: 'Pending', conditions: [{ type: 'Ready', status: 'False' }] } },
        { metadata: {} },
        'junk',
        { metadata: { name: 'p3', labels: 'no object' }, status: { podIP: '10.0.0.3', conditions: 'no array' } },
      ],
    };
    expect(parsePodAnswer(JSON.stringify(list))).toEqual({
      kind: 'PodList',
      pods: [
        { name: 'p1', labels: {}, phase: undefined, ip: 'fd00::1', ready: false },
        { name: 'p2', labels: {}, phase: 'Pending', ip: undefined, ready: false },
        { name: 'p3', labels: {}, phase: undefined, ip: '10.0.0.3', ready: false },
      ],
    });
    expect(parsePodAnswer('{"kind":"PodList"}')).toEqual({ kind: 'PodList', pods: [] });
  });

  it('malformed answers are K8sApiErrors', () => {
    for (const bad of ['', 'not json', '[]', 'null', '{"kind":"Status"}', '{}', '{"kind":"Pod","metadata":{}}']) {
      expect(() => parsePodAnswer(bad), bad).toThrow(K8sApiError);
    }
  });
});

describe('restore double name (cluster.md §10)', () => {
  it('swaps a and b', () => {
    expect(doubleNameOf('cf-extserver-b-1')).toBe('cf-extserver-a-1');
    expect(doubleNameOf('cf-extserver-a-12')).toBe('cf-extserver-b-12');
    expect(doubleNameOf('x-a-b-0')).toBe('x-a-a-0');
    expect(doubleNameOf('cf-extserver-c-1')).toBeUndefined();
    expect(doubleNameOf('cf-extserver-a-')).toBeUndefined();
    expect(doubleNameOf('a-1')).toBeUndefined();
  });
});

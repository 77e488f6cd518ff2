import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateCertificateChain, type ChainValidationResult } from '../../src/dtls/credentials/chain-validation.js';
import { defaultPkiDir, loadCertificates, loadDemoCredentials } from '../../src/dtls/credentials/demo-pki.js';
import { parseCertificateInfo } from '../../src/dtls/credentials/x509-info.js';

const pki = defaultPkiDir();
const demo = (name: string) => loadCertificates(join(pki, `${name}.pem`));
const { trustAnchors } = loadDemoCredentials();
const DN = '/C=CA/L=Ottawa/O=Eclipse IoT/OU=Californium/CN=';

const EXTENSIONS = `
[leaf]
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
[server_leaf]
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
[no_sign_leaf]
basicConstraints = CA:FALSE
keyUsage = critical, keyAgreement
[ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
[ca_no_certsign]
basicConstraints = critical, CA:TRUE
keyUsage = critical, cRLSign
[odd_critical]
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature
1.2.3.4.5 = critical, ASN1:NULL
`;

let work: string;
let serial = 0;

// Issues a certificate with openssl (`openssl ca` can set explicit dates); returns cert and key paths.
function issue(
  name: string,
  ext: string,
  issuer?: { cert: string; key: string },
  dates: { start?: string; end?: string } = {},
  subject = `${DN}${name}`,
): { cert: string; key: string } {
  const key = join(work, `${name}-key.pem`);
  const cert = join(work, `${name}.pem`);
  const csr = join(work, `${name}.csr`);
  execFileSync('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', key]);
  execFileSync('openssl', ['req', '-new', '-key', key, '-subj', subject, '-out', csr, '-multivalue-rdn']);
  const db = join(work, `db${++serial}`);
  mkdirSync(db);
  writeFileSync(join(db, 'index.txt'), '');
  const config = join(db, 'ca.cnf');
  writeFileSync(
    config,
    `[ca]\ndefault_ca = t\n[t]\ndatabase = ${db}/index.txt\nnew_certs_dir = ${db}\nserial = ${db}/serial\n` +
      `default_md = sha256\npolicy = p\nunique_subject = no\n[p]\ncommonName = optional\n`,
  );
  const issuerArgs = issuer ? ['-cert', issuer.cert, '-keyfile', issuer.key] : ['-selfsign', '-keyfile', key];
  execFileSync(
    'openssl',
    [
      'ca', '-batch', '-config', config, '-in', csr, '-out', cert, ...issuerArgs,
      '-startdate', dates.start ?? '20250101000000Z', '-enddate', dates.end ?? '20341230000000Z',
      '-rand_serial', '-preserveDN', '-notext', '-multivalue-rdn', '-extfile', join(work, 'ext.cnf'), '-extensions', ext,
    ],
    { stdio: 'pipe' },
  );
  return { cert, key };
}

const load = (path: string) => new X509Certificate(readFileSync(path));
const demoCa = { cert: join(pki, 'cf-ca.pem'), key: join(pki, 'cf-ca-key.pem') };
const demoCa2 = { cert: join(pki, 'cf-ca2.pem'), key: join(pki, 'cf-ca2-key.pem') };

function expectFailure(result: ChainValidationResult, reason: string, alert: string): void {
  expect(result.ok).toBe(false);
  if (!result.ok) {
    expect(result.reason).toBe(reason);
    expect(result.alert).toBe(alert);
  }
}

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'chain-'));
  writeFileSync(join(work, 'ext.cnf'), EXTENSIONS);
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('client certificate chain validation', () => {
  it('accepts the demo client chain (with and without root, or leaf only)', () => {
    const [client] = demo('cf-client');
    const full = loadCertificates(join(pki, 'cf-client-chain.pem'));
    for (const chain of [full, full.slice(0, 2), [client!]]) {
      const r = validateCertificateChain(chain, { trustAnchors, usage: 'client' });
      expect(r.ok).toBe(true);
      if (r.ok) {
        expect(r.subject).toBe('CN=cf-client,OU=Californium,O=Eclipse IoT,L=Ottawa,C=CA');
        expect(r.path).toHaveLength(1); // truncated at the first certificate issued by a trust anchor
        expect(r.anchor?.subject).toContain('CN=cf-ca');
        expect(r.publicKey.asymmetricKeyType).toBe('ec');
      }
    }
  });

  it('accepts DER buffers as received on the wire, and the longer serverlarge chain', () => {
    const chain = loadCertificates(join(pki, 'cf-serverlarge-chain.pem')).map((c) => c.raw);
    const r = validateCertificateChain(chain, { trustAnchors, usage: 'server' });
    expect(r.ok && r.subject).toBe('CN=cf-serverlarge,OU=Californium,O=Eclipse IoT,L=Ottawa,C=CA');
    const rsa = validateCertificateChain(loadCertificates(join(pki, 'cf-client-rsa-chain.pem')), { trustAnchors });
    expect(rsa.ok && rsa.publicKey.asymmetricKeyType).toBe('rsa');
  });

  it('validates up to the root when only the root is trusted', () => {
    const rootOnly = demo('cf-root');
    const chain = loadCertificates(join(pki, 'cf-serverlarge-chain.pem'));
    const r = validateCertificateChain(chain, { trustAnchors: rootOnly });
    expect(r.ok && r.path.length).toBe(3);
    // without the intermediates the chain cannot reach the root
    expectFailure(validateCertificateChain(chain.slice(0, 1), { trustAnchors: rootOnly }), 'untrusted', 'unknown_ca');
  });

  it('rejects an empty or unparseable chain', () => {
    expectFailure(validateCertificateChain([], { trustAnchors }), 'empty-chain', 'bad_certificate');
    expectFailure(validateCertificateChain([Buffer.from('3003020101', 'hex')], { trustAnchors }), 'malformed', 'bad_certificate');
  });

  it('rejects a chain whose next certificate is not the issuer', () => {
    const chain = [demo('cf-server')[0]!, demo('cf-ca2')[0]!];
    expectFailure(validateCertificateChain(chain, { trustAnchors }), 'broken-chain', 'bad_certificate');
    expectFailure(validateCertificateChain(chain, { trustAnchors, trustAll: true }), 'broken-chain', 'bad_certificate');
  });

  it('rejects a certificate signed by an impostor CA with the trusted CA name', () => {
    const impostor = issue('impostor-ca', 'ca', undefined, {}, `${DN}cf-ca`);
    const leaf = issue('victim', 'leaf', impostor);
    const chain = [load(leaf.cert), load(impostor.cert)];
    expectFailure(validateCertificateChain(chain, { trustAnchors }), 'bad-signature', 'bad_certificate');
  });

  it('rejects an expired and a not-yet-valid certificate', () => {
    const expired = issue('expired', 'leaf', demoCa, { start: '20200101000000Z', end: '20210101000000Z' });
    expectFailure(validateCertificateChain([load(expired.cert)], { trustAnchors }), 'expired', 'certificate_expired');
    const future = issue('future', 'leaf', demoCa, { start: '20990101000000Z', end: '20991231000000Z' });
    expectFailure(validateCertificateChain([load(future.cert)], { trustAnchors }), 'not-yet-valid', 'certificate_expired');
    // the same expired certificate is fine at a time inside its validity
    expect(validateCertificateChain([load(expired.cert)], { trustAnchors, now: Date.UTC(2020, 5, 1) }).ok).toBe(true);
    // demo chain after its end date
    expectFailure(
      validateCertificateChain(demo('cf-client'), { trustAnchors, now: Date.UTC(2035, 0, 1) }),
      'expired',
      'certificate_expired',
    );
  });

  it('rejects an untrusted root unless trustAll', () => {
    const root = issue('other-root', 'ca');
    const leaf = issue('other-leaf', 'leaf', root);
    const chain = [load(leaf.cert), load(root.cert)];
    expectFailure(validateCertificateChain(chain, { trustAnchors }), 'untrusted', 'unknown_ca');
    const all = validateCertificateChain(chain, { trustAnchors, trustAll: true });
    expect(all.ok && all.subject).toBe('CN=other-leaf,OU=Californium,O=Eclipse IoT,L=Ottawa,C=CA');
    // trustAll still needs self-consistent signatures
    const stranger = issue('stranger-root', 'ca', undefined, {}, `${DN}other-root`);
    expectFailure(
      validateCertificateChain([load(leaf.cert), load(stranger.cert)], { trustAnchors, trustAll: true }),
      'bad-signature',
      'bad_certificate',
    );
    // and valid dates
    const old = issue('old-leaf', 'leaf', root, { start: '20200101000000Z', end: '20210101000000Z' });
    expectFailure(validateCertificateChain([load(old.cert), load(root.cert)], { trustAnchors, trustAll: true }), 'expired', 'certificate_expired');
  });

  it('trustAll accepts a single self-signed certificate and a lone leaf', () => {
    const self = issue('self-signed', 'ca');
    expect(validateCertificateChain([load(self.cert)], { trustAnchors, trustAll: true }).ok).toBe(true);
    expectFailure(validateCertificateChain([load(self.cert)], { trustAnchors }), 'untrusted', 'unknown_ca');
    const lone = issue('lone', 'leaf', issue('unknown-ca', 'ca'));
    expect(validateCertificateChain([load(lone.cert)], { trustAnchors, trustAll: true }).ok).toBe(true);
  });

  it('rejects an issuer that is not a CA or may not sign certificates', () => {
    const client = { cert: join(pki, 'cf-client.pem'), key: join(pki, 'cf-client-key.pem') };
    const leaf = issue('under-client', 'leaf', client);
    expectFailure(
      validateCertificateChain([load(leaf.cert), demo('cf-client')[0]!], { trustAnchors }),
      'issuer-not-ca',
      'bad_certificate',
    );
    const weakCa = issue('weak-ca', 'ca_no_certsign', demoCa);
    const leaf2 = issue('under-weak', 'leaf', weakCa);
    expectFailure(validateCertificateChain([load(leaf2.cert), load(weakCa.cert)], { trustAnchors }), 'key-usage', 'bad_certificate');
  });

  it('enforces path length constraints of chain CAs', () => {
    // cf-ca2 has pathlen 0, so no CA below it
    const sub = issue('sub-ca2', 'ca', demoCa2);
    const leaf = issue('under-sub', 'leaf', sub);
    const chain = [load(leaf.cert), load(sub.cert), ...loadCertificates(join(pki, 'cf-serverlarge-chain.pem')).slice(1)];
    expectFailure(validateCertificateChain(chain, { trustAnchors, trustAll: true }), 'path-length', 'bad_certificate');
    const direct = issue('under-ca2', 'leaf', demoCa2);
    const ok = [load(direct.cert), ...loadCertificates(join(pki, 'cf-serverlarge-chain.pem')).slice(1)];
    expect(validateCertificateChain(ok, { trustAnchors, trustAll: true }).ok).toBe(true);
  });

  it('checks the intended usage of the leaf', () => {
    const serverOnly = issue('server-eku', 'server_leaf', demoCa);
    expectFailure(validateCertificateChain([load(serverOnly.cert)], { trustAnchors, usage: 'client' }), 'key-usage', 'bad_certificate');
    expect(validateCertificateChain([load(serverOnly.cert)], { trustAnchors, usage: 'server' }).ok).toBe(true);
    const noSign = issue('no-sign', 'no_sign_leaf', demoCa);
    expectFailure(validateCertificateChain([load(noSign.cert)], { trustAnchors, usage: 'client' }), 'key-usage', 'bad_certificate');
    // the demo server certificate has no EKU: usable as client certificate (Californium rule)
    expect(validateCertificateChain(demo('cf-server'), { trustAnchors, usage: 'client' }).ok).toBe(true);
  });

  it('rejects unknown critical extensions', () => {
    const odd = issue('odd', 'odd_critical', demoCa);
    expectFailure(
      validateCertificateChain([load(odd.cert)], { trustAnchors }),
      'unsupported-critical-extension',
      'bad_certificate',
    );
  });
});

describe('RFC 2253 names', () => {
  it('escapes special characters like openssl -nameopt RFC2253', () => {
    const c = issue('special', 'leaf', demoCa, {}, '/C=CA/O=Acme\\, Inc./OU=a\\+b;c/CN=\\ lead<x>trail\\ ');
    const info = parseCertificateInfo(load(c.cert).raw);
    expect(info.subject).toBe('CN=\\ lead\\<x\\>trail\\ ,OU=a\\+b\\;c,O=Acme\\, Inc.,C=CA');
    const viaOpenssl = execFileSync('openssl', ['x509', '-in', c.cert, '-noout', '-subject', '-nameopt', 'RFC2253'], {
      encoding: 'utf8',
    }).trim();
    expect(viaOpenssl).toBe(`subject=${info.subject}`);
  });

  it('joins multi-valued RDNs with + in encoding order (as Java; openssl reverses them)', () => {
    const c = issue('multi', 'leaf', demoCa, {}, '/C=CA/CN=dev1+UID=42');
    expect(parseCertificateInfo(load(c.cert).raw).subject).toBe('CN=dev1+UID=42,C=CA');
  });

  it('prints unknown attribute types as OID=#hex', () => {
    const c = issue('email', 'leaf', demoCa, {}, '/CN=x/emailAddress=a@b.c');
    expect(parseCertificateInfo(load(c.cert).raw).subject).toBe('1.2.840.113549.1.9.1=#16056140622e63,CN=x');
  });
});

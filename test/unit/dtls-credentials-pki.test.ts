import { execFileSync } from 'node:child_process';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  DEMO_SERVER_ENTRIES,
  defaultPkiDir,
  loadCertificates,
  loadDemoCredentials,
  loadServerIdentity,
  packageRoot,
} from '../../src/dtls/credentials/demo-pki.js';
import { certificateInfo } from '../../src/dtls/credentials/chain-validation.js';
import { parseRawPublicKey, rawPublicKeyIdentity } from '../../src/dtls/credentials/raw-public-key.js';
import {
  certificateChainForSending,
  keyAlgorithmForCipherSuite,
  selectServerIdentity,
} from '../../src/dtls/credentials/server-identity.js';
import { NamedGroup } from '../../src/dtls/ecdhe.js';

const dir = defaultPkiDir();
const pem = (name: string) => join(dir, `${name}.pem`);
const cert = (name: string) => loadCertificates(pem(name))[0]!;
const openssl = (...args: string[]) => execFileSync('openssl', args, { encoding: 'utf8' }).trim();
const info = (name: string) => certificateInfo(cert(name));

const ALL = [
  'cf-root',
  'cf-ca',
  'cf-ca2',
  'cf-ca-rsa',
  'cf-server',
  'cf-server-rsa',
  'cf-serverlarge',
  'cf-server-ca-rsa',
  'cf-client',
  'cf-client-rsa',
];
const END_ENTITIES = ['cf-server', 'cf-server-rsa', 'cf-serverlarge', 'cf-server-ca-rsa', 'cf-client', 'cf-client-rsa'];
const PREFIX = 'OU=Californium,O=Eclipse IoT,L=Ottawa,C=CA';

describe('demo PKI files', () => {
  it('is found relative to the package root', () => {
    expect(dir).toBe(join(packageRoot(), 'resources', 'pki'));
    expect(JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')).name).toBe('extplugtest');
    expect(existsSync(join(dir, 'README.md'))).toBe(true);
  });

  it.each(ALL)('%s: certificate and PKCS#8 key exist, parse and match', (name) => {
    const c = cert(name);
    const keyPem = readFileSync(join(dir, `${name}-key.pem`), 'utf8');
    expect(keyPem).toMatch(/^-----BEGIN PRIVATE KEY-----/); // PKCS#8, not SEC1/PKCS#1
    expect(c.checkPrivateKey(createPrivateKey(keyPem))).toBe(true);
  });

  it('uses the specified key algorithms', () => {
    const type = (n: string) => cert(n).publicKey.asymmetricKeyType;
    const curve = (n: string) => cert(n).publicKey.asymmetricKeyDetails?.namedCurve;
    for (const n of ['cf-root', 'cf-ca', 'cf-ca2', 'cf-server', 'cf-serverlarge', 'cf-server-ca-rsa', 'cf-client']) {
      expect(type(n)).toBe('ec');
      expect(curve(n)).toBe('prime256v1');
    }
    for (const n of ['cf-server-rsa', 'cf-ca-rsa', 'cf-client-rsa']) {
      expect(type(n)).toBe('rsa');
      expect(cert(n).publicKey.asymmetricKeyDetails?.modulusLength).toBe(2048);
    }
  });

  it('has the DNs in RFC 2253 order, identical to openssl -nameopt RFC2253', () => {
    expect(info('cf-client').subject).toBe('CN=cf-client,OU=Californium,O=Eclipse IoT,L=Ottawa,C=CA');
    expect(info('cf-server').issuer).toBe('CN=cf-ca,OU=Californium,O=Eclipse IoT,L=Ottawa,C=CA');
    for (const name of ALL) {
      const i = info(name);
      expect(i.subject).toBe(`CN=${name},${PREFIX}`);
      expect(openssl('x509', '-in', pem(name), '-noout', '-subject', '-nameopt', 'RFC2253')).toBe(`subject=${i.subject}`);
      expect(openssl('x509', '-in', pem(name), '-noout', '-issuer', '-nameopt', 'RFC2253')).toBe(`issuer=${i.issuer}`);
    }
  });

  it('has the CA structure (flags, path lengths, key usage)', () => {
    expect(info('cf-root').basicConstraints).toEqual({ ca: true });
    expect(info('cf-ca').basicConstraints).toEqual({ ca: true, pathLength: 1 });
    expect(info('cf-ca2').basicConstraints).toEqual({ ca: true, pathLength: 0 });
    expect(info('cf-ca-rsa').basicConstraints?.ca).toBe(true);
    for (const n of ['cf-root', 'cf-ca', 'cf-ca2', 'cf-ca-rsa']) {
      expect([...info(n).keyUsage!].sort()).toEqual(['cRLSign', 'keyCertSign']);
    }
    for (const n of END_ENTITIES) {
      expect(info(n).basicConstraints?.ca ?? false).toBe(false);
      expect([...info(n).keyUsage!]).toEqual(['digitalSignature']);
    }
    expect(info('cf-client').extendedKeyUsage).toEqual(['1.3.6.1.5.5.7.3.2']);
    expect(info('cf-client-rsa').extendedKeyUsage).toEqual(['1.3.6.1.5.5.7.3.2']);
    expect(info('cf-server').extendedKeyUsage).toBeUndefined();
  });

  it('has the issuers of the hierarchy', () => {
    const issuer = (n: string) => info(n).issuer.split(',')[0];
    expect(issuer('cf-root')).toBe('CN=cf-root');
    expect(issuer('cf-ca')).toBe('CN=cf-root');
    expect(issuer('cf-ca-rsa')).toBe('CN=cf-root');
    expect(issuer('cf-ca2')).toBe('CN=cf-ca');
    expect(issuer('cf-server')).toBe('CN=cf-ca');
    expect(issuer('cf-server-rsa')).toBe('CN=cf-ca');
    expect(issuer('cf-client')).toBe('CN=cf-ca');
    expect(issuer('cf-serverlarge')).toBe('CN=cf-ca2');
    expect(issuer('cf-server-ca-rsa')).toBe('CN=cf-ca-rsa');
  });

  it('has the SANs of the spec (node and own parser agree)', () => {
    expect(info('cf-server').subjectAltNames).toEqual([
      { type: 'dns', value: 'my.test.server' },
      { type: 'dns', value: 'californium.eclipseprojects.io' },
      { type: 'dns', value: 'localhost' },
      { type: 'ip', value: '35.185.40.182' },
      { type: 'ip', value: '127.0.0.1' },
      { type: 'ip', value: '::1' },
    ]);
    expect(cert('cf-server').subjectAltName).toContain('DNS:my.test.server');
    expect(cert('cf-server').checkHost('californium.eclipseprojects.io')).toBe('californium.eclipseprojects.io');
    expect(cert('cf-server').checkIP('::1')).toBe('::1');
    expect(cert('cf-server-rsa').checkHost('localhost')).toBe('localhost');
    expect(cert('cf-server-rsa').checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(info('cf-serverlarge').subjectAltNames).toEqual([
      { type: 'ip', value: '127.0.0.1' },
      { type: 'ip', value: '::1' },
    ]);
  });

  it('is valid for about ten years from 2025-01-01', () => {
    for (const name of ALL) {
      const i = info(name);
      expect(i.notBefore.toISOString()).toBe('2025-01-01T00:00:00.000Z');
      expect(i.notAfter.getTime() - i.notBefore.getTime()).toBe(3650 * 86_400_000);
      expect(new Date(cert(name).validTo).getTime()).toBe(i.notAfter.getTime());
    }
  });

  it.each(END_ENTITIES)('%s-chain.pem verifies to cf-root with openssl and node', (name) => {
    const chain = loadCertificates(join(dir, `${name}-chain.pem`));
    expect(chain[0]!.fingerprint256).toBe(cert(name).fingerprint256);
    expect(chain.at(-1)!.fingerprint256).toBe(cert('cf-root').fingerprint256);
    for (let i = 0; i + 1 < chain.length; i++) {
      expect(chain[i]!.checkIssued(chain[i + 1]!)).toBe(true);
      expect(chain[i]!.verify(chain[i + 1]!.publicKey)).toBe(true);
    }
    const untrusted = join(dir, `${name}-chain.pem`);
    expect(openssl('verify', '-CAfile', pem('cf-root'), '-untrusted', untrusted, pem(name))).toBe(`${pem(name)}: OK`);
  });

  it('trust.pem holds the root and the CAs', () => {
    const names = loadCertificates(pem('trust')).map((c) => certificateInfo(c).subject.split(',')[0]);
    expect(names).toEqual(['CN=cf-root', 'CN=cf-ca', 'CN=cf-ca2', 'CN=cf-ca-rsa']);
  });
});

describe('raw public key identities (RFC 7250 / RFC 6920)', () => {
  it('matches a fixed vector', () => {
    const spki = Buffer.from(
      '3059301306072a8648ce3d020106082a8648ce3d03010703420004fea7dfd56916e63f430a181be9f8ce628fe6fc1433ae7cbca4ae9dfd5118b53fee9df53cf863ddde46d0602596c5856a9459ed8acf8474409e229ec5f59f2767',
      'hex',
    );
    expect(rawPublicKeyIdentity(spki)).toBe('ni:///sha-256;s6tJ-D5ACvvIt-IZR_cBqX6RaEoyXOWfFMJbKct3wnM');
    const parsed = parseRawPublicKey(spki);
    expect(parsed.ok && parsed.identity).toBe('ni:///sha-256;s6tJ-D5ACvvIt-IZR_cBqX6RaEoyXOWfFMJbKct3wnM');
  });

  it('matches openssl for the demo server key', () => {
    const spki = execFileSync('openssl', ['pkey', '-in', join(dir, 'cf-server-key.pem'), '-pubout', '-outform', 'DER']);
    const digest = execFileSync('openssl', ['dgst', '-sha256', '-binary'], { input: spki });
    const expected = `ni:///sha-256;${digest.toString('base64').replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')}`;
    const { identities } = loadDemoCredentials();
    expect(identities[0]!.spki).toEqual(spki);
    expect(identities[0]!.rpkIdentity).toBe(expected);
    expect(rawPublicKeyIdentity(cert('cf-server').publicKey)).toBe(expected);
    expect(expected).not.toContain('=');
  });

  it('rejects malformed keys', () => {
    expect(parseRawPublicKey(Buffer.from('3000', 'hex')).ok).toBe(false);
    expect(parseRawPublicKey(Buffer.alloc(0)).ok).toBe(false);
  });
});

describe('server identities', () => {
  const creds = loadDemoCredentials();
  const byAlias = (a: string) => creds.identities.find((i) => i.alias === a)!;

  it('loads the four aliases with key, chain and metadata', () => {
    expect(creds.identities.map((i) => i.alias)).toEqual(DEMO_SERVER_ENTRIES.map((e) => e.alias));
    expect(byAlias('server').subject).toBe(`CN=cf-server,${PREFIX}`);
    expect(byAlias('server').keyAlgorithm).toBe('ec');
    expect(byAlias('server').namedGroup).toBe(NamedGroup.secp256r1);
    expect(byAlias('server').chain).toHaveLength(3);
    expect(byAlias('serverrsa').keyAlgorithm).toBe('rsa');
    expect(byAlias('serverrsa').namedGroup).toBeUndefined();
    expect(byAlias('serverlarge').chain).toHaveLength(4);
    expect(byAlias('servercarsa').subject).toBe(`CN=cf-server-ca-rsa,${PREFIX}`);
    expect(creds.trustAnchors).toHaveLength(4);
  });

  it('refuses a key that does not belong to the certificate', () => {
    expect(() =>
      loadServerIdentity('x', join(dir, 'cf-server-chain.pem'), join(dir, 'cf-client-key.pem')),
    ).toThrow(/does not match/);
  });

  it('maps cipher suites to key algorithms', () => {
    expect(keyAlgorithmForCipherSuite(0xc0ae)).toBe('ec');
    expect(keyAlgorithmForCipherSuite(0xc023)).toBe('ec');
    expect(keyAlgorithmForCipherSuite(0xc02b)).toBe('ec');
    expect(keyAlgorithmForCipherSuite(0xc02f)).toBe('rsa');
    expect(keyAlgorithmForCipherSuite(0xc027)).toBe('rsa');
    expect(keyAlgorithmForCipherSuite(0xc0a8)).toBeUndefined();
    expect(keyAlgorithmForCipherSuite(0xd003)).toBeUndefined();
  });

  it('selects EC for ECDSA suites and RSA for ECDHE_RSA suites', () => {
    const ec = selectServerIdentity(creds.identities, { keyAlgorithm: keyAlgorithmForCipherSuite(0xc02b)! });
    expect(ec?.identity.alias).toBe('server');
    expect(ec?.signatureAlgorithm).toEqual({ hash: 4, signature: 3 });
    const rsa = selectServerIdentity(creds.identities, { keyAlgorithm: keyAlgorithmForCipherSuite(0xc02f)! });
    expect(rsa?.identity.alias).toBe('serverrsa');
    expect(rsa?.signatureAlgorithm).toEqual({ hash: 4, signature: 1 });
  });

  it('follows the client signature algorithms and curves', () => {
    const sha384 = selectServerIdentity(creds.identities, {
      keyAlgorithm: 'ec',
      clientSignatureAlgorithms: [
        { hash: 5, signature: 3 },
        { hash: 4, signature: 3 },
      ],
    });
    expect(sha384?.signatureAlgorithm).toEqual({ hash: 5, signature: 3 });
    // no P-256 in the client's groups: no EC identity fits
    expect(selectServerIdentity(creds.identities, { keyAlgorithm: 'ec', clientGroups: [29, 24] })).toBeUndefined();
    expect(selectServerIdentity(creds.identities, { keyAlgorithm: 'ec', clientGroups: [29, 23] })?.identity.alias).toBe(
      'server',
    );
    // RSA keys do not depend on the curve list
    expect(selectServerIdentity(creds.identities, { keyAlgorithm: 'rsa', clientGroups: [29] })?.identity.alias).toBe(
      'serverrsa',
    );
    // only RSA signatures accepted by the client: no ECDSA identity
    expect(
      selectServerIdentity(creds.identities, { keyAlgorithm: 'ec', clientSignatureAlgorithms: [{ hash: 4, signature: 1 }] }),
    ).toBeUndefined();
    // RSA key, but the chain (cf-ca, ECDSA-signed) needs ecdsa too
    expect(
      selectServerIdentity(creds.identities, { keyAlgorithm: 'rsa', clientSignatureAlgorithms: [{ hash: 4, signature: 1 }] }),
    ).toBeUndefined();
    expect(
      selectServerIdentity(creds.identities, {
        keyAlgorithm: 'rsa',
        clientSignatureAlgorithms: [{ hash: 4, signature: 1 }],
        certificateType: 'rpk',
      })?.identity.alias,
    ).toBe('serverrsa');
  });

  it('checks the signature algorithms of the sent chain for X.509 only', () => {
    const carsa = [byAlias('servercarsa')];
    const ecdsaOnly = [{ hash: 4, signature: 3 }];
    expect(selectServerIdentity(carsa, { keyAlgorithm: 'ec', clientSignatureAlgorithms: ecdsaOnly })).toBeUndefined();
    expect(
      selectServerIdentity(carsa, { keyAlgorithm: 'ec', clientSignatureAlgorithms: ecdsaOnly, certificateType: 'rpk' })
        ?.identity.alias,
    ).toBe('servercarsa');
    expect(
      selectServerIdentity(carsa, {
        keyAlgorithm: 'ec',
        clientSignatureAlgorithms: [...ecdsaOnly, { hash: 4, signature: 1 }],
      })?.identity.alias,
    ).toBe('servercarsa');
  });

  it('drops the self-signed root from the sent chain and truncates at a listed CA', () => {
    const cn = (c: X509Certificate[]) => c.map((x) => certificateInfo(x).subject.split(',')[0]);
    expect(cn(certificateChainForSending(byAlias('server').chain))).toEqual(['CN=cf-server', 'CN=cf-ca']);
    expect(cn(certificateChainForSending(byAlias('serverlarge').chain))).toEqual([
      'CN=cf-serverlarge',
      'CN=cf-ca2',
      'CN=cf-ca',
    ]);
    const caDn = certificateInfo(cert('cf-ca')).subjectDer;
    expect(cn(certificateChainForSending(byAlias('serverlarge').chain, [caDn]))).toEqual([
      'CN=cf-serverlarge',
      'CN=cf-ca2',
    ]);
    const otherDn = certificateInfo(cert('cf-client')).subjectDer;
    expect(cn(certificateChainForSending(byAlias('server').chain, [otherDn]))).toEqual(['CN=cf-server', 'CN=cf-ca']);
    expect(cn(certificateChainForSending([cert('cf-root')]))).toEqual(['CN=cf-root']);
  });
});

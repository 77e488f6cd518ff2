import { execFileSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadDemoCredentials } from '../../src/dtls/credentials/demo-pki.js';
import {
  isSupportedSignatureAlgorithm,
  signatureAlgorithmOfOid,
  signData,
  verifySignature,
} from '../../src/dtls/credentials/signature.js';

const { identities } = loadDemoCredentials();
const ec = identities.find((i) => i.alias === 'server')!;
const rsa = identities.find((i) => i.alias === 'serverrsa')!;
const data = Buffer.from('client_random || server_random || ServerECDHParams');
const ECDSA_SHA256 = { hash: 4, signature: 3 };
const ECDSA_SHA384 = { hash: 5, signature: 3 };
const RSA_SHA256 = { hash: 4, signature: 1 };
const RSA_SHA384 = { hash: 5, signature: 1 };

let work: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'sig-'));
  writeFileSync(join(work, 'data'), data);
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

function opensslSign(keyAlias: string, hash: string): Buffer {
  const key = join(work, `${keyAlias}.pem`);
  const identity = identities.find((i) => i.alias === keyAlias)!;
  writeFileSync(key, identity.privateKey.export({ type: 'pkcs8', format: 'pem' }));
  return execFileSync('openssl', ['dgst', `-${hash}`, '-sign', key, join(work, 'data')]);
}

function opensslVerify(keyAlias: string, hash: string, signature: Buffer): boolean {
  const pub = join(work, `${keyAlias}.pub.pem`);
  const identity = identities.find((i) => i.alias === keyAlias)!;
  writeFileSync(pub, identity.publicKey.export({ type: 'spki', format: 'pem' }));
  writeFileSync(join(work, 'sig'), signature);
  try {
    execFileSync('openssl', ['dgst', `-${hash}`, '-verify', pub, '-signature', join(work, 'sig'), join(work, 'data')], {
      stdio: 'pipe',
    });
    return true;
  } catch {
    return false;
  }
}

describe('TLS signatures', () => {
  it.each([
    ['ecdsa sha256', ECDSA_SHA256, 'server'],
    ['ecdsa sha384', ECDSA_SHA384, 'server'],
    ['rsa sha256', RSA_SHA256, 'serverrsa'],
    ['rsa sha384', RSA_SHA384, 'serverrsa'],
  ])('%s round trip, tamper detection and openssl cross-check', (_name, alg, alias) => {
    const identity = alias === 'server' ? ec : rsa;
    const sig = signData(alg, identity.privateKey, data);
    expect(verifySignature(alg, identity.publicKey, data, sig)).toBe(true);
    const tampered = Buffer.from(data);
    tampered[0]! ^= 1;
    expect(verifySignature(alg, identity.publicKey, tampered, sig)).toBe(false);
    const hash = alg.hash === 4 ? 'sha256' : 'sha384';
    expect(opensslVerify(alias, hash, sig)).toBe(true);
    // the other hash does not verify the same signature
    expect(verifySignature({ ...alg, hash: alg.hash === 4 ? 5 : 4 }, identity.publicKey, data, sig)).toBe(false);
  });

  it('produces DER-encoded ECDSA signatures (Ecdsa-Sig-Value SEQUENCE)', () => {
    const sig = signData(ECDSA_SHA256, ec.privateKey, data);
    expect(sig[0]).toBe(0x30);
    expect(sig[1]).toBe(sig.length - 2);
    expect(sig.length).toBeGreaterThanOrEqual(70);
    expect(sig.length).toBeLessThanOrEqual(72);
    expect(signData(RSA_SHA256, rsa.privateKey, data)).toHaveLength(256);
  });

  it('verifies signatures produced by openssl', () => {
    expect(verifySignature(ECDSA_SHA256, ec.publicKey, data, opensslSign('server', 'sha256'))).toBe(true);
    expect(verifySignature(ECDSA_SHA384, ec.publicKey, data, opensslSign('server', 'sha384'))).toBe(true);
    expect(verifySignature(RSA_SHA256, rsa.publicKey, data, opensslSign('serverrsa', 'sha256'))).toBe(true);
    expect(verifySignature(RSA_SHA384, rsa.publicKey, data, opensslSign('serverrsa', 'sha384'))).toBe(true);
    expect(verifySignature(RSA_SHA256, rsa.publicKey, data, opensslSign('serverrsa', 'sha384'))).toBe(false);
  });

  it('rejects key/algorithm mismatches, unsupported pairs and garbage', () => {
    expect(() => signData(RSA_SHA256, ec.privateKey, data)).toThrow();
    expect(() => signData(ECDSA_SHA256, rsa.privateKey, data)).toThrow();
    expect(() => signData({ hash: 2, signature: 3 }, ec.privateKey, data)).toThrow(); // sha1
    const sig = signData(ECDSA_SHA256, ec.privateKey, data);
    expect(verifySignature(RSA_SHA256, ec.publicKey, data, sig)).toBe(false);
    expect(verifySignature({ hash: 6, signature: 3 }, ec.publicKey, data, sig)).toBe(false);
    expect(verifySignature(ECDSA_SHA256, ec.publicKey, data, Buffer.from([0x30, 0x02, 0x01]))).toBe(false);
    expect(verifySignature(ECDSA_SHA256, ec.publicKey, data, Buffer.alloc(0))).toBe(false);
    const other = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    expect(verifySignature(ECDSA_SHA256, other.publicKey, data, sig)).toBe(false);
    const ed = generateKeyPairSync('ed25519');
    expect(verifySignature({ hash: 8, signature: 7 }, ed.publicKey, data, Buffer.alloc(64))).toBe(false);
  });

  it('knows the supported pairs and certificate signature OIDs', () => {
    expect(isSupportedSignatureAlgorithm(ECDSA_SHA256)).toBe(true);
    expect(isSupportedSignatureAlgorithm(RSA_SHA384)).toBe(true);
    expect(isSupportedSignatureAlgorithm({ hash: 2, signature: 1 })).toBe(false);
    expect(isSupportedSignatureAlgorithm({ hash: 4, signature: 2 })).toBe(false);
    expect(signatureAlgorithmOfOid('1.2.840.10045.4.3.2')).toEqual(ECDSA_SHA256);
    expect(signatureAlgorithmOfOid('1.2.840.113549.1.1.11')).toEqual(RSA_SHA256);
    expect(signatureAlgorithmOfOid('1.2.840.113549.1.1.5')).toBeUndefined(); // sha1WithRSA
  });
});

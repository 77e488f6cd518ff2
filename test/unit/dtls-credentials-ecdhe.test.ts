import { createECDH, createPublicKey, diffieHellman, generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  computePremasterSecret,
  generateEcdheKeyPair,
  isSupportedGroup,
  NamedGroup,
  selectGroup,
  type NamedGroupId,
} from '../../src/dtls/ecdhe.js';

const CASES: [string, NamedGroupId, number, number][] = [
  ['secp256r1', NamedGroup.secp256r1, 65, 32],
  ['secp384r1', NamedGroup.secp384r1, 97, 48],
  ['x25519', NamedGroup.x25519, 32, 32],
  ['x448', NamedGroup.x448, 56, 56],
];

describe('ECDHE key agreement (RFC 8422)', () => {
  it.each(CASES)('%s: both sides agree on the premaster secret', (_name, group, publicLength, secretLength) => {
    const server = generateEcdheKeyPair(group);
    const client = generateEcdheKeyPair(group);
    expect(server.publicPoint).toHaveLength(publicLength);
    if (publicLength === 65 || publicLength === 97) expect(server.publicPoint[0]).toBe(0x04);
    const a = computePremasterSecret(server, client.publicPoint);
    const b = computePremasterSecret(client, server.publicPoint);
    expect(a.ok && b.ok).toBe(true);
    if (a.ok && b.ok) {
      expect(a.premasterSecret).toHaveLength(secretLength);
      expect(a.premasterSecret).toEqual(b.premasterSecret);
    }
    // a fresh pair gives a different secret
    const third = generateEcdheKeyPair(group);
    const c = computePremasterSecret(server, third.publicPoint);
    expect(c.ok && a.ok && c.premasterSecret.equals(a.premasterSecret)).toBe(false);
  });

  it('interoperates with an independent node:crypto peer (KeyObject ECDH)', () => {
    const server = generateEcdheKeyPair(NamedGroup.secp256r1);
    const peer = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const jwk = peer.publicKey.export({ format: 'jwk' });
    const point = Buffer.concat([Buffer.from([4]), Buffer.from(jwk.x!, 'base64url'), Buffer.from(jwk.y!, 'base64url')]);
    const ours = computePremasterSecret(server, point);
    const serverKey = createPublicKey({
      key: {
        kty: 'EC',
        crv: 'P-256',
        x: server.publicPoint.subarray(1, 33).toString('base64url'),
        y: server.publicPoint.subarray(33).toString('base64url'),
      },
      format: 'jwk',
    });
    const theirs = diffieHellman({ privateKey: peer.privateKey, publicKey: serverKey });
    expect(ours.ok && ours.premasterSecret).toEqual(theirs);

    const x = generateEcdheKeyPair(NamedGroup.x25519);
    const xPeer = generateKeyPairSync('x25519');
    const xPoint = Buffer.from(xPeer.publicKey.export({ format: 'jwk' }).x!, 'base64url');
    const xServerKey = createPublicKey({
      key: { kty: 'OKP', crv: 'X25519', x: x.publicPoint.toString('base64url') },
      format: 'jwk',
    });
    const xOurs = computePremasterSecret(x, xPoint);
    expect(xOurs.ok && xOurs.premasterSecret).toEqual(diffieHellman({ privateKey: xPeer.privateKey, publicKey: xServerKey }));
  });

  it.each(CASES)('%s: rejects wrong lengths', (_name, group, publicLength) => {
    const pair = generateEcdheKeyPair(group);
    const good = generateEcdheKeyPair(group).publicPoint;
    expect(computePremasterSecret(pair, good.subarray(0, publicLength - 1)).ok).toBe(false);
    expect(computePremasterSecret(pair, Buffer.concat([good, Buffer.from([0])])).ok).toBe(false);
    expect(computePremasterSecret(pair, Buffer.alloc(0)).ok).toBe(false);
  });

  it('rejects NIST points not on the curve, compressed points and infinity', () => {
    for (const [curve, group] of [
      ['prime256v1', NamedGroup.secp256r1],
      ['secp384r1', NamedGroup.secp384r1],
    ] as const) {
      const pair = generateEcdheKeyPair(group);
      const peer = createECDH(curve);
      const point = peer.generateKeys();
      const offCurve = Buffer.from(point);
      offCurve[offCurve.length - 1]! ^= 1;
      const r = computePremasterSecret(pair, offCurve);
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.reason).toMatch(/invalid public value/);
      // compressed form, padded to the uncompressed length, and with a 0x02 prefix
      const compressed = peer.getPublicKey(undefined, 'compressed');
      expect(computePremasterSecret(pair, Buffer.concat([compressed, Buffer.alloc(point.length - compressed.length)])).ok).toBe(false);
      const wrongPrefix = Buffer.from(point);
      wrongPrefix[0] = 0x02;
      expect(computePremasterSecret(pair, wrongPrefix).ok).toBe(false);
      // hybrid form (0x06/0x07‖X‖Y) has the right length and OpenSSL would accept it; TLS does not
      const hybrid = peer.getPublicKey(undefined, 'hybrid');
      expect(hybrid).toHaveLength(point.length);
      const probe = createECDH(curve);
      probe.generateKeys();
      expect(probe.computeSecret(hybrid)).toEqual(probe.computeSecret(point));
      expect(computePremasterSecret(pair, hybrid).ok).toBe(false);
      expect(computePremasterSecret(pair, Buffer.alloc(point.length)).ok).toBe(false);
      // the untouched point works
      expect(computePremasterSecret(pair, point).ok).toBe(true);
    }
  });

  it('rejects low-order X25519/X448 points (all-zero shared secret)', () => {
    const x25519 = generateEcdheKeyPair(NamedGroup.x25519);
    expect(computePremasterSecret(x25519, Buffer.alloc(32)).ok).toBe(false);
    const one = Buffer.alloc(32);
    one[0] = 1; // u = 1, order 4
    expect(computePremasterSecret(x25519, one).ok).toBe(false);
    const x448 = generateEcdheKeyPair(NamedGroup.x448);
    expect(computePremasterSecret(x448, Buffer.alloc(56)).ok).toBe(false);
  });

  it('selects the group by server preference among the client groups', () => {
    expect(selectGroup(undefined)).toBe(NamedGroup.secp256r1);
    expect(selectGroup([24, 29, 23])).toBe(23);
    expect(selectGroup([24, 30, 29])).toBe(29);
    expect(selectGroup([24, 30])).toBe(30);
    expect(selectGroup([25, 24])).toBe(24);
    expect(selectGroup([25, 26])).toBeUndefined();
    expect(selectGroup([])).toBeUndefined();
    expect(isSupportedGroup(23)).toBe(true);
    expect(isSupportedGroup(25)).toBe(false);
    expect(() => generateEcdheKeyPair(25 as NamedGroupId)).toThrow();
  });
});

import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { hmacSha256, prf, pSha256 } from '../../src/dtls/prf.js';

describe('TLS 1.2 PRF (RFC 5246 §5)', () => {
  it('matches the well-known TLS 1.2 PRF-SHA256 test vector', () => {
    const out = prf(
      Buffer.from('9bbe436ba940f017b17652849a71db35', 'hex'),
      'test label',
      Buffer.from('a0ba9f936cda311827a6f796ffd5198c', 'hex'),
      100,
    );
    expect(out.toString('hex')).toBe(
      'e3f229ba727be17b8d122620557cd453c2aab21d07c3d495329b52d4e61edb5a6b301791e90d35c9c9a46b4e14baf9af0fa022f7077def17abfd3797c0564bab4fbc91666e9def9b97fce34f796789baa48082d122ee42c5a72e5a5110fff70187347b66',
    );
  });

  it('P_SHA256 output is a prefix-consistent stream', () => {
    const secret = Buffer.from('secret');
    const seed = Buffer.from('seed');
    const long = pSha256(secret, seed, 80);
    for (const n of [0, 1, 12, 32, 33, 48, 64, 79]) {
      expect(pSha256(secret, seed, n).equals(long.subarray(0, n))).toBe(true);
    }
    // first block = HMAC(secret, HMAC(secret, seed) ‖ seed)
    const a1 = createHmac('sha256', secret).update(seed).digest();
    const b1 = createHmac('sha256', secret).update(a1).update(seed).digest();
    expect(long.subarray(0, 32).equals(b1)).toBe(true);
  });

  it('hmacSha256 concatenates its parts', () => {
    const key = Buffer.from('k');
    expect(hmacSha256(key, Buffer.from('ab'), Buffer.from('cd')).equals(hmacSha256(key, Buffer.from('abcd')))).toBe(true);
  });
});

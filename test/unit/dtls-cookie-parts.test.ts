import { createHmac, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createCookieGenerator, peerBytes } from '../../src/dtls/cookie.js';

describe('cookie generator: parts and precomputed key', () => {
  it('equals HMAC-SHA256(secret, ip ‖ port ‖ body) and verifies whole or in parts, across one rotation', () => {
    const secret = randomBytes(32);
    let t = 0;
    let secrets = [secret];
    const gen = createCookieGenerator({ now: () => t, newSecret: () => secrets.shift() ?? randomBytes(32) });
    for (const n of [40, 100, 300, 700]) {
      const body = randomBytes(n);
      const cookie = gen.generate('10.1.2.3', 5684, body);
      const expected = createHmac('sha256', secret).update(peerBytes('10.1.2.3', 5684)).update(body).digest();
      expect(cookie.equals(expected)).toBe(true);
      const cut = n >> 1;
      expect(gen.generateParts!('10.1.2.3', 5684, body.subarray(0, cut), body.subarray(cut)).equals(cookie)).toBe(true);
      expect(gen.verify('10.1.2.3', 5684, body, cookie)).toBe(true);
      expect(gen.verifyParts!('10.1.2.3', 5684, body.subarray(0, cut), body.subarray(cut), cookie)).toBe(true);
      expect(gen.verifyParts!('10.1.2.3', 5685, body.subarray(0, cut), body.subarray(cut), cookie)).toBe(false);
      expect(gen.verify('::1', 5684, body, cookie)).toBe(false);
    }
    const body = randomBytes(80);
    const old = gen.generate('10.1.2.3', 5684, body);
    secrets = [];
    t += 60_000; // one rotation: the previous secret still verifies
    expect(gen.verifyParts!('10.1.2.3', 5684, body.subarray(0, 10), body.subarray(10), old)).toBe(true);
    t += 120_000; // two more: gone
    expect(gen.verify('10.1.2.3', 5684, body, old)).toBe(false);
  });
});

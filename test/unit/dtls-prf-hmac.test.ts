import { createHash, createHmac, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { HmacSha256Key } from '../../src/dtls/hmac-sha256.js';
import { prf, prf2, pSha256 } from '../../src/dtls/prf.js';
import { Sha256 } from '../../src/dtls/sha256.js';

/** P_SHA256 straight from RFC 5246 §5 with node's HMAC (the reference). */
function referencePSha256(secret: Buffer, seed: Buffer, length: number): Buffer {
  const blocks: Buffer[] = [];
  let a = seed;
  while (blocks.length * 32 < length) {
    a = createHmac('sha256', secret).update(a).digest();
    blocks.push(createHmac('sha256', secret).update(a).update(seed).digest());
  }
  return Buffer.concat(blocks).subarray(0, length);
}

describe('plain JavaScript HMAC-SHA256 and PRF', () => {
  it('matches createHmac for keys and messages around the block and padding boundaries', () => {
    for (const keyLength of [0, 1, 16, 32, 48, 63, 64, 65, 100, 200]) {
      const key = randomBytes(keyLength);
      const k = new HmacSha256Key(key);
      for (const n of [0, 1, 31, 32, 55, 56, 63, 64, 65, 119, 120, 127, 128, 129, 200, 1000]) {
        const msg = randomBytes(n);
        expect(k.mac(msg).toString('hex')).toBe(createHmac('sha256', key).update(msg).digest('hex'));
      }
    }
  });

  it('P_SHA256 and PRF match the RFC 5246 definition with node HMAC', () => {
    for (const secretLength of [8, 20, 48, 64, 70]) {
      const secret = randomBytes(secretLength);
      for (const seedLength of [0, 13, 32, 45, 64, 77, 100]) {
        const seed = randomBytes(seedLength);
        for (const length of [1, 12, 32, 40, 48, 64, 72, 104]) {
          expect(pSha256(secret, seed, length).equals(referencePSha256(secret, seed, length))).toBe(true);
        }
        const label = 'key expansion';
        const ref = referencePSha256(secret, Buffer.concat([Buffer.from(label, 'latin1'), seed]), 40);
        expect(prf(secret, label, seed, 40).equals(ref)).toBe(true);
        const half = seed.length >> 1;
        expect(prf2(secret, label, seed.subarray(0, half), seed.subarray(half), 40).equals(ref)).toBe(true);
      }
    }
  });

  it('a prepared key gives the same PRF output as the secret bytes, and stays usable for further calls', () => {
    const secret = randomBytes(48);
    const key = new HmacSha256Key(secret);
    const seed = randomBytes(64);
    for (const length of [12, 40, 72]) {
      expect(prf(key, 'key expansion', seed, length).equals(prf(secret, 'key expansion', seed, length))).toBe(true);
      expect(prf2(key, 'client finished', seed.subarray(0, 20), seed.subarray(20), length).equals(prf(secret, 'client finished', seed, length))).toBe(true);
    }
  });
});

describe('plain JavaScript incremental SHA-256', () => {
  it('matches createHash for any split of the input, with digests taken along the way', () => {
    for (const total of [0, 1, 55, 56, 63, 64, 65, 119, 120, 128, 300, 1000]) {
      const data = randomBytes(total);
      for (const step of [1, 7, 12, 63, 64, 65, 200]) {
        const h = new Sha256();
        const ref = createHash('sha256');
        for (let off = 0; off < total; off += step) {
          const part = data.subarray(off, Math.min(total, off + step));
          h.update(part);
          ref.update(part);
          expect(h.digest().toString('hex')).toBe(ref.copy().digest('hex'));
        }
        expect(h.digest().toString('hex')).toBe(createHash('sha256').update(data).digest('hex'));
      }
    }
  });

  it('hashes a part of a buffer given by offset and length', () => {
    const data = randomBytes(200);
    const h = new Sha256();
    h.update(data, 10, 150);
    expect(h.digest().toString('hex')).toBe(createHash('sha256').update(data.subarray(10, 160)).digest('hex'));
  });
});

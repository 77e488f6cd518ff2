import { createCipheriv, createDecipheriv, createSecretKey, randomFillSync, type KeyObject } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import {
  aeadOpen,
  aeadSeal,
  createAeadKey,
  EXPLICIT_NONCE_LENGTH,
  FAST_CCM_DEFAULT_CAPACITY,
  FAST_CCM_MAX_LENGTH,
  fastCcmStats,
  setFastCcmCapacity,
  type AeadKey,
} from '../../src/dtls/aead.js';
import { ccmOpen, ccmSeal, createCcmContext } from '../../src/dtls/ccm.js';
import { mulberry32 } from '../helpers/random.js';

const h = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');
/** Random bytes; not crypto.randomBytes, whose empty buffers make node's own aes-128-ccm throw 'tag not set'. */
const randomBytes = (n: number) => randomFillSync(Buffer.alloc(n));

/** Reference: node's aes-128-ccm (OpenSSL), ciphertext ‖ tag. */
function nodeSeal(key: KeyObject | Buffer, nonce: Buffer, aad: Buffer, pt: Buffer, m: number): Buffer {
  const c = createCipheriv('aes-128-ccm', key, nonce, { authTagLength: m });
  c.setAAD(aad, { plaintextLength: pt.length });
  const ct = c.update(pt);
  c.final();
  return Buffer.concat([ct, c.getAuthTag()]);
}

function nodeOpen(key: KeyObject | Buffer, nonce: Buffer, aad: Buffer, sealed: Buffer, m: number): Buffer | undefined {
  const len = sealed.length - m;
  try {
    const d = createDecipheriv('aes-128-ccm', key, nonce, { authTagLength: m });
    d.setAuthTag(sealed.subarray(len));
    d.setAAD(aad, { plaintextLength: len });
    const pt = d.update(sealed.subarray(0, len));
    d.final();
    return pt;
  } catch {
    return undefined;
  }
}

/** Seals through the record API; returns the fragment (explicit nonce ‖ ciphertext ‖ tag). */
function seal(k: AeadKey, epoch: number, seq: number, aad: Buffer, pt: Buffer): Buffer {
  const out = Buffer.alloc(EXPLICIT_NONCE_LENGTH + pt.length + k.tagLength + 7, 0xee);
  const end = aeadSeal(k, epoch, seq, aad, pt, out, 3);
  expect(end).toBe(3 + EXPLICIT_NONCE_LENGTH + pt.length + k.tagLength);
  expect(out.subarray(end).equals(Buffer.alloc(4, 0xee))).toBe(true);
  return out.subarray(3, end);
}

/** The 12-byte CCM nonce of a record: fixed IV ‖ epoch ‖ seq (RFC 6655 §3). */
function recordNonce(fixedIv: Buffer, epoch: number, seq: number): Buffer {
  const n = Buffer.alloc(12);
  fixedIv.copy(n, 0, 0, 4);
  n.writeUInt16BE(epoch, 4);
  n.writeUIntBE(seq, 6, 6);
  return n;
}

/** A direction with its raw material, for comparison with node. */
interface Dir {
  raw: Buffer;
  iv: Buffer;
  k: AeadKey;
}

function direction(tagLength: number, raw: Buffer = randomBytes(16), iv: Buffer = randomBytes(4)): Dir {
  return { raw, iv, k: createAeadKey('aes-128-ccm', createSecretKey(raw), iv, tagLength) };
}

/** Seals with `d`, compares with node byte for byte, opens with `reader` (default: d) and checks the plaintext. */
function checkRoundTrip(d: Dir, epoch: number, seq: number, aad: Buffer, pt: Buffer, reader: AeadKey = d.k): void {
  const m = d.k.tagLength;
  const nonce = recordNonce(d.iv, epoch, seq);
  const fragment = seal(d.k, epoch, seq, aad, pt);
  const want = nodeSeal(d.raw, nonce, aad, pt, m);
  expect(fragment.subarray(0, EXPLICIT_NONCE_LENGTH).equals(nonce.subarray(4))).toBe(true);
  expect(fragment.subarray(EXPLICIT_NONCE_LENGTH).toString('hex')).toBe(want.toString('hex'));
  const opened = aeadOpen(reader, fragment, aad);
  expect(opened?.toString('hex')).toBe(pt.toString('hex'));
}

let onceSeq = 0;
/** One CCM operation (a seal) on `d`, checked against node. */
function once(d: Dir): void {
  const aad = randomBytes(13);
  const pt = randomBytes(21);
  onceSeq++;
  const fragment = seal(d.k, 1, onceSeq, aad, pt);
  expect(fragment.subarray(EXPLICIT_NONCE_LENGTH).equals(nodeSeal(d.raw, recordNonce(d.iv, 1, onceSeq), aad, pt, d.k.tagLength))).toBe(true);
}

afterEach(() => setFastCcmCapacity(FAST_CCM_DEFAULT_CAPACITY));

describe('CCM construction (ECB keystream + chained CBC-MAC) against published vectors', () => {
  // RFC 3610 §8 packet vectors 1-24: 13-byte nonce (L = 2), M = 8 and 10, the first 8 or 12 bytes are AAD
  const RFC3610: [key: string, nonce: string, pt: string, aad: string, result: string, m: number][] = [
    ['c0c1c2c3c4c5c6c7c8c9cacbcccdcecf', '00000003020100a0a1a2a3a4a5', '08090a0b0c0d0e0f101112131415161718191a1b1c1d1e', '0001020304050607', '588c979a61c663d2f066d0c2c0f989806d5f6b61dac38417e8d12cfdf926e0', 8],
    ['c0c1c2c3c4c5c6c7c8c9cacbcccdcecf', '00000004030201a0a1a2a3a4a5', '08090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f', '0001020304050607', '72c91a36e135f8cf291ca894085c87e3cc15c439c9e43a3ba091d56e10400916', 8],
    ['c0c1c2c3c4c5c6c7c8c9cacbcccdcecf', '00000005040302a0a1a2a3a4a5', '08090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20', '0001020304050607', '51b1e5f44a197d1da46b0f8e2d282ae871e838bb64da8596574adaa76fbd9fb0c5', 8],
    ['c0c1c2c3c4c5c6c7c8c9cacbcccdcecf', '00000006050403a0a1a2a3a4a5', '0c0d0e0f101112131415161718191a1b1c1d1e', '000102030405060708090a0b', 'a28c6865939a9a79faaa5c4c2a9d4a91cdac8c96c861b9c9e61ef1', 8],
    ['c0c1c2c3c4c5c6c7c8c9cacbcccdcecf', '00000007060504a0a1a2a3a4a5', '0c0d0e0f101112131415161718191a1b1c1d1e1f', '000102030405060708090a0b', 'dcf1fb7b5d9e23fb9d4e131253658ad86ebdca3e51e83f077d9c2d93', 8],
    ['c0c1c2c3c4c5c6c7c8c9cacbcccdcecf', '00000008070605a0a1a2a3a4a5', '0c0d0e0f101112131415161718191a1b1c1d1e1f20', '000102030405060708090a0b', '6fc1b011f006568b5171a42d953d469b2570a4bd87405a0443ac91cb94', 8],
    ['c0c1c2c3c4c5c6c7c8c9cacbcccdcecf', '00000009080706a0a1a2a3a4a5', '08090a0b0c0d0e0f101112131415161718191a1b1c1d1e', '0001020304050607', '0135d1b2c95f41d5d1d4fec185d166b8094e999dfed96c048c56602c97acbb7490', 10],
    ['c0c1c2c3c4c5c6c7c8c9cacbcccdcecf', '0000000a090807a0a1a2a3a4a5', '08090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f', '0001020304050607', '7b75399ac0831dd2f0bbd75879a2fd8f6cae6b6cd9b7db24c17b4433f434963f34b4', 10],
    ['c0c1c2c3c4c5c6c7c8c9cacbcccdcecf', '0000000b0a0908a0a1a2a3a4a5', '08090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20', '0001020304050607', '82531a60cc24945a4b8279181ab5c84df21ce7f9b73f42e197ea9c07e56b5eb17e5f4e', 10],
    ['c0c1c2c3c4c5c6c7c8c9cacbcccdcecf', '0000000c0b0a09a0a1a2a3a4a5', '0c0d0e0f101112131415161718191a1b1c1d1e', '000102030405060708090a0b', '07342594157785152b074098330abb141b947b566aa9406b4d999988dd', 10],
    ['c0c1c2c3c4c5c6c7c8c9cacbcccdcecf', '0000000d0c0b0aa0a1a2a3a4a5', '0c0d0e0f101112131415161718191a1b1c1d1e1f', '000102030405060708090a0b', '676bb20380b0e301e8ab79590a396da78b834934f53aa2e9107a8b6c022c', 10],
    ['c0c1c2c3c4c5c6c7c8c9cacbcccdcecf', '0000000e0d0c0ba0a1a2a3a4a5', '0c0d0e0f101112131415161718191a1b1c1d1e1f20', '000102030405060708090a0b', 'c0ffa0d6f05bdb67f24d43a4338d2aa4bed7b20e43cd1aa31662e7ad65d6db', 10],
    ['d7828d13b2b0bdc325a76236df93cc6b', '00412b4ea9cdbe3c9696766cfa', '08e8cf97d820ea258460e96ad9cf5289054d895ceac47c', '0be1a88bace018b1', '4cb97f86a2a4689a877947ab8091ef5386a6ffbdd080f8e78cf7cb0cddd7b3', 8],
    ['d7828d13b2b0bdc325a76236df93cc6b', '0033568ef7b2633c9696766cfa', '9020ea6f91bdd85afa0039ba4baff9bfb79c7028949cd0ec', '63018f76dc8a1bcb', '4ccb1e7ca981befaa0726c55d378061298c85c92814abc33c52ee81d7d77c08a', 8],
    ['d7828d13b2b0bdc325a76236df93cc6b', '00f8b678094e3b3c9696766cfa', 'e88b6a46c78d63e52eb8c546efb5de6f75e9cc0d', '77b60f011c03e1525899bcae', '5545ff1a085ee2efbf52b2e04bee1e2336c73e3f762c0c7744fe7e3c', 8],
    ['d7828d13b2b0bdc325a76236df93cc6b', '00d560912d3f703c9696766cfa', '6435acbafb11a82e2f071d7ca4a5ebd93a803ba87f', 'cd9044d2b71fdb8120ea60c0', '009769ecabdf48625594c59251e6035722675e04c847099e5ae0704551', 8],
    ['d7828d13b2b0bdc325a76236df93cc6b', '0042fff8f1951c3c9696766cfa', '8a19b950bcf71a018e5e6701c91787659809d67dbedd18', 'd85bc7e69f944fb8', 'bc218daa947427b6db386a99ac1aef23ade0b52939cb6a637cf9bec2408897c6ba', 10],
    ['d7828d13b2b0bdc325a76236df93cc6b', '00920f40e56cdc3c9696766cfa', '1761433c37c5a35fc1f39f406302eb907c6163be38c98437', '74a0ebc9069f5b37', '5810e6fd25874022e80361a478e3e9cf484ab04f447efff6f0a477cc2fc9bf548944', 10],
    ['d7828d13b2b0bdc325a76236df93cc6b', '0027ca0c7120bc3c9696766cfa', 'a434a8e58500c6e41530538862d686ea9e81301b5ae4226bfa', '44a3aa3aae6475ca', 'f2beed7bc5098e83feb5b31608f8e29c38819a89c8e776f1544d4151a4ed3a8b87b9ce', 10],
    ['d7828d13b2b0bdc325a76236df93cc6b', '005b8ccbcd9af83c9696766cfa', 'b96b49e21d621741632875db7f6c9243d2d7c2', 'ec46bb63b02520c33c49fd70', '31d750a09da3ed7fddd49a2032aabf17ec8ebf7d22c8088c666be5c197', 10],
    ['d7828d13b2b0bdc325a76236df93cc6b', '003ebe94044b9a3c9696766cfa', 'e2fcfbb880442c731bf95167c8ffd7895e337076', '47a65ac78b3d594227e85e71', 'e882f1dbd38ce3eda7c23f04dd65071eb41342acdf7e00dccec7ae52987d', 10],
    ['d7828d13b2b0bdc325a76236df93cc6b', '008d493b30ae8b3c9696766cfa', 'abf21c0b02feb88f856df4a37381bce3cc128517d4', '6e37a6ef546d955d34ab6059', 'f32905b88a641b04b9c9ffb58cc390900f3da12ab16dce9e82efa16da62059', 10],
  ];

  it('RFC 3610 §8 packet vectors (all in one context, chaining carried across them)', () => {
    const contexts = new Map<string, ReturnType<typeof createCcmContext>>();
    for (const [key, nonce, pt, aad, result, m] of RFC3610) {
      let ctx = contexts.get(key);
      if (ctx === undefined) contexts.set(key, (ctx = createCcmContext(createSecretKey(h(key)))));
      const out = Buffer.alloc(pt.length / 2 + m);
      expect(ccmSeal(ctx, m, h(nonce), h(aad), h(pt), out, 0)).toBe(out.length);
      expect(out.toString('hex')).toBe(result);
      expect(ccmOpen(ctx, m, h(nonce), h(aad), out, 0, pt.length / 2)?.toString('hex')).toBe(pt);
    }
  });

  it('NIST SP 800-38C Appendix C examples 1-4 (example 4: 65,536-byte AAD, six-byte l(a) encoding)', () => {
    const k = createSecretKey(h('404142434445464748494a4b4c4d4e4f'));
    const seq = (from: number, n: number) => Buffer.from(Array.from({ length: n }, (_, i) => (from + i) & 0xff));
    const examples: [nonce: Buffer, aad: Buffer, pt: Buffer, m: number, result: string][] = [
      [seq(0x10, 7), seq(0, 8), seq(0x20, 4), 4, '7162015b4dac255d'],
      [seq(0x10, 8), seq(0, 16), seq(0x20, 16), 6, 'd2a1f0e051ea5f62081a7792073d593d1fc64fbfaccd'],
      [seq(0x10, 12), seq(0, 20), seq(0x20, 24), 8, 'e3b201a9f5b71a7a9b1ceaeccd97e70b6176aad9a4428aa5484392fbc1b09951'],
      [seq(0x10, 13), seq(0, 65536), seq(0x20, 32), 14, '69915dad1e84c6376a68c2967e4dab615ae0fd1faec44cc484828529463ccf72b4ac6bec93e8598e7f0dadbcea5b'],
    ];
    const ctx = createCcmContext(k);
    for (const [nonce, aad, pt, m, result] of examples) {
      const out = Buffer.alloc(pt.length + m);
      ccmSeal(ctx, m, nonce, aad, pt, out, 0);
      expect(out.toString('hex')).toBe(result);
      expect(ccmOpen(ctx, m, nonce, aad, out, 0, pt.length)?.equals(pt)).toBe(true);
      if (nonce.length === 12 && (m === 8 || m === 16)) expect(nodeSeal(k, nonce, aad, pt, m).toString('hex')).toBe(result);
    }
  });

  it('matches node aes-128-ccm for every plaintext length 0..2000, both tag lengths, one long-lived context each', () => {
    for (const m of [8, 16]) {
      const raw = randomBytes(16);
      const ctx = createCcmContext(createSecretKey(raw));
      for (let length = 0; length <= 2000; length++) {
        const nonce = randomBytes(12);
        const aad = randomBytes(length % 3 === 0 ? 13 : length % 3 === 1 ? 29 : length % 300);
        const pt = randomBytes(length);
        const out = Buffer.alloc(length + m);
        ccmSeal(ctx, m, nonce, aad, pt, out, 0);
        expect(out.equals(nodeSeal(raw, nonce, aad, pt, m)), `length ${length}`).toBe(true);
        const framed = Buffer.concat([randomBytes(5), out, randomBytes(3)]);
        expect(ccmOpen(ctx, m, nonce, aad, framed, 5, length)?.equals(pt), `length ${length}`).toBe(true);
      }
    }
  });

  it('rejects parameters outside RFC 3610 instead of producing wrong output', () => {
    const ctx = createCcmContext(createSecretKey(randomBytes(16)));
    const out = Buffer.alloc(64);
    expect(() => ccmSeal(ctx, 7, Buffer.alloc(12), Buffer.alloc(0), Buffer.alloc(4), out, 0)).toThrow(RangeError);
    expect(() => ccmSeal(ctx, 8, Buffer.alloc(14), Buffer.alloc(0), Buffer.alloc(4), out, 0)).toThrow(RangeError);
    expect(ccmOpen(ctx, 18, Buffer.alloc(12), Buffer.alloc(0), out, 0, 4)).toBeUndefined();
    expect(ccmOpen(ctx, 8, Buffer.alloc(12), Buffer.alloc(0), out, 60, 4)).toBeUndefined(); // tag beyond the buffer
  });
});

describe('fast CCM behind aeadSeal/aeadOpen', () => {
  it('matches node aes-128-ccm byte for byte: random keys, nonces, DTLS AADs, plaintext 0..2000, tags 8 and 16', () => {
    const rnd = mulberry32(0xcc8);
    const before = fastCcmStats();
    let cases = 0;
    let long = 0;
    for (const m of [8, 16]) {
      for (let t = 0; t < 1200; t++) {
        const d = direction(m);
        // AAD: 13 bytes (RFC 6347 §4.1.2.1), 23 + CID 0..255 (RFC 9146 §5), or any length up to 300
        const kind = t % 3;
        const aadLength = kind === 0 ? 13 : kind === 1 ? 23 + Math.floor(rnd() * 256) : Math.floor(rnd() * 301);
        const length = t < 40 ? t : t % 7 === 0 ? Math.floor(rnd() * 2001) : Math.floor(rnd() * 200);
        const epoch = Math.floor(rnd() * 0x10000);
        const seq = Math.floor(rnd() * 2 ** 48);
        checkRoundTrip(d, epoch, seq, randomBytes(aadLength), randomBytes(length));
        if (length > FAST_CCM_MAX_LENGTH) long++;
        // and a second record with the same key: the CBC chaining of the first must be cancelled
        checkRoundTrip(d, epoch, seq + 1 < 2 ** 48 ? seq + 1 : 0, randomBytes(aadLength), randomBytes(Math.floor(rnd() * 100)));
        cases += 2;
      }
    }
    // every length 0..2000 once, one long-lived key per tag length
    for (const m of [8, 16]) {
      const d = direction(m);
      for (let length = 0; length <= 2000; length++) checkRoundTrip(d, 1, length, randomBytes(29), randomBytes(length));
      cases += 2001;
    }
    // records longer than FAST_CCM_MAX_LENGTH take the per-record cipher, and so does the first short record of each
    // key (2 × 1200 + 2 keys, admission from the second use); all others the fast path
    const after = fastCcmStats();
    expect(after.fastOps - before.fastOps + after.slowOps - before.slowOps).toBe(2 * cases);
    expect(after.slowOps - before.slowOps).toBe(2 * 2 * (2000 - FAST_CCM_MAX_LENGTH) + 2 * long + 2 * 1200 + 2);
  });

  it('node opens what the fast path sealed and vice versa', () => {
    for (const m of [8, 16]) {
      const d = direction(m);
      for (let i = 0; i < 50; i++) {
        const aad = randomBytes(13);
        const pt = randomBytes(i * 7);
        const nonce = recordNonce(d.iv, 1, i);
        const ours = seal(d.k, 1, i, aad, pt);
        expect(nodeOpen(d.raw, nonce, aad, ours.subarray(EXPLICIT_NONCE_LENGTH), m)?.equals(pt)).toBe(true);
        const theirs = Buffer.concat([nonce.subarray(4), nodeSeal(d.raw, nonce, aad, pt, m)]);
        expect(aeadOpen(d.k, theirs, aad)?.equals(pt)).toBe(true);
      }
    }
  });

  it('detects tampering with tag, ciphertext, AAD and nonce; the key keeps working afterwards', () => {
    for (const m of [8, 16]) {
      const d = direction(m);
      const other = direction(m, d.raw); // same key, different fixed IV
      const aad = randomBytes(29);
      const pt = randomBytes(57);
      const fragment = seal(d.k, 1, 5, aad, pt);
      expect(aeadOpen(d.k, fragment, aad)?.equals(pt)).toBe(true);
      for (let i = 0; i < fragment.length; i++) {
        // explicit nonce (0..7), ciphertext, tag: every byte, every bit position once
        const bad = Buffer.from(fragment);
        bad[i]! ^= 1 << (i % 8);
        expect(aeadOpen(d.k, bad, aad), `byte ${i}`).toBeUndefined();
      }
      for (let i = 0; i < aad.length; i++) {
        const bad = Buffer.from(aad);
        bad[i]! ^= 0x80;
        expect(aeadOpen(d.k, fragment, bad), `aad byte ${i}`).toBeUndefined();
      }
      expect(aeadOpen(d.k, fragment, aad.subarray(0, 28))).toBeUndefined();
      expect(aeadOpen(d.k, fragment.subarray(0, fragment.length - 1), aad)).toBeUndefined();
      expect(aeadOpen(d.k, Buffer.concat([fragment, Buffer.alloc(1)]), aad)).toBeUndefined();
      expect(aeadOpen(d.k, fragment.subarray(0, EXPLICIT_NONCE_LENGTH + m - 1), aad)).toBeUndefined();
      expect(aeadOpen(other.k, fragment, aad)).toBeUndefined(); // fixed IV part of the nonce differs
      // a tag of the other length never verifies
      const wrongM = direction(m === 8 ? 16 : 8, d.raw, d.iv);
      expect(aeadOpen(wrongM.k, fragment, aad)).toBeUndefined();
      // failures leave the chaining consistent
      checkRoundTrip(d, 1, 6, aad, pt);
      checkRoundTrip(other, 1, 6, aad, pt);
    }
  });

  it('serves consecutive sequence numbers from precomputed keystream batches, byte-identical to node', () => {
    const rnd = mulberry32(4242);
    for (const m of [8, 16]) {
      const d = direction(m);
      const reader = direction(m, d.raw, d.iv).k;
      const before = fastCcmStats().fastOps;
      // runs of consecutive numbers (within and across batches), the 32-bit carry, the largest 48-bit numbers,
      // steps back into and before a batch, an epoch change, lengths on both sides of the batched block count
      const runs: [epoch: number, first: number, count: number][] = [
        [1, 0, 40],
        [1, 2 ** 32 - 5, 20],
        [1, 2 ** 48 - 12, 12],
        [1, 30, 3],
        [2, 33, 10],
        [1, 7, 1],
      ];
      for (const [epoch, first, count] of runs) {
        for (let seq = first; seq < first + count; seq++) {
          const length = Math.floor(rnd() * 160);
          checkRoundTrip(d, epoch, seq, randomBytes(13 + (seq % 3) * 10), randomBytes(length), reader);
        }
      }
      expect(fastCcmStats().fastOps - before).toBeGreaterThan(100);
      // a record sealed for a number of the current batch but with another key never opens
      const other = direction(m);
      const fragment = seal(d.k, 1, 8, randomBytes(13), randomBytes(30));
      expect(aeadOpen(other.k, fragment, randomBytes(13))).toBeUndefined();
    }
  });

  it('a forged record on the per-record cipher path is refused without disturbing the stack trace limit', () => {
    setFastCcmCapacity(0);
    const limit = Error.stackTraceLimit;
    for (const algorithm of ['aes-128-ccm', 'aes-128-gcm'] as const) {
      const raw = randomBytes(16);
      const iv = randomBytes(4);
      const writer = createAeadKey(algorithm, raw, iv, 16);
      const reader = createAeadKey(algorithm, raw, iv, 16);
      const aad = randomBytes(13);
      const pt = randomBytes(40);
      const fragment = seal(writer, 1, 5, aad, pt);
      expect(aeadOpen(reader, fragment, aad)?.equals(pt)).toBe(true);
      fragment[fragment.length - 1]! ^= 1;
      expect(aeadOpen(reader, fragment, aad)).toBeUndefined();
      expect(Error.stackTraceLimit).toBe(limit);
    }
  });

  it('an empty plaintext and an empty AAD still authenticate (Adata flag)', () => {
    const d = direction(8);
    checkRoundTrip(d, 0, 0, Buffer.alloc(0), Buffer.alloc(0));
    checkRoundTrip(d, 0, 1, Buffer.alloc(0), randomBytes(33));
    const fragment = seal(d.k, 0, 2, Buffer.alloc(0), Buffer.alloc(0));
    expect(aeadOpen(d.k, fragment, Buffer.alloc(1))).toBeUndefined();
  });

  it('interleaves both directions of one key and many keys (chaining reset per context)', () => {
    const rnd = mulberry32(7);
    const dirs: Dir[] = [];
    for (let i = 0; i < 24; i++) {
      const m = i % 2 === 0 ? 8 : 16;
      const d = direction(m);
      dirs.push(d);
      // the peer's read direction of the same key material: a separate AeadKey with its own contexts
      dirs.push({ raw: d.raw, iv: d.iv, k: createAeadKey('aes-128-ccm', createSecretKey(d.raw), d.iv, m) });
    }
    for (let step = 0; step < 3000; step++) {
      const a = Math.floor(rnd() * dirs.length);
      const d = dirs[a]!;
      const peer = dirs[a ^ 1]!.k; // writer and reader alternate between the two AeadKeys of a pair
      const reader = rnd() < 0.3 ? d.k : peer; // sometimes the same object seals and opens
      const aad = randomBytes(rnd() < 0.5 ? 13 : 29);
      checkRoundTrip(d, 1, step, aad, randomBytes(Math.floor(rnd() * 300)), reader);
    }
  });
});

describe('fast CCM LRU bound and per-record fallback', () => {
  it('never holds more than the bound; evicted and never-promoted keys stay correct', () => {
    setFastCcmCapacity(0); // empty the LRU
    setFastCcmCapacity(3);
    const rnd = mulberry32(42);
    const dirs = Array.from({ length: 10 }, (_, i) => direction(i % 2 === 0 ? 8 : 16));
    const s0 = fastCcmStats();
    for (let step = 0; step < 2000; step++) {
      // skewed access: the first three keys are hot, the rest come and go
      const i = rnd() < 0.7 ? Math.floor(rnd() * 3) : 3 + Math.floor(rnd() * 7);
      checkRoundTrip(dirs[i]!, 1, step, randomBytes(13), randomBytes(Math.floor(rnd() * 120)));
      expect(fastCcmStats().size).toBeLessThanOrEqual(3);
    }
    const s1 = fastCcmStats();
    expect(s1.capacity).toBe(3);
    expect(s1.size).toBe(3);
    expect(s1.slowOps - s0.slowOps).toBeGreaterThan(100); // cold keys took the per-record path
    expect(s1.fastOps - s0.fastOps).toBeGreaterThan(2000); // hot keys the fast one
    expect(s1.evictions - s0.evictions).toBeGreaterThan(0);
    expect(dirs.filter((d) => d.k.ccm !== undefined).length).toBe(3);
  });

  it('admits from the second use while there is room, then only keys used clearly more often than the least recently used one', () => {
    setFastCcmCapacity(0); // empty the LRU
    setFastCcmCapacity(2); // era: 8 operations, counted from here
    const [a, b, c] = [direction(8), direction(8), direction(16)];
    once(a); // op 1: a's first use (a handshake's Finished) → per-record cipher even with room
    expect(a.k.ccm).toBeUndefined();
    expect(fastCcmStats().size).toBe(0);
    once(a); // op 2: second use, room → admitted
    once(b); // op 3
    once(b); // op 4: room → admitted
    for (let i = 0; i < 2; i++) once(b); // ops 5-6: b used 4 times, a (twice) is now the least recently used
    expect(a.k.ccm !== undefined && b.k.ccm !== undefined).toBe(true);
    once(c); // op 7: 1 use, not more than a's 2 + margin 2
    once(c); // op 8: new era, counts halve: c 0 + 1 = 1, a 1
    once(c); // op 9: 2
    once(c); // op 10: 3, not more than a 1 + 2
    expect(c.k.ccm).toBeUndefined();
    once(c); // op 11: c 4 > a 1 + 2 → a evicted, c admitted
    expect(c.k.ccm).toBeDefined();
    expect(a.k.ccm).toBeUndefined();
    expect(b.k.ccm).toBeDefined();
    once(a); // evicted key: per-record path, same bytes
    expect(a.k.ccm).toBeUndefined();
    expect(fastCcmStats().size).toBe(2);
  });

  it('rate-limits promotions while more directions are busy than slots, and lets a new hot set in', () => {
    setFastCcmCapacity(0);
    setFastCcmCapacity(4);
    const rnd = mulberry32(99);
    const crowd = Array.from({ length: 64 }, () => direction(8));
    const s0 = fastCcmStats();
    for (let i = 0; i < 4000; i++) once(crowd[Math.floor(rnd() * crowd.length)]!);
    const s1 = fastCcmStats();
    // equally busy keys seldom beat the victim by the margin, and never more often than once per 64 operations
    expect(s1.promotions - s0.promotions).toBeLessThanOrEqual(4 + 4000 / 64);
    // a new hot set of 4 directions replaces the crowd within a few hundred operations
    const hot = Array.from({ length: 4 }, () => direction(16));
    let ops = 0;
    while (hot.some((d) => d.k.ccm === undefined) && ops < 2000) once(hot[ops++ % 4]!);
    expect(hot.every((d) => d.k.ccm !== undefined)).toBe(true);
    expect(ops).toBeLessThanOrEqual(5 * 64);
    expect(crowd.every((d) => d.k.ccm === undefined)).toBe(true);
  });

  it('capacity 0 uses only per-record ciphers; shrinking evicts; growing re-admits', () => {
    const d = direction(8);
    checkRoundTrip(d, 1, 1, randomBytes(13), randomBytes(40));
    expect(d.k.ccm).toBeDefined();
    setFastCcmCapacity(0);
    expect(fastCcmStats().size).toBe(0);
    expect(d.k.ccm).toBeUndefined();
    const s0 = fastCcmStats();
    for (let i = 0; i < 20; i++) checkRoundTrip(d, 1, 2 + i, randomBytes(29), randomBytes(i * 13));
    expect(fastCcmStats().slowOps - s0.slowOps).toBe(40);
    expect(fastCcmStats().fastOps).toBe(s0.fastOps);
    setFastCcmCapacity(1);
    checkRoundTrip(d, 1, 30, randomBytes(13), randomBytes(40));
    expect(d.k.ccm).toBeDefined();
    expect(() => setFastCcmCapacity(-1)).toThrow(RangeError);
  });

  it('GCM keys never enter the CCM LRU', () => {
    const s0 = fastCcmStats();
    const raw = randomBytes(16);
    const k = createAeadKey('aes-128-gcm', createSecretKey(raw), randomBytes(4), 16);
    const out = Buffer.alloc(64);
    const end = aeadSeal(k, 1, 1, Buffer.alloc(13), Buffer.from('hello'), out, 0);
    expect(aeadOpen(k, out.subarray(0, end), Buffer.alloc(13))?.toString()).toBe('hello');
    expect(k.ccm).toBeUndefined();
    expect(fastCcmStats()).toEqual(s0);
  });
});

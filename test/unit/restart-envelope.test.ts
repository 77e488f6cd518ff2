// The encryption envelope of the restart state (restart.md §4).
import { createCipheriv, createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { CIPHERS, EnvelopeError, deriveKey, openEnvelope, sealEnvelope } from '../../src/restart/envelope.js';

const PLAIN = Buffer.from('the plain components stream \u0000\u0001\u0002 with secrets', 'utf8');
const PW = Buffer.from('sesame');

/** A wrong CBC key fails the padding check except by chance (~1/256): then the output is garbage. */
function wrongPasswordFails(sealed: Buffer, password: Buffer): boolean {
  try {
    return !openEnvelope(sealed, password).equals(PLAIN);
  } catch (err) {
    return err instanceof EnvelopeError;
  }
}

/** Independent P_SHA256 as restart.md §4 writes it: A(0) = label ‖ seed, output = HMAC(A(i) ‖ label ‖ seed) .... */
function expansion(secret: Buffer, seed: Buffer, n: number): Buffer {
  const labelSeed = Buffer.concat([Buffer.from('key expansion'), seed]);
  const blocks: Buffer[] = [];
  let a = labelSeed;
  for (let i = 0; i < 4 && Buffer.concat(blocks).length < n; i++) {
    a = createHmac('sha256', secret).update(a).digest();
    blocks.push(createHmac('sha256', secret).update(a).update(labelSeed).digest());
  }
  return Buffer.concat(blocks).subarray(0, n);
}

describe('restart envelope', () => {
  it('no password: 0x00 followed by the plain stream', () => {
    const sealed = sealEnvelope(PLAIN, undefined);
    expect(sealed[0]).toBe(0);
    expect(sealed.subarray(1)).toEqual(PLAIN);
    expect(openEnvelope(sealed, undefined)).toEqual(PLAIN);
    expect(openEnvelope(sealed, PW)).toEqual(PLAIN);
  });

  it('key derivation: first key bytes = key, next 16 = IV (TLS 1.2 P_SHA256, label "key expansion")', () => {
    const seed = Buffer.alloc(16, 7);
    const out = expansion(PW, seed, 48);
    expect(deriveKey(PW, seed, 16)).toEqual({ key: out.subarray(0, 16), iv: out.subarray(16, 32) });
    expect(deriveKey(PW, seed, 32)).toEqual({ key: out.subarray(0, 32), iv: out.subarray(32, 48) });
  });

  it('with password: writes 0x0201 (AES-128-CBC), seed length 16, a fresh random seed', () => {
    const a = sealEnvelope(PLAIN, PW);
    const b = sealEnvelope(PLAIN, PW);
    expect(a.readUInt16BE(0)).toBe(0x0201);
    expect(a[2]).toBe(16);
    expect(a.subarray(3, 19)).not.toEqual(b.subarray(3, 19));
    expect(a.includes(PLAIN.subarray(0, 12))).toBe(false);
    // decrypt independently of the module
    const seed = a.subarray(3, 19);
    const out = expansion(PW, seed, 32);
    const expected = createCipheriv('aes-128-cbc', out.subarray(0, 16), out.subarray(16, 32));
    expect(a.subarray(19)).toEqual(Buffer.concat([expected.update(PLAIN), expected.final()]));
    expect(openEnvelope(a, PW)).toEqual(PLAIN);
  });

  it.each([...CIPHERS.keys()].map((id) => [`0x${id.toString(16).padStart(4, '0')}`, id]))('reads cipher id %s', (_name, id) => {
    const sealed = sealEnvelope(PLAIN, PW, id);
    expect(sealed.readUInt16BE(0)).toBe(id);
    expect(openEnvelope(sealed, PW)).toEqual(PLAIN);
    expect(wrongPasswordFails(sealed, Buffer.from('wrong'))).toBe(true);
    if (CIPHERS.get(id)!.gcm) expect(() => openEnvelope(sealed, Buffer.from('wrong'))).toThrow(/decryption failed/);
  });

  it('GCM: 128-bit tag appended, a flipped bit fails authentication', () => {
    const sealed = sealEnvelope(PLAIN, PW, 0x0301);
    expect(sealed.length).toBe(3 + 16 + PLAIN.length + 16);
    sealed[25]! ^= 1;
    expect(() => openEnvelope(sealed, PW)).toThrow(/decryption failed/);
  });

  it('legacy layout: first byte 0x10, 16 seed bytes, AES-128-CBC', () => {
    const seed = Buffer.alloc(16, 0xab);
    const { key, iv } = deriveKey(PW, seed, 16);
    const c = createCipheriv('aes-128-cbc', key, iv);
    const legacy = Buffer.concat([Buffer.from([0x10]), seed, c.update(PLAIN), c.final()]);
    expect(openEnvelope(legacy, PW)).toEqual(PLAIN);
  });

  it('missing password, wrong password, unknown id, truncated data: EnvelopeError, nothing returned', () => {
    const sealed = sealEnvelope(PLAIN, PW);
    expect(() => openEnvelope(sealed, undefined)).toThrow('missing password!');
    expect(wrongPasswordFails(sealed, Buffer.from('sesame '))).toBe(true);
    const unknown = Buffer.from(sealed);
    unknown.writeUInt16BE(0xf001, 0);
    expect(() => openEnvelope(unknown, PW)).toThrow('unknown cipher id 0xf001');
    expect(() => openEnvelope(Buffer.alloc(0), PW)).toThrow(EnvelopeError);
    expect(() => openEnvelope(sealed.subarray(0, 10), PW)).toThrow(EnvelopeError);
    expect(() => openEnvelope(sealed.subarray(0, sealed.length - 3), PW)).toThrow(EnvelopeError);
    expect(() => sealEnvelope(PLAIN, PW, 0x9999)).toThrow(EnvelopeError);
  });
});

// AES-CCM-16-64-128 of OSCORE (RFC 8152 §10.2) on the reused-context CCM of src/dtls/ccm.ts: the same bytes as
// node's own aes-128-ccm for random keys, nonces, AADs and plaintexts, and a tampered message refused.
import { createCipheriv, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { aeadDecrypt, aeadEncrypt } from '../../src/oscore/cose.js';

function nodeCcm(key: Buffer, nonce: Buffer, aad: Buffer, plaintext: Buffer): Buffer {
  const c = createCipheriv('aes-128-ccm', key, nonce, { authTagLength: 8 });
  c.setAAD(aad, { plaintextLength: plaintext.length });
  const ct = c.update(plaintext);
  c.final();
  return Buffer.concat([ct, c.getAuthTag()]);
}

describe('OSCORE AEAD (AES-CCM-16-64-128)', () => {
  it('matches node aes-128-ccm byte for byte and opens what it sealed, with one key used for many messages', () => {
    const keys = [randomBytes(16), randomBytes(16)];
    for (let i = 0; i < 300; i++) {
      const key = keys[i % 2]!;
      const nonce = randomBytes(13);
      const aad = randomBytes(i % 40);
      const plaintext = randomBytes(1 + ((i * 7) % 1200));
      const sealed = aeadEncrypt(key, nonce, aad, plaintext);
      expect(sealed.equals(nodeCcm(key, nonce, aad, plaintext))).toBe(true);
      expect(aeadDecrypt(key, nonce, aad, sealed)?.equals(plaintext)).toBe(true);
    }
  });

  it('refuses a flipped ciphertext, tag or AAD bit, a wrong nonce and a message shorter than the tag', () => {
    const key = randomBytes(16);
    const nonce = randomBytes(13);
    const aad = Buffer.from('83684563727970743040', 'hex');
    const sealed = aeadEncrypt(key, nonce, aad, Buffer.from('hello oscore'));
    for (const at of [0, 5, sealed.length - 1]) {
      const bad = Buffer.from(sealed);
      bad[at]! ^= 1;
      expect(aeadDecrypt(key, nonce, aad, bad)).toBeUndefined();
    }
    const badAad = Buffer.from(aad);
    badAad[2]! ^= 0x80;
    expect(aeadDecrypt(key, nonce, badAad, sealed)).toBeUndefined();
    const badNonce = Buffer.from(nonce);
    badNonce[12]! ^= 1;
    expect(aeadDecrypt(key, badNonce, aad, sealed)).toBeUndefined();
    expect(aeadDecrypt(key, nonce, aad, sealed.subarray(0, 7))).toBeUndefined();
    // the good message still opens afterwards (no state left behind by the refusals)
    expect(aeadDecrypt(key, nonce, aad, sealed)?.toString()).toBe('hello oscore');
  });
});

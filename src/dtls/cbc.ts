// AES-128-CBC with HMAC-SHA256, MAC-then-encrypt (RFC 5246 §6.2.3.2, RFC 6347 §4.1.2.1);
// for tls12_cid records the MAC input prefix is the RFC 9146 §5 one (built by the caller).
import { createCipheriv, createDecipheriv, createHmac, timingSafeEqual, type KeyObject } from 'node:crypto';

/** AES block size = record IV length for CBC suites. */
export const CBC_BLOCK_LENGTH = 16;
/** HMAC-SHA256 output length. */
export const CBC_MAC_LENGTH = 32;

/** One direction's CBC state: the direction's keys (DirectionKeys, read per record) or raw keys / key objects. */
export interface CbcKey {
  key: Buffer | KeyObject;
  macKey: Buffer | KeyObject;
}

/** Fragment length for a plaintext of `length` bytes: IV + blocks(plaintext + MAC + padding + padding length). */
export function cbcFragmentLength(length: number): number {
  const data = length + CBC_MAC_LENGTH + 1;
  return CBC_BLOCK_LENGTH + Math.ceil(data / CBC_BLOCK_LENGTH) * CBC_BLOCK_LENGTH;
}

/**
 * Writes IV ‖ AES-CBC(plaintext ‖ HMAC(prefix ‖ plaintext) ‖ padding) into `out` at `pos`, the IV taken from
 * `iv` (16 bytes). `prefix` is the MAC input prefix ending with uint16(plaintext length). Returns the end position.
 */
export function cbcSeal(k: CbcKey, prefix: Buffer, plaintext: Buffer, iv: Buffer, out: Buffer, pos: number): number {
  const mac = createHmac('sha256', k.macKey).update(prefix).update(plaintext).digest();
  const total = cbcFragmentLength(plaintext.length) - CBC_BLOCK_LENGTH;
  const padLength = total - plaintext.length - CBC_MAC_LENGTH - 1;
  const block = Buffer.allocUnsafe(total);
  plaintext.copy(block, 0);
  mac.copy(block, plaintext.length);
  block.fill(padLength, plaintext.length + CBC_MAC_LENGTH);
  pos += iv.copy(out, pos, 0, CBC_BLOCK_LENGTH);
  const cipher = createCipheriv('aes-128-cbc', k.key, iv.subarray(0, CBC_BLOCK_LENGTH)).setAutoPadding(false);
  pos += cipher.update(block).copy(out, pos);
  pos += cipher.final().copy(out, pos);
  return pos;
}

/**
 * Decrypts and verifies a CBC fragment. `prefix` is the MAC input prefix whose last two bytes (the plaintext
 * length) are filled in here. Padding and MAC are always both checked, the MAC with timingSafeEqual.
 * Returns the plaintext (view) or undefined (never throws).
 */
export function cbcOpen(k: CbcKey, fragment: Buffer, prefix: Buffer): Buffer | undefined {
  const ctLength = fragment.length - CBC_BLOCK_LENGTH;
  if (ctLength < CBC_MAC_LENGTH + CBC_BLOCK_LENGTH || ctLength % CBC_BLOCK_LENGTH !== 0) return undefined;
  let data: Buffer;
  try {
    // without padding and with block-aligned input this does not throw (the keys were checked when prepared)
    const decipher = createDecipheriv('aes-128-cbc', k.key, fragment.subarray(0, CBC_BLOCK_LENGTH)).setAutoPadding(false);
    data = decipher.update(fragment.subarray(CBC_BLOCK_LENGTH));
    const rest = decipher.final();
    if (rest.length > 0) data = Buffer.concat([data, rest]);
  } catch {
    return undefined;
  }
  const n = data.length;
  let padLength = data[n - 1]!;
  // padding check without early exit (RFC 5246 §6.2.3.2 implementation note)
  let good = padLength + 1 + CBC_MAC_LENGTH <= n ? 1 : 0;
  const checked = Math.min(256, n);
  for (let i = 1; i <= checked; i++) {
    const inPadding = i <= padLength + 1 ? 1 : 0;
    const mismatch = data[n - i] !== padLength ? 1 : 0;
    good &= ~(inPadding & mismatch) & 1;
  }
  if (good === 0) padLength = 0; // still compute a MAC over a plausible length
  const contentLength = n - padLength - 1 - CBC_MAC_LENGTH;
  if (contentLength < 0) return undefined; // unreachable: n ≥ 48
  prefix.writeUInt16BE(contentLength, prefix.length - 2);
  const content = data.subarray(0, contentLength);
  const expected = createHmac('sha256', k.macKey).update(prefix).update(content).digest();
  const macOk = timingSafeEqual(expected, data.subarray(contentLength, contentLength + CBC_MAC_LENGTH));
  return macOk && good === 1 ? content : undefined;
}

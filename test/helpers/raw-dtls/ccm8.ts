// Raw AES-128-CCM_8 record protection for tests (RFC 6655 §3, RFC 5246 §6.2.3.3 AEAD): nonce =
// write_IV(4) ‖ explicit nonce(8) = epoch ‖ seq; fragment = explicit nonce ‖ ciphertext ‖ tag(8).
// AAD without CID: seq_num(epoch ‖ seq) ‖ type ‖ version ‖ length (RFC 5246 §6.2.3.3, RFC 6347 §4.1.2.1);
// tls12_cid records (RFC 9146 §5): 8 × 0xff ‖ 25 ‖ cid_length ‖ 25 ‖ version ‖ epoch ‖ seq ‖ cid ‖ length
// of the DTLSInnerPlaintext (content ‖ real type ‖ zeros). Independent of src/.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { ContentType, DTLS_1_2, encodeRecord, epochSeq, type WireRecord } from './record.js';

const TAG = 8;
const EXPLICIT = 8;

/** Key and implicit IV of one direction. */
export interface WriteState {
  key: Buffer;
  iv: Buffer;
}

/** One record to protect; with a non-empty `cid` it becomes a tls12_cid record (RFC 9146 §4). */
export interface SealInput {
  type: number;
  epoch: number;
  seq: number;
  content: Buffer;
  cid?: Buffer;
  version?: number;
}

/** The additional data of a record (RFC 5246 §6.2.3.3 / RFC 9146 §5); `length` = plaintext length. */
export function additionalData(type: number, version: number, epoch: number, seq: number, length: number, cid?: Buffer): Buffer {
  const len = Buffer.alloc(2);
  len.writeUInt16BE(length);
  const ver = Buffer.alloc(2);
  ver.writeUInt16BE(version);
  if (cid === undefined || cid.length === 0) return Buffer.concat([epochSeq(epoch, seq), Buffer.from([type]), ver, len]);
  const es = epochSeq(epoch, seq);
  return Buffer.concat([
    Buffer.alloc(8, 0xff),
    Buffer.from([ContentType.TLS12_CID, cid.length, ContentType.TLS12_CID]),
    ver,
    es,
    cid,
    len,
  ]);
}

/** The nonce of a record: implicit IV ‖ explicit nonce (RFC 6655 §3). */
export function nonceOf(iv: Buffer, explicit: Buffer): Buffer {
  return Buffer.concat([iv, explicit]);
}

/** Encrypts and authenticates: the whole record (header included) as sent. */
export function sealRecord(w: WriteState, r: SealInput): Buffer {
  const version = r.version ?? DTLS_1_2;
  const withCid = r.cid !== undefined && r.cid.length > 0;
  const plaintext = withCid ? Buffer.concat([r.content, Buffer.from([r.type])]) : r.content;
  const outerType = withCid ? ContentType.TLS12_CID : r.type;
  const explicit = epochSeq(r.epoch, r.seq);
  const aad = additionalData(outerType, version, r.epoch, r.seq, plaintext.length, withCid ? r.cid : undefined);
  const cipher = createCipheriv('aes-128-ccm', w.key, nonceOf(w.iv, explicit), { authTagLength: TAG });
  cipher.setAAD(aad, { plaintextLength: plaintext.length });
  const ct = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  const fragment = Buffer.concat([explicit, ct, cipher.getAuthTag()]);
  return encodeRecord({ type: outerType, version, epoch: r.epoch, seq: r.seq, fragment, ...(withCid ? { cid: r.cid } : {}) });
}

/**
 * A record that looks protected but carries a random ciphertext and tag (a forged MAC): `length` bytes of
 * "plaintext". Needs no keys.
 */
export function forgedRecord(r: { type: number; epoch: number; seq: number; length: number; cid?: Buffer }): Buffer {
  const withCid = r.cid !== undefined && r.cid.length > 0;
  const fragment = Buffer.concat([epochSeq(r.epoch, r.seq), randomBytes(r.length + (withCid ? 1 : 0) + TAG)]);
  return encodeRecord({ type: withCid ? ContentType.TLS12_CID : r.type, epoch: r.epoch, seq: r.seq, fragment, ...(withCid ? { cid: r.cid } : {}) });
}

/** Decrypts a protected record; undefined if it does not authenticate. Returns the real type and content. */
export function openRecord(w: WriteState, rec: WireRecord): { type: number; content: Buffer } | undefined {
  if (rec.fragment.length < EXPLICIT + TAG) return undefined;
  const explicit = rec.fragment.subarray(0, EXPLICIT);
  const ct = rec.fragment.subarray(EXPLICIT, rec.fragment.length - TAG);
  const tag = rec.fragment.subarray(rec.fragment.length - TAG);
  const withCid = rec.type === ContentType.TLS12_CID;
  const aad = additionalData(rec.type, rec.version, rec.epoch, rec.seq, ct.length, withCid ? rec.cid : undefined);
  let plain: Buffer;
  try {
    const d = createDecipheriv('aes-128-ccm', w.key, nonceOf(w.iv, explicit), { authTagLength: TAG });
    d.setAuthTag(tag);
    d.setAAD(aad, { plaintextLength: ct.length });
    plain = Buffer.concat([d.update(ct), d.final()]);
  } catch {
    return undefined;
  }
  if (!withCid) return { type: rec.type, content: plain };
  // DTLSInnerPlaintext: content ‖ real type ‖ zeros (RFC 9146 §4)
  let end = plain.length - 1;
  while (end >= 0 && plain[end] === 0) end--;
  if (end < 0) return undefined;
  return { type: plain[end]!, content: plain.subarray(0, end) };
}

// Per-epoch record protection (RFC 6347 §4.1.2, RFC 5246 §6.2.3) with RFC 9146 §5 CID records:
// key objects are prepared once per epoch; encrypt/decrypt never throw on peer input.
import { createSecretKey, randomFillSync } from 'node:crypto';
import { aeadOpen, aeadSeal, createAeadKey, EXPLICIT_NONCE_LENGTH, type AeadKey } from './aead.js';
import { cbcFragmentLength, cbcOpen, cbcSeal, type CbcKey } from './cbc.js';
import { cipherSuiteByCode, type CipherSuite } from './cipher-suites.js';
import { epochKeysToJson, type DirectionKeys, type EpochKeys, type EpochKeysJson } from './keys.js';
import { ContentType, DTLS_1_2, RECORD_HEADER_LENGTH, writeRecordHeader } from './record.js';

const TWO_POW_32 = 2 ** 32;
/** Fixed part of the RFC 9146 §5 additional data before the CID: 8×ff, 25, cid_len, 25, version, epoch, seq. */
const CID_AAD_FIXED = 8 + 1 + 1 + 1 + 2 + 2 + 6;
/** Length of the RFC 5246/6347 additional data: epoch, seq, type, version, length. */
export const PLAIN_AAD_LENGTH = 13;

/** Header fields and fragment of a received record (a DtlsRecord from record.ts fits). */
export interface ProtectedRecord {
  /** outer content type (25 = tls12_cid) */
  type: number;
  version: number;
  epoch: number;
  seq: number;
  cid: Buffer | undefined;
  fragment: Buffer;
}

/** Result of a successful decryption. */
export interface DecryptedRecord {
  /** real content type (for tls12_cid records the one from DTLSInnerPlaintext) */
  type: number;
  /** record content without inner type and padding */
  plaintext: Buffer;
}

/** Protection of one epoch, both directions, from the local side's point of view. */
export interface RecordProtection {
  readonly suite: CipherSuite;
  readonly epoch: number;
  /** the plain key data this object was built from (serialize with toJSON) */
  readonly keys: EpochKeys;
  /**
   * Protects `plaintext` of content `type` and returns only the record fragment. With a non-empty `cid` the
   * record is a tls12_cid record: DTLSInnerPlaintext = plaintext ‖ type ‖ `padding` zero bytes (RFC 9146 §4).
   */
  encrypt(type: number, epoch: number, seq: number, plaintext: Buffer, cid?: Buffer, padding?: number): Buffer;
  /** Like encrypt, but returns the complete record (header ‖ fragment) in one buffer. */
  encryptRecord(type: number, epoch: number, seq: number, plaintext: Buffer, cid?: Buffer, padding?: number): Buffer;
  /** Size of the complete record encryptRecord produces. */
  recordLength(plaintextLength: number, cidLength?: number, padding?: number): number;
  /** Authenticates and decrypts a record; undefined on any failure (wrong epoch, tag/MAC, all-zero inner plaintext). */
  decrypt(record: ProtectedRecord): DecryptedRecord | undefined;
  /** JSON form of the key data (graceful restart); rebuild with createRecordProtection(epochKeysFromJson(json)). */
  toJSON(): EpochKeysJson;
}

/** Options for createRecordProtection. */
export interface RecordProtectionOptions {
  /** fills a 16-byte CBC record IV; default crypto.randomFillSync (tests inject captured IVs) */
  cbcIv?: (iv: Buffer) => void;
}

/** Length of the AEAD additional data / CBC MAC input prefix for a CID of `cidLength` (0 → plain). */
export function additionalDataLength(cidLength: number): number {
  return cidLength > 0 ? CID_AAD_FIXED + cidLength + 2 : PLAIN_AAD_LENGTH;
}

/**
 * Writes the AEAD additional data (= CBC MAC input prefix) into `out` at 0 and returns its length.
 * Without CID: epoch ‖ seq ‖ type ‖ version ‖ uint16(length) (RFC 5246 §6.2.3.3, RFC 6347 §4.1.2.1).
 * With CID: ff×8 ‖ 25 ‖ cid_len ‖ 25 ‖ version ‖ epoch ‖ seq ‖ cid ‖ uint16(inner plaintext length) (RFC 9146 §5).
 */
export function writeAdditionalData(
  out: Buffer,
  type: number,
  version: number,
  epoch: number,
  seq: number,
  cid: Buffer | undefined,
  length: number,
): number {
  const seqHi = Math.floor(seq / TWO_POW_32);
  const seqLo = seq >>> 0;
  if (cid !== undefined && cid.length > 0) {
    out.fill(0xff, 0, 8);
    out[8] = ContentType.TLS12_CID;
    out[9] = cid.length;
    out[10] = ContentType.TLS12_CID;
    out.writeUInt16BE(version, 11);
    out.writeUInt16BE(epoch, 13);
    out.writeUInt16BE(seqHi, 15);
    out.writeUInt32BE(seqLo, 17);
    cid.copy(out, 21);
    out.writeUInt16BE(length, 21 + cid.length);
    return 23 + cid.length;
  }
  out.writeUInt16BE(epoch, 0);
  out.writeUInt16BE(seqHi, 2);
  out.writeUInt32BE(seqLo, 4);
  out[8] = type;
  out.writeUInt16BE(version, 9);
  out.writeUInt16BE(length, 11);
  return PLAIN_AAD_LENGTH;
}

/**
 * Splits a DTLSInnerPlaintext (content ‖ real type ‖ zeros, RFC 9146 §4) in place: returns the real type and
 * the content view, or undefined if it is all zeros (no content type).
 */
export function parseInnerPlaintext(inner: Buffer): DecryptedRecord | undefined {
  let i = inner.length - 1;
  while (i >= 0 && inner[i] === 0) i--;
  if (i < 0) return undefined;
  return { type: inner[i]!, plaintext: inner.subarray(0, i) };
}

interface Direction {
  aead?: AeadKey;
  cbc?: CbcKey;
}

function prepareDirection(suite: CipherSuite, keys: DirectionKeys): Direction {
  if (keys.key.length !== suite.encKeyLength || keys.iv.length !== suite.fixedIvLength || keys.macKey.length !== suite.macKeyLength) {
    throw new Error(`key material does not fit ${suite.name}`);
  }
  const key = createSecretKey(keys.key);
  if (suite.aead) {
    return { aead: createAeadKey(suite.algorithm as 'aes-128-ccm' | 'aes-128-gcm', key, keys.iv, suite.tagLength) };
  }
  return { cbc: { key, macKey: createSecretKey(keys.macKey) } };
}

/** Builds the protection object of one epoch from plain key data (throws only on inconsistent local keys). */
export function createRecordProtection(keys: EpochKeys, options: RecordProtectionOptions = {}): RecordProtection {
  const suite = cipherSuiteByCode(keys.cipherSuite);
  if (suite === undefined) throw new Error(`unsupported cipher suite 0x${keys.cipherSuite.toString(16)}`);
  const epoch = keys.epoch;
  const read = prepareDirection(suite, keys.read);
  const write = prepareDirection(suite, keys.write);
  const fillIv = options.cbcIv ?? ((iv: Buffer) => randomFillSync(iv));
  // scratch buffers: AAD/MAC prefix (max CID 255) and CBC IV; node copies them synchronously
  const writeAad = Buffer.alloc(CID_AAD_FIXED + 255 + 2);
  const readAad = Buffer.alloc(CID_AAD_FIXED + 255 + 2);
  const ivScratch = Buffer.alloc(16);

  function fragmentLength(innerLength: number): number {
    return suite!.aead ? EXPLICIT_NONCE_LENGTH + innerLength + suite!.tagLength : cbcFragmentLength(innerLength);
  }

  function recordLength(plaintextLength: number, cidLength = 0, padding = 0): number {
    const inner = cidLength > 0 ? plaintextLength + 1 + padding : plaintextLength;
    return RECORD_HEADER_LENGTH + cidLength + fragmentLength(inner);
  }

  function encryptRecord(type: number, recEpoch: number, seq: number, plaintext: Buffer, cid?: Buffer, padding = 0): Buffer {
    const withCid = cid !== undefined && cid.length > 0;
    let inner = plaintext;
    if (withCid) {
      inner = Buffer.alloc(plaintext.length + 1 + padding); // zero padding
      plaintext.copy(inner, 0);
      inner[plaintext.length] = type;
    }
    const outerType = withCid ? ContentType.TLS12_CID : type;
    const length = fragmentLength(inner.length);
    const out = Buffer.allocUnsafe(RECORD_HEADER_LENGTH + (withCid ? cid!.length : 0) + length);
    const pos = writeRecordHeader(out, 0, outerType, DTLS_1_2, recEpoch, seq, length, cid);
    const aadLength = writeAdditionalData(writeAad, outerType, DTLS_1_2, recEpoch, seq, cid, inner.length);
    const aad = writeAad.subarray(0, aadLength);
    if (write.aead !== undefined) {
      aeadSeal(write.aead, recEpoch, seq, aad, inner, out, pos);
    } else {
      fillIv(ivScratch);
      cbcSeal(write.cbc!, aad, inner, ivScratch, out, pos);
    }
    return out;
  }

  function encrypt(type: number, recEpoch: number, seq: number, plaintext: Buffer, cid?: Buffer, padding = 0): Buffer {
    const record = encryptRecord(type, recEpoch, seq, plaintext, cid, padding);
    return record.subarray(RECORD_HEADER_LENGTH + (cid === undefined ? 0 : cid.length));
  }

  function decrypt(record: ProtectedRecord): DecryptedRecord | undefined {
    if (record.epoch !== epoch) return undefined;
    const withCid = record.type === ContentType.TLS12_CID;
    if (withCid && (record.cid === undefined || record.cid.length === 0)) return undefined;
    const fragment = record.fragment;
    let plaintext: Buffer | undefined;
    if (read.aead !== undefined) {
      const innerLength = fragment.length - EXPLICIT_NONCE_LENGTH - suite!.tagLength;
      if (innerLength < 0) return undefined;
      const aadLength = writeAdditionalData(readAad, record.type, record.version, record.epoch, record.seq, withCid ? record.cid : undefined, innerLength);
      plaintext = aeadOpen(read.aead, fragment, readAad.subarray(0, aadLength));
    } else {
      // the length field is filled in by cbcOpen once the padding is known
      const aadLength = writeAdditionalData(readAad, record.type, record.version, record.epoch, record.seq, withCid ? record.cid : undefined, 0);
      plaintext = cbcOpen(read.cbc!, fragment, readAad.subarray(0, aadLength));
    }
    if (plaintext === undefined) return undefined;
    if (!withCid) return { type: record.type, plaintext };
    const inner = parseInnerPlaintext(plaintext);
    if (inner === undefined || inner.type === ContentType.TLS12_CID) return undefined;
    return inner;
  }

  return {
    suite,
    epoch,
    keys,
    encrypt,
    encryptRecord,
    recordLength,
    decrypt,
    toJSON: () => epochKeysToJson(keys),
  };
}

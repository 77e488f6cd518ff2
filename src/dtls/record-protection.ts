// Per-epoch record protection (RFC 6347 §4.1.2, RFC 5246 §6.2.3) with RFC 9146 §5 CID records:
// one small object per epoch (no closures, no buffers of its own, the keys referenced, process-wide scratch);
// encrypt/decrypt never throw on peer input.
import { randomFillSync } from 'node:crypto';
import { aeadOpen, aeadSeal, createAeadKey, EXPLICIT_NONCE_LENGTH, releaseAeadKey, type AeadKey } from './aead.js';
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

// Process-wide scratch (JavaScript seals and opens one record at a time; node and ccm.ts copy what they need
// synchronously): a protection object owns no buffers, so that an idle connection stays small.
/** AEAD additional data / CBC MAC prefix (longest: CID of 255 bytes) */
const aadScratch = Buffer.alloc(CID_AAD_FIXED + 255 + 2);
/** CBC record IV */
const ivScratch = Buffer.alloc(16);
/** DTLSInnerPlaintext of CID records (grown on demand) */
let innerScratch = Buffer.alloc(2048);
/** aadScratch.subarray(0, n) and innerScratch.subarray(0, n) by n, made on first use (setAAD / update need exact lengths) */
const aadViews: Buffer[] = [];
let innerViews: Buffer[] = [];
/** inner plaintexts up to this length use a cached view */
const CACHED_INNER = 1024;

function aadView(n: number): Buffer {
  return aadViews[n] ?? (aadViews[n] = aadScratch.subarray(0, n));
}

const randomIv = (iv: Buffer): void => {
  randomFillSync(iv);
};

function checkKeys(suite: CipherSuite, keys: DirectionKeys): void {
  if (keys.key.length !== suite.encKeyLength || keys.iv.length !== suite.fixedIvLength || keys.macKey.length !== suite.macKeyLength) {
    throw new Error(`key material does not fit ${suite.name}`);
  }
}

/** The protection of one epoch: the suite, the key data and one small AEAD or CBC state per direction. */
class EpochProtection implements RecordProtection {
  readonly suite: CipherSuite;
  readonly epoch: number;
  readonly keys: EpochKeys;
  readonly readAead: AeadKey | undefined;
  readonly writeAead: AeadKey | undefined;
  /** CBC: the direction keys themselves (key and macKey read per record) */
  readCbc: CbcKey | undefined;
  writeCbc: CbcKey | undefined;
  private readonly fillIv: (iv: Buffer) => void;

  constructor(suite: CipherSuite, keys: EpochKeys, fillIv: (iv: Buffer) => void) {
    checkKeys(suite, keys.read);
    checkKeys(suite, keys.write);
    this.suite = suite;
    this.epoch = keys.epoch;
    this.keys = keys;
    this.fillIv = fillIv;
    if (suite.aead) {
      const algorithm = suite.algorithm as 'aes-128-ccm' | 'aes-128-gcm';
      this.readAead = createAeadKey(algorithm, keys.read, keys.read.iv, suite.tagLength);
      this.writeAead = createAeadKey(algorithm, keys.write, keys.write.iv, suite.tagLength);
      this.readCbc = undefined;
      this.writeCbc = undefined;
    } else {
      this.readAead = undefined;
      this.writeAead = undefined;
      this.readCbc = keys.read;
      this.writeCbc = keys.write;
    }
  }

  private fragmentLength(innerLength: number): number {
    return this.suite.aead ? EXPLICIT_NONCE_LENGTH + innerLength + this.suite.tagLength : cbcFragmentLength(innerLength);
  }

  recordLength(plaintextLength: number, cidLength = 0, padding = 0): number {
    const inner = cidLength > 0 ? plaintextLength + 1 + padding : plaintextLength;
    return RECORD_HEADER_LENGTH + cidLength + this.fragmentLength(inner);
  }

  encryptRecord(type: number, recEpoch: number, seq: number, plaintext: Buffer, cid?: Buffer, padding = 0): Buffer {
    const withCid = cid !== undefined && cid.length > 0;
    let inner = plaintext;
    if (withCid) {
      // DTLSInnerPlaintext = content ‖ real type ‖ zeros (RFC 9146 §4), laid out in the scratch
      const n = plaintext.length + 1 + padding;
      if (innerScratch.length < n) {
        innerScratch = Buffer.alloc(Math.max(n, innerScratch.length * 2));
        innerViews = [];
      }
      plaintext.copy(innerScratch, 0);
      innerScratch[plaintext.length] = type;
      if (padding > 0) innerScratch.fill(0, plaintext.length + 1, n);
      inner = n > CACHED_INNER ? innerScratch.subarray(0, n) : (innerViews[n] ?? (innerViews[n] = innerScratch.subarray(0, n)));
    }
    const outerType = withCid ? ContentType.TLS12_CID : type;
    const length = this.fragmentLength(inner.length);
    // one buffer per record: the transport may still hold it after send() returns (a queued datagram)
    const out = Buffer.allocUnsafe(RECORD_HEADER_LENGTH + (withCid ? cid!.length : 0) + length);
    const pos = writeRecordHeader(out, 0, outerType, DTLS_1_2, recEpoch, seq, length, cid);
    const aad = aadView(writeAdditionalData(aadScratch, outerType, DTLS_1_2, recEpoch, seq, cid, inner.length));
    if (this.writeAead !== undefined) {
      aeadSeal(this.writeAead, recEpoch, seq, aad, inner, out, pos);
    } else {
      this.fillIv(ivScratch);
      cbcSeal(this.writeCbc!, aad, inner, ivScratch, out, pos);
    }
    return out;
  }

  encrypt(type: number, recEpoch: number, seq: number, plaintext: Buffer, cid?: Buffer, padding = 0): Buffer {
    const record = this.encryptRecord(type, recEpoch, seq, plaintext, cid, padding);
    return record.subarray(RECORD_HEADER_LENGTH + (cid === undefined ? 0 : cid.length));
  }

  decrypt(record: ProtectedRecord): DecryptedRecord | undefined {
    if (record.epoch !== this.epoch) return undefined;
    const withCid = record.type === ContentType.TLS12_CID;
    if (withCid && (record.cid === undefined || record.cid.length === 0)) return undefined;
    const fragment = record.fragment;
    let plaintext: Buffer | undefined;
    if (this.readAead !== undefined) {
      const innerLength = fragment.length - EXPLICIT_NONCE_LENGTH - this.suite.tagLength;
      if (innerLength < 0) return undefined;
      const aadLength = writeAdditionalData(aadScratch, record.type, record.version, record.epoch, record.seq, withCid ? record.cid : undefined, innerLength);
      plaintext = aeadOpen(this.readAead, fragment, aadView(aadLength));
    } else {
      // the length field is filled in by cbcOpen once the padding is known
      const aadLength = writeAdditionalData(aadScratch, record.type, record.version, record.epoch, record.seq, withCid ? record.cid : undefined, 0);
      plaintext = cbcOpen(this.readCbc!, fragment, aadView(aadLength));
    }
    if (plaintext === undefined) return undefined;
    if (!withCid) return { type: record.type, plaintext };
    const inner = parseInnerPlaintext(plaintext);
    if (inner === undefined || inner.type === ContentType.TLS12_CID) return undefined;
    return inner;
  }

  toJSON(): EpochKeysJson {
    return epochKeysToJson(this.keys);
  }
}

/** Builds the protection object of one epoch from plain key data (throws only on inconsistent local keys). */
export function createRecordProtection(keys: EpochKeys, options: RecordProtectionOptions = {}): RecordProtection {
  const suite = cipherSuiteByCode(keys.cipherSuite);
  if (suite === undefined) throw new Error(`unsupported cipher suite 0x${keys.cipherSuite.toString(16)}`);
  return new EpochProtection(suite, keys, options.cbcIv ?? randomIv);
}

/** True if a protection holds fast-CCM contexts (aead.ts): worth keeping on its connection rather than rebuilding. */
export function protectionBusy(p: RecordProtection): boolean {
  if (!(p instanceof EpochProtection)) return false;
  return p.readAead?.ccm !== undefined || p.writeAead?.ccm !== undefined;
}

/** Releases what a protection holds beyond its connection (its fast-CCM LRU slots, aead.ts); the connection is gone. */
export function releaseRecordProtection(p: RecordProtection | undefined): void {
  if (!(p instanceof EpochProtection)) return;
  if (p.readAead !== undefined) releaseAeadKey(p.readAead);
  if (p.writeAead !== undefined) releaseAeadKey(p.writeAead);
}

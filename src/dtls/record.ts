// DTLS 1.2 record header codec (RFC 6347 §4.1) including the tls12_cid header (RFC 9146 §4).
// Hot path: parsing creates one small object per record and sub-array views, never copies.

/** Record content types (RFC 5246 §6.2.1, RFC 9146 §4). */
export const ContentType = {
  CHANGE_CIPHER_SPEC: 20,
  ALERT: 21,
  HANDSHAKE: 22,
  APPLICATION_DATA: 23,
  TLS12_CID: 25,
} as const;

/** Protocol version DTLS 1.2 on the wire (RFC 6347 §4.1). */
export const DTLS_1_2 = 0xfefd;
/** Protocol version DTLS 1.0 on the wire (RFC 4347). */
export const DTLS_1_0 = 0xfeff;
/** Length of a record header without CID: type(1) version(2) epoch(2) seq(6) length(2). */
export const RECORD_HEADER_LENGTH = 13;
/** Largest 48-bit record sequence number (RFC 6347 §4.1). */
export const MAX_SEQUENCE_NUMBER = 2 ** 48 - 1;

const TWO_POW_32 = 2 ** 32;

/** One record parsed out of a datagram; `cid` and `fragment` are views into the datagram. */
export interface DtlsRecord {
  /** content type from the header (25 for tls12_cid records; the real type is inside the ciphertext) */
  type: number;
  /** protocol version as uint16, e.g. 0xfefd */
  version: number;
  epoch: number;
  /** 48-bit sequence number */
  seq: number;
  /** connection id of a tls12_cid record, undefined otherwise */
  cid: Buffer | undefined;
  /** the record's fragment (length field bytes) */
  fragment: Buffer;
  /** offset of the record within the datagram */
  offset: number;
  /** header length (13 + CID length) */
  headerLength: number;
}

/** Counters of records dropped while parsing (shared object, incremented in place). */
export interface RecordParseStats {
  /** truncated header, length beyond datagram, CID record without CID support */
  malformed: number;
  /** records with an unknown content type (skipped) */
  unknownType: number;
}

/** Creates zeroed parse counters. */
export function createRecordParseStats(): RecordParseStats {
  return { malformed: 0, unknownType: 0 };
}

/** Header length for a record carrying a CID of `cidLength` bytes (0 → plain header). */
export function recordHeaderLength(cidLength: number): number {
  return RECORD_HEADER_LENGTH + cidLength;
}

/** True for content types the record layer accepts (20..23 and 25). */
export function isKnownContentType(type: number): boolean {
  return (type >= 20 && type <= 23) || type === ContentType.TLS12_CID;
}

/**
 * Parses the record at `offset` (RFC 6347 §4.1, RFC 9146 §4). `cidLength` is the length of the CIDs this
 * receiver issues; a tls12_cid record is malformed when `cidLength` is 0. Returns undefined if malformed.
 */
export function parseRecord(datagram: Buffer, offset: number, cidLength: number): DtlsRecord | undefined {
  const available = datagram.length - offset;
  if (available < RECORD_HEADER_LENGTH) return undefined;
  const type = datagram[offset]!;
  let headerLength = RECORD_HEADER_LENGTH;
  let cid: Buffer | undefined;
  if (type === ContentType.TLS12_CID) {
    if (cidLength <= 0) return undefined;
    headerLength += cidLength;
    if (available < headerLength) return undefined;
    cid = datagram.subarray(offset + 11, offset + 11 + cidLength);
  }
  const length = datagram.readUInt16BE(offset + headerLength - 2);
  const end = offset + headerLength + length;
  if (end > datagram.length) return undefined;
  return {
    type,
    version: datagram.readUInt16BE(offset + 1),
    epoch: datagram.readUInt16BE(offset + 3),
    seq: datagram.readUInt16BE(offset + 5) * TWO_POW_32 + datagram.readUInt32BE(offset + 7),
    cid,
    fragment: datagram.subarray(offset + headerLength, end),
    offset,
    headerLength,
  };
}

/**
 * Splits a datagram into its records (RFC 6347 §4.1: several records per datagram). A malformed record
 * ends parsing (the rest of the datagram cannot be framed); records of unknown type are skipped.
 * Never throws; drops are counted in `stats` when given.
 */
export function parseDatagram(datagram: Buffer, cidLength: number, stats?: RecordParseStats): DtlsRecord[] {
  const records: DtlsRecord[] = [];
  let offset = 0;
  while (offset < datagram.length) {
    const record = parseRecord(datagram, offset, cidLength);
    if (record === undefined) {
      if (stats) stats.malformed++;
      break;
    }
    offset += record.headerLength + record.fragment.length;
    if (!isKnownContentType(record.type)) {
      if (stats) stats.unknownType++;
      continue;
    }
    records.push(record);
  }
  return records;
}

/**
 * The node-id of a tls12_cid datagram: the first CID byte, datagram byte 11 (dtls.md §6, cluster.md §4.2);
 * undefined for other datagrams and for ones of 13 bytes or less.
 */
export function cidNodeId(datagram: Uint8Array): number | undefined {
  if (datagram.length <= 13 || datagram[0] !== ContentType.TLS12_CID) return undefined;
  return datagram[11];
}

/** CID of the first record if it is a tls12_cid record (routing by CID, dtls.md §6), else undefined. */
export function peekCid(datagram: Buffer, cidLength: number): Buffer | undefined {
  if (cidLength <= 0 || datagram.length < RECORD_HEADER_LENGTH + cidLength) return undefined;
  if (datagram[0] !== ContentType.TLS12_CID) return undefined;
  return datagram.subarray(11, 11 + cidLength);
}

/**
 * Writes a record header at `offset` and returns the offset after it. With a non-empty `cid` the CID is
 * written before the length (tls12_cid layout, RFC 9146 §4); `type` is written as given.
 */
export function writeRecordHeader(
  out: Buffer,
  offset: number,
  type: number,
  version: number,
  epoch: number,
  seq: number,
  length: number,
  cid?: Buffer,
): number {
  out[offset] = type;
  out.writeUInt16BE(version, offset + 1);
  out.writeUInt16BE(epoch, offset + 3);
  out.writeUInt16BE(Math.floor(seq / TWO_POW_32), offset + 5);
  out.writeUInt32BE(seq >>> 0, offset + 7);
  let pos = offset + 11;
  if (cid !== undefined && cid.length > 0) pos += cid.copy(out, pos);
  out.writeUInt16BE(length, pos);
  return pos + 2;
}

/** Encodes one record (header + fragment) into a new buffer; a non-empty `cid` selects the tls12_cid header. */
export function encodeRecord(
  type: number,
  version: number,
  epoch: number,
  seq: number,
  fragment: Buffer,
  cid?: Buffer,
): Buffer {
  const cidLength = cid === undefined ? 0 : cid.length;
  const out = Buffer.allocUnsafe(RECORD_HEADER_LENGTH + cidLength + fragment.length);
  const pos = writeRecordHeader(out, 0, type, version, epoch, seq, fragment.length, cid);
  fragment.copy(out, pos);
  return out;
}

// Raw DTLS 1.2 record layer for tests (RFC 6347 §4.1: type, version, epoch, 48-bit sequence number, length;
// RFC 9146 §4: tls12_cid records carry the CID between sequence number and length). Written independently
// of src/ on purpose: a bug shared with the server's own record code cannot hide behind it.

/** Record content types (RFC 5246 §6.2.1, RFC 9146 §4 tls12_cid). */
export const ContentType = {
  CHANGE_CIPHER_SPEC: 20,
  ALERT: 21,
  HANDSHAKE: 22,
  APPLICATION_DATA: 23,
  TLS12_CID: 25,
} as const;

/** DTLS 1.2 on the wire (RFC 6347 §4.1: {254, 253}). */
export const DTLS_1_2 = 0xfefd;

/** Length of a record header without CID (RFC 6347 §4.1). */
export const HEADER_LENGTH = 13;

/** One record as found in (or written to) a datagram. */
export interface WireRecord {
  type: number;
  version: number;
  epoch: number;
  /** 48-bit sequence number (fits a JS number) */
  seq: number;
  /** CID of a tls12_cid record */
  cid?: Buffer;
  /** the record's fragment (ciphertext for protected records) */
  fragment: Buffer;
  /** the whole record as on the wire */
  raw: Buffer;
}

/** What encodeRecord writes; `length` overrides the length field (to write inconsistent records). */
export interface RecordFields {
  type: number;
  epoch: number;
  seq: number;
  fragment: Buffer;
  version?: number;
  cid?: Buffer;
  length?: number;
}

/** epoch(2) ‖ seq(6): the 64-bit seq_num of RFC 6347 §4.1.2.1, also the AEAD explicit nonce. */
export function epochSeq(epoch: number, seq: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeUInt16BE(epoch, 0);
  b.writeUIntBE(seq, 2, 6);
  return b;
}

/** Encodes one record (RFC 6347 §4.1; with `cid` the RFC 9146 §4 layout, type normally tls12_cid). */
export function encodeRecord(r: RecordFields): Buffer {
  const cid = r.cid ?? Buffer.alloc(0);
  const head = Buffer.alloc(HEADER_LENGTH + cid.length);
  head.writeUInt8(r.type, 0);
  head.writeUInt16BE(r.version ?? DTLS_1_2, 1);
  epochSeq(r.epoch, r.seq).copy(head, 3);
  cid.copy(head, 11);
  head.writeUInt16BE(r.length ?? r.fragment.length, 11 + cid.length);
  return Buffer.concat([head, r.fragment]);
}

/**
 * Splits a datagram into records (RFC 6347 §4.1.1: several records per datagram). `cidLength`: length
 * of the CID carried by incoming tls12_cid records (our own CID). A truncated tail is returned in `rest`.
 */
export function parseDatagram(datagram: Buffer, cidLength = 0): { records: WireRecord[]; rest: Buffer } {
  const records: WireRecord[] = [];
  let off = 0;
  while (off < datagram.length) {
    const type = datagram[off]!;
    const cidLen = type === ContentType.TLS12_CID ? cidLength : 0;
    const headerLength = HEADER_LENGTH + cidLen;
    if (off + headerLength > datagram.length) break;
    const length = datagram.readUInt16BE(off + 11 + cidLen);
    if (off + headerLength + length > datagram.length) break;
    const rec: WireRecord = {
      type,
      version: datagram.readUInt16BE(off + 1),
      epoch: datagram.readUInt16BE(off + 3),
      seq: datagram.readUIntBE(off + 5, 6),
      fragment: Buffer.from(datagram.subarray(off + headerLength, off + headerLength + length)),
      raw: Buffer.from(datagram.subarray(off, off + headerLength + length)),
    };
    if (cidLen > 0) rec.cid = Buffer.from(datagram.subarray(off + 11, off + 11 + cidLen));
    records.push(rec);
    off += headerLength + length;
  }
  return { records, rest: datagram.subarray(off) };
}

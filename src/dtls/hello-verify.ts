// Stateless ClientHello handling before a handshake exists (RFC 6347 §4.2.1, dtls.md §7): parse the
// ClientHello of an epoch-0 record and build the HelloVerifyRequest record. Nothing here keeps state.
import { decodeClientHello, type DecodedClientHello } from './handshake/client-hello.js';
import { HandshakeType, MAX_COOKIE_LENGTH, ProtocolVersion } from './handshake/constants.js';
import { decodeHandshakeFragments, HANDSHAKE_HEADER_LENGTH, isWholeMessage, writeHandshakeHeader, type HandshakeMessage } from './handshake/header.js';
import { ContentType, RECORD_HEADER_LENGTH, writeRecordHeader, type DtlsRecord } from './record.js';

/** A ClientHello found in an epoch-0 record. */
export interface InitialClientHello {
  hello: DecodedClientHello;
  message: HandshakeMessage;
}

/**
 * The ClientHello of an epoch-0 handshake record, if the record's first fragment is a whole ClientHello
 * (a fragmented first ClientHello is not supported; it is dropped like Californium does).
 */
export function parseInitialClientHello(record: DtlsRecord): InitialClientHello | undefined {
  if (record.type !== ContentType.HANDSHAKE || record.epoch !== 0) return undefined;
  const fragments = decodeHandshakeFragments(record.fragment);
  if (!fragments.ok) return undefined;
  const first = fragments.value[0];
  if (first === undefined || first.header.msgType !== HandshakeType.CLIENT_HELLO || !isWholeMessage(first.header)) return undefined;
  const decoded = decodeClientHello(first.fragment);
  if (!decoded.ok) return undefined;
  return { hello: decoded.value, message: { msgType: HandshakeType.CLIENT_HELLO, messageSeq: first.header.messageSeq, body: decoded.value.raw } };
}

/** True if the record's first handshake fragment is a ClientHello (cheap check before decoding). */
export function isClientHelloRecord(record: DtlsRecord): boolean {
  return record.type === ContentType.HANDSHAKE && record.epoch === 0 && record.fragment.length > 12 && record.fragment[0] === HandshakeType.CLIENT_HELLO;
}

/** The client's record version clamped to DTLS 1.0 … 1.2 (dtls.md §1; numerically 0xfefd … 0xfeff). */
export function clampVersion(version: number): number {
  if (version < ProtocolVersion.DTLS_1_2) return ProtocolVersion.DTLS_1_2;
  if (version > ProtocolVersion.DTLS_1_0) return ProtocolVersion.DTLS_1_0;
  return version;
}

/**
 * The HelloVerifyRequest record answering `record`'s ClientHello: same message_seq and record sequence
 * number as the ClientHello (RFC 6347 §4.2.1), version clamped; written into one buffer.
 */
export function helloVerifyRequestRecord(record: DtlsRecord, message: HandshakeMessage, cookie: Buffer): Buffer {
  if (cookie.length > MAX_COOKIE_LENGTH) throw new RangeError(`cookie of ${cookie.length} bytes`);
  const version = clampVersion(record.version);
  const bodyLength = 3 + cookie.length;
  const out = Buffer.allocUnsafe(RECORD_HEADER_LENGTH + HANDSHAKE_HEADER_LENGTH + bodyLength);
  let p = writeRecordHeader(out, 0, ContentType.HANDSHAKE, version, 0, record.seq, HANDSHAKE_HEADER_LENGTH + bodyLength);
  writeHandshakeHeader(out, p, HandshakeType.HELLO_VERIFY_REQUEST, bodyLength, message.messageSeq, 0, bodyLength);
  p += HANDSHAKE_HEADER_LENGTH;
  out.writeUInt16BE(version, p);
  out[p + 2] = cookie.length;
  cookie.copy(out, p + 3);
  return out;
}

/** Record header (13) + handshake header (12) + client_version (2) + random (32): offset of session_id's length byte. */
const SESSION_ID_OFFSET = 13 + 12 + 2 + 32;

/**
 * Classifies a datagram with a few byte reads, before any parsing (the flood path): -1 when it does not
 * start with an epoch-0 handshake record whose first message is a ClientHello (RFC 6347 §4.1: type 22,
 * epoch 0; §4.2.2: msg_type 1); else the offset of the ClientHello's cookie length byte (RFC 6347 §4.2.1:
 * client_version, random, session_id<0..32>, cookie<0..2^8-1>), or 0 when the datagram is too short to
 * hold it (a ClientHello that only the full parser can judge).
 */
export function clientHelloCookieOffset(d: Buffer): number {
  if (d.length < 14 || d[0] !== ContentType.HANDSHAKE || d[3] !== 0 || d[4] !== 0 || d[13] !== HandshakeType.CLIENT_HELLO) return -1;
  if (d.length <= SESSION_ID_OFFSET) return 0;
  const offset = SESSION_ID_OFFSET + 1 + d[SESSION_ID_OFFSET]!;
  return offset < d.length ? offset : 0;
}

/**
 * True for the datagram a HelloVerifyRequest can answer without parsing (at the cookie offset of
 * clientHelloCookieOffset): exactly one record holding one whole ClientHello (no fragmentation) with an
 * empty session id and an empty cookie, whose cipher_suites, compression_methods and extensions vectors
 * (RFC 5246 §7.4.1.2) end exactly at the end of the message. Length checks only: the extensions' contents
 * are judged when the second ClientHello (with the cookie) is decoded.
 */
export function isPlainFirstClientHello(d: Buffer, cookieOffset: number): boolean {
  if (cookieOffset !== SESSION_ID_OFFSET + 1 || d[cookieOffset] !== 0) return false;
  const recordLength = d.readUInt16BE(11);
  if (13 + recordLength !== d.length) return false;
  const messageLength = d.readUIntBE(14, 3);
  if (12 + messageLength !== recordLength || d.readUIntBE(19, 3) !== 0 || d.readUIntBE(22, 3) !== messageLength) return false;
  const end = d.length;
  let p = cookieOffset + 1;
  if (p + 2 > end) return false;
  const suites = d.readUInt16BE(p);
  p += 2 + suites;
  if (suites < 2 || suites % 2 !== 0 || p + 1 > end) return false;
  const compression = d[p]!;
  p += 1 + compression;
  if (compression < 1 || p > end) return false;
  if (p === end) return true;
  if (p + 2 > end || p + 2 + d.readUInt16BE(p) !== end) return false;
  p += 2;
  while (p < end) {
    if (p + 4 > end) return false;
    p += 4 + d.readUInt16BE(p + 2);
  }
  return p === end;
}

/**
 * The HelloVerifyRequest record answering the ClientHello datagram `d` (isPlainFirstClientHello), written
 * into one buffer: record version = handshake server_version = the ClientHello's record version clamped,
 * record sequence number and message_seq of the ClientHello (RFC 6347 §4.2.1). Equal to
 * helloVerifyRequestRecord for the same ClientHello and cookie.
 */
export function fastHelloVerifyRequest(d: Buffer, cookie: Buffer): Buffer {
  const version = clampVersion(d.readUInt16BE(1));
  const bodyLength = 3 + cookie.length;
  const out = Buffer.allocUnsafe(13 + 12 + bodyLength);
  out[0] = ContentType.HANDSHAKE;
  out.writeUInt16BE(version, 1);
  out.writeUInt16BE(0, 3); // epoch
  d.copy(out, 5, 5, 11); // sequence number
  out.writeUInt16BE(12 + bodyLength, 11);
  out[13] = HandshakeType.HELLO_VERIFY_REQUEST;
  out.writeUIntBE(bodyLength, 14, 3);
  out[17] = d[17]!; // message_seq
  out[18] = d[18]!;
  out.writeUIntBE(0, 19, 3); // fragment_offset
  out.writeUIntBE(bodyLength, 22, 3);
  out.writeUInt16BE(version, 25);
  out[27] = cookie.length;
  cookie.copy(out, 28);
  return out;
}

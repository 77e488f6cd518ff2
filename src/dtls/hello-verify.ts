// Stateless ClientHello handling before a handshake exists (RFC 6347 §4.2.1, dtls.md §7): parse the
// ClientHello of an epoch-0 record and build the HelloVerifyRequest record. Nothing here keeps state.
import { decodeClientHello, type DecodedClientHello } from './handshake/client-hello.js';
import { HandshakeType, ProtocolVersion } from './handshake/constants.js';
import { decodeHandshakeFragments, encodeFullHandshakeMessage, isWholeMessage, type HandshakeMessage } from './handshake/header.js';
import { encodeHelloVerifyRequest } from './handshake/hello-verify-request.js';
import { ContentType, encodeRecord, type DtlsRecord } from './record.js';

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
 * number as the ClientHello (RFC 6347 §4.2.1), version clamped.
 */
export function helloVerifyRequestRecord(record: DtlsRecord, message: HandshakeMessage, cookie: Buffer): Buffer {
  const version = clampVersion(record.version);
  const body = encodeHelloVerifyRequest({ serverVersion: version, cookie });
  const hs = encodeFullHandshakeMessage({ msgType: HandshakeType.HELLO_VERIFY_REQUEST, messageSeq: message.messageSeq, body });
  return encodeRecord(ContentType.HANDSHAKE, version, 0, record.seq, hs);
}

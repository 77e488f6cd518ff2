// DTLS handshake message header and fragmentation (RFC 6347 §4.2.2, §4.2.3) and the
// full-header form used for the handshake transcript (RFC 6347 §4.2.6).
import { AlertDescription } from './alert.js';
import { type DecodeResult, fail, ok } from './result.js';

/** Size of the DTLS handshake header: msg_type(1) length(3) message_seq(2) fragment_offset(3) fragment_length(3). */
export const HANDSHAKE_HEADER_LENGTH = 12;
/** Largest value of the uint24 length fields. */
export const MAX_HANDSHAKE_LENGTH = 0xffffff;

/** The 12-byte DTLS handshake header (RFC 6347 §4.2.2). */
export interface HandshakeHeader {
  msgType: number;
  /** length of the whole message body */
  length: number;
  messageSeq: number;
  fragmentOffset: number;
  fragmentLength: number;
}

/** One handshake fragment as carried in a record: header and fragment bytes. */
export interface HandshakeFragment {
  header: HandshakeHeader;
  /** fragment bytes; `fragment.length === header.fragmentLength` */
  fragment: Buffer;
}

/** A complete (reassembled) handshake message. */
export interface HandshakeMessage {
  msgType: number;
  messageSeq: number;
  body: Buffer;
}

/** Encodes the 12-byte header (RFC 6347 §4.2.2); throws RangeError on out-of-range fields. */
export function encodeHandshakeHeader(h: HandshakeHeader): Buffer {
  const out = Buffer.allocUnsafe(HANDSHAKE_HEADER_LENGTH);
  writeHandshakeHeader(out, 0, h.msgType, h.length, h.messageSeq, h.fragmentOffset, h.fragmentLength);
  return out;
}

/**
 * Writes the 12-byte header (RFC 6347 §4.2.2) at out[offset] (one buffer for header and body, no
 * concatenation); throws RangeError on out-of-range fields.
 */
export function writeHandshakeHeader(
  out: Buffer,
  offset: number,
  msgType: number,
  length: number,
  messageSeq: number,
  fragmentOffset: number,
  fragmentLength: number,
): void {
  if (fragmentOffset + fragmentLength > length) {
    throw new RangeError(`fragment [${fragmentOffset}+${fragmentLength}) exceeds length ${length}`);
  }
  checkField(msgType, 0xff, 'uint8');
  checkField(length, 0xffffff, 'uint24');
  checkField(messageSeq, 0xffff, 'uint16');
  checkField(fragmentOffset, 0xffffff, 'uint24');
  checkField(fragmentLength, 0xffffff, 'uint24');
  out[offset] = msgType;
  out.writeUIntBE(length, offset + 1, 3);
  out.writeUInt16BE(messageSeq, offset + 4);
  out.writeUIntBE(fragmentOffset, offset + 6, 3);
  out.writeUIntBE(fragmentLength, offset + 9, 3);
}

function checkField(v: number, max: number, what: string): void {
  if (!Number.isInteger(v) || v < 0 || v > max) throw new RangeError(`${what} value ${v} out of range`);
}

/** Encodes one fragment (header ‖ fragment bytes). */
export function encodeHandshakeFragment(f: HandshakeFragment): Buffer {
  if (f.fragment.length !== f.header.fragmentLength) {
    throw new RangeError(`fragment has ${f.fragment.length} bytes, header says ${f.header.fragmentLength}`);
  }
  return Buffer.concat([encodeHandshakeHeader(f.header), f.fragment]);
}

/**
 * The full-header form of a message: header with fragment_offset 0 and fragment_length = length,
 * then the body. This is both the unfragmented wire form and the transcript input (RFC 6347 §4.2.6).
 */
export function encodeFullHandshakeMessage(msg: HandshakeMessage): Buffer {
  const length = msg.body.length;
  const out = Buffer.allocUnsafe(HANDSHAKE_HEADER_LENGTH + length);
  writeHandshakeHeader(out, 0, msg.msgType, length, msg.messageSeq, 0, length);
  msg.body.copy(out, HANDSHAKE_HEADER_LENGTH);
  return out;
}

/**
 * Splits a message into fragments of at most `maxFragmentLength` body bytes each (header not
 * counted), in offset order (RFC 6347 §4.2.3). An empty body yields one empty fragment.
 */
export function fragmentHandshakeMessage(msg: HandshakeMessage, maxFragmentLength: number): HandshakeFragment[] {
  if (!Number.isInteger(maxFragmentLength) || maxFragmentLength < 1) {
    throw new RangeError(`maxFragmentLength ${maxFragmentLength} must be a positive integer`);
  }
  const length = msg.body.length;
  if (length > MAX_HANDSHAKE_LENGTH) throw new RangeError(`handshake body ${length} bytes exceeds uint24`);
  const out: HandshakeFragment[] = [];
  let offset = 0;
  do {
    const n = Math.min(maxFragmentLength, length - offset);
    out.push({
      header: { msgType: msg.msgType, length, messageSeq: msg.messageSeq, fragmentOffset: offset, fragmentLength: n },
      fragment: msg.body.subarray(offset, offset + n),
    });
    offset += n;
  } while (offset < length);
  return out;
}

/** Fragments a message and encodes each fragment (header ‖ bytes), ready to be put into records. */
export function encodeHandshakeMessageFragments(msg: HandshakeMessage, maxFragmentLength: number): Buffer[] {
  return fragmentHandshakeMessage(msg, maxFragmentLength).map(encodeHandshakeFragment);
}

/**
 * Decodes the content of a handshake record into its fragments (a record may hold several,
 * RFC 6347 §4.2.3). Fragment bytes are views into `record`. Truncation, a fragment beyond the
 * message length or an empty record → decode_error.
 */
export function decodeHandshakeFragments(record: Buffer): DecodeResult<HandshakeFragment[]> {
  // RFC 5246 §6.2.1: zero-length handshake fragments must not be sent
  if (record.length === 0) return fail(AlertDescription.DECODE_ERROR, 'empty handshake record');
  const out: HandshakeFragment[] = [];
  let pos = 0;
  while (pos < record.length) {
    if (record.length - pos < HANDSHAKE_HEADER_LENGTH) {
      return fail(AlertDescription.DECODE_ERROR, `truncated handshake header: ${record.length - pos} bytes`);
    }
    const header: HandshakeHeader = {
      msgType: record[pos]!,
      length: record.readUIntBE(pos + 1, 3),
      messageSeq: record.readUInt16BE(pos + 4),
      fragmentOffset: record.readUIntBE(pos + 6, 3),
      fragmentLength: record.readUIntBE(pos + 9, 3),
    };
    pos += HANDSHAKE_HEADER_LENGTH;
    if (header.fragmentOffset + header.fragmentLength > header.length) {
      return fail(
        AlertDescription.DECODE_ERROR,
        `fragment [${header.fragmentOffset}+${header.fragmentLength}) exceeds message length ${header.length}`,
      );
    }
    if (header.fragmentLength > record.length - pos) {
      return fail(
        AlertDescription.DECODE_ERROR,
        `fragment_length ${header.fragmentLength} exceeds the ${record.length - pos} remaining record bytes`,
      );
    }
    out.push({ header, fragment: record.subarray(pos, pos + header.fragmentLength) });
    pos += header.fragmentLength;
  }
  return ok(out);
}

/** true if the fragment carries the whole message (offset 0, fragment_length = length). */
export function isWholeMessage(h: HandshakeHeader): boolean {
  return h.fragmentOffset === 0 && h.fragmentLength === h.length;
}

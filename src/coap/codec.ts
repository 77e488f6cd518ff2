// CoAP message codec (RFC 7252 §3 message format, §3.1 option format).
import { type CoapMessage, type CoapOption, type MessageType, EMPTY } from './message.js';

/** A message format error (RFC 7252 §3): what could be read of the header, and why decoding stopped. */
export interface FormatFailure {
  /** short reason, e.g. `token length 9` */
  readonly reason: string;
  /** true when the 4-byte header was readable (type and MID are valid) */
  readonly hasHeader: boolean;
  readonly type: MessageType;
  readonly mid: number;
  readonly code: number;
}

/** Raised by `decode` for a message format error; carries what could be read of the header. */
export class CoapFormatError extends Error implements FormatFailure {
  readonly reason: string;
  readonly hasHeader: boolean;
  readonly type: MessageType;
  readonly mid: number;
  readonly code: number;
  constructor(reason: string, hasHeader: boolean, type = 0, mid = 0, code = 0) {
    super(reason);
    this.reason = reason;
    this.hasHeader = hasHeader;
    this.type = type as MessageType;
    this.mid = mid;
    this.code = code;
  }
}

/** True when decodeMessage returned a format failure instead of a message. */
export function isFormatFailure(r: CoapMessage | FormatFailure): r is FormatFailure {
  return (r as Partial<FormatFailure>).reason !== undefined;
}

function failure(reason: string, hasHeader: boolean, type: MessageType, mid: number, code: number): FormatFailure {
  return { reason, hasHeader, type, mid, code };
}

/**
 * Decodes one datagram into a message, or returns the format failure (RFC 7252 §3, §3.1, §4.1). Never
 * throws: the receive path handles malformed datagrams without creating an Error (and its stack).
 */
export function decodeMessage(buf: Buffer): CoapMessage | FormatFailure {
  const len = buf.length;
  if (len < 4) return failure('message shorter than 4 bytes', false, 0, 0, 0);
  const b0 = buf[0]!;
  const type = ((b0 >> 4) & 3) as MessageType;
  const code = buf[1]!;
  const mid = (buf[2]! << 8) | buf[3]!;
  if (b0 >> 6 !== 1) return failure(`version ${b0 >> 6}`, false, type, mid, code);
  const tkl = b0 & 0x0f;
  // §3: lengths 9-15 are reserved and a message format error
  if (tkl > 8) return failure(`token length ${tkl}`, true, type, mid, code);
  if (4 + tkl > len) return failure('token exceeds message', true, type, mid, code);
  const token = tkl === 0 ? EMPTY : buf.subarray(4, 4 + tkl);
  let pos = 4 + tkl;
  const options: CoapOption[] = [];
  let number = 0;
  let payload = EMPTY;
  while (pos < len) {
    const b = buf[pos++]!;
    if (b === 0xff) {
      // §3: a payload marker followed by a zero-length payload is a format error
      if (pos >= len) return failure('payload marker without payload', true, type, mid, code);
      payload = buf.subarray(pos);
      break;
    }
    let delta = b >> 4;
    let olen = b & 0x0f;
    // §3.1: nibble 15 is reserved (except in the payload marker)
    if (delta === 15 || olen === 15) return failure('reserved option nibble 15', true, type, mid, code);
    if (delta === 13) {
      if (pos >= len) return failure('truncated option delta', true, type, mid, code);
      delta = buf[pos++]! + 13;
    } else if (delta === 14) {
      if (pos + 1 >= len) return failure('truncated option delta', true, type, mid, code);
      delta = ((buf[pos]! << 8) | buf[pos + 1]!) + 269;
      pos += 2;
    }
    if (olen === 13) {
      if (pos >= len) return failure('truncated option length', true, type, mid, code);
      olen = buf[pos++]! + 13;
    } else if (olen === 14) {
      if (pos + 1 >= len) return failure('truncated option length', true, type, mid, code);
      olen = ((buf[pos]! << 8) | buf[pos + 1]!) + 269;
      pos += 2;
    }
    number += delta;
    if (number > 0xffff) return failure('option number out of range', true, type, mid, code);
    if (pos + olen > len) return failure('option value exceeds message', true, type, mid, code);
    options.push({ number, value: buf.subarray(pos, pos + olen) });
    pos += olen;
  }
  // §4.1: an empty message (code 0.00) has no token, options or payload
  if (code === 0 && (tkl !== 0 || options.length !== 0 || payload.length !== 0)) {
    return failure('empty message with content', true, type, mid, code);
  }
  return { type, code, mid, token, options, payload };
}

/** Decodes one datagram; throws CoapFormatError on a format error (tools and tests; the endpoint uses decodeMessage). */
export function decode(buf: Buffer): CoapMessage {
  const r = decodeMessage(buf);
  if (isFormatFailure(r)) throw new CoapFormatError(r.reason, r.hasHeader, r.type, r.mid, r.code);
  return r;
}

function extLen(v: number): number {
  return v < 13 ? 0 : v < 269 ? 1 : 2;
}

/** Encodes a message; options must be sorted by number (see sortOptions). */
export function encode(msg: CoapMessage): Buffer {
  const opts = msg.options;
  let size = 4 + msg.token.length;
  let prev = 0;
  for (let i = 0; i < opts.length; i++) {
    const o = opts[i]!;
    const delta = o.number - prev;
    if (delta < 0) throw new Error('options not sorted');
    size += 1 + extLen(delta) + extLen(o.value.length) + o.value.length;
    prev = o.number;
  }
  if (msg.payload.length > 0) size += 1 + msg.payload.length;
  const out = Buffer.allocUnsafe(size);
  out[0] = 0x40 | (msg.type << 4) | msg.token.length;
  out[1] = msg.code;
  out[2] = (msg.mid >> 8) & 0xff;
  out[3] = msg.mid & 0xff;
  let pos = 4;
  if (msg.token.length > 0) pos += msg.token.copy(out, pos);
  prev = 0;
  for (let i = 0; i < opts.length; i++) {
    const o = opts[i]!;
    const delta = o.number - prev;
    prev = o.number;
    const vlen = o.value.length;
    const head = pos++;
    let dn: number;
    if (delta < 13) dn = delta;
    else if (delta < 269) { dn = 13; out[pos++] = delta - 13; }
    else { dn = 14; out.writeUInt16BE(delta - 269, pos); pos += 2; }
    let ln: number;
    if (vlen < 13) ln = vlen;
    else if (vlen < 269) { ln = 13; out[pos++] = vlen - 13; }
    else { ln = 14; out.writeUInt16BE(vlen - 269, pos); pos += 2; }
    out[head] = (dn << 4) | ln;
    if (vlen > 0) pos += o.value.copy(out, pos);
  }
  if (msg.payload.length > 0) {
    out[pos++] = 0xff;
    msg.payload.copy(out, pos);
  }
  return out;
}

/** Size in bytes of the encoded options (without header, token, payload). */
export function encodedOptionsSize(opts: readonly CoapOption[]): number {
  let size = 0;
  let prev = 0;
  for (const o of opts) {
    size += 1 + extLen(o.number - prev) + extLen(o.value.length) + o.value.length;
    prev = o.number;
  }
  return size;
}

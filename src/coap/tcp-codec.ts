// CoAP over reliable transports, message framing (RFC 8323 §3.2): a Len/TKL byte, an extended length
// of 0, 1, 2 or 4 bytes, the code, the token, then options, payload marker and payload exactly as over
// UDP (RFC 7252 §3, §3.1). There is no Version, Type or Message ID. The options are written and read
// by the UDP codec (codec.ts): a frame is reshaped to and from the UDP layout around it.
import { decodeMessage, encode, encodedOptionsSize, isFormatFailure } from './codec.js';
import { type CoapMessage } from './message.js';

// §3.2: Len 13, 14, 15 announce an 8, 16, 32-bit extended length holding the length minus these
const EXT8_BASE = 13;
const EXT16_BASE = 269;
const EXT32_BASE = 65805;

/** Largest options+payload length a frame can declare: 32-bit extended length + 65805 (RFC 8323 §3.2). */
export const MAX_TCP_BODY_LENGTH = 0xffffffff + EXT32_BASE;

/** Smallest frame: the Len/TKL byte and the code (RFC 8323 §3.2). */
export const MIN_TCP_FRAME_SIZE = 2;

/** Why a stream was rejected: every kind is answered with Abort (RFC 8323 §5.6) on that connection. */
export type TcpFrameErrorKind =
  /** the declared frame size exceeds the reader's maxMessageSize (RFC 8323 §5.3.1) */
  | 'too-large'
  /** TKL 9-15 (RFC 8323 §3.2, RFC 7252 §3) */
  | 'token-length'
  /** the options or payload marker are malformed (RFC 7252 §3, §3.1, §4.1) */
  | 'format'
  /** decodeTcp: the buffer ends inside the frame */
  | 'truncated'
  /** decodeTcp: bytes follow the frame */
  | 'trailing-bytes';

/** A framing or message format error on one CoAP-over-TCP stream; the caller sends Abort (RFC 8323 §5.6) and closes only that connection. */
export class TcpFrameError extends Error {
  readonly kind: TcpFrameErrorKind;
  /** declared size of the offending frame in bytes (header included), or -1 when not known */
  readonly size: number;
  /** messages completed by the same push before the error (the caller may drop them: §5.6) */
  messages: CoapMessage[] = [];
  constructor(kind: TcpFrameErrorKind, message: string, size = -1) {
    super(message);
    this.name = 'TcpFrameError';
    this.kind = kind;
    this.size = size;
  }
}

/** Bytes of the extended length field for an options+payload length (RFC 8323 §3.2). */
function extSize(len: number): 0 | 1 | 2 | 4 {
  return len < EXT8_BASE ? 0 : len < EXT16_BASE ? 1 : len < EXT32_BASE ? 2 : 4;
}

/** Writes Len/TKL, extended length and code at `pos` (RFC 8323 §3.2). */
function writeHead(out: Buffer, pos: number, len: number, tkl: number, code: number): void {
  const ext = extSize(len);
  if (ext === 0) {
    out[pos++] = (len << 4) | tkl;
  } else if (ext === 1) {
    out[pos++] = (13 << 4) | tkl;
    out[pos++] = len - EXT8_BASE;
  } else if (ext === 2) {
    out[pos++] = (14 << 4) | tkl;
    out.writeUInt16BE(len - EXT16_BASE, pos);
    pos += 2;
  } else {
    out[pos++] = (15 << 4) | tkl;
    out.writeUInt32BE(len - EXT32_BASE, pos);
    pos += 4;
  }
  out[pos] = code;
}

function bodyLength(msg: CoapMessage): number {
  return encodedOptionsSize(msg.options) + (msg.payload.length > 0 ? 1 + msg.payload.length : 0);
}

/** Size in bytes of the frame encodeTcp would produce (what a peer's Max-Message-Size limits, RFC 8323 §5.3.1). */
export function tcpFrameSize(msg: CoapMessage): number {
  const len = bodyLength(msg);
  return 2 + extSize(len) + msg.token.length + len;
}

/**
 * Encodes one message as a CoAP-over-TCP frame (RFC 8323 §3.2); `type` and `mid` are not sent.
 * Options must be sorted by number. Throws RangeError for a token longer than 8 bytes.
 */
export function encodeTcp(msg: CoapMessage): Buffer {
  const tkl = msg.token.length;
  if (tkl > 8) throw new RangeError(`token length ${tkl}`);
  // RFC 7252 §3 layout: 4-byte header, token, options, payload marker, payload
  const udp = encode(msg);
  const len = udp.length - 4 - tkl;
  if (len > MAX_TCP_BODY_LENGTH) throw new RangeError(`message length ${len}`);
  const ext = extSize(len);
  if (ext === 4) {
    const out = Buffer.allocUnsafe(udp.length + 2);
    writeHead(out, 0, len, tkl, msg.code);
    udp.copy(out, 6, 4);
    return out;
  }
  // the TCP header (2 + ext ≤ 4 bytes) replaces the 4-byte UDP header in place, right-aligned
  const start = 2 - ext;
  writeHead(udp, start, len, tkl, msg.code);
  return udp.subarray(start);
}

/** Reads CoAP-over-TCP frames from a byte stream. */
export interface TcpFrameReader {
  /**
   * Feeds received bytes; returns the messages they complete, in order. Throws TcpFrameError (and
   * again on every later call): the caller answers with Abort (RFC 8323 §5.6) and closes the connection.
   */
  push(chunk: Buffer): CoapMessage[];
  /** Bytes held for the incomplete frame at the head of the stream (never more than maxMessageSize). */
  readonly buffered: number;
}

/**
 * Streaming frame decoder (RFC 8323 §3.2). `maxMessageSize` bounds a whole frame, header included
 * (§5.3.1: what this endpoint announces in its CSM): a frame declaring more fails as soon as its
 * length field is complete, before any of its body is buffered. Decoded messages own their bytes
 * (type CON and MID 0 stand in for the fields TCP does not carry).
 */
export function createTcpFrameReader(opts: { maxMessageSize: number }): TcpFrameReader {
  const max = opts.maxMessageSize;
  if (!Number.isSafeInteger(max) || max < MIN_TCP_FRAME_SIZE) throw new RangeError(`maxMessageSize ${max}`);
  let chunks: Buffer[] = [];
  let buffered = 0;
  // header of the frame at the head of the stream, once its length field is complete (frameSize > 0)
  let frameSize = 0;
  let tkl = 0;
  let ext = 0;
  let failed: TcpFrameError | undefined;

  function byteAt(i: number): number {
    for (const c of chunks) {
      if (i < c.length) return c[i]!;
      i -= c.length;
    }
    throw new Error('byteAt beyond buffered data');
  }

  function copyOut(start: number, count: number, out: Buffer, at: number): void {
    for (const c of chunks) {
      if (count === 0) return;
      if (start >= c.length) {
        start -= c.length;
        continue;
      }
      const n = Math.min(c.length - start, count);
      c.copy(out, at, start, start + n);
      at += n;
      count -= n;
      start = 0;
    }
  }

  function consume(n: number): void {
    buffered -= n;
    let i = 0;
    while (n > 0) {
      const c = chunks[i]!;
      if (c.length <= n) {
        n -= c.length;
        i++;
      } else {
        chunks[i] = c.subarray(n);
        n = 0;
      }
    }
    if (i > 0) chunks.splice(0, i);
  }

  /** Parses the Len/TKL byte and extended length; false while they are incomplete. */
  function readHead(): TcpFrameError | boolean {
    const b0 = byteAt(0);
    tkl = b0 & 0x0f;
    // §3.2 keeps RFC 7252 §3: token lengths 9-15 are reserved, a message format error
    if (tkl > 8) return new TcpFrameError('token-length', `token length ${tkl}`);
    const nibble = b0 >> 4;
    ext = nibble < 13 ? 0 : nibble === 13 ? 1 : nibble === 14 ? 2 : 4;
    if (buffered < 1 + ext) return false;
    let len: number;
    if (ext === 0) len = nibble;
    else if (ext === 1) len = byteAt(1) + EXT8_BASE;
    else if (ext === 2) len = ((byteAt(1) << 8) | byteAt(2)) + EXT16_BASE;
    else len = (byteAt(1) * 0x1000000 + ((byteAt(2) << 16) | (byteAt(3) << 8) | byteAt(4))) + EXT32_BASE;
    const size = 2 + ext + tkl + len;
    if (size > max) return new TcpFrameError('too-large', `message size ${size} exceeds ${max}`, size);
    frameSize = size;
    return true;
  }

  /** Decodes the complete frame at the head: copied into the RFC 7252 layout and read by the UDP codec. */
  function takeFrame(): CoapMessage | TcpFrameError {
    const len = frameSize - 2 - ext - tkl;
    const udp = Buffer.allocUnsafe(4 + tkl + len);
    udp[0] = 0x40 | tkl; // version 1, CON, TKL
    udp[1] = byteAt(1 + ext);
    udp[2] = 0;
    udp[3] = 0;
    copyOut(2 + ext, tkl + len, udp, 4);
    const size = frameSize;
    consume(frameSize);
    frameSize = 0;
    const r = decodeMessage(udp);
    if (isFormatFailure(r)) return new TcpFrameError('format', r.reason, size);
    return r;
  }

  function fail(err: TcpFrameError, done: CoapMessage[]): never {
    err.messages = done;
    failed = err;
    chunks = [];
    buffered = 0;
    frameSize = 0;
    throw err;
  }

  return {
    get buffered() {
      return buffered;
    },
    push(chunk: Buffer): CoapMessage[] {
      if (failed) throw failed;
      const done: CoapMessage[] = [];
      if (chunk.length > 0) {
        chunks.push(chunk);
        buffered += chunk.length;
      }
      while (buffered > 0) {
        if (frameSize === 0) {
          const head = readHead();
          if (head instanceof TcpFrameError) fail(head, done);
          if (!head) break;
        }
        if (buffered < frameSize) break;
        const msg = takeFrame();
        if (msg instanceof TcpFrameError) fail(msg, done);
        done.push(msg);
      }
      return done;
    },
  };
}

/** Decodes a buffer holding exactly one frame (RFC 8323 §3.2); throws TcpFrameError ('truncated', 'trailing-bytes', ...). */
export function decodeTcp(frame: Buffer): CoapMessage {
  const reader = createTcpFrameReader({ maxMessageSize: Number.MAX_SAFE_INTEGER });
  const msgs = reader.push(frame);
  if (msgs.length === 0) throw new TcpFrameError('truncated', `frame truncated after ${frame.length} bytes`);
  if (msgs.length > 1 || reader.buffered > 0) throw new TcpFrameError('trailing-bytes', 'bytes after the frame');
  return msgs[0]!;
}

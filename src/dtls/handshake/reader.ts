// Bounded reader for TLS presentation-language structures (RFC 5246 §4): fixed-size integers
// and length-prefixed vectors. Internal to the handshake codecs.
import { AlertDescription, type AlertDescriptionCode } from './alert.js';
import { type DecodeResult, fail, ok } from './result.js';

/** Thrown inside a decoder to abort with an alert; converted to a DecodeResult by {@link decodeWith}. */
export class DecodeFailure extends Error {
  /** alert to send */
  readonly alert: AlertDescriptionCode;
  constructor(alert: AlertDescriptionCode, reason: string) {
    super(reason);
    this.alert = alert;
  }
}

/** Aborts the running decoder with the given alert. */
export function failWith(alert: AlertDescriptionCode, reason: string): never {
  throw new DecodeFailure(alert, reason);
}

/** Aborts the running decoder with decode_error. */
export function malformed(reason: string): never {
  throw new DecodeFailure(AlertDescription.DECODE_ERROR, reason);
}

/** Runs a decoder body; a DecodeFailure becomes a failed result, any other exception a decode_error. */
export function decodeWith<T>(body: () => T): DecodeResult<T> {
  try {
    return ok(body());
  } catch (e) {
    if (e instanceof DecodeFailure) return fail(e.alert, e.message);
    // never let a bug turn hostile input into an exception; the prefix makes it visible in tests
    return fail(AlertDescription.DECODE_ERROR, `internal: ${e instanceof Error ? e.message : String(e)}`);
  }
}

/**
 * Cursor over one buffer; every read is bounds-checked and fails with decode_error. With `views`, byte
 * fields are views of the buffer instead of copies: for a buffer the decoder owns (its own copy of a
 * received message), so that a decoded field never aliases a datagram either way.
 */
export class Reader {
  private pos = 0;
  private readonly buf: Buffer;
  private readonly views: boolean;
  constructor(buf: Buffer, views = false) {
    this.buf = buf;
    this.views = views;
  }

  /** bytes not yet read */
  get remaining(): number {
    return this.buf.length - this.pos;
  }

  /** current offset into the buffer */
  get position(): number {
    return this.pos;
  }

  /** Reads a uint8. */
  u8(field: string): number {
    this.need(1, field);
    return this.buf[this.pos++]!;
  }

  /** Reads a big-endian uint16. */
  u16(field: string): number {
    this.need(2, field);
    const v = this.buf.readUInt16BE(this.pos);
    this.pos += 2;
    return v;
  }

  /** Reads a big-endian uint24. */
  u24(field: string): number {
    this.need(3, field);
    const v = (this.buf[this.pos]! << 16) | (this.buf[this.pos + 1]! << 8) | this.buf[this.pos + 2]!;
    this.pos += 3;
    return v;
  }

  /** Reads n bytes as a copy (decoded fields never alias the input), or as a view with `views`. */
  bytes(n: number, field: string): Buffer {
    this.need(n, field);
    const view = this.buf.subarray(this.pos, this.pos + n);
    const out = this.views ? view : Buffer.from(view);
    this.pos += n;
    return out;
  }

  /** Reads a vector with a uint8 length prefix, length within [min, max]. */
  vector8(field: string, min = 0, max = 0xff): Buffer {
    return this.vectorOf(this.u8(field), field, min, max);
  }

  /** Reads a vector with a uint16 length prefix, length within [min, max]. */
  vector16(field: string, min = 0, max = 0xffff): Buffer {
    return this.vectorOf(this.u16(field), field, min, max);
  }

  /** Reads a vector with a uint24 length prefix, length within [min, max]. */
  vector24(field: string, min = 0, max = 0xffffff): Buffer {
    return this.vectorOf(this.u24(field), field, min, max);
  }

  /** Reads a uint16-length-prefixed vector and returns a reader over its content. */
  sub16(field: string, min = 0, max = 0xffff): Reader {
    return new Reader(this.vector16(field, min, max), true); // the vector is a copy or a view of an owned buffer
  }

  /** Fails with decode_error unless every byte has been consumed. */
  end(field: string): void {
    if (this.pos !== this.buf.length) malformed(`${this.buf.length - this.pos} trailing bytes after ${field}`);
  }

  private vectorOf(len: number, field: string, min: number, max: number): Buffer {
    if (len < min || len > max) malformed(`${field} length ${len} outside [${min}..${max}]`);
    return this.bytes(len, field);
  }

  private need(n: number, field: string): void {
    if (this.pos + n > this.buf.length) {
      malformed(`truncated ${field}: need ${n} bytes, have ${this.buf.length - this.pos}`);
    }
  }
}

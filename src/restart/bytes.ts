// Byte writer and bounds-checked reader for the restart stream (restart.md §2 conventions): big-endian
// integers, items (version + 1/2-byte length + content), var-bytes(n) with all-ones = null, strings,
// and unsigned / zigzag varints. Every read past the end or with a bad length throws a StreamError
// (never a RangeError).
//
// The writer fills one growing buffer in place (no per-field allocation): saving 100,000 connections
// must not be dominated by the garbage collector. A buffer given up while growing is wiped (it held
// secrets).

/** A malformed or truncated restart stream. */
export class StreamError extends Error {
  override readonly name = 'StreamError';
}

const TWO_POW_32 = 2 ** 32;

/** Appends big-endian fields; `toBuffer()` returns the bytes written so far. */
export class ByteWriter {
  private buf: Buffer;
  private pos = 0;

  /** `capacity`: initial size of the buffer (it grows as needed). */
  constructor(capacity = 256) {
    this.buf = Buffer.alloc(Math.max(16, capacity));
  }

  /** Number of bytes written. */
  get length(): number {
    return this.pos;
  }

  /** Makes room for `n` more bytes. */
  private ensure(n: number): void {
    const need = this.pos + n;
    if (need <= this.buf.length) return;
    const next = Buffer.alloc(Math.max(need, this.buf.length * 2));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf.fill(0);
    this.buf = next;
  }

  /** Raw bytes. */
  bytes(b: Buffer): this {
    const n = b.length;
    this.ensure(n);
    if (n <= 64) {
      // short fields (keys, CIDs): a loop beats Buffer.copy's call overhead
      const out = this.buf;
      let p = this.pos;
      for (let i = 0; i < n; i++) out[p++] = b[i]!;
      this.pos = p;
    } else this.pos += b.copy(this.buf, this.pos);
    return this;
  }

  /** Unsigned integer of `n` bytes (n ≤ 6). */
  uint(value: number, n: number): this {
    if (n === 1) return this.u8(value);
    if (n === 2) return this.u16(value);
    if (!Number.isSafeInteger(value) || value < 0 || value >= 2 ** (8 * n)) throw new StreamError(`value ${value} does not fit ${n} bytes`);
    this.ensure(n);
    this.buf.writeUIntBE(value, this.pos, n);
    this.pos += n;
    return this;
  }

  /** One byte. */
  u8(value: number): this {
    if ((value & 0xff) !== value) throw new StreamError(`value ${value} does not fit 1 bytes`);
    this.ensure(1);
    this.buf[this.pos++] = value;
    return this;
  }

  /** Unsigned 16-bit integer. */
  u16(value: number): this {
    if ((value & 0xffff) !== value) throw new StreamError(`value ${value} does not fit 2 bytes`);
    this.ensure(2);
    this.buf[this.pos++] = value >>> 8;
    this.buf[this.pos++] = value & 0xff;
    return this;
  }

  /** Signed 64-bit integer. */
  int64(value: bigint): this {
    this.ensure(8);
    this.buf.writeBigInt64BE(BigInt.asIntN(64, value), this.pos);
    this.pos += 8;
    return this;
  }

  /** Unsigned variable-length integer (7 bits per byte, least significant group first, high bit = more; up to 2^53). */
  varint(value: number): this {
    if (!Number.isSafeInteger(value) || value < 0) throw new StreamError(`bad varint ${value}`);
    this.ensure(8);
    const b = this.buf;
    let p = this.pos;
    let v = value;
    if (v < TWO_POW_32) {
      v >>>= 0;
      while (v >= 0x80) {
        b[p++] = (v & 0x7f) | 0x80;
        v >>>= 7;
      }
    } else {
      while (v >= 0x80) {
        b[p++] = (v % 0x80) | 0x80;
        v = Math.floor(v / 0x80);
      }
    }
    b[p++] = v;
    this.pos = p;
    return this;
  }

  /** Signed varint: zigzag (0, −1, 1, −2, … → 0, 1, 2, 3, …) then varint; |value| < 2^52. */
  zigzag(value: number): this {
    if (!Number.isSafeInteger(value) || Math.abs(value) >= 2 ** 52) throw new StreamError(`bad signed varint ${value}`);
    return this.varint(value >= 0 ? value * 2 : -value * 2 - 1);
  }

  /** var-bytes(n): length in n bytes + data; undefined → the all-ones "null" length. */
  varBytes(data: Buffer | undefined, n: 1 | 2): this {
    const nul = n === 1 ? 0xff : 0xffff;
    if (data === undefined) return this.uint(nul, n);
    if (data.length >= nul) throw new StreamError(`${data.length} bytes do not fit var-bytes(${n})`);
    return this.uint(data.length, n).bytes(data);
  }

  /** The UTF-8 bytes of `text` (no length); `byteLength` = Buffer.byteLength(text). */
  utf8(text: string, byteLength: number): this {
    this.ensure(byteLength);
    this.pos += this.buf.write(text, this.pos, byteLength, 'utf8');
    return this;
  }

  /** string(n): var-bytes(n) of UTF-8. */
  string(text: string | undefined, n: 1 | 2): this {
    return this.varBytes(text === undefined ? undefined : Buffer.from(text, 'utf8'), n);
  }

  /**
   * item: version + length (n bytes) + the content written by `body`. If `body` throws, nothing of the
   * item stays written (the error propagates).
   */
  item(version: number, n: 1 | 2, body: (w: ByteWriter) => void): this {
    const start = this.beginItem(version, n);
    try {
      body(this);
    } catch (err) {
      this.abortItem(start);
      throw err;
    }
    return this.endItem(start, n);
  }

  /** Starts an item (no closure, for hot loops): writes version and room for the length; returns the mark for end/abort. */
  beginItem(version: number, n: 1 | 2): number {
    const start = this.pos;
    this.u8(version);
    this.ensure(n);
    this.pos += n;
    return start;
  }

  /** Ends the item begun at `start`: fills in its length. */
  endItem(start: number, n: 1 | 2): this {
    const contentStart = start + 1 + n;
    const length = this.pos - contentStart;
    if (length >= 2 ** (8 * n)) {
      this.abortItem(start);
      throw new StreamError(`item of ${length} bytes does not fit a ${n}-byte length`);
    }
    if (n === 1) this.buf[start + 1] = length;
    else this.buf.writeUInt16BE(length, start + 1);
    return this;
  }

  /** Drops (and wipes) everything written since the item begun at `start`. */
  abortItem(start: number): void {
    this.buf.fill(0, start, this.pos);
    this.pos = start;
  }

  /** The bytes written (a view of the writer's buffer: wiping it wipes the writer's copy). */
  toBuffer(): Buffer {
    return this.buf.subarray(0, this.pos);
  }
}

/** Reads fields from a buffer; every overrun throws a StreamError. */
export class ByteReader {
  private pos = 0;

  constructor(private readonly buf: Buffer) {}

  /** Bytes left. */
  get remaining(): number {
    return this.buf.length - this.pos;
  }

  /** Bytes read so far (offset into the buffer). */
  get position(): number {
    return this.pos;
  }

  /** The next `n` bytes (a view). */
  bytes(n: number): Buffer {
    if (n < 0 || this.pos + n > this.buf.length) throw new StreamError(`truncated: ${n} bytes needed, ${this.remaining} left`);
    const b = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }

  /** A copy of the next `n` bytes. */
  copy(n: number): Buffer {
    if (n < 0 || this.pos + n > this.buf.length) throw new StreamError(`truncated: ${n} bytes needed, ${this.remaining} left`);
    const b = Buffer.allocUnsafe(n);
    const src = this.buf;
    let p = this.pos;
    if (n <= 64) {
      // short fields (keys, CIDs): a loop beats Buffer.copy's call overhead
      for (let i = 0; i < n; i++) b[i] = src[p++]!;
      this.pos = p;
    } else {
      src.copy(b, 0, p, p + n);
      this.pos += n;
    }
    return b;
  }

  /** Unsigned integer of `n` bytes (n ≤ 6). */
  uint(n: number): number {
    if (this.pos + n > this.buf.length) throw new StreamError(`truncated: ${n} bytes needed, ${this.remaining} left`);
    const v = n === 1 ? this.buf[this.pos]! : this.buf.readUIntBE(this.pos, n);
    this.pos += n;
    return v;
  }

  /** Signed 64-bit integer. */
  int64(): bigint {
    return this.bytes(8).readBigInt64BE(0);
  }

  /** Unsigned variable-length integer written by ByteWriter.varint. */
  varint(): number {
    const b = this.buf;
    let value = 0;
    let scale = 1;
    for (let i = 0; i < 8; i++) {
      if (this.pos >= b.length) throw new StreamError('truncated: varint');
      const byte = b[this.pos++]!;
      value += (byte & 0x7f) * scale;
      if ((byte & 0x80) === 0) {
        if (!Number.isSafeInteger(value)) break;
        return value;
      }
      scale *= 0x80;
    }
    throw new StreamError('bad varint');
  }

  /** Signed varint written by ByteWriter.zigzag. */
  zigzag(): number {
    const z = this.varint();
    return z % 2 === 0 ? z / 2 : -(z + 1) / 2;
  }

  /** var-bytes(n); undefined for "null". The data is copied. */
  varBytes(n: 1 | 2): Buffer | undefined {
    const len = this.uint(n);
    if (len === (n === 1 ? 0xff : 0xffff)) return undefined;
    return this.copy(len);
  }

  /** string(n); undefined for "null". */
  string(n: 1 | 2): string | undefined {
    const len = this.uint(n);
    if (len === (n === 1 ? 0xff : 0xffff)) return undefined;
    return this.bytes(len).toString('utf8');
  }

  /**
   * One item: undefined at the `0x00` end marker; else the version and a reader over exactly its
   * content (length n bytes).
   */
  item(n: 1 | 2): { version: number; content: ByteReader } | undefined {
    const version = this.uint(1);
    if (version === 0) return undefined;
    const len = this.uint(n);
    if (this.pos + len > this.buf.length) throw new StreamError(`truncated: item (version ${version}) of ${len} bytes, ${this.remaining} left`);
    return { version, content: new ByteReader(this.bytes(len)) };
  }

  /** Throws unless every byte was consumed (`what` names the structure). */
  end(what: string): void {
    if (this.remaining !== 0) throw new StreamError(`${what}: ${this.remaining} unexpected trailing bytes`);
  }
}

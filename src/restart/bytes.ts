// Byte writer and bounds-checked reader for the restart stream (restart.md §2 conventions): big-endian
// integers, items (version + 1/2-byte length + content), var-bytes(n) with all-ones = null, strings.
// Every read past the end or with a bad length throws a StreamError (never a RangeError).

/** A malformed or truncated restart stream. */
export class StreamError extends Error {
  override readonly name = 'StreamError';
}

/** Appends big-endian fields; `toBuffer()` returns the bytes written so far. */
export class ByteWriter {
  private readonly parts: Buffer[] = [];
  private size = 0;

  /** Number of bytes written. */
  get length(): number {
    return this.size;
  }

  /** Raw bytes. */
  bytes(b: Buffer): this {
    this.parts.push(b);
    this.size += b.length;
    return this;
  }

  /** Unsigned integer of `n` bytes (n ≤ 6). */
  uint(value: number, n: number): this {
    if (!Number.isSafeInteger(value) || value < 0 || value >= 2 ** (8 * n)) throw new StreamError(`value ${value} does not fit ${n} bytes`);
    const b = Buffer.alloc(n);
    b.writeUIntBE(value, 0, n);
    return this.bytes(b);
  }

  /** Signed 64-bit integer. */
  int64(value: bigint): this {
    const b = Buffer.alloc(8);
    b.writeBigInt64BE(BigInt.asIntN(64, value));
    return this.bytes(b);
  }

  /** Unsigned variable-length integer (7 bits per byte, high bit = more; up to 2^53). */
  varint(value: number): this {
    if (!Number.isSafeInteger(value) || value < 0) throw new StreamError(`bad varint ${value}`);
    const out: number[] = [];
    let v = value;
    for (let i = 0; i < 8 && v >= 0x80; i++) {
      out.push((v % 0x80) | 0x80);
      v = Math.floor(v / 0x80);
    }
    out.push(v);
    return this.bytes(Buffer.from(out));
  }

  /** var-bytes(n): length in n bytes + data; undefined → the all-ones "null" length. */
  varBytes(data: Buffer | undefined, n: 1 | 2): this {
    const nul = n === 1 ? 0xff : 0xffff;
    if (data === undefined) return this.uint(nul, n);
    if (data.length >= nul) throw new StreamError(`${data.length} bytes do not fit var-bytes(${n})`);
    return this.uint(data.length, n).bytes(data);
  }

  /** string(n): var-bytes(n) of UTF-8. */
  string(text: string | undefined, n: 1 | 2): this {
    return this.varBytes(text === undefined ? undefined : Buffer.from(text, 'utf8'), n);
  }

  /** item: version + length (n bytes) + the content written by `body`. */
  item(version: number, n: 1 | 2, body: (w: ByteWriter) => void): this {
    const inner = new ByteWriter();
    body(inner);
    const content = inner.toBuffer();
    if (content.length >= 2 ** (8 * n)) throw new StreamError(`item of ${content.length} bytes does not fit a ${n}-byte length`);
    return this.uint(version, 1).uint(content.length, n).bytes(content);
  }

  /** The bytes written. */
  toBuffer(): Buffer {
    return Buffer.concat(this.parts, this.size);
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

  /** The next `n` bytes (a view). */
  bytes(n: number): Buffer {
    if (n < 0 || this.pos + n > this.buf.length) throw new StreamError(`truncated: ${n} bytes needed, ${this.remaining} left`);
    const b = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }

  /** Unsigned integer of `n` bytes (n ≤ 6). */
  uint(n: number): number {
    return this.bytes(n).readUIntBE(0, n);
  }

  /** Signed 64-bit integer. */
  int64(): bigint {
    return this.bytes(8).readBigInt64BE(0);
  }

  /** Unsigned variable-length integer written by ByteWriter.varint. */
  varint(): number {
    let value = 0;
    let scale = 1;
    for (let i = 0; i < 8; i++) {
      const b = this.uint(1);
      value += (b & 0x7f) * scale;
      if ((b & 0x80) === 0) {
        if (!Number.isSafeInteger(value)) break;
        return value;
      }
      scale *= 0x80;
    }
    throw new StreamError('bad varint');
  }

  /** var-bytes(n); undefined for "null". The data is copied. */
  varBytes(n: 1 | 2): Buffer | undefined {
    const len = this.uint(n);
    if (len === (n === 1 ? 0xff : 0xffff)) return undefined;
    return Buffer.from(this.bytes(len));
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
    return { version, content: new ByteReader(this.bytes(len)) };
  }

  /** Throws unless every byte was consumed (`what` names the structure). */
  end(what: string): void {
    if (this.remaining !== 0) throw new StreamError(`${what}: ${this.remaining} unexpected trailing bytes`);
  }
}

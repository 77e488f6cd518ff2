// Encoding helpers for TLS presentation-language structures (RFC 5246 §4). Encoders throw
// RangeError on locally supplied out-of-range values (a programming error, never peer input).

/** One byte. */
export function u8(v: number): Buffer {
  checkRange(v, 0xff, 'uint8');
  return Buffer.from([v]);
}

/** Big-endian uint16. */
export function u16(v: number): Buffer {
  checkRange(v, 0xffff, 'uint16');
  const b = Buffer.allocUnsafe(2);
  b.writeUInt16BE(v, 0);
  return b;
}

/** Big-endian uint24. */
export function u24(v: number): Buffer {
  checkRange(v, 0xffffff, 'uint24');
  return Buffer.from([(v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff]);
}

/** uint8 length ‖ data, with the length checked against [min, max]. */
export function vector8(data: Uint8Array, field: string, min = 0, max = 0xff): Buffer {
  checkLength(data.length, field, min, max);
  return Buffer.concat([u8(data.length), data]);
}

/** uint16 length ‖ data, with the length checked against [min, max]. */
export function vector16(data: Uint8Array, field: string, min = 0, max = 0xffff): Buffer {
  checkLength(data.length, field, min, max);
  return Buffer.concat([u16(data.length), data]);
}

/** uint24 length ‖ data, with the length checked against [min, max]. */
export function vector24(data: Uint8Array, field: string, min = 0, max = 0xffffff): Buffer {
  checkLength(data.length, field, min, max);
  return Buffer.concat([u24(data.length), data]);
}

/** Exactly n bytes (fixed-size opaque field). */
export function fixed(data: Uint8Array, n: number, field: string): Buffer {
  if (data.length !== n) throw new RangeError(`${field} must be ${n} bytes, got ${data.length}`);
  return Buffer.from(data);
}

/** A list of uint16 values as raw bytes (no length prefix). */
export function u16List(values: readonly number[]): Buffer {
  return Buffer.concat(values.map(u16));
}

/** A list of uint8 values as raw bytes (no length prefix). */
export function u8List(values: readonly number[], field: string): Buffer {
  for (const v of values) checkRange(v, 0xff, field);
  return Buffer.from(values);
}

/** Throws RangeError unless a vector length lies in [min, max]. */
export function checkLength(len: number, field: string, min: number, max: number): void {
  if (len < min || len > max) throw new RangeError(`${field} length ${len} outside [${min}..${max}]`);
}

/** Throws RangeError unless `v` is an integer in [0, max]. */
export function checkRange(v: number, max: number, what: string): void {
  if (!Number.isInteger(v) || v < 0 || v > max) throw new RangeError(`${what} value ${v} out of range`);
}

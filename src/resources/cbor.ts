// CBOR encoding with minimal map headers and true integers for values beyond 32 bits.
import { Encoder } from 'cbor-x';

const encoder = new Encoder({ useRecords: false, variableMapSize: true });

function prepare(value: unknown): unknown {
  if (typeof value === 'number' && Number.isInteger(value) && (value > 0xffffffff || value < -0xffffffff)) {
    return BigInt(value);
  }
  if (Buffer.isBuffer(value) || value instanceof Uint8Array) return value;
  if (Array.isArray(value)) return value.map(prepare);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = prepare(v);
    return out;
  }
  return value;
}

/** Encodes plain data (objects → text-keyed maps in insertion order) as CBOR. */
export function encodeCbor(value: unknown): Buffer {
  return Buffer.from(encoder.encode(prepare(value)));
}

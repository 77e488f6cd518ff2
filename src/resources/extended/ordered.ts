// Ordered key/value documents serialized as compact JSON or CBOR with keys in insertion order
// (JS objects would move integer-like keys such as a group's running number to the front).
import { Encoder } from 'cbor-x';

/** A value of an ordered document: scalars, byte strings or nested ordered maps. */
export type OrderedValue = string | number | Buffer | OrderedMap;

/** An ordered map: key/value pairs in the order they are written. */
export type OrderedMap = Array<[string, OrderedValue]>;

// mapsAsObjects false: a Map is written as a plain CBOR map (no tag 259)
const encoder = new Encoder({ useRecords: false, variableMapSize: true, mapsAsObjects: false });

function toCborValue(value: OrderedValue): unknown {
  if (Array.isArray(value)) return new Map(value.map(([k, v]) => [k, toCborValue(v)]));
  // integers beyond 32 bits as real CBOR integers, not floats
  if (typeof value === 'number' && Number.isInteger(value) && (value > 0xffffffff || value < -0xffffffff)) return BigInt(value);
  return value;
}

/** Encodes an ordered map as a CBOR map (text keys, insertion order). */
export function orderedCbor(map: OrderedMap): Buffer {
  return Buffer.from(encoder.encode(toCborValue(map)));
}

/** Serializes an ordered map as compact JSON (no blanks); byte strings become base64 text. */
export function orderedJson(map: OrderedMap): string {
  const parts = map.map(([k, v]) => `${JSON.stringify(k)}:${jsonValue(v)}`);
  return `{${parts.join(',')}}`;
}

function jsonValue(value: OrderedValue): string {
  if (Array.isArray(value)) return orderedJson(value);
  if (Buffer.isBuffer(value)) return JSON.stringify(value.toString('base64'));
  return JSON.stringify(value);
}

// A small CBOR decoder (RFC 8949) keeping the item types, and the diagnostic notation of its items (§8).

/** A decoded CBOR data item. */
export type CborItem =
  | { kind: 'int'; value: bigint }
  | { kind: 'bytes'; value: Buffer }
  | { kind: 'text'; value: string }
  | { kind: 'array'; items: CborItem[]; indefinite: boolean }
  | { kind: 'map'; entries: Array<[CborItem, CborItem]>; indefinite: boolean }
  | { kind: 'tag'; tag: bigint; item: CborItem }
  | { kind: 'simple'; value: number }
  | { kind: 'float'; value: number };

/** Deepest nesting accepted (protects the stack against hostile payloads). */
export const CBOR_MAX_DEPTH = 64;

/** Raised for malformed or unsupported CBOR. */
export class CborError extends Error {}

const BREAK = Symbol('break');

/** Decodes exactly one CBOR item filling the whole buffer. */
export function decodeCbor(data: Buffer): CborItem {
  const state = { pos: 0 };
  const item = decodeItem(data, state, 0);
  if (item === BREAK) throw new CborError('unexpected break');
  if (state.pos !== data.length) throw new CborError(`${data.length - state.pos} bytes after the CBOR item`);
  return item;
}

function need(data: Buffer, state: { pos: number }, n: number): void {
  if (state.pos + n > data.length) throw new CborError('truncated CBOR item');
}

/** The argument of a head (additional info 0..27); undefined for indefinite length (31). */
function argument(data: Buffer, state: { pos: number }, info: number): bigint | undefined {
  if (info < 24) return BigInt(info);
  if (info === 31) return undefined;
  const size = info === 24 ? 1 : info === 25 ? 2 : info === 26 ? 4 : info === 27 ? 8 : 0;
  if (size === 0) throw new CborError(`reserved additional information ${info}`);
  need(data, state, size);
  const value = size === 8 ? data.readBigUInt64BE(state.pos) : BigInt(data.readUIntBE(state.pos, size));
  state.pos += size;
  return value;
}

function length(value: bigint, data: Buffer, state: { pos: number }, unit: number): number {
  // every element takes at least `unit` bytes: longer lengths cannot fit the rest of the buffer
  if (value * BigInt(unit) > BigInt(data.length - state.pos)) throw new CborError('truncated CBOR item');
  return Number(value);
}

function decodeItem(data: Buffer, state: { pos: number }, depth: number): CborItem | typeof BREAK {
  if (depth > CBOR_MAX_DEPTH) throw new CborError('CBOR nesting too deep');
  need(data, state, 1);
  const head = data[state.pos++]!;
  const major = head >> 5;
  const info = head & 0x1f;
  if (major === 7) return decodeSimple(data, state, info);
  const arg = argument(data, state, info);
  switch (major) {
    case 0:
    case 1:
      if (arg === undefined) throw new CborError('indefinite length integer');
      return { kind: 'int', value: major === 0 ? arg : -1n - arg };
    case 2:
    case 3: {
      let bytes: Buffer;
      if (arg === undefined) {
        const chunks: Buffer[] = [];
        for (;;) {
          const chunk = decodeItem(data, state, depth + 1);
          if (chunk === BREAK) break;
          if (chunk.kind !== (major === 2 ? 'bytes' : 'text')) throw new CborError('bad chunk of an indefinite length string');
          chunks.push(chunk.kind === 'bytes' ? chunk.value : Buffer.from(chunk.value, 'utf8'));
        }
        bytes = Buffer.concat(chunks);
      } else {
        const n = length(arg, data, state, 1);
        bytes = Buffer.from(data.subarray(state.pos, state.pos + n));
        state.pos += n;
      }
      if (major === 2) return { kind: 'bytes', value: bytes };
      const text = new TextDecoder('utf-8', { fatal: true });
      try {
        return { kind: 'text', value: text.decode(bytes) };
      } catch {
        throw new CborError('invalid UTF-8 in a text string');
      }
    }
    case 4: {
      const items: CborItem[] = [];
      if (arg === undefined) {
        for (;;) {
          const item = decodeItem(data, state, depth + 1);
          if (item === BREAK) break;
          items.push(item);
        }
      } else {
        const n = length(arg, data, state, 1);
        for (let i = 0; i < n; i++) items.push(noBreak(decodeItem(data, state, depth + 1)));
      }
      return { kind: 'array', items, indefinite: arg === undefined };
    }
    case 5: {
      const entries: Array<[CborItem, CborItem]> = [];
      if (arg === undefined) {
        for (;;) {
          const key = decodeItem(data, state, depth + 1);
          if (key === BREAK) break;
          entries.push([key, noBreak(decodeItem(data, state, depth + 1))]);
        }
      } else {
        const n = length(arg, data, state, 2);
        for (let i = 0; i < n; i++) entries.push([noBreak(decodeItem(data, state, depth + 1)), noBreak(decodeItem(data, state, depth + 1))]);
      }
      return { kind: 'map', entries, indefinite: arg === undefined };
    }
    default: {
      // major 6: tag
      if (arg === undefined) throw new CborError('indefinite length tag');
      return { kind: 'tag', tag: arg, item: noBreak(decodeItem(data, state, depth + 1)) };
    }
  }
}

function noBreak(item: CborItem | typeof BREAK): CborItem {
  if (item === BREAK) throw new CborError('unexpected break');
  return item;
}

function decodeSimple(data: Buffer, state: { pos: number }, info: number): CborItem | typeof BREAK {
  if (info < 24) return { kind: 'simple', value: info };
  if (info === 24) {
    need(data, state, 1);
    return { kind: 'simple', value: data[state.pos++]! };
  }
  if (info === 31) return BREAK;
  const size = info === 25 ? 2 : info === 26 ? 4 : info === 27 ? 8 : 0;
  if (size === 0) throw new CborError(`reserved additional information ${info}`);
  need(data, state, size);
  const value = size === 2 ? halfFloat(data.readUInt16BE(state.pos)) : size === 4 ? data.readFloatBE(state.pos) : data.readDoubleBE(state.pos);
  state.pos += size;
  return { kind: 'float', value };
}

/** IEEE 754 half precision to number (RFC 8949 Appendix D). */
function halfFloat(half: number): number {
  const exp = (half >> 10) & 0x1f;
  const mant = half & 0x3ff;
  const value = exp === 0 ? mant * 2 ** -24 : exp !== 31 ? (mant + 1024) * 2 ** (exp - 25) : mant === 0 ? Infinity : NaN;
  return half & 0x8000 ? -value : value;
}

/** Options of the diagnostic notation. */
export interface DiagnosticOptions {
  /** mask integer values of map entries with the text key `port` with 0xFFFF (signed 16-bit ports of `/requests`) */
  maskPorts?: boolean;
}

/** Diagnostic notation of an item (RFC 8949 §8), on one line: `[{"rid": "RID1", "ep": h'7f000001'}]`. */
export function cborDiagnostic(item: CborItem, opts: DiagnosticOptions = {}): string {
  switch (item.kind) {
    case 'int':
      return item.value.toString();
    case 'bytes':
      return `h'${item.value.toString('hex')}'`;
    case 'text':
      return JSON.stringify(item.value);
    case 'array':
      return `[${item.indefinite ? '_ ' : ''}${item.items.map((i) => cborDiagnostic(i, opts)).join(', ')}]`;
    case 'map': {
      const entries = item.entries.map(([k, v]) => {
        const masked = opts.maskPorts && k.kind === 'text' && k.value === 'port' && v.kind === 'int' ? { kind: 'int' as const, value: v.value & 0xffffn } : v;
        return `${cborDiagnostic(k, opts)}: ${cborDiagnostic(masked, opts)}`;
      });
      return `{${item.indefinite ? '_ ' : ''}${entries.join(', ')}}`;
    }
    case 'tag':
      return `${item.tag}(${cborDiagnostic(item.item, opts)})`;
    case 'float':
      return floatText(item.value);
    case 'simple':
      return item.value === 20 ? 'false' : item.value === 21 ? 'true' : item.value === 22 ? 'null' : item.value === 23 ? 'undefined' : `simple(${item.value})`;
  }
}

function floatText(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (!Number.isFinite(v)) return v > 0 ? 'Infinity' : '-Infinity';
  if (Object.is(v, -0)) return '-0.0';
  const text = String(v);
  return /[.e]/.test(text) ? text : text + '.0';
}

/** The value of the text key `key` of a map item (undefined if missing or not a map). */
export function cborMapGet(item: CborItem, key: string): CborItem | undefined {
  if (item.kind !== 'map') return undefined;
  for (const [k, v] of item.entries) if (k.kind === 'text' && k.value === key) return v;
  return undefined;
}

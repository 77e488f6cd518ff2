// Option access helpers (RFC 7252 §5.4, §3.2 uint values, RFC 7959 §2.2 block values).
import { type CoapMessage, type CoapOption, Opt, EMPTY } from './message.js';

/** First option with that number, or undefined. */
export function getOption(msg: CoapMessage, number: number): Buffer | undefined {
  const opts = msg.options;
  for (let i = 0; i < opts.length; i++) {
    const o = opts[i]!;
    if (o.number === number) return o.value;
    if (o.number > number) return undefined;
  }
  return undefined;
}

/** True if the message carries that option. */
export function hasOption(msg: CoapMessage, number: number): boolean {
  return getOption(msg, number) !== undefined;
}

/** All values of a repeatable option, in order. */
export function getOptions(msg: CoapMessage, number: number): Buffer[] {
  const out: Buffer[] = [];
  for (const o of msg.options) {
    if (o.number === number) out.push(o.value);
    else if (o.number > number) break;
  }
  return out;
}

/** Decodes a uint option value (§3.2: big-endian, leading zeros allowed). */
export function decodeUint(value: Buffer): number {
  let v = 0;
  for (let i = 0; i < value.length; i++) v = v * 256 + value[i]!;
  return v;
}

/** Encodes a uint option value in the fewest bytes (0 → zero-length). */
export function encodeUint(v: number): Buffer {
  if (v === 0) return EMPTY;
  if (v < 0x100) return Buffer.from([v]);
  if (v < 0x10000) return Buffer.from([v >> 8, v & 0xff]);
  if (v < 0x1000000) return Buffer.from([v >> 16, (v >> 8) & 0xff, v & 0xff]);
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32BE(v >>> 0);
  return b;
}

/** Value of a uint option, or undefined when absent. */
export function getUint(msg: CoapMessage, number: number): number | undefined {
  const v = getOption(msg, number);
  return v === undefined ? undefined : decodeUint(v);
}

/** Inserts an option keeping the list sorted (after existing options of the same number). */
export function addOption(options: CoapOption[], number: number, value: Buffer): void {
  let i = options.length;
  while (i > 0 && options[i - 1]!.number > number) i--;
  options.splice(i, 0, { number, value });
}

/** Replaces all options of that number with one value. */
export function setOption(options: CoapOption[], number: number, value: Buffer): void {
  removeOption(options, number);
  addOption(options, number, value);
}

/** Removes all options of that number. */
export function removeOption(options: CoapOption[], number: number): void {
  for (let i = options.length - 1; i >= 0; i--) {
    if (options[i]!.number === number) options.splice(i, 1);
  }
}

/** Sorts options by number, stable for repeated options. */
export function sortOptions(options: CoapOption[]): CoapOption[] {
  return options.sort((a, b) => a.number - b.number);
}

/** Uri-Path segments as strings. */
export function uriPath(msg: CoapMessage): string[] {
  return getOptions(msg, Opt.URI_PATH).map((v) => v.toString('utf8'));
}

/** Uri-Query options as strings. */
export function uriQuery(msg: CoapMessage): string[] {
  return getOptions(msg, Opt.URI_QUERY).map((v) => v.toString('utf8'));
}

/** Content-Format of the message, or undefined. */
export function contentFormat(msg: CoapMessage): number | undefined {
  return getUint(msg, Opt.CONTENT_FORMAT);
}

/** Accept option of the message, or undefined. */
export function accept(msg: CoapMessage): number | undefined {
  return getUint(msg, Opt.ACCEPT);
}

/** A decoded Block1/Block2 option (RFC 7959 §2.2). */
export interface Block {
  num: number;
  more: boolean;
  szx: number;
}

/** Block size in bytes for a SZX (0..6 → 16..1024). */
export function blockSize(szx: number): number {
  return 1 << (szx + 4);
}

/** SZX for a block size (rounded down to a power of two, 16..1024). */
export function sizeToSzx(size: number): number {
  let szx = 0;
  while (szx < 6 && blockSize(szx + 1) <= size) szx++;
  return szx;
}

/** Decodes a block option value; undefined when it is malformed (more than 3 bytes, SZX 7). */
export function decodeBlock(value: Buffer): Block | undefined {
  if (value.length > 3) return undefined;
  const v = decodeUint(value);
  const szx = v & 7;
  if (szx === 7) return undefined;
  return { num: v >> 4, more: (v & 8) !== 0, szx };
}

/** Encodes a block option value. */
export function encodeBlock(b: Block): Buffer {
  return encodeUint(b.num * 16 + (b.more ? 8 : 0) + b.szx);
}

/** §5.4.1: options with an odd number are critical. */
export function isCritical(number: number): boolean {
  return (number & 1) === 1;
}

const KNOWN = new Set<number>(Object.values(Opt));

/** True for options this stack recognizes. */
export function isKnownOption(number: number): boolean {
  return KNOWN.has(number);
}

/** Text of the request URI path, `/a/b` (`/` for none). */
export function pathString(msg: CoapMessage): string {
  return '/' + uriPath(msg).join('/');
}

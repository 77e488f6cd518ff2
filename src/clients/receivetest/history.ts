// The `/requests` history as the receive test client lists it with `-v` (clients.md §6), from JSON or CBOR.
import { cborMapGet, type CborItem } from './cbor-diag.js';
import { REQUEST_ID_PREFIX } from './target.js';

/** Largest |server time - request time| shown as a difference in ms; larger ones show the receive time. */
export const MAX_DIFF_TIME_IN_MILLIS = 30_000;

/** One element of the history array: the server start or a recorded request. */
export type HistoryItem = { systemStart: number } | HistoryEntry;

/** A recorded request: id, server receive time (epoch ms) and, if recorded, the source address. */
export interface HistoryEntry {
  rid: string;
  time: number;
  /** source IP as text (IPv6 without brackets) */
  ip?: string;
  port?: number;
}

/** Raised when a payload does not have the `/requests` layout (the caller falls back to a plain print). */
export class HistoryFormatError extends Error {}

const pad = (n: number, width = 2) => String(n).padStart(width, '0');

function localDate(ms: number): Date {
  const d = new Date(ms);
  if (Number.isNaN(d.getTime())) throw new HistoryFormatError(`time ${ms} out of range`);
  return d;
}

/** Local time as `HH:mm:ss dd.MM.yyyy` (the reference's format). */
export function formatTime(ms: number): string {
  const d = localDate(ms);
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())} ${pad(d.getDate())}.${pad(d.getMonth() + 1)}.${pad(d.getFullYear(), 4)}`;
}

/** Local time with milliseconds as `HH:mm:ss.SSS dd.MM.yyyy` (used for the request time taken from a RID). */
export function formatRequestTime(ms: number): string {
  const d = localDate(ms);
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)} ${pad(d.getDate())}.${pad(d.getMonth() + 1)}.${pad(d.getFullYear(), 4)}`;
}

/** Request time (epoch ms) of a `RID<ms>` id; undefined for other ids; throws for `RID` with a bad number. */
export function requestTimeOf(rid: string): number | undefined {
  if (!rid.startsWith(REQUEST_ID_PREFIX)) return undefined;
  const digits = rid.slice(REQUEST_ID_PREFIX.length);
  const ms = /^[+-]?\d+$/.test(digits) ? Number(digits) : NaN;
  if (!Number.isSafeInteger(ms)) throw new HistoryFormatError(`bad request id ${rid}`);
  return ms;
}

/** The lines listing the history: `Server's system start: ..`, `Request: .., received: ..` and `    (<ip>:<port>)`. */
export function historyLines(items: readonly HistoryItem[]): string[] {
  const lines: string[] = [];
  for (const item of items) {
    if ('systemStart' in item) {
      lines.push(`Server's system start: ${formatTime(item.systemStart)}`);
      continue;
    }
    const requestTime = requestTimeOf(item.rid);
    if (requestTime === undefined) {
      lines.push(`Request: ${item.rid}, received: ${formatTime(item.time)}`);
    } else {
      const diff = item.time - requestTime;
      const received = -MAX_DIFF_TIME_IN_MILLIS < diff && diff < MAX_DIFF_TIME_IN_MILLIS ? `${diff} ms` : formatTime(item.time);
      lines.push(`Request: ${formatRequestTime(requestTime)}, received: ${received}`);
    }
    if (item.ip !== undefined) {
      const ip = item.ip.includes(':') ? `[${item.ip}]` : item.ip;
      lines.push(`    (${ip}:${item.port})`);
    }
  }
  return lines;
}

function jsonInteger(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) throw new HistoryFormatError(`${what} is no integer`);
  return value;
}

/** The history of a parsed JSON payload; throws HistoryFormatError when it has another layout. */
export function jsonHistory(value: unknown): HistoryItem[] {
  if (!Array.isArray(value)) throw new HistoryFormatError('no JSON array');
  return value.map((item: unknown): HistoryItem => {
    if (item === null || typeof item !== 'object' || Array.isArray(item)) throw new HistoryFormatError('no JSON object');
    const o = item as Record<string, unknown>;
    if (!('rid' in o)) return { systemStart: jsonInteger(o.systemstart, 'systemstart') };
    if (typeof o.rid !== 'string') throw new HistoryFormatError('rid is no string');
    const entry: HistoryEntry = { rid: o.rid, time: jsonInteger(o.time, 'time') };
    if ('ep' in o) {
      if (typeof o.ep !== 'string') throw new HistoryFormatError('ep is no string');
      entry.ip = o.ep;
      entry.port = jsonInteger(o.port, 'port');
    }
    return entry;
  });
}

function cborInteger(item: CborItem | undefined, what: string): number {
  if (item?.kind !== 'int') throw new HistoryFormatError(`${what} is no integer`);
  const n = Number(item.value);
  if (!Number.isSafeInteger(n)) throw new HistoryFormatError(`${what} out of range`);
  return n;
}

/** Address text of raw IP bytes as Java prints it: dotted IPv4 (also for IPv4-mapped IPv6), else 8 hex groups. */
export function ipBytesText(bytes: Buffer): string {
  if (bytes.length === 4) return Array.from(bytes).join('.');
  if (bytes.length !== 16) throw new HistoryFormatError(`address of ${bytes.length} bytes`);
  const mapped = bytes.subarray(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff;
  if (mapped) return Array.from(bytes.subarray(12)).join('.');
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(bytes.readUInt16BE(i).toString(16));
  return groups.join(':');
}

/**
 * The history of a decoded CBOR payload; throws HistoryFormatError when it has another layout.
 * Ports are masked with 0xFFFF: the reference server sends them as signed 16-bit values.
 */
export function cborHistory(root: CborItem): HistoryItem[] {
  if (root.kind !== 'array') throw new HistoryFormatError('no CBOR array');
  return root.items.map((item): HistoryItem => {
    if (item.kind !== 'map') throw new HistoryFormatError('no CBOR map');
    const rid = cborMapGet(item, 'rid');
    if (rid === undefined) return { systemStart: cborInteger(cborMapGet(item, 'systemstart'), 'systemstart') };
    if (rid.kind !== 'text') throw new HistoryFormatError('rid is no text');
    const entry: HistoryEntry = { rid: rid.value, time: cborInteger(cborMapGet(item, 'time'), 'time') };
    const ep = cborMapGet(item, 'ep');
    if (ep !== undefined) {
      if (ep.kind !== 'bytes') throw new HistoryFormatError('ep is no byte string');
      entry.ip = ipBytesText(ep.value);
      const port = cborInteger(cborMapGet(item, 'port'), 'port');
      if (port < -0x8000 || port > 0xffff) throw new HistoryFormatError(`port ${port} out of range`);
      entry.port = port & 0xffff;
    }
    return entry;
  });
}

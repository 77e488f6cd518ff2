// The `pretty` log format: pino's JSON records as one readable line each,
//   20:51:03.123 INFO  EXTENDED-TEST endpoint started coaps://127.0.0.1:5784
// (local time of day, level padded to 5, the `server` tag when present, the message, then the other
// fields). Written synchronously, so nothing is lost when the process exits right after logging.

/** pino's level numbers → labels. */
const LEVEL_LABELS: Readonly<Record<number, string>> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };

/** ANSI colours of the level labels. */
const LEVEL_COLORS: Readonly<Record<number, string>> = { 10: '\x1b[90m', 20: '\x1b[36m', 30: '\x1b[32m', 40: '\x1b[33m', 50: '\x1b[31m', 60: '\x1b[41m\x1b[97m' };
const RESET = '\x1b[0m';

/** Fields shown in the line's head (or never): time, level, server tag, message, pino's process fields. */
const HEAD_KEYS = new Set(['level', 'time', 'msg', 'server', 'worker', 'pid', 'hostname', 'v']);

/**
 * Fields for JSON consumers only: their content is already in the message text (e.g. the counters of a
 * health line as numbers, `stats`).
 */
export const JSON_ONLY_KEYS: ReadonlySet<string> = new Set(['stats']);

/** Fields shown by value only, right after the message (e.g. `endpoint started coap://…`). */
const BARE_KEYS = new Set(['endpoint']);

/** Formatting options. */
export interface PrettyOptions {
  /** ANSI colour for the level label */
  colorize?: boolean;
}

/** `HH:MM:SS.mmm` in local time. */
export function timeOfDay(ms: number): string {
  const d = new Date(ms);
  const p2 = (n: number): string => String(n).padStart(2, '0');
  return `${p2(d.getHours())}:${p2(d.getMinutes())}:${p2(d.getSeconds())}.${String(d.getMilliseconds()).padStart(3, '0')}`;
}

/** A field value: plain text if it has no blanks or quotes, otherwise JSON; objects as compact JSON. */
function valueText(value: unknown): string {
  if (typeof value === 'string') return value !== '' && /^[^\s"=]+$/.test(value) ? value : JSON.stringify(value);
  if (typeof value === 'object' && value !== null) return JSON.stringify(value);
  return String(value);
}

/** A serialized error (pino's `err` serializer): `Type: message`, plus the stack for errors and worse. */
function errorText(err: unknown, level: number): { inline: string; stack?: string } {
  if (typeof err !== 'object' || err === null) return { inline: valueText(err) };
  const e = err as { type?: unknown; message?: unknown; stack?: unknown; code?: unknown };
  const type = typeof e.type === 'string' && e.type !== 'Error' ? `${e.type}: ` : '';
  const code = typeof e.code === 'string' ? ` (${e.code})` : '';
  const inline = JSON.stringify(`${type}${String(e.message ?? '')}${code}`);
  const stack = level >= 50 && typeof e.stack === 'string' ? e.stack : undefined;
  return { inline, stack };
}

/** Formats one pino record (already parsed) as a line with a trailing newline. */
export function formatRecord(rec: Record<string, unknown>, opts: PrettyOptions = {}): string {
  const level = typeof rec.level === 'number' ? rec.level : 30;
  const label = (LEVEL_LABELS[level] ?? `L${level}`).padEnd(5);
  const time = typeof rec.time === 'number' ? timeOfDay(rec.time) : typeof rec.time === 'string' ? rec.time : timeOfDay(Date.now());
  const msg = rec.msg === undefined ? '' : String(rec.msg);
  const parts: string[] = [time, opts.colorize ? `${LEVEL_COLORS[level] ?? ''}${label}${RESET}` : label];
  // a worker process of a multi-worker server (issue 13) tags its lines with its index: `EXTENDED-TEST#1`, `worker#1`
  const worker = rec.worker === undefined ? '' : `#${String(rec.worker)}`;
  if (rec.server !== undefined) parts.push(`${String(rec.server)}${worker}`);
  else if (worker !== '') parts.push(`worker${worker}`);
  if (msg !== '') parts.push(msg);
  const stacks: string[] = [];
  for (const [key, value] of Object.entries(rec)) {
    if (HEAD_KEYS.has(key) || JSON_ONLY_KEYS.has(key) || value === undefined) continue;
    // a text the message already tells is not repeated
    if (typeof value === 'string' && value !== '' && msg.includes(value)) continue;
    if (BARE_KEYS.has(key)) {
      parts.push(valueText(value));
    } else if (key === 'err' || key === 'error') {
      const e = errorText(value, level);
      parts.push(`${key}=${e.inline}`);
      if (e.stack !== undefined) stacks.push(e.stack);
    } else {
      parts.push(`${key}=${valueText(value)}`);
    }
  }
  let line = parts.join(' ') + '\n';
  for (const stack of stacks) line += stack.replace(/^/gm, '    ') + '\n';
  return line;
}

/** Formats one serialized pino line; a line that is not a JSON object is passed through unchanged. */
export function formatLine(json: string, opts: PrettyOptions = {}): string {
  let rec: unknown;
  try {
    rec = JSON.parse(json);
  } catch {
    return json.endsWith('\n') ? json : json + '\n';
  }
  if (typeof rec !== 'object' || rec === null || Array.isArray(rec)) return json.endsWith('\n') ? json : json + '\n';
  return formatRecord(rec as Record<string, unknown>, opts);
}

/** Where formatted lines go (a synchronous pino destination). */
export interface LineSink {
  write(text: string): unknown;
}

/** A pino destination stream that formats each record and writes it to `sink`. */
export class PrettyStream {
  constructor(
    private readonly sink: LineSink,
    private readonly opts: PrettyOptions = {},
  ) {}

  /** pino writes one serialized record (ending in a newline) per call. */
  write(chunk: string): boolean {
    this.sink.write(formatLine(chunk.endsWith('\n') ? chunk.slice(0, -1) : chunk, this.opts));
    return true;
  }

  /** `logger.flush()`: the sink is synchronous, nothing is buffered. */
  flush(cb?: (err?: Error) => void): void {
    cb?.();
  }
}

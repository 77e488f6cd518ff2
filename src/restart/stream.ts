// The plain "components" stream of restart.md §2: time mark item, `COMPONENTS`, per DTLS connector its
// label and connection items (ended by 0x00), and the 0xFFFF terminator. Reading applies the time shift
// and hands each completely parsed component to a sink (all-or-nothing per component).
import type { ConnectionJson } from '../dtls/connection.js';
import { ByteReader, ByteWriter, StreamError } from './bytes.js';
import { readConnectionItem, writeConnectionItem } from './connection-item.js';
import { loadingMapping, nowMark, savingMapping, type TimeMark } from './time-mark.js';

/** string(1) after the time mark. */
export const COMPONENTS_MARKER = 'COMPONENTS';

/** Upper bound of components in one stream (bounded loop). */
export const MAX_COMPONENTS = 4096;

/** Upper bound of connections per component (bounded loop). */
export const MAX_ITEMS_PER_COMPONENT = 10_000_000;

/** One persistent component: a DTLS connector's label and its connections. */
export interface Component {
  label: string;
  connections: readonly ConnectionJson[];
}

/** Component label of a DTLS connector: `dtls://<host>:<port>` with the URI form of the bound address. */
export function componentLabel(address: string, port: number): string {
  if (!address.includes(':')) return `dtls://${address}:${port}`;
  const zone = address.indexOf('%');
  const host = zone < 0 ? address : `${address.substring(0, zone)}%25${address.substring(zone + 1)}`;
  return `dtls://[${host}]:${port}`;
}

/** Writes the plain stream; `mark` defaults to now; a connection that cannot be encoded is skipped and reported. */
export function writeStream(components: readonly Component[], mark: TimeMark = nowMark(), onSkip?: (label: string, err: Error) => void): Buffer {
  const out = new ByteWriter();
  out.item(1, 1, (b) => b.int64(BigInt(Math.round(mark.wallMs))).int64(mark.monoNs));
  out.string(COMPONENTS_MARKER, 1);
  const toMono = savingMapping(mark);
  for (const c of components) {
    out.string(c.label, 2);
    for (const conn of c.connections) {
      try {
        writeConnectionItem(out, conn, toMono);
      } catch (err) {
        onSkip?.(c.label, err as Error);
      }
    }
    out.uint(0, 1);
  }
  out.string(undefined, 2);
  return out.toBuffer();
}

/** Receives each completely parsed component (may throw: the error is reported for its label). */
export type ComponentSink = (component: Component) => void;

/** Outcome of reading a stream: components and items read, and the parse error (with the failing label) if any. */
export interface StreamReadResult {
  components: number;
  items: number;
  error?: { message: string; label: string | undefined };
}

/**
 * Reads a plain stream, delivering each component to `sink` once all its items parsed. A parse error
 * ends the reading (earlier components stay delivered) and is reported with the failing label.
 */
export function readStream(data: Buffer, sink: ComponentSink, now: TimeMark = nowMark()): StreamReadResult {
  const r = new ByteReader(data);
  const result: StreamReadResult = { components: 0, items: 0 };
  let label: string | undefined;
  try {
    const mark = r.item(1);
    if (mark === undefined || mark.version !== 1) throw new StreamError('time mark missing');
    const saved: TimeMark = { wallMs: Number(mark.content.int64()), monoNs: mark.content.int64() };
    mark.content.end('time mark');
    if (r.string(1) !== COMPONENTS_MARKER) throw new StreamError(`'${COMPONENTS_MARKER}' missing`);
    const fromMono = loadingMapping(saved, now);
    for (let n = 0; n <= MAX_COMPONENTS; n++) {
      label = undefined;
      label = r.string(2);
      if (label === undefined) {
        r.end('stream');
        return result;
      }
      if (n === MAX_COMPONENTS) throw new StreamError(`more than ${MAX_COMPONENTS} components`);
      const connections: ConnectionJson[] = [];
      for (let i = 0; ; i++) {
        if (i > MAX_ITEMS_PER_COMPONENT) throw new StreamError('too many items');
        const item = r.item(2);
        if (item === undefined) break;
        connections.push(readConnectionItem(item.version, item.content, fromMono));
      }
      sink({ label, connections });
      result.components++;
      result.items += connections.length;
    }
    throw new StreamError('terminator missing');
  } catch (err) {
    result.error = { message: (err as Error).message, label };
    return result;
  }
}

// The plain "components" stream of restart.md §2: time mark item, `COMPONENTS`, per DTLS connector its
// label and connection items (ended by 0x00), and the 0xFFFF terminator. Reading applies the time shift
// and hands each completely parsed and verified component to a sink (all-or-nothing per component).
//
// Inside a component's item list (this project's own inner layout, restart.md §2), the last item before
// the 0x00 end marker is a digest item: version 0xFF, 2-byte length 16, the first 16 bytes of SHA-256
// over every stream byte before that item (time mark, marker, the earlier components, this label and
// its connection items). The AES-CBC envelope written by the server (restart.md §4) has no integrity of
// its own: a damaged file must be refused, never restore connections with altered keys or ages.
import { createHash } from 'node:crypto';
import type { Connection } from '../dtls/connection.js';
import { ByteReader, ByteWriter, StreamError } from './bytes.js';
import { itemReadContext, itemWriteContext, readConnectionItem, writeConnectionItem } from './connection-item.js';
import { loadingMapping, nowMark, type TimeMark } from './time-mark.js';

/** string(1) after the time mark. */
export const COMPONENTS_MARKER = 'COMPONENTS';

/** Upper bound of components in one stream (bounded loop). */
export const MAX_COMPONENTS = 4096;

/** Upper bound of connections per component (bounded loop). */
export const MAX_ITEMS_PER_COMPONENT = 10_000_000;

/** Version byte of the digest item that ends a component's item list. */
export const DIGEST_ITEM_VERSION = 0xff;

/** Length of the digest (truncated SHA-256). */
export const DIGEST_LENGTH = 16;

/** One persistent component: a DTLS connector's label and its established connections. */
export interface Component {
  label: string;
  connections: readonly Connection[];
}

/** Component label of a DTLS connector: `dtls://<host>:<port>` with the URI form of the bound address. */
export function componentLabel(address: string, port: number): string {
  if (!address.includes(':')) return `dtls://${address}:${port}`;
  const zone = address.indexOf('%');
  const host = zone < 0 ? address : `${address.substring(0, zone)}%25${address.substring(zone + 1)}`;
  return `dtls://[${host}]:${port}`;
}

/** Running SHA-256 over a growing byte sequence; digest(n) covers its first n bytes. */
class RunningDigest {
  private readonly hash = createHash('sha256');
  private hashed = 0;

  digest(data: Buffer, upTo: number): Buffer {
    this.hash.update(data.subarray(this.hashed, upTo));
    this.hashed = upTo;
    return this.hash.copy().digest().subarray(0, DIGEST_LENGTH);
  }
}

/** Writes the plain stream; `mark` defaults to now; a connection that cannot be encoded is skipped and reported. */
export function writeStream(components: readonly Component[], mark: TimeMark = nowMark(), onSkip?: (label: string, err: Error) => void): Buffer {
  const estimate = components.reduce((n, c) => n + 64 + c.label.length + 200 * c.connections.length, 64);
  const out = new ByteWriter(estimate);
  out.item(1, 1, (b) => b.int64(BigInt(Math.round(mark.wallMs))).int64(mark.monoNs));
  out.string(COMPONENTS_MARKER, 1);
  const digest = new RunningDigest();
  for (const c of components) {
    out.string(c.label, 2);
    const ctx = itemWriteContext(Math.round(mark.wallMs));
    for (const conn of c.connections) {
      try {
        writeConnectionItem(out, conn, ctx);
      } catch (err) {
        onSkip?.(c.label, err as Error);
      }
    }
    const d = digest.digest(out.toBuffer(), out.length);
    out.item(DIGEST_ITEM_VERSION, 2, (b) => b.bytes(d));
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
  /**
   * Why reading stopped: `message` is the reason, `where` the place (e.g. `component dtls://…:5684,
   * item 3`), `label` the component being read (undefined in the header, between components or at the
   * terminator).
   */
  error?: { message: string; where: string; label: string | undefined };
}

/**
 * Reads a plain stream, delivering each component to `sink` once all its items parsed and its digest
 * matched. A parse error ends the reading (earlier components stay delivered) and is reported with the
 * failing label.
 */
export function readStream(data: Buffer, sink: ComponentSink, now: TimeMark = nowMark()): StreamReadResult {
  const r = new ByteReader(data);
  const result: StreamReadResult = { components: 0, items: 0 };
  let label: string | undefined;
  let where = 'the stream header';
  try {
    const mark = r.item(1);
    if (mark === undefined || mark.version !== 1) throw new StreamError('time mark missing');
    if (mark.content.remaining !== 16) throw new StreamError(`time mark of ${mark.content.remaining} bytes`);
    const saved: TimeMark = { wallMs: Number(mark.content.int64()), monoNs: mark.content.int64() };
    if (r.string(1) !== COMPONENTS_MARKER) throw new StreamError(`'${COMPONENTS_MARKER}' missing`);
    const activityBase = loadingMapping(saved, now)(saved.monoNs);
    const digest = new RunningDigest();
    for (let n = 0; n <= MAX_COMPONENTS; n++) {
      where = n === 0 ? 'the first component label' : `the component label after ${result.components} component(s)`;
      label = r.string(2);
      if (label === undefined) {
        where = 'the stream end';
        r.end('stream');
        return result;
      }
      if (n === MAX_COMPONENTS) throw new StreamError(`more than ${MAX_COMPONENTS} components`);
      const connections: Connection[] = [];
      const ctx = itemReadContext(saved.wallMs, activityBase);
      for (let i = 0; ; i++) {
        where = `component ${label}, item ${i + 1}`;
        if (i > MAX_ITEMS_PER_COMPONENT) throw new StreamError('too many items');
        const start = r.position;
        const item = r.item(2);
        if (item === undefined) throw new StreamError('digest item missing');
        if (item.version === DIGEST_ITEM_VERSION) {
          where = `component ${label}, digest`;
          const expected = digest.digest(data, start);
          if (!item.content.bytes(DIGEST_LENGTH).equals(expected)) throw new StreamError('digest mismatch (damaged data)');
          item.content.end('digest item');
          if (r.uint(1) !== 0) throw new StreamError('end of component missing after the digest');
          break;
        }
        connections.push(readConnectionItem(item.version, item.content, ctx));
      }
      where = `component ${label}`;
      sink({ label, connections });
      result.components++;
      result.items += connections.length;
      label = undefined;
    }
    throw new StreamError('terminator missing');
  } catch (err) {
    result.error = { message: (err as Error).message, where, label };
    return result;
  }
}

// `/requests` device histories shared by the workers of one server (issue 13): the primary keeps the one
// history store (a device whose source port changes may reach another worker, and must still see one history,
// and the histories outlive a worker that dies); each worker's `/requests` records through IPC and answers with
// the history the primary sends back. Messages are plain JSON (the default IPC serialization):
//   worker -> primary { type: 'requests.record', id, dev, entry }   primary -> worker { type: 'requests.history', id, entries }
// with an entry's IP address as an array of byte values.
import type { LocalRequestHistory, RequestHistory } from '../resources/extended/request-history.js';
import type { RequestEntry } from '../resources/extended/requests.js';

/** The message side of one IPC channel (a forked worker as the primary sees it, or the primary as a worker sees it). */
export interface IpcPort {
  /** false when the channel is closed */
  send(message: unknown): boolean;
  /** subscribes to the channel's messages; returns the unsubscribe function */
  onMessage(handler: (message: unknown) => void): () => void;
}

/** An entry as it crosses the channel. */
interface WireEntry {
  rid: string;
  time: number;
  ip?: number[];
  port?: number;
}

interface RecordMessage {
  type: 'requests.record';
  id: number;
  dev: string;
  entry: WireEntry;
}

interface HistoryMessage {
  type: 'requests.history';
  id: number;
  entries: WireEntry[];
}

function toWire(e: RequestEntry): WireEntry {
  return { rid: e.rid, time: e.time, ...(e.ip !== undefined ? { ip: [...e.ip] } : {}), ...(e.port !== undefined ? { port: e.port } : {}) };
}

function fromWire(w: WireEntry): RequestEntry {
  return { rid: w.rid, time: w.time, ...(w.ip !== undefined ? { ip: Buffer.from(w.ip) } : {}), ...(w.port !== undefined ? { port: w.port } : {}) };
}

/** A well-formed record message (the channel is ours, but a bad message must not throw in the primary). */
function isRecord(m: unknown): m is RecordMessage {
  if (typeof m !== 'object' || m === null) return false;
  const r = m as Partial<RecordMessage>;
  return r.type === 'requests.record' && typeof r.id === 'number' && typeof r.dev === 'string' && typeof r.entry?.rid === 'string' && typeof r.entry.time === 'number';
}

/** Primary side: answers the record messages arriving on `port` (one worker's channel) from `history`. Returns the unsubscribe. */
export function serveRequestHistory(port: IpcPort, history: LocalRequestHistory): () => void {
  return port.onMessage((m) => {
    if (!isRecord(m)) return;
    const entries = history.record(m.dev, fromWire(m.entry)).map(toWire);
    const reply: HistoryMessage = { type: 'requests.history', id: m.id, entries };
    port.send(reply);
  });
}

/** Worker side: a RequestHistory recorded in the primary; a record unanswered in `timeoutMs` (or beyond `maxPending`) fails. */
export function remoteRequestHistory(port: IpcPort, timeoutMs = 2000, maxPending = 1024): RequestHistory & { close(): void } {
  let nextId = 1;
  const pending = new Map<number, { resolve: (h: readonly RequestEntry[]) => void; reject: (err: Error) => void; timer: NodeJS.Timeout }>();
  const unsubscribe = port.onMessage((m) => {
    const h = m as Partial<HistoryMessage>;
    if (typeof m !== 'object' || m === null || h.type !== 'requests.history' || typeof h.id !== 'number' || !Array.isArray(h.entries)) return;
    const p = pending.get(h.id);
    if (p === undefined) return; // timed out already
    pending.delete(h.id);
    clearTimeout(p.timer);
    p.resolve(h.entries.map(fromWire));
  });
  return {
    record(dev, entry) {
      if (pending.size >= maxPending) return Promise.reject(new Error('too many request history records pending'));
      const id = nextId++;
      return new Promise<readonly RequestEntry[]>((resolve, reject) => {
        const timer = setTimeout(() => {
          pending.delete(id);
          reject(new Error(`request history: no answer from the primary in ${timeoutMs} ms`));
        }, timeoutMs);
        pending.set(id, { resolve, reject, timer });
        const message: RecordMessage = { type: 'requests.record', id, dev, entry: toWire(entry) };
        if (!port.send(message)) {
          pending.delete(id);
          clearTimeout(timer);
          reject(new Error('request history: channel to the primary closed'));
        }
      });
    },
    close() {
      unsubscribe();
      for (const p of pending.values()) {
        clearTimeout(p.timer);
        p.reject(new Error('request history: closed'));
      }
      pending.clear();
    },
  };
}

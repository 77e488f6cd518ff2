// `/requests` device histories shared by the workers of one server (issue 13): the primary keeps the one
// history store (a device whose source port changes may reach another worker, and must still see one history,
// and the histories outlive a worker that dies); each worker's `/requests` records through the IPC call channel
// (rpc.ts, call 'requests.record' with { dev, entry }) and answers with the history the primary returns. An
// entry's IP address crosses the channel as an array of byte values (JSON).
import type { LocalRequestHistory, RequestHistory } from '../resources/extended/request-history.js';
import type { RequestEntry } from '../resources/extended/requests.js';
import type { Rpc, RpcHandlers } from './rpc.js';

/** The call that records one request and returns the device's history. */
const RECORD_CALL = 'requests.record';

/** An entry as it crosses the channel. */
interface WireEntry {
  rid: string;
  time: number;
  ip?: number[];
  port?: number;
}

function toWire(e: RequestEntry): WireEntry {
  return { rid: e.rid, time: e.time, ...(e.ip !== undefined ? { ip: [...e.ip] } : {}), ...(e.port !== undefined ? { port: e.port } : {}) };
}

function fromWire(w: WireEntry): RequestEntry {
  return { rid: w.rid, time: w.time, ...(w.ip !== undefined ? { ip: Buffer.from(w.ip) } : {}), ...(w.port !== undefined ? { port: w.port } : {}) };
}

/** A well-formed entry (the channel is ours, but a bad message must not throw in the primary). */
function isWireEntry(e: unknown): e is WireEntry {
  const w = e as Partial<WireEntry> | null;
  return (
    typeof e === 'object' &&
    w !== null &&
    typeof w.rid === 'string' &&
    typeof w.time === 'number' &&
    (w.ip === undefined || (Array.isArray(w.ip) && w.ip.length <= 16 && w.ip.every((b) => Number.isInteger(b) && b >= 0 && b < 256))) &&
    (w.port === undefined || typeof w.port === 'number')
  );
}

/** Primary side: the handler of a worker's record calls, on the one `history`. */
export function requestHistoryHandlers(history: LocalRequestHistory): RpcHandlers {
  return {
    [RECORD_CALL]: (arg) => {
      const a = arg as { dev?: unknown; entry?: unknown } | null;
      if (typeof arg !== 'object' || a === null || typeof a.dev !== 'string' || !isWireEntry(a.entry)) throw new Error('malformed request history record');
      return history.record(a.dev, fromWire(a.entry)).map(toWire);
    },
  };
}

/** Worker side: a RequestHistory recorded in the primary; a record unanswered in `timeoutMs` (or refused by the channel) fails. */
export function remoteRequestHistory(rpc: Pick<Rpc, 'call'>, timeoutMs = 2000): RequestHistory {
  return {
    async record(dev, entry) {
      const entries = await rpc.call(RECORD_CALL, { dev, entry: toWire(entry) }, timeoutMs);
      if (!Array.isArray(entries) || !entries.every(isWireEntry)) throw new Error('request history: malformed answer from the primary');
      return entries.map(fromWire);
    },
  };
}

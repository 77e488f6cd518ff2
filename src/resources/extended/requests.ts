// `/requests`: receive test — per-device history of request ids and arrival times (resources.md §2.1).
import { Code, Format, Opt } from '../../coap/message.js';
import { accept, encodeUint } from '../../coap/options.js';
import { encodedOptionsSize } from '../../coap/codec.js';
import { type Exchange, type Resource, createResource } from '../../coap/resource.js';
import { badOption, parseQuery } from '../query.js';
import { encodeCbor } from '../cbor.js';
import { bytesToIp, ipToBytes } from '../../transport/address-bytes.js';
import { createLocalRequestHistory, type RequestHistory } from './request-history.js';

/** Most devices kept; the least recently updated one is evicted for a new one. */
export const REQUESTS_MAX_DEVICES = 16384;
/** Most entries kept per device (newest first). */
export const REQUESTS_MAX_HISTORY = 24;
/** Budget when neither `rlen` nor a DTLS message-size limit applies. */
export const REQUESTS_DEFAULT_BUDGET = 500;
/**
 * Longest accepted `dev` / `rid` value in characters. Not in the reference (whose only bound is the
 * 255-byte Uri-Query option): it keeps the worst case of 16384 devices x 24 entries near 50 MB.
 */
export const REQUESTS_MAX_ID_LENGTH = 64;

/** One recorded request. */
export interface RequestEntry {
  rid: string;
  /** server wall clock at receipt, ms */
  time: number;
  /** source IP bytes (4 or 16) when recorded with `ep` */
  ip?: Buffer;
  port?: number;
}

/** Settings of `/requests` (bounds are parameters for tests). */
export interface RequestsOptions {
  /** wall clock in ms */
  now: () => number;
  /** `systemstart` value (server start, epoch ms) */
  systemStart: number;
  maxDevices?: number;
  maxHistory?: number;
  /** where the device histories live (default: in this process, bounded by maxDevices / maxHistory) */
  history?: RequestHistory;
}

/** The `/requests` resource plus read access to its store (for tests and diagnostics). */
export interface RequestsResource {
  resource: Resource;
  /** number of devices currently kept (0 when the histories live elsewhere) */
  deviceCount(): number;
  /** history of a device, newest first */
  history(dev: string): readonly RequestEntry[] | undefined;
}

/** Text layout: `systemstart:<ms>\n` then `<rid>:<time>\n` newest first while the text fits `max` bytes. */
export function requestsText(systemStart: number, history: readonly RequestEntry[], max: number): string {
  let text = `systemstart:${systemStart}\n`;
  let size = Buffer.byteLength(text);
  for (const e of history) {
    const line = `${e.rid}:${e.time}\n`;
    size += Buffer.byteLength(line);
    if (size > max) break;
    text += line;
  }
  return text;
}

/** JSON layout: `[{"systemstart":ms},{"rid":..,"time":..[,"ep":..,"port":..]},…]` while it fits `max` bytes. */
export function requestsJson(systemStart: number, history: readonly RequestEntry[], max: number): string {
  const head = `[${JSON.stringify({ systemstart: systemStart })}`;
  let body = head;
  for (const e of history) {
    const item: Record<string, string | number> = { rid: e.rid, time: e.time };
    if (e.ip) {
      item.ep = bytesToIp(e.ip);
      item.port = e.port! & 0xffff;
    }
    const next = `${body},${JSON.stringify(item)}`;
    if (Buffer.byteLength(next) + 1 > max) break;
    body = next;
  }
  return body + ']';
}

/**
 * CBOR layout: array of maps {systemstart} then {rid, time[, ep (bytes), port]} while it fits `max` bytes.
 * Compatibility: the reference stores the port as a signed 16-bit value, so ports above 32767 appear as
 * negative integers (port - 65536); clients mask with 0xFFFF, so we emit the same values.
 */
export function requestsCbor(systemStart: number, history: readonly RequestEntry[], max: number): Buffer {
  const list: unknown[] = [{ systemstart: systemStart }];
  let out = encodeCbor(list);
  for (const e of history) {
    const item: Record<string, unknown> = { rid: e.rid, time: e.time };
    if (e.ip) {
      item.ep = e.ip;
      item.port = (e.port! << 16) >> 16;
    }
    list.push(item);
    const next = encodeCbor(list);
    if (next.length > max) break;
    out = next;
  }
  return out;
}

/** Payload budget: rlen, else DTLS limit minus header/token/Content-Format/payload marker, else 500. */
export function requestsBudget(ex: Exchange, rlen: number | undefined, format: number): number {
  if (rlen !== undefined) return rlen;
  const limit = ex.context.dtls?.messageSizeLimit;
  if (limit === undefined) return REQUESTS_DEFAULT_BUDGET;
  const options = encodedOptionsSize([{ number: Opt.CONTENT_FORMAT, value: encodeUint(format) }]);
  return limit - (4 + ex.request.token.length + options + 1);
}

/** Creates `/requests` with its bounded device store. */
export function createRequestsResource(opts: RequestsOptions): RequestsResource {
  const maxDevices = opts.maxDevices ?? REQUESTS_MAX_DEVICES;
  const maxHistory = opts.maxHistory ?? REQUESTS_MAX_HISTORY;
  const local = opts.history === undefined ? createLocalRequestHistory(maxDevices, maxHistory) : undefined;
  const store: RequestHistory = opts.history ?? local!;

  function handlePost(ex: Exchange): void {
    const query = parseQuery(ex.request, {
      dev: { kind: 'string' },
      rid: { kind: 'string' },
      ep: { kind: 'flag' },
      rlen: { kind: 'int', def: REQUESTS_DEFAULT_BUDGET, min: 1, max: 1023 },
    });
    if (!query.ok) {
      ex.respond(query.response);
      return;
    }
    const { dev, rid, ep, rlen } = query.values;
    if (rid === undefined && dev === undefined) {
      ex.respond(badOption("missing URI-query-options for 'dev' and 'rid'!"));
      return;
    }
    if (rid === undefined) {
      ex.respond(badOption("missing URI-query-option for 'rid'!"));
      return;
    }
    if (dev === undefined) {
      ex.respond(badOption("missing URI-query-option for 'dev'!"));
      return;
    }
    if (rid.includes(':')) {
      ex.respond(badOption("URI-query-option 'rid' contains :!"));
      return;
    }
    if (dev.length > REQUESTS_MAX_ID_LENGTH) {
      ex.respond(badOption("URI-query-option 'dev' too long!"));
      return;
    }
    if (rid.length > REQUESTS_MAX_ID_LENGTH) {
      ex.respond(badOption("URI-query-option 'rid' too long!"));
      return;
    }
    const entry: RequestEntry = { rid, time: opts.now() };
    if (ep) {
      const ip = ipToBytes(ex.context.address);
      if (ip) {
        entry.ip = ip;
        entry.port = ex.context.port;
      }
    }
    // as the reference: the request is recorded before the Accept check
    const recorded = store.record(dev, entry);
    const budget = query.raw.has('rlen') ? rlen : undefined;
    if (!(recorded instanceof Promise)) {
      answer(ex, recorded, budget);
      return;
    }
    recorded.then(
      (history) => answer(ex, history, budget),
      () => ex.respond({ code: Code.SERVICE_UNAVAILABLE, payload: 'request history not available!', format: Format.TEXT }),
    );
  }

  /** The response to a recorded request: the device's history in the accepted format. */
  function answer(ex: Exchange, history: readonly RequestEntry[], rlen: number | undefined): void {
    const acc = accept(ex.request) ?? Format.TEXT;
    if (acc !== Format.TEXT && acc !== Format.JSON && acc !== Format.CBOR) {
      ex.respond({ code: Code.NOT_ACCEPTABLE });
      return;
    }
    const max = requestsBudget(ex, rlen, acc);
    let payload: Buffer | string;
    if (acc === Format.JSON) payload = requestsJson(opts.systemStart, history, max);
    else if (acc === Format.CBOR) payload = requestsCbor(opts.systemStart, history, max);
    else payload = requestsText(opts.systemStart, history, max);
    ex.respond({ code: Code.CHANGED, payload, format: acc });
  }

  const resource = createResource('requests', {
    title: 'Resource that collects requests for client statistics',
    attributes: { ct: ['0', '50', '60'] },
    handlers: { POST: handlePost },
  });
  return {
    resource,
    deviceCount: () => local?.deviceCount() ?? 0,
    history: (dev) => local?.history(dev),
  };
}

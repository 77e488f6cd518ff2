// `/reverse-request`: the server sends a sequence of GETs back to the requesting client (resources.md §2.5).
import { Code, Format, isSuccess } from '../../coap/message.js';
import { accept } from '../../coap/options.js';
import { type Exchange, type Resource, createResource } from '../../coap/resource.js';
import type { ClientExchange } from '../../coap/client-layer.js';
import type { EndpointContext } from '../../transport/connector.js';
import type { EndpointInfo } from '../../coap/resource.js';
import { parseQuery } from '../query.js';

/** Most GETs one POST may ask for. */
export const REVERSE_MAX_REQUESTS = 10_000_000;
/** A GET without response after this long ends its sequence (ms). */
export const REVERSE_RESPONSE_TIMEOUT = 120_000;
/** Most sequences running at once; beyond that a POST gets 5.03 (bounds memory and timers). */
export const REVERSE_MAX_SEQUENCES = 10_000;

/** Settings of `/reverse-request` (bounds are parameters for tests). */
export interface ReverseRequestOptions {
  maxSequences?: number;
  responseTimeout?: number;
}

/** Overall counters. */
export interface ReverseRequestCounters {
  /** GETs requested by all POSTs */
  requested: number;
  /** GETs sent */
  sent: number;
  /** GETs not yet answered (or given up) */
  pending: number;
}

/** The resource, its counters and stop() that ends all running sequences. */
export interface ReverseRequestResource {
  resource: Resource;
  counters: ReverseRequestCounters;
  /** number of running sequences */
  active(): number;
  stop(): void;
}

/** Statistics as 24 bytes: three unsigned 64-bit big-endian counters. */
export function reverseRequestBinary(c: ReverseRequestCounters): Buffer {
  const out = Buffer.alloc(24);
  out.writeBigUInt64BE(BigInt(c.requested), 0);
  out.writeBigUInt64BE(BigInt(c.sent), 8);
  out.writeBigUInt64BE(BigInt(Math.max(0, c.pending)), 16);
  return out;
}

/** Statistics text `<requested> reverse-requests, <sent> sent, <pending> pending.`. */
export function reverseRequestText(c: ReverseRequestCounters): string {
  return `${c.requested} reverse-requests, ${c.sent} sent, ${c.pending} pending.`;
}

interface Sequence {
  endpoint: EndpointInfo;
  ctx: EndpointContext;
  path: string;
  query: string[];
  remaining: number;
  current?: ClientExchange;
}

/** Creates `/reverse-request`. */
export function createReverseRequestResource(opts: ReverseRequestOptions = {}): ReverseRequestResource {
  const maxSequences = opts.maxSequences ?? REVERSE_MAX_SEQUENCES;
  const timeout = opts.responseTimeout ?? REVERSE_RESPONSE_TIMEOUT;
  const counters: ReverseRequestCounters = { requested: 0, sent: 0, pending: 0 };
  const running = new Set<Sequence>();

  function end(seq: Sequence): void {
    counters.pending -= seq.remaining;
    seq.remaining = 0;
    seq.current = undefined;
    running.delete(seq);
  }

  function sendNext(seq: Sequence): void {
    counters.sent++;
    let done = false;
    seq.current = seq.endpoint.request({ method: Code.GET, path: seq.path, query: seq.query, timeout }, seq.ctx, {
      onResponse: (res) => {
        if (done || !running.has(seq)) return;
        done = true;
        if (!isSuccess(res.code)) {
          end(seq);
          return;
        }
        seq.remaining--;
        counters.pending--;
        if (seq.remaining > 0) sendNext(seq);
        else end(seq);
      },
      onError: () => {
        if (done || !running.has(seq)) return;
        done = true;
        end(seq);
      },
    });
  }

  function handlePost(ex: Exchange): void {
    const acc = accept(ex.request);
    if (acc !== undefined && acc !== Format.TEXT && acc !== Format.OCTETS) {
      ex.respond({ code: Code.NOT_ACCEPTABLE });
      return;
    }
    const query = parseQuery(
      ex.request,
      { req: { kind: 'int', def: 1, min: 1, max: REVERSE_MAX_REQUESTS }, res: { kind: 'string' } },
      { collectUnsupported: true },
    );
    if (!query.ok) {
      ex.respond(query.response);
      return;
    }
    const { req, res } = query.values;
    if (query.raw.has('req') && res !== undefined) {
      if (running.size >= maxSequences) {
        ex.respond({ code: Code.SERVICE_UNAVAILABLE, payload: 'Too many reverse requests pending!', format: Format.TEXT });
        return;
      }
      counters.requested += req;
      counters.pending += req;
      ex.respond({ code: Code.CHANGED });
      const seq: Sequence = { endpoint: ex.endpoint, ctx: ex.context, path: res, query: query.unsupported, remaining: req };
      running.add(seq);
      sendNext(seq);
      return;
    }
    if (acc === Format.OCTETS) ex.respond({ code: Code.CHANGED, payload: reverseRequestBinary(counters), format: Format.OCTETS });
    else ex.respond({ code: Code.CHANGED, payload: reverseRequestText(counters), format: Format.TEXT });
  }

  const resource = createResource('reverse-request', {
    title: 'Reverse Request',
    attributes: { ct: ['0', '42'] },
    handlers: { POST: handlePost },
  });
  return {
    resource,
    counters,
    active: () => running.size,
    stop() {
      for (const seq of [...running]) {
        const ex = seq.current;
        end(seq);
        ex?.cancel();
      }
    },
  };
}

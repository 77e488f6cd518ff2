// `/echo`: echoes POST payloads, optionally delayed, and keeps them per device as observable children (§2.3).
import { Code, Format } from '../../coap/message.js';
import { accept, contentFormat } from '../../coap/options.js';
import {
  type Exchange,
  type Resource,
  type ResponseSpec,
  clearObservers,
  createResource,
  notifyObservers,
  removeChild,
  addChild,
  setAttribute,
} from '../../coap/resource.js';
import { subTreeLinkFormat } from '../../coap/link-format.js';
import { applyRlen } from '../payload.js';
import { parseQuery } from '../query.js';
import { formatDayTime } from '../text.js';
import type { TreeTimers } from '../timers.js';

/** Maximum number of kept children. */
export const ECHO_CAPACITY = 500;
/** A kept child may be evicted after this long without update (6 h). */
export const ECHO_EVICT_AFTER_MS = 6 * 60 * 60 * 1000;
/** Maximum number of pending delayed responses. */
export const ECHO_MAX_PENDING = 999;
/** Longest accepted `delay` in ms (1 h). */
export const ECHO_MAX_DELAY_MS = 3_600_000;

/** Settings of an `/echo` resource. */
export interface EchoOptions {
  /** `--echo-delay`: schedule responses with `delay` > 0 */
  echoDelay: boolean;
  now: () => number;
  timers: TreeTimers;
  capacity?: number;
  evictAfterMs?: number;
  maxPending?: number;
}

interface KeptPost {
  payload: Buffer;
  format: number | undefined;
}

/** §2.3 step 2: resolves the response format from Accept and Content-Format, undefined → 4.06. */
export function negotiateEchoFormat(acc: number | undefined, format: number | undefined): number | undefined {
  if (acc === undefined) return format ?? Format.OCTETS;
  if (format === undefined) return acc === Format.TEXT || acc === Format.OCTETS ? acc : undefined;
  return acc === format ? acc : undefined;
}

/** Creates an `/echo` resource with its own store of kept POSTs. */
export function createEchoResource(opts: EchoOptions): Resource {
  const capacity = opts.capacity ?? ECHO_CAPACITY;
  const evictAfter = opts.evictAfterMs ?? ECHO_EVICT_AFTER_MS;
  const maxPending = opts.maxPending ?? ECHO_MAX_PENDING;
  const kept = new Map<string, KeptPost>();
  /** key → last update time; iteration order = least recently updated first */
  const updated = new Map<string, number>();
  let pending = 0;

  const echo = createResource('echo', {
    title: "Resource, which echo's a POST. POSTs with URI-query 'keep' can later be read by GET",
    attributes: { ct: ['0', '42', '40'] },
    handlers: { GET: handleGet, POST: handlePost },
  });

  function handleGet(ex: Exchange): void {
    const acc = accept(ex.request);
    if (acc !== undefined && acc !== Format.LINK) {
      ex.respond({ code: Code.NOT_ACCEPTABLE });
      return;
    }
    ex.respond({ code: Code.CONTENT, payload: subTreeLinkFormat(echo), format: Format.LINK });
  }

  function forget(key: string): Resource | undefined {
    kept.delete(key);
    updated.delete(key);
    return removeChild(echo, key);
  }

  function createKeptChild(key: string): Resource {
    return createResource(key, {
      observable: true,
      handlers: {
        GET: (ex) => {
          const post = kept.get(key);
          if (!post) {
            ex.respond({ code: Code.NOT_FOUND });
            return;
          }
          const format = negotiateEchoFormat(accept(ex.request), post.format);
          if (format === undefined) ex.respond({ code: Code.NOT_ACCEPTABLE });
          else ex.respond({ code: Code.CONTENT, payload: post.payload, format });
        },
        DELETE: (ex) => {
          const child = forget(key);
          if (child) clearObservers(child, Code.NOT_FOUND);
          ex.respond({ code: Code.DELETED });
        },
      },
    });
  }

  function keep(key: string, ex: Exchange): void {
    const now = opts.now();
    let child = echo.children.get(key);
    if (!child) {
      if (echo.children.size >= capacity) {
        const oldest = updated.entries().next();
        if (oldest.done || now - oldest.value[1] < evictAfter) return;
        const evicted = forget(oldest.value[0]);
        if (evicted) clearObservers(evicted);
      }
      child = addChild(echo, createKeptChild(key));
    }
    const format = contentFormat(ex.request);
    kept.set(key, { payload: ex.request.payload, format });
    updated.delete(key);
    updated.set(key, now);
    if (format === undefined) child.attributes.delete('ct');
    else setAttribute(child, 'ct', String(format));
    setAttribute(child, 'time', formatDayTime(now));
    setAttribute(child, 'scheme', ex.endpoint.scheme);
    notifyObservers(child);
  }

  function handlePost(ex: Exchange): void {
    const format = contentFormat(ex.request);
    if (format !== undefined && format !== Format.TEXT && format !== Format.OCTETS) {
      ex.respond({ code: Code.NOT_ACCEPTABLE });
      return;
    }
    const responseFormat = negotiateEchoFormat(accept(ex.request), format);
    if (responseFormat === undefined) {
      ex.respond({ code: Code.NOT_ACCEPTABLE });
      return;
    }
    const query = parseQuery(ex.request, {
      ack: { kind: 'flag' },
      rlen: { kind: 'int', def: 0, min: 0, max: ex.endpoint.config.maxResourceBodySize },
      delay: { kind: 'int', def: 0, min: 0, max: ECHO_MAX_DELAY_MS },
      keep: { kind: 'flag' },
      id: { kind: 'string' },
    });
    if (!query.ok) {
      ex.respond(query.response);
      return;
    }
    const q = query.values;
    if (q.ack) ex.accept();
    const response: ResponseSpec = {
      code: Code.CHANGED,
      payload: applyRlen(ex.request.payload, q.rlen),
      format: responseFormat,
    };
    if (q.keep) {
      const key = ex.context.dtls?.peerIdentity ?? (q.id === '' ? undefined : q.id);
      if (key !== undefined && key !== '') keep(key, ex);
    }
    if (q.delay > 0 && opts.echoDelay) {
      if (pending >= maxPending) {
        ex.respond({
          code: Code.SERVICE_UNAVAILABLE,
          payload: 'Too many delayed responses pending!',
          format: Format.TEXT,
        });
        return;
      }
      pending++;
      opts.timers.after(q.delay, () => {
        pending--;
        ex.respond(response);
      });
      return;
    }
    ex.respond(response);
  }

  return echo;
}

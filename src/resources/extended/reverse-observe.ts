// `/reverse-observe`: the server observes a resource on the requesting client (resources.md §2.6).
import { Code, Format, Opt, isSuccess, type CoapMessage } from '../../coap/message.js';
import { accept, getOption } from '../../coap/options.js';
import { type EndpointInfo, type Exchange, type Resource, createResource } from '../../coap/resource.js';
import type { ClientExchange } from '../../coap/client-layer.js';
import { type EndpointContext, peerKey } from '../../transport/connector.js';
import { parseQuery } from '../query.js';
import { tokenHex } from '../text.js';
import type { TreeTimers } from '../timers.js';

/** Most notifications before a re-registration that a POST may ask for. */
export const REVERSE_MAX_NOTIFIES = 10_000_000;
/** Registration without response after this long fails with 5.00 (ms). */
export const REVERSE_OBSERVE_RESPONSE_TIMEOUT = 120_000;
/** Default `timeout` in seconds. */
export const REVERSE_OBSERVE_DEFAULT_TIMEOUT = 30;
/** Most observations (pending or established) at once; beyond that a POST gets 5.03. */
export const REVERSE_MAX_OBSERVATIONS = 10_000;
/** Longest single timer delay Node accepts (ms). */
const MAX_TIMER_DELAY = 0x7fffffff;

/** Settings of `/reverse-observe` (bounds are parameters for tests). */
export interface ReverseObserveOptions {
  timers: TreeTimers;
  /** monotonic-enough clock in ms (default Date.now) */
  now?: () => number;
  maxObservations?: number;
  responseTimeout?: number;
}

/** The resource, its state for tests and stop() that ends every observation. */
export interface ReverseObserveResource {
  resource: Resource;
  /** number of observations (pending or established) */
  active(): number;
  /** notifications received overall */
  notifies(): number;
  /** token of the established observation of a key, undefined while pending or absent */
  tokenOf(key: string): Buffer | undefined;
  stop(): void;
}

/** What a registration is made of (kept for re-registrations). */
interface Target {
  endpoint: EndpointInfo;
  ctx: EndpointContext;
  res: string;
  query: string[];
  obs: number;
  /** seconds; 0 = no notification timeout */
  timeout: number;
}

/** One observation of a key. */
interface Observation {
  key: string;
  target: Target;
  /** registration sent, no notification yet */
  pending: boolean;
  exchange?: ClientExchange;
  token?: Buffer;
  /** notifications left before re-registering */
  remaining: number;
  lastNotify: number;
  cancelTimer?: () => void;
}

/** True for coap+tcp and coaps+tcp (RFC 8323): no RST to reject a notification with. */
function isStreamScheme(scheme: string): boolean {
  return scheme === 'coap+tcp' || scheme === 'coaps+tcp';
}

/** Key of an observation: scheme + peer address + `?` + res. */
export function observationKey(scheme: string, ctx: EndpointContext, res: string): string {
  return `${scheme}://${peerKey(ctx.address, ctx.port)}?${res}`;
}

/** Statistics as 12 bytes: unsigned 32-bit active observations, unsigned 64-bit notifications. */
export function reverseObserveBinary(active: number, notifies: number): Buffer {
  const out = Buffer.alloc(12);
  out.writeUInt32BE(active >>> 0, 0);
  out.writeBigUInt64BE(BigInt(notifies), 4);
  return out;
}

/** Statistics text `<n> active observes, <m> notifies.`. */
export function reverseObserveText(active: number, notifies: number): string {
  return `${active} active observes, ${notifies} notifies.`;
}

/** Creates `/reverse-observe`. */
export function createReverseObserveResource(opts: ReverseObserveOptions): ReverseObserveResource {
  const now = opts.now ?? Date.now;
  const maxObservations = opts.maxObservations ?? REVERSE_MAX_OBSERVATIONS;
  const responseTimeout = opts.responseTimeout ?? REVERSE_OBSERVE_RESPONSE_TIMEOUT;
  const observations = new Map<string, Observation>();
  let notifies = 0;

  function stopTimer(o: Observation): void {
    o.cancelTimer?.();
    o.cancelTimer = undefined;
  }

  /**
   * Ends an observation locally: over UDP/DTLS later notifications are rejected with RST by the engine. A stream
   * (coap+tcp, coaps+tcp) has no RST (RFC 8323 §3), so an established relation is cancelled proactively there
   * with GET Observe=1 and its token (RFC 7641 §3.6); `tellPeer` false: not (a re-registration with the same
   * token follows at once, or the server stops).
   */
  function drop(o: Observation, tellPeer = true): void {
    stopTimer(o);
    const established = o.exchange !== undefined && !o.pending && o.token !== undefined;
    o.exchange?.cancel();
    o.exchange = undefined;
    if (observations.get(o.key) === o) observations.delete(o.key);
    if (established && tellPeer && isStreamScheme(o.target.endpoint.scheme)) proactiveCancel(o.target, o.token!);
  }

  /** GET Observe=1 with the relation's token; the answer (or its failure) needs no handling. */
  function proactiveCancel(target: Target, token: Buffer): void {
    const ignore = (): void => undefined;
    target.endpoint.request(
      { method: Code.GET, path: target.res, query: target.query, observe: 1, token, timeout: responseTimeout },
      target.ctx,
      { onResponse: ignore, onError: ignore },
    );
  }

  /** Re-arms the notification timeout; fires when no notification arrived for `timeout` seconds. */
  function armTimer(o: Observation): void {
    stopTimer(o);
    if (o.target.timeout <= 0) return;
    const limit = o.target.timeout * 1000;
    const check = (): void => {
      o.cancelTimer = undefined;
      const idle = now() - o.lastNotify;
      if (idle >= limit) reregister(o);
      else o.cancelTimer = opts.timers.after(Math.min(limit - idle, MAX_TIMER_DELAY), check);
    };
    o.cancelTimer = opts.timers.after(Math.min(limit, MAX_TIMER_DELAY), check);
  }

  function reregister(o: Observation): void {
    if (observations.get(o.key) !== o) return;
    drop(o);
    register(o.key, o.target, undefined, undefined);
  }

  /** Sends a GET with Observe=0; `post` is answered by the outcome of the first registration only. */
  function register(key: string, target: Target, post: Exchange | undefined, token: Buffer | undefined): void {
    const o: Observation = { key, target, pending: true, remaining: target.obs, lastNotify: now() };
    observations.set(key, o);
    let answered = post === undefined;
    const answer = (code: number, payload?: Buffer | string, format?: number): void => {
      if (answered) return;
      answered = true;
      post!.respond(payload === undefined ? { code } : { code, payload, format });
    };
    const fail = (code: number): void => {
      if (observations.get(key) === o) {
        stopTimer(o);
        observations.delete(key);
      }
      answer(code);
    };
    o.exchange = target.endpoint.request(
      { method: Code.GET, path: target.res, query: target.query, observe: 0, token, timeout: responseTimeout },
      target.ctx,
      {
        onResponse: (res: CoapMessage) => {
          if (observations.get(key) !== o) return;
          if (!isSuccess(res.code)) return fail(res.code);
          if (getOption(res, Opt.OBSERVE) === undefined) {
            o.exchange?.cancel();
            return fail(Code.NOT_ACCEPTABLE);
          }
          notifies++;
          o.pending = false;
          o.token = res.token;
          o.lastNotify = now();
          armTimer(o);
          const acc = post ? accept(post.request) : undefined;
          if (acc === Format.OCTETS) answer(Code.CHANGED, Buffer.from(res.token), Format.OCTETS);
          else answer(Code.CHANGED, tokenHex(res.token), Format.TEXT);
        },
        onNotification: (res: CoapMessage) => {
          if (observations.get(key) !== o) return;
          if (!isSuccess(res.code) || getOption(res, Opt.OBSERVE) === undefined) {
            // the client ended the relation; the notification timeout re-registers later
            o.exchange = undefined;
            return;
          }
          notifies++;
          o.lastNotify = now();
          o.remaining--;
          if (o.remaining <= 0) reregister(o);
        },
        onError: () => {
          if (observations.get(key) !== o) return;
          if (o.pending) return fail(Code.INTERNAL_SERVER_ERROR);
          // an established relation failed (endpoint stopped); the timeout re-registers
          o.exchange = undefined;
        },
      },
    );
  }

  function handlePost(ex: Exchange): void {
    const acc = accept(ex.request);
    if (acc !== undefined && acc !== Format.TEXT && acc !== Format.OCTETS) {
      ex.respond({ code: Code.NOT_ACCEPTABLE });
      return;
    }
    const query = parseQuery(
      ex.request,
      {
        obs: { kind: 'int', def: 0, min: 0, max: REVERSE_MAX_NOTIFIES },
        res: { kind: 'string' },
        timeout: { kind: 'int', def: REVERSE_OBSERVE_DEFAULT_TIMEOUT, min: 0 },
      },
      { collectUnsupported: true, errorFormat: null },
    );
    if (!query.ok) {
      ex.respond(query.response);
      return;
    }
    const { obs, res, timeout } = query.values;
    if (!query.raw.has('obs') || res === undefined) {
      const n = observations.size;
      if (acc === Format.OCTETS) ex.respond({ code: Code.CHANGED, payload: reverseObserveBinary(n, notifies), format: Format.OCTETS });
      else ex.respond({ code: Code.CHANGED, payload: reverseObserveText(n, notifies), format: Format.TEXT });
      return;
    }
    const key = observationKey(ex.endpoint.scheme, ex.context, res);
    const existing = observations.get(key);
    if (existing?.pending) {
      ex.respond({ code: Code.SERVICE_UNAVAILABLE });
      return;
    }
    if (obs === 0) {
      // no placeholder is left and the timeout timer stops (the reference's quirks are not kept)
      if (existing) drop(existing);
      ex.respond({ code: Code.CHANGED });
      return;
    }
    if (!existing && observations.size >= maxObservations) {
      ex.respond({ code: Code.SERVICE_UNAVAILABLE, payload: 'Too many reverse observations!', format: Format.TEXT });
      return;
    }
    ex.accept();
    const target: Target = { endpoint: ex.endpoint, ctx: ex.context, res, query: query.unsupported, obs, timeout };
    // a new registration re-uses the token of the established observation of that key
    const token = existing?.token;
    if (existing) drop(existing, token === undefined);
    register(key, target, ex, token);
  }

  const resource = createResource('reverse-observe', {
    title: 'Reverse Observe',
    attributes: { ct: ['0', '42'] },
    handlers: { POST: handlePost },
  });
  return {
    resource,
    active: () => observations.size,
    notifies: () => notifies,
    tokenOf: (key) => {
      const o = observations.get(key);
      return o && !o.pending ? o.token : undefined;
    },
    stop() {
      for (const o of [...observations.values()]) drop(o, false);
    },
  };
}

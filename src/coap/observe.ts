// Server-side observe relations (RFC 7641 §3.2, §4.2, §4.5): notifications, CON checks, cancel.
import { CON, NON, Code, Opt, type CoapMessage, type CoapOption, EMPTY, isSuccess } from './message.js';
import type { EndpointContext } from '../transport/connector.js';
import type { EndpointInfo, Exchange, ObserveRelationRef, Resource, ResponseSpec } from './resource.js';
import { addOption, encodeBlock, encodeUint, sortOptions } from './options.js';
import { encode } from './codec.js';
import type { CoapEndpoint, Outgoing } from './endpoint.js';
import type { ServerExchange } from './server-layer.js';
import { blockwiseResponse } from './server-layer.js';

const MAX_NON_KEYS = 4;

/** One observer of one resource on one endpoint. */
export class ObserveRelation implements ObserveRelationRef {
  readonly ep: CoapEndpoint;
  readonly resource: Resource;
  readonly request: CoapMessage;
  context: EndpointContext;
  readonly peer: string;
  readonly key: string;
  private seq = 1;
  private nonCount = 0;
  private lastCon: number;
  private inflight: Outgoing | undefined;
  private pending = false;
  private carry: { attempts: number; timeout: number } | undefined;
  private readonly nonKeys: string[] = [];
  canceled = false;

  constructor(ep: CoapEndpoint, resource: Resource, request: CoapMessage, context: EndpointContext, peer: string) {
    this.ep = ep;
    this.resource = resource;
    // keep the registration request; its payload is not needed for rendering GETs
    this.request = request;
    this.context = context;
    this.peer = peer;
    this.key = relationKey(peer, request.token);
    this.lastCon = Date.now();
  }

  /** Next Observe sequence number (24 bit). */
  nextSeq(): number {
    const s = this.seq;
    this.seq = (this.seq + 1) & 0xffffff;
    return s;
  }

  notify(): void {
    if (this.canceled) return;
    if (this.inflight) {
      // §4.5.2: only one CON notification in flight; the newest state is sent next
      this.pending = true;
      return;
    }
    this.render();
  }

  /** Runs the resource's GET handler to produce the next notification. */
  render(): void {
    const handler = this.resource.handlers.GET;
    if (!handler) return;
    const ex = new NotificationExchange(this);
    try {
      handler(ex);
    } catch (err) {
      this.ep.logger?.warn({ err }, 'notification rendering failed');
      ex.respond({ code: Code.INTERNAL_SERVER_ERROR });
    }
  }

  cancel(code?: number): void {
    if (this.canceled) return;
    if (code !== undefined) {
      const msg: CoapMessage = { type: CON, code, mid: this.ep.nextMid(), token: this.request.token, options: [], payload: EMPTY };
      this.ep.stats.inc('send-responses');
      this.ep.sendCon(msg, this.context, {}, true);
    }
    this.remove();
  }

  /** Drops the relation without telling the observer. */
  remove(): void {
    if (this.canceled) return;
    this.canceled = true;
    this.resource.observers.delete(this);
    if (this.ep.relations.get(this.key) === this) this.ep.relations.delete(this.key);
    if (this.inflight) this.ep.cancelOutgoing(this.inflight);
    this.inflight = undefined;
    for (const k of this.nonKeys) {
      if (this.ep.nonNotifications.get(k) === this) this.ep.nonNotifications.delete(k);
    }
  }

  /** Sends a rendered notification. */
  send(res: ResponseSpec): void {
    if (this.canceled) return;
    const ep = this.ep;
    if (!isSuccess(res.code)) {
      // §3.2: an error notification ends the relation and carries no Observe option
      this.cancel(res.code);
      return;
    }
    const payload = res.payload === undefined ? EMPTY : typeof res.payload === 'string' ? Buffer.from(res.payload, 'utf8') : res.payload;
    const options: CoapOption[] = res.options ? sortOptions([...res.options]) : [];
    if (res.format !== undefined) addOption(options, Opt.CONTENT_FORMAT, encodeUint(res.format));
    addOption(options, Opt.OBSERVE, encodeUint(this.nextSeq()));
    let body = { options, payload };
    const block = blockwiseResponse(ep, this.request, this.peer, payload, options, res.code);
    if (block) {
      const size = 1 << (block.szx + 4);
      addOption(options, Opt.BLOCK2, encodeBlock({ num: 0, more: payload.length > size, szx: block.szx }));
      addOption(options, Opt.SIZE2, encodeUint(payload.length));
      body = { options, payload: payload.subarray(0, Math.min(size, payload.length)) };
    }
    let type = this.resource.observeType ?? (this.request.type === NON ? NON : CON);
    const now = Date.now();
    if (type === NON) {
      this.nonCount++;
      const cfg = ep.config;
      if (this.nonCount >= cfg.notificationCheckIntervalCount || now - this.lastCon >= cfg.notificationCheckInterval) type = CON;
    }
    const msg: CoapMessage = { type, code: res.code, mid: ep.nextMid(), token: this.request.token, options: body.options, payload: body.payload };
    ep.stats.inc('send-responses');
    if (type === CON) {
      this.nonCount = 0;
      this.lastCon = now;
      const carry = this.carry;
      this.carry = undefined;
      this.inflight = ep.sendCon(
        msg,
        this.context,
        {
          onAck: () => this.acknowledged(),
          onReset: () => {
            ep.observeHooks?.rejectedNotify();
            this.remove();
          },
          onTimeout: () => this.remove(),
          onRetransmit: () => this.retransmitting(),
        },
        true,
        carry?.attempts ?? 0,
        carry?.timeout,
      );
    } else {
      ep.send(encode(msg), this.context);
      const k = this.peer + '#' + msg.mid;
      ep.nonNotifications.set(k, this);
      this.nonKeys.push(k);
      if (this.nonKeys.length > MAX_NON_KEYS) {
        const old = this.nonKeys.shift()!;
        if (ep.nonNotifications.get(old) === this) ep.nonNotifications.delete(old);
      }
    }
  }

  private acknowledged(): void {
    this.inflight = undefined;
    if (this.pending) {
      this.pending = false;
      this.render();
    }
  }

  private retransmitting(): void {
    const o = this.inflight;
    if (!o || !this.pending) return;
    // §4.5.2: send the newest state instead, keeping the retransmission count
    this.ep.cancelOutgoing(o);
    this.inflight = undefined;
    this.pending = false;
    this.carry = { attempts: o.attempts, timeout: o.timeout };
    this.render();
  }
}

/** The Exchange a resource's GET handler sees while rendering a notification. */
class NotificationExchange implements Exchange {
  readonly notification = true;
  private done = false;
  constructor(private readonly rel: ObserveRelation) {}
  get request(): CoapMessage {
    return this.rel.request;
  }
  get context(): EndpointContext {
    return this.rel.context;
  }
  get endpoint(): EndpointInfo {
    return this.rel.ep.info;
  }
  get resource(): Resource {
    return this.rel.resource;
  }
  accept(): void {}
  respond(res: ResponseSpec): void {
    if (this.done) return;
    this.done = true;
    this.rel.send(res);
  }
}

/** Key of a relation: peer and token. */
export function relationKey(peer: string, token: Buffer): string {
  return peer + '#' + token.toString('hex');
}

/** Registers (or replaces) the relation of a GET with Observe=0; returns the Observe number, undefined when full. */
export function registerRelation(ex: ServerExchange): number | undefined {
  const ep = ex.ep;
  const key = relationKey(ex.peer, ex.request.token);
  const existing = ep.relations.get(key);
  if (existing) existing.remove();
  // COAP.MAX_SERVER_OBSERVES: 0 means no limit
  const max = ep.config.maxServerObserves;
  if (max > 0 && ep.relations.size >= max) {
    ep.stats.bounds.inc('observe-refused relations');
    // once per health period, not per refused request
    if (ep.stats.bounds.get('observe-refused relations') === 1) ep.logger?.warn({ max }, 'observe relations limit reached');
    return undefined;
  }
  const rel = new ObserveRelation(ep, ex.resource, ex.request, ex.context, ex.peer);
  ep.relations.set(key, rel);
  ex.resource.observers.add(rel);
  return rel.nextSeq();
}

/** Cancels the relation of peer and token (GET with Observe=1, or an error response). */
export function cancelRelation(ep: CoapEndpoint, peer: string, token: Buffer): void {
  ep.relations.get(relationKey(peer, token))?.remove();
}

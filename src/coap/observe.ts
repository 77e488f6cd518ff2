// Server-side observe relations (RFC 7641 §3.2, §4.2, §4.5): notifications, CON checks, cancel. The relation
// states its reliability wish; the message layer sends (message-layer.ts).
import { CON, NON, Code, Opt, type CoapMessage, type CoapOption, EMPTY, isSuccess } from './message.js';
import type { EndpointContext } from '../transport/connector.js';
import type { EndpointInfo, Exchange, ObserveRelationRef, Resource, ResponseSpec } from './resource.js';
import { addOption, encodeBlock, encodeUint, sortOptions } from './options.js';
import type { CoapEndpoint } from './endpoint.js';
import type { Delivery, DeliveryCarry, DeliveryHandlers, HookSlot } from './message-layer.js';
import { blockwiseResponse } from './block2-response.js';
import { bertBlocksFor, blockSpan } from './bert.js';

/** NON notifications per relation that a RST may still reject (older ones are forgotten) */
const MAX_NON_KEYS = 4;

/** What registering a relation needs of the request (a ServerExchange). */
export interface ObserveRegistration extends HookSlot {
  readonly resource: Resource;
  readonly request: CoapMessage;
  readonly context: EndpointContext;
  readonly peer: string;
}

const NO_HANDLERS: DeliveryHandlers = {};

/** One observer of one resource on one endpoint; its own delivery handlers for CON notifications and RST. */
export class ObserveRelation implements ObserveRelationRef, HookSlot, DeliveryHandlers {
  readonly ep: CoapEndpoint;
  readonly resource: Resource;
  readonly request: CoapMessage;
  context: EndpointContext;
  readonly peer: string;
  readonly key: string;
  /** the message hooks' state, taken over from the registration request (OSCORE protects notifications with it) */
  hookState: unknown;
  private seq = 1;
  private nonCount = 0;
  private lastCon: number;
  private inflight: Delivery | undefined;
  private pending = false;
  private carry: DeliveryCarry | undefined;
  /** the last NON notifications a RST may still reject */
  private readonly nonSent: Delivery[] = [];
  canceled = false;

  constructor(ep: CoapEndpoint, reg: ObserveRegistration) {
    this.ep = ep;
    this.resource = reg.resource;
    // keep the registration request; its payload is not needed for rendering GETs
    this.request = reg.request;
    this.context = reg.context;
    this.peer = reg.peer;
    this.hookState = reg.hookState;
    this.key = relationKey(reg.peer, reg.request.token);
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
      const msg: CoapMessage = { type: NON, code, mid: 0, token: this.request.token, options: [], payload: EMPTY };
      this.ep.stats.inc('send-responses');
      this.ep.layer.sendNotification(msg, this.context, this, true, NO_HANDLERS);
    }
    this.remove();
  }

  /** Drops the relation without telling the observer. */
  remove(): void {
    if (this.canceled) return;
    this.canceled = true;
    this.resource.observers.delete(this);
    if (this.ep.relations.get(this.key) === this) this.ep.relations.delete(this.key);
    const layer = this.ep.layer;
    if (this.inflight) layer.cancel(this.inflight);
    this.inflight = undefined;
    for (const d of this.nonSent) layer.cancel(d);
    this.nonSent.length = 0;
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
    // over coap+tcp/coaps+tcp with BERT negotiated: the first block may carry several 1024-byte blocks (RFC 8323 §6)
    const bert = bertBlocksFor(ep.connector, this.context, ep.config.tcpNumberOfBulkBlocks);
    const block = blockwiseResponse(ep, this.request, this.peer, payload, options, res.code, bert);
    if (block) {
      const span = blockSpan(0, block.szx, bert, payload.length)!;
      addOption(options, Opt.BLOCK2, encodeBlock({ num: 0, more: span.more, szx: block.szx }));
      addOption(options, Opt.SIZE2, encodeUint(payload.length));
      body = { options, payload: payload.subarray(span.start, span.end) };
    }
    let type = this.resource.observeType ?? (this.request.type === NON ? NON : CON);
    const now = Date.now();
    if (type === NON) {
      this.nonCount++;
      const cfg = ep.config;
      if (this.nonCount >= cfg.notificationCheckIntervalCount || now - this.lastCon >= cfg.notificationCheckInterval) type = CON;
    }
    const msg: CoapMessage = { type, code: res.code, mid: 0, token: this.request.token, options: body.options, payload: body.payload };
    ep.stats.inc('send-responses');
    if (type === CON) {
      this.nonCount = 0;
      this.lastCon = now;
      const carry = this.carry;
      this.carry = undefined;
      this.inflight = ep.layer.sendNotification(msg, this.context, this, true, this, carry);
    } else {
      const d = ep.layer.sendNotification(msg, this.context, this, false, this);
      if (d !== undefined) {
        this.nonSent.push(d);
        if (this.nonSent.length > MAX_NON_KEYS) ep.layer.cancel(this.nonSent.shift()!);
      }
    }
  }

  /** DeliveryHandlers: the CON notification was acknowledged. */
  onAck(): void {
    this.acknowledged();
  }

  /** DeliveryHandlers: the observer rejected a notification with RST (RFC 7641 §3.6). */
  onReset(): void {
    this.ep.observeHooks?.rejectedNotify();
    this.remove();
  }

  /** DeliveryHandlers: the CON notification was never acknowledged (RFC 7641 §4.5). */
  onTimeout(): void {
    this.remove();
  }

  /** DeliveryHandlers: a CON notification is about to be retransmitted. */
  onRetransmit(): void {
    this.retransmitting();
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
    this.ep.layer.cancel(o);
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
export function registerRelation(ep: CoapEndpoint, ex: ObserveRegistration): number | undefined {
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
  const rel = new ObserveRelation(ep, ex);
  ep.relations.set(key, rel);
  ex.resource.observers.add(rel);
  return rel.nextSeq();
}

/** Cancels the relation of peer and token (GET with Observe=1, or an error response). */
export function cancelRelation(ep: CoapEndpoint, peer: string, token: Buffer): void {
  ep.relations.get(relationKey(peer, token))?.remove();
}

// The message layer of CoAP over UDP and DTLS (RFC 7252 §4): message ids, CON/NON/ACK/RST, retransmission of
// CONs with exponential back-off (§4.2), deduplication with cached responses (§4.5), ping (§4.3) and the
// matching of ACK/RST to what was sent. Everything goes out through the host's outbound point.
import { randomInt } from 'node:crypto';
import { decodeMessage, encode, type FormatFailure } from './codec.js';
import { ACK, CON, NON, RST, type CoapMessage, EMPTY, emptyMessage, isRequestCode, isResponseCode } from './message.js';
import { createDeduplicator, duplicateOf, type Deduplicator } from './dedup.js';
import type { EndpointContext } from '../transport/connector.js';
import type { TimerHandle } from '../util/timer-wheel.js';
import type {
  Delivery,
  DeliveryCarry,
  DeliveryHandlers,
  HookSlot,
  MessageLayer,
  MessageLayerHost,
  ResponseTarget,
  ServedRequest,
  WireCodec,
} from './message-layer.js';

/** The UDP datagram format (RFC 7252 §3). */
export const UDP_CODEC: WireCodec = { encode, decode: decodeMessage };

/** A message sent by this layer that may still be answered: a CON awaiting ACK/RST (§4.2), or a NON notification a RST may reject (RFC 7641 §3.6). */
interface Outgoing extends Delivery {
  /** peer#mid */
  key: string;
  /** the encoded message (a retransmission repeats these bytes) */
  data: Buffer;
  ctx: EndpointContext;
  attempts: number;
  timeout: number;
  timer: TimerHandle | undefined;
  handlers: DeliveryHandlers;
  /** a response or notification (counted as response retransmission) */
  response: boolean;
  /** CON in flight (else a NON notification remembered for RST matching) */
  con: boolean;
}

const NO_HANDLERS: DeliveryHandlers = {};

/** The UDP/DTLS message layer of one endpoint. */
export class UdpMessageLayer implements MessageLayer {
  readonly codec = UDP_CODEC;
  readonly dedup: Deduplicator;
  private readonly host: MessageLayerHost;
  /** CON messages in flight by peer#mid */
  private readonly outgoing = new Map<string, Outgoing>();
  /** NON notifications by peer#mid, to match a RST (RFC 7641 §3.6) */
  private readonly nonNotifications = new Map<string, Outgoing>();
  private mid: number;
  private sweepTimer: NodeJS.Timeout | undefined;

  constructor(host: MessageLayerHost) {
    this.host = host;
    this.dedup = createDeduplicator(host.config, host.stats.bounds);
    this.mid = host.config.useRandomMidStart ? randomInt(0, 0x10000) : 0;
  }

  start(): void {
    const dedup = this.dedup;
    this.sweepTimer = setInterval(() => dedup.sweep(Date.now()), this.host.config.markAndSweepInterval);
    this.sweepTimer.unref();
  }

  stop(): void {
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.sweepTimer = undefined;
    for (const o of this.outgoing.values()) o.timer?.cancel();
    this.outgoing.clear();
    this.nonNotifications.clear();
    this.dedup.clear();
  }

  /** Next message id (16-bit wrap). */
  private nextMid(): number {
    this.mid = (this.mid + 1) & 0xffff;
    return this.mid;
  }

  receiveMalformed(failure: FormatFailure, ctx: EndpointContext): void {
    // §4.2/§4.3: a CON with a format error is rejected with RST, a NON is silently ignored
    if (failure.hasHeader && failure.type === CON) this.sendEmpty(RST, failure.mid, ctx);
  }

  receive(msg: CoapMessage, ctx: EndpointContext): void {
    const host = this.host;
    const code = msg.code;
    if (code === 0) {
      this.receiveEmpty(msg, ctx);
      return;
    }
    if (isRequestCode(code)) {
      if (msg.type === ACK || msg.type === RST) {
        host.stats.inc('recv-malformed');
        return;
      }
      host.stats.inc('recv-requests');
      if (!host.serves) {
        // client-only endpoint: reject requests
        if (msg.type === CON) this.sendEmpty(RST, msg.mid, ctx);
        return;
      }
      this.receiveRequest(msg, ctx);
      return;
    }
    if (isResponseCode(code)) {
      if (msg.type === RST) {
        host.stats.inc('recv-malformed');
        return;
      }
      host.stats.inc('recv-responses');
      if (msg.type === ACK) this.complete(msg, ctx, false);
      this.receiveResponse(msg, ctx);
      return;
    }
    // reserved code classes 1, 6, 7 (§12.1): reject a CON, ignore otherwise
    host.stats.inc('recv-malformed');
    if (msg.type === CON) this.sendEmpty(RST, msg.mid, ctx);
  }

  /** Deduplicates a request (§4.5): a duplicate gets the cached response or the empty ACK again. */
  private receiveRequest(msg: CoapMessage, ctx: EndpointContext): void {
    const host = this.host;
    const peer = host.peerOf(ctx);
    const dedup = this.dedup;
    const handle = dedup.check(peer, msg.mid, Date.now(), msg.type === CON);
    if (handle < 0) {
      host.stats.inc('recv-duplicate requests');
      const dup = duplicateOf(handle);
      const response = dedup.response(dup);
      if (response !== undefined) host.resend(response, ctx);
      else if (dedup.accepted(dup) && msg.type === CON) this.sendEmpty(ACK, msg.mid, ctx);
      return;
    }
    host.receiveRequest(msg, ctx, peer, handle);
  }

  /** Matches a response to its client exchange; a CON response is deduplicated and acknowledged (§4.2, §4.5). */
  private receiveResponse(msg: CoapMessage, ctx: EndpointContext): void {
    const host = this.host;
    const peer = host.peerOf(ctx);
    if (msg.type === CON) {
      // separate responses and CON notifications
      const dedup = this.dedup;
      const handle = dedup.check(peer, msg.mid, Date.now(), true);
      if (handle < 0) {
        host.stats.inc('recv-duplicate responses');
        const response = dedup.response(duplicateOf(handle));
        if (response !== undefined) host.resend(response, ctx);
        return;
      }
      const target = host.matchResponse(msg, peer);
      if (!target) {
        host.stats.inc('recv-ignored');
        dedup.setResponse(handle, this.sendEmpty(RST, msg.mid, ctx));
        return;
      }
      dedup.setResponse(handle, this.sendEmpty(ACK, msg.mid, ctx));
      host.receiveResponse(target, msg, ctx);
      return;
    }
    const target = host.matchResponse(msg, peer);
    if (!target) {
      host.stats.inc('recv-ignored');
      if (msg.type === NON) this.sendEmpty(RST, msg.mid, ctx);
      return;
    }
    if (msg.type === ACK && target.lastMid !== msg.mid) {
      // a piggy-backed response must match the MID of our request (§5.3.2)
      host.stats.inc('recv-ignored');
      return;
    }
    host.receiveResponse(target, msg, ctx);
  }

  private receiveEmpty(msg: CoapMessage, ctx: EndpointContext): void {
    const stats = this.host.stats;
    switch (msg.type) {
      case CON:
        // §4.3: CoAP ping, answered with RST
        this.sendEmpty(RST, msg.mid, ctx);
        break;
      case ACK:
        stats.inc('recv-acks');
        this.complete(msg, ctx, false);
        break;
      case RST:
        stats.inc('recv-rejects');
        this.receiveReset(msg, ctx);
        break;
      default:
        stats.inc('recv-ignored');
    }
  }

  private receiveReset(msg: CoapMessage, ctx: EndpointContext): void {
    if (this.complete(msg, ctx, true)) return;
    const key = this.host.peerOf(ctx) + '#' + msg.mid;
    const o = this.nonNotifications.get(key);
    if (o) {
      this.nonNotifications.delete(key);
      o.handlers.onReset?.();
      return;
    }
    this.host.stats.inc('recv-ignored');
  }

  /** Matches an ACK or RST to a CON in flight; returns true when one matched. */
  private complete(msg: CoapMessage, ctx: EndpointContext, reset: boolean): boolean {
    const key = this.host.peerOf(ctx) + '#' + msg.mid;
    const o = this.outgoing.get(key);
    if (!o) {
      if (!reset && msg.code === 0) this.host.stats.inc('recv-ignored');
      return false;
    }
    this.outgoing.delete(key);
    o.timer?.cancel();
    if (reset) o.handlers.onReset?.();
    else o.handlers.onAck?.(msg);
    return true;
  }

  /** Sends an empty ACK or RST; returns its bytes. */
  private sendEmpty(type: typeof ACK | typeof RST, mid: number, ctx: EndpointContext): Buffer {
    this.host.stats.inc(type === ACK ? 'send-acks' : 'send-rejects');
    return this.host.transmit(emptyMessage(type, mid), ctx, undefined);
  }

  accept(req: ServedRequest): void {
    const r = req.request;
    if (r.type !== CON) return;
    if (typeof req.layerState === 'number') this.dedup.setAccepted(req.layerState);
    this.sendEmpty(ACK, r.mid, req.context);
  }

  sendResponse(req: ServedRequest, res: CoapMessage): void {
    const r = req.request;
    let data: Buffer;
    if (r.type === CON && !req.accepted) {
      // §5.2.1: piggy-backed in the ACK
      res.type = ACK;
      res.mid = r.mid;
      data = this.host.transmit(res, req.context, req);
    } else {
      // §5.2.2 separate response (CON), §5.2.3 NON request → NON response
      res.mid = this.nextMid();
      if (r.type === CON) {
        res.type = CON;
        data = this.sendCon(res, req.context, req, NO_HANDLERS, true, 0, undefined).data;
      } else {
        res.type = NON;
        data = this.host.transmit(res, req.context, req);
      }
    }
    // the dedup handle (RFC 7252 §4.5); stale when the message was evicted meanwhile, then nothing is stored
    if (typeof req.layerState === 'number') this.dedup.setResponse(req.layerState, data);
  }

  sendNotification(msg: CoapMessage, ctx: EndpointContext, slot: HookSlot, confirmable: boolean, handlers: DeliveryHandlers, carry?: DeliveryCarry): Delivery | undefined {
    msg.mid = this.nextMid();
    if (confirmable) {
      msg.type = CON;
      return this.sendCon(msg, ctx, slot, handlers, true, carry?.attempts ?? 0, carry?.timeout);
    }
    msg.type = NON;
    const data = this.host.transmit(msg, ctx, slot);
    // RFC 7641 §3.6: a RST to a NON notification cancels the relation
    const key = this.host.peerOf(ctx) + '#' + msg.mid;
    const o: Outgoing = { key, data, ctx, attempts: 0, timeout: 0, timer: undefined, handlers, response: true, con: false };
    this.nonNotifications.set(key, o);
    return o;
  }

  sendRequest(msg: CoapMessage, ctx: EndpointContext, target: ResponseTarget, handlers: DeliveryHandlers): Delivery | undefined {
    msg.mid = this.nextMid();
    target.lastMid = msg.mid;
    if (msg.type === CON) return this.sendCon(msg, ctx, target, handlers, false, 0, undefined);
    this.host.transmit(msg, ctx, target, handlers.onSendError === undefined ? undefined : (err) => handlers.onSendError!(err));
    return undefined;
  }

  cancel(delivery: Delivery): void {
    const o = delivery as Outgoing;
    if (o.con) {
      if (this.outgoing.get(o.key) === o) this.outgoing.delete(o.key);
      o.timer?.cancel();
    } else if (this.nonNotifications.get(o.key) === o) {
      this.nonNotifications.delete(o.key);
    }
  }

  /** Sends a CON message and retransmits it until ACK/RST or MAX_RETRANSMIT (§4.2). */
  private sendCon(msg: CoapMessage, ctx: EndpointContext, slot: HookSlot, handlers: DeliveryHandlers, response: boolean, attempts: number, timeout: number | undefined): Outgoing {
    const key = this.host.peerOf(ctx) + '#' + msg.mid;
    const c = this.host.config;
    const initial = timeout ?? Math.round(c.ackTimeout * (1 + Math.random() * (c.ackInitRandom - 1)));
    const o: Outgoing = { key, data: EMPTY, ctx, attempts, timeout: initial, timer: undefined, handlers, response, con: true };
    this.outgoing.set(key, o);
    o.timer = this.host.wheel.schedule(o.timeout, () => this.retransmit(o));
    o.data = this.host.transmit(msg, ctx, slot, () => {
      if (this.outgoing.get(key) === o) {
        this.outgoing.delete(key);
        o.timer?.cancel();
        handlers.onTimeout?.();
      }
    });
    return o;
  }

  private retransmit(o: Outgoing): void {
    if (this.outgoing.get(o.key) !== o) return;
    const c = this.host.config;
    if (o.attempts >= c.maxRetransmit) {
      this.outgoing.delete(o.key);
      o.handlers.onTimeout?.();
      return;
    }
    o.attempts++;
    o.timeout = Math.min(Math.round(o.timeout * c.ackTimeoutScale), c.maxAckTimeout);
    if (o.handlers.onRetransmit) {
      // the owner may replace this message by a newer one (observe: newest notification wins)
      o.handlers.onRetransmit();
      if (this.outgoing.get(o.key) !== o) return;
    }
    this.host.stats.inc(o.response ? 'send-response retransmissions' : 'send-request retransmissions');
    o.timer = this.host.wheel.schedule(o.timeout, () => this.retransmit(o));
    this.host.resend(o.data, o.ctx);
  }
}

/** The default message layer of UDP and DTLS endpoints. */
export function createUdpMessageLayer(host: MessageLayerHost): MessageLayer {
  return new UdpMessageLayer(host);
}

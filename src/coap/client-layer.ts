// The client role of the exchange layer: requests with token matching, Block1 sending, Block2 fetching
// (RFC 7959 §2.4-2.5; BERT over coap+tcp/coaps+tcp, RFC 8323 §6), observe notifications with freshness check
// (RFC 7641 §3.4). The message layer sends the requests and matches responses to exchanges (message-layer.ts).
import { CON, NON, Code, Opt, type CoapMessage, type CoapOption, type MessageType, EMPTY } from './message.js';
import { isMessageConnector, type EndpointContext } from '../transport/connector.js';
import {
  addOption,
  blockSize,
  decodeUint,
  encodeBlock,
  encodeUint,
  getOption,
  removeOption,
  sizeToSzx,
  sortOptions,
} from './options.js';
import type { CoapEndpoint } from './endpoint.js';
import { BERT_SZX, bertBlocksFor, blockSpan, decodeBlockOption, nextNum, unitSize } from './bert.js';
import type { TimerHandle } from '../util/timer-wheel.js';
import type { Delivery, DeliveryHandlers, ResponseTarget } from './message-layer.js';

/** What to request. */
export interface RequestSpec {
  /** method code (Code.GET, ...) */
  method: number;
  /** CON (default) or NON */
  type?: MessageType;
  /** Uri-Path, as `a/b` text or segments */
  path?: string | readonly string[];
  /** Uri-Query options */
  query?: readonly string[];
  /** further options */
  options?: readonly CoapOption[];
  payload?: Buffer | string;
  /** Content-Format */
  format?: number;
  accept?: number;
  /** Observe option value (0 register, 1 cancel) */
  observe?: number;
  /** token to use (default: a fresh one) */
  token?: Buffer;
  /** block size for Block1 and an early Block2 (16..1024) */
  blockSize?: number;
  /** give up when no (complete) response arrived within this many ms */
  timeout?: number;
}

/** Callbacks of a request. */
export interface ResponseHandlers {
  /** the (block-wise assembled) response; for observe the first one */
  onResponse(res: CoapMessage, ctx: EndpointContext): void;
  /** timeout, RST or send error */
  onError(err: Error): void;
  /** later notifications of an observe relation */
  onNotification?(res: CoapMessage, ctx: EndpointContext): void;
}

/** A request in progress (and, for observe, the relation it established); its own delivery handlers. */
export class ClientExchange implements ResponseTarget, DeliveryHandlers {
  readonly ep: CoapEndpoint;
  ctx: EndpointContext;
  readonly token: Buffer;
  readonly key: string;
  private readonly base: CoapMessage;
  private readonly handlers: ResponseHandlers;
  private outgoing: Delivery | undefined;
  private timer: TimerHandle | undefined;
  private readonly body: Buffer;
  private block1Szx: number;
  /** BERT blocks per Block1 message (0: no BERT), decided when the exchange starts */
  private bert = 0;
  private block2Szx: number | undefined;
  private chunks: Buffer[] = [];
  private received = 0;
  private observing = false;
  private lastSeq = -1;
  private lastTime = 0;
  done = false;
  /** MID of the last message sent for this exchange */
  lastMid = -1;
  /** number of retransmissions of all messages of this exchange */
  retransmissions = 0;
  /** the message hooks' state of the exchange (e.g. OSCORE's request binding) */
  hookState: unknown = undefined;

  constructor(ep: CoapEndpoint, spec: RequestSpec, ctx: EndpointContext, handlers: ResponseHandlers) {
    this.ep = ep;
    this.ctx = ctx;
    this.handlers = handlers;
    this.token = spec.token ?? ep.nextToken();
    this.key = ep.peerOf(ctx) + '#' + this.token.toString('hex');
    const options: CoapOption[] = spec.options ? [...spec.options] : [];
    const path = typeof spec.path === 'string' ? spec.path.split('/').filter((s) => s.length > 0) : spec.path ?? [];
    for (const p of path) options.push({ number: Opt.URI_PATH, value: Buffer.from(p, 'utf8') });
    for (const q of spec.query ?? []) options.push({ number: Opt.URI_QUERY, value: Buffer.from(q, 'utf8') });
    if (spec.format !== undefined) options.push({ number: Opt.CONTENT_FORMAT, value: encodeUint(spec.format) });
    if (spec.accept !== undefined) options.push({ number: Opt.ACCEPT, value: encodeUint(spec.accept) });
    if (spec.observe !== undefined) options.push({ number: Opt.OBSERVE, value: encodeUint(spec.observe) });
    sortOptions(options);
    this.body = spec.payload === undefined ? EMPTY : typeof spec.payload === 'string' ? Buffer.from(spec.payload, 'utf8') : spec.payload;
    const cfg = ep.config;
    this.block1Szx = sizeToSzx(spec.blockSize ?? cfg.preferredBlockSize);
    if (spec.blockSize !== undefined) {
      this.block2Szx = sizeToSzx(spec.blockSize);
      addOption(options, Opt.BLOCK2, encodeBlock({ num: 0, more: false, szx: this.block2Szx }));
    }
    this.base = { type: spec.type ?? CON, code: spec.method, mid: 0, token: this.token, options, payload: EMPTY };
    if (spec.timeout !== undefined) this.timer = ep.wheel.schedule(spec.timeout, () => this.fail(new Error('timeout')));
  }

  /** Sends the first message. */
  start(): void {
    this.ep.exchanges.set(this.key, this);
    const cfg = this.ep.config;
    const limit = cfg.maxMessageSize;
    if (this.body.length > limit && this.block2Szx === undefined) {
      // both CSMs announced BERT: Block1 messages carry up to `bert` blocks of 1024 bytes (RFC 8323 §6)
      this.bert = bertBlocksFor(this.ep.connector, this.ctx, cfg.tcpNumberOfBulkBlocks);
      if (this.bert > 0) this.block1Szx = BERT_SZX;
    }
    if (this.body.length > limit || this.body.length > blockSize(this.block1Szx) && this.block2Szx !== undefined) {
      this.sendBlock1(0);
    } else {
      this.transmit({ ...this.base, payload: this.body });
    }
  }

  private sendBlock1(num: number): void {
    const span = blockSpan(num, this.block1Szx, this.bert, this.body.length);
    if (span === undefined) return this.fail(new Error(`Block1 ${num} lies beyond the body`));
    const options = [...this.base.options];
    removeOption(options, Opt.BLOCK2);
    addOption(options, Opt.BLOCK1, encodeBlock({ num, more: span.more, szx: this.block1Szx }));
    if (num === 0) addOption(options, Opt.SIZE1, encodeUint(this.body.length));
    this.transmit({ ...this.base, options, payload: this.body.subarray(span.start, span.end) });
  }

  private transmit(msg: CoapMessage): void {
    if (this.done) return;
    const ep = this.ep;
    ep.stats.inc('send-requests');
    // the message layer sets the MID (and lastMid) and, for a CON, retransmits
    this.outgoing = ep.layer.sendRequest(msg, this.ctx, this, this);
  }

  /** DeliveryHandlers: the peer rejected the request with RST. */
  onReset(): void {
    this.fail(new Error('rejected'));
  }

  /** DeliveryHandlers: no ACK after MAX_RETRANSMIT, or the send failed. */
  onTimeout(): void {
    this.fail(new Error('timeout'));
  }

  /** DeliveryHandlers: a CON of this exchange is retransmitted. */
  onRetransmit(): void {
    this.retransmissions++;
  }

  /** DeliveryHandlers: a NON request could not be sent. */
  onSendError(err: Error): void {
    this.fail(err);
  }

  /** Handles a response or notification matched by token. */
  receive(msg: CoapMessage, ctx: EndpointContext): void {
    if (this.done) return;
    if (this.outgoing) {
      this.ep.layer.cancel(this.outgoing);
      this.outgoing = undefined;
    }
    const b1v = getOption(msg, Opt.BLOCK1);
    // SZX 7 is BERT on a stream (RFC 8323 §6), reserved over UDP (RFC 7959 §2.2)
    const stream = isMessageConnector(this.ep.connector);
    if (msg.code === Code.CONTINUE && b1v) {
      const b1 = decodeBlockOption(b1v, stream);
      if (!b1) return this.fail(new Error('bad Block1 in 2.31'));
      // the end of the message sent as block b1.num; late negotiation: the server may ask for smaller blocks
      // (RFC 7959 §2.5), a SZX below 7 after BERT blocks included
      const sent = blockSpan(b1.num, this.block1Szx, this.bert, this.body.length);
      if (sent === undefined || !sent.more) return this.fail(new Error('server asks for more blocks than the body has'));
      if (b1.szx < this.block1Szx) this.block1Szx = b1.szx;
      this.sendBlock1(Math.floor(sent.end / unitSize(this.block1Szx)));
      return;
    }
    const b2v = getOption(msg, Opt.BLOCK2);
    const b2 = b2v ? decodeBlockOption(b2v, stream) : undefined;
    const obs = getOption(msg, Opt.OBSERVE);
    if (b2 && (b2.more || b2.num > 0 || this.chunks.length > 0)) {
      if (b2.num === 0 && obs !== undefined) {
        // a (newer) block-wise notification restarts the assembly (RFC 7959 §3.4)
        this.chunks = [];
        this.received = 0;
      }
      const offset = b2.num * unitSize(b2.szx);
      // a block we already have (answer to an earlier follow-up of a restarted assembly) is ignored
      if (offset < this.received) return;
      if (offset !== this.received) return this.fail(new Error('unexpected Block2 offset'));
      // a non-final BERT block carries a non-zero multiple of 1024 bytes (RFC 8323 §6)
      const bert = b2.szx === BERT_SZX;
      if (bert && b2.more && (msg.payload.length === 0 || msg.payload.length % 1024 !== 0)) {
        return this.fail(new Error(`non-final BERT block of ${msg.payload.length} bytes`));
      }
      this.chunks.push(msg.payload);
      this.received += msg.payload.length;
      if (b2.more) {
        if (this.received > this.ep.config.maxResourceBodySize) return this.fail(new Error('response body too large'));
        const options = [...this.base.options];
        removeOption(options, Opt.OBSERVE);
        removeOption(options, Opt.BLOCK1);
        removeOption(options, Opt.SIZE1);
        removeOption(options, Opt.BLOCK2);
        // the next NUM: after a BERT block by the number of 1024-byte blocks it carried (RFC 8323 §6)
        const num = bert ? nextNum(b2.num, BERT_SZX, msg.payload.length) : b2.num + 1;
        addOption(options, Opt.BLOCK2, encodeBlock({ num, more: false, szx: b2.szx }));
        if (obs !== undefined) this.pendingObserve = decodeUint(obs);
        this.transmit({ ...this.base, type: this.base.type === NON ? NON : CON, options, payload: EMPTY });
        return;
      }
      const payload = Buffer.concat(this.chunks, this.received);
      this.chunks = [];
      this.received = 0;
      const options = msg.options.filter((o) => o.number !== Opt.BLOCK2);
      if (this.pendingObserve !== undefined && obs === undefined) options.push({ number: Opt.OBSERVE, value: encodeUint(this.pendingObserve) });
      this.pendingObserve = undefined;
      this.deliver({ ...msg, options: sortOptions(options), payload }, ctx);
      return;
    }
    this.deliver(msg, ctx);
  }

  private pendingObserve: number | undefined;

  private deliver(msg: CoapMessage, ctx: EndpointContext): void {
    const obs = getOption(msg, Opt.OBSERVE);
    const wantsObserve = getOption(this.base, Opt.OBSERVE);
    if (wantsObserve !== undefined && decodeUint(wantsObserve) === 0 && obs !== undefined && msg.code >> 5 === 2) {
      const seq = decodeUint(obs);
      const now = Date.now();
      if (this.observing) {
        // §3.4 freshness: newer sequence number (mod 2^24) or more than 128 s later
        const v1 = this.lastSeq;
        const fresh = (v1 < seq && seq - v1 < 1 << 23) || (v1 > seq && v1 - seq > 1 << 23) || now > this.lastTime + 128_000;
        if (!fresh) return;
        this.lastSeq = seq;
        this.lastTime = now;
        this.handlers.onNotification?.(msg, ctx);
        return;
      }
      this.observing = true;
      this.lastSeq = seq;
      this.lastTime = now;
      this.timer?.cancel();
      this.timer = undefined;
      this.handlers.onResponse(msg, ctx);
      return;
    }
    if (this.observing) {
      // an error or a response without Observe ends the relation (§3.2)
      this.finish();
      this.handlers.onNotification?.(msg, ctx);
      return;
    }
    this.finish();
    this.handlers.onResponse(msg, ctx);
  }

  private finish(): void {
    this.done = true;
    this.timer?.cancel();
    this.timer = undefined;
    if (this.outgoing) this.ep.layer.cancel(this.outgoing);
    this.outgoing = undefined;
    if (this.ep.exchanges.get(this.key) === this) this.ep.exchanges.delete(this.key);
  }

  /** Ends the exchange with an error. */
  fail(err: Error): void {
    if (this.done) return;
    this.finish();
    this.handlers.onError(err);
  }

  /** Forgets the exchange (observe: reactive cancel; later notifications get a RST). */
  cancel(): void {
    this.finish();
  }

  /** True while an observe relation is established. */
  get isObserving(): boolean {
    return this.observing && !this.done;
  }
}

/** Sends a request from an endpoint; returns the exchange (already started). */
export function request(ep: CoapEndpoint, spec: RequestSpec, ctx: EndpointContext, handlers: ResponseHandlers): ClientExchange {
  const ex = new ClientExchange(ep, spec, ctx, handlers);
  ex.start();
  return ex;
}

/** Promise form of request for one-shot use (no observe). */
export function requestAsync(ep: CoapEndpoint, spec: RequestSpec, ctx: EndpointContext): Promise<CoapMessage> {
  return new Promise((resolve, reject) => {
    request(ep, spec, ctx, { onResponse: (res) => resolve(res), onError: reject });
  });
}

// A CoAP endpoint (RFC 7252 §4): message layer (dedup, CON reliability, ACK/RST) over one Connector,
// with the server role (src/coap/server-layer.ts) and the client role (src/coap/client-layer.ts) on top.
import { randomBytes, randomInt } from 'node:crypto';
import type { Logger } from 'pino';
import { decodeMessage, encode, isFormatFailure } from './codec.js';
import { ACK, CON, NON, RST, type CoapMessage, emptyMessage, isRequestCode, isResponseCode } from './message.js';
import { type Connector, type EndpointContext, peerKey } from '../transport/connector.js';
import type { CoapStackConfig } from './stack-config.js';
import type { EndpointInfo, Resource } from './resource.js';
import { createDeduplicator, type Deduplicator } from './dedup.js';
import { TransferBudget, TransferStore, transferBytes, type Block1Transfer, type Block2Transfer } from './blockwise.js';
import { EndpointStats } from './stats.js';
import { TimerWheel, type TimerHandle } from '../util/timer-wheel.js';
import { handleRequest } from './server-layer.js';
import { handleResponse, request, type ClientExchange } from './client-layer.js';
import type { ObserveRelation } from './observe.js';

/** Callbacks of a confirmable message in flight. */
export interface ConHandlers {
  /** the ACK arrived (it may carry a piggy-backed response) */
  onAck?(ack: CoapMessage): void;
  onReset?(): void;
  /** MAX_RETRANSMIT exhausted, or a send error */
  onTimeout?(): void;
  /** called before a retransmission; return replacement bytes to send a newer message instead */
  onRetransmit?(): void;
}

/** A CON message awaiting its ACK (RFC 7252 §4.2). */
export interface Outgoing {
  key: string;
  data: Buffer;
  ctx: EndpointContext;
  attempts: number;
  timeout: number;
  timer: TimerHandle | undefined;
  handlers: ConHandlers;
  response: boolean;
}

/** Observe events counted for statistics (e.g. /diagnose); optional. */
export interface ObserveHooks {
  /** a GET with Observe=0 on an observable resource arrived */
  observeRequest(): void;
  /** a GET with Observe=1 arrived */
  cancelRequest(): void;
  /** a notification was rejected with RST */
  rejectedNotify(): void;
}

/** Settings to create an endpoint. */
export interface EndpointOptions {
  connector: Connector;
  config: CoapStackConfig;
  /** resource tree for the server role; absent for a client-only endpoint */
  root?: Resource;
  serverTag?: string;
  logger?: Logger;
  wheel?: TimerWheel;
  /** peer identity used for deduplication and matching; default address:port */
  peerOf?: (ctx: EndpointContext) => string;
}

/** Process-wide timer wheel shared by endpoints that are not given one. */
let sharedWheel: TimerWheel | undefined;
function defaultWheel(): TimerWheel {
  sharedWheel ??= new TimerWheel(10, 1024);
  return sharedWheel;
}

/** One CoAP endpoint bound to one connector. */
export class CoapEndpoint {
  readonly connector: Connector;
  readonly config: CoapStackConfig;
  readonly root: Resource | undefined;
  readonly info: EndpointInfo;
  readonly stats = new EndpointStats();
  readonly logger: Logger | undefined;
  readonly wheel: TimerWheel;
  readonly dedup: Deduplicator;
  readonly block1: TransferStore<Block1Transfer>;
  readonly block2: TransferStore<Block2Transfer>;
  /** byte budget shared by block1 and block2 (COAP.BLOCKWISE_MAX_TOTAL_BYTES) */
  readonly blockBudget: TransferBudget;
  /** CON messages in flight by peer#mid */
  readonly outgoing = new Map<string, Outgoing>();
  /** NON notifications by peer#mid, to match a RST (RFC 7641 §3.6) */
  readonly nonNotifications = new Map<string, ObserveRelation>();
  /** observe relations by peer#token */
  readonly relations = new Map<string, ObserveRelation>();
  /** client exchanges by peer#token */
  readonly exchanges = new Map<string, ClientExchange>();
  readonly peerOf: (ctx: EndpointContext) => string;
  /** observe statistics of the server this endpoint belongs to */
  observeHooks: ObserveHooks | undefined;
  private mid: number;
  private tokenCounter = randomInt(0, 0x7fffffff);
  private readonly tokenPrefix = randomBytes(4);
  private sweepTimer: NodeJS.Timeout | undefined;
  private blockTimer: NodeJS.Timeout | undefined;
  private running = false;

  constructor(opts: EndpointOptions) {
    this.connector = opts.connector;
    this.config = opts.config;
    this.root = opts.root;
    this.logger = opts.logger;
    this.wheel = opts.wheel ?? defaultWheel();
    this.peerOf = opts.peerOf ?? defaultPeerOf;
    const bounds = this.stats.bounds;
    this.dedup = createDeduplicator(opts.config, bounds);
    const maxTransfers = Math.max(16, Math.min(opts.config.maxActivePeers, 100_000));
    this.blockBudget = new TransferBudget(opts.config.blockwiseMaxTotalBytes, bounds);
    const lifetime = opts.config.blockwiseStatusLifetime;
    this.block1 = new TransferStore<Block1Transfer>(maxTransfers, lifetime, this.blockBudget, transferBytes, bounds);
    this.block2 = new TransferStore<Block2Transfer>(maxTransfers, lifetime, this.blockBudget, transferBytes, bounds);
    this.mid = opts.config.useRandomMidStart ? randomInt(0, 0x10000) : 0;
    const c = opts.connector;
    const host = c.localAddress.includes(':') ? `[${c.localAddress}]` : c.localAddress;
    const connector = c;
    const serverTag = opts.serverTag ?? 'CLIENT';
    const config = opts.config;
    const stats = this.stats;
    const self = this;
    this.info = {
      get uri() {
        return `${connector.scheme}://${host}:${connector.localPort}`;
      },
      scheme: c.scheme,
      protocol: c.protocol,
      localAddress: c.localAddress,
      get localPort() {
        return connector.localPort;
      },
      config,
      serverTag,
      stats,
      request: (spec, ctx, handlers) => request(self, spec, ctx, handlers),
    };
    c.onDatagram = (data, ctx) => this.receive(data, ctx);
  }

  /** Starts the connector and the sweep timers. */
  async start(): Promise<void> {
    if (this.running) return;
    await this.connector.start();
    this.running = true;
    this.sweepTimer = setInterval(() => this.dedup.sweep(Date.now()), this.config.markAndSweepInterval);
    this.sweepTimer.unref();
    this.blockTimer = setInterval(() => {
      const now = Date.now();
      this.block1.sweep(now);
      this.block2.sweep(now);
    }, this.config.blockwiseStatusInterval);
    this.blockTimer.unref();
  }

  /** Stops the connector, the timers and drops all message state. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    if (this.blockTimer) clearInterval(this.blockTimer);
    for (const o of this.outgoing.values()) o.timer?.cancel();
    this.outgoing.clear();
    for (const rel of [...this.relations.values()]) rel.cancel();
    for (const ex of [...this.exchanges.values()]) ex.fail(new Error('endpoint stopped'));
    this.nonNotifications.clear();
    this.dedup.clear();
    this.block1.clear();
    this.block2.clear();
    await this.connector.stop();
  }

  /** True between start and stop. */
  get isRunning(): boolean {
    return this.running;
  }

  /** Next message id (16-bit wrap). */
  nextMid(): number {
    this.mid = (this.mid + 1) & 0xffff;
    return this.mid;
  }

  /** A fresh 8-byte token: random prefix and a counter. */
  nextToken(): Buffer {
    const t = Buffer.allocUnsafe(8);
    this.tokenPrefix.copy(t, 0);
    this.tokenCounter = (this.tokenCounter + 1) >>> 0;
    t.writeUInt32BE(this.tokenCounter, 4);
    return t;
  }

  /** Entry point for every datagram of the connector. */
  receive(data: Buffer, ctx: EndpointContext): void {
    const msg = decodeMessage(data);
    if (isFormatFailure(msg)) {
      this.stats.inc('recv-malformed');
      // §4.2/§4.3: a CON with a format error is rejected with RST, a NON is silently ignored
      if (msg.hasHeader && msg.type === CON) this.sendEmpty(RST, msg.mid, ctx);
      return;
    }
    try {
      this.dispatch(msg, ctx);
    } catch (err) {
      this.logger?.warn({ err }, 'failure processing message');
    }
  }

  private dispatch(msg: CoapMessage, ctx: EndpointContext): void {
    const code = msg.code;
    if (code === 0) {
      this.receiveEmpty(msg, ctx);
      return;
    }
    if (isRequestCode(code)) {
      if (msg.type === ACK || msg.type === RST) {
        this.stats.inc('recv-malformed');
        return;
      }
      this.stats.inc('recv-requests');
      if (!this.root) {
        // client-only endpoint: reject requests
        if (msg.type === CON) this.sendEmpty(RST, msg.mid, ctx);
        return;
      }
      handleRequest(this, msg, ctx);
      return;
    }
    if (isResponseCode(code)) {
      if (msg.type === RST) {
        this.stats.inc('recv-malformed');
        return;
      }
      this.stats.inc('recv-responses');
      if (msg.type === ACK) this.completeOutgoing(msg, ctx, false);
      handleResponse(this, msg, ctx);
      return;
    }
    // reserved code classes 1, 6, 7 (§12.1): reject a CON, ignore otherwise
    this.stats.inc('recv-malformed');
    if (msg.type === CON) this.sendEmpty(RST, msg.mid, ctx);
  }

  private receiveEmpty(msg: CoapMessage, ctx: EndpointContext): void {
    switch (msg.type) {
      case CON:
        // §4.3: CoAP ping, answered with RST
        this.sendEmpty(RST, msg.mid, ctx);
        break;
      case ACK:
        this.stats.inc('recv-acks');
        this.completeOutgoing(msg, ctx, false);
        break;
      case RST:
        this.stats.inc('recv-rejects');
        this.receiveReset(msg, ctx);
        break;
      default:
        this.stats.inc('recv-ignored');
    }
  }

  private receiveReset(msg: CoapMessage, ctx: EndpointContext): void {
    const key = this.peerOf(ctx) + '#' + msg.mid;
    if (this.completeOutgoing(msg, ctx, true)) return;
    const rel = this.nonNotifications.get(key);
    if (rel) {
      this.nonNotifications.delete(key);
      this.observeHooks?.rejectedNotify();
      rel.cancel();
      return;
    }
    this.stats.inc('recv-ignored');
  }

  /** Matches an ACK or RST to a CON in flight; returns true when one matched. */
  private completeOutgoing(msg: CoapMessage, ctx: EndpointContext, reset: boolean): boolean {
    const key = this.peerOf(ctx) + '#' + msg.mid;
    const o = this.outgoing.get(key);
    if (!o) {
      if (!reset && msg.code === 0) this.stats.inc('recv-ignored');
      return false;
    }
    this.outgoing.delete(key);
    o.timer?.cancel();
    if (reset) o.handlers.onReset?.();
    else o.handlers.onAck?.(msg);
    return true;
  }

  /** Sends an empty ACK or RST. */
  sendEmpty(type: typeof ACK | typeof RST, mid: number, ctx: EndpointContext): void {
    this.stats.inc(type === ACK ? 'send-acks' : 'send-rejects');
    this.send(encode(emptyMessage(type, mid)), ctx);
  }

  /** Sends bytes through the connector, counting send errors. */
  send(data: Buffer, ctx: EndpointContext, onError?: (err: Error) => void): void {
    this.connector.send(data, ctx, (err) => {
      this.stats.inc('send-errors');
      this.logger?.debug({ err, peer: peerKey(ctx.address, ctx.port) }, 'send failed');
      onError?.(err);
    });
  }

  /** Sends a CON message and retransmits it until ACK/RST or MAX_RETRANSMIT (§4.2). */
  sendCon(msg: CoapMessage, ctx: EndpointContext, handlers: ConHandlers, response: boolean, attempts = 0, timeout?: number): Outgoing {
    const data = encode(msg);
    const key = this.peerOf(ctx) + '#' + msg.mid;
    const c = this.config;
    const initial = timeout ?? Math.round(c.ackTimeout * (1 + Math.random() * (c.ackInitRandom - 1)));
    const o: Outgoing = { key, data, ctx, attempts, timeout: initial, timer: undefined, handlers, response };
    this.outgoing.set(key, o);
    o.timer = this.wheel.schedule(o.timeout, () => this.retransmit(o));
    this.send(data, ctx, () => {
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
    if (o.attempts >= this.config.maxRetransmit) {
      this.outgoing.delete(o.key);
      o.handlers.onTimeout?.();
      return;
    }
    o.attempts++;
    o.timeout = Math.min(Math.round(o.timeout * this.config.ackTimeoutScale), this.config.maxAckTimeout);
    if (o.handlers.onRetransmit) {
      // the owner may replace this message by a newer one (observe: newest notification wins)
      o.handlers.onRetransmit();
      if (this.outgoing.get(o.key) !== o) return;
    }
    this.stats.inc(o.response ? 'send-response retransmissions' : 'send-request retransmissions');
    o.timer = this.wheel.schedule(o.timeout, () => this.retransmit(o));
    this.send(o.data, o.ctx);
  }

  /** Stops retransmitting a CON in flight without calling its handlers. */
  cancelOutgoing(o: Outgoing): void {
    if (this.outgoing.get(o.key) === o) this.outgoing.delete(o.key);
    o.timer?.cancel();
  }

  /** Encodes and sends a NON or ACK message. */
  sendMessage(msg: CoapMessage, ctx: EndpointContext): Buffer {
    const data = encode(msg);
    this.send(data, ctx);
    return data;
  }
}

function defaultPeerOf(ctx: EndpointContext): string {
  return ctx.address + ':' + ctx.port;
}

// A CoAP endpoint: the exchange layer (tokens, block-wise, observe, resource dispatch; server-layer.ts,
// client-layer.ts, observe.ts) over the message layer of its transport (message-layer.ts; UDP/DTLS:
// udp-message-layer.ts) over one Connector. The one inbound point (decode) and the one outbound point
// (encode) are here, with the optional message hooks (where OSCORE, RFC 8613, plugs in).
import { randomBytes, randomInt } from 'node:crypto';
import type { Logger } from 'pino';
import { isFormatFailure } from './codec.js';
import { EMPTY, type CoapMessage } from './message.js';
import { isMessageConnector, type Connector, type EndpointContext, type MessageConnector } from '../transport/connector.js';
import type { CoapStackConfig } from './stack-config.js';
import type { EndpointInfo, Resource } from './resource.js';
import type { Deduplicator } from './dedup.js';
import { TransferBudget, TransferStore, transferBytes, type Block1Transfer, type Block2Transfer } from './blockwise.js';
import { EndpointStats } from './stats.js';
import { TimerWheel } from '../util/timer-wheel.js';
import { handleRequest } from './server-layer.js';
import { request, type ClientExchange } from './client-layer.js';
import type { ObserveRelation } from './observe.js';
import type { HookSlot, MessageHooks, MessageLayer, MessageLayerFactory, MessageLayerHost, ResponseTarget, WireCodec } from './message-layer.js';
import { createUdpMessageLayer } from './udp-message-layer.js';
import { createTcpMessageLayer } from './tcp-message-layer.js';

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
  /** the transport's message layer; default the UDP/DTLS one (RFC 7252 §4) */
  messageLayer?: MessageLayerFactory;
  /** hooks at the inbound and outbound point (e.g. OSCORE); default none */
  messageHooks?: MessageHooks;
}

/** Process-wide timer wheel shared by endpoints that are not given one. */
let sharedWheel: TimerWheel | undefined;
function defaultWheel(): TimerWheel {
  sharedWheel ??= new TimerWheel(10, 1024);
  return sharedWheel;
}

/** One CoAP endpoint bound to one connector; the exchange layer's state and the host of its message layer. */
export class CoapEndpoint implements MessageLayerHost {
  readonly connector: Connector;
  readonly config: CoapStackConfig;
  readonly root: Resource | undefined;
  readonly info: EndpointInfo;
  readonly stats = new EndpointStats();
  readonly logger: Logger | undefined;
  readonly wheel: TimerWheel;
  /** the message layer of the connector's transport */
  readonly layer: MessageLayer;
  /** hooks at the inbound and outbound point; undefined when none (the hot path checks only this) */
  readonly messageHooks: MessageHooks | undefined;
  /** true when the endpoint serves resources */
  readonly serves: boolean;
  readonly block1: TransferStore<Block1Transfer>;
  readonly block2: TransferStore<Block2Transfer>;
  /** byte budget shared by block1 and block2 (COAP.BLOCKWISE_MAX_TOTAL_BYTES) */
  readonly blockBudget: TransferBudget;
  /** observe relations by peer#token */
  readonly relations = new Map<string, ObserveRelation>();
  /** client exchanges by peer#token */
  readonly exchanges = new Map<string, ClientExchange>();
  readonly peerOf: (ctx: EndpointContext) => string;
  /** observe statistics of the server this endpoint belongs to */
  observeHooks: ObserveHooks | undefined;
  private readonly codec: WireCodec;
  /** a stream transport's connector (TCP, TLS): whole messages in and out instead of datagrams */
  private readonly stream: MessageConnector | undefined;
  /** counts and logs a failed send (one function for all sends: no closure per message) */
  private readonly sendFailed: (err: Error) => void;
  private tokenCounter = randomInt(0, 0x7fffffff);
  private readonly tokenPrefix = randomBytes(4);
  private blockTimer: NodeJS.Timeout | undefined;
  private running = false;

  constructor(opts: EndpointOptions) {
    this.connector = opts.connector;
    this.config = opts.config;
    this.root = opts.root;
    this.logger = opts.logger;
    this.wheel = opts.wheel ?? defaultWheel();
    this.stream = isMessageConnector(opts.connector) ? opts.connector : undefined;
    // a stream endpoint's peer is its connection (RFC 8323: tokens are scoped to a connection)
    this.peerOf = opts.peerOf ?? (this.stream !== undefined ? this.stream.peerOf.bind(this.stream) : defaultPeerOf);
    this.serves = opts.root !== undefined;
    this.messageHooks = opts.messageHooks;
    const bounds = this.stats.bounds;
    const maxTransfers = Math.max(16, Math.min(opts.config.maxActivePeers, 100_000));
    this.blockBudget = new TransferBudget(opts.config.blockwiseMaxTotalBytes, bounds);
    const lifetime = opts.config.blockwiseStatusLifetime;
    this.block1 = new TransferStore<Block1Transfer>(maxTransfers, lifetime, this.blockBudget, transferBytes, bounds);
    this.block2 = new TransferStore<Block2Transfer>(maxTransfers, lifetime, this.blockBudget, transferBytes, bounds);
    const stats0 = this.stats;
    const logger0 = this.logger;
    this.sendFailed = (err) => {
      stats0.inc('send-errors');
      logger0?.debug({ err }, 'send failed');
    };
    this.layer = (opts.messageLayer ?? (this.stream !== undefined ? createTcpMessageLayer : createUdpMessageLayer))(this);
    this.codec = this.layer.codec;
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
    if (this.stream !== undefined) {
      this.stream.onMessage = (msg, ctx) => this.receiveDecoded(msg, ctx);
      this.stream.onConnectionClosed = (ctx, reason) => this.dropPeer(this.peerOf(ctx), reason);
    }
  }

  /** Starts the connector and the sweep timers. */
  async start(): Promise<void> {
    if (this.running) return;
    await this.connector.start();
    this.running = true;
    this.layer.start();
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
    if (this.blockTimer) clearInterval(this.blockTimer);
    this.layer.stop();
    for (const rel of [...this.relations.values()]) rel.cancel();
    for (const ex of [...this.exchanges.values()]) ex.fail(new Error('endpoint stopped'));
    this.block1.clear();
    this.block2.clear();
    await this.connector.stop();
  }

  /** True between start and stop. */
  get isRunning(): boolean {
    return this.running;
  }

  /** The message layer's deduplicator (health and metrics read its size). */
  get dedup(): Deduplicator {
    return this.layer.dedup;
  }

  /** A fresh 8-byte token: random prefix and a counter. */
  nextToken(): Buffer {
    const t = Buffer.allocUnsafe(8);
    this.tokenPrefix.copy(t, 0);
    this.tokenCounter = (this.tokenCounter + 1) >>> 0;
    t.writeUInt32BE(this.tokenCounter, 4);
    return t;
  }

  /** The one inbound point: every datagram of the connector is decoded here and handed to the message layer. */
  receive(data: Buffer, ctx: EndpointContext): void {
    const msg = this.codec.decode(data);
    if (isFormatFailure(msg)) {
      this.stats.inc('recv-malformed');
      this.layer.receiveMalformed(msg, ctx);
      return;
    }
    this.receiveDecoded(msg, ctx);
  }

  /** A decoded message into the message layer (a stream connector's messages enter here, decoded by their connection). */
  receiveDecoded(msg: CoapMessage, ctx: EndpointContext): void {
    try {
      this.layer.receive(msg, ctx);
    } catch (err) {
      this.logger?.warn({ err }, 'failure processing message');
    }
  }

  /**
   * The one outbound point: every message leaves through here, and only here is encoding done. The
   * outbound hook runs when `slot` (the exchange's hook slot) is given; empty messages pass none.
   */
  transmit(msg: CoapMessage, ctx: EndpointContext, slot: HookSlot | undefined, onError?: (err: Error) => void): Buffer {
    const hooks = this.messageHooks;
    const out = hooks !== undefined && slot !== undefined ? hooks.outbound(msg, ctx, slot) : msg;
    const stream = this.stream;
    if (stream !== undefined) {
      // the connection frames and encodes (RFC 8323 §3.2); a stream never resends, so no bytes are kept
      stream.sendMessage(out, ctx, onError === undefined ? this.sendFailed : (err) => (this.sendFailed(err), onError(err)));
      return EMPTY;
    }
    const data = this.codec.encode(out);
    this.resend(data, ctx, onError);
    return data;
  }

  /** Sends bytes `transmit` produced before once more (retransmission, a duplicate's cached response), counting send errors. */
  resend(data: Buffer, ctx: EndpointContext, onError?: (err: Error) => void): void {
    if (onError === undefined) {
      this.connector.send(data, ctx, this.sendFailed);
      return;
    }
    this.connector.send(data, ctx, (err) => {
      this.sendFailed(err);
      onError(err);
    });
  }

  /** MessageLayerHost: a new request for the server layer. */
  receiveRequest(msg: CoapMessage, ctx: EndpointContext, peer: string, layerState: unknown): void {
    handleRequest(this, msg, ctx, peer, layerState);
  }

  /** MessageLayerHost: the client exchange of a response, by peer and token (RFC 7252 §5.3.2). */
  matchResponse(msg: CoapMessage, peer: string): ResponseTarget | undefined {
    return this.exchanges.get(peer + '#' + msg.token.toString('hex'));
  }

  /** MessageLayerHost: a response for a client exchange, through the inbound hook. */
  receiveResponse(target: ResponseTarget, msg: CoapMessage, ctx: EndpointContext): void {
    const ex = target as ClientExchange;
    const hooks = this.messageHooks;
    if (hooks !== undefined) {
      const verdict = hooks.inbound(msg, ctx, ex);
      if (verdict === undefined || 'reply' in verdict) return;
      msg = verdict;
    }
    ex.receive(msg, ctx);
  }

  /** MessageLayerHost: a peer is gone (a stream transport's connection closed); its relations and exchanges end. */
  dropPeer(peer: string, reason: string): void {
    const prefix = peer + '#';
    for (const rel of [...this.relations.values()]) if (rel.peer === peer) rel.remove();
    for (const ex of [...this.exchanges.values()]) if (ex.key.startsWith(prefix)) ex.fail(new Error(reason));
  }
}

function defaultPeerOf(ctx: EndpointContext): string {
  return ctx.address + ':' + ctx.port;
}

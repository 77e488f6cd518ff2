// A thin Connector wrapper of one benchmark client: times request datagrams (round-trip times without an extra
// clock read per request) and, for the feed resources, tells when a CON notification was acknowledged.
import type { CoapMessage } from '../../coap/message.js';
import { isMessageConnector, type Connector, type EndpointContext, type MessageConnector } from '../../transport/connector.js';
import { TcpClientConnector } from '../../tcp/client-connector.js';

/** Completion of a sent CON notification: acknowledged (`false`) or rejected with RST (`true`). */
export type AckWaiter = (rejected: boolean) => void;

/** Outgoing response datagram captured by `captureNext`. */
export interface CapturedResponse {
  /** message type (0 CON, 1 NON, 2 ACK) */
  type: number;
  mid: number;
}

/** Wraps a connector; the endpoint sees the tap as its connector. */
export class ConnectorTap implements Connector {
  readonly protocol: Connector['protocol'];
  readonly scheme: Connector['scheme'];
  readonly inner: Connector;
  /** `performance.now()` of the latest request datagram (first transmission, block or retransmission) */
  lastRequestSend = 0;
  private capture = false;
  private captured: CapturedResponse | undefined;
  private waiters: Map<number, AckWaiter> | undefined;
  private handler: (data: Buffer, ctx: EndpointContext) => void = () => {};
  /** the inner connector of coap+tcp / coaps+tcp (no ACKs: notifications complete when written) */
  private readonly stream: MessageConnector | undefined;

  constructor(inner: Connector) {
    this.inner = inner;
    this.protocol = inner.protocol;
    this.scheme = inner.scheme;
    this.stream = isMessageConnector(inner) ? inner : undefined;
  }

  /** Stream transports: the endpoint's message receiver (passed to the inner connector). */
  get onMessage(): (msg: CoapMessage, ctx: EndpointContext) => void {
    return this.stream?.onMessage ?? (() => {});
  }

  set onMessage(handler: (msg: CoapMessage, ctx: EndpointContext) => void) {
    if (this.stream) this.stream.onMessage = handler;
  }

  /** Stream transports: passed to the inner connector. */
  get onConnectionClosed(): (ctx: EndpointContext, reason: string) => void {
    return this.stream?.onConnectionClosed ?? (() => {});
  }

  set onConnectionClosed(handler: (ctx: EndpointContext, reason: string) => void) {
    if (this.stream) this.stream.onConnectionClosed = handler;
  }

  /** Stream transports: times requests as `send` does, then sends on the connection. */
  sendMessage(msg: CoapMessage, ctx: EndpointContext, onError?: (err: Error) => void): void {
    if (this.stream === undefined) {
      onError?.(new Error('not a stream transport'));
      return;
    }
    const code = msg.code;
    if (code > 0 && code < 32) {
      this.lastRequestSend = performance.now();
    } else if (this.capture && code >= 64) {
      // RFC 8323: no CON/ACK on a stream, a notification is complete once written (captured as NON)
      this.capture = false;
      this.captured = { type: 1, mid: 0 };
    }
    this.stream.sendMessage(msg, ctx, onError);
  }

  /** coap+tcp/coaps+tcp: the inner connector's current connection (its CSM state decides BERT, bert.ts); else undefined. */
  get context(): EndpointContext | undefined {
    return this.inner instanceof TcpClientConnector ? this.inner.context : undefined;
  }

  /** Stream transports: the inner connector's peer key. */
  peerOf(ctx: EndpointContext): string {
    return this.stream !== undefined ? this.stream.peerOf(ctx) : `${ctx.address}:${ctx.port}`;
  }

  /** Bound local address. */
  get localAddress(): string {
    return this.inner.localAddress;
  }

  /** Bound local port. */
  get localPort(): number {
    return this.inner.localPort;
  }

  /** The endpoint's receive function. */
  get onDatagram(): (data: Buffer, ctx: EndpointContext) => void {
    return this.handler;
  }

  set onDatagram(handler: (data: Buffer, ctx: EndpointContext) => void) {
    this.handler = handler;
    this.inner.onDatagram = this.waiters ? this.receiveTracked : handler;
  }

  /** Enables matching of empty ACK/RST messages to awaited notifications (feed resources). */
  trackAcks(): void {
    this.waiters ??= new Map();
    this.inner.onDatagram = this.receiveTracked;
  }

  /** Captures type and MID of the next outgoing response datagram. */
  captureNext(): void {
    this.capture = true;
    this.captured = undefined;
  }

  /** The captured response (once), undefined when none was sent since captureNext(). */
  takeCaptured(): CapturedResponse | undefined {
    const c = this.captured;
    this.capture = false;
    this.captured = undefined;
    return c;
  }

  /** Calls `waiter` when the empty ACK or RST for `mid` arrives. */
  awaitAck(mid: number, waiter: AckWaiter): void {
    this.waiters?.set(mid, waiter);
  }

  /** Stops waiting for `mid`. */
  forgetAck(mid: number): void {
    this.waiters?.delete(mid);
  }

  start(): Promise<void> {
    return this.inner.start();
  }

  stop(): Promise<void> {
    this.waiters?.clear();
    return this.inner.stop();
  }

  send(data: Buffer, ctx: EndpointContext, onError?: (err: Error) => void): void {
    const code = data[1]!;
    if (code > 0 && code < 32) {
      this.lastRequestSend = performance.now();
    } else if (this.capture && code >= 64 && data.length >= 4) {
      this.capture = false;
      this.captured = { type: (data[0]! >> 4) & 3, mid: (data[2]! << 8) | data[3]! };
    }
    this.inner.send(data, ctx, onError);
  }

  private readonly receiveTracked = (data: Buffer, ctx: EndpointContext): void => {
    const waiters = this.waiters;
    if (waiters !== undefined && waiters.size > 0 && data.length >= 4 && data[1] === 0) {
      const type = (data[0]! >> 4) & 3;
      if (type >= 2) {
        const mid = (data[2]! << 8) | data[3]!;
        const waiter = waiters.get(mid);
        if (waiter !== undefined) {
          waiters.delete(mid);
          // the endpoint completes its own exchange first
          this.handler(data, ctx);
          waiter(type === 3);
          return;
        }
      }
    }
    this.handler(data, ctx);
  };
}

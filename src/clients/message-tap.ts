// A Connector wrapper of the one-shot clients: hands every CoAP message the endpoint sends or receives, decoded, to
// listeners (the request block printed when the request goes out, the `-v` trace lines, the round-trip time).
import { decodeMessage, isFormatFailure } from '../coap/codec.js';
import type { CoapMessage } from '../coap/message.js';
import { isMessageConnector, type Connector, type EndpointContext, type MessageConnector } from '../transport/connector.js';

/** Listener of one decoded message and its peer context. */
export type MessageListener = (msg: CoapMessage, ctx: EndpointContext) => void;

/** Wraps a connector; the endpoint sees the tap as its connector (a stream connector's tap is a MessageConnector too). */
export class MessageTap implements Connector {
  readonly protocol: Connector['protocol'];
  readonly scheme: Connector['scheme'];
  readonly inner: Connector;
  /** called for every message handed to the connector (before it is sent) */
  onSend: MessageListener | undefined;
  /** called for every message received (before the endpoint handles it) */
  onReceive: MessageListener | undefined;
  private handler: (data: Buffer, ctx: EndpointContext) => void = () => {};
  private messageHandler: (msg: CoapMessage, ctx: EndpointContext) => void = () => {};
  /** the inner connector when it is a stream transport */
  private readonly stream: MessageConnector | undefined;

  constructor(inner: Connector) {
    this.inner = inner;
    this.protocol = inner.protocol;
    this.scheme = inner.scheme;
    if (isMessageConnector(inner)) {
      this.stream = inner;
      inner.onMessage = (msg, ctx) => {
        this.onReceive?.(msg, ctx);
        this.messageHandler(msg, ctx);
      };
    }
    inner.onDatagram = (data, ctx) => {
      const listener = this.onReceive;
      if (listener) {
        const msg = tryDecode(data);
        if (msg) listener(msg, ctx);
      }
      this.handler(data, ctx);
    };
  }

  get localAddress(): string {
    return this.inner.localAddress;
  }

  get localPort(): number {
    return this.inner.localPort;
  }

  get onDatagram(): (data: Buffer, ctx: EndpointContext) => void {
    return this.handler;
  }

  set onDatagram(handler: (data: Buffer, ctx: EndpointContext) => void) {
    this.handler = handler;
  }

  /** Stream transports: the endpoint's message receiver. */
  get onMessage(): (msg: CoapMessage, ctx: EndpointContext) => void {
    return this.messageHandler;
  }

  set onMessage(handler: (msg: CoapMessage, ctx: EndpointContext) => void) {
    this.messageHandler = handler;
  }

  /** Stream transports: passed to the inner connector. */
  get onConnectionClosed(): (ctx: EndpointContext, reason: string) => void {
    return this.stream?.onConnectionClosed ?? (() => {});
  }

  set onConnectionClosed(handler: (ctx: EndpointContext, reason: string) => void) {
    if (this.stream) this.stream.onConnectionClosed = handler;
  }

  /** Stream transports: the message goes to the listener, then to the inner connector. */
  sendMessage(msg: CoapMessage, ctx: EndpointContext, onError?: (err: Error) => void): void {
    if (this.stream === undefined) {
      onError?.(new Error('not a stream transport'));
      return;
    }
    this.onSend?.(msg, ctx);
    this.stream.sendMessage(msg, ctx, onError);
  }

  /** Stream transports: the inner connector's peer key. */
  peerOf(ctx: EndpointContext): string {
    return this.stream !== undefined ? this.stream.peerOf(ctx) : `${ctx.address}:${ctx.port}`;
  }

  start(): Promise<void> {
    return this.inner.start();
  }

  stop(): Promise<void> {
    return this.inner.stop();
  }

  send(data: Buffer, ctx: EndpointContext, onError?: (err: Error) => void): void {
    const listener = this.onSend;
    if (listener) {
      const msg = tryDecode(data);
      if (msg) listener(msg, ctx);
    }
    this.inner.send(data, ctx, onError);
  }
}

function tryDecode(data: Buffer): CoapMessage | undefined {
  const msg = decodeMessage(data);
  return isFormatFailure(msg) ? undefined : msg;
}

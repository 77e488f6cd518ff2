// A Connector wrapper of the one-shot clients: hands every CoAP message the endpoint sends or receives, decoded, to
// listeners (the request block printed when the request goes out, the `-v` trace lines, the round-trip time).
import { decodeMessage, isFormatFailure } from '../coap/codec.js';
import type { CoapMessage } from '../coap/message.js';
import type { Connector, EndpointContext } from '../transport/connector.js';

/** Listener of one decoded message and its peer context. */
export type MessageListener = (msg: CoapMessage, ctx: EndpointContext) => void;

/** Wraps a connector; the endpoint sees the tap as its connector. */
export class MessageTap implements Connector {
  readonly protocol: Connector['protocol'];
  readonly scheme: Connector['scheme'];
  readonly inner: Connector;
  /** called for every message handed to the connector (before it is sent) */
  onSend: MessageListener | undefined;
  /** called for every message received (before the endpoint handles it) */
  onReceive: MessageListener | undefined;
  private handler: (data: Buffer, ctx: EndpointContext) => void = () => {};

  constructor(inner: Connector) {
    this.inner = inner;
    this.protocol = inner.protocol;
    this.scheme = inner.scheme;
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

// Plain UDP connector (coap://): datagrams passed through a DatagramTransport unchanged.
import type { Connector, EndpointContext } from './connector.js';
import { UdpTransport, type DatagramTransport, type SendDone } from './datagram.js';

/** Options of a UDP connector. */
export interface UdpConnectorOptions {
  /** local address to bind (IPv6 link-local with %scope) */
  address: string;
  /** local port; 0 = ephemeral */
  port: number;
  receiveBufferSize?: number;
  sendBufferSize?: number;
  /** called once for socket level errors */
  onError?: (err: Error) => void;
  /** the socket to use (default: a UdpTransport from the options above) */
  transport?: DatagramTransport;
}

/** A Connector on a UDP socket. */
export class UdpConnector implements Connector {
  readonly protocol = 'UDP' as const;
  readonly scheme = 'coap' as const;
  readonly localAddress: string;
  private readonly transport: DatagramTransport;
  onDatagram: (data: Buffer, ctx: EndpointContext) => void = () => {};

  constructor(opts: UdpConnectorOptions) {
    this.localAddress = opts.address;
    this.transport = opts.transport ?? new UdpTransport(opts);
    this.transport.onDatagram = (data, address, port) => this.onDatagram(data, { address, port });
  }

  get localPort(): number {
    return this.transport.localPort;
  }

  start(): Promise<void> {
    return this.transport.start();
  }

  stop(): Promise<void> {
    return this.transport.stop();
  }

  send(data: Buffer, ctx: EndpointContext, onError?: (err: Error) => void): void {
    const done: SendDone = onError === undefined ? ignore : (err) => {
      if (err) onError(err);
    };
    if (!this.transport.running) {
      onError?.(new Error('connector stopped'));
      return;
    }
    this.transport.send(data, ctx.address, ctx.port, undefined, done);
  }
}

function ignore(): void {}

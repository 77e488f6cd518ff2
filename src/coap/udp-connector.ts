// Plain UDP connector (coap://): one dgram socket, datagrams passed through unchanged.
import dgram from 'node:dgram';
import type { Connector, EndpointContext } from './connector.js';

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
}

/** A Connector on a UDP socket. */
export class UdpConnector implements Connector {
  readonly protocol = 'UDP' as const;
  readonly scheme = 'coap' as const;
  readonly localAddress: string;
  private port: number;
  private socket: dgram.Socket | undefined;
  private readonly opts: UdpConnectorOptions;
  onDatagram: (data: Buffer, ctx: EndpointContext) => void = () => {};

  constructor(opts: UdpConnectorOptions) {
    this.opts = opts;
    this.localAddress = opts.address;
    this.port = opts.port;
  }

  get localPort(): number {
    return this.port;
  }

  start(): Promise<void> {
    const type = this.localAddress.includes(':') ? 'udp6' : 'udp4';
    const socket = dgram.createSocket({ type, ipv6Only: type === 'udp6' });
    this.socket = socket;
    return new Promise((resolve, reject) => {
      const onBindError = (err: Error) => {
        this.socket = undefined;
        reject(err);
      };
      socket.once('error', onBindError);
      socket.bind({ address: this.localAddress, port: this.port, exclusive: true }, () => {
        socket.off('error', onBindError);
        socket.on('error', (err) => this.opts.onError?.(err));
        if (this.opts.receiveBufferSize) trySet(() => socket.setRecvBufferSize(this.opts.receiveBufferSize!));
        if (this.opts.sendBufferSize) trySet(() => socket.setSendBufferSize(this.opts.sendBufferSize!));
        this.port = socket.address().port;
        socket.on('message', (msg, rinfo) => {
          this.onDatagram(msg, { address: rinfo.address, port: rinfo.port });
        });
        resolve();
      });
    });
  }

  stop(): Promise<void> {
    const socket = this.socket;
    this.socket = undefined;
    if (!socket) return Promise.resolve();
    return new Promise((resolve) => socket.close(() => resolve()));
  }

  send(data: Buffer, ctx: EndpointContext, onError?: (err: Error) => void): void {
    const socket = this.socket;
    if (!socket) {
      onError?.(new Error('connector stopped'));
      return;
    }
    socket.send(data, ctx.port, ctx.address, (err) => {
      if (err) onError?.(err);
    });
  }
}

function trySet(fn: () => void): void {
  try {
    fn();
  } catch {
    // the OS may refuse the size; the default stays in use
  }
}

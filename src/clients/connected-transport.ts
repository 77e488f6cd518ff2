// The datagram transport of the command line clients: one UDP socket connected to the destination. A connected
// socket learns of an ICMP port unreachable (Linux reports ECONNREFUSED on the next receive or send), so a client
// whose destination has no server stops at once instead of retransmitting for half a minute or more. Datagrams
// from other sources are filtered by the kernel, which suits a client talking to exactly one server (directly,
// or through a NAT / load balancer that answers from the address the client sent to).
import type dgram from 'node:dgram';
import { bindUdpSocket, type DatagramHandler, type DatagramTransport, type SendDone } from '../transport/datagram.js';
import { peerKey, type PeerAddress } from '../transport/connector.js';

/** Text of a refused destination: `connection refused (ICMP port unreachable), no server at <host:port>`. */
export function refusedText(dest: PeerAddress): string {
  return `connection refused (ICMP port unreachable), no server at ${peerKey(dest.address, dest.port)}`;
}

/** The error a client reports for a refused destination (code ECONNREFUSED). */
export class ConnectionRefusedError extends Error {
  readonly code = 'ECONNREFUSED';
  readonly destination: PeerAddress;

  constructor(dest: PeerAddress) {
    super(refusedText(dest));
    this.destination = { address: dest.address, port: dest.port };
  }
}

/** True for an ECONNREFUSED error of a socket call. */
export function isRefused(err: unknown): boolean {
  return (err as NodeJS.ErrnoException | null)?.code === 'ECONNREFUSED';
}

/** Options of a connected transport. */
export interface ConnectedTransportOptions {
  /** local address to bind (the wildcard or loopback of the destination's family) */
  address: string;
  /** local port; 0 = ephemeral */
  port: number;
  /** the one peer (a resolved IP address) */
  destination: PeerAddress;
  receiveBufferSize?: number;
  sendBufferSize?: number;
  /** the destination answered with ICMP port unreachable (may be called more than once) */
  onRefused?: (err: ConnectionRefusedError) => void;
  /** other socket level errors */
  onError?: (err: Error) => void;
}

/** A DatagramTransport on a UDP socket connected to one destination. */
export class ConnectedUdpTransport implements DatagramTransport {
  readonly localAddress: string;
  readonly destination: PeerAddress;
  onDatagram: DatagramHandler = () => {};
  private port: number;
  private socket: dgram.Socket | undefined;
  private readonly opts: ConnectedTransportOptions;

  constructor(opts: ConnectedTransportOptions) {
    this.opts = opts;
    this.localAddress = opts.address;
    this.port = opts.port;
    this.destination = { address: opts.destination.address, port: opts.destination.port };
  }

  get localPort(): number {
    return this.port;
  }

  get running(): boolean {
    return this.socket !== undefined;
  }

  async start(): Promise<void> {
    this.socket = await this.open(this.port);
    this.port = this.socket.address().port;
  }

  stop(): Promise<void> {
    const socket = this.socket;
    this.socket = undefined;
    if (!socket) return Promise.resolve();
    return new Promise((resolve) => socket.close(() => resolve()));
  }

  /** Sends to the connected destination; `address` and `port` are that destination (others are refused). */
  send(data: Buffer, address: string, port: number, _router: PeerAddress | undefined, done: SendDone): void {
    const socket = this.socket;
    if (socket === undefined) {
      done(new Error('transport stopped'));
      return;
    }
    if (port !== this.destination.port || address !== this.destination.address) {
      done(new Error(`the client socket is connected to ${peerKey(this.destination.address, this.destination.port)}, not ${peerKey(address, port)}`));
      return;
    }
    socket.send(data, (err) => {
      if (err && isRefused(err)) this.refused();
      done(err ?? null);
    });
  }

  /** Test aid: a new socket with a new ephemeral port, connected to the same destination. */
  async rebind(): Promise<void> {
    const old = this.socket;
    this.socket = await this.open(0);
    this.port = this.socket.address().port;
    if (old) await new Promise<void>((resolve) => old.close(() => resolve()));
  }

  private async open(port: number): Promise<dgram.Socket> {
    const socket = await bindUdpSocket(
      {
        address: this.opts.address,
        port,
        receiveBufferSize: this.opts.receiveBufferSize,
        sendBufferSize: this.opts.sendBufferSize,
        onError: (err) => {
          if (isRefused(err)) this.refused();
          else this.opts.onError?.(err);
        },
      },
      port,
    );
    try {
      await new Promise<void>((resolve, reject) => {
        const onError = (err: Error): void => reject(err);
        socket.once('error', onError);
        socket.connect(this.destination.port, this.destination.address, () => {
          socket.off('error', onError);
          resolve();
        });
      });
    } catch (err) {
      socket.close();
      throw err;
    }
    socket.on('message', (msg, rinfo) => this.onDatagram(msg, rinfo.address, rinfo.port, undefined));
    return socket;
  }

  private refused(): void {
    this.opts.onRefused?.(new ConnectionRefusedError(this.destination));
  }
}

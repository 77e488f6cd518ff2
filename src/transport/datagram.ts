// The datagram transport under a connector: one UDP socket (or what a cluster wrapper, a worker or a test
// puts in its place). Connectors receive and send raw datagrams through it and never touch a socket.
import dgram from 'node:dgram';
import { createUdpSocket } from './udp-socket.js';
import type { PeerAddress } from './connector.js';

/** Receives one raw datagram; `router` is set when it came through a cluster node (cluster.md §4.3). */
export type DatagramHandler = (data: Buffer, address: string, port: number, router: PeerAddress | undefined) => void;

/** Completion of a send: null on success. */
export type SendDone = (err: Error | null) => void;

/** A bound datagram socket, injectable into connectors. */
export interface DatagramTransport {
  /** bound local address (IPv6 without brackets) */
  readonly localAddress: string;
  /** bound local port (valid after start) */
  readonly localPort: number;
  /** true between start and stop */
  readonly running: boolean;
  /** called for every received datagram; set by the connector before start */
  onDatagram: DatagramHandler;
  /** binds and starts receiving */
  start(): Promise<void>;
  /** stops receiving and releases the socket */
  stop(): Promise<void>;
  /**
   * Sends one datagram to `address:port`. `router` is the cluster node the peer's newest record came
   * through (a cluster transport sends such datagrams back through it); plain transports ignore it.
   */
  send(data: Buffer, address: string, port: number, router: PeerAddress | undefined, done: SendDone): void;
  /** test aid: moves to a new socket with a new ephemeral port (a NAT rebinding as the peer sees it) */
  rebind?(): Promise<void>;
}

/** Options of a UDP transport. */
export interface UdpTransportOptions {
  /** local address to bind (IPv6 without brackets, link-local with %scope) */
  address: string;
  /** local port; 0 = ephemeral */
  port: number;
  receiveBufferSize?: number;
  sendBufferSize?: number;
  /** socket level errors after binding */
  onError?: (err: Error) => void;
  /**
   * SO_REUSEPORT: several processes bind the same address and port and the kernel spreads peers over them by
   * address (workers, issue 13). Needs Node.js >= 22.12 (reusePortSupported); start() fails with a message otherwise.
   */
  reusePort?: boolean;
}

/** Whether this Node.js binds UDP sockets with SO_REUSEPORT (dgram's reusePort option, Node.js 22.12 and later, Linux). */
export function reusePortSupported(version: string = process.versions.node, platform: string = process.platform): boolean {
  const [major = 0, minor = 0] = version.split('.').map(Number);
  return platform === 'linux' && (major > 22 || (major === 22 && minor >= 12));
}

/** A DatagramTransport on one node:dgram socket. */
export class UdpTransport implements DatagramTransport {
  readonly localAddress: string;
  onDatagram: DatagramHandler = () => {};
  private port: number;
  private socket: dgram.Socket | undefined;
  private readonly opts: UdpTransportOptions;

  constructor(opts: UdpTransportOptions) {
    this.opts = opts;
    this.localAddress = opts.address;
    this.port = opts.port;
  }

  get localPort(): number {
    return this.port;
  }

  get running(): boolean {
    return this.socket !== undefined;
  }

  async start(): Promise<void> {
    const socket = await bindUdpSocket(this.opts, this.port);
    this.socket = socket;
    this.port = socket.address().port;
    socket.on('message', (msg, rinfo) => this.onDatagram(msg, rinfo.address, rinfo.port, undefined));
  }

  stop(): Promise<void> {
    const socket = this.socket;
    this.socket = undefined;
    if (!socket) return Promise.resolve();
    return new Promise((resolve) => socket.close(() => resolve()));
  }

  send(data: Buffer, address: string, port: number, _router: PeerAddress | undefined, done: SendDone): void {
    const socket = this.socket;
    if (socket === undefined) {
      done(new Error('transport stopped'));
      return;
    }
    socket.send(data, port, address, done);
  }

  async rebind(): Promise<void> {
    const old = this.socket;
    const socket = await bindUdpSocket(this.opts, 0);
    socket.on('message', (msg, rinfo) => this.onDatagram(msg, rinfo.address, rinfo.port, undefined));
    this.socket = socket;
    this.port = socket.address().port;
    if (old) await new Promise<void>((resolve) => old.close(() => resolve()));
  }
}

/** Creates and binds a UDP socket (exclusive, IPv6-only for IPv6 addresses) with the buffer sizes applied. */
export function bindUdpSocket(opts: UdpTransportOptions, port: number): Promise<dgram.Socket> {
  const type = opts.address.includes(':') ? 'udp6' : 'udp4';
  if (opts.reusePort === true && !reusePortSupported()) {
    return Promise.reject(new Error(`UDP port ${port} shared by workers (SO_REUSEPORT) needs Node.js 22.12 or later on Linux, this is ${process.version} on ${process.platform}`));
  }
  // reusePort is in dgram's options from Node.js 22.12 (the project's @types/node is still 20's)
  const socketOptions = { type, ipv6Only: type === 'udp6', ...(opts.reusePort === true ? { reusePort: true } : {}) } as dgram.SocketOptions;
  const socket = createUdpSocket(socketOptions);
  return new Promise((resolve, reject) => {
    const onBindError = (err: Error): void => reject(err);
    socket.once('error', onBindError);
    socket.bind({ address: opts.address, port, exclusive: true }, () => {
      socket.off('error', onBindError);
      socket.on('error', (err) => opts.onError?.(err));
      if (opts.receiveBufferSize) trySet(() => socket.setRecvBufferSize(opts.receiveBufferSize!));
      if (opts.sendBufferSize) trySet(() => socket.setSendBufferSize(opts.sendBufferSize!));
      resolve(socket);
    });
  });
}

/** Runs a socket option setter; a refusal by the OS keeps the default. */
export function trySet(fn: () => void): void {
  try {
    fn();
  } catch {
    // the OS may refuse the size; the default stays in use
  }
}

// Plain UDP connector (coap://): datagrams passed through a DatagramTransport unchanged; with fairQueue
// options, a per-source fair queue (fair-queue.ts) engages while the socket has a backlog (flood defence).
import type { Logger } from 'pino';
import type { Connector, EndpointContext } from './connector.js';
import { UdpTransport, type DatagramTransport, type SendDone } from './datagram.js';
import { FairQueue, type FairQueueOptions } from './fair-queue.js';

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
  /** bind with SO_REUSEPORT: the port is shared by workers (transport/datagram.ts) */
  reusePort?: boolean;
  /** the socket to use (default: a UdpTransport from the options above) */
  transport?: DatagramTransport;
  /** per-source fair queue under a receive backlog (UDP.FAIR_QUEUE_*); absent: every datagram at once */
  fairQueue?: FairQueueOptions;
  /** logs when the fair queue engages and disengages */
  logger?: Logger;
}

/** A Connector on a UDP socket. */
export class UdpConnector implements Connector {
  readonly protocol = 'UDP' as const;
  readonly scheme = 'coap' as const;
  readonly localAddress: string;
  private readonly transport: DatagramTransport;
  private readonly fairQueue: FairQueue | undefined;
  /** flood defence counters (the fair queue's), empty without a fair queue */
  readonly transportStats: Record<string, number>;
  onDatagram: (data: Buffer, ctx: EndpointContext) => void = () => {};

  constructor(opts: UdpConnectorOptions) {
    this.localAddress = opts.address;
    this.transport = opts.transport ?? new UdpTransport(opts);
    const deliver = (data: Buffer, address: string, port: number): void => this.onDatagram(data, { address, port });
    if (opts.fairQueue !== undefined && opts.fairQueue.batch > 0) {
      const queue = new FairQueue(opts.fairQueue, deliver, opts.logger, `UDP:${opts.address}`);
      this.fairQueue = queue;
      this.transportStats = queue.stats;
      this.transport.onDatagram = (data, address, port) => queue.offer(data, address, port);
    } else {
      this.fairQueue = undefined;
      this.transportStats = {};
      this.transport.onDatagram = deliver;
    }
  }

  get localPort(): number {
    return this.transport.localPort;
  }

  start(): Promise<void> {
    return this.transport.start();
  }

  stop(): Promise<void> {
    this.fairQueue?.clear();
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

// A coap+tcp or coaps+tcp endpoint's connector (RFC 8323): the connection server of server.ts as the
// stack's MessageConnector. The connections frame, decode and encode; the endpoint exchanges whole
// messages with them and keys its exchanges and observe relations by connection.
import type { EndpointContext, MessageConnector } from '../transport/connector.js';
import type { CoapMessage } from '../coap/message.js';
import { createTcpServer, tcpConnectionId, type TcpServer, type TcpServerOptions } from './server.js';
import { createTcpStats, type TcpStats } from './stats.js';

/** /diagnose and health-log names of the counters (`active` is the gauge `connections`). */
const ROWS: ReadonlyArray<[keyof TcpStats, string]> = [
  ['active', 'connections'],
  ['accepted', 'accepted'],
  ['overBound', 'over bound'],
  ['handshakeFailures', 'handshake failures'],
  ['tlsResumed', 'resumed sessions'],
  ['csmTimeouts', 'csm timeouts'],
  ['idleClosed', 'idle closed'],
  ['closedByPeer', 'closed by peer'],
  ['releasesReceived', 'releases received'],
  ['abortsSent', 'aborts sent'],
  ['abortsReceived', 'aborts received'],
  ['malformedFrames', 'malformed frames'],
  ['writeOverflows', 'write overflows'],
  ['sendErrors', 'send errors'],
  ['messagesIn', 'messages in'],
  ['messagesOut', 'messages out'],
];

/** A stream connector on one address and port; `onMessage`/`onConnectionClosed` are set by the endpoint. */
export class TcpConnector implements MessageConnector {
  readonly protocol: 'TCP' | 'TLS';
  readonly scheme: 'coap+tcp' | 'coaps+tcp';
  onMessage: (msg: CoapMessage, ctx: EndpointContext) => void = () => {};
  onConnectionClosed: (ctx: EndpointContext, reason: string) => void = () => {};
  /** not used by a stream transport (the endpoint sets it; datagrams never arrive) */
  onDatagram: (data: Buffer, ctx: EndpointContext) => void = () => {};
  private readonly server: TcpServer;
  /** the counters at the end of the last statistics period (the server's counters only grow) */
  private readonly periodBase: TcpStats = createTcpStats();

  constructor(opts: Omit<TcpServerOptions, 'onMessage' | 'onConnectionClosed'>) {
    this.server = createTcpServer({
      ...opts,
      onMessage: (msg, ctx) => this.onMessage(msg, ctx),
      onConnectionClosed: (ctx, reason) => this.onConnectionClosed(ctx, reason),
    });
    this.protocol = this.server.protocol;
    this.scheme = this.server.scheme;
  }

  get localAddress(): string {
    return this.server.localAddress;
  }

  get localPort(): number {
    return this.server.localPort;
  }

  /** the connection layer's counters (health, /diagnose) */
  get stats(): TcpStats {
    return this.server.stats;
  }

  /** open connections */
  get connectionCount(): number {
    return this.server.connectionCount;
  }

  /** The connection counters as /diagnose and the health log show them (`tcp:<addr>:<port>`, `tls:...`): this period and earlier ones. */
  diagnosticGroup(): { tag: string; counters: Array<[string, number, number]> } {
    const stats = this.server.stats;
    const base = this.periodBase;
    const host = this.localAddress.includes(':') ? `[${this.localAddress}]` : this.localAddress;
    const counters = ROWS.map(([k, name]): [string, number, number] => (k === 'active' ? [name, stats.active, stats.active] : [name, stats[k] - base[k], base[k]]));
    return { tag: `${this.protocol.toLowerCase()}:${host}:${this.localPort}`, counters };
  }

  /** Starts a new statistics period (each periodic health dump). */
  transferStats(): void {
    Object.assign(this.periodBase, this.server.stats);
  }

  start(): Promise<void> {
    return this.server.start();
  }

  stop(): Promise<void> {
    return this.server.stop();
  }

  sendMessage(msg: CoapMessage, ctx: EndpointContext, onError?: (err: Error) => void): void {
    this.server.sendMessage(msg, ctx, onError);
  }

  /** Datagrams have no place on a stream: always an error. */
  send(_data: Buffer, _ctx: EndpointContext, onError?: (err: Error) => void): void {
    onError?.(new Error(`${this.protocol} endpoint: datagrams cannot be sent on a stream`));
  }

  /** The connection of a context (`tcp#n`), or its address when it has none. */
  peerOf(ctx: EndpointContext): string {
    return tcpConnectionId(ctx) ?? `${ctx.address}:${ctx.port}`;
  }
}

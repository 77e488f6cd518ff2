// The client side of coap+tcp and coaps+tcp (RFC 8323): one connection to one server (node:net, or node:tls
// with TLS 1.2/1.3, the demo CA trusted and the demo client certificate presented when the server asks), run by
// the same per-connection logic as the server's (connection.ts: frame reader, CSM, Ping/Pong, Release, Abort).
// Our CSM goes first (§3.3); requests wait, in a bounded queue, for the server's CSM; the connect timeout covers
// the TCP connect, the TLS handshake and that CSM. A lost connection is reported to the endpoint (its pending
// exchanges fail); the next send connects again.
import { X509Certificate } from 'node:crypto';
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions, type TLSSocket } from 'node:tls';
import pino, { type Logger } from 'pino';
import type { CoapMessage } from '../coap/message.js';
import { peerKey, type EndpointContext, type MessageConnector, type PeerAddress } from '../transport/connector.js';
import {
  destroyConnection,
  openConnection,
  releaseConnection,
  sendOnConnection,
  sweepConnection,
  type ConnectionEnv,
  type TcpConnection,
} from './connection.js';
import { DEFAULT_CLOSE_GRACE } from './server.js';
import { createTcpStats, type TcpStats } from './stats.js';
import { tlsSessionInfo } from './tls-options.js';

/** Messages queued while the connection is not ready (connecting, waiting for the server's CSM); further sends fail. */
export const MAX_QUEUED_MESSAGES = 256;

/** Default bytes that may wait in a client connection's write buffer. */
export const DEFAULT_CLIENT_WRITE_BUFFER = 1024 * 1024;

/** TLS settings of a coaps+tcp client (RFC 8323 §9). */
export interface TlsClientSettings {
  /** trusted CA certificates (PEM); ignored with trustAll */
  ca: string[];
  /** accept any server certificate (--trust-all) */
  trustAll: boolean;
  /** client certificate chain (PEM) presented when the server asks; none: anonymous */
  cert?: string;
  /** private key (PEM) of `cert` */
  key?: string;
  /** check the server certificate's names against the host (TCP.VERIFY_SERVER_CERTIFICATES_SUBJECT) */
  verifySubject: boolean;
  /** SNI / subject to verify (a host name); default none */
  servername?: string;
}

/** Options of a client connector. */
export interface TcpClientOptions {
  /** the server (a resolved IP address) */
  destination: PeerAddress;
  /** local address to bind; default any */
  localAddress?: string;
  /** local port; default 0 (ephemeral) */
  localPort?: number;
  /** present for coaps+tcp */
  tls?: TlsClientSettings;
  /** ms for the TCP connect, the TLS handshake and the server's CSM together (TCP.CONNECT_TIMEOUT) */
  connectTimeout: number;
  /** our Max-Message-Size, announced in our CSM (RFC 8323 §5.3.1) */
  maxMessageSize: number;
  /** announce Block-Wise-Transfer (BERT with maxMessageSize > 1152, §5.3.2) */
  blockWiseTransfer: boolean;
  /** ms without a complete message before the connection is released; 0: never (TCP.CONNECTION_IDLE_TIMEOUT) */
  idleTimeout?: number;
  /** bytes that may wait in the write buffer; default DEFAULT_CLIENT_WRITE_BUFFER */
  maxWriteBuffer?: number;
  logger?: Logger;
}

type Queued = { msg: CoapMessage; onError: (err: Error) => void };

/** A client's stream connector: one server, at most one connection at a time. */
export class TcpClientConnector implements MessageConnector {
  readonly protocol: 'TCP' | 'TLS';
  readonly scheme: 'coap+tcp' | 'coaps+tcp';
  readonly destination: PeerAddress;
  /** connection counters */
  readonly stats: TcpStats = createTcpStats();
  onMessage: (msg: CoapMessage, ctx: EndpointContext) => void = () => {};
  onConnectionClosed: (ctx: EndpointContext, reason: string) => void = () => {};
  /** not used by a stream transport */
  onDatagram: (data: Buffer, ctx: EndpointContext) => void = () => {};
  private readonly opts: TcpClientOptions;
  private readonly env: ConnectionEnv;
  private readonly key: string;
  private conn: TcpConnection | undefined;
  private socket: Socket | undefined;
  private ready = false;
  private queue: Queued[] = [];
  private connecting: Promise<void> | undefined;
  private settle: ((err?: Error) => void) | undefined;
  private connectTimer: NodeJS.Timeout | undefined;
  private sweepTimer: NodeJS.Timeout | undefined;
  private running = false;
  private boundAddress: string;
  private boundPort: number;
  /** the last TLS session the server issued (ticket or id), offered for resumption on the next connection */
  private session: Buffer | undefined;

  constructor(opts: TcpClientOptions) {
    this.opts = opts;
    this.protocol = opts.tls ? 'TLS' : 'TCP';
    this.scheme = opts.tls ? 'coaps+tcp' : 'coap+tcp';
    this.destination = { address: opts.destination.address, port: opts.destination.port };
    this.key = peerKey(this.destination.address, this.destination.port);
    this.boundAddress = opts.localAddress ?? (this.destination.address.includes(':') ? '::' : '0.0.0.0');
    this.boundPort = opts.localPort ?? 0;
    const logger = opts.logger ?? pino({ level: 'silent' });
    this.env = {
      local: { maxMessageSize: opts.maxMessageSize, blockWiseTransfer: opts.blockWiseTransfer },
      maxWriteBuffer: opts.maxWriteBuffer ?? DEFAULT_CLIENT_WRITE_BUFFER,
      stats: this.stats,
      logger,
      onMessage: (msg, ctx) => this.onMessage(msg, ctx),
      onClosed: (conn, reason) => this.closed(conn, reason),
      onPeerCsm: (conn) => this.peerCsm(conn),
    };
  }

  /** Local address of the connection (before one: the bind address). */
  get localAddress(): string {
    return this.boundAddress;
  }

  /** Local port of the connection (before one: the configured port). */
  get localPort(): number {
    return this.boundPort;
  }

  /** True while a connection is open and the server's CSM has arrived. */
  get isReady(): boolean {
    return this.ready;
  }

  /** The current connection's context (undefined without one): TLS session attributes included. */
  get context(): EndpointContext | undefined {
    const conn = this.conn;
    if (conn === undefined) return undefined;
    const ctx: EndpointContext = { address: conn.address, port: conn.port, connection: conn };
    if (conn.tls !== undefined) ctx.tls = conn.tls;
    return ctx;
  }

  /** Connects; resolves once the server's CSM arrived, rejects on a refused connection, a failed handshake or the connect timeout. */
  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    const t = { csmTimeout: this.opts.connectTimeout, idleTimeout: this.opts.idleTimeout ?? 0, closeGrace: DEFAULT_CLOSE_GRACE };
    this.sweepTimer = setInterval(() => {
      if (this.conn !== undefined) sweepConnection(this.conn, Date.now(), t);
    }, Math.max(10, Math.min(1000, Math.floor(Math.min(t.closeGrace, t.idleTimeout > 0 ? t.idleTimeout : Infinity) / 4))));
    this.sweepTimer.unref();
    try {
      await this.connect();
    } catch (err) {
      await this.stop();
      throw err;
    }
  }

  /** Sends Release (RFC 8323 §5.5) and closes the connection; queued messages fail. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.sweepTimer = undefined;
    this.failConnect(new Error('connector stopped'));
    const conn = this.conn;
    const socket = this.socket;
    if (socket === undefined || socket.destroyed) return;
    await new Promise<void>((resolve) => {
      const force = setTimeout(() => socket.destroy(), DEFAULT_CLOSE_GRACE);
      socket.once('close', () => {
        clearTimeout(force);
        resolve();
      });
      if (conn !== undefined) releaseConnection(conn, 'client stopping');
      else socket.destroy();
    });
  }

  /** Sends on the connection; before the server's CSM (or while reconnecting) the message is queued, bounded. */
  sendMessage(msg: CoapMessage, _ctx: EndpointContext, onError?: (err: Error) => void): void {
    const fail = onError ?? ((err: Error) => this.env.logger.debug({ err }, 'tcp send failed'));
    if (this.ready && this.conn !== undefined) {
      sendOnConnection(this.conn, msg, fail);
      return;
    }
    if (!this.running) {
      this.stats.sendErrors++;
      fail(new Error(`${this.protocol} client to ${this.key}: not started`));
      return;
    }
    if (this.queue.length >= MAX_QUEUED_MESSAGES) {
      this.stats.sendErrors++;
      fail(new Error(`${this.protocol} client to ${this.key}: ${MAX_QUEUED_MESSAGES} messages wait for the connection already`));
      return;
    }
    this.queue.push({ msg, onError: fail });
    // the connection was lost: the next message connects again
    if (this.connecting === undefined) this.connect().catch(() => undefined);
  }

  /** Datagrams have no place on a stream: always an error. */
  send(_data: Buffer, _ctx: EndpointContext, onError?: (err: Error) => void): void {
    onError?.(new Error(`${this.protocol} client: datagrams cannot be sent on a stream`));
  }

  /** One server: every context is the same peer (exchanges survive the connection's context details). */
  peerOf(_ctx: EndpointContext): string {
    return this.key;
  }

  /**
   * Releases the current connection (RFC 8323 §5.5) so that the next message connects again: with TLS a new
   * handshake that resumes the last session, or with `forgetSession` a full handshake (the benchmark client's
   * --handshakes-close / --handshakes-full). Messages already sent on the old connection get no answer on the new one.
   */
  reconnect(forgetSession = false): void {
    if (forgetSession) this.session = undefined;
    const conn = this.conn;
    const socket = this.socket;
    this.conn = undefined;
    this.socket = undefined;
    this.ready = false;
    if (conn !== undefined) releaseConnection(conn, 'handshake forced by client');
    else socket?.destroy();
  }

  /** Closes the connection at once without Release (tests: a lost connection). */
  destroyConnection(reason = 'closed by client'): void {
    if (this.conn !== undefined) destroyConnection(this.conn, reason);
    else this.socket?.destroy();
  }

  private connect(): Promise<void> {
    if (this.connecting !== undefined) return this.connecting;
    const p = new Promise<void>((resolve, reject) => {
      this.settle = (err) => {
        this.settle = undefined;
        this.connecting = undefined;
        if (this.connectTimer) clearTimeout(this.connectTimer);
        this.connectTimer = undefined;
        if (err === undefined) {
          resolve();
          return;
        }
        const queued = this.queue;
        this.queue = [];
        for (const q of queued) {
          this.stats.sendErrors++;
          q.onError(err);
        }
        reject(err);
      };
    });
    this.connecting = p;
    this.connectTimer = setTimeout(() => {
      this.failConnect(new Error(`${this.scheme}://${this.key}: no connection within ${this.opts.connectTimeout} ms`));
      this.destroyConnection('connect timeout');
    }, this.opts.connectTimeout);
    this.connectTimer.unref();
    this.openSocket();
    return p;
  }

  private openSocket(): void {
    const { address, port } = this.destination;
    const local = { localAddress: this.opts.localAddress, ...(this.opts.localPort ? { localPort: this.opts.localPort } : {}) };
    let socket: Socket;
    const tls = this.opts.tls;
    if (tls) {
      const options: ConnectionOptions = {
        host: address,
        port,
        ...local,
        minVersion: 'TLSv1.2',
        maxVersion: 'TLSv1.3',
        rejectUnauthorized: !tls.trustAll,
        ...(tls.ca.length > 0 ? { ca: tls.ca } : {}),
        ...(tls.cert !== undefined && tls.key !== undefined ? { cert: tls.cert, key: tls.key } : {}),
        ...(tls.servername !== undefined ? { servername: tls.servername } : {}),
        ...(tls.verifySubject ? {} : { checkServerIdentity: () => undefined }),
        ...(this.session !== undefined ? { session: this.session } : {}),
      };
      const s = tlsConnect(options, () => this.adopt(s, tlsSessionInfo(s, subjectOf(s))));
      // TLS 1.3 tickets arrive after the handshake, TLS 1.2 sessions with it
      s.on('session', (session: Buffer) => {
        if (this.socket === s) this.session = session;
      });
      socket = s;
    } else {
      socket = netConnect({ host: address, port, ...local }, () => this.adopt(socket));
    }
    this.socket = socket;
    // errors before the connection is adopted (refused, handshake); afterwards the connection's own listeners count them
    // (a socket given up by reconnect() is no longer this.socket: its end must not fail the next connection)
    socket.on('error', (err) => {
      if (this.socket === socket && (this.conn === undefined || this.conn.socket !== socket)) this.failConnect(err);
    });
    socket.once('close', () => {
      if (this.socket !== socket) return;
      if (this.conn === undefined || this.conn.socket !== socket) this.failConnect(new Error(`${this.scheme}://${this.key}: connection closed`));
      this.socket = undefined;
    });
  }

  private adopt(socket: Socket, tls?: ReturnType<typeof tlsSessionInfo>): void {
    if (!this.running || this.socket !== socket) {
      socket.destroy();
      return;
    }
    this.stats.accepted++;
    // our CSM first (RFC 8323 §3.3), written by openConnection
    const conn = openConnection(socket, this.env, tls);
    if (conn === undefined) return;
    this.conn = conn;
    if (socket.localAddress !== undefined) this.boundAddress = socket.localAddress;
    if (socket.localPort !== undefined) this.boundPort = socket.localPort;
  }

  private peerCsm(conn: TcpConnection): void {
    if (conn !== this.conn) return;
    this.ready = true;
    const queued = this.queue;
    this.queue = [];
    for (const q of queued) sendOnConnection(conn, q.msg, q.onError);
    this.settle?.();
  }

  private failConnect(err: Error): void {
    this.settle?.(err);
  }

  private closed(conn: TcpConnection, reason: string): void {
    if (conn !== this.conn) return;
    this.conn = undefined;
    this.ready = false;
    this.failConnect(new Error(`${this.scheme}://${this.key}: ${reason}`));
    const ctx: EndpointContext = { address: conn.address, port: conn.port, connection: conn };
    if (conn.tls !== undefined) ctx.tls = conn.tls;
    try {
      this.onConnectionClosed(ctx, reason);
    } catch (err) {
      this.env.logger.warn({ err }, 'onConnectionClosed failed');
    }
  }
}

/** The server certificate's subject in RFC 2253 order (`CN=..,OU=..,C=..`, as the server shows client certificates). */
function subjectOf(socket: TLSSocket): string | undefined {
  const raw = socket.getPeerCertificate()?.raw;
  if (raw === undefined) return undefined;
  try {
    return new X509Certificate(raw).subject.split('\n').reverse().join(',');
  } catch {
    return undefined;
  }
}

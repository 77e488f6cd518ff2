// A coap+tcp or coaps+tcp endpoint (RFC 8323): listens on one address and port (node:net, or node:tls
// with TLS 1.2/1.3), bounds the concurrent connections, runs one sweep timer for the CSM, idle and
// close deadlines of all connections, and sends messages on the connection an EndpointContext names.
import { createServer as createNetServer, type ListenOptions, type Server, type Socket } from 'node:net';
import { createServer as createTlsNetServer, type TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import type { CoapMessage } from '../coap/message.js';
import type { EndpointContext } from '../transport/connector.js';
import {
  openConnection,
  releaseConnection,
  sendOnConnection,
  sweepConnection,
  type ConnectionEnv,
  type ConnectionTimeouts,
  type TcpConnection,
} from './connection.js';
import { createTcpStats, type TcpStats } from './stats.js';
import { checkClientCertificate, tlsServerOptions, tlsSessionInfo, type TlsServerSettings } from './tls-options.js';

/** Default ms a closing connection may take to flush before it is destroyed, and a releasing one to answer. */
export const DEFAULT_CLOSE_GRACE = 2000;

/** Options of one TCP or TLS endpoint. */
export interface TcpServerOptions {
  /** local address (IPv4 or IPv6 text, no brackets) */
  address: string;
  /** local port; 0 picks a free one */
  port: number;
  /** our Max-Message-Size (RFC 8323 §5.3.1): announced in our CSM and the largest frame read, header included */
  maxMessageSize: number;
  /** announce Block-Wise-Transfer in our CSM (BERT with maxMessageSize > 1152, §5.3.2) */
  blockWiseTransfer: boolean;
  /** concurrent connections, TLS handshakes included (TCP.MAX_CONNECTIONS) */
  maxConnections: number;
  /** ms without a complete message in either direction before a connection is released; 0: never (TCP.CONNECTION_IDLE_TIMEOUT) */
  idleTimeout: number;
  /** ms from connect (TLS: handshake done) to the peer's CSM (TCP.HANDSHAKE_TIMEOUT) */
  csmTimeout: number;
  /** bytes queued on one connection before sends fail and it is closed (TCP.MAX_WRITE_BUFFER_SIZE) */
  maxWriteBuffer: number;
  /** ms a closing connection gets to flush, a releasing one to answer; default DEFAULT_CLOSE_GRACE */
  closeGrace?: number;
  /** TLS settings: present for coaps+tcp */
  tls?: TlsServerSettings;
  /** share the port with other processes (SO_REUSEPORT, Node.js 22.12+: the workers of issue 13) */
  reusePort?: boolean;
  logger: Logger;
  /** receives every request and response of every connection (can also be set later on the server) */
  onMessage?: (msg: CoapMessage, ctx: EndpointContext) => void;
  /** told once per connection that closed (to drop its observe relations and exchanges) */
  onConnectionClosed?: (ctx: EndpointContext, reason: string) => void;
}

/** A running coap+tcp or coaps+tcp endpoint. */
export interface TcpServer {
  /** `TCP` or `TLS` (as in names such as `TCP:127.0.0.1:5683`) */
  readonly protocol: 'TCP' | 'TLS';
  /** URI scheme (RFC 8323 §8) */
  readonly scheme: 'coap+tcp' | 'coaps+tcp';
  /** bound local address text (IPv6 without brackets) */
  readonly localAddress: string;
  /** bound local port (valid after start) */
  readonly localPort: number;
  /** live counters */
  readonly stats: TcpStats;
  /** connections past the TLS handshake that are not closed yet */
  readonly connectionCount: number;
  /** receives every request and response; set before start */
  onMessage: (msg: CoapMessage, ctx: EndpointContext) => void;
  /** listens */
  start(): Promise<void>;
  /** stops listening, sends Release on every connection (RFC 8323 §5.5) and resolves when all are closed */
  stop(): Promise<void>;
  /** frames and sends a message on the connection of ctx; errors go to onError, never thrown */
  sendMessage(msg: CoapMessage, ctx: EndpointContext, onError?: (err: Error) => void): void;
}

/** Id of the connection a context belongs to (`tcp#n`, `tls#n`): a peer key for exchanges; undefined for other transports. */
export function tcpConnectionId(ctx: EndpointContext): string | undefined {
  const c = ctx.connection as Partial<TcpConnection> | undefined;
  return c !== undefined && c !== null && typeof c === 'object' && typeof c.id === 'string' && c.socket !== undefined ? c.id : undefined;
}

function contextOf(conn: TcpConnection): EndpointContext {
  const ctx: EndpointContext = { address: conn.address, port: conn.port, connection: conn };
  if (conn.tls !== undefined) ctx.tls = conn.tls;
  return ctx;
}

/** Sweep period: a quarter of the shortest deadline, between 10 ms and 1 s. */
function sweepPeriod(t: ConnectionTimeouts): number {
  const shortest = Math.min(t.csmTimeout, t.closeGrace, t.idleTimeout > 0 ? t.idleTimeout : Infinity);
  return Math.max(10, Math.min(1000, Math.floor(shortest / 4)));
}

/** Creates a coap+tcp endpoint, or a coaps+tcp one when `opts.tls` is given; nothing is bound before start(). */
export function createTcpServer(opts: TcpServerOptions): TcpServer {
  const stats = createTcpStats();
  const logger = opts.logger;
  const connections = new Set<TcpConnection>();
  const timeouts: ConnectionTimeouts = {
    csmTimeout: opts.csmTimeout,
    idleTimeout: opts.idleTimeout,
    closeGrace: opts.closeGrace ?? DEFAULT_CLOSE_GRACE,
  };
  if (!Number.isInteger(opts.maxConnections) || opts.maxConnections < 1) throw new RangeError(`maxConnections ${opts.maxConnections}`);
  const tls = opts.tls;
  const protocol = tls ? 'TLS' : 'TCP';
  let onMessage: (msg: CoapMessage, ctx: EndpointContext) => void = opts.onMessage ?? (() => undefined);
  const env: ConnectionEnv = {
    local: { maxMessageSize: opts.maxMessageSize, blockWiseTransfer: opts.blockWiseTransfer },
    maxWriteBuffer: opts.maxWriteBuffer,
    stats,
    logger,
    onMessage: (msg, ctx) => onMessage(msg, ctx),
    onClosed: (conn, reason) => {
      connections.delete(conn);
      logger.debug({ conn: conn.id, peer: conn.address, port: conn.port, reason }, 'tcp connection closed');
      if (opts.onConnectionClosed) {
        try {
          opts.onConnectionClosed(contextOf(conn), reason);
        } catch (err) {
          logger.warn({ err, conn: conn.id }, 'onConnectionClosed failed');
        }
      }
    },
  };

  function adopt(socket: Socket, tlsInfo?: ReturnType<typeof tlsSessionInfo>): void {
    const conn = openConnection(socket, env, tlsInfo);
    if (conn) connections.add(conn);
  }

  let server: Server;
  if (tls) {
    server = createTlsNetServer(tlsServerOptions(tls), (socket: TLSSocket) => {
      const check = checkClientCertificate(socket, tls);
      if (!check.ok) {
        stats.handshakeFailures++;
        logger.debug({ peer: socket.remoteAddress, port: socket.remotePort, reason: check.reason }, 'tls client certificate refused');
        socket.destroy();
        return;
      }
      if (socket.isSessionReused()) stats.tlsResumed++;
      adopt(socket, tlsSessionInfo(socket, check.peerIdentity));
    });
    server.on('tlsClientError', (err: Error, socket: TLSSocket) => {
      stats.handshakeFailures++;
      logger.debug({ err, peer: socket.remoteAddress, port: socket.remotePort }, 'tls handshake failed');
      // with a listener Node leaves the socket open (handshake timeout included)
      socket.destroy();
    });
  } else {
    server = createNetServer((socket) => adopt(socket));
  }
  // net counts every accepted socket (TLS handshakes included) against maxConnections and closes the extra ones at once
  server.maxConnections = opts.maxConnections;
  // raw sockets (TLS: also those still in the handshake), so that stop() can end them all
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    stats.accepted++;
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  server.on('drop', () => void stats.overBound++);
  server.on('error', (err) => logger.warn({ err, protocol, address: opts.address, port: opts.port }, 'tcp server error'));

  let sweepTimer: NodeJS.Timeout | undefined;
  let localPort = opts.port;
  let localAddress = opts.address;

  const self: TcpServer = {
    protocol,
    scheme: tls ? 'coaps+tcp' : 'coap+tcp',
    get localAddress() {
      return localAddress;
    },
    get localPort() {
      return localPort;
    },
    stats,
    get connectionCount() {
      return connections.size;
    },
    get onMessage() {
      return onMessage;
    },
    set onMessage(fn) {
      onMessage = fn;
    },
    start() {
      return new Promise<void>((resolve, reject) => {
        const onError = (err: Error): void => reject(err);
        server.once('error', onError);
        const listen: ListenOptions & { reusePort?: boolean } = { host: opts.address, port: opts.port, ...(opts.reusePort === true ? { reusePort: true } : {}) };
        server.listen(listen, () => {
          server.off('error', onError);
          const bound = server.address();
          if (bound !== null && typeof bound === 'object') {
            localPort = bound.port;
            localAddress = bound.address;
          }
          sweepTimer = setInterval(() => {
            const now = Date.now();
            for (const conn of connections) sweepConnection(conn, now, timeouts);
          }, sweepPeriod(timeouts));
          sweepTimer.unref();
          resolve();
        });
      });
    },
    stop() {
      return new Promise<void>((resolve) => {
        if (!server.listening) {
          resolve();
          return;
        }
        // connections still open after the close grace (handshakes included) are destroyed
        const force = setTimeout(() => {
          for (const socket of sockets) socket.destroy();
        }, timeouts.closeGrace);
        server.close(() => {
          clearTimeout(force);
          if (sweepTimer) clearInterval(sweepTimer);
          sweepTimer = undefined;
          resolve();
        });
        for (const conn of connections) releaseConnection(conn, 'server stopping');
      });
    },
    sendMessage(msg, ctx, onError) {
      const conn = ctx.connection as TcpConnection | undefined;
      const fail = onError ?? ((err: Error) => logger.debug({ err }, 'tcp send failed'));
      if (conn === undefined || !connections.has(conn)) {
        stats.sendErrors++;
        fail(new Error(`no open ${protocol} connection to ${ctx.address}:${ctx.port}`));
        return;
      }
      sendOnConnection(conn, msg, fail);
    },
  };
  return self;
}

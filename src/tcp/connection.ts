// One coap+tcp / coaps+tcp connection (RFC 8323), of the server and of the client side: frames in through a bounded reader, the signaling
// rules (CSM first, Ping/Pong, Release, Abort, §5) applied, other messages handed up, messages out
// framed with the peer's Max-Message-Size and a bounded write buffer. No timers: the owner's sweep
// (sweepConnection; the server's, or the client connector's) enforces the CSM, idle and close deadlines.
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import type { CoapMessage } from '../coap/message.js';
import { TcpFrameError, createTcpFrameReader, encodeTcp, tcpFrameSize, type TcpFrameReader } from '../coap/tcp-codec.js';
import {
  abortForFrameError,
  buildAbort,
  buildRelease,
  createCsmState,
  localCsm,
  receiveMessage,
  type CsmState,
  type LocalCapabilities,
} from '../coap/tcp-signaling.js';
import type { EndpointContext, TlsSessionInfo } from '../transport/connector.js';
import type { TcpStats } from './stats.js';

/** Requests tracked per connection for Release and Custody (§5.4.1, §5.5); further ones are not waited for. */
export const MAX_TRACKED_REQUESTS = 1024;

/** Pongs to Pings with Custody held until the earlier requests are answered (§5.4.1); further such Pings are not answered. */
export const MAX_DEFERRED_PONGS = 16;

/** What every connection of one endpoint shares. */
export interface ConnectionEnv {
  /** what our CSM announces; maxMessageSize also bounds the frame reader */
  readonly local: LocalCapabilities;
  /** bytes that may wait in the socket's write buffer */
  readonly maxWriteBuffer: number;
  readonly stats: TcpStats;
  readonly logger: Logger;
  /** receives every non-signaling message */
  onMessage(msg: CoapMessage, ctx: EndpointContext): void;
  /** told once when a connection is gone */
  onClosed(conn: TcpConnection, reason: string): void;
  /** told once when the peer's first CSM arrived (a client sends its requests only then, RFC 8323 §5.3) */
  onPeerCsm?(conn: TcpConnection): void;
}

/** Life cycle: open, releasing (peer sent Release, §5.5), closing (our FIN sent or socket destroyed). */
export type ConnectionState = 'open' | 'releasing' | 'closing';

/** Per-connection state; it is also the opaque handle in EndpointContext.connection. */
export interface TcpConnection {
  /** `tcp#n` or `tls#n`, unique in the process */
  readonly id: string;
  readonly socket: Socket;
  /** peer address (IPv4-mapped IPv6 shown as IPv4) and port */
  readonly address: string;
  readonly port: number;
  readonly tls: TlsSessionInfo | undefined;
  readonly env: ConnectionEnv;
  readonly reader: TcpFrameReader;
  csm: CsmState;
  state: ConnectionState;
  /** ms: open time, last complete message in or out, start of releasing/closing */
  readonly openedAt: number;
  lastActivity: number;
  stateSince: number;
  /** why we close it (reported to onClosed); undefined while open or when the peer closed */
  closeReason: string | undefined;
  /** tokens (latin1) of requests handed up and not answered yet */
  readonly pendingRequests: Set<string>;
  /** Pongs waiting for pendingRequests to drain (§5.4.1) */
  readonly deferredPongs: CoapMessage[];
}

let nextId = 0;

/** Text of a peer address: IPv4-mapped IPv6 (`::ffff:1.2.3.4`) as plain IPv4. */
export function peerAddressText(address: string): string {
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}

/**
 * Takes over an accepted or connected (TLS: handshaken) socket: sends our CSM first (RFC 8323 §3.3, §5.3) and
 * wires data, end and close. Returns undefined for a socket that is already gone.
 */
export function openConnection(socket: Socket, env: ConnectionEnv, tls?: TlsSessionInfo): TcpConnection | undefined {
  const remote = socket.remoteAddress;
  const port = socket.remotePort;
  if (remote === undefined || port === undefined || socket.destroyed) {
    socket.destroy();
    return undefined;
  }
  const now = Date.now();
  const conn: TcpConnection = {
    id: `${tls ? 'tls' : 'tcp'}#${++nextId}`,
    socket,
    address: peerAddressText(remote),
    port,
    tls,
    env,
    reader: createTcpFrameReader({ maxMessageSize: env.local.maxMessageSize }),
    csm: createCsmState(env.local),
    state: 'open',
    openedAt: now,
    lastActivity: now,
    stateSince: now,
    closeReason: undefined,
    pendingRequests: new Set(),
    deferredPongs: [],
  };
  socket.setNoDelay(true);
  socket.on('data', (chunk: Buffer) => onData(conn, chunk));
  socket.on('end', () => {
    // the peer's FIN: Node ends our side too (allowHalfOpen false)
    if (conn.state !== 'closing') {
      env.stats.closedByPeer++;
      markClosing(conn, 'closed by peer');
    }
  });
  socket.on('error', (err) => {
    env.logger.debug({ err, conn: conn.id }, 'tcp connection error');
    if (conn.state !== 'closing') {
      env.stats.closedByPeer++;
      markClosing(conn, `error: ${err.message}`);
    }
  });
  socket.once('close', () => {
    env.stats.active--;
    env.onClosed(conn, conn.closeReason ?? 'closed');
  });
  env.stats.active++;
  write(conn, localCsm(conn.csm));
  return conn;
}

function markClosing(conn: TcpConnection, reason: string): void {
  conn.state = 'closing';
  conn.stateSince = Date.now();
  conn.closeReason ??= reason;
}

/** Sends `last` (Release or Abort) if given, then closes our side once the write buffer is flushed; the sweep destroys it after the close grace. */
export function closeConnection(conn: TcpConnection, reason: string, last?: CoapMessage): void {
  if (conn.state === 'closing') return;
  if (last !== undefined) write(conn, last);
  markClosing(conn, reason);
  conn.socket.end();
}

/** Closes at once without a message (the peer aborted, or does not read). */
export function destroyConnection(conn: TcpConnection, reason: string): void {
  if (conn.state !== 'closing') markClosing(conn, reason);
  conn.socket.destroy();
}

/** Sends Abort (RFC 8323 §5.6) with the reason as diagnostic payload and closes. */
export function abortConnection(conn: TcpConnection, reason: string, abort: CoapMessage = buildAbort({ diagnostic: reason })): void {
  if (conn.state === 'closing') return;
  conn.env.stats.abortsSent++;
  conn.env.logger.debug({ conn: conn.id, peer: conn.address, port: conn.port, reason }, 'tcp abort');
  closeConnection(conn, `abort: ${reason}`, abort);
}

/** Sends Release (RFC 8323 §5.5) and closes (idle timeout, server stop). */
export function releaseConnection(conn: TcpConnection, reason: string): void {
  closeConnection(conn, reason, buildRelease({ diagnostic: reason }));
}

/** Writes a signaling message (CSM, Pong, Release, Abort); a peer that does not read while it pings is closed at the write bound. */
function write(conn: TcpConnection, msg: CoapMessage): void {
  if (conn.socket.destroyed || conn.socket.writableEnded) return;
  if (conn.socket.writableLength > conn.env.maxWriteBuffer) {
    conn.env.stats.writeOverflows++;
    conn.env.logger.debug({ conn: conn.id, peer: conn.address, port: conn.port, buffered: conn.socket.writableLength }, 'tcp write buffer full, closing');
    destroyConnection(conn, 'write buffer full');
    return;
  }
  conn.socket.write(encodeTcp(msg));
  conn.env.stats.messagesOut++;
  conn.lastActivity = Date.now();
}

function onData(conn: TcpConnection, chunk: Buffer): void {
  if (conn.state === 'closing') return;
  let messages: CoapMessage[];
  try {
    messages = conn.reader.push(chunk);
  } catch (err) {
    if (!(err instanceof TcpFrameError)) throw err;
    // §5.6: a malformed stream ends with Abort; messages completed before it in this chunk are dropped
    conn.env.stats.malformedFrames++;
    abortConnection(conn, err.message, abortForFrameError(err));
    return;
  }
  if (messages.length === 0) return;
  // responses written while handling these messages leave in as few segments as possible
  conn.socket.cork();
  try {
    for (const msg of messages) {
      if ((conn.state as ConnectionState) === 'closing') break;
      onMessage(conn, msg);
    }
  } finally {
    conn.socket.uncork();
  }
}

function isRequest(code: number): boolean {
  return code > 0 && code < 32;
}

function isResponse(code: number): boolean {
  return code >= 64 && code < 192;
}

function onMessage(conn: TcpConnection, msg: CoapMessage): void {
  conn.lastActivity = Date.now();
  const code = msg.code;
  // fast path: after the peer's CSM, requests and responses skip the signaling rules
  if (conn.csm.peerCsm && code !== 0 && code >> 5 !== 7) {
    deliver(conn, msg);
    return;
  }
  const hadPeerCsm = conn.csm.peerCsm;
  const { state, action } = receiveMessage(conn.csm, msg);
  conn.csm = state;
  if (!hadPeerCsm && state.peerCsm) conn.env.onPeerCsm?.(conn);
  switch (action.kind) {
    case 'deliver':
      deliver(conn, msg);
      return;
    case 'none':
    case 'pong':
      return;
    case 'reply':
      // §5.4.1: a Pong to a Ping with Custody follows the responses to the requests received before it
      if (action.afterPendingRequests && conn.pendingRequests.size > 0) {
        if (conn.deferredPongs.length < MAX_DEFERRED_PONGS) conn.deferredPongs.push(action.message);
      } else {
        write(conn, action.message);
      }
      return;
    case 'release':
      // §5.5: answer what was asked so far, then close; no new requests are taken
      conn.env.stats.releasesReceived++;
      conn.state = 'releasing';
      conn.stateSince = Date.now();
      if (conn.pendingRequests.size === 0) closeConnection(conn, 'release received');
      return;
    case 'abort':
      abortConnection(conn, action.reason, action.message);
      return;
    case 'closed':
      // §5.6: the peer aborted; close without answering
      conn.env.stats.abortsReceived++;
      conn.env.logger.debug({ conn: conn.id, diagnostic: action.diagnostic, badCsmOption: action.badCsmOption }, 'tcp abort received');
      destroyConnection(conn, `abort received: ${action.diagnostic}`);
      return;
  }
}

function deliver(conn: TcpConnection, msg: CoapMessage): void {
  if (isRequest(msg.code)) {
    if (conn.state === 'releasing') return;
    if (conn.pendingRequests.size < MAX_TRACKED_REQUESTS) conn.pendingRequests.add(msg.token.toString('latin1'));
  }
  conn.env.stats.messagesIn++;
  const ctx: EndpointContext = { address: conn.address, port: conn.port, connection: conn };
  if (conn.tls !== undefined) ctx.tls = conn.tls;
  conn.env.onMessage(msg, ctx);
}

/**
 * Frames and writes one message; errors go to onError (never thrown). Refuses a message above the
 * peer's Max-Message-Size (§5.3.1) and, when the peer does not read, one that would take the write
 * buffer beyond its bound (then the connection is closed).
 */
export function sendOnConnection(conn: TcpConnection, msg: CoapMessage, onError: (err: Error) => void): void {
  const stats = conn.env.stats;
  if (conn.state === 'closing' || conn.socket.destroyed) {
    stats.sendErrors++;
    onError(new Error(`${conn.id}: connection closed`));
    return;
  }
  let size: number;
  try {
    size = tcpFrameSize(msg);
  } catch (err) {
    stats.sendErrors++;
    onError(err as Error);
    return;
  }
  if (size > conn.csm.sendLimit) {
    stats.sendErrors++;
    onError(new Error(`${conn.id}: message of ${size} bytes exceeds the peer's Max-Message-Size ${conn.csm.sendLimit}`));
    return;
  }
  if (conn.socket.writableLength + size > conn.env.maxWriteBuffer) {
    stats.writeOverflows++;
    conn.env.logger.debug({ conn: conn.id, peer: conn.address, port: conn.port, buffered: conn.socket.writableLength }, 'tcp write buffer full, closing');
    destroyConnection(conn, 'write buffer full');
    onError(new Error(`${conn.id}: write buffer full (${conn.socket.writableLength} bytes), connection closed`));
    return;
  }
  let frame: Buffer;
  try {
    frame = encodeTcp(msg);
  } catch (err) {
    stats.sendErrors++;
    onError(err as Error);
    return;
  }
  conn.socket.write(frame);
  stats.messagesOut++;
  conn.lastActivity = Date.now();
  if (isResponse(msg.code) && conn.pendingRequests.size > 0 && conn.pendingRequests.delete(msg.token.toString('latin1'))) {
    if (conn.pendingRequests.size === 0) requestsAnswered(conn);
  }
}

function requestsAnswered(conn: TcpConnection): void {
  for (const pong of conn.deferredPongs.splice(0)) write(conn, pong);
  if (conn.state === 'releasing') closeConnection(conn, 'release received');
}

/** Deadlines checked by the server's sweep, in ms (0 disables the idle timeout). */
export interface ConnectionTimeouts {
  /** the peer's CSM must arrive this long after the connection is open (§5.3) */
  csmTimeout: number;
  /** no complete message in either direction for this long closes with Release */
  idleTimeout: number;
  /** a releasing connection waits this long for its answers; a closing one is destroyed after it */
  closeGrace: number;
}

/** One sweep step for a connection: enforces the deadlines at `now`. */
export function sweepConnection(conn: TcpConnection, now: number, t: ConnectionTimeouts): void {
  switch (conn.state) {
    case 'closing':
      if (now - conn.stateSince >= t.closeGrace) conn.socket.destroy();
      return;
    case 'releasing':
      if (now - conn.stateSince >= t.closeGrace) closeConnection(conn, 'release received, answers timed out');
      return;
    case 'open':
      if (!conn.csm.peerCsm && now - conn.openedAt >= t.csmTimeout) {
        conn.env.stats.csmTimeouts++;
        abortConnection(conn, 'no CSM received in time');
      } else if (t.idleTimeout > 0 && now - conn.lastActivity >= t.idleTimeout) {
        conn.env.stats.idleClosed++;
        conn.env.logger.debug({ conn: conn.id, peer: conn.address, port: conn.port }, 'tcp connection idle, closing');
        releaseConnection(conn, 'idle');
      }
      return;
  }
}

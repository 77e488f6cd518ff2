// What a client waits on while its handshake runs: pending connect() promises and application messages
// deferred until the connection is established. Settled when the handshake completes, failed when it
// fails or the connection goes away.
import type { EndpointContext } from '../transport/connector.js';
import { buildSessionInfo, type Connection } from './connection.js';
import type { ConnectorState } from './connector-state.js';
import { sendApplication } from './record-sender.js';
import type { Session } from './session.js';

/** Client handshake completed: keeps the session for resumption, sends the deferred messages, resolves connect(). */
export function clientEstablished(state: ConnectorState, conn: Connection, session: Session): void {
  if (session.id.length > 0) state.clientSessions.set(conn.addressKey, session);
  const info = buildSessionInfo(conn, state.config.nodeId);
  const waiters = state.waiters.get(conn.id);
  state.waiters.delete(conn.id);
  const deferred = conn.deferred;
  conn.deferred = undefined;
  if (deferred !== undefined) {
    const ctx: EndpointContext = { address: conn.address, port: conn.port, connection: conn };
    for (const m of deferred) sendApplication(state, m.data, ctx, m.onError);
  }
  if (waiters !== undefined) for (const w of waiters) w.resolve(info);
}

/** True while a connect() or a deferred message waits on the connection. */
export function hasClientWaiting(state: ConnectorState, conn: Connection): boolean {
  return conn.deferred !== undefined || state.waiters.has(conn.id);
}

/** Rejects the pending connect() calls of a connection. */
export function rejectWaiters(state: ConnectorState, conn: Connection, err: Error): void {
  const waiters = state.waiters.get(conn.id);
  if (waiters === undefined) return;
  state.waiters.delete(conn.id);
  for (const w of waiters) w.reject(err);
}

/** Drops the messages deferred on a connection, reporting `err` to each sender. */
export function failDeferred(state: ConnectorState, conn: Connection, err: Error): void {
  const deferred = conn.deferred;
  if (deferred === undefined) return;
  conn.deferred = undefined;
  for (const m of deferred) {
    state.stats['dropped sending records']++;
    m.onError?.(err);
  }
}

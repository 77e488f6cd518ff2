// Alerts the peer sends (RFC 5246 §7.2), on a running handshake or an established connection:
// close_notify closes, a fatal alert ends the handshake or the connection, warnings are ignored.
import type { Connection } from './connection.js';
import type { ConnectorState, Handshake } from './connector-state.js';
import { rejectWaiters } from './client-waiters.js';
import { AlertDescription, AlertLevel, decodeAlert } from './handshake/alert.js';
import { failHandshake } from './handshake-end.js';

/** Handles one received alert record's content (undecodable content is ignored). */
export function peerAlert(state: ConnectorState, conn: Connection, body: Buffer): void {
  const decoded = decodeAlert(body);
  if (!decoded.ok) return;
  state.detailStats.alertsReceived++;
  const { level, description } = decoded.value;
  const hs = conn.handshake as Handshake | undefined;
  if (description === AlertDescription.CLOSE_NOTIFY) {
    state.logger?.debug({ peer: conn.addressKey }, 'dtls: close_notify received');
    if (hs !== undefined) failHandshake(state, conn, undefined, 'peer closed the handshake');
    else state.store.remove(conn, 'closed');
    return;
  }
  if (level === AlertLevel.FATAL) {
    const reason = `fatal alert ${description} received`;
    state.logger?.debug({ peer: conn.addressKey, description }, 'dtls: fatal alert received');
    if (hs !== undefined) failHandshake(state, conn, undefined, reason);
    else {
      rejectWaiters(state, conn, new Error(reason));
      state.store.remove(conn, 'failed');
    }
  }
}

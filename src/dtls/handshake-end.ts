// How a handshake ends: completed (the connection takes the new epoch and is established in the store),
// failed (alert, counters, the connection removed), or its connection removed from the store by anyone
// (eviction, close, failure): flight timers, the unverified-resumption count and client waiters released.
import type { Connection } from './connection.js';
import type { RemovalReason } from './connection-store.js';
import type { ConnectorState, Handshake } from './connector-state.js';
import { clientEstablished, failDeferred, hasClientWaiting, rejectWaiters } from './client-waiters.js';
import type { FlightEntry } from './flight.js';
import { AlertLevel } from './handshake/alert.js';
import { messageSizeLimit } from './message-size.js';
import { sendAlert, sendFlight } from './record-sender.js';

/** The handshake completed: installs its session and keys on the connection, sends the final flight if any. */
export function completeHandshake(state: ConnectorState, conn: Connection, hs: Handshake, finalFlight: FlightEntry[] | undefined): void {
  hs.flight?.timer?.cancel();
  hs.flight = undefined;
  hs.state = 'finished';
  const now = state.now();
  const session = hs.session!;
  const pending = hs.pending!;
  conn.session = session;
  conn.epoch = pending.state;
  conn.protection = pending.protection;
  if (!sameCid(conn.readCid, hs.readCid)) state.store.changeCid(conn, hs.readCid);
  conn.writeCid = hs.writeCid;
  conn.handshake = undefined;
  conn.established = true;
  conn.handshakeTime = now;
  conn.clientRandom = hs.clientRandom;
  conn.serverRandom = hs.serverRandom;
  let fragmentLimit = session.maxFragmentLength;
  if (session.recordSizeLimit !== undefined && (fragmentLimit === undefined || session.recordSizeLimit < fragmentLimit)) fragmentLimit = session.recordSizeLimit;
  conn.messageSizeLimit = messageSizeLimit({
    mtu: state.mtu,
    ipv6: conn.address.includes(':'),
    suite: session.cipherSuite,
    writeCidLength: conn.writeCid?.length ?? 0,
    ...(fragmentLimit !== undefined ? { maxFragmentLength: fragmentLimit } : {}),
  });
  conn.info = undefined;
  if (finalFlight !== undefined) {
    conn.lastFlight = finalFlight;
    sendFlight(state, conn, finalFlight, pending.state, pending.protection, hs.writeCid, session);
  }
  state.store.establish(conn, now, state.config.removeStaleDoublePrincipals);
  state.stats.connections = state.store.size;
  state.stats['handshakes succeeded']++;
  if (hs.resumed) state.detailStats.resumedHandshakes++;
  else state.detailStats.fullHandshakes++;
  releaseUnverifiedResumption(state, hs);
  state.logger?.debug(
    { peer: conn.addressKey, suite: session.cipherSuite.name, resumed: hs.resumed, identity: session.peerIdentity, ms: now - hs.startTime },
    'dtls: handshake completed',
  );
  if (hs.role === 'client') clientEstablished(state, conn, session);
  // application records that overtook the peer's Finished, now through the normal path (replay window included)
  const early = hs.earlyData;
  hs.earlyData = [];
  for (const r of early) if (!conn.closed) state.deliverRecord(conn, r);
}

/** The handshake failed: sends `alert` (plain) if given, fails the client's waiters, removes the connection. */
export function failHandshake(state: ConnectorState, conn: Connection, alert: number | undefined, reason: string): void {
  const hs = conn.handshake as Handshake | undefined;
  if (hs !== undefined) {
    hs.flight?.timer?.cancel();
    hs.flight = undefined;
    hs.state = 'finished';
    releaseUnverifiedResumption(state, hs);
  }
  if (alert !== undefined) sendAlert(state, conn, AlertLevel.FATAL, alert, false);
  state.stats['handshakes failed']++;
  state.logger?.debug({ peer: conn.addressKey, reason, alert }, 'dtls: handshake failed');
  const err = new Error(`DTLS handshake failed: ${reason}`);
  failDeferred(state, conn, err);
  rejectWaiters(state, conn, err);
  state.store.remove(conn, 'failed');
}

/** The store removed a connection (its onRemoved hook): releases what a running handshake and the client hold. */
export function connectionRemoved(state: ConnectorState, conn: Connection, reason: RemovalReason): void {
  const hs = conn.handshake as Handshake | undefined;
  if (hs !== undefined) {
    hs.flight?.timer?.cancel();
    hs.flight = undefined;
    releaseUnverifiedResumption(state, hs);
  }
  if (reason === 'evicted') state.detailStats.evictedConnections++;
  if (hasClientWaiting(state, conn)) {
    const err = new Error(`DTLS connection ${reason}`);
    failDeferred(state, conn, err);
    rejectWaiters(state, conn, err);
  }
  state.stats.connections = state.store.size;
}

/** A server handshake resumed without a cookie exchange no longer counts against the limit. */
function releaseUnverifiedResumption(state: ConnectorState, hs: Handshake): void {
  if (hs.role === 'server' && hs.unverifiedResumption) {
    hs.unverifiedResumption = false;
    state.unverifiedResumptions--;
  }
}

function sameCid(a: Buffer | undefined, b: Buffer | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return a.equals(b);
}

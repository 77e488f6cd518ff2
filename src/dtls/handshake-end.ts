// How a handshake ends: completed (the connection takes the new epoch and is established in the store),
// failed (alert, counters, the connection removed), or its connection removed from the store by anyone
// (eviction, close, failure): flight timers, the unverified-resumption count and client waiters released.
import { compactConnection, type Connection } from './connection.js';
import type { RemovalReason } from './connection-store.js';
import type { DtlsConfig } from './config.js';
import type { ConnectorState, Handshake } from './connector-state.js';
import { clientEstablished, failDeferred, hasClientWaiting, rejectWaiters } from './client-waiters.js';
import type { FlightEntry } from './flight.js';
import { AlertLevel } from './handshake/alert.js';
import { messageSizeLimit } from './message-size.js';
import { releaseRecordProtection } from './record-protection.js';
import { sendAlert, sendFlight } from './record-sender.js';
import type { TimerHandle } from '../util/timer-wheel.js';

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
  // kept as latin1 strings by the connection (no slices of node's 8 KB pool or of received datagrams): the client random
  // to recognize a late ClientHello, the server random only where the cluster derives its MAC keys (the peer role)
  conn.clientRandom = hs.clientRandom;
  conn.serverRandom = state.role === 'peer' ? hs.serverRandom : undefined;
  // from here on the connection keeps only what it needs, packed into one string of its own
  compactConnection(conn);
  let fragmentLimit = session.maxFragmentLength;
  if (session.recordSizeLimit !== undefined && (fragmentLimit === undefined || session.recordSizeLimit < fragmentLimit)) fragmentLimit = session.recordSizeLimit;
  conn.messageSizeLimit = messageSizeLimit({
    mtu: state.mtu,
    ipv6: conn.address.includes(':'),
    suite: session.cipherSuite,
    writeCidLength: conn.writeCid?.length ?? 0,
    ...(fragmentLimit !== undefined ? { maxFragmentLength: fragmentLimit } : {}),
  });
  if (finalFlight !== undefined) {
    conn.lastFlight = finalFlight; // encoded into one string of its own (message bodies only)
    sendFlight(state, conn, finalFlight, conn.epoch!, conn.protection!, conn.writeCid, conn.session!);
  }
  keepLastFlight(state, conn, now);
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
  state.storeHook?.established(conn);
  // application records that overtook the peer's Finished, now through the normal path (replay window included)
  const early = hs.earlyData;
  hs.earlyData = [];
  for (const r of early) if (!conn.closed) state.deliverRecord(conn, r);
  // an idle connection keeps no protection object (rebuilt from the packed keys by its next record)
  conn.dropProtection();
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

/**
 * How long a completed handshake's last flight (and, except for the cluster's peer role, the randoms) is kept when the
 * peer does not show that it arrived: as long as the peer may retransmit its own last flight, i.e. the sum of its
 * retransmission timeouts (RFC 6347 §4.2.4, config.md §3 DTLS_RETRANSMISSION_*); 93 s with the defaults.
 */
export function lastFlightLifetime(config: DtlsConfig): number {
  let total = 0;
  let timeout = config.retransmissionTimeout;
  for (let i = 0; i <= config.maxRetransmissions; i++) {
    total += Math.min(timeout, config.maxRetransmissionTimeout);
    timeout *= config.retransmissionTimeoutScale;
  }
  return total;
}

/**
 * Drops the last flight and (except for the cluster's peer role, which derives its MAC keys from them) the randoms:
 * the peer's first application record in the new epoch shows that our last flight arrived, or their time is over.
 */
export function releaseHandshakeLeftovers(state: ConnectorState, conn: Connection): void {
  conn.lastFlight = undefined;
  if (state.role !== 'peer') {
    conn.clientRandom = undefined;
    conn.serverRandom = undefined;
  }
}

/** Connections of one connector that completed a handshake, in completion order, with their release deadlines. */
interface LastFlights {
  /** undefined once released (until the array is compacted) */
  conns: (Connection | undefined)[];
  deadlines: number[];
  /** index of the oldest entry still queued */
  head: number;
  /** the wheel timer of the next sweep and its deadline */
  timer: TimerHandle | undefined;
  timerAt: number;
}

/** One queue per connector: completions come in time order, so one timer per connector releases them all. */
const lastFlights = new WeakMap<ConnectorState, LastFlights>();

/** Queues `conn` for the release of its handshake leftovers (a per-connection timer would cost more than they do). */
function keepLastFlight(state: ConnectorState, conn: Connection, now: number): void {
  let q = lastFlights.get(state);
  if (q === undefined) lastFlights.set(state, (q = { conns: [], deadlines: [], head: 0, timer: undefined, timerAt: 0 }));
  q.conns.push(conn);
  q.deadlines.push(now + lastFlightLifetime(state.config));
  sweepLastFlights(state, q, now);
}

/**
 * Releases the last flight (and the randoms, unless the connector is a cluster peer that derives its MAC keys from
 * them) of every queued connection past its deadline, then arms the wheel for the next one. A timer lost with a
 * stopped connector's wheel is noticed by its overdue time and re-armed.
 */
function sweepLastFlights(state: ConnectorState, q: LastFlights, now: number): void {
  while (q.head < q.conns.length && q.deadlines[q.head]! <= now) {
    const conn = q.conns[q.head]!;
    q.conns[q.head++] = undefined;
    releaseHandshakeLeftovers(state, conn);
  }
  if (q.head > 1024 && q.head * 2 > q.conns.length) {
    q.conns.splice(0, q.head);
    q.deadlines.splice(0, q.head);
    q.head = 0;
  }
  if (q.head === q.conns.length) {
    q.timer?.cancel();
    q.timer = undefined;
    return;
  }
  const next = q.deadlines[q.head]!;
  if (q.timer !== undefined && q.timerAt <= next && q.timerAt > now - 1000) return;
  q.timer?.cancel();
  q.timerAt = next;
  q.timer = state.wheel.schedule(next - now, () => {
    q.timer = undefined;
    sweepLastFlights(state, q, state.now());
  });
}

/** The store removed a connection (its onRemoved hook): releases what a running handshake and the client hold. */
export function connectionRemoved(state: ConnectorState, conn: Connection, reason: RemovalReason): void {
  releaseRecordProtection(conn.builtProtection);
  const hs = conn.handshake as Handshake | undefined;
  if (hs !== undefined) {
    releaseRecordProtection(hs.pending?.protection);
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

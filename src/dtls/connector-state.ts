// What the parts of one DTLS connector share (record router, handshake driver, ClientHello handling,
// client side, record sender): one plain object per connector, built by DtlsConnector, read and updated
// by the plain functions of those modules. No logic beyond the drop counter lives here.
import type { Logger } from 'pino';
import type { DtlsSessionInfo, EndpointContext } from '../transport/connector.js';
import type { DatagramTransport, SendDone } from '../transport/datagram.js';
import type { TimerWheel } from '../util/timer-wheel.js';
import type { CipherSuite } from './cipher-suites.js';
import type { DtlsConfig } from './config.js';
import type { ConnectionStore, RemovalReason } from './connection-store.js';
import type { CookieGenerator } from './cookie.js';
import type { DtlsDetailStats, DtlsStats } from './dtls-stats.js';
import type { FloodGuard } from './flood-guard.js';
import type { ClientHandshake } from './handshake-client.js';
import type { HandshakeEnv } from './handshake-common.js';
import type { ServerHandshake } from './handshake-server.js';
import type { Connection } from './connection.js';
import type { DtlsRecord, RecordParseStats } from './record.js';
import type { Session } from './session.js';

/** A handshake in progress (either role). */
export type Handshake = ServerHandshake | ClientHandshake;

/** A pending connect(): settled when the client handshake completes or fails. */
export interface Waiter {
  resolve: (info: DtlsSessionInfo) => void;
  reject: (err: Error) => void;
}

/**
 * What a shared connection store (issue 12, src/cluster/store) hears of a connector's connections: the three places
 * where a connection's stored state changes. Every method must return quickly (the store works asynchronously).
 */
export interface ConnectionStoreHook {
  /** a handshake completed: the connection is established */
  established(conn: Connection): void;
  /** an established connection was loaded (graceful restart, or a takeover): it must not write before the store agrees */
  restored(conn: Connection): void;
  /** the connection left the store (closed, evicted, failed, replaced, cleared for a restart) */
  removed(conn: Connection, reason: RemovalReason): void;
  /** conn.nextSeq reached conn.storeMark: a checkpoint is due; false: the record must not be written (sequence limit) */
  writeMark(conn: Connection): boolean;
}

/** Error of sends and connects on a stopped connector (and of connects pending when it stops). */
export const STOPPED = new Error('connector stopped');

/** The shared state of one DtlsConnector. */
export interface ConnectorState {
  /** server answers handshakes, client initiates them, peer does both */
  readonly role: 'server' | 'client' | 'peer';
  /** effective settings */
  readonly config: DtlsConfig;
  /** health counters (resources.md §2.4) */
  readonly stats: DtlsStats;
  /** diagnostic counters */
  readonly detailStats: DtlsDetailStats;
  /** the connection store (its invariants stay inside ConnectionStore) */
  readonly store: ConnectionStore;
  /** what the pure handshake functions get: settings, credentials, clock, randomness */
  readonly env: HandshakeEnv;
  /** flight retransmission timers */
  readonly wheel: TimerWheel;
  /** clock in ms */
  readonly now: () => number;
  /** stateless cookies of the HelloVerifyRequest exchange (RFC 6347 §4.2.1) */
  readonly cookie: CookieGenerator;
  /** flood defence: ClientHello budgets and the bound of handshakes in progress (flood-guard.ts) */
  readonly flood: FloodGuard;
  /** the socket (or what stands in its place) */
  readonly transport: DatagramTransport;
  readonly logger: Logger | undefined;
  /** length of the CIDs this connector issues (0: none), needed to parse tls12_cid records (RFC 9146 §4) */
  readonly ownCidLength: number;
  /** malformed / unknown-type record counts of the parser */
  readonly parseStats: RecordParseStats;
  /** test aid: every outgoing datagram; false drops it */
  readonly outboundFilter: ((datagram: Buffer, address: string, port: number) => boolean) | undefined;
  /** client: suites to offer, in this order */
  readonly offeredSuites: readonly CipherSuite[];
  /** completion of every transport send (counts failures) */
  readonly sendDone: SendDone;
  /** effective MTU (dtls.md §9), set on start */
  mtu: number;
  /** serial of the datagram being processed (a flight is resent at most once per datagram) */
  datagramSerial: number;
  /** server handshakes resumed without a cookie exchange, still running */
  unverifiedResumptions: number;
  /** client: pending connect() calls per connection id */
  readonly waiters: Map<number, Waiter[]>;
  /** client: last session per server address (resumption) */
  readonly clientSessions: Map<string, Session>;
  /** application data of every authenticated record, with the DTLS session attributes in ctx.dtls */
  onDatagram: (data: Buffer, ctx: EndpointContext) => void;
  /** client: the next handshakes are full handshakes (no resumption) */
  forceFullHandshake: boolean;
  /** shared connection store of a cluster node (issue 12); undefined without one */
  storeHook: ConnectionStoreHook | undefined;
  /** an established connection's record through the normal receive path (application data that overtook the Finished) */
  deliverRecord: (conn: Connection, record: DtlsRecord) => void;
  /** an application message for a peer without an established connection, role client or peer (client-side.ts) */
  deferSend: (address: string, port: number, data: Buffer, onError: ((err: Error) => void) | undefined) => void;
}

/** Counts a received record that is dropped. */
export function dropRecord(state: ConnectorState): void {
  state.stats['dropped received records']++;
}

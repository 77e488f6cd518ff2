// DTLS 1.2 connector (coaps://, dtls.md): a datagram transport (one UDP socket by default), a connection store, stateless cookie exchange,
// server and client handshakes driven as flights, and the application record hot path (no promise,
// closure or timer per datagram). Implements the CoAP Connector contract.
import { randomBytes, type X509Certificate } from 'node:crypto';
import type { Logger } from 'pino';
import { peerKey, type Connector, type DtlsSessionInfo, type EndpointContext, type PeerAddress } from '../transport/connector.js';
import { UdpTransport, type DatagramTransport } from '../transport/datagram.js';
import { TimerWheel } from '../util/timer-wheel.js';
import type { CipherSuite } from './cipher-suites.js';
import { DEFAULT_DTLS_CONFIG, type DtlsConfig } from './config.js';
import { buildSessionInfo, Connection, connectionFromJson, connectionToJson, recordInfo, type ConnectionJson } from './connection.js';
import { ConnectionStore, type RemovalReason } from './connection-store.js';
import { createCookieGenerator, type CookieGenerator } from './cookie.js';
import type { ServerIdentity } from './credentials/demo-pki.js';
import { createPskStore, type PskStore } from './credentials/psk-store.js';
import { DTLS_STATS_KEYS, createDtlsDetailStats, createDtlsStats, type DtlsDetailStats, type DtlsStats } from './dtls-stats.js';
import { takeSequenceNumber, type EpochState } from './epoch-state.js';
import { backOff, createOutgoingFlight, currentWait, packFlight, type FlightEntry, type RecordSealer } from './flight.js';
import { AlertDescription, AlertLevel, decodeAlert, encodeAlert } from './handshake/alert.js';
import { clientHelloBodyWithoutCookie } from './handshake/client-hello.js';
import { HandshakeType } from './handshake/constants.js';
import { decodeHandshakeFragments } from './handshake/header.js';
import { clientReceive, startClientHandshake, type ClientHandshake } from './handshake-client.js';
import { createChainValidator, createRawPublicKeyParser, type HandshakeEnv, type HandshakeOutcome } from './handshake-common.js';
import { serverReceive, startServerHandshake, type ServerHandshake } from './handshake-server.js';
import { helloVerifyRequestRecord, isClientHelloRecord, parseInitialClientHello } from './hello-verify.js';
import { messageSizeLimit } from './message-size.js';
import { detectMtu } from './mtu.js';
import { ContentType, createRecordParseStats, DTLS_1_2, encodeRecord, parseDatagram, type DtlsRecord, type RecordParseStats } from './record.js';
import type { RecordProtection } from './record-protection.js';
import { accept, isDuplicate } from './replay-window.js';
import { sessionRecordPlaintextLimit, type Session } from './session.js';

/** A handshake in progress (either role). */
type Handshake = ServerHandshake | ClientHandshake;

/** Random source for tests: randoms, session ids and CIDs. */
export type RandomSource = (purpose: 'random' | 'session-id' | 'cid', n: number) => Buffer;

/** Options of a DtlsConnector. */
export interface DtlsConnectorOptions {
  /** local address to bind (IPv6 without brackets) */
  address: string;
  /** local port; 0 = ephemeral */
  port: number;
  /**
   * server answers handshakes; client initiates them (connect / first send); peer does both on one
   * socket (the cluster management channel, cluster.md §6.1)
   */
  role?: 'server' | 'client' | 'peer';
  /** settings; missing fields from DEFAULT_DTLS_CONFIG */
  config?: Partial<DtlsConfig>;
  /** server: PSK lookup (default: the built-in store of dtls.md §3); `null` disables PSK suites */
  pskStore?: PskStore | null;
  /** client: PSK identity and secret */
  pskIdentity?: string;
  pskSecret?: Buffer;
  /** server: certificate identities (preference order); client: its own certificate / RPK identity */
  identities?: readonly ServerIdentity[];
  /** trust anchors for the peer's X.509 chain */
  trustAnchors?: readonly X509Certificate[];
  /** accept any consistent peer chain */
  trustAll?: boolean;
  /** client: check the server certificate's subjectAltName against the destination (default true) */
  verifyServerSubject?: boolean;
  /** client: suites to offer, in this order (default config.cipherSuites) */
  offeredCipherSuites?: readonly CipherSuite[];
  /** optional pino logger (debug level for handshake events) */
  logger?: Logger;
  /** shared timer wheel for flight retransmissions (default: a private one) */
  wheel?: TimerWheel;
  /** clock in ms (default Date.now) */
  now?: () => number;
  /** socket level errors */
  onError?: (err: Error) => void;
  /** cookie generator (default: a fresh one, 60 s secret rotation) */
  cookieGenerator?: CookieGenerator;
  /** the socket (default: a UdpTransport bound to address:port); a cluster node supplies its own */
  transport?: DatagramTransport;
  /** test aid: every outgoing datagram; return false to drop it */
  outboundFilter?: (datagram: Buffer, address: string, port: number) => boolean;
  /** test aid: random bytes for randoms, session ids, CIDs */
  random?: RandomSource;
}

interface Waiter {
  resolve: (info: DtlsSessionInfo) => void;
  reject: (err: Error) => void;
}

const STOPPED = new Error('connector stopped');

/** The DTLS connector (Connector protocol `DTLS`, scheme `coaps`). */
export class DtlsConnector implements Connector {
  /** Connector protocol name (`DTLS:<host>:<port>` endpoint names) */
  readonly protocol = 'DTLS' as const;
  /** URI scheme */
  readonly scheme = 'coaps' as const;
  /** bound local address (IPv6 without brackets) */
  readonly localAddress: string;
  /** server answers handshakes, client initiates them, peer does both */
  readonly role: 'server' | 'client' | 'peer';
  /** effective settings */
  readonly config: DtlsConfig;
  /** health counters (resources.md §2.4) */
  readonly stats: DtlsStats = createDtlsStats();
  /** totals of earlier health periods (see transferStats) */
  private readonly statsTotal: DtlsStats = createDtlsStats();
  /** diagnostic counters */
  readonly detailStats: DtlsDetailStats = createDtlsDetailStats();
  /** the connection store */
  readonly store: ConnectionStore;
  /** client: the next connect()/send() handshakes are full handshakes (no resumption) */
  forceFullHandshake = false;
  /** application data of every authenticated record, with the DTLS session attributes in ctx.dtls */
  onDatagram: (data: Buffer, ctx: EndpointContext) => void = () => {};

  private readonly transport: DatagramTransport;
  private readonly opts: DtlsConnectorOptions;
  private readonly logger: Logger | undefined;
  private readonly wheel: TimerWheel;
  private readonly ownWheel: boolean;
  private readonly now: () => number;
  private readonly cookie: CookieGenerator;
  private readonly env: HandshakeEnv;
  private readonly ownCidLength: number;
  private readonly parseStats: RecordParseStats = createRecordParseStats();
  private readonly outboundFilter: ((datagram: Buffer, address: string, port: number) => boolean) | undefined;
  private readonly offeredSuites: readonly CipherSuite[];
  private mtu = 1500;
  private datagramSerial = 0;
  private unverifiedResumptions = 0;
  private readonly waiters = new Map<number, Waiter[]>();
  /** client: last session per server address (resumption) */
  private readonly clientSessions = new Map<string, Session>();
  private readonly sendDone = (err: Error | null): void => {
    if (err) this.stats['dropped sending records']++;
  };

  constructor(opts: DtlsConnectorOptions) {
    this.opts = opts;
    this.localAddress = opts.address;
    this.role = opts.role ?? 'server';
    this.config = { ...DEFAULT_DTLS_CONFIG, ...opts.config };
    if (this.config.nodeId !== undefined && (this.config.cidLength ?? 0) < 5) throw new Error('DTLS node id requires CONNECTION_ID_LENGTH >= 5');
    this.logger = opts.logger;
    this.ownWheel = opts.wheel === undefined;
    this.wheel = opts.wheel ?? new TimerWheel(10);
    this.now = opts.now ?? Date.now;
    this.cookie = opts.cookieGenerator ?? createCookieGenerator({ now: this.now });
    this.ownCidLength = this.config.cidLength ?? 0;
    this.outboundFilter = opts.outboundFilter;
    this.offeredSuites = opts.offeredCipherSuites ?? this.config.cipherSuites;
    this.transport =
      opts.transport ??
      new UdpTransport({
        address: opts.address,
        port: opts.port,
        receiveBufferSize: this.config.receiveBufferSize,
        sendBufferSize: this.config.sendBufferSize,
        onError: opts.onError,
      });
    this.transport.onDatagram = (data, address, port, router) => this.receiveDatagram(data, address, port, router);
    const random: RandomSource = opts.random ?? ((_p, n) => randomBytes(n));
    this.store = new ConnectionStore({
      maxConnections: this.config.maxConnections,
      staleConnectionThreshold: this.config.staleConnectionThreshold,
      cidLength: this.config.cidLength,
      nodeId: this.config.nodeId,
      random: (n) => random('cid', n),
      onRemoved: (conn, reason) => this.onRemoved(conn, reason),
    });
    const trustAnchors = opts.trustAnchors ?? [];
    const trustAll = opts.trustAll ?? false;
    this.env = {
      config: this.config,
      credentials: {
        pskStore: opts.pskStore === null ? undefined : (opts.pskStore ?? (this.role !== 'client' ? createPskStore() : undefined)),
        pskIdentity: opts.pskIdentity,
        pskSecret: opts.pskSecret,
        identities: opts.identities ?? [],
        trustAnchors,
        trustAll,
        verifyServerSubject: opts.verifyServerSubject ?? true,
      },
      now: this.now,
      random: (purpose, n) => random(purpose, n),
      validateChain: createChainValidator(trustAnchors, trustAll, this.now),
      parseRawPublicKey: createRawPublicKeyParser(),
      logger: this.logger,
    };
  }

  /** Bound local port (valid after start). */
  get localPort(): number {
    return this.transport.localPort;
  }

  /** Effective MTU (dtls.md §9). */
  get maxTransmissionUnit(): number {
    return this.mtu;
  }

  /** Binds the socket and starts receiving. */
  start(): Promise<void> {
    this.mtu = detectMtu(this.localAddress, this.config.maxTransmissionUnit, this.config.maxTransmissionUnitLimit);
    return this.transport.start();
  }

  /** Stops receiving, cancels retransmissions and fails pending connects; the connection store is kept. */
  stop(): Promise<void> {
    const stopped = this.transport.stop();
    for (const conn of this.store.values()) {
      const hs = conn.handshake as Handshake | undefined;
      if (hs?.flight?.timer) hs.flight.timer.cancel();
      this.rejectWaiters(conn, STOPPED);
    }
    if (this.ownWheel) this.wheel.clear();
    return stopped;
  }

  /**
   * Test aid (client): moves to a new local socket (new ephemeral port), keeping all connections — a
   * NAT rebinding as seen by the server.
   */
  async rebind(): Promise<void> {
    if (this.transport.rebind === undefined) throw new Error('the transport cannot rebind');
    await this.transport.rebind();
  }

  /** Established connections. */
  *connections(): IterableIterator<Connection> {
    for (const conn of this.store.values()) if (conn.established && !conn.closed) yield conn;
  }

  /** Established connection with a peer address, if any. */
  getConnection(address: string, port: number): Connection | undefined {
    return this.store.getByAddress(peerKey(address, port));
  }

  /** JSON form of every established connection (graceful restart). */
  saveConnections(): ConnectionJson[] {
    const out: ConnectionJson[] = [];
    for (const conn of this.connections()) {
      const json = connectionToJson(conn);
      if (json !== undefined) out.push(json);
    }
    return out;
  }

  /** Restores connections saved by saveConnections(); returns the number restored. */
  loadConnections(items: readonly ConnectionJson[]): number {
    let n = 0;
    for (const item of items) {
      const conn = connectionFromJson(item);
      if (this.role !== 'peer' && conn.role !== this.role) continue;
      this.store.restore(conn);
      n++;
    }
    this.stats.connections = this.store.size;
    return n;
  }

  // ---------------------------------------------------------------- receive path

  /**
   * Processes one datagram as received from `address:port` (the transport's receive path, also used by
   * tests). `router`: the cluster node it came through (cluster.md §4.3): newest records mark the
   * connection as routed and its records go back through the transport with that router.
   */
  receiveDatagram(datagram: Buffer, address: string, port: number, router?: PeerAddress): void {
    this.datagramSerial++;
    const parse = this.parseStats;
    const malformedBefore = parse.malformed + parse.unknownType;
    const records = parseDatagram(datagram, this.ownCidLength, parse);
    const malformed = parse.malformed + parse.unknownType - malformedBefore;
    if (malformed > 0) {
      this.stats['received records'] += malformed;
      this.stats['dropped received records'] += malformed;
      this.detailStats.malformedRecords += malformed;
    }
    let key: string | undefined;
    for (let i = 0; i < records.length; i++) {
      const record = records[i]!;
      this.stats['received records']++;
      if (record.type === ContentType.TLS12_CID) {
        const conn = this.store.getByCid(record.cid!);
        if (conn === undefined) {
          this.dropRecord();
          this.detailStats.unknownConnection++;
        } else if (conn.handshake !== undefined) {
          this.handshakeRecord(conn, record);
        } else {
          this.protectedRecord(conn, record, address, port, router);
        }
        continue;
      }
      if (key === undefined) key = peerKey(address, port);
      if (record.epoch === 0) {
        this.plainRecord(record, address, port, key);
        continue;
      }
      if (record.type === ContentType.APPLICATION_DATA) {
        const conn = this.store.getByAddress(key);
        if (conn !== undefined) this.protectedRecord(conn, record, address, port, router);
        else this.unknownRecord();
        continue;
      }
      const hsConn = this.store.getHandshake(key);
      if (hsConn !== undefined && hsConn.handshake !== undefined) {
        this.handshakeRecord(hsConn, record);
        continue;
      }
      const conn = this.store.getByAddress(key);
      if (conn !== undefined) this.protectedRecord(conn, record, address, port, router);
      else this.unknownRecord();
    }
  }

  private dropRecord(): void {
    this.stats['dropped received records']++;
  }

  private unknownRecord(): void {
    this.stats['dropped received records']++;
    this.detailStats.unknownConnection++;
  }

  /** Epoch-0 records: ClientHello (stateless cookie exchange), handshake records of running handshakes. */
  private plainRecord(record: DtlsRecord, address: string, port: number, key: string): void {
    if (record.type === ContentType.HANDSHAKE && isClientHelloRecord(record)) {
      if (this.role !== 'client') this.clientHello(record, address, port, key);
      else this.dropRecord();
      return;
    }
    const hsConn = this.store.getHandshake(key);
    if (hsConn !== undefined && hsConn.handshake !== undefined) {
      this.handshakeRecord(hsConn, record);
      return;
    }
    // the peer retransmits its last flight: our last flight got lost (RFC 6347 §4.2.4)
    const conn = this.store.getByAddress(key);
    if (conn !== undefined && conn.lastFlight !== undefined && record.type === ContentType.HANDSHAKE) {
      this.resendLastFlight(conn);
      return;
    }
    this.unknownRecord();
  }

  /** Application records (and alerts / handshake records) of an established connection: the hot path. */
  private protectedRecord(conn: Connection, record: DtlsRecord, address: string, port: number, router: PeerAddress | undefined): void {
    const now = this.now();
    const state = conn.epoch;
    if (state === undefined || conn.closed || record.epoch !== 1) {
      this.dropRecord();
      return;
    }
    // RFC 9146: with a non-empty read CID every protected record carries it
    if (conn.usesReadCid !== (record.type === ContentType.TLS12_CID)) {
      this.dropRecord();
      return;
    }
    if (conn.macFilterUntil !== 0 && conn.macFiltered(now)) {
      this.dropRecord();
      this.detailStats.macFilterDrops++;
      return;
    }
    const window = state.window;
    if (this.config.useAntiReplayFilter && isDuplicate(window, record.seq)) {
      this.dropRecord();
      this.detailStats.replayed++;
      return;
    }
    const plain = conn.protection!.decrypt(record);
    if (plain === undefined) {
      this.stats['dropped received mac-errors']++;
      conn.macError(now, this.config.macErrorFilterThreshold, this.config.macErrorFilterQuietTime);
      return;
    }
    const newest = accept(window, record.seq);
    this.store.touch(conn, now);
    let prev: PeerAddress | undefined;
    if (newest) {
      if (
        (conn.port !== port || conn.address !== address) &&
        record.type === ContentType.TLS12_CID &&
        this.config.updateAddressUsingCidOnNewerRecords
      ) {
        prev = { address: conn.address, port: conn.port };
        this.store.updateAddress(conn, address, port);
      }
      if (router !== conn.router && (router === undefined || conn.router === undefined || router.address !== conn.router.address || router.port !== conn.router.port)) {
        conn.router = router;
        conn.info = undefined;
      }
    }
    switch (plain.type) {
      case ContentType.APPLICATION_DATA: {
        if (conn.lastFlight !== undefined) conn.lastFlight = undefined;
        if (this.config.useNewerFilter && !newest) {
          this.dropRecord();
          return;
        }
        let info = conn.info;
        if (info === undefined) info = conn.info = buildSessionInfo(conn, this.config.nodeId);
        this.onDatagram(plain.plaintext, {
          address,
          port,
          dtls: recordInfo(info, record.epoch, record.seq, newest, prev),
          connection: conn,
          router,
        });
        return;
      }
      case ContentType.ALERT:
        this.alert(conn, plain.plaintext);
        return;
      case ContentType.HANDSHAKE:
        this.handshakeOnEstablished(conn, plain.plaintext);
        return;
      default:
        return;
    }
  }

  /** An authenticated handshake record on an established connection. */
  private handshakeOnEstablished(conn: Connection, content: Buffer): void {
    const frags = decodeHandshakeFragments(content);
    if (!frags.ok || frags.value.length === 0) return;
    const type = frags.value[0]!.header.msgType;
    if (type === HandshakeType.CLIENT_HELLO || type === HandshakeType.HELLO_REQUEST) {
      // renegotiation is never performed (dtls.md §1)
      this.sendAlert(conn, AlertLevel.WARNING, AlertDescription.NO_RENEGOTIATION, true);
      return;
    }
    if (conn.lastFlight !== undefined) this.resendLastFlight(conn);
  }

  private alert(conn: Connection, body: Buffer): void {
    const decoded = decodeAlert(body);
    if (!decoded.ok) return;
    this.detailStats.alertsReceived++;
    const { level, description } = decoded.value;
    const hs = conn.handshake as Handshake | undefined;
    if (description === AlertDescription.CLOSE_NOTIFY) {
      this.logger?.debug({ peer: conn.addressKey }, 'dtls: close_notify received');
      if (hs !== undefined) this.failHandshake(conn, undefined, 'peer closed the handshake');
      else this.store.remove(conn, 'closed');
      return;
    }
    if (level === AlertLevel.FATAL) {
      const reason = `fatal alert ${description} received`;
      this.logger?.debug({ peer: conn.addressKey, description }, 'dtls: fatal alert received');
      if (hs !== undefined) this.failHandshake(conn, undefined, reason);
      else {
        this.rejectWaiters(conn, new Error(reason));
        this.store.remove(conn, 'failed');
      }
    }
  }

  // ---------------------------------------------------------------- server: ClientHello

  private clientHello(record: DtlsRecord, address: string, port: number, key: string): void {
    const init = parseInitialClientHello(record);
    if (init === undefined) {
      this.dropRecord();
      return;
    }
    const { hello, message } = init;
    const running = this.store.getHandshake(key);
    const runningHs = running?.handshake as Handshake | undefined;
    if (running !== undefined && runningHs !== undefined && runningHs.clientRandom.equals(hello.random)) {
      // the client retransmitted its ClientHello: our flight got lost
      if (hello.cookie.length > 0 || runningHs.resumed) this.peerRetransmitted(running, runningHs);
      return;
    }
    if (running !== undefined && runningHs?.role === 'client') {
      // peer role, both sides started a handshake at once: the lower client random goes on (both sides
      // see the same two randoms, so they agree), the other one is abandoned
      if (Buffer.compare(runningHs.clientRandom, hello.random) < 0) {
        this.dropRecord();
        return;
      }
      this.failHandshake(running, undefined, 'crossed handshakes, the peer goes on with its own');
    }
    const established = this.store.getByAddress(key);
    if (established?.clientRandom !== undefined && established.clientRandom.equals(hello.random)) {
      this.dropRecord(); // late copy of the ClientHello that created the connection
      return;
    }
    const config = this.config;
    let verified = false;
    let unverifiedResumption = false;
    if (hello.cookie.length > 0 && this.cookie.verify(address, port, clientHelloBodyWithoutCookie(hello), hello.cookie)) {
      verified = true;
    } else if (!config.useHelloVerifyRequest || (!config.useHelloVerifyRequestForPsk && onlyPsk(hello.cipherSuites, config))) {
      verified = true;
    } else if (
      hello.sessionId.length > 0 &&
      this.unverifiedResumptions < (config.maxConnections * config.verifyPeersOnResumptionThreshold) / 100 &&
      this.store.findSession(hello.sessionId) !== undefined
    ) {
      verified = true;
      unverifiedResumption = true;
    }
    if (!verified) {
      // stateless: no connection, no key pair before the cookie verifies (RFC 6347 §4.2.1)
      const cookie = this.cookie.generate(address, port, clientHelloBodyWithoutCookie(hello));
      this.detailStats.helloVerifyRequests++;
      this.sendRaw(helloVerifyRequestRecord(record, message, cookie), address, port);
      return;
    }
    this.detailStats.verifiedClientHellos++;
    const now = this.now();
    if (!this.store.reserve(now)) {
      this.detailStats.refusedHandshakes++;
      this.logger?.debug({ peer: key, size: this.store.size }, 'dtls server: connection store full, handshake refused');
      return;
    }
    const conn = new Connection('server', address, port, now);
    conn.seq0 = record.seq; // Californium continues the client's record sequence numbers
    conn.clientRandom = hello.random;
    let started: ReturnType<typeof startServerHandshake>;
    try {
      started = startServerHandshake(this.env, {
        hello,
        helloMessage: message,
        newCid: () => this.store.newCid(),
        findSession: (id) => this.store.findSession(id)?.session,
        unverifiedResumption,
      });
    } catch (err) {
      this.stats['handshakes failed']++;
      this.logger?.debug({ peer: key, err }, 'dtls server: internal error in ClientHello processing');
      this.sendAlert(conn, AlertLevel.FATAL, AlertDescription.INTERNAL_ERROR, false);
      return;
    }
    const { hs, outcome } = started;
    if (outcome.kind === 'fail') {
      this.stats['handshakes failed']++;
      this.logger?.debug({ peer: key, reason: outcome.reason }, 'dtls server: handshake refused');
      this.sendAlert(conn, AlertLevel.FATAL, outcome.alert, false);
      return;
    }
    conn.handshake = hs;
    conn.readCid = hs.readCid;
    this.store.addHandshake(conn);
    if (hs.unverifiedResumption) this.unverifiedResumptions++;
    this.stats.connections = this.store.size;
    this.applyOutcome(conn, hs, outcome);
  }

  // ---------------------------------------------------------------- handshake records

  /** A record of a connection whose handshake runs (epoch 0 plain, epoch 1 with the pending keys). */
  private handshakeRecord(conn: Connection, record: DtlsRecord): void {
    const hs = conn.handshake as Handshake;
    let type = record.type;
    let content = record.fragment;
    if (record.epoch > 0) {
      const pending = hs.pending;
      if (pending === undefined) {
        // keys not there yet (reordered datagrams): keep a few records
        if (hs.deferred.length < Math.min(8, this.config.maxDeferredInboundRecords)) hs.deferred.push(record);
        else this.dropRecord();
        return;
      }
      if (record.epoch !== 1 || isDuplicate(pending.state.window, record.seq)) {
        this.dropRecord();
        return;
      }
      const plain = pending.protection.decrypt(record);
      if (plain === undefined) {
        this.stats['dropped received mac-errors']++;
        // the peer derived other keys (e.g. another PSK secret): the handshake cannot succeed
        this.failHandshake(conn, AlertDescription.BAD_RECORD_MAC, 'cannot authenticate the peer Finished');
        return;
      }
      accept(pending.state.window, record.seq);
      type = plain.type;
      content = plain.plaintext;
    }
    switch (type) {
      case ContentType.HANDSHAKE:
        this.handshakeContent(conn, hs, content, record.epoch);
        return;
      case ContentType.ALERT:
        this.alert(conn, content);
        return;
      case ContentType.CHANGE_CIPHER_SPEC:
        // RFC 5246 §7.1: the message is the single byte 1; anything else is discarded (RFC 6347 §4.1.2.7).
        // The epoch switch itself is implied by the epoch-1 records that follow (the Finished authenticates it).
        if (content.length !== 1 || content[0] !== 1) this.dropRecord();
        return;
      default:
        this.dropRecord();
    }
  }

  private handshakeContent(conn: Connection, hs: Handshake, content: Buffer, epoch: number): void {
    const frags = decodeHandshakeFragments(content);
    if (!frags.ok) {
      if (epoch > 0) this.failHandshake(conn, frags.alert, frags.reason);
      else this.dropRecord();
      return;
    }
    let old = false;
    for (const f of frags.value) {
      // Finished only in epoch 1, everything else only in epoch 0
      if ((f.header.msgType === HandshakeType.FINISHED) !== epoch > 0) continue;
      const status = hs.reassembler.push(f);
      if (status.status === 'old') old = true;
      else if (status.status === 'error') {
        this.failHandshake(conn, status.alert, status.reason);
        return;
      }
    }
    let progressed = false;
    for (;;) {
      const msg = hs.reassembler.next();
      if (msg === undefined) break;
      progressed = true;
      let outcome: HandshakeOutcome;
      try {
        outcome = hs.role === 'server' ? serverReceive(this.env, hs, msg) : clientReceive(this.env, hs, msg);
      } catch (err) {
        // a bug must not take the socket down: end this handshake only
        outcome = { kind: 'fail', alert: AlertDescription.INTERNAL_ERROR, reason: `internal error: ${(err as Error).message}` };
      }
      if (!this.applyOutcome(conn, hs, outcome)) return;
    }
    if (old && !progressed) this.peerRetransmitted(conn, hs);
    if (hs.pending !== undefined && hs.deferred.length > 0 && conn.handshake === hs) {
      const deferred = hs.deferred;
      hs.deferred = [];
      for (const r of deferred) {
        if (conn.handshake !== hs) break;
        this.handshakeRecord(conn, r);
      }
    }
  }

  /** Executes a handshake outcome; false when the handshake ended (completed or failed). */
  private applyOutcome(conn: Connection, hs: Handshake, outcome: HandshakeOutcome): boolean {
    switch (outcome.kind) {
      case 'wait':
        return true;
      case 'flight': {
        hs.flight?.timer?.cancel();
        hs.state = 'sending';
        const flight = createOutgoingFlight(outcome.entries, outcome.ecc, this.config);
        hs.flight = flight;
        this.sendEntries(conn, hs, flight.entries);
        flight.timer = this.wheel.schedule(currentWait(flight, this.config), () => this.flightTimeout(conn, hs));
        hs.state = 'waiting';
        return true;
      }
      case 'complete':
        this.completeHandshake(conn, hs, outcome.finalFlight);
        return false;
      case 'fail':
        this.failHandshake(conn, outcome.alert, outcome.reason);
        return false;
    }
  }

  private flightTimeout(conn: Connection, hs: Handshake): void {
    const flight = hs.flight;
    if (conn.handshake !== hs || conn.closed || flight === undefined || !this.transport.running) return;
    if (!backOff(flight, this.config)) {
      this.failHandshake(conn, undefined, 'handshake timeout');
      return;
    }
    this.detailStats.retransmissions++;
    this.sendEntries(conn, hs, flight.entries);
    flight.timer = this.wheel.schedule(currentWait(flight, this.config), () => this.flightTimeout(conn, hs));
  }

  /** The peer retransmitted its previous flight: resend ours once per datagram (RFC 6347 §4.2.4). */
  private peerRetransmitted(conn: Connection, hs: Handshake): void {
    if (hs.flight === undefined || hs.peerRetransmitSerial === this.datagramSerial) return;
    hs.peerRetransmitSerial = this.datagramSerial;
    this.detailStats.retransmissions++;
    this.sendEntries(conn, hs, hs.flight.entries);
  }

  private resendLastFlight(conn: Connection): void {
    if (conn.lastFlight === undefined || conn.epoch === undefined) return;
    if (conn.resendSerial === this.datagramSerial) return;
    conn.resendSerial = this.datagramSerial;
    this.detailStats.retransmissions++;
    this.sendFlight(conn, conn.lastFlight, conn.epoch, conn.protection!, conn.writeCid, conn.session!);
  }

  private completeHandshake(conn: Connection, hs: Handshake, finalFlight: FlightEntry[] | undefined): void {
    hs.flight?.timer?.cancel();
    hs.flight = undefined;
    hs.state = 'finished';
    const now = this.now();
    const session = hs.session!;
    const pending = hs.pending!;
    conn.session = session;
    conn.epoch = pending.state;
    conn.protection = pending.protection;
    if (!sameCid(conn.readCid, hs.readCid)) this.store.changeCid(conn, hs.readCid);
    conn.writeCid = hs.writeCid;
    conn.handshake = undefined;
    conn.established = true;
    conn.handshakeTime = now;
    conn.clientRandom = hs.clientRandom;
    conn.serverRandom = hs.serverRandom;
    let fragmentLimit = session.maxFragmentLength;
    if (session.recordSizeLimit !== undefined && (fragmentLimit === undefined || session.recordSizeLimit < fragmentLimit)) fragmentLimit = session.recordSizeLimit;
    conn.messageSizeLimit = messageSizeLimit({
      mtu: this.mtu,
      ipv6: conn.address.includes(':'),
      suite: session.cipherSuite,
      writeCidLength: conn.writeCid?.length ?? 0,
      ...(fragmentLimit !== undefined ? { maxFragmentLength: fragmentLimit } : {}),
    });
    conn.info = undefined;
    if (finalFlight !== undefined) {
      conn.lastFlight = finalFlight;
      this.sendFlight(conn, finalFlight, pending.state, pending.protection, hs.writeCid, session);
    }
    this.store.establish(conn, now, this.config.removeStaleDoublePrincipals);
    this.stats.connections = this.store.size;
    this.stats['handshakes succeeded']++;
    if (hs.resumed) this.detailStats.resumedHandshakes++;
    else this.detailStats.fullHandshakes++;
    if (hs.role === 'server' && hs.unverifiedResumption) {
      hs.unverifiedResumption = false;
      this.unverifiedResumptions--;
    }
    this.logger?.debug(
      { peer: conn.addressKey, suite: session.cipherSuite.name, resumed: hs.resumed, identity: session.peerIdentity, ms: now - hs.startTime },
      'dtls: handshake completed',
    );
    if (hs.role === 'client') {
      if (session.id.length > 0) this.clientSessions.set(conn.addressKey, session);
      const info = buildSessionInfo(conn, this.config.nodeId);
      const waiters = this.waiters.get(conn.id);
      this.waiters.delete(conn.id);
      const deferred = conn.deferred;
      conn.deferred = undefined;
      if (deferred !== undefined) {
        const ctx: EndpointContext = { address: conn.address, port: conn.port, connection: conn };
        for (const m of deferred) this.send(m.data, ctx, m.onError);
      }
      if (waiters !== undefined) for (const w of waiters) w.resolve(info);
    }
  }

  private failHandshake(conn: Connection, alert: number | undefined, reason: string): void {
    const hs = conn.handshake as Handshake | undefined;
    if (hs !== undefined) {
      hs.flight?.timer?.cancel();
      hs.flight = undefined;
      hs.state = 'finished';
      if (hs.role === 'server' && hs.unverifiedResumption) {
        hs.unverifiedResumption = false;
        this.unverifiedResumptions--;
      }
    }
    if (alert !== undefined) this.sendAlert(conn, AlertLevel.FATAL, alert, false);
    this.stats['handshakes failed']++;
    this.logger?.debug({ peer: conn.addressKey, reason, alert }, 'dtls: handshake failed');
    const err = new Error(`DTLS handshake failed: ${reason}`);
    this.failDeferred(conn, err);
    this.rejectWaiters(conn, err);
    this.store.remove(conn, 'failed');
  }

  private onRemoved(conn: Connection, reason: RemovalReason): void {
    const hs = conn.handshake as Handshake | undefined;
    if (hs !== undefined) {
      hs.flight?.timer?.cancel();
      hs.flight = undefined;
      if (hs.role === 'server' && hs.unverifiedResumption) {
        hs.unverifiedResumption = false;
        this.unverifiedResumptions--;
      }
    }
    if (reason === 'evicted') this.detailStats.evictedConnections++;
    if (conn.deferred !== undefined || this.waiters.has(conn.id)) {
      const err = new Error(`DTLS connection ${reason}`);
      this.failDeferred(conn, err);
      this.rejectWaiters(conn, err);
    }
    this.stats.connections = this.store.size;
  }

  private rejectWaiters(conn: Connection, err: Error): void {
    const waiters = this.waiters.get(conn.id);
    if (waiters === undefined) return;
    this.waiters.delete(conn.id);
    for (const w of waiters) w.reject(err);
  }

  private failDeferred(conn: Connection, err: Error): void {
    const deferred = conn.deferred;
    if (deferred === undefined) return;
    conn.deferred = undefined;
    for (const m of deferred) {
      this.stats['dropped sending records']++;
      m.onError?.(err);
    }
  }

  // ---------------------------------------------------------------- sending

  private sendEntries(conn: Connection, hs: Handshake, entries: readonly FlightEntry[]): void {
    let limit = 16384;
    if (hs.maxFragmentLength !== undefined && hs.maxFragmentLength < limit) limit = hs.maxFragmentLength;
    if (hs.peerRecordSizeLimit !== undefined && hs.peerRecordSizeLimit < limit) limit = hs.peerRecordSizeLimit;
    const pending = hs.pending;
    const sealer = this.sealer(conn, pending?.state, pending?.protection, hs.writeCid);
    for (const d of packFlight(entries, this.maxDatagramSize(conn), limit, sealer)) this.sendDatagram(conn, d);
  }

  private sendFlight(conn: Connection, entries: readonly FlightEntry[], state: EpochState, protection: RecordProtection, writeCid: Buffer | undefined, session: Session): void {
    const sealer = this.sealer(conn, state, protection, writeCid);
    for (const d of packFlight(entries, this.maxDatagramSize(conn), sessionRecordPlaintextLimit(session), sealer)) this.sendDatagram(conn, d);
  }

  private sealer(conn: Connection, state: EpochState | undefined, protection: RecordProtection | undefined, writeCid: Buffer | undefined): RecordSealer {
    const cidLength = writeCid?.length ?? 0;
    return {
      overhead: (epoch) => (epoch === 0 ? 13 : 13 + cidLength + (cidLength > 0 ? 1 : 0) + protection!.suite.maxExpansion),
      seal: (type, epoch, plaintext) => {
        this.stats['sending records']++;
        if (epoch === 0) return encodeRecord(type, DTLS_1_2, 0, conn.seq0++, plaintext);
        return protection!.encryptRecord(type, epoch, takeSequenceNumber(state!)!, plaintext, writeCid);
      },
    };
  }

  /** Largest datagram for a peer: MTU − IP and UDP headers. */
  private maxDatagramSize(conn: Connection): number {
    return this.mtu - (conn.address.includes(':') ? 48 : 28);
  }

  private sendAlert(conn: Connection, level: number, description: number, protectedAlert: boolean): void {
    const body = encodeAlert({ level: level as 1 | 2, description });
    let record: Buffer;
    if (protectedAlert && conn.epoch !== undefined && conn.protection !== undefined) {
      const seq = takeSequenceNumber(conn.epoch);
      if (seq === undefined) return;
      record = conn.protection.encryptRecord(ContentType.ALERT, 1, seq, body, conn.writeCid);
    } else {
      record = encodeRecord(ContentType.ALERT, DTLS_1_2, 0, conn.seq0++, body);
    }
    this.detailStats.alertsSent++;
    this.stats['sending records']++;
    this.sendDatagram(conn, record);
  }

  private sendDatagram(conn: Connection, datagram: Buffer): void {
    this.sendRaw(datagram, conn.address, conn.port, conn.router);
  }

  private sendRaw(datagram: Buffer, address: string, port: number, router?: PeerAddress): void {
    if (!this.transport.running) return;
    if (this.outboundFilter !== undefined && !this.outboundFilter(datagram, address, port)) return;
    this.transport.send(datagram, address, port, router, this.sendDone);
  }

  /**
   * Sends one application record. Uses ctx.connection when it is a live connection (the session survives
   * address changes), else the connection at ctx's address. Server without connection: drop + onError;
   * client without connection: handshake first, message queued.
   */
  send(data: Buffer, ctx: EndpointContext, onError?: (err: Error) => void): void {
    if (!this.transport.running) {
      onError?.(STOPPED);
      return;
    }
    let conn = ctx.connection instanceof Connection ? ctx.connection : undefined;
    if (conn === undefined || conn.closed || !conn.established) conn = this.store.getByAddress(peerKey(ctx.address, ctx.port));
    if (conn === undefined || conn.closed || !conn.established) {
      if (this.role !== 'server') {
        this.deferSend(ctx.address, ctx.port, data, onError);
        return;
      }
      this.stats['dropped sending records']++;
      onError?.(new Error(`no DTLS connection to ${peerKey(ctx.address, ctx.port)}`));
      return;
    }
    const session = conn.session!;
    if (data.length > sessionRecordPlaintextLimit(session)) {
      this.stats['dropped sending records']++;
      onError?.(new Error(`message of ${data.length} bytes exceeds the record limit`));
      return;
    }
    const seq = takeSequenceNumber(conn.epoch!);
    if (seq === undefined) {
      this.stats['dropped sending records']++;
      onError?.(new Error('record sequence numbers exhausted'));
      return;
    }
    const record = conn.protection!.encryptRecord(ContentType.APPLICATION_DATA, 1, seq, data, conn.writeCid);
    this.stats['sending records']++;
    conn.lastActivity = this.now();
    this.sendDatagram(conn, record);
  }

  /** The connector's counter group for /diagnose: `dtls:<addr>` (or `dtls:node-<id>:<addr>`), rows [key, current, total]. */
  diagnosticGroup(): { tag: string; counters: Array<[string, number, number]> } {
    this.stats.connections = this.store.size;
    const host = this.localAddress.includes(':') ? `[${this.localAddress}]` : this.localAddress;
    const node = this.config.nodeId !== undefined ? `node-${this.config.nodeId}:` : '';
    const counters: Array<[string, number, number]> = DTLS_STATS_KEYS.map((k) =>
      // `connections` is a gauge: its current value is also its total
      // resources.md §2.4: `all` is the accumulated total of the previous periods
      k === 'connections' ? [k, this.stats[k], this.stats[k]] : [k, this.stats[k], this.statsTotal[k]],
    );
    return { tag: `dtls:${node}${host}:${this.localPort}`, counters };
  }

  /** Starts a new statistics period (called on each periodic health dump). */
  transferStats(): void {
    for (const k of DTLS_STATS_KEYS) {
      if (k === 'connections') continue;
      this.statsTotal[k] += this.stats[k];
      this.stats[k] = 0;
    }
  }

  // ---------------------------------------------------------------- client API

  /** Client: handshakes with a server now (resumption if a session is known, unless `full`). */
  connect(address: string, port: number, opts: { full?: boolean } = {}): Promise<DtlsSessionInfo> {
    if (this.role === 'server') return Promise.reject(new Error('connect() needs role client or peer'));
    if (!this.transport.running) return Promise.reject(STOPPED);
    const key = peerKey(address, port);
    let conn = this.store.getHandshake(key);
    if (conn === undefined) {
      try {
        conn = this.startClient(address, port, opts.full === true || this.forceFullHandshake);
      } catch (err) {
        return Promise.reject(err as Error);
      }
    }
    const id = conn.id;
    return new Promise((resolve, reject) => {
      const list = this.waiters.get(id);
      if (list === undefined) this.waiters.set(id, [{ resolve, reject }]);
      else list.push({ resolve, reject });
    });
  }

  /** Client (or server): sends close_notify and removes the connection to a peer. */
  close(address: string, port: number): void {
    const key = peerKey(address, port);
    const conn = this.store.getByAddress(key);
    if (conn !== undefined) {
      this.sendAlert(conn, AlertLevel.WARNING, AlertDescription.CLOSE_NOTIFY, true);
      this.store.remove(conn, 'closed');
    }
    const hsConn = this.store.getHandshake(key);
    if (hsConn !== undefined) {
      this.sendAlert(hsConn, AlertLevel.WARNING, AlertDescription.CLOSE_NOTIFY, false);
      this.failHandshake(hsConn, undefined, 'closed');
    }
  }

  /** Client: forgets the session kept for resumption with a server. */
  forgetSession(address: string, port: number): void {
    this.clientSessions.delete(peerKey(address, port));
  }

  private deferSend(address: string, port: number, data: Buffer, onError: ((err: Error) => void) | undefined): void {
    let conn = this.store.getHandshake(peerKey(address, port));
    if (conn === undefined) {
      try {
        conn = this.startClient(address, port, this.forceFullHandshake);
      } catch (err) {
        this.stats['dropped sending records']++;
        onError?.(err as Error);
        return;
      }
    }
    const queue = (conn.deferred ??= []);
    if (queue.length >= this.config.maxDeferredOutboundApplicationMessages) {
      this.stats['dropped sending records']++;
      onError?.(new Error('too many messages waiting for the DTLS handshake'));
      return;
    }
    queue.push({ data, onError });
  }

  private startClient(address: string, port: number, full: boolean): Connection {
    const now = this.now();
    if (!this.store.reserve(now)) {
      this.detailStats.refusedHandshakes++;
      throw new Error('connection store full');
    }
    const key = peerKey(address, port);
    let session = full ? undefined : this.clientSessions.get(key);
    if (session !== undefined && now - session.creationTime >= this.config.sessionTimeout) {
      this.clientSessions.delete(key);
      session = undefined;
    }
    const cid = this.config.cidLength !== undefined ? this.store.newCid() : undefined;
    const { hs, outcome } = startClientHandshake(this.env, { serverAddress: address, suites: this.offeredSuites, session, cid });
    if (outcome.kind === 'fail') throw new Error(`DTLS handshake not started: ${outcome.reason}`);
    const conn = new Connection('client', address, port, now);
    conn.handshake = hs;
    conn.readCid = cid;
    this.store.addHandshake(conn);
    this.stats.connections = this.store.size;
    this.logger?.debug({ peer: key, resumption: session !== undefined }, 'dtls client: handshake started');
    this.applyOutcome(conn, hs, outcome);
    return conn;
  }
}

function sameCid(a: Buffer | undefined, b: Buffer | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return a.equals(b);
}

function onlyPsk(codes: readonly number[], config: DtlsConfig): boolean {
  let any = false;
  for (const code of codes) {
    const suite = config.cipherSuites.find((s) => s.code === code);
    if (suite === undefined) continue;
    if (!suite.psk) return false;
    any = true;
  }
  return any;
}

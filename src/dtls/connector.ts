// DTLS 1.2 connector (coaps://, dtls.md): the composition of a datagram transport (one UDP socket by
// default), a connection store, the record router (record-router.ts), the server's ClientHello handling
// (server-hello.ts), the handshake driver (handshake-driver.ts), the client side (client-side.ts) and the
// record sender (record-sender.ts), all sharing one ConnectorState. Implements the Connector contract.
import type { X509Certificate } from 'node:crypto';
import type { Logger } from 'pino';
import { peerKey, type Connector, type DtlsSessionInfo, type EndpointContext, type PeerAddress } from '../transport/connector.js';
import { UdpTransport, type DatagramTransport } from '../transport/datagram.js';
import { pooledRandomBytes } from '../util/random-pool.js';
import { TimerWheel } from '../util/timer-wheel.js';
import type { CipherSuite } from './cipher-suites.js';
import { DEFAULT_DTLS_CONFIG, type DtlsConfig } from './config.js';
import { Connection, connectionFromJson, connectionToJson, type ConnectionJson } from './connection.js';
import { ConnectionStore, cidKey } from './connection-store.js';
import { STOPPED, type ConnectionStoreHook, type ConnectorState, type Handshake } from './connector-state.js';
import { createCookieGenerator, type CookieGenerator } from './cookie.js';
import type { ServerIdentity } from './credentials/demo-pki.js';
import { createPskStore, type PskStore } from './credentials/psk-store.js';
import { rejectWaiters } from './client-waiters.js';
import { connectClient, deferSend, forgetSession } from './client-side.js';
import { DTLS_STATS_KEYS, createDtlsDetailStats, createDtlsStats, type DtlsDetailStats, type DtlsStats } from './dtls-stats.js';
import { AlertDescription, AlertLevel } from './handshake/alert.js';
import { createChainValidator, createRawPublicKeyParser } from './handshake-common.js';
import { connectionRemoved, failHandshake } from './handshake-end.js';
import { createFloodGuard, releaseHandshake, stopFloodGuard } from './flood-guard.js';
import { detectMtu } from './mtu.js';
import { createRecordParseStats } from './record.js';
import { guardedReceive } from './receive-guard.js';
import { protectedRecord } from './record-router.js';
import { sendAlert, sendApplication } from './record-sender.js';

/** Random source for tests: randoms, session ids and CIDs. */
export type RandomSource = (purpose: 'random' | 'session-id' | 'cid', n: number) => Buffer;

/** loadConnections logs at most this many dropped connections one by one (then a count). */
const MAX_LOGGED_DROPS = 20;

/** A connection's read CID in hex for log lines (`none` without one). */
function cidText(conn: Connection): string {
  return conn.readCid !== undefined && conn.readCid.length > 0 ? conn.readCid.toString('hex') : 'none';
}

/** A connection's peer address for log lines (IPv6 in brackets). */
function addressText(conn: Connection): string {
  return conn.address.includes(':') ? `[${conn.address}]:${conn.port}` : `${conn.address}:${conn.port}`;
}

/** What two conflicting connections share: `address`, `CID` or `address and CID`. */
function sameWhat(a: Connection, b: Connection): string {
  const address = a.addressKey === b.addressKey;
  const cid = a.usesReadCid && b.usesReadCid && a.readCid!.equals(b.readCid!);
  return address && cid ? 'address and CID' : address ? 'address' : 'CID';
}

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

  /** what the record router, handshake driver, client side and record sender share */
  private readonly state: ConnectorState;
  private readonly ownWheel: boolean;

  constructor(opts: DtlsConnectorOptions) {
    this.localAddress = opts.address;
    this.role = opts.role ?? 'server';
    const config: DtlsConfig = (this.config = { ...DEFAULT_DTLS_CONFIG, ...opts.config });
    if (config.nodeId !== undefined && (config.cidLength ?? 0) < 5) throw new Error('DTLS node id requires CONNECTION_ID_LENGTH >= 5');
    this.ownWheel = opts.wheel === undefined;
    const now = opts.now ?? Date.now;
    const transport =
      opts.transport ??
      new UdpTransport({
        address: opts.address,
        port: opts.port,
        receiveBufferSize: config.receiveBufferSize,
        sendBufferSize: config.sendBufferSize,
        onError: opts.onError,
      });
    // randoms, session ids and CIDs from a pooled CSPRNG source (one randomFillSync per 4 KiB, not per value)
    const random: RandomSource = opts.random ?? ((_p, n) => pooledRandomBytes(n));
    this.store = new ConnectionStore({
      maxConnections: config.maxConnections,
      staleConnectionThreshold: config.staleConnectionThreshold,
      cidLength: config.cidLength,
      nodeId: config.nodeId,
      ...(config.workerId !== undefined ? { workerId: config.workerId } : {}),
      random: (n) => random('cid', n),
      onRemoved: (conn, reason) => {
        releaseHandshake(this.state.flood, conn);
        connectionRemoved(this.state, conn, reason);
        this.state.storeHook?.removed(conn, reason);
      },
    });
    const trustAnchors = opts.trustAnchors ?? [];
    const trustAll = opts.trustAll ?? false;
    const stats = this.stats;
    const state: ConnectorState = {
      role: this.role,
      config,
      stats,
      detailStats: this.detailStats,
      store: this.store,
      env: {
        config,
        credentials: {
          pskStore: opts.pskStore === null ? undefined : (opts.pskStore ?? (this.role !== 'client' ? createPskStore() : undefined)),
          pskIdentity: opts.pskIdentity,
          pskSecret: opts.pskSecret,
          identities: opts.identities ?? [],
          trustAnchors,
          trustAll,
          verifyServerSubject: opts.verifyServerSubject ?? true,
        },
        now,
        random: (purpose, n) => random(purpose, n),
        validateChain: createChainValidator(trustAnchors, trustAll, now),
        parseRawPublicKey: createRawPublicKeyParser(),
        logger: opts.logger,
      },
      wheel: opts.wheel ?? new TimerWheel(10),
      now,
      cookie: opts.cookieGenerator ?? createCookieGenerator({ now }),
      flood: createFloodGuard(config, this.detailStats, opts.logger, now),
      transport,
      logger: opts.logger,
      ownCidLength: config.cidLength ?? 0,
      parseStats: createRecordParseStats(),
      outboundFilter: opts.outboundFilter,
      offeredSuites: opts.offeredCipherSuites ?? config.cipherSuites,
      sendDone: (err) => {
        if (err) stats['dropped sending records']++;
      },
      mtu: 1500,
      datagramSerial: 0,
      unverifiedResumptions: 0,
      waiters: new Map(),
      clientSessions: new Map(),
      onDatagram: () => {},
      forceFullHandshake: false,
      storeHook: undefined,
      deferSend: (address, port, data, onError) => deferSend(state, address, port, data, onError),
      deliverRecord: (conn, record) => protectedRecord(state, conn, record, conn.address, conn.port, conn.router),
    };
    this.state = state;
    transport.onDatagram = (data, address, port, router) => guardedReceive(state, data, address, port, router);
  }

  /** Application data of every authenticated record, with the DTLS session attributes in ctx.dtls. */
  get onDatagram(): (data: Buffer, ctx: EndpointContext) => void {
    return this.state.onDatagram;
  }

  set onDatagram(handler: (data: Buffer, ctx: EndpointContext) => void) {
    this.state.onDatagram = handler;
  }

  /** The shared connection store of a cluster node (issue 12): hears of established, checkpointed and removed connections. */
  get storeHook(): ConnectionStoreHook | undefined {
    return this.state.storeHook;
  }

  set storeHook(hook: ConnectionStoreHook | undefined) {
    this.state.storeHook = hook;
  }

  /** Client: the next connect()/send() handshakes are full handshakes (no resumption). */
  get forceFullHandshake(): boolean {
    return this.state.forceFullHandshake;
  }

  set forceFullHandshake(full: boolean) {
    this.state.forceFullHandshake = full;
  }

  /** Bound local port (valid after start). */
  get localPort(): number {
    return this.state.transport.localPort;
  }

  /** Effective MTU (dtls.md §9). */
  get maxTransmissionUnit(): number {
    return this.state.mtu;
  }

  /** Binds the socket and starts receiving. */
  start(): Promise<void> {
    this.state.mtu = detectMtu(this.localAddress, this.config.maxTransmissionUnit, this.config.maxTransmissionUnitLimit);
    return this.state.transport.start();
  }

  /** Stops receiving, cancels retransmissions and fails pending connects; the connection store is kept. */
  stop(): Promise<void> {
    const stopped = this.state.transport.stop();
    for (const conn of this.store.values()) {
      const hs = conn.handshake as Handshake | undefined;
      if (hs?.flight?.timer) hs.flight.timer.cancel();
      rejectWaiters(this.state, conn, STOPPED);
    }
    if (this.ownWheel) this.state.wheel.clear();
    stopFloodGuard(this.state.flood);
    return stopped;
  }

  /**
   * Test aid (client): moves to a new local socket (new ephemeral port), keeping all connections — a
   * NAT rebinding as seen by the server.
   */
  async rebind(): Promise<void> {
    const transport = this.state.transport;
    if (transport.rebind === undefined) throw new Error('the transport cannot rebind');
    await transport.rebind();
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

  /**
   * Restores established connections (graceful restart, restart.md §5): Connection objects read from a
   * restart stream, or the JSON form of saveConnections(). Returns the number restored. Rules:
   * - a connection of the other role is skipped (a `peer` connector takes both);
   * - a connection flagged double principal is restored only if it is not stale (idle less than
   *   DTLS.STALE_CONNECTION_THRESHOLD);
   * - two connections with the same peer address or the same CID (two loaded ones, or a loaded one and
   *   one already in the store): the one with the newer last activity stays (equal: the one loaded
   *   later, then the loaded one), the other is dropped entirely and logged (warn, CID and address);
   * - DTLS.MAX_CONNECTIONS: the newest connections are restored up to the limit, the rest is dropped
   *   (warn with the count); connections already in the store are not evicted to make room.
   * Restored connections enter the LRU order oldest first. `logger`: default the connector's.
   */
  loadConnections(items: readonly (Connection | ConnectionJson)[], logger: Logger | undefined = this.state.logger): number {
    const store = this.store;
    const now = this.state.now();
    const candidates: Connection[] = [];
    let wrongRole = 0;
    let staleDouble = 0;
    for (const item of items) {
      const conn = item instanceof Connection ? item : connectionFromJson(item);
      if (this.role !== 'peer' && conn.role !== this.role) wrongRole++;
      else if (conn.doublePrincipal && now - conn.lastActivity >= store.staleConnectionThreshold) staleDouble++;
      else candidates.push(conn);
    }
    // newest first (equal activity: the later item first): a conflict is always decided for the newer one
    const order = candidates.map((_, i) => i);
    order.sort((a, b) => candidates[b]!.lastActivity - candidates[a]!.lastActivity || b - a);
    const byAddress = new Map<string, Connection>();
    const byCid = new Map<number | string, Connection>();
    const accepted: Connection[] = [];
    const dropped: string[] = [];
    let conflicts = 0;
    const drop = (conn: Connection, reason: string): void => {
      conflicts++;
      if (dropped.length < MAX_LOGGED_DROPS) dropped.push(`CID ${cidText(conn)} at ${addressText(conn)}: ${reason}`);
    };
    let size = store.size;
    let overLimit = 0;
    for (const i of order) {
      const conn = candidates[i]!;
      const key = conn.usesReadCid ? cidKey(conn.readCid!) : undefined;
      const loaded = byAddress.get(conn.addressKey) ?? (key === undefined ? undefined : byCid.get(key));
      if (loaded !== undefined) {
        drop(conn, `${sameWhat(conn, loaded)} of a newer loaded connection (CID ${cidText(loaded)})`);
        continue;
      }
      // connections already in the store at its address or CID (at most two)
      let atAddress = store.getByAddress(conn.addressKey);
      if (atAddress === conn) atAddress = undefined;
      let atCid = key === undefined ? undefined : store.getByCid(conn.readCid!);
      if (atCid === conn || atCid === atAddress) atCid = undefined;
      if (atAddress !== undefined || atCid !== undefined) {
        const newer = atAddress !== undefined && atAddress.lastActivity > conn.lastActivity ? atAddress : atCid !== undefined && atCid.lastActivity > conn.lastActivity ? atCid : undefined;
        if (newer !== undefined) {
          drop(conn, `${sameWhat(conn, newer)} of a newer connection in the store (CID ${cidText(newer)})`);
          continue;
        }
      }
      const replaced = (atAddress !== undefined ? 1 : 0) + (atCid !== undefined ? 1 : 0);
      if (size - replaced >= store.maxConnections) {
        overLimit++;
        continue;
      }
      for (const old of [atAddress, atCid]) {
        if (old === undefined) continue;
        drop(old, `in the store, ${sameWhat(old, conn)} of a newer loaded connection (CID ${cidText(conn)})`);
        store.remove(old, 'replaced');
      }
      size -= replaced;
      byAddress.set(conn.addressKey, conn);
      if (key !== undefined) byCid.set(key, conn);
      accepted.push(conn);
      size++;
    }
    for (let i = accepted.length - 1; i >= 0; i--) store.restore(accepted[i]!);
    const hook = this.state.storeHook;
    if (hook !== undefined) for (const conn of accepted) hook.restored(conn);
    this.stats.connections = store.size;
    if (logger !== undefined) {
      for (const line of dropped) logger.warn(`load: dropped connection ${line}`);
      if (conflicts > dropped.length) logger.warn(`load: ${conflicts - dropped.length} more connection(s) dropped for address or CID conflicts`);
      if (overLimit > 0) logger.warn(`load: ${overLimit} connection(s) dropped: DTLS.MAX_CONNECTIONS ${store.maxConnections} reached (the newest were kept)`);
      if (staleDouble > 0) logger.warn(`load: ${staleDouble} stale double-principal connection(s) not restored`);
      if (wrongRole > 0) logger.warn(`load: ${wrongRole} connection(s) of the other role (not ${this.role}) skipped`);
    }
    return accepted.length;
  }

  /**
   * Processes one datagram as received from `address:port` (the transport's receive path, also used by
   * tests). `router`: the cluster node it came through (cluster.md §4.3): newest records mark the
   * connection as routed and its records go back through the transport with that router.
   */
  receiveDatagram(datagram: Buffer, address: string, port: number, router?: PeerAddress): void {
    guardedReceive(this.state, datagram, address, port, router);
  }

  /**
   * Sends one application record. Uses ctx.connection when it is a live connection (the session survives
   * address changes), else the connection at ctx's address. Server without connection: drop + onError;
   * client without connection: handshake first, message queued.
   */
  send(data: Buffer, ctx: EndpointContext, onError?: (err: Error) => void): void {
    sendApplication(this.state, data, ctx, onError);
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

  /** Client: handshakes with a server now (resumption if a session is known, unless `full`). */
  connect(address: string, port: number, opts: { full?: boolean } = {}): Promise<DtlsSessionInfo> {
    return connectClient(this.state, address, port, opts.full === true);
  }

  /** Client (or server): sends close_notify and removes the connection to a peer. */
  close(address: string, port: number): void {
    const key = peerKey(address, port);
    const conn = this.store.getByAddress(key);
    if (conn !== undefined) {
      sendAlert(this.state, conn, AlertLevel.WARNING, AlertDescription.CLOSE_NOTIFY, true);
      this.store.remove(conn, 'closed');
    }
    const hsConn = this.store.getHandshake(key);
    if (hsConn !== undefined) {
      sendAlert(this.state, hsConn, AlertLevel.WARNING, AlertDescription.CLOSE_NOTIFY, false);
      failHandshake(this.state, hsConn, undefined, 'closed');
    }
  }

  /** Client: forgets the session kept for resumption with a server. */
  forgetSession(address: string, port: number): void {
    forgetSession(this.state, address, port);
  }
}

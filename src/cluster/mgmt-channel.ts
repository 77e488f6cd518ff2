// The management channel of the dynamic and k8s modes (cluster.md §6.1): PING/PONG over plain UDP, or
// as application data of DTLS-PSK sessions between the nodes' management sockets, whose key expansion
// also yields the cluster MAC keys (§5).
import type { KeyObject } from 'node:crypto';
import type { Logger } from 'pino';
import { PRESELECTED_CIPHER_SUITES } from '../dtls/cipher-suites.js';
import { DEFAULT_DTLS_CONFIG, type DtlsConfig } from '../dtls/config.js';
import type { Connection } from '../dtls/connection.js';
import { DtlsConnector } from '../dtls/connector.js';
import type { PeerAddress } from '../transport/connector.js';
import type { DatagramHandler, DatagramTransport, SendDone } from '../transport/datagram.js';
import { clusterMacKeys, type ClusterMacKeys } from './mac.js';

/** Sends a raw datagram from the management socket. */
export type MgmtSend = (data: Buffer, to: PeerAddress, done: SendDone) => void;

/** The MAC keys for packets to and from one other node. */
export interface MacKeyPair {
  write: KeyObject;
  read: KeyObject;
}

/** Carries PING/PONG messages between nodes. */
export interface MgmtChannel {
  /** `mgmt-udp`, `mgmt-dtls` (the reference's names) */
  readonly name: string;
  /** management messages are encrypted (a cluster MAC is possible) */
  readonly secure: boolean;
  /** a datagram received on the management socket that is no forwarded/backwarded record */
  receive(data: Buffer, from: PeerAddress): void;
  /** a decrypted (or plain) management message; set by the manager */
  onMessage: (data: Buffer, from: PeerAddress) => void;
  /** sends a message; `fresh` forces a new handshake first (discovery of an address not yet known) */
  send(data: Buffer, to: PeerAddress, fresh: boolean): void;
  /** MAC keys of the session with a node's management address (secure channels only) */
  macKeys(peer: PeerAddress): MacKeyPair | undefined;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** The plain UDP channel ("mgmt-udp"). */
export function createPlainChannel(send: MgmtSend, onSendError: () => void): MgmtChannel {
  const done: SendDone = (err) => {
    if (err) onSendError();
  };
  const channel: MgmtChannel = {
    name: 'mgmt-udp',
    secure: false,
    receive: (data, from) => channel.onMessage(data, from),
    onMessage: () => {},
    send: (data, to) => send(data, to, done),
    macKeys: () => undefined,
    start: () => Promise.resolve(),
    stop: () => Promise.resolve(),
  };
  return channel;
}

/** Settings of the DTLS management channel. */
export interface DtlsChannelOptions {
  /** the management socket's bound address and port (read after it started) */
  localAddress: string;
  localPort: () => number;
  send: MgmtSend;
  /** PSK identity and secret of the management sessions */
  identity: string;
  secret: Buffer;
  /** own node-id (management CIDs carry it too) */
  nodeId: number;
  /** cipher suites of the node's DTLS endpoint; the PSK ones are used (expected: TLS_PSK_WITH_AES_128_CCM_8) */
  suites?: DtlsConfig['cipherSuites'];
  logger?: Logger;
}

/** Management DTLS settings (cluster.md §6.1): 500 ms, 3 retransmissions, no backoff, 1024 connections. */
export function mgmtDtlsConfig(nodeId: number, suites: DtlsConfig['cipherSuites'] | undefined): DtlsConfig {
  const plainPsk = (list: DtlsConfig['cipherSuites']) => list.filter((s) => s.keyExchange === 'PSK');
  const psk = plainPsk(suites ?? PRESELECTED_CIPHER_SUITES);
  return {
    ...DEFAULT_DTLS_CONFIG,
    cidLength: 6,
    nodeId,
    cipherSuites: psk.length > 0 ? psk : plainPsk(PRESELECTED_CIPHER_SUITES),
    retransmissionTimeout: 500,
    maxRetransmissions: 3,
    retransmissionTimeoutScale: 1,
    retransmissionInitRandom: 1,
    additionalEccTimeout: 0,
    maxConnections: 1024,
    receiveBufferSize: undefined,
    sendBufferSize: undefined,
  };
}

/** The DTLS-PSK channel ("mgmt-dtls"): one connector in the peer role on the management socket. */
export function createDtlsChannel(o: DtlsChannelOptions): MgmtChannel & { readonly connector: DtlsConnector } {
  let running = false;
  // the connector's view of the management socket: receives what the channel hands it, sends raw
  const transport: DatagramTransport = {
    localAddress: o.localAddress,
    get localPort() {
      return o.localPort();
    },
    get running() {
      return running;
    },
    onDatagram: (() => {}) as DatagramHandler,
    start: () => {
      running = true;
      return Promise.resolve();
    },
    stop: () => {
      running = false;
      return Promise.resolve();
    },
    send: (data, address, port, _router, done) => o.send(data, { address, port }, done),
  };
  const secret = Buffer.from(o.secret);
  const connector = new DtlsConnector({
    address: o.localAddress,
    port: 0,
    role: 'peer',
    config: mgmtDtlsConfig(o.nodeId, o.suites),
    pskStore: { lookup: (identity) => (identity === o.identity ? Buffer.from(secret) : undefined) },
    pskIdentity: o.identity,
    pskSecret: secret,
    transport,
    ...(o.logger ? { logger: o.logger } : {}),
  });
  const keys = new WeakMap<Connection, ClusterMacKeys>();
  const ignore = (): void => {};
  const channel = {
    name: 'mgmt-dtls',
    secure: true,
    connector,
    receive: (data: Buffer, from: PeerAddress) => transport.onDatagram(data, from.address, from.port, undefined),
    onMessage: (_data: Buffer, _from: PeerAddress) => {},
    send(data: Buffer, to: PeerAddress, fresh: boolean): void {
      if (fresh) connector.close(to.address, to.port);
      connector.send(data, { address: to.address, port: to.port }, ignore);
    },
    macKeys(peer: PeerAddress): MacKeyPair | undefined {
      const conn = connector.getConnection(peer.address, peer.port);
      if (conn === undefined || conn.session === undefined || conn.clientRandom === undefined || conn.serverRandom === undefined) return undefined;
      let k = keys.get(conn);
      if (k === undefined) {
        k = clusterMacKeys(conn.session.masterSecret, conn.clientRandom, conn.serverRandom, conn.session.cipherSuite);
        keys.set(conn, k);
      }
      // the node that initiated the handshake writes with the client key (cluster.md §5)
      return conn.role === 'client' ? { write: k.client, read: k.server } : { write: k.server, read: k.client };
    },
    start: () => connector.start(),
    stop: () => connector.stop(),
  };
  connector.onDatagram = (data, ctx) => channel.onMessage(data, { address: ctx.address, port: ctx.port });
  return channel;
}

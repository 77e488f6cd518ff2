// The receive path of a DTLS connector: parses a datagram into records and routes each one by CID
// (RFC 9146 tls12_cid records), then by peer address, to the ClientHello handling, the handshake driver or
// the established connection (the application record hot path: no promise, closure or timer per record).
// The one place a datagram "from client A via router R" enters (cluster.md §4.3).
import { peerKey, type PeerAddress } from '../transport/connector.js';
import { recordInfo, type Connection } from './connection.js';
import { dropRecord, type ConnectorState } from './connector-state.js';
import { AlertDescription, AlertLevel } from './handshake/alert.js';
import { HandshakeType } from './handshake/constants.js';
import { decodeHandshakeFragments } from './handshake/header.js';
import { handshakeRecord, resendLastFlight } from './handshake-driver.js';
import { releaseHandshakeLeftovers } from './handshake-end.js';
import { isClientHelloRecord } from './hello-verify.js';
import { peerAlert } from './peer-alert.js';
import { ContentType, parseDatagram, type DtlsRecord } from './record.js';
import { sendAlert } from './record-sender.js';
import { accept, isDuplicate } from './replay-window.js';
import { clientHello } from './server-hello.js';

/**
 * Processes one datagram as received from `address:port`. `router`: the cluster node it came through
 * (cluster.md §4.3): newest records mark the connection as routed and its records go back through the
 * transport with that router.
 */
export function receiveDatagram(state: ConnectorState, datagram: Buffer, address: string, port: number, router: PeerAddress | undefined): void {
  state.datagramSerial++;
  const parse = state.parseStats;
  const malformedBefore = parse.malformed + parse.unknownType;
  const records = parseDatagram(datagram, state.ownCidLength, parse);
  const malformed = parse.malformed + parse.unknownType - malformedBefore;
  if (malformed > 0) {
    state.stats['received records'] += malformed;
    state.stats['dropped received records'] += malformed;
    state.detailStats.malformedRecords += malformed;
  }
  let key: string | undefined;
  for (let i = 0; i < records.length; i++) {
    const record = records[i]!;
    state.stats['received records']++;
    if (record.type === ContentType.TLS12_CID) {
      const conn = state.store.getByCid(record.cid!);
      if (conn === undefined) {
        dropRecord(state);
        state.detailStats.unknownConnection++;
      } else if (conn.handshake !== undefined) {
        handshakeRecord(state, conn, record);
      } else {
        protectedRecord(state, conn, record, address, port, router);
      }
      continue;
    }
    if (key === undefined) key = peerKey(address, port);
    if (record.epoch === 0) {
      plainRecord(state, record, address, port, key);
      continue;
    }
    if (record.type === ContentType.APPLICATION_DATA) {
      const conn = state.store.getByAddress(key);
      if (conn !== undefined) protectedRecord(state, conn, record, address, port, router);
      else {
        // application data that overtook the Finished of a running handshake (kept for its completion)
        const hsConn = state.store.getHandshake(key);
        if (hsConn !== undefined && hsConn.handshake !== undefined) handshakeRecord(state, hsConn, record);
        else unknownRecord(state);
      }
      continue;
    }
    const hsConn = state.store.getHandshake(key);
    if (hsConn !== undefined && hsConn.handshake !== undefined) {
      handshakeRecord(state, hsConn, record);
      continue;
    }
    const conn = state.store.getByAddress(key);
    if (conn !== undefined) protectedRecord(state, conn, record, address, port, router);
    else unknownRecord(state);
  }
}

/** Counts a record for which no connection exists. */
function unknownRecord(state: ConnectorState): void {
  state.stats['dropped received records']++;
  state.detailStats.unknownConnection++;
}

/** Epoch-0 records: ClientHello (stateless cookie exchange), handshake records of running handshakes. */
function plainRecord(state: ConnectorState, record: DtlsRecord, address: string, port: number, key: string): void {
  if (record.type === ContentType.HANDSHAKE && isClientHelloRecord(record)) {
    if (state.role !== 'client') clientHello(state, record, address, port, key);
    else dropRecord(state);
    return;
  }
  const hsConn = state.store.getHandshake(key);
  if (hsConn !== undefined && hsConn.handshake !== undefined) {
    handshakeRecord(state, hsConn, record);
    return;
  }
  // the peer retransmits its last flight: our last flight got lost (RFC 6347 §4.2.4)
  const conn = state.store.getByAddress(key);
  if (conn !== undefined && conn.hasLastFlight && record.type === ContentType.HANDSHAKE) {
    resendLastFlight(state, conn);
    return;
  }
  unknownRecord(state);
}

/** Application records (and alerts / handshake records) of an established connection: the hot path. */
export function protectedRecord(state: ConnectorState, conn: Connection, record: DtlsRecord, address: string, port: number, router: PeerAddress | undefined): void {
  const now = state.now();
  const epoch = conn.epoch;
  if (epoch === undefined || conn.closed || record.epoch !== 1) {
    dropRecord(state);
    return;
  }
  // RFC 9146: with a non-empty read CID every protected record carries it
  if (conn.usesReadCid !== (record.type === ContentType.TLS12_CID)) {
    dropRecord(state);
    return;
  }
  if (conn.macFilterUntil !== 0 && conn.macFiltered(now)) {
    dropRecord(state);
    state.detailStats.macFilterDrops++;
    return;
  }
  const config = state.config;
  const window = epoch.window;
  if (config.useAntiReplayFilter && isDuplicate(window, record.seq)) {
    dropRecord(state);
    state.detailStats.replayed++;
    return;
  }
  const plain = conn.protection!.decrypt(record);
  if (plain === undefined) {
    state.stats['dropped received mac-errors']++;
    conn.macError(now, config.macErrorFilterThreshold, config.macErrorFilterQuietTime);
    return;
  }
  const newest = accept(window, record.seq);
  state.store.touch(conn, now);
  let prev: PeerAddress | undefined;
  if (newest) {
    if ((conn.port !== port || conn.address !== address) && record.type === ContentType.TLS12_CID && config.updateAddressUsingCidOnNewerRecords) {
      prev = { address: conn.address, port: conn.port };
      state.store.updateAddress(conn, address, port);
    }
    if (router !== conn.router && (router === undefined || conn.router === undefined || router.address !== conn.router.address || router.port !== conn.router.port)) {
      conn.router = router;
    }
  }
  switch (plain.type) {
    case ContentType.APPLICATION_DATA: {
      if (conn.keepsLeftovers && (conn.hasLastFlight || state.role !== 'peer')) releaseHandshakeLeftovers(state, conn);
      if (config.useNewerFilter && !newest) {
        dropRecord(state);
        return;
      }
      state.onDatagram(plain.plaintext, {
        address,
        port,
        dtls: recordInfo(conn, config.nodeId, record.epoch, record.seq, newest, prev, conn.router !== undefined),
        connection: conn,
        router,
      });
      return;
    }
    case ContentType.ALERT:
      peerAlert(state, conn, plain.plaintext);
      return;
    case ContentType.HANDSHAKE:
      handshakeOnEstablished(state, conn, plain.plaintext);
      return;
    default:
      return;
  }
}

/** An authenticated handshake record on an established connection. */
function handshakeOnEstablished(state: ConnectorState, conn: Connection, content: Buffer): void {
  const frags = decodeHandshakeFragments(content);
  if (!frags.ok || frags.value.length === 0) return;
  const type = frags.value[0]!.header.msgType;
  if (type === HandshakeType.CLIENT_HELLO || type === HandshakeType.HELLO_REQUEST) {
    // renegotiation is never performed (dtls.md §1)
    sendAlert(state, conn, AlertLevel.WARNING, AlertDescription.NO_RENEGOTIATION, true);
    return;
  }
  if (conn.hasLastFlight) resendLastFlight(state, conn);
}

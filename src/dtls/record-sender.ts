// The sending side of a DTLS connector: sealing records (epoch 0 plain, epoch 1 protected), packing flights
// into datagrams, alerts, application records (the send hot path: no promise, closure or timer per record),
// and the one exit to the datagram transport.
import { peerKey, type EndpointContext, type PeerAddress } from '../transport/connector.js';
import { Connection } from './connection.js';
import { STOPPED, type ConnectorState, type Handshake } from './connector-state.js';
import { takeSequenceNumber, type EpochState } from './epoch-state.js';
import { packFlight, type FlightEntry, type RecordSealer } from './flight.js';
import { encodeAlert } from './handshake/alert.js';
import { ContentType, DTLS_1_2, encodeRecord } from './record.js';
import type { RecordProtection } from './record-protection.js';
import { sessionRecordPlaintextLimit, type Session } from './session.js';

/** Sends (or resends) the entries of a running handshake's flight, with its pending keys for epoch 1. */
export function sendEntries(state: ConnectorState, conn: Connection, hs: Handshake, entries: readonly FlightEntry[]): void {
  let limit = 16384;
  if (hs.maxFragmentLength !== undefined && hs.maxFragmentLength < limit) limit = hs.maxFragmentLength;
  if (hs.peerRecordSizeLimit !== undefined && hs.peerRecordSizeLimit < limit) limit = hs.peerRecordSizeLimit;
  const pending = hs.pending;
  const sealer = createSealer(state, conn, pending?.state, pending?.protection, hs.writeCid);
  for (const d of packFlight(entries, maxDatagramSize(state, conn), limit, sealer)) sendDatagram(state, conn, d);
}

/** Sends a flight with the keys of an established session (the final flight and its resends). */
export function sendFlight(
  state: ConnectorState,
  conn: Connection,
  entries: readonly FlightEntry[],
  epochState: EpochState,
  protection: RecordProtection,
  writeCid: Buffer | undefined,
  session: Session,
): void {
  const sealer = createSealer(state, conn, epochState, protection, writeCid);
  for (const d of packFlight(entries, maxDatagramSize(state, conn), sessionRecordPlaintextLimit(session), sealer)) sendDatagram(state, conn, d);
}

/** Seals flight records: epoch 0 with the connection's plain sequence numbers, epoch 1 with the given keys. */
function createSealer(
  state: ConnectorState,
  conn: Connection,
  epochState: EpochState | undefined,
  protection: RecordProtection | undefined,
  writeCid: Buffer | undefined,
): RecordSealer {
  const cidLength = writeCid?.length ?? 0;
  return {
    overhead: (epoch) => (epoch === 0 ? 13 : 13 + cidLength + (cidLength > 0 ? 1 : 0) + protection!.suite.maxExpansion),
    seal: (type, epoch, plaintext) => {
      state.stats['sending records']++;
      if (epoch === 0) return encodeRecord(type, DTLS_1_2, 0, conn.seq0++, plaintext);
      return protection!.encryptRecord(type, epoch, takeSequenceNumber(epochState!)!, plaintext, writeCid);
    },
  };
}

/** Largest datagram for a peer: MTU − IP and UDP headers. */
function maxDatagramSize(state: ConnectorState, conn: Connection): number {
  return state.mtu - (conn.address.includes(':') ? 48 : 28);
}

/** Sends an alert (RFC 5246 §7.2): protected in epoch 1 when asked and keys exist, else a plain epoch-0 record. */
export function sendAlert(state: ConnectorState, conn: Connection, level: number, description: number, protectedAlert: boolean): void {
  const body = encodeAlert({ level: level as 1 | 2, description });
  let record: Buffer;
  if (protectedAlert && conn.epoch !== undefined && conn.protection !== undefined) {
    const seq = writeSequenceNumber(state, conn);
    if (seq === undefined) return;
    record = conn.protection.encryptRecord(ContentType.ALERT, 1, seq, body, conn.writeCid);
  } else {
    record = encodeRecord(ContentType.ALERT, DTLS_1_2, 0, conn.seq0++, body);
  }
  state.detailStats.alertsSent++;
  state.stats['sending records']++;
  sendDatagram(state, conn, record);
}

/**
 * The next epoch-1 write sequence number of an established connection; undefined when the 48-bit space is exhausted or
 * the shared connection store refuses it (issue 12: never beyond the limit another node would start from after a
 * takeover, so no AEAD nonce is used twice, RFC 5116 §5.1 / RFC 6347 §4.1).
 */
function writeSequenceNumber(state: ConnectorState, conn: Connection): number | undefined {
  if (conn.storeMark >= 0 && conn.nextSeq >= conn.storeMark && state.storeHook !== undefined && !state.storeHook.writeMark(conn)) return undefined;
  return takeSequenceNumber(conn.epoch!);
}

/** Sends a datagram to a connection's peer (through the cluster router its newest record came through). */
function sendDatagram(state: ConnectorState, conn: Connection, datagram: Buffer): void {
  sendRaw(state, datagram, conn.address, conn.port, conn.router);
}

/** The one exit to the transport (dropped while stopped or when the test filter says so). */
export function sendRaw(state: ConnectorState, datagram: Buffer, address: string, port: number, router?: PeerAddress): void {
  if (!state.transport.running) return;
  if (state.outboundFilter !== undefined && !state.outboundFilter(datagram, address, port)) return;
  state.transport.send(datagram, address, port, router, state.sendDone);
}

/**
 * Sends one application record. Uses ctx.connection when it is a live connection (the session survives
 * address changes), else the connection at ctx's address. Server without connection: drop + onError;
 * client without connection: handshake first, message queued (state.deferSend).
 */
export function sendApplication(state: ConnectorState, data: Buffer, ctx: EndpointContext, onError?: (err: Error) => void): void {
  if (!state.transport.running) {
    onError?.(STOPPED);
    return;
  }
  let conn = ctx.connection instanceof Connection ? ctx.connection : undefined;
  if (conn === undefined || conn.closed || !conn.established) conn = state.store.getByAddress(peerKey(ctx.address, ctx.port));
  if (conn === undefined || conn.closed || !conn.established) {
    if (state.role !== 'server') {
      state.deferSend(ctx.address, ctx.port, data, onError);
      return;
    }
    state.stats['dropped sending records']++;
    onError?.(new Error(`no DTLS connection to ${peerKey(ctx.address, ctx.port)}`));
    return;
  }
  const session = conn.session!;
  if (data.length > sessionRecordPlaintextLimit(session)) {
    state.stats['dropped sending records']++;
    onError?.(new Error(`message of ${data.length} bytes exceeds the record limit`));
    return;
  }
  const seq = writeSequenceNumber(state, conn);
  if (seq === undefined) {
    state.stats['dropped sending records']++;
    onError?.(new Error('record sequence numbers exhausted'));
    return;
  }
  const record = conn.protection!.encryptRecord(ContentType.APPLICATION_DATA, 1, seq, data, conn.writeCid);
  state.stats['sending records']++;
  conn.lastActivity = state.now();
  sendDatagram(state, conn, record);
}

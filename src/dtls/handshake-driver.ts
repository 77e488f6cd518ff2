// The driver of the pure handshake functions (handshake-server.ts, handshake-client.ts): feeds them the
// records of a running handshake (epoch 0 plain, epoch 1 with the pending keys), reassembles messages,
// executes their outcomes as flights on the timer wheel, and retransmits (RFC 6347 §4.2.4).
import type { Connection } from './connection.js';
import { dropRecord, type ConnectorState, type Handshake } from './connector-state.js';
import { backOff, createOutgoingFlight, currentWait } from './flight.js';
import { AlertDescription } from './handshake/alert.js';
import { HandshakeType } from './handshake/constants.js';
import { decodeHandshakeFragments } from './handshake/header.js';
import { clientReceive } from './handshake-client.js';
import type { HandshakeOutcome } from './handshake-common.js';
import { completeHandshake, failHandshake } from './handshake-end.js';
import { serverReceive } from './handshake-server.js';
import { peerAlert } from './peer-alert.js';
import { ContentType, type DtlsRecord } from './record.js';
import { accept, isDuplicate } from './replay-window.js';
import { sendEntries, sendFlight } from './record-sender.js';

/** A record of a connection whose handshake runs (epoch 0 plain, epoch 1 with the pending keys). */
export function handshakeRecord(state: ConnectorState, conn: Connection, record: DtlsRecord): void {
  const hs = conn.handshake as Handshake;
  let type = record.type;
  let content = record.fragment;
  if (record.epoch > 0) {
    const pending = hs.pending;
    if (pending === undefined) {
      // keys not there yet (reordered datagrams): keep a few records
      if (hs.deferred.length < Math.min(8, state.config.maxDeferredInboundRecords)) hs.deferred.push(record);
      else dropRecord(state);
      return;
    }
    if (record.epoch !== 1 || isDuplicate(pending.state.window, record.seq)) {
      dropRecord(state);
      return;
    }
    const plain = pending.protection.decrypt(record);
    if (plain === undefined) {
      state.stats['dropped received mac-errors']++;
      // the peer derived other keys (e.g. another PSK secret): the handshake cannot succeed
      failHandshake(state, conn, AlertDescription.BAD_RECORD_MAC, 'cannot authenticate the peer Finished');
      return;
    }
    accept(pending.state.window, record.seq);
    type = plain.type;
    content = plain.plaintext;
  }
  switch (type) {
    case ContentType.HANDSHAKE:
      handshakeContent(state, conn, hs, content, record.epoch);
      return;
    case ContentType.ALERT:
      peerAlert(state, conn, content);
      return;
    case ContentType.CHANGE_CIPHER_SPEC:
      // RFC 5246 §7.1: the message is the single byte 1; anything else is discarded (RFC 6347 §4.1.2.7).
      // The epoch switch itself is implied by the epoch-1 records that follow (the Finished authenticates it).
      if (content.length !== 1 || content[0] !== 1) dropRecord(state);
      return;
    default:
      dropRecord(state);
  }
}

/** Handshake fragments of one record: reassembled, each complete message handed to the handshake functions. */
function handshakeContent(state: ConnectorState, conn: Connection, hs: Handshake, content: Buffer, epoch: number): void {
  const frags = decodeHandshakeFragments(content);
  if (!frags.ok) {
    if (epoch > 0) failHandshake(state, conn, frags.alert, frags.reason);
    else dropRecord(state);
    return;
  }
  let old = false;
  for (const f of frags.value) {
    // Finished only in epoch 1, everything else only in epoch 0
    if ((f.header.msgType === HandshakeType.FINISHED) !== epoch > 0) continue;
    const status = hs.reassembler.push(f);
    if (status.status === 'old') old = true;
    else if (status.status === 'error') {
      failHandshake(state, conn, status.alert, status.reason);
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
      outcome = hs.role === 'server' ? serverReceive(state.env, hs, msg) : clientReceive(state.env, hs, msg);
    } catch (err) {
      // a bug must not take the socket down: end this handshake only
      outcome = { kind: 'fail', alert: AlertDescription.INTERNAL_ERROR, reason: `internal error: ${(err as Error).message}` };
    }
    if (!applyOutcome(state, conn, hs, outcome)) return;
  }
  if (old && !progressed) peerRetransmitted(state, conn, hs);
  if (hs.pending !== undefined && hs.deferred.length > 0 && conn.handshake === hs) {
    const deferred = hs.deferred;
    hs.deferred = [];
    for (const r of deferred) {
      if (conn.handshake !== hs) break;
      handshakeRecord(state, conn, r);
    }
  }
}

/** Executes a handshake outcome; false when the handshake ended (completed or failed). */
export function applyOutcome(state: ConnectorState, conn: Connection, hs: Handshake, outcome: HandshakeOutcome): boolean {
  switch (outcome.kind) {
    case 'wait':
      return true;
    case 'flight': {
      hs.flight?.timer?.cancel();
      hs.state = 'sending';
      const flight = createOutgoingFlight(outcome.entries, outcome.ecc, state.config);
      hs.flight = flight;
      sendEntries(state, conn, hs, flight.entries);
      flight.timer = state.wheel.schedule(currentWait(flight, state.config), () => flightTimeout(state, conn, hs));
      hs.state = 'waiting';
      return true;
    }
    case 'complete':
      completeHandshake(state, conn, hs, outcome.finalFlight);
      return false;
    case 'fail':
      failHandshake(state, conn, outcome.alert, outcome.reason);
      return false;
  }
}

/** No answer to our flight in time: retransmit with back-off, or give up (RFC 6347 §4.2.4.1). */
function flightTimeout(state: ConnectorState, conn: Connection, hs: Handshake): void {
  const flight = hs.flight;
  if (conn.handshake !== hs || conn.closed || flight === undefined || !state.transport.running) return;
  if (!backOff(flight, state.config)) {
    failHandshake(state, conn, undefined, 'handshake timeout');
    return;
  }
  state.detailStats.retransmissions++;
  sendEntries(state, conn, hs, flight.entries);
  flight.timer = state.wheel.schedule(currentWait(flight, state.config), () => flightTimeout(state, conn, hs));
}

/** The peer retransmitted its previous flight: resend ours once per datagram (RFC 6347 §4.2.4). */
export function peerRetransmitted(state: ConnectorState, conn: Connection, hs: Handshake): void {
  if (hs.flight === undefined || hs.peerRetransmitSerial === state.datagramSerial) return;
  hs.peerRetransmitSerial = state.datagramSerial;
  state.detailStats.retransmissions++;
  sendEntries(state, conn, hs, hs.flight.entries);
}

/** The peer retransmitted its last flight after we completed: resend our final flight once per datagram (RFC 6347 §4.2.4). */
export function resendLastFlight(state: ConnectorState, conn: Connection): void {
  if (conn.lastFlight === undefined || conn.epoch === undefined) return;
  if (conn.resendSerial === state.datagramSerial) return;
  conn.resendSerial = state.datagramSerial;
  state.detailStats.retransmissions++;
  sendFlight(state, conn, conn.lastFlight, conn.epoch, conn.protection!, conn.writeCid, conn.session!);
}

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

/**
 * Keeps a record of a running handshake for later (epoch-1 records before the peer's CCS, application
 * data that overtook the Finished), or drops and counts it. DTLS.MAX_DEFERRED_INBOUND_RECORDS is, as in
 * Californium (DTLS_MAX_DEFERRED_INBOUND_RECORDS_SIZE), the bytes of all records deferred by one handshake
 * (record header + fragment). The kept record gets its own copy of its bytes, so it does not hold the
 * whole datagram it arrived in.
 */
function keepDeferred(state: ConnectorState, hs: Handshake, list: DtlsRecord[], record: DtlsRecord): void {
  let bytes = record.headerLength + record.fragment.length;
  for (const r of hs.deferred) bytes += r.headerLength + r.fragment.length;
  for (const r of hs.earlyData) bytes += r.headerLength + r.fragment.length;
  if (bytes > state.config.maxDeferredInboundRecords) {
    dropRecord(state);
    return;
  }
  list.push({ ...record, fragment: Buffer.from(record.fragment), cid: record.cid && Buffer.from(record.cid) });
}

/**
 * A record of a connection whose handshake runs, in the order of the handshake state machine:
 * - epoch 0: handshake messages (reassembled), alerts, and the peer's ChangeCipherSpec, accepted only
 *   when the peer's Finished is next (RFC 5246 §7.4.9); an early or repeated CCS is discarded;
 * - epoch 1 is read only after the peer's CCS (RFC 6347 §4.1): earlier records are kept (bounded) and
 *   replayed on the CCS; records that fail authentication are discarded and counted in every state
 *   (RFC 6347 §4.1.2.7), so a forged record cannot end a handshake; application data that overtakes
 *   the Finished is kept (bounded) and delivered once the handshake completes.
 */
export function handshakeRecord(state: ConnectorState, conn: Connection, record: DtlsRecord): void {
  const hs = conn.handshake as Handshake;
  let type = record.type;
  let content = record.fragment;
  if (record.epoch > 0) {
    const pending = hs.pending;
    if (record.epoch !== 1) {
      dropRecord(state);
      return;
    }
    if (pending === undefined || !hs.peerCcs) {
      // the read epoch is still 0 (keys not there yet, or no CCS yet): keep a few records for the switch
      keepDeferred(state, hs, hs.deferred, record);
      return;
    }
    if (isDuplicate(pending.state.window, record.seq)) {
      dropRecord(state);
      return;
    }
    const plain = pending.protection.decrypt(record);
    if (plain === undefined) {
      // forged, or the peer derived other keys (another PSK secret): discarded either way; the replay
      // window is not touched (RFC 6347 §4.1.2.6), so the genuine record with that number still counts
      state.stats['dropped received mac-errors']++;
      hs.macErrors++;
      if (state.config.pskFailureAlert === 'DECRYPT_ERROR' && hs.ccsSerial === state.datagramSerial) {
        // opt-in: a Finished that arrived with its CCS and cannot be authenticated (wrong or unknown PSK)
        failHandshake(state, conn, AlertDescription.DECRYPT_ERROR, handshakeMacFailure(hs));
      }
      return;
    }
    if (plain.type === ContentType.APPLICATION_DATA) {
      // overtook the Finished: kept undecided (its number stays free) and delivered after completion
      keepDeferred(state, hs, hs.earlyData, record);
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
      changeCipherSpec(state, conn, hs, content, record.epoch);
      return;
    default:
      dropRecord(state);
  }
}

/**
 * The peer's ChangeCipherSpec (RFC 5246 §7.1: the single byte 1): switches the read epoch to 1 when the
 * peer's Finished is the next message, then replays the epoch-1 records kept so far. Anything else
 * (a CCS before the key exchange, a second CCS, another value) is discarded: a spoofed CCS must not end
 * the handshake, and a client that really sent it early never completes (it has no Finished to follow).
 */
function changeCipherSpec(state: ConnectorState, conn: Connection, hs: Handshake, content: Buffer, epoch: number): void {
  if (content.length !== 1 || content[0] !== 1 || epoch !== 0 || hs.peerCcs || hs.pending === undefined || hs.expect !== 'finished') {
    dropRecord(state);
    return;
  }
  hs.peerCcs = true;
  hs.ccsSerial = state.datagramSerial;
  replayDeferred(state, conn, hs);
}

/** Processes the epoch-1 records kept before the read epoch switched (while the handshake still runs). */
function replayDeferred(state: ConnectorState, conn: Connection, hs: Handshake): void {
  if (hs.deferred.length === 0 || !hs.peerCcs) return;
  const deferred = hs.deferred;
  hs.deferred = [];
  for (const r of deferred) {
    if (conn.handshake !== hs) break;
    handshakeRecord(state, conn, r);
  }
}

/** Log reason of a handshake whose Finished could not be authenticated. */
function handshakeMacFailure(hs: Handshake): string {
  const unknown = hs.role === 'server' ? hs.unknownIdentity : undefined;
  return unknown !== undefined ? `unknown PSK identity '${unknown}'` : 'cannot authenticate the peer Finished (wrong PSK secret?)';
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
    // Finished only in epoch 1 (after the CCS), everything else only in epoch 0 (RFC 5246 §7.4.9)
    if ((f.header.msgType === HandshakeType.FINISHED) !== epoch > 0) {
      if (f.header.messageSeq < hs.reassembler.nextSeq) {
        old = true;
        continue;
      }
      failHandshake(state, conn, AlertDescription.UNEXPECTED_MESSAGE, `handshake message ${f.header.msgType} in epoch ${epoch}`);
      return;
    }
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

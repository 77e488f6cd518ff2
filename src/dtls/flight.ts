// Outgoing handshake flights (RFC 6347 §4.2.4): the messages of a flight, packing them into as few
// datagrams as the MTU allows (several records per datagram, RFC 6347 §4.1.1), fragmenting messages that
// do not fit (RFC 6347 §4.2.3), and the retransmission back-off (config.md §3, dtls.md §8).
import type { DtlsConfig } from './config.js';
import type { TimerHandle } from '../util/timer-wheel.js';
import { encodeChangeCipherSpec } from './handshake/change-cipher-spec.js';
import { HANDSHAKE_HEADER_LENGTH, writeHandshakeHeader, type HandshakeMessage } from './handshake/header.js';
import { ContentType } from './record.js';

/** One element of a flight: a handshake message or a ChangeCipherSpec, with the epoch it is sent in. */
export type FlightEntry =
  | {
      kind: 'handshake';
      epoch: number;
      msg: HandshakeMessage;
      /** the message in its full-header form (RFC 6347 §4.2.6), when already encoded (for the transcript) */
      full?: Buffer;
    }
  | { kind: 'ccs'; epoch: number };

/** Turns record plaintext into complete records (sequence numbers taken at sealing time). */
export interface RecordSealer {
  /** bytes a record of `epoch` adds to its plaintext: header, CID, inner type, cipher expansion */
  overhead(epoch: number): number;
  /** a complete record of `type` in `epoch` with the epoch's next sequence number */
  seal(type: number, epoch: number, plaintext: Buffer): Buffer;
}

/** A flight being sent and retransmitted. */
export interface OutgoingFlight {
  entries: FlightEntry[];
  /** the peer needs ECC work to answer: first timeout + additionalEccTimeout */
  ecc: boolean;
  /** retransmissions done so far */
  tries: number;
  /** base timeout of the current wait (ms, without the ECC addition) */
  timeout: number;
  timer: TimerHandle | undefined;
}

/** Smallest fragment worth putting into the rest of a datagram before starting a new one. */
const MIN_FRAGMENT = 64;

/**
 * Packs a flight into datagrams of at most `maxDatagram` bytes, each record's plaintext at most
 * `maxPlaintext` bytes. Messages are kept whole when they fit, else fragmented, filling the current
 * datagram first. Records are sealed in order, so sequence numbers are fresh on every call (retransmissions
 * use new record sequence numbers, RFC 6347 §4.2.4).
 */
export function packFlight(entries: readonly FlightEntry[], maxDatagram: number, maxPlaintext: number, sealer: RecordSealer): Buffer[] {
  const p: Packer = { datagrams: [], current: [], used: 0, maxDatagram };
  for (const entry of entries) {
    if (entry.kind === 'ccs') {
      add(p, sealer.seal(ContentType.CHANGE_CIPHER_SPEC, entry.epoch, encodeChangeCipherSpec()));
      continue;
    }
    const { msg, epoch } = entry;
    const overhead = sealer.overhead(epoch);
    const body = msg.body;
    const full = HANDSHAKE_HEADER_LENGTH + body.length;
    if (full <= maxPlaintext && overhead + full <= maxDatagram) {
      if (p.used + overhead + full > maxDatagram) flush(p);
      add(p, sealer.seal(ContentType.HANDSHAKE, epoch, entry.full ?? fragmentBytes(msg, 0, body.length)));
      continue;
    }
    const perRecord = Math.min(maxPlaintext, maxDatagram - overhead) - HANDSHAKE_HEADER_LENGTH;
    if (perRecord < 1) throw new RangeError(`datagram size ${maxDatagram} too small for a handshake fragment`);
    let offset = 0;
    while (offset < body.length) {
      let room = Math.min(maxDatagram - p.used - overhead, maxPlaintext) - HANDSHAKE_HEADER_LENGTH;
      if (room < MIN_FRAGMENT && room < body.length - offset) {
        flush(p);
        room = perRecord;
      }
      const n = Math.min(room, body.length - offset);
      add(p, sealer.seal(ContentType.HANDSHAKE, epoch, fragmentBytes(msg, offset, n)));
      offset += n;
    }
  }
  flush(p);
  return p.datagrams;
}

/** Datagrams packed so far and the records of the one being filled. */
interface Packer {
  datagrams: Buffer[];
  current: Buffer[];
  used: number;
  readonly maxDatagram: number;
}

/** Closes the datagram being filled (one record: the record itself, no copy). */
function flush(p: Packer): void {
  if (p.current.length === 0) return;
  p.datagrams.push(p.current.length === 1 ? p.current[0]! : Buffer.concat(p.current, p.used));
  p.current = [];
  p.used = 0;
}

/** Adds a record to the datagram being filled, starting a new one when it would not fit. */
function add(p: Packer, record: Buffer): void {
  if (p.used > 0 && p.used + record.length > p.maxDatagram) flush(p);
  p.current.push(record);
  p.used += record.length;
}

/** Header + bytes of one fragment [offset, offset + n) of a message (RFC 6347 §4.2.2). */
function fragmentBytes(msg: HandshakeMessage, offset: number, n: number): Buffer {
  const out = Buffer.allocUnsafe(HANDSHAKE_HEADER_LENGTH + n);
  writeHandshakeHeader(out, 0, msg.msgType, msg.body.length, msg.messageSeq, offset, n);
  msg.body.copy(out, HANDSHAKE_HEADER_LENGTH, offset, offset + n);
  return out;
}

/** A new flight in its first wait: base timeout = retransmissionTimeout × random in [1, initRandom]. */
export function createOutgoingFlight(entries: FlightEntry[], ecc: boolean, config: DtlsConfig): OutgoingFlight {
  const rnd = config.retransmissionInitRandom > 1 ? 1 + Math.random() * (config.retransmissionInitRandom - 1) : 1;
  return { entries, ecc, tries: 0, timeout: Math.round(config.retransmissionTimeout * rnd), timer: undefined };
}

/** Wait before the next retransmission of the flight (first wait includes the ECC addition). */
export function currentWait(flight: OutgoingFlight, config: DtlsConfig): number {
  return flight.tries === 0 && flight.ecc ? flight.timeout + config.additionalEccTimeout : flight.timeout;
}

/** Advances to the next wait after a retransmission: × scale, capped; false when the retransmissions are used up. */
export function backOff(flight: OutgoingFlight, config: DtlsConfig): boolean {
  if (flight.tries >= config.maxRetransmissions) return false;
  flight.tries++;
  flight.timeout = Math.min(Math.round(flight.timeout * config.retransmissionTimeoutScale), config.maxRetransmissionTimeout);
  return true;
}

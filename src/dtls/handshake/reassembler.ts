// Bounded handshake reassembly and in-order delivery (RFC 6347 §4.2.2 message_seq, §4.2.3
// fragmentation). Accepts out-of-order, overlapping and duplicate fragments; yields complete
// messages strictly in message_seq order; future messages wait in a small bounded queue.
import { AlertDescription, type AlertDescriptionCode } from './alert.js';
import { DEFAULT_MAX_FRAGMENTED_HANDSHAKE_MESSAGE_LENGTH } from './constants.js';
import { type HandshakeFragment, type HandshakeMessage, isWholeMessage } from './header.js';

/** Limits of a reassembler. */
export interface ReassemblerOptions {
  /** first expected message_seq (default 0; a server that sent a HelloVerifyRequest uses the ClientHello's seq) */
  nextSeq?: number;
  /** cap on a message that arrives fragmented (DTLS.MAX_FRAGMENTED_HANDSHAKE_MESSAGE_LENGTH, default 8192) */
  maxMessageLength?: number;
  /** message_seq window: fragments of seq >= nextSeq + this are dropped (default 8) */
  maxQueuedMessages?: number;
  /** cap on bytes held for messages after nextSeq (default 2 × maxMessageLength) */
  maxQueuedBytes?: number;
  /** cap on disjoint byte ranges of one incomplete message (default 64) */
  maxRanges?: number;
}

/** Outcome of {@link Reassembler.push}. Only `error` is fatal. */
export type FragmentStatus =
  /** new bytes stored; call next() to collect completed messages */
  | { status: 'accepted' }
  /** nothing new (message already complete or range already covered) */
  | { status: 'duplicate' }
  /** message_seq below the next expected one: a retransmission of an already delivered message (RFC 6347 §4.2.4) */
  | { status: 'old' }
  /** not stored because a bound was hit (window, queue bytes, range count); the peer will retransmit */
  | { status: 'dropped'; reason: string }
  /** inconsistent with earlier fragments or too long: abort the handshake with this alert */
  | { status: 'error'; alert: AlertDescriptionCode; reason: string };

/** A per-handshake reassembler (one per direction of one handshake). */
export interface Reassembler {
  /** message_seq of the next message next() will deliver */
  readonly nextSeq: number;
  /** Offers one decoded fragment. */
  push(fragment: HandshakeFragment): FragmentStatus;
  /** Removes and returns the next complete message in message_seq order, if any. */
  next(): HandshakeMessage | undefined;
  /** bytes currently held for incomplete or undelivered messages */
  readonly bufferedBytes: number;
}

interface Pending {
  msgType: number;
  length: number;
  body: Buffer;
  /** sorted, disjoint, non-adjacent [start, end) ranges received so far */
  ranges: Array<[number, number]>;
  complete: boolean;
}

/** Creates a reassembler with the given limits. */
export function createReassembler(options: ReassemblerOptions = {}): Reassembler {
  return new BoundedReassembler(options);
}

/** The reassembler: one object per handshake, no closures. */
class BoundedReassembler implements Reassembler {
  private readonly maxMessageLength: number;
  private readonly maxQueuedMessages: number;
  private readonly maxQueuedBytes: number;
  private readonly maxRanges: number;
  private readonly pending = new Map<number, Pending>();
  nextSeq: number;

  constructor(options: ReassemblerOptions) {
    this.maxMessageLength = options.maxMessageLength ?? DEFAULT_MAX_FRAGMENTED_HANDSHAKE_MESSAGE_LENGTH;
    this.maxQueuedMessages = options.maxQueuedMessages ?? 8;
    this.maxQueuedBytes = options.maxQueuedBytes ?? 2 * this.maxMessageLength;
    this.maxRanges = options.maxRanges ?? 64;
    this.nextSeq = options.nextSeq ?? 0;
  }

  get bufferedBytes(): number {
    let sum = 0;
    for (const p of this.pending.values()) sum += p.length;
    return sum;
  }

  /** bytes held for messages after nextSeq */
  private queuedBytes(): number {
    let sum = 0;
    for (const [seq, p] of this.pending) if (seq !== this.nextSeq) sum += p.length;
    return sum;
  }

  push(f: HandshakeFragment): FragmentStatus {
    const h = f.header;
    const nextSeq = this.nextSeq;
    if (h.fragmentOffset + h.fragmentLength > h.length || f.fragment.length !== h.fragmentLength) {
      return error(`fragment [${h.fragmentOffset}+${h.fragmentLength}) inconsistent with length ${h.length}`);
    }
    if (h.messageSeq < nextSeq) return OLD;
    if (h.messageSeq >= nextSeq + this.maxQueuedMessages) {
      return { status: 'dropped', reason: `message_seq ${h.messageSeq} beyond window ${nextSeq}+${this.maxQueuedMessages}` };
    }
    let p = this.pending.get(h.messageSeq);
    if (p !== undefined) {
      // type and total length must match the earlier fragments, else the message cannot be decoded (decode_error)
      if (p.msgType !== h.msgType) return error(`message_seq ${h.messageSeq}: type ${h.msgType} != ${p.msgType}`);
      if (p.length !== h.length) return error(`message_seq ${h.messageSeq}: length ${h.length} != ${p.length}`);
      if (p.complete) return DUPLICATE;
    } else {
      const whole = isWholeMessage(h);
      if (!whole && h.length > this.maxMessageLength) {
        return error(`fragmented message length ${h.length} exceeds ${this.maxMessageLength}`);
      }
      if (h.messageSeq !== nextSeq && this.queuedBytes() + h.length > this.maxQueuedBytes) {
        return { status: 'dropped', reason: `queue full (${this.maxQueuedBytes} bytes)` };
      }
      if (h.fragmentLength === 0 && h.length > 0) return DUPLICATE;
      if (whole) {
        // whole messages are copied too: the result must not alias the record buffer
        this.pending.set(h.messageSeq, { msgType: h.msgType, length: h.length, body: Buffer.from(f.fragment), ranges: [[0, h.length]], complete: true });
        return ACCEPTED;
      }
      p = { msgType: h.msgType, length: h.length, body: Buffer.alloc(h.length), ranges: [], complete: false };
      this.pending.set(h.messageSeq, p);
    }
    const start = h.fragmentOffset;
    const end = start + h.fragmentLength;
    if (start === end || covered(p.ranges, start, end)) return DUPLICATE;
    const merged = mergeRange(p.ranges, start, end);
    if (merged.length > this.maxRanges) {
      return { status: 'dropped', reason: `more than ${this.maxRanges} disjoint fragment ranges` };
    }
    f.fragment.copy(p.body, start);
    p.ranges = merged;
    p.complete = merged.length === 1 && merged[0]![0] === 0 && merged[0]![1] === p.length;
    return ACCEPTED;
  }

  next(): HandshakeMessage | undefined {
    const p = this.pending.get(this.nextSeq);
    if (p === undefined || !p.complete) return undefined;
    this.pending.delete(this.nextSeq);
    return { msgType: p.msgType, messageSeq: this.nextSeq++, body: p.body };
  }
}

// the statuses without details, shared (callers only read them)
const ACCEPTED: FragmentStatus = { status: 'accepted' };
const DUPLICATE: FragmentStatus = { status: 'duplicate' };
const OLD: FragmentStatus = { status: 'old' };

function error(reason: string): FragmentStatus {
  // RFC 6347 §4.2.3 gives no alert; a message whose fragments disagree cannot be decoded (RFC 5246 §7.2.2 decode_error)
  return { status: 'error', alert: AlertDescription.DECODE_ERROR, reason };
}

/** true if [start, end) lies inside one of the ranges. */
function covered(ranges: ReadonlyArray<[number, number]>, start: number, end: number): boolean {
  for (const [s, e] of ranges) if (s <= start && end <= e) return true;
  return false;
}

/** Returns a new sorted list with [start, end) added and overlapping or adjacent ranges merged. */
function mergeRange(ranges: ReadonlyArray<[number, number]>, start: number, end: number): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  let s = start;
  let e = end;
  let placed = false;
  for (const [rs, re] of ranges) {
    if (re < s) {
      out.push([rs, re]);
    } else if (e < rs) {
      if (!placed) {
        out.push([s, e]);
        placed = true;
      }
      out.push([rs, re]);
    } else {
      s = Math.min(s, rs);
      e = Math.max(e, re);
    }
  }
  if (!placed) out.push([s, e]);
  return out;
}

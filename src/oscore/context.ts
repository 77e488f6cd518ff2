// OSCORE security context (RFC 8613 §3): key derivation (§3.2), sender sequence number (§7.2.1), replay window (§7.4).
import { hkdfSync } from 'node:crypto';
import {
  AES_CCM_16_64_128,
  CBOR_NULL,
  KEY_LENGTH,
  MAX_ID_LENGTH,
  NONCE_LENGTH,
  cborArray,
  cborBstr,
  cborInt,
  cborTstr,
} from './cose.js';
import { OscoreError } from './option.js';

/** Default replay window size (§7.4: a sliding window of size 32). */
export const DEFAULT_REPLAY_WINDOW = 32;
/** Largest replay window accepted (memory per recipient stays bounded: one byte per slot). */
export const MAX_REPLAY_WINDOW = 4096;
/** Largest Sender Sequence Number (§7.2.1: 2^40 - 1, a 5-byte Partial IV). */
export const MAX_SEQUENCE_NUMBER = 2 ** 40 - 1;

/** Inputs of a security context (§3.2). */
export interface ContextParams {
  masterSecret: Buffer;
  /** default: empty byte string (§3.2) */
  masterSalt?: Buffer;
  senderId: Buffer;
  recipientId: Buffer;
  /** absent → CBOR null in the derivation info (§3.2.1) */
  idContext?: Buffer;
  /** COSE AEAD algorithm; only AES-CCM-16-64-128 (10), the default */
  aeadAlg?: number;
  /** default DEFAULT_REPLAY_WINDOW */
  replayWindowSize?: number;
  /** first Sender Sequence Number to use; default 0 */
  senderSequenceNumber?: number;
}

/** Sliding replay window of a Recipient Context (§7.4); `seen` is a ring of `size` slots indexed by sequence number. */
export interface ReplayWindow {
  readonly size: number;
  /** highest sequence number accepted so far, -1 before the first */
  highest: number;
  readonly seen: Uint8Array;
}

/** Sender Context (§3.1): Sender ID, Sender Key and the next Sender Sequence Number. */
export interface SenderContext {
  readonly id: Buffer;
  readonly key: Buffer;
  sequenceNumber: number;
}

/** Recipient Context (§3.1): Recipient ID, Recipient Key and the replay window. */
export interface RecipientContext {
  readonly id: Buffer;
  readonly key: Buffer;
  readonly replay: ReplayWindow;
}

/** A derived security context (§3.1): Common Context fields plus the Sender and Recipient Contexts. */
export interface SecurityContext {
  readonly aeadAlg: number;
  readonly idContext: Buffer | undefined;
  readonly commonIv: Buffer;
  readonly sender: SenderContext;
  readonly recipient: RecipientContext;
}

/** The HKDF `info` (§3.2.1): CBOR [id: bstr, id_context: bstr / nil, alg_aead: int, type: "Key" / "IV", L: uint]. */
export function kdfInfo(id: Buffer, idContext: Buffer | undefined, algAead: number, type: 'Key' | 'IV', length: number): Buffer {
  return cborArray([cborBstr(id), idContext === undefined ? CBOR_NULL : cborBstr(idContext), cborInt(algAead), cborTstr(type), cborInt(length)]);
}

/** HKDF-SHA-256 (RFC 5869) of the Master Secret and Master Salt with that info, `length` bytes (§3.2.1). */
export function hkdfSha256(masterSecret: Buffer, masterSalt: Buffer, info: Buffer, length: number): Buffer {
  return Buffer.from(hkdfSync('sha256', masterSecret, masterSalt, info, length));
}

/** Creates an empty replay window of that size (§7.4). */
export function createReplayWindow(size = DEFAULT_REPLAY_WINDOW): ReplayWindow {
  if (!Number.isInteger(size) || size < 1 || size > MAX_REPLAY_WINDOW) throw new RangeError(`replay window size ${size}`);
  return { size, highest: -1, seen: new Uint8Array(size) };
}

/** Replay check result: `ok`, or why the Partial IV is rejected (§7.4). */
export type ReplayVerdict = 'ok' | 'duplicate' | 'too-old';

/** Checks a received sequence number against the window without changing it (§7.4). */
export function replayCheck(w: ReplayWindow, seq: number): ReplayVerdict {
  if (seq > w.highest) return 'ok';
  if (w.highest - seq >= w.size) return 'too-old';
  return w.seen[seq % w.size] === 1 ? 'duplicate' : 'ok';
}

/** Records a sequence number as received, sliding the window forward; call only after the message verified (§7.4). */
export function replayAccept(w: ReplayWindow, seq: number): void {
  if (seq > w.highest) {
    // clear the slots of the unseen numbers between the old and new highest (at most size - 1 of them)
    const from = Math.max(w.highest + 1, seq - w.size + 1);
    for (let s = from; s < seq; s++) w.seen[s % w.size] = 0;
    w.highest = seq;
  } else if (w.highest - seq >= w.size) {
    return;
  }
  w.seen[seq % w.size] = 1;
}

/** Takes the next Sender Sequence Number (§7.2.1); throws OscoreError 'sequence-exhausted' past 2^40 - 1. */
export function nextSequenceNumber(sender: SenderContext): number {
  const seq = sender.sequenceNumber;
  if (seq > MAX_SEQUENCE_NUMBER) throw new OscoreError('sequence-exhausted', 'Sender Sequence Number exhausted; a new security context is needed');
  sender.sequenceNumber = seq + 1;
  return seq;
}

/** Derives a security context (§3.2): Sender Key, Recipient Key and Common IV via HKDF-SHA-256. */
export function deriveContext(p: ContextParams): SecurityContext {
  const alg = p.aeadAlg ?? AES_CCM_16_64_128;
  if (alg !== AES_CCM_16_64_128) throw new RangeError(`unsupported AEAD algorithm ${alg}`);
  if (p.masterSecret.length === 0) throw new RangeError('empty Master Secret');
  if (p.senderId.length > MAX_ID_LENGTH) throw new RangeError(`Sender ID of ${p.senderId.length} bytes (max ${MAX_ID_LENGTH})`);
  if (p.recipientId.length > MAX_ID_LENGTH) throw new RangeError(`Recipient ID of ${p.recipientId.length} bytes (max ${MAX_ID_LENGTH})`);
  // §3.3: the two IDs differ, else both directions would share key and nonces
  if (p.senderId.equals(p.recipientId)) throw new RangeError('Sender ID equals Recipient ID');
  const seq = p.senderSequenceNumber ?? 0;
  if (!Number.isSafeInteger(seq) || seq < 0 || seq > MAX_SEQUENCE_NUMBER) throw new RangeError(`sender sequence number ${seq}`);
  const salt = p.masterSalt ?? Buffer.alloc(0);
  const idContext = p.idContext === undefined ? undefined : Buffer.from(p.idContext);
  const derive = (id: Buffer, type: 'Key' | 'IV', length: number): Buffer =>
    hkdfSha256(p.masterSecret, salt, kdfInfo(id, idContext, alg, type, length), length);
  return {
    aeadAlg: alg,
    idContext,
    commonIv: derive(Buffer.alloc(0), 'IV', NONCE_LENGTH),
    sender: { id: Buffer.from(p.senderId), key: derive(p.senderId, 'Key', KEY_LENGTH), sequenceNumber: seq },
    recipient: { id: Buffer.from(p.recipientId), key: derive(p.recipientId, 'Key', KEY_LENGTH), replay: createReplayWindow(p.replayWindowSize) },
  };
}

// What server and client handshakes share: the environment they run in, the outcome of processing a
// message (pion/dtls style: parse the peer's flight, build ours), the state machine fields, the
// transcript (RFC 6347 §4.2.6) and the key schedule glue (RFC 5246 §8.1, §6.3; RFC 7627 §4).
import { createHash, timingSafeEqual, type X509Certificate } from 'node:crypto';
import type { Logger } from 'pino';
import type { CipherSuite } from './cipher-suites.js';
import type { CertificateTypeName, DtlsConfig } from './config.js';
import type { HandshakeSlot } from './connection.js';
import { validateCertificateChain, type ChainValidationResult } from './credentials/chain-validation.js';
import type { ServerIdentity } from './credentials/demo-pki.js';
import type { PskStore } from './credentials/psk-store.js';
import { parseRawPublicKey, type RawPublicKeyResult } from './credentials/raw-public-key.js';
import { createEpochState, type EpochState } from './epoch-state.js';
import type { FlightEntry, OutgoingFlight } from './flight.js';
import { CertificateType, type Reassembler } from './handshake/index.js';
import { encodeFullHandshakeMessage, HANDSHAKE_HEADER_LENGTH, writeHandshakeHeader, type HandshakeMessage } from './handshake/header.js';
import { deriveKeyBlock, epochKeysForRole, extendedMasterSecret, masterSecret, verifyData } from './keys.js';
import type { DtlsRecord } from './record.js';
import { createRecordProtection, type RecordProtection } from './record-protection.js';
import type { Session } from './session.js';
import { Sha256 } from './sha256.js';
import type { HmacSha256Key } from './hmac-sha256.js';
import type { PrfSecret } from './prf.js';

/** Credentials a connector's handshakes use. */
export interface DtlsCredentials {
  /** server: PSK lookup (PSK and ECDHE_PSK suites are only selected with a store) */
  pskStore: PskStore | undefined;
  /** client: PSK identity and secret */
  pskIdentity: string | undefined;
  pskSecret: Buffer | undefined;
  /** server: certificate identities in preference order; client: [own certificate/RPK identity] or [] */
  identities: readonly ServerIdentity[];
  /** trust anchors for the peer's X.509 chain */
  trustAnchors: readonly X509Certificate[];
  /** accept any consistent chain (`--trust-all`) */
  trustAll: boolean;
  /** client: check the server certificate's subjectAltName against the destination (default true) */
  verifyServerSubject: boolean;
}

/** Environment of a handshake (shared by all handshakes of a connector). */
export interface HandshakeEnv {
  config: DtlsConfig;
  credentials: DtlsCredentials;
  now(): number;
  /** random bytes for randoms and session ids (tests inject) */
  random(purpose: 'random' | 'session-id', n: number): Buffer;
  /** validates a peer chain (cached) */
  validateChain(chain: readonly Buffer[], usage: 'client' | 'server'): ChainValidationResult;
  /** decodes a peer raw public key (cached) */
  parseRawPublicKey(spki: Buffer): RawPublicKeyResult;
  logger: Logger | undefined;
}

/** Result of processing one handshake message (or starting a handshake). */
export type HandshakeOutcome =
  /** more messages of the peer's flight are needed */
  | { kind: 'wait' }
  /** send this flight and retransmit it until the peer answers */
  | { kind: 'flight'; entries: FlightEntry[]; ecc: boolean }
  /** the handshake is complete; `finalFlight` (if any) is sent once and kept for the peer's retransmissions */
  | { kind: 'complete'; finalFlight: FlightEntry[] | undefined }
  /** abort with a fatal alert */
  | { kind: 'fail'; alert: number; reason: string };

/** Keys of the new epoch (1) prepared during the handshake. */
export interface PendingEpoch {
  state: EpochState;
  protection: RecordProtection;
}

/** The handshake state machine fields common to both roles. */
export interface HandshakeBase extends HandshakeSlot {
  /** preparing: computing our flight; sending: flight in the air; waiting: for the peer's flight; finished */
  state: 'preparing' | 'sending' | 'waiting' | 'finished';
  reassembler: Reassembler;
  transcript: Transcript;
  /** message_seq of the next message we send */
  sendSeq: number;
  clientRandom: Buffer;
  serverRandom: Buffer;
  suite: CipherSuite | undefined;
  master: Buffer | undefined;
  /** the master secret prepared once as PRF key for the key block and both Finished (set by the server) */
  masterKey?: HmacSha256Key;
  pending: PendingEpoch | undefined;
  /** the session established (set when complete) */
  session: Session | undefined;
  /** CIDs negotiated (undefined = CID not used) */
  readCid: Buffer | undefined;
  writeCid: Buffer | undefined;
  /** the flight currently sent/retransmitted */
  flight: OutgoingFlight | undefined;
  /** epoch-1 records that arrived before the peer's ChangeCipherSpec switched the read epoch (RFC 6347 §4.1) */
  deferred: DtlsRecord[];
  /** the peer's ChangeCipherSpec was received: epoch-1 records are read from now on */
  peerCcs: boolean;
  /** datagram serial of the peer's ChangeCipherSpec */
  ccsSerial: number;
  /** authenticated application records that overtook the peer's Finished, delivered once it completes */
  earlyData: DtlsRecord[];
  /** epoch-1 records that failed authentication and were discarded (RFC 6347 §4.1.2.7) */
  macErrors: number;
  resumed: boolean;
  /** datagram serial of the last retransmission triggered by the peer (once per datagram) */
  peerRetransmitSerial: number;
  startTime: number;
}

/**
 * Running handshake transcript: incremental SHA-256 (plain JavaScript, sha256.ts) and the messages, kept
 * as references for CertificateVerify (RFC 5246 §7.4.8) and encoded only if one is needed.
 */
export interface Transcript {
  hash: Sha256;
  /** our messages in full-header form, the peer's as received (header written when the bytes are needed) */
  messages: (Buffer | HandshakeMessage)[];
}

/** An empty transcript. */
export function createTranscript(): Transcript {
  return { hash: new Sha256(), messages: [] };
}

/** Scratch for the 12-byte header of a received message (hashed at once, so one buffer serves all). */
const HEADER_SCRATCH = Buffer.alloc(HANDSHAKE_HEADER_LENGTH);

/** Appends a received message in its full-header form (RFC 6347 §4.2.6: fragment_offset 0, fragment_length = length), without copying it. */
export function addToTranscript(t: Transcript, msg: HandshakeMessage): void {
  const length = msg.body.length;
  writeHandshakeHeader(HEADER_SCRATCH, 0, msg.msgType, length, msg.messageSeq, 0, length);
  t.hash.update(HEADER_SCRATCH);
  t.hash.update(msg.body);
  t.messages.push(msg);
}

/** Appends one of our messages, encoded once in full-header form; returns that form (also the unfragmented wire form). */
function addOwnToTranscript(t: Transcript, msg: HandshakeMessage): Buffer {
  const full = encodeFullHandshakeMessage(msg);
  t.hash.update(full);
  t.messages.push(full);
  return full;
}

/** SHA-256 of the messages so far (the transcript continues). */
export function transcriptHash(t: Transcript): Buffer {
  return t.hash.digest();
}

/** Concatenated messages so far (CertificateVerify input, RFC 5246 §7.4.8). */
export function transcriptBytes(t: Transcript): Buffer {
  return Buffer.concat(t.messages.map((m) => (Buffer.isBuffer(m) ? m : encodeFullHandshakeMessage(m))));
}

/** Builds our next handshake message (taking the next message_seq) and adds it to the transcript. */
export function ownMessage(hs: HandshakeBase, msgType: number, body: Buffer, epoch = 0): FlightEntry {
  const msg: HandshakeMessage = { msgType, messageSeq: hs.sendSeq++, body };
  // the transcript form is also the unfragmented wire form: the flight reuses it
  return { kind: 'handshake', epoch, msg, full: addOwnToTranscript(hs.transcript, msg) };
}

/** Master secret: extended (RFC 7627 §4, session hash = transcript so far) or classic (RFC 5246 §8.1). */
export function computeMasterSecret(hs: HandshakeBase, preMaster: Buffer, ems: boolean): Buffer {
  return ems ? extendedMasterSecret(preMaster, transcriptHash(hs.transcript)) : masterSecret(preMaster, hs.clientRandom, hs.serverRandom);
}

/** Derives the epoch-1 keys (RFC 5246 §6.3) for the local role. */
export function deriveEpoch(master: PrfSecret, clientRandom: Buffer, serverRandom: Buffer, suite: CipherSuite, role: 'client' | 'server'): PendingEpoch {
  const keys = epochKeysForRole(deriveKeyBlock(master, clientRandom, serverRandom, suite), suite, role, 1);
  return { state: createEpochState(keys), protection: createRecordProtection(keys) };
}

/** verify_data the `sender` must put into its Finished now (RFC 5246 §7.4.9). */
export function expectedVerifyData(hs: HandshakeBase, sender: 'client' | 'server'): Buffer {
  return verifyData(hs.masterKey ?? hs.master!, sender, transcriptHash(hs.transcript));
}

/** Constant-time comparison of verify_data. */
export function verifyDataMatches(expected: Buffer, received: Buffer): boolean {
  return expected.length === received.length && timingSafeEqual(expected, received);
}

/** A fail outcome. */
export function fail(alert: number, reason: string): HandshakeOutcome {
  return { kind: 'fail', alert, reason };
}

/** The wait outcome (shared instance). */
export const WAIT: HandshakeOutcome = { kind: 'wait' };

/** RFC 7250 code of a certificate type name. */
export function certificateTypeCode(name: CertificateTypeName): number {
  return name === 'RAW_PUBLIC_KEY' ? CertificateType.RAW_PUBLIC_KEY : CertificateType.X509;
}

/** Certificate type codes of the configured types, in preference order. */
export function configuredCertificateTypes(config: DtlsConfig): number[] {
  return config.certificateTypes.map(certificateTypeCode);
}

/**
 * A chain validator with a small cache of successful results (the same peer chains are validated over
 * and over in benchmarks); entries expire after `ttl` ms.
 */
export function createChainValidator(
  trustAnchors: readonly X509Certificate[],
  trustAll: boolean,
  now: () => number,
  maxEntries = 64,
  ttl = 60_000,
): (chain: readonly Buffer[], usage: 'client' | 'server') => ChainValidationResult {
  const cache = new Map<string, { result: ChainValidationResult; expires: number }>();
  return (chain, usage) => {
    const h = createHash('sha256');
    h.update(usage);
    for (const c of chain) {
      h.update(String(c.length));
      h.update(c);
    }
    const key = h.digest('base64');
    const t = now();
    const hit = cache.get(key);
    if (hit !== undefined && hit.expires > t) return hit.result;
    const result = validateCertificateChain(chain, { trustAnchors, trustAll, usage, now: t });
    if (result.ok) {
      if (cache.size >= maxEntries) cache.delete(cache.keys().next().value as string);
      cache.set(key, { result, expires: t + ttl });
    }
    return result;
  };
}

/** A raw public key decoder with a small cache of successful results (same peers, same keys). */
export function createRawPublicKeyParser(maxEntries = 64): (spki: Buffer) => RawPublicKeyResult {
  const cache = new Map<string, RawPublicKeyResult>();
  return (spki) => {
    const key = spki.toString('base64');
    const hit = cache.get(key);
    if (hit !== undefined) return hit;
    const result = parseRawPublicKey(spki);
    if (result.ok) {
      if (cache.size >= maxEntries) cache.delete(cache.keys().next().value as string);
      cache.set(key, result);
    }
    return result;
  };
}

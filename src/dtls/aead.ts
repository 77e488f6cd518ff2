// AEAD record ciphers for DTLS 1.2: AES-128-CCM(_8) (RFC 6655 §3) and AES-128-GCM (RFC 5288 §3).
// nonce = fixed write IV (4) ‖ explicit nonce (8); the explicit nonce is epoch(2) ‖ seq(6) (RFC 6655 §3).
// CCM records up to FAST_CCM_MAX_LENGTH bytes run on long-lived ECB/CBC contexts (ccm.ts) for at most
// FAST_CCM_DEFAULT_CAPACITY (setFastCcmCapacity) directions process-wide, an LRU with frequency-gated and
// rate-limited admission (never on a direction's first record: a handshake's Finished alone does not earn a slot); any other record or direction uses a node 'aes-128-ccm' cipher per record (same bytes).
import { createCipheriv, createDecipheriv, KeyObject } from 'node:crypto';
import { ccmOpen, ccmSeal, createCcmContext, type CcmContext } from './ccm.js';

/** Length of the explicit (per-record) nonce carried in the fragment. */
export const EXPLICIT_NONCE_LENGTH = 8;

const TWO_POW_32 = 2 ** 32;
/**
 * 12-byte nonce scratch: fixed IV ‖ epoch ‖ seq, written per record (JavaScript seals and opens one record at a time;
 * node copies the IV when it creates a cipher and ccm.ts reads it synchronously).
 */
const nonce = Buffer.alloc(12);

/**
 * One direction's AEAD state, prepared once per epoch. Small on purpose (one per direction of every idle connection):
 * the key bytes are referenced, not copied, and the nonce is built per record in a process-wide scratch.
 */
export interface AeadKey {
  algorithm: 'aes-128-ccm' | 'aes-128-gcm';
  /**
   * where the key is read when a cipher context is made (fast-CCM admission, per-record ciphers): the connection's
   * direction keys (which may make a view of its own buffer per access, so nothing is retained here)
   */
  source: KeySource;
  tagLength: number;
  /** the 4-byte fixed IV (client/server write IV, RFC 6655 §3) as uint32 */
  fixedIv: number;
  /** CCM only: long-lived contexts while this direction is in the fast-CCM LRU, else undefined */
  ccm: CcmContext | undefined;
  /** LRU neighbours (towards most / least recently used) while `ccm` is set */
  newer: AeadKey | undefined;
  older: AeadKey | undefined;
  /** recent-use counter for LRU admission, halved per elapsed era (see fastCcm) */
  uses: number;
  /** era in which `uses` was last updated */
  usesEra: number;
}

/** Anything with a `key`: DirectionKeys, or a wrapper of a raw key / key object. */
export interface KeySource {
  readonly key: Buffer | KeyObject;
}

/**
 * Default bound of CCM directions holding long-lived contexts at once: each costs about 2.4 KB of process memory
 * (two OpenSSL cipher contexts; measured RSS), so 4,096 directions ≈ 10 MB however many connections (the server
 * allows 1,000,000); enough for 2,048 busy sessions, the rest use a cipher object per record.
 */
export const FAST_CCM_DEFAULT_CAPACITY = 4096;
/**
 * Longest plaintext sealed/opened on the long-lived contexts: the CBC-MAC on a CBC context and the keystream on an
 * ECB context take two passes where OpenSSL's own CCM takes one, so beyond about 1 KB the per-record 'aes-128-ccm'
 * cipher is faster again (measured: 40 B 4.2 vs 9.0 µs per seal+open, 896 B 7.1 vs 8.6, 1,024 B 10.8 vs 9.5).
 */
export const FAST_CCM_MAX_LENGTH = 896;
/**
 * Uses a direction needs before it is admitted even while the LRU has room: the Finished of every handshake is one
 * record per direction, so an idle connection that never sends another record holds no contexts (2.4 KB each).
 */
const ADMIT_MIN_USES = 2;
/** Saturation of the per-key use counter (4 bits, as in TinyLFU): a long-busy key goes cold within 4 eras. */
const MAX_USES = 15;
/**
 * To evict the least recently used direction, a key's recent uses must exceed the victim's by more than this: with
 * more busy directions than slots (uniform traffic over thousands of sessions) candidate and victim are equally busy
 * and nothing churns, while directions gone quiet (decayed to 0) give way to any key used 3 times recently.
 */
const ADMIT_MARGIN = 2;
/** Era length in CCM operations per LRU slot: use counters halve every `capacity × ERA_OPS_PER_SLOT` operations. */
const ERA_OPS_PER_SLOT = 4;
/**
 * At most one evicting promotion per this many CCM operations: creating two cipher objects (and collecting the
 * evicted ones from old space later) costs about as much as 2-4 per-record ciphers, so in the worst case promotions
 * add a few percent; a new hot set of 1,000 sessions is in after about 130,000 operations.
 */
const PROMOTION_CREDIT = 64;

let capacity = FAST_CCM_DEFAULT_CAPACITY;
let size = 0;
let newest: AeadKey | undefined;
let oldest: AeadKey | undefined;
let era = 0;
let opsInEra = 0;
let credit = PROMOTION_CREDIT;
let promotions = 0;
let evictions = 0;
let fastOps = 0;
let slowOps = 0;

/** Counters of the fast-CCM LRU (diagnostics and tests). */
export interface FastCcmStats {
  capacity: number;
  size: number;
  promotions: number;
  evictions: number;
  fastOps: number;
  slowOps: number;
}

/** Current fast-CCM LRU counters. */
export function fastCcmStats(): FastCcmStats {
  return { capacity, size, promotions, evictions, fastOps, slowOps };
}

/**
 * Sets the process-wide bound of fast-CCM directions (0 = always per-record ciphers); evicts down to it and restarts
 * the admission state (era length, promotion credit).
 */
export function setFastCcmCapacity(n: number): void {
  if (!Number.isInteger(n) || n < 0) throw new RangeError('fast CCM capacity must be a non-negative integer');
  capacity = n;
  while (size > capacity) evict(oldest!);
  opsInEra = 0;
  credit = PROMOTION_CREDIT;
}

function unlink(k: AeadKey): void {
  if (k.newer !== undefined) k.newer.older = k.older;
  else newest = k.older;
  if (k.older !== undefined) k.older.newer = k.newer;
  else oldest = k.newer;
  k.newer = undefined;
  k.older = undefined;
}

/** Drops k's contexts (the GC frees the OpenSSL state with the cipher objects). */
function evict(k: AeadKey): void {
  unlink(k);
  k.ccm = undefined;
  size--;
  evictions++;
}

/**
 * Releases k's slot in the fast-CCM LRU (its connection is gone): the contexts of removed connections must not occupy
 * slots (and about 2.4 KB each) until busier keys push them out.
 */
export function releaseAeadKey(k: AeadKey): void {
  if (k.ccm === undefined) return;
  unlink(k);
  k.ccm = undefined;
  size--;
}

/** `uses` of k as of the current era (halved per era since its last update). */
function decayedUses(k: AeadKey): number {
  const age = era - k.usesEra;
  return age >= 4 ? 0 : k.uses >> age;
}

/**
 * Counts one CCM operation of `k` and returns its long-lived contexts, creating them if `k` is admitted: from its
 * second recent use (ADMIT_MIN_USES) while the LRU has room; when full only if k's recent uses exceed those of the least recently used direction (which it
 * evicts) by more than ADMIT_MARGIN and a promotion credit is available. Undefined: per-record fallback.
 */
function fastCcm(k: AeadKey): CcmContext | undefined {
  if (capacity === 0) return undefined;
  if (++opsInEra >= capacity * ERA_OPS_PER_SLOT) {
    era++;
    opsInEra = 0;
  }
  if (credit < PROMOTION_CREDIT) credit++;
  const uses = Math.min(MAX_USES, decayedUses(k) + 1);
  k.uses = uses;
  k.usesEra = era;
  const ctx = k.ccm;
  if (ctx !== undefined) {
    if (newest !== k) {
      unlink(k);
      k.older = newest;
      newest!.newer = k;
      newest = k;
    }
    return ctx;
  }
  if (uses < ADMIT_MIN_USES) return undefined;
  if (size >= capacity) {
    if (credit < PROMOTION_CREDIT || uses <= decayedUses(oldest!) + ADMIT_MARGIN) return undefined;
    credit = 0;
    evict(oldest!);
  }
  let created: CcmContext;
  try {
    created = createCcmContext(k.source.key);
  } catch {
    setFastCcmCapacity(0); // no AES-ECB/CBC in this OpenSSL (e.g. a restricted provider): per-record ciphers only
    return undefined;
  }
  k.ccm = created;
  k.older = newest;
  if (newest !== undefined) newest.newer = k;
  else oldest = k;
  newest = k;
  size++;
  promotions++;
  return created;
}

/** Prepares an AEAD direction from raw key and fixed IV. */
export function createAeadKey(algorithm: 'aes-128-ccm' | 'aes-128-gcm', key: Buffer | KeyObject | KeySource, fixedIv: Buffer, tagLength: number): AeadKey {
  if (fixedIv.length < 4) throw new Error('AEAD fixed IV must have 4 bytes');
  const source: KeySource = Buffer.isBuffer(key) || key instanceof KeyObject ? { key } : key;
  return { algorithm, source, tagLength, fixedIv: fixedIv.readUInt32BE(0), ccm: undefined, newer: undefined, older: undefined, uses: 0, usesEra: 0 };
}

/**
 * Encrypts `plaintext` and writes explicit nonce (epoch ‖ seq) ‖ ciphertext ‖ tag into `out` at `pos`
 * (RFC 5246 §6.2.3.3). Returns the position after the tag.
 */
export function aeadSeal(k: AeadKey, epoch: number, seq: number, aad: Buffer, plaintext: Buffer, out: Buffer, pos: number): number {
  nonce.writeUInt32BE(k.fixedIv, 0);
  nonce.writeUInt16BE(epoch, 4);
  nonce.writeUInt16BE(Math.floor(seq / TWO_POW_32), 6);
  nonce.writeUInt32BE(seq >>> 0, 8);
  for (let i = 4; i < 12; i++) out[pos++] = nonce[i]!;
  if (k.algorithm === 'aes-128-ccm') {
    const ctx = plaintext.length <= FAST_CCM_MAX_LENGTH ? fastCcm(k) : undefined;
    if (ctx !== undefined) {
      fastOps++;
      return ccmSeal(ctx, k.tagLength, nonce, aad, plaintext, out, pos);
    }
    slowOps++;
    const cipher = createCipheriv('aes-128-ccm', k.source.key, nonce, { authTagLength: k.tagLength });
    cipher.setAAD(aad, { plaintextLength: plaintext.length });
    pos += cipher.update(plaintext).copy(out, pos);
    cipher.final();
    pos += cipher.getAuthTag().copy(out, pos);
  } else {
    const cipher = createCipheriv('aes-128-gcm', k.source.key, nonce, { authTagLength: k.tagLength });
    cipher.setAAD(aad);
    pos += cipher.update(plaintext).copy(out, pos);
    cipher.final();
    pos += cipher.getAuthTag().copy(out, pos);
  }
  return pos;
}

/**
 * Authenticates and decrypts an AEAD fragment (explicit nonce ‖ ciphertext ‖ tag) with the given AAD.
 * Returns the plaintext, or undefined on a short fragment or authentication failure (never throws).
 */
export function aeadOpen(k: AeadKey, fragment: Buffer, aad: Buffer): Buffer | undefined {
  const ctLength = fragment.length - EXPLICIT_NONCE_LENGTH - k.tagLength;
  if (ctLength < 0) return undefined;
  nonce.writeUInt32BE(k.fixedIv, 0);
  for (let i = 0; i < EXPLICIT_NONCE_LENGTH; i++) nonce[4 + i] = fragment[i]!;
  if (k.algorithm === 'aes-128-ccm') {
    const ctx = ctLength <= FAST_CCM_MAX_LENGTH ? fastCcm(k) : undefined;
    if (ctx !== undefined) {
      fastOps++;
      return ccmOpen(ctx, k.tagLength, nonce, aad, fragment, EXPLICIT_NONCE_LENGTH, ctLength);
    }
    slowOps++;
  }
  const ciphertext = fragment.subarray(EXPLICIT_NONCE_LENGTH, EXPLICIT_NONCE_LENGTH + ctLength);
  const tag = fragment.subarray(EXPLICIT_NONCE_LENGTH + ctLength);
  // node reports a failed authentication by throwing from final(): no stack trace is captured for a forged record
  const stackTraceLimit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    if (k.algorithm === 'aes-128-ccm') {
      const decipher = createDecipheriv('aes-128-ccm', k.source.key, nonce, { authTagLength: k.tagLength });
      decipher.setAuthTag(tag);
      decipher.setAAD(aad, { plaintextLength: ctLength });
      const plaintext = decipher.update(ciphertext);
      decipher.final();
      return plaintext;
    }
    const decipher = createDecipheriv('aes-128-gcm', k.source.key, nonce, { authTagLength: k.tagLength });
    decipher.setAuthTag(tag);
    decipher.setAAD(aad);
    const plaintext = decipher.update(ciphertext);
    decipher.final();
    return plaintext;
  } catch {
    return undefined;
  } finally {
    Error.stackTraceLimit = stackTraceLimit;
  }
}

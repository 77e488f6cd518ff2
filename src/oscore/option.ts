// OSCORE option value (RFC 8613 §6.1) and the typed OSCORE processing error (§8.2, §8.4).
import { Code } from '../coap/message.js';

/** Why OSCORE processing failed; each maps to the response code RFC 8613 §8.2 names. */
export type OscoreFailure =
  | 'bad-option' // §8.2 step 2: malformed OSCORE option → 4.02 Bad Option
  | 'context-not-found' // §8.2 step 2: no security context for kid / kid context → 4.01 Unauthorized
  | 'replay' // §7.4, §8.2 step 3: Partial IV already received or too old → 4.01 Unauthorized
  | 'decryption-failed' // §8.2 step 6: AEAD verification failed → 4.00 Bad Request
  | 'bad-plaintext' // §5.3: decrypted plaintext is no valid inner message → 4.00 Bad Request
  | 'sequence-exhausted'; // §7.2.1: Sender Sequence Number beyond 2^40 - 1 → 5.00 (no message sent)

const RESPONSE_CODES: Record<OscoreFailure, number> = {
  'bad-option': Code.BAD_OPTION,
  'context-not-found': Code.UNAUTHORIZED,
  replay: Code.UNAUTHORIZED,
  'decryption-failed': Code.BAD_REQUEST,
  'bad-plaintext': Code.BAD_REQUEST,
  'sequence-exhausted': Code.INTERNAL_SERVER_ERROR,
};

/** An OSCORE processing error: `failure` says why, `responseCode` is the CoAP code to answer a request with. */
export class OscoreError extends Error {
  readonly failure: OscoreFailure;
  readonly responseCode: number;
  constructor(failure: OscoreFailure, message: string) {
    super(message);
    this.name = 'OscoreError';
    this.failure = failure;
    this.responseCode = RESPONSE_CODES[failure];
  }
}

/** True when the value is an OscoreError (of that failure, if given). */
export function isOscoreError(e: unknown, failure?: OscoreFailure): e is OscoreError {
  return e instanceof OscoreError && (failure === undefined || e.failure === failure);
}

/** The fields of an OSCORE option value (§6.1); an absent field is undefined, a present empty one a zero-length Buffer. */
export interface OscoreOptionValue {
  partialIv?: Buffer;
  kidContext?: Buffer;
  kid?: Buffer;
}

/** Longest Partial IV (§6.1: n = 0..5; 6 and 7 are reserved). */
export const MAX_PARTIAL_IV_LENGTH = 5;

// §6.1 flag byte: | 0 0 0 | h | k | n n n | (bits 0-2 reserved, must be zero)
const FLAG_RESERVED = 0xe0;
const FLAG_H = 0x10;
const FLAG_K = 0x08;
const FLAG_N = 0x07;

/** Encodes an OSCORE option value (§6.1); all fields absent → zero-length value. */
export function encodeOscoreOption(v: OscoreOptionValue): Buffer {
  const piv = v.partialIv;
  if (piv !== undefined && piv.length > MAX_PARTIAL_IV_LENGTH) throw new RangeError(`Partial IV of ${piv.length} bytes`);
  if (v.kidContext !== undefined && v.kidContext.length > 255) throw new RangeError(`kid context of ${v.kidContext.length} bytes`);
  const n = piv?.length ?? 0;
  const flags = n | (v.kid !== undefined ? FLAG_K : 0) | (v.kidContext !== undefined ? FLAG_H : 0);
  // §6.1: if all flag bits are zero, the option value is empty
  if (flags === 0) return Buffer.alloc(0);
  const length = 1 + n + (v.kidContext !== undefined ? 1 + v.kidContext.length : 0) + (v.kid?.length ?? 0);
  if (length > 255) throw new RangeError(`OSCORE option of ${length} bytes`);
  // flag byte | Partial IV | s | kid context | kid, written into one buffer
  const out = Buffer.allocUnsafe(length);
  out[0] = flags;
  let pos = 1;
  if (piv !== undefined && n > 0) pos += piv.copy(out, pos);
  if (v.kidContext !== undefined) {
    out[pos++] = v.kidContext.length;
    pos += v.kidContext.copy(out, pos);
  }
  if (v.kid !== undefined) v.kid.copy(out, pos);
  return out;
}

function malformed(why: string): OscoreError {
  return new OscoreError('bad-option', `malformed OSCORE option: ${why}`);
}

/** Decodes an OSCORE option value (§6.1); throws OscoreError 'bad-option' (→ 4.02) when it is malformed. */
export function decodeOscoreOption(value: Buffer): OscoreOptionValue {
  if (value.length === 0) return {};
  // RFC 7252 option length limit for OSCORE (§2: 0-255 bytes)
  if (value.length > 255) throw malformed(`${value.length} bytes`);
  const flags = value[0]!;
  if ((flags & FLAG_RESERVED) !== 0) throw malformed('reserved flag bits set');
  // §6.1: an all-zero flag byte is sent as an empty option value instead
  if (flags === 0) throw malformed('flag byte 0 in a non-empty value');
  const n = flags & FLAG_N;
  if (n > MAX_PARTIAL_IV_LENGTH) throw malformed(`reserved Partial IV length ${n}`);
  let pos = 1;
  const out: OscoreOptionValue = {};
  if (n > 0) {
    if (pos + n > value.length) throw malformed('Partial IV exceeds the value');
    out.partialIv = value.subarray(pos, pos + n);
    pos += n;
  }
  if ((flags & FLAG_H) !== 0) {
    if (pos >= value.length) throw malformed('kid context length missing');
    const s = value[pos++]!;
    if (pos + s > value.length) throw malformed('kid context exceeds the value');
    out.kidContext = value.subarray(pos, pos + s);
    pos += s;
  }
  if ((flags & FLAG_K) !== 0) {
    out.kid = value.subarray(pos);
  } else if (pos < value.length) {
    throw malformed('trailing bytes without kid flag');
  }
  return out;
}

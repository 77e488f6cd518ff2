// ChangeCipherSpec record body (RFC 5246 §7.1): a single byte 1.
import { AlertDescription } from './alert.js';
import { type DecodeResult, fail, ok } from './result.js';

/** The only ChangeCipherSpec type value (RFC 5246 §7.1). */
export const CHANGE_CIPHER_SPEC_VALUE = 1;

/** Encodes the ChangeCipherSpec record body (`01`). */
export function encodeChangeCipherSpec(): Buffer {
  return Buffer.from([CHANGE_CIPHER_SPEC_VALUE]);
}

/** Checks a ChangeCipherSpec record body: exactly one byte (decode_error) with value 1 (illegal_parameter). */
export function decodeChangeCipherSpec(body: Buffer): DecodeResult<true> {
  if (body.length !== 1) return fail(AlertDescription.DECODE_ERROR, `ChangeCipherSpec length ${body.length} != 1`);
  if (body[0] !== CHANGE_CIPHER_SPEC_VALUE) {
    return fail(AlertDescription.ILLEGAL_PARAMETER, `ChangeCipherSpec value ${body[0]}`);
  }
  return ok(true);
}

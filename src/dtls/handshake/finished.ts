// Finished (RFC 5246 §7.4.9): verify_data of verify_data_length (12) bytes.
import { AlertDescription } from './alert.js';
import { VERIFY_DATA_LENGTH } from './constants.js';
import { type DecodeResult, fail, ok } from './result.js';
import { fixed } from './writer.js';

/** Finished body. */
export interface Finished {
  verifyData: Buffer;
}

/** Encodes a Finished body. */
export function encodeFinished(f: Finished, verifyDataLength = VERIFY_DATA_LENGTH): Buffer {
  return fixed(f.verifyData, verifyDataLength, 'verify_data');
}

/** Decodes a Finished body; any other length than verify_data_length → decode_error. */
export function decodeFinished(body: Buffer, verifyDataLength = VERIFY_DATA_LENGTH): DecodeResult<Finished> {
  if (body.length !== verifyDataLength) {
    return fail(AlertDescription.DECODE_ERROR, `Finished length ${body.length} != ${verifyDataLength}`);
  }
  return ok({ verifyData: Buffer.from(body) });
}

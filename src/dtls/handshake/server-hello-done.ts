// ServerHelloDone (RFC 5246 §7.4.5): an empty body.
import { AlertDescription } from './alert.js';
import { type DecodeResult, fail, ok } from './result.js';

/** ServerHelloDone has no fields. */
export type ServerHelloDone = Record<string, never>;

/** Encodes the (empty) ServerHelloDone body. */
export function encodeServerHelloDone(): Buffer {
  return Buffer.alloc(0);
}

/** Decodes a ServerHelloDone body; any byte → decode_error. */
export function decodeServerHelloDone(body: Buffer): DecodeResult<ServerHelloDone> {
  if (body.length !== 0) return fail(AlertDescription.DECODE_ERROR, `ServerHelloDone with ${body.length} bytes`);
  return ok({});
}

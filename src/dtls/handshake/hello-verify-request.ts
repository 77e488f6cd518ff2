// HelloVerifyRequest (RFC 6347 §4.2.1): server_version ‖ cookie<0..2^8-1>.
import { MAX_COOKIE_LENGTH } from './constants.js';
import { Reader, decodeWith } from './reader.js';
import { type DecodeResult } from './result.js';
import { u16, vector8 } from './writer.js';

/** HelloVerifyRequest fields. */
export interface HelloVerifyRequest {
  /** server_version as uint16 (RFC 6347 §4.2.1: the server answers with the client's version clamped to DTLS 1.0..1.2) */
  serverVersion: number;
  cookie: Buffer;
}

/** Encodes a HelloVerifyRequest body. */
export function encodeHelloVerifyRequest(hvr: HelloVerifyRequest): Buffer {
  return Buffer.concat([u16(hvr.serverVersion), vector8(hvr.cookie, 'cookie', 0, MAX_COOKIE_LENGTH)]);
}

/** Decodes a HelloVerifyRequest body; trailing bytes → decode_error. */
export function decodeHelloVerifyRequest(body: Buffer): DecodeResult<HelloVerifyRequest> {
  return decodeWith(() => {
    const r = new Reader(body);
    const serverVersion = r.u16('server_version');
    const cookie = r.vector8('cookie', 0, MAX_COOKIE_LENGTH);
    r.end('HelloVerifyRequest');
    return { serverVersion, cookie };
  });
}

// ServerHello (RFC 5246 §7.4.1.3; DTLS uses it unchanged, RFC 6347 §4.2).
import { MAX_SESSION_ID_LENGTH, RANDOM_LENGTH } from './constants.js';
import { type HelloExtensions, encodeHelloExtensions, readOptionalExtensions } from './extensions.js';
import { Reader, decodeWith } from './reader.js';
import { type DecodeResult } from './result.js';
import { checkLength, checkRange } from './writer.js';

/** ServerHello fields. */
export interface ServerHello {
  /** server_version as uint16 (0xfefd) */
  serverVersion: number;
  /** 32 bytes */
  random: Buffer;
  /** 0..32 bytes (Californium issues 32) */
  sessionId: Buffer;
  cipherSuite: number;
  compressionMethod: number;
  /** undefined when the hello has no extensions block */
  extensions?: HelloExtensions;
}

/** Encodes a ServerHello body. */
export function encodeServerHello(hello: ServerHello): Buffer {
  checkRange(hello.serverVersion, 0xffff, 'uint16');
  if (hello.random.length !== RANDOM_LENGTH) throw new RangeError(`random must be ${RANDOM_LENGTH} bytes, got ${hello.random.length}`);
  const sessionId = hello.sessionId;
  checkLength(sessionId.length, 'session_id', 0, MAX_SESSION_ID_LENGTH);
  checkRange(hello.cipherSuite, 0xffff, 'uint16');
  checkRange(hello.compressionMethod, 0xff, 'uint8');
  const extensions = hello.extensions !== undefined ? encodeHelloExtensions(hello.extensions, 'server') : undefined;
  // server_version ‖ random ‖ session_id<0..32> ‖ cipher_suite ‖ compression_method ‖ extensions, in one buffer
  const out = Buffer.allocUnsafe(2 + RANDOM_LENGTH + 1 + sessionId.length + 3 + (extensions?.length ?? 0));
  out.writeUInt16BE(hello.serverVersion, 0);
  let p = 2 + hello.random.copy(out, 2);
  out[p++] = sessionId.length;
  p += sessionId.copy(out, p);
  out.writeUInt16BE(hello.cipherSuite, p);
  out[p + 2] = hello.compressionMethod;
  if (extensions !== undefined) extensions.copy(out, p + 3);
  return out;
}

/** Decodes a ServerHello body. */
export function decodeServerHello(body: Buffer): DecodeResult<ServerHello> {
  return decodeWith(() => {
    const r = new Reader(body);
    const serverVersion = r.u16('server_version');
    const random = r.bytes(RANDOM_LENGTH, 'random');
    const sessionId = r.vector8('session_id', 0, MAX_SESSION_ID_LENGTH);
    const cipherSuite = r.u16('cipher_suite');
    const compressionMethod = r.u8('compression_method');
    const extensions = readOptionalExtensions(r, 'server');
    const hello: ServerHello = { serverVersion, random, sessionId, cipherSuite, compressionMethod };
    if (extensions !== undefined) hello.extensions = extensions;
    return hello;
  });
}

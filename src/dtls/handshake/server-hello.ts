// ServerHello (RFC 5246 §7.4.1.3; DTLS uses it unchanged, RFC 6347 §4.2).
import { MAX_SESSION_ID_LENGTH, RANDOM_LENGTH } from './constants.js';
import { type HelloExtensions, encodeHelloExtensions, readOptionalExtensions } from './extensions.js';
import { Reader, decodeWith } from './reader.js';
import { type DecodeResult } from './result.js';
import { fixed, u16, u8, vector8 } from './writer.js';

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
  const parts = [
    u16(hello.serverVersion),
    fixed(hello.random, RANDOM_LENGTH, 'random'),
    vector8(hello.sessionId, 'session_id', 0, MAX_SESSION_ID_LENGTH),
    u16(hello.cipherSuite),
    u8(hello.compressionMethod),
  ];
  if (hello.extensions !== undefined) parts.push(encodeHelloExtensions(hello.extensions, 'server'));
  return Buffer.concat(parts);
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

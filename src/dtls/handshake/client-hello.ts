// ClientHello with the DTLS cookie field (RFC 6347 §4.2.1; RFC 5246 §7.4.1.2) and the RFC 5746
// SCSV check. The decoded form keeps the raw body so the cookie HMAC can use the received bytes.
import { MAX_COOKIE_LENGTH, MAX_SESSION_ID_LENGTH, RANDOM_LENGTH, TLS_EMPTY_RENEGOTIATION_INFO_SCSV } from './constants.js';
import { type HelloExtensions, encodeHelloExtensions, readOptionalExtensions } from './extensions.js';
import { Reader, decodeWith, malformed } from './reader.js';
import { type DecodeResult } from './result.js';
import { fixed, u16, u16List, u8List, vector16, vector8 } from './writer.js';

/** ClientHello fields (RFC 6347 §4.2.1). */
export interface ClientHello {
  /** client_version as uint16 (0xfefd = DTLS 1.2) */
  clientVersion: number;
  /** 32 bytes */
  random: Buffer;
  /** 0..32 bytes */
  sessionId: Buffer;
  /** 0..255 bytes; empty in the first ClientHello */
  cookie: Buffer;
  /** cipher suite codes in the client's preference order (may contain the SCSV 0x00FF) */
  cipherSuites: number[];
  compressionMethods: number[];
  /** undefined when the hello has no extensions block */
  extensions?: HelloExtensions;
}

/** A decoded ClientHello with its raw body and the offset of the cookie length byte. */
export interface DecodedClientHello extends ClientHello {
  /** the message body exactly as received */
  raw: Buffer;
  /** offset in `raw` of the cookie's uint8 length */
  cookieOffset: number;
}

/** Encodes a ClientHello body (RFC 6347 §4.2.1). */
export function encodeClientHello(hello: ClientHello): Buffer {
  const parts = [
    u16(hello.clientVersion),
    fixed(hello.random, RANDOM_LENGTH, 'random'),
    vector8(hello.sessionId, 'session_id', 0, MAX_SESSION_ID_LENGTH),
    vector8(hello.cookie, 'cookie', 0, MAX_COOKIE_LENGTH),
    vector16(u16List(hello.cipherSuites), 'cipher_suites', 2, 0xfffe),
    vector8(u8List(hello.compressionMethods, 'compression_method'), 'compression_methods', 1),
  ];
  if (hello.extensions !== undefined) parts.push(encodeHelloExtensions(hello.extensions, 'client'));
  return Buffer.concat(parts);
}

/** Decodes a ClientHello body; malformed vectors → decode_error, bad extension values as the extension's RFC says. */
export function decodeClientHello(body: Buffer): DecodeResult<DecodedClientHello> {
  return decodeWith(() => {
    // one copy of the body; the fields are views of it (none aliases the received datagram)
    const raw = Buffer.from(body);
    const r = new Reader(raw, true);
    const clientVersion = r.u16('client_version');
    const random = r.bytes(RANDOM_LENGTH, 'random');
    const sessionId = r.vector8('session_id', 0, MAX_SESSION_ID_LENGTH);
    const cookieOffset = r.position;
    const cookie = r.vector8('cookie', 0, MAX_COOKIE_LENGTH);
    const suites = r.vector16('cipher_suites', 2, 0xfffe);
    if (suites.length % 2 !== 0) malformed(`cipher_suites length ${suites.length} is odd`);
    const cipherSuites: number[] = [];
    for (let i = 0; i < suites.length; i += 2) cipherSuites.push(suites.readUInt16BE(i));
    const compressionMethods = [...r.vector8('compression_methods', 1)];
    const extensions = readOptionalExtensions(r, 'client');
    const hello: DecodedClientHello = {
      clientVersion,
      random,
      sessionId,
      cookie,
      cipherSuites,
      compressionMethods,
      raw,
      cookieOffset,
    };
    if (extensions !== undefined) hello.extensions = extensions;
    return hello;
  });
}

/**
 * The ClientHello body without the cookie field (its length byte and bytes), as input to the
 * stateless cookie HMAC (RFC 6347 §4.2.1; the same bytes Californium's ClientHello.updateForCookie hashes).
 */
export function clientHelloBodyWithoutCookie(hello: DecodedClientHello): Buffer {
  const { raw, cookieOffset } = hello;
  return Buffer.concat([raw.subarray(0, cookieOffset), raw.subarray(cookieOffset + 1 + raw[cookieOffset]!)]);
}

/** true if the client offered TLS_EMPTY_RENEGOTIATION_INFO_SCSV (RFC 5746 §3.3). */
export function hasRenegotiationScsv(hello: ClientHello): boolean {
  return hello.cipherSuites.includes(TLS_EMPTY_RENEGOTIATION_INFO_SCSV);
}

/** true if the client signalled secure renegotiation support: SCSV or an (empty) renegotiation_info (RFC 5746 §3.6). */
export function offersSecureRenegotiation(hello: ClientHello): boolean {
  return hasRenegotiationScsv(hello) || hello.extensions?.renegotiationInfo !== undefined;
}

// Raw DTLS 1.2 handshake messages for tests: the 12-byte handshake header with message_seq and
// fragmentation (RFC 6347 §4.2.2, §4.2.3), ClientHello with cookie (RFC 6347 §4.2.1, RFC 5246 §7.4.1.2),
// HelloVerifyRequest, ServerHello (RFC 5246 §7.4.1.3), PSK ClientKeyExchange (RFC 4279 §2), Finished
// (RFC 5246 §7.4.9). Independent of src/.

/** Handshake message types (RFC 5246 §7.4, RFC 6347 §4.3.2). */
export const HandshakeType = {
  HELLO_REQUEST: 0,
  CLIENT_HELLO: 1,
  SERVER_HELLO: 2,
  HELLO_VERIFY_REQUEST: 3,
  CERTIFICATE: 11,
  SERVER_KEY_EXCHANGE: 12,
  CERTIFICATE_REQUEST: 13,
  SERVER_HELLO_DONE: 14,
  CERTIFICATE_VERIFY: 15,
  CLIENT_KEY_EXCHANGE: 16,
  FINISHED: 20,
} as const;

/** Extension types used here (RFC 7627 §5.1, RFC 9146 §3, RFC 5746 §3.2). */
export const ExtensionType = {
  EXTENDED_MASTER_SECRET: 23,
  CONNECTION_ID: 54,
  RENEGOTIATION_INFO: 0xff01,
} as const;

/** TLS_PSK_WITH_AES_128_CCM_8 (RFC 6655 §4) and the renegotiation SCSV (RFC 5746 §3.3). */
export const CipherSuite = { TLS_PSK_WITH_AES_128_CCM_8: 0xc0a8, TLS_EMPTY_RENEGOTIATION_INFO_SCSV: 0x00ff } as const;

/** Length of the DTLS handshake header (RFC 6347 §4.2.2). */
export const HANDSHAKE_HEADER_LENGTH = 12;

/** A whole handshake message. */
export interface HandshakeMessage {
  msgType: number;
  messageSeq: number;
  body: Buffer;
}

/** A handshake header (RFC 6347 §4.2.2) as written or read; `length` is the total message length. */
export interface FragmentHeader {
  msgType: number;
  length: number;
  messageSeq: number;
  fragmentOffset: number;
  fragmentLength: number;
}

/** A decoded handshake fragment. */
export interface HandshakeFragment extends FragmentHeader {
  bytes: Buffer;
}

/** One piece to cut with fragmentMessage; `totalLength` overrides the header's message length. */
export interface FragmentPiece {
  offset: number;
  length: number;
  totalLength?: number;
}

/** Encodes one fragment: header fields taken as given (may be inconsistent on purpose). */
export function encodeFragment(h: FragmentHeader, bytes: Buffer): Buffer {
  const head = Buffer.alloc(HANDSHAKE_HEADER_LENGTH);
  head.writeUInt8(h.msgType, 0);
  head.writeUIntBE(h.length, 1, 3);
  head.writeUInt16BE(h.messageSeq, 4);
  head.writeUIntBE(h.fragmentOffset, 6, 3);
  head.writeUIntBE(h.fragmentLength, 9, 3);
  return Buffer.concat([head, bytes]);
}

/** The whole message as one fragment: also the form hashed into the transcript (RFC 6347 §4.2.6). */
export function encodeMessage(m: HandshakeMessage): Buffer {
  const n = m.body.length;
  return encodeFragment({ msgType: m.msgType, length: n, messageSeq: m.messageSeq, fragmentOffset: 0, fragmentLength: n }, m.body);
}

/** Cuts `m` into the given pieces (RFC 6347 §4.2.3), each a handshake fragment with its own header. */
export function fragmentMessage(m: HandshakeMessage, pieces: readonly FragmentPiece[]): Buffer[] {
  return pieces.map((p) =>
    encodeFragment(
      { msgType: m.msgType, length: p.totalLength ?? m.body.length, messageSeq: m.messageSeq, fragmentOffset: p.offset, fragmentLength: p.length },
      m.body.subarray(p.offset, p.offset + p.length),
    ),
  );
}

/** Decodes the handshake fragments of a record's content; undefined if the content is malformed. */
export function parseFragments(content: Buffer): HandshakeFragment[] | undefined {
  const out: HandshakeFragment[] = [];
  let off = 0;
  while (off < content.length) {
    if (off + HANDSHAKE_HEADER_LENGTH > content.length) return undefined;
    const fragmentLength = content.readUIntBE(off + 9, 3);
    const end = off + HANDSHAKE_HEADER_LENGTH + fragmentLength;
    if (end > content.length) return undefined;
    out.push({
      msgType: content[off]!,
      length: content.readUIntBE(off + 1, 3),
      messageSeq: content.readUInt16BE(off + 4),
      fragmentOffset: content.readUIntBE(off + 6, 3),
      fragmentLength,
      bytes: Buffer.from(content.subarray(off + HANDSHAKE_HEADER_LENGTH, end)),
    });
    off = end;
  }
  return out;
}

/** True if the fragment is a whole message. */
export function isWhole(f: FragmentHeader): boolean {
  return f.fragmentOffset === 0 && f.fragmentLength === f.length;
}

/** ClientHello fields (RFC 6347 §4.2.1: the DTLS ClientHello has a cookie after the session id). */
export interface ClientHelloFields {
  random: Buffer;
  sessionId?: Buffer;
  cookie?: Buffer;
  cipherSuites: readonly number[];
  /** extensions in order: [type, data] */
  extensions: ReadonlyArray<readonly [number, Buffer]>;
  version?: number;
}

/** Encodes a ClientHello body (RFC 5246 §7.4.1.2 plus the DTLS cookie, RFC 6347 §4.2.1). */
export function encodeClientHello(f: ClientHelloFields): Buffer {
  const version = Buffer.alloc(2);
  version.writeUInt16BE(f.version ?? 0xfefd);
  const sessionId = f.sessionId ?? Buffer.alloc(0);
  const cookie = f.cookie ?? Buffer.alloc(0);
  const suites = Buffer.alloc(2 + 2 * f.cipherSuites.length);
  suites.writeUInt16BE(2 * f.cipherSuites.length, 0);
  f.cipherSuites.forEach((s, i) => suites.writeUInt16BE(s, 2 + 2 * i));
  const parts: Buffer[] = [version, f.random, u8(sessionId.length), sessionId, u8(cookie.length), cookie, suites, Buffer.from([1, 0])];
  if (f.extensions.length > 0) {
    const exts = Buffer.concat(f.extensions.map(([type, data]) => Buffer.concat([u16(type), u16(data.length), data])));
    parts.push(u16(exts.length), exts);
  }
  return Buffer.concat(parts);
}

/** Decodes a HelloVerifyRequest body (RFC 6347 §4.2.1). */
export function parseHelloVerifyRequest(body: Buffer): { version: number; cookie: Buffer } {
  const n = body[2]!;
  return { version: body.readUInt16BE(0), cookie: Buffer.from(body.subarray(3, 3 + n)) };
}

/** A decoded ServerHello (RFC 5246 §7.4.1.3). */
export interface ServerHello {
  version: number;
  random: Buffer;
  sessionId: Buffer;
  cipherSuite: number;
  compression: number;
  extensions: Map<number, Buffer>;
}

/** Decodes a ServerHello body. */
export function parseServerHello(body: Buffer): ServerHello {
  let off = 0;
  const version = body.readUInt16BE(off);
  off += 2;
  const random = Buffer.from(body.subarray(off, off + 32));
  off += 32;
  const sidLen = body[off]!;
  const sessionId = Buffer.from(body.subarray(off + 1, off + 1 + sidLen));
  off += 1 + sidLen;
  const cipherSuite = body.readUInt16BE(off);
  const compression = body[off + 2]!;
  off += 3;
  const extensions = new Map<number, Buffer>();
  if (off + 2 <= body.length) {
    const end = off + 2 + body.readUInt16BE(off);
    off += 2;
    while (off + 4 <= end) {
      const type = body.readUInt16BE(off);
      const len = body.readUInt16BE(off + 2);
      extensions.set(type, Buffer.from(body.subarray(off + 4, off + 4 + len)));
      off += 4 + len;
    }
  }
  return { version, random, sessionId, cipherSuite, compression, extensions };
}

/** PSK ClientKeyExchange body: opaque psk_identity<0..2^16-1> (RFC 4279 §2). */
export function encodePskClientKeyExchange(identity: Buffer): Buffer {
  return Buffer.concat([u16(identity.length), identity]);
}

function u8(v: number): Buffer {
  return Buffer.from([v]);
}

function u16(v: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(v);
  return b;
}

// Minimal hand-rolled CoAP wire helpers for the benchmarks (RFC 7252 §3): request templates, option walking, a CON GET.
import crypto from 'node:crypto';
import dgram from 'node:dgram';

/** Option numbers used by the benchmarks (RFC 7252 §5.10). */
export const OPT_URI_PATH = 11;
/** Content-Format option number. */
export const OPT_CONTENT_FORMAT = 12;
/** Code byte of POST (0.02). */
export const CODE_POST = 0x02;
/** Code byte of GET (0.01). */
export const CODE_GET = 0x01;
/** Code byte of 2.04 Changed. */
export const CODE_CHANGED = 0x44;
/** Code byte of 4.04 Not Found. */
export const CODE_NOT_FOUND = 0x84;
/** Offset of the 16-bit MID in every CoAP message. */
export const MID_OFFSET = 2;
/** Offset of the token in every CoAP message. */
export const TOKEN_OFFSET = 4;

/** Parses a dotted code ("2.04") or a number into a code byte. */
export function parseCode(text: string): number {
  const m = /^(\d)\.(\d\d)$/.exec(text.trim());
  if (m) return (Number(m[1]) << 5) | Number(m[2]);
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0 || n > 255) throw new Error(`bad code ${text}`);
  return n;
}

/** Formats a code byte as "c.dd". */
export function formatCode(code: number): string {
  return `${code >> 5}.${String(code & 0x1f).padStart(2, '0')}`;
}

/** Encodes one option header + value given the delta from the previous option number. */
function encodeOption(delta: number, value: Buffer): Buffer {
  const parts: number[] = [];
  const nibble = (v: number): number => (v < 13 ? v : v < 269 ? 13 : 14);
  const ext = (v: number): void => {
    if (v >= 269) parts.push(((v - 269) >> 8) & 0xff, (v - 269) & 0xff);
    else if (v >= 13) parts.push(v - 13);
  };
  parts.push((nibble(delta) << 4) | nibble(value.length));
  ext(delta);
  ext(value.length);
  return Buffer.concat([Buffer.from(parts), value]);
}

/** Minimal unsigned integer option value (RFC 7252 §3.2 uint: 0 is empty). */
function uintValue(v: number): Buffer {
  const bytes: number[] = [];
  while (v > 0) {
    bytes.unshift(v & 0xff);
    v = Math.floor(v / 256);
  }
  return Buffer.from(bytes);
}

/** Template request parameters. */
export interface TemplateSpec {
  /** message type: 0 CON, 1 NON */
  type: number;
  /** request code byte */
  code: number;
  /** token length in bytes (the token bytes are left zero, written per request) */
  tokenLength: number;
  /** Uri-Path, e.g. "echo" or "a/b" */
  path: string;
  /** Content-Format number, or undefined for none */
  contentFormat?: number;
  /** payload bytes (may be empty) */
  payload: Buffer;
}

/** Builds a request datagram with MID 0 and a zero token; callers patch MID/token bytes in place. */
export function buildTemplate(spec: TemplateSpec): Buffer {
  const head = Buffer.alloc(4 + spec.tokenLength);
  head[0] = 0x40 | ((spec.type & 3) << 4) | spec.tokenLength;
  head[1] = spec.code;
  const opts: Buffer[] = [];
  let last = 0;
  for (const seg of spec.path.split('/').filter((s) => s.length > 0)) {
    opts.push(encodeOption(OPT_URI_PATH - last, Buffer.from(seg, 'utf8')));
    last = OPT_URI_PATH;
  }
  if (spec.contentFormat !== undefined) {
    opts.push(encodeOption(OPT_CONTENT_FORMAT - last, uintValue(spec.contentFormat)));
    last = OPT_CONTENT_FORMAT;
  }
  const tail = spec.payload.length > 0 ? [Buffer.from([0xff]), spec.payload] : [];
  return Buffer.concat([head, ...opts, ...tail]);
}

/** Makes a printable text payload of exactly `size` bytes. */
export function textPayload(size: number): Buffer {
  const base = 'extplugtest-bench-echo-payload-0123456789abcdefghijklmnopqrstuvwxyz';
  let s = '';
  while (s.length < size) s += base;
  return Buffer.from(s.slice(0, size), 'ascii');
}

/** Result of walking a message's options: the Uri-Path and the payload offset. */
export interface WalkResult {
  /** Uri-Path segments joined by "/" */
  path: string;
  /** offset of the first payload byte, or buf.length when there is none */
  payloadOffset: number;
}

/** Walks the options of a datagram (header already validated); returns undefined on a format error. */
export function walkOptions(buf: Buffer): WalkResult | undefined {
  const len = buf.length;
  let pos = 4 + (buf[0]! & 0x0f);
  let number = 0;
  let path = '';
  while (pos < len) {
    const b = buf[pos++]!;
    if (b === 0xff) return pos < len ? { path, payloadOffset: pos } : undefined;
    let delta = b >> 4;
    let olen = b & 0x0f;
    if (delta === 15 || olen === 15) return undefined;
    if (pos + (delta === 13 ? 1 : delta === 14 ? 2 : 0) + (olen === 13 ? 1 : olen === 14 ? 2 : 0) > len) return undefined;
    if (delta === 13) delta = buf[pos++]! + 13;
    else if (delta === 14) {
      delta = ((buf[pos]! << 8) | buf[pos + 1]!) + 269;
      pos += 2;
    }
    if (olen === 13) olen = buf[pos++]! + 13;
    else if (olen === 14) {
      olen = ((buf[pos]! << 8) | buf[pos + 1]!) + 269;
      pos += 2;
    }
    number += delta;
    if (pos + olen > len) return undefined;
    if (number === OPT_URI_PATH) path += (path.length > 0 ? '/' : '') + buf.toString('utf8', pos, pos + olen);
    pos += olen;
  }
  return { path, payloadOffset: len };
}

/** CON GET of `path` on 127.0.0.1:port, resent every second; the response payload as text (rejects after ms). */
export function coapGet(port: number, pathText: string, ms = 6000): Promise<string> {
  const sock = dgram.createSocket('udp4');
  const mid = crypto.randomInt(0x10000);
  const req = buildTemplate({ type: 0, code: CODE_GET, tokenLength: 4, path: pathText, payload: Buffer.alloc(0) });
  req.writeUInt16BE(mid, 2);
  crypto.randomFillSync(req, 4, 4);
  return new Promise<string>((resolve, reject) => {
    const finish = (err: Error | undefined, text?: string): void => {
      clearInterval(resend);
      clearTimeout(deadline);
      sock.close();
      if (err) reject(err);
      else resolve(text!);
    };
    sock.on('error', () => {});
    sock.on('message', (msg) => {
      if (msg.length < 4 || msg.readUInt16BE(2) !== mid) return;
      if (msg[1] !== 0x45) return finish(new Error(`GET /${pathText}: code ${msg[1]! >> 5}.${String(msg[1]! & 31).padStart(2, '0')}`));
      const marker = msg.indexOf(0xff, 4 + (msg[0]! & 0x0f));
      finish(undefined, marker >= 0 ? msg.toString('utf8', marker + 1) : '');
    });
    const send = (): void => sock.send(req, port, '127.0.0.1');
    const resend = setInterval(send, 1000);
    const deadline = setTimeout(() => finish(new Error(`GET /${pathText}: no answer from 127.0.0.1:${port} within ${ms} ms`)), ms);
    send();
  });
}

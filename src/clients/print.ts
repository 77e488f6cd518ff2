// Human-readable printing of CoAP messages and DTLS sessions for the command line clients, in the layout of
// Californium's Utils.prettyPrint (request and response blocks, endpoint context lines) and of its message
// tracing (Message.toString), so the output reads like the one of the Java clients:
//
//   ==[ CoAP Request ]=============================================
//   MID    : 12635
//   Token  : E042D951531E7FDB
//   Type   : CON
//   Method : 0.01 - GET
//   Options: {"Uri-Path":"mycontext"}
//   Payload: 0 Bytes
//   ===============================================================
//
//   >>> DTLS(127.0.0.1:5784,ID:3559881395)
//   >>> TLS_PSK_WITH_AES_128_CCM_8
//   >>> PreSharedKey Identity [identity: Client_identity]
import { TYPE_NAMES, codeName, codeText, formatName, Opt, type CoapMessage, type CoapOption } from '../coap/message.js';
import { decodeUint } from '../coap/options.js';
import { decodeBlockOption, unitSize } from '../coap/bert.js';
import { peerKey, type EndpointContext } from '../transport/connector.js';
import { CborError, cborDiagnostic, decodeCbor } from './receivetest/cbor-diag.js';

/** Option names as Californium's OptionNumberRegistry spells them. */
const OPTION_NAMES: Readonly<Record<number, string>> = {
  [Opt.IF_MATCH]: 'If-Match',
  [Opt.URI_HOST]: 'Uri-Host',
  [Opt.ETAG]: 'ETag',
  [Opt.IF_NONE_MATCH]: 'If-None-Match',
  [Opt.OBSERVE]: 'Observe',
  [Opt.URI_PORT]: 'Uri-Port',
  [Opt.LOCATION_PATH]: 'Location-Path',
  [Opt.OSCORE]: 'OSCORE',
  [Opt.URI_PATH]: 'Uri-Path',
  [Opt.CONTENT_FORMAT]: 'Content-Format',
  [Opt.MAX_AGE]: 'Max-Age',
  [Opt.URI_QUERY]: 'Uri-Query',
  [Opt.ACCEPT]: 'Accept',
  [Opt.LOCATION_QUERY]: 'Location-Query',
  [Opt.BLOCK2]: 'Block2',
  [Opt.BLOCK1]: 'Block1',
  [Opt.SIZE2]: 'Size2',
  [Opt.PROXY_URI]: 'Proxy-Uri',
  [Opt.PROXY_SCHEME]: 'Proxy-Scheme',
  [Opt.SIZE1]: 'Size1',
  [Opt.NO_RESPONSE]: 'No-Response',
};
const UINT_OPTIONS = new Set<number>([Opt.OBSERVE, Opt.URI_PORT, Opt.MAX_AGE, Opt.SIZE1, Opt.SIZE2, Opt.NO_RESPONSE]);
const TEXT_OPTIONS = new Set<number>([Opt.URI_HOST, Opt.LOCATION_PATH, Opt.URI_PATH, Opt.URI_QUERY, Opt.LOCATION_QUERY, Opt.PROXY_URI, Opt.PROXY_SCHEME]);
/** Content formats shown as text (Californium's MediaTypeRegistry.isPrintable); undefined = no Content-Format. */
const PRINTABLE_FORMATS = new Set<number | undefined>([undefined, 0, 40, 41, 50]);

/** First line of the request and response blocks. */
export const REQUEST_HEAD = '==[ CoAP Request ]=============================================';
export const RESPONSE_HEAD = '==[ CoAP Response ]============================================';
/** Separator before the payload and the closing line of a block. */
export const PAYLOAD_SEPARATOR = '---------------------------------------------------------------';
export const BLOCK_END = '===============================================================';

/** Name of an option number (`Unknown (<n>)` for others). */
export function optionName(number: number): string {
  return OPTION_NAMES[number] ?? `Unknown (${number})`;
}

/** Value of one option as Californium's Option.toValueString: texts and formats quoted, numbers plain, opaque as 0x… */
export function optionValueText(number: number, value: Buffer): string {
  if (number === Opt.CONTENT_FORMAT || number === Opt.ACCEPT) return `"${formatName(decodeUint(value))}"`;
  if (number === Opt.BLOCK1 || number === Opt.BLOCK2) {
    // SZX 7 is BERT (RFC 8323 §6): shown with its 1024-byte unit, as Californium does
    const b = decodeBlockOption(value, true);
    return b ? `"(szx=${b.szx}/${unitSize(b.szx)}, m=${b.more}, num=${b.num})"` : '0x' + value.toString('hex');
  }
  if (UINT_OPTIONS.has(number)) return String(decodeUint(value));
  if (TEXT_OPTIONS.has(number)) return `"${value.toString('utf8')}"`;
  if (number === Opt.IF_NONE_MATCH) return '""';
  return '0x' + value.toString('hex');
}

/** The options as Californium's OptionSet.toString: `{"Uri-Path":["a","b"], "Accept":"text/plain"}`. */
export function optionsText(options: readonly CoapOption[]): string {
  const sorted = [...options].sort((a, b) => a.number - b.number);
  const parts: string[] = [];
  for (let i = 0; i < sorted.length; ) {
    const number = sorted[i]!.number;
    const values: string[] = [];
    while (i < sorted.length && sorted[i]!.number === number) values.push(optionValueText(number, sorted[i++]!.value));
    parts.push(`"${optionName(number)}":${values.length > 1 ? `[${values.join(',')}]` : values[0]}`);
  }
  return `{${parts.join(', ')}}`;
}

/** Token as uppercase hex (empty for an empty token). */
export function tokenText(token: Buffer): string {
  return token.toString('hex').toUpperCase();
}

/** Content-Format of a message, undefined without one. */
function contentFormat(msg: CoapMessage): number | undefined {
  const value = msg.options.find((o) => o.number === Opt.CONTENT_FORMAT)?.value;
  return value === undefined ? undefined : decodeUint(value);
}

/** Bytes as Californium's Utils.toHexText: lowercase, space separated, 32 per line. */
export function hexText(bytes: Buffer): string {
  let text = bytes.length > 16 ? '\n' : '';
  for (let i = 0; i < bytes.length; i++) {
    text += bytes[i]!.toString(16).padStart(2, '0');
    if (i < bytes.length - 1) text += (i & 31) === 31 ? '\n' : ' ';
  }
  return text;
}

/**
 * The payload as a person reads it: printable formats (none, text, link-format, XML, JSON) as UTF-8 text as is, CBOR in
 * diagnostic notation, other bytes (or text with control characters) as hex.
 */
export function payloadText(msg: CoapMessage): string {
  const format = contentFormat(msg);
  if (format === 60) {
    try {
      return cborDiagnostic(decodeCbor(msg.payload));
    } catch (err) {
      if (!(err instanceof CborError)) throw err;
    }
  }
  if (PRINTABLE_FORMATS.has(format)) {
    const text = msg.payload.toString('utf8');
    if (isPrintable(text)) return text;
  }
  return hexText(msg.payload);
}

function isPrintable(text: string): boolean {
  // no replacement characters and no control characters other than tab, CR, LF
  return !/[\uFFFD\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F]/.test(text);
}

/** Options of a block print. */
export interface BlockOptions {
  /** round-trip time in ms (responses; the `RTT` line) */
  rttMs?: number;
  /** longest payload printed in full; longer ones are cut and marked with `»` */
  maxPayload?: number;
}

function payloadLines(msg: CoapMessage, maxPayload: number | undefined): string[] {
  const lines = [`Payload: ${msg.payload.length} Bytes`];
  if (msg.payload.length > 0) {
    lines.push(PAYLOAD_SEPARATOR);
    if (maxPayload !== undefined && msg.payload.length > maxPayload) {
      lines.push(payloadText({ ...msg, payload: msg.payload.subarray(0, maxPayload) }) + '\u00bb');
    } else {
      lines.push(payloadText(msg));
    }
  }
  return lines;
}

/** The request block (Californium's Utils.prettyPrint(Request)), one string per line. */
export function requestLines(msg: CoapMessage, opts: BlockOptions = {}): string[] {
  return [
    REQUEST_HEAD,
    `MID    : ${msg.mid}`,
    `Token  : ${tokenText(msg.token)}`,
    `Type   : ${TYPE_NAMES[msg.type]}`,
    msg.code === 0 ? 'Method : 0.00 - PING' : `Method : ${codeText(msg.code)} - ${codeName(msg.code)}`,
    `Options: ${optionsText(msg.options)}`,
    ...payloadLines(msg, opts.maxPayload),
    BLOCK_END,
  ];
}

/** The response block (Californium's Utils.prettyPrint(Response)) with the RTT when known, one string per line. */
export function responseLines(msg: CoapMessage, opts: BlockOptions = {}): string[] {
  return [
    RESPONSE_HEAD,
    `MID    : ${msg.mid}`,
    `Token  : ${tokenText(msg.token)}`,
    `Type   : ${TYPE_NAMES[msg.type]}`,
    `Status : ${codeText(msg.code)} - ${codeName(msg.code)}`,
    `Options: ${optionsText(msg.options)}`,
    ...(opts.rttMs !== undefined ? [`RTT    : ${Math.round(opts.rttMs)} ms`] : []),
    ...payloadLines(msg, opts.maxPayload),
    BLOCK_END,
  ];
}

/** The block of a message: request block for requests (and pings), response block otherwise. */
export function messageBlock(msg: CoapMessage, opts: BlockOptions = {}): string[] {
  return msg.code < 32 ? requestLines(msg, opts) : responseLines(msg, opts);
}

/**
 * The identity line of a DTLS session as Californium prints the endpoint context's principal. For PSK suites the
 * client's session carries its own PSK identity (the one it sent in the ClientKeyExchange), for certificate suites
 * the server's identity (RPK `ni:` URI or X.509 subject).
 */
export function principalText(cipherSuite: string, identity: string): string {
  if (cipherSuite.includes('_PSK_')) return `PreSharedKey Identity [identity: ${identity}]`;
  if (identity.startsWith('ni:')) return `RawPublicKey Identity [${identity}]`;
  return `x509 [${identity.replace(/\n/g, ', ')}]`;
}

/** Session id as in `DTLS(<peer>,ID:<first 10 hex characters>)`. */
function sessionIdText(id: Buffer): string {
  return id.toString('hex').toUpperCase().slice(0, 10);
}

/**
 * The `>>>` lines of the endpoint context a response arrived on (Californium's Utils.prettyPrint(EndpointContext)):
 * `>>> DTLS(<peer>,ID:<session id>)`, the cipher suite, the identity, and read/write CID when the session has CIDs.
 * For coaps+tcp the `>>> TLS(...)` lines. Undefined for plain UDP and TCP.
 */
export function sessionLines(ctx: EndpointContext): string[] | undefined {
  const t = ctx.tls;
  if (t) {
    // coaps+tcp: `>>> TLS(<peer>,ID:<session id>)`, the protocol and cipher suite, the server's subject
    const lines = [`>>> TLS(${peerKey(ctx.address, ctx.port)},ID:${sessionIdText(t.sessionId)})`, `>>> ${t.protocol} ${t.cipherSuite}`];
    if (t.peerIdentity !== undefined) lines.push(`>>> x509 [${t.peerIdentity}]`);
    return lines;
  }
  const d = ctx.dtls;
  if (!d) return undefined;
  const lines = [`>>> DTLS(${peerKey(ctx.address, ctx.port)},ID:${sessionIdText(d.sessionId)})`, `>>> ${d.cipherSuite}`];
  if (d.peerIdentity !== undefined) lines.push(`>>> ${principalText(d.cipherSuite, d.peerIdentity)}`);
  if (d.readCid !== undefined) lines.push(`>>> read-cid : ${d.readCid.toString('hex').toUpperCase()}`);
  if (d.writeCid !== undefined) lines.push(`>>> write-cid: ${d.writeCid.toString('hex').toUpperCase()}`);
  return lines;
}

/** Longest payload shown by a trace line. */
const TRACE_PAYLOAD = 32;

/** The payload of a trace line: `no payload`, `"text"` or hex, cut after 32 bytes with `.. <n> bytes`. */
export function tracePayload(payload: Buffer): string {
  if (payload.length === 0) return 'no payload';
  const head = payload.subarray(0, TRACE_PAYLOAD);
  const more = payload.length > TRACE_PAYLOAD ? `.. ${payload.length} bytes` : '';
  const text = head.toString('utf8');
  if (isPrintable(text)) return `"${text.replace(/\r?\n/g, '\\n')}"${more}`;
  return head.toString('hex') + more;
}

/** One message as Californium's Message.toString: `CON-GET    MID=12635, Token=…, OptionSet={…}, no payload`. */
export function traceText(msg: CoapMessage): string {
  const type = TYPE_NAMES[msg.type];
  const mid = String(msg.mid).padStart(5);
  if (msg.code === 0) return `${type}        MID=${mid}`;
  const code = msg.code < 32 ? codeName(msg.code) : codeText(msg.code);
  return `${type}-${code.padEnd(6)} MID=${mid}, Token=${tokenText(msg.token)}, OptionSet=${optionsText(msg.options)}, ${tracePayload(msg.payload)}`;
}

/** A trace line of a sent (`<==`) or received (`==>`) message: `<peer> <== req CON-GET …`. */
export function traceLine(direction: 'send' | 'receive', msg: CoapMessage, peer: { address: string; port: number }): string {
  const kind = msg.code === 0 ? 'emp' : msg.code < 32 ? 'req' : 'res';
  return `${peerKey(peer.address, peer.port)} ${direction === 'send' ? '<==' : '==>'} ${kind} ${traceText(msg)}`;
}

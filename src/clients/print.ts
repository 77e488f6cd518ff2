// Human-readable printing of CoAP messages for the command line clients.
import { decode as cborDecode } from 'cbor-x';
import { TYPE_NAMES, codeName, codeText, formatName, Opt, type CoapMessage } from '../coap/message.js';
import { decodeBlock, decodeUint } from '../coap/options.js';

const OPTION_NAMES = new Map<number, string>(
  Object.entries(Opt).map(([name, num]) => [num, name.split('_').map((w) => w[0] + w.slice(1).toLowerCase()).join('-')]),
);
const UINT_OPTIONS = new Set<number>([Opt.OBSERVE, Opt.URI_PORT, Opt.CONTENT_FORMAT, Opt.MAX_AGE, Opt.ACCEPT, Opt.SIZE1, Opt.SIZE2, Opt.NO_RESPONSE]);
const TEXT_OPTIONS = new Set<number>([Opt.URI_HOST, Opt.LOCATION_PATH, Opt.URI_PATH, Opt.URI_QUERY, Opt.LOCATION_QUERY, Opt.PROXY_URI, Opt.PROXY_SCHEME]);

/** Text of one option value as a person reads it. */
export function optionValueText(number: number, value: Buffer): string {
  if (number === Opt.CONTENT_FORMAT || number === Opt.ACCEPT) {
    const f = decodeUint(value);
    return `${f} (${formatName(f)})`;
  }
  if (number === Opt.BLOCK1 || number === Opt.BLOCK2) {
    const b = decodeBlock(value);
    return b ? `num ${b.num}, ${b.more ? 'more' : 'last'}, size ${1 << (b.szx + 4)}` : `invalid 0x${value.toString('hex')}`;
  }
  if (UINT_OPTIONS.has(number)) return String(decodeUint(value));
  if (TEXT_OPTIONS.has(number)) return value.toString('utf8');
  return '0x' + value.toString('hex').toUpperCase();
}

/** The lines describing a message: type, code, MID, token, options and payload. */
export function messageLines(msg: CoapMessage, withPayload = true): string[] {
  const lines = [
    `${codeText(msg.code)} ${codeName(msg.code)} (${TYPE_NAMES[msg.type]}, MID ${msg.mid}, token ${msg.token.toString('hex').toUpperCase() || '-'})`,
  ];
  for (const o of msg.options) lines.push(`  ${OPTION_NAMES.get(o.number) ?? `Option-${o.number}`}: ${optionValueText(o.number, o.value)}`);
  if (withPayload) {
    lines.push(`Payload: ${msg.payload.length} bytes`);
    if (msg.payload.length > 0) lines.push(payloadText(msg));
  }
  return lines;
}

/** The payload as text: UTF-8 text as is, JSON pretty printed, CBOR as JSON, other bytes as hex. */
export function payloadText(msg: CoapMessage): string {
  const fmtValue = msg.options.find((o) => o.number === Opt.CONTENT_FORMAT)?.value;
  const format = fmtValue ? decodeUint(fmtValue) : undefined;
  try {
    if (format === 60) return JSON.stringify(cborDecode(msg.payload), bigintSafe, 2);
    if (format === 50) return JSON.stringify(JSON.parse(msg.payload.toString('utf8')), null, 2);
  } catch {
    // fall through to the raw forms
  }
  const text = msg.payload.toString('utf8');
  if (format === 42 || !isPrintable(text)) return msg.payload.toString('hex').toUpperCase();
  return text;
}

function bigintSafe(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Uint8Array) return Buffer.from(value).toString('hex').toUpperCase();
  return value;
}

function isPrintable(text: string): boolean {
  // no replacement characters and no control characters other than tab, CR, LF
  return !/[\uFFFD\u0000-\u0008\u000B\u000C\u000E-\u001F]/.test(text);
}

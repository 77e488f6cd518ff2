// CoAP message model (RFC 7252 §3): types, codes, option numbers and content formats.

/** Message type numbers (RFC 7252 §3). */
export const CON = 0;
export const NON = 1;
export const ACK = 2;
export const RST = 3;
/** A CoAP message type: CON 0, NON 1, ACK 2, RST 3. */
export type MessageType = 0 | 1 | 2 | 3;
/** Type names indexed by type number. */
export const TYPE_NAMES = ['CON', 'NON', 'ACK', 'RST'] as const;

/** One option instance: number and raw value bytes. */
export interface CoapOption {
  number: number;
  value: Buffer;
}

/** A decoded CoAP message; options are kept sorted by number (stable for repeats). */
export interface CoapMessage {
  type: MessageType;
  /** code byte: class << 5 | detail */
  code: number;
  mid: number;
  token: Buffer;
  options: CoapOption[];
  payload: Buffer;
}

/** Builds a code byte from class and detail (e.g. 2, 5 → 2.05). */
export function codeOf(cls: number, detail: number): number {
  return (cls << 5) | detail;
}

/** Method and response codes (RFC 7252 §12.1, RFC 7959, RFC 8132). */
export const Code = {
  EMPTY: 0,
  GET: 1,
  POST: 2,
  PUT: 3,
  DELETE: 4,
  FETCH: 5,
  PATCH: 6,
  IPATCH: 7,
  CREATED: codeOf(2, 1),
  DELETED: codeOf(2, 2),
  VALID: codeOf(2, 3),
  CHANGED: codeOf(2, 4),
  CONTENT: codeOf(2, 5),
  CONTINUE: codeOf(2, 31),
  BAD_REQUEST: codeOf(4, 0),
  UNAUTHORIZED: codeOf(4, 1),
  BAD_OPTION: codeOf(4, 2),
  FORBIDDEN: codeOf(4, 3),
  NOT_FOUND: codeOf(4, 4),
  METHOD_NOT_ALLOWED: codeOf(4, 5),
  NOT_ACCEPTABLE: codeOf(4, 6),
  REQUEST_ENTITY_INCOMPLETE: codeOf(4, 8),
  CONFLICT: codeOf(4, 9),
  PRECONDITION_FAILED: codeOf(4, 12),
  REQUEST_ENTITY_TOO_LARGE: codeOf(4, 13),
  UNSUPPORTED_CONTENT_FORMAT: codeOf(4, 15),
  UNPROCESSABLE_ENTITY: codeOf(4, 22),
  TOO_MANY_REQUESTS: codeOf(4, 29),
  INTERNAL_SERVER_ERROR: codeOf(5, 0),
  NOT_IMPLEMENTED: codeOf(5, 1),
  BAD_GATEWAY: codeOf(5, 2),
  SERVICE_UNAVAILABLE: codeOf(5, 3),
  GATEWAY_TIMEOUT: codeOf(5, 4),
  PROXY_NOT_SUPPORTED: codeOf(5, 5),
} as const;

const CODE_NAMES = new Map<number, string>();
for (const [name, value] of Object.entries(Code)) {
  if (!CODE_NAMES.has(value)) CODE_NAMES.set(value, name);
}

/** Californium style name of a code (`GET`, `CONTENT`, `NOT_FOUND`, ...). */
export function codeName(code: number): string {
  return CODE_NAMES.get(code) ?? codeText(code);
}

/** Dotted text of a code, e.g. `2.05`. */
export function codeText(code: number): string {
  return `${code >> 5}.${String(code & 0x1f).padStart(2, '0')}`;
}

/** True for request method codes (0.01-0.31). */
export function isRequestCode(code: number): boolean {
  return code > 0 && code < 32;
}

/** True for response codes (2.00-5.31). */
export function isResponseCode(code: number): boolean {
  return code >= 64 && code < 192;
}

/** True for success (2.xx) codes. */
export function isSuccess(code: number): boolean {
  return code >> 5 === 2;
}

/** Option numbers (RFC 7252 §5.10, 7641, 7959, 8613, 7967). */
export const Opt = {
  IF_MATCH: 1,
  URI_HOST: 3,
  ETAG: 4,
  IF_NONE_MATCH: 5,
  OBSERVE: 6,
  URI_PORT: 7,
  LOCATION_PATH: 8,
  OSCORE: 9,
  URI_PATH: 11,
  CONTENT_FORMAT: 12,
  MAX_AGE: 14,
  URI_QUERY: 15,
  ACCEPT: 17,
  LOCATION_QUERY: 20,
  BLOCK2: 23,
  BLOCK1: 27,
  SIZE2: 28,
  PROXY_URI: 35,
  PROXY_SCHEME: 39,
  SIZE1: 60,
  NO_RESPONSE: 258,
} as const;

/** Content-Format numbers used by the resources. */
export const Format = {
  TEXT: 0,
  LINK: 40,
  XML: 41,
  OCTETS: 42,
  EXI: 47,
  JSON: 50,
  CBOR: 60,
} as const;

const FORMAT_NAMES: Record<number, string> = {
  0: 'text/plain',
  16: 'application/cose; cose-type="cose-encrypt0"',
  40: 'application/link-format',
  41: 'application/xml',
  42: 'application/octet-stream',
  47: 'application/exi',
  50: 'application/json',
  60: 'application/cbor',
};

/** MIME name of a content format, `unknown/<n>` for unregistered numbers. */
export function formatName(format: number): string {
  return FORMAT_NAMES[format] ?? `unknown/${format}`;
}

/** Creates an empty message (used for ACK, RST and ping). */
export function emptyMessage(type: MessageType, mid: number): CoapMessage {
  return { type, code: 0, mid, token: EMPTY, options: [], payload: EMPTY };
}

/** A shared zero-length buffer. */
export const EMPTY: Buffer = Buffer.alloc(0);

// Alert protocol (RFC 5246 §7.2; descriptions from RFC 5246 §7.2.2, RFC 4279 §6, RFC 5746 via
// RFC 5246, RFC 6066 §9, RFC 7507 §2).
import { type DecodeResult, fail, ok } from './result.js';

/** Alert levels (RFC 5246 §7.2). */
export const AlertLevel = {
  WARNING: 1,
  FATAL: 2,
} as const;

/** An alert level code. */
export type AlertLevelCode = (typeof AlertLevel)[keyof typeof AlertLevel];

/** Alert descriptions (RFC 5246 §7.2, plus later registrations used by DTLS 1.2 stacks). */
export const AlertDescription = {
  CLOSE_NOTIFY: 0,
  UNEXPECTED_MESSAGE: 10,
  BAD_RECORD_MAC: 20,
  DECRYPTION_FAILED_RESERVED: 21,
  RECORD_OVERFLOW: 22,
  DECOMPRESSION_FAILURE: 30,
  HANDSHAKE_FAILURE: 40,
  NO_CERTIFICATE_RESERVED: 41,
  BAD_CERTIFICATE: 42,
  UNSUPPORTED_CERTIFICATE: 43,
  CERTIFICATE_REVOKED: 44,
  CERTIFICATE_EXPIRED: 45,
  CERTIFICATE_UNKNOWN: 46,
  ILLEGAL_PARAMETER: 47,
  UNKNOWN_CA: 48,
  ACCESS_DENIED: 49,
  DECODE_ERROR: 50,
  DECRYPT_ERROR: 51,
  EXPORT_RESTRICTION_RESERVED: 60,
  PROTOCOL_VERSION: 70,
  INSUFFICIENT_SECURITY: 71,
  INTERNAL_ERROR: 80,
  INAPPROPRIATE_FALLBACK: 86,
  USER_CANCELED: 90,
  NO_RENEGOTIATION: 100,
  UNSUPPORTED_EXTENSION: 110,
  CERTIFICATE_UNOBTAINABLE: 111,
  UNRECOGNIZED_NAME: 112,
  BAD_CERTIFICATE_STATUS_RESPONSE: 113,
  BAD_CERTIFICATE_HASH_VALUE: 114,
  UNKNOWN_PSK_IDENTITY: 115,
} as const;

/** A known alert description code (decoded alerts may carry any 0..255 value). */
export type AlertDescriptionCode = (typeof AlertDescription)[keyof typeof AlertDescription];

const DESCRIPTION_NAMES = new Map<number, string>(
  Object.entries(AlertDescription).map(([name, code]) => [code, name.toLowerCase()]),
);

/** RFC name of an alert description (`decode_error`, ...), or `unknown(<n>)`. */
export function alertDescriptionName(description: number): string {
  return DESCRIPTION_NAMES.get(description) ?? `unknown(${description})`;
}

/** RFC name of an alert level (`warning`, `fatal`), or `unknown(<n>)`. */
export function alertLevelName(level: number): string {
  return level === AlertLevel.WARNING ? 'warning' : level === AlertLevel.FATAL ? 'fatal' : `unknown(${level})`;
}

/** An alert record body (RFC 5246 §7.2). */
export interface Alert {
  level: AlertLevelCode;
  /** description code; unknown codes are kept as received */
  description: number;
}

/** Encodes an alert record body: level(1) ‖ description(1) (RFC 5246 §7.2). */
export function encodeAlert(alert: Alert): Buffer {
  return Buffer.from([alert.level, alert.description & 0xff]);
}

/** Decodes an alert record body; exactly 2 bytes, level 1 or 2 (RFC 5246 §7.2). */
export function decodeAlert(body: Buffer): DecodeResult<Alert> {
  if (body.length !== 2) return fail(AlertDescription.DECODE_ERROR, `alert length ${body.length} != 2`);
  const level = body[0]!;
  if (level !== AlertLevel.WARNING && level !== AlertLevel.FATAL) {
    return fail(AlertDescription.ILLEGAL_PARAMETER, `alert level ${level}`);
  }
  return ok({ level, description: body[1]! });
}

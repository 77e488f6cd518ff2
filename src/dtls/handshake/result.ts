// Decoder result type: decoders never throw on hostile input, they name the alert to send
// (RFC 5246 §7.2.2: decode_error for malformed messages, illegal_parameter for out-of-range fields).
import type { AlertDescriptionCode } from './alert.js';

/** Successful decode. */
export interface DecodeOk<T> {
  ok: true;
  value: T;
}

/** Failed decode: the fatal alert the handshake should send and a diagnostic reason. */
export interface DecodeFail {
  ok: false;
  alert: AlertDescriptionCode;
  reason: string;
}

/** Result of every wire decoder in this package. */
export type DecodeResult<T> = DecodeOk<T> | DecodeFail;

/** Builds a successful result. */
export function ok<T>(value: T): DecodeOk<T> {
  return { ok: true, value };
}

/** Builds a failed result. */
export function fail(alert: AlertDescriptionCode, reason: string): DecodeFail {
  return { ok: false, alert, reason };
}

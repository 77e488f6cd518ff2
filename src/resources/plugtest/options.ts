// Small builders for response options used by several plugtest resources.
import { type CoapOption, Opt } from '../../coap/message.js';
import { encodeUint } from '../../coap/options.js';

/** A Max-Age option with `seconds`. */
export function maxAge(seconds: number): CoapOption {
  return { number: Opt.MAX_AGE, value: encodeUint(seconds) };
}

/** Location-Path options, one per segment. */
export function locationPath(segments: readonly string[]): CoapOption[] {
  return segments.map((s) => ({ number: Opt.LOCATION_PATH, value: Buffer.from(s, 'utf8') }));
}

/** Location-Query options, one per entry. */
export function locationQuery(entries: readonly string[]): CoapOption[] {
  return entries.map((s) => ({ number: Opt.LOCATION_QUERY, value: Buffer.from(s, 'utf8') }));
}

/** An ETag option. */
export function etag(value: Buffer): CoapOption {
  return { number: Opt.ETAG, value: Buffer.from(value) };
}

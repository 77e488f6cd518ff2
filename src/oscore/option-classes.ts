// OSCORE option classes (RFC 8613 §4.1, Figure 5): which options are encrypted (Class E), which stay outer
// (Class U), and how the special options (§4.1.3) are split on protect and merged on unprotect.
import { Opt, type CoapOption } from '../coap/message.js';

/** Protection class of an option (§4.1): 'E' inner only, 'U' outer only, 'EU' both (inner authoritative). */
export type OptionClass = 'E' | 'U' | 'EU';

// Figure 5; options not listed are Class E for the sender (§4.1: "not listed ... SHALL be treated as Class E")
const CLASSES = new Map<number, OptionClass>([
  [Opt.IF_MATCH, 'E'],
  [Opt.URI_HOST, 'U'],
  [Opt.ETAG, 'E'],
  [Opt.IF_NONE_MATCH, 'E'],
  [Opt.OBSERVE, 'EU'], // §4.1.3.5
  [Opt.URI_PORT, 'U'],
  [Opt.LOCATION_PATH, 'E'],
  [Opt.OSCORE, 'U'],
  [Opt.URI_PATH, 'E'],
  [Opt.CONTENT_FORMAT, 'E'],
  [Opt.MAX_AGE, 'EU'], // §4.1.3.1
  [Opt.URI_QUERY, 'E'],
  [Opt.ACCEPT, 'E'],
  [Opt.LOCATION_QUERY, 'E'],
  [Opt.BLOCK2, 'EU'], // §4.1.3.4
  [Opt.BLOCK1, 'EU'],
  [Opt.SIZE2, 'EU'],
  [Opt.PROXY_URI, 'U'], // §4.1.3.3 (after decomposition)
  [Opt.PROXY_SCHEME, 'U'],
  [Opt.SIZE1, 'EU'],
  [Opt.NO_RESPONSE, 'EU'], // §4.1.3.6
]);

/** Class of an option number for the sender (§4.1); unknown options are Class E. */
export function optionClass(number: number): OptionClass {
  return CLASSES.get(number) ?? 'E';
}

/** Outer block-wise options (§4.1.3.4.2); outer block-wise of the protected message is not supported here. */
const OUTER_BLOCK = new Set<number>([Opt.BLOCK1, Opt.BLOCK2, Opt.SIZE1, Opt.SIZE2]);

/** Inner and outer options of a message about to be protected. */
export interface SplitOptions {
  /** Class E options and the inner copies of the special options (sorted, OSCORE excluded) */
  inner: CoapOption[];
  /** Class U options and the outer copy of Observe (sorted, without the OSCORE option) */
  outer: CoapOption[];
}

/**
 * Splits the options of a plain message for protection (§4.1): Class E inner; Class U outer; Observe both
 * (§4.1.3.5: the outer copy lets proxies relay notifications); Max-Age, Block1/Block2, Size1/Size2 and
 * No-Response inner only (no outer block-wise, no outer Max-Age on protected success responses, §4.1.3.1).
 * Any OSCORE option present is dropped (the caller adds the real one).
 */
export function splitForProtection(options: readonly CoapOption[]): SplitOptions {
  const inner: CoapOption[] = [];
  const outer: CoapOption[] = [];
  for (const o of options) {
    if (o.number === Opt.OSCORE) continue;
    const cls = optionClass(o.number);
    if (cls === 'U') outer.push(o);
    else inner.push(o);
    if (o.number === Opt.OBSERVE) outer.push(o);
  }
  return { inner, outer };
}

/**
 * Merges the verified inner options with the outer ones into the options of the unprotected message
 * (§8.2 steps 2, 8, 9 / §8.4): outer options that are Class E only are discarded; an outer option whose
 * number also occurs inner is discarded (inner wins: Observe, Max-Age, No-Response ...); outer Block1/Block2/
 * Size1/Size2 are discarded (they describe the protected message, whose outer block-wise transfer is out of
 * scope); the OSCORE option becomes a zero-length OSCORE option, the marker that the message was protected
 * (as Californium keeps it for the resource layer). Unknown outer options are kept so that the normal CoAP
 * processing rejects unknown critical ones. The result is sorted, stable for repeated options.
 */
export function mergeAfterVerification(inner: readonly CoapOption[], outer: readonly CoapOption[]): CoapOption[] {
  const innerNumbers = new Set<number>();
  for (const o of inner) innerNumbers.add(o.number);
  const out: CoapOption[] = [...inner];
  let marker = false;
  for (const o of outer) {
    if (o.number === Opt.OSCORE) {
      marker = true;
      continue;
    }
    if (innerNumbers.has(o.number) || OUTER_BLOCK.has(o.number)) continue;
    const cls = CLASSES.get(o.number);
    if (cls === 'E') continue;
    // outer Observe / Max-Age without an inner one are for intermediaries (§4.1.3.1, §4.1.3.5)
    if (o.number === Opt.OBSERVE || o.number === Opt.MAX_AGE) continue;
    out.push(o);
  }
  if (marker) out.push({ number: Opt.OSCORE, value: Buffer.alloc(0) });
  return out.sort((a, b) => a.number - b.number);
}

/** True when the options carry an inner Block1 or Block2 (inner block-wise, §4.1.3.4.1). */
export function hasInnerBlock(options: readonly CoapOption[]): boolean {
  return options.some((o) => o.number === Opt.BLOCK1 || o.number === Opt.BLOCK2);
}

/** Number of OSCORE options in a message (more than one is a bad option, RFC 7252 §5.4.5). */
export function countOscoreOptions(options: readonly CoapOption[]): number {
  let n = 0;
  for (const o of options) if (o.number === Opt.OSCORE) n++;
  return n;
}

/** Value of the message's OSCORE option, or undefined when it has none. */
export function oscoreOptionOf(options: readonly CoapOption[]): Buffer | undefined {
  for (const o of options) if (o.number === Opt.OSCORE) return o.value;
  return undefined;
}

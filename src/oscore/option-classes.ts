// OSCORE option classes (RFC 8613 §4.1, Figure 5): which options are encrypted (Class E), which stay outer
// (Class U), and how the special options (§4.1.3) are split on protect and merged on unprotect.
import { EMPTY, Opt, type CoapOption } from '../coap/message.js';

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
  if (!isSorted(inner) || !isSorted(outer)) return mergeUnsorted(inner, outer);
  // both sorted (as decoded messages are): one pass over outer picks the kept ones in order, a second merges
  const kept: CoapOption[] = [];
  let marker = false;
  let j = 0;
  for (const o of outer) {
    if (o.number === Opt.OSCORE) {
      if (!marker) kept.push({ number: Opt.OSCORE, value: EMPTY });
      marker = true;
      continue;
    }
    while (j < inner.length && inner[j]!.number < o.number) j++;
    if ((j < inner.length && inner[j]!.number === o.number) || !keptOuter(o.number)) continue;
    kept.push(o);
  }
  if (kept.length === 0) return inner.slice();
  const out: CoapOption[] = new Array<CoapOption>(inner.length + kept.length);
  let a = 0;
  let b = 0;
  for (let k = 0; k < out.length; k++) {
    // ties: inner first, as the stable sort of inner followed by outer
    out[k] = b >= kept.length || (a < inner.length && inner[a]!.number <= kept[b]!.number) ? inner[a++]! : kept[b++]!;
  }
  return out;
}

/** An outer option without an inner one of its number that stays in the unprotected message (see mergeAfterVerification). */
function keptOuter(number: number): boolean {
  if (OUTER_BLOCK.has(number)) return false;
  if (CLASSES.get(number) === 'E') return false;
  // outer Observe / Max-Age without an inner one are for intermediaries (§4.1.3.1, §4.1.3.5)
  return number !== Opt.OBSERVE && number !== Opt.MAX_AGE;
}

function isSorted(options: readonly CoapOption[]): boolean {
  for (let i = 1; i < options.length; i++) if (options[i]!.number < options[i - 1]!.number) return false;
  return true;
}

/** mergeAfterVerification for option lists not in order (not from a decoder): filter, then a stable sort. */
function mergeUnsorted(inner: readonly CoapOption[], outer: readonly CoapOption[]): CoapOption[] {
  const innerNumbers = new Set<number>();
  for (const o of inner) innerNumbers.add(o.number);
  const out: CoapOption[] = [...inner];
  let marker = false;
  for (const o of outer) {
    if (o.number === Opt.OSCORE) {
      marker = true;
      continue;
    }
    if (innerNumbers.has(o.number) || !keptOuter(o.number)) continue;
    out.push(o);
  }
  if (marker) out.push({ number: Opt.OSCORE, value: Buffer.alloc(0) });
  return out.sort((a, b) => a.number - b.number);
}

/**
 * The outer options of a protected message (§4.1, §6): the Class U options (sorted, from splitForProtection)
 * with the OSCORE option of `value` at its place; a new array, the input is left as it is.
 */
export function withOscoreOption(outer: readonly CoapOption[], value: Buffer): CoapOption[] {
  const oscore: CoapOption = { number: Opt.OSCORE, value };
  if (!isSorted(outer)) return [...outer, oscore].sort((a, b) => a.number - b.number);
  const out: CoapOption[] = new Array<CoapOption>(outer.length + 1);
  let i = 0;
  for (; i < outer.length && outer[i]!.number <= Opt.OSCORE; i++) out[i] = outer[i]!;
  out[i] = oscore;
  for (; i < outer.length; i++) out[i + 1] = outer[i]!;
  return out;
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

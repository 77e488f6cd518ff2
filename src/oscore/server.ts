// OSCORE at the CoAP message level, server side (RFC 8613 §8.2 verify a request, §8.3 protect a response,
// §7.4 replay, §4 option classes, Appendix B.2 re-derivation). Neither function throws on network input.
import { ACK, CON, Code, EMPTY, NON, Opt, type CoapMessage, type CoapOption, type MessageType } from '../coap/message.js';
import { encodeUint } from '../coap/options.js';
import type { SecurityContext } from './context.js';
import { TAG_LENGTH } from './cose.js';
import { countOscoreOptions, hasInnerBlock, mergeAfterVerification, oscoreOptionOf, splitForProtection, withOscoreOption } from './option-classes.js';
import { OscoreError, decodeOscoreOption, isOscoreError, type OscoreFailure } from './option.js';
import { outerCode, protectResponse, protectResponseWithAad, verifyRequest, type RequestBinding, type UnprotectedRequest } from './protect.js';
import { classifyRederivation, completeServerRederivation, decodeKidContext, deriveWithIdContext, startServerRederivation } from './rederive.js';
import { entriesForKid, hasKid, lookupContext, maxUnfragmentedSize, type OscoreContextEntry, type OscoreContextStore } from './store.js';

/** Value of OscoreExchange.brand: only this module has it, so no other hook state can pass for an exchange. */
const EXCHANGE_BRAND: unique symbol = Symbol('OscoreExchange');

/** What a verified request's responses need: the context, the request binding (§5.4, §8.3) and a response count. */
export interface OscoreExchange {
  /** marks a state unprotectIncomingRequest created (isOscoreExchange) */
  readonly brand: symbol;
  readonly entry: OscoreContextEntry;
  /** the context the request was verified with (responses use it even if B.2 later replaces the entry's) */
  readonly ctx: SecurityContext;
  readonly request: RequestBinding;
  /** the request's Partial IV as a number */
  readonly sequenceNumber: number;
  /** the request's AAD (§5.4), which every response and notification of the exchange shares */
  readonly aad: Buffer;
  /** the inner request carried Observe (registration or deregistration) */
  readonly observe: boolean;
  /** responses protected so far; only the first may reuse the request nonce (§8.3) */
  responses: number;
}

/** Why a request was answered by the OSCORE layer instead of being processed. */
export type OscoreRejection = OscoreFailure | 'rederivation' | 'too-large' | 'internal';

/** Result of unprotectIncomingRequest. */
export type UnprotectRequestResult =
  /** no OSCORE option: process the message as it is */
  | { kind: 'plain' }
  /** verified: the inner request merged with the outer options (same type, MID and token) and the exchange state */
  | { kind: 'ok'; request: CoapMessage; state: OscoreExchange }
  /** not to be processed: send `response` (an unprotected error, or the protected B.2 Response #1) */
  | { kind: 'error'; response: CoapMessage; reason: OscoreRejection };

/** Options of protectOutgoingResponse. */
export interface ProtectResponseMessageOptions {
  /** an Observe notification: always a fresh Partial IV (§4.1.3.5.2, §8.3) */
  notification?: boolean;
}

// Diagnostic payloads (§8.2, §7.4; the strings Californium's ErrorDescriptions uses)
const DIAGNOSTICS: Record<OscoreRejection, { code: number; text: string }> = {
  'bad-option': { code: Code.BAD_OPTION, text: 'Failed to decode COSE' },
  'context-not-found': { code: Code.UNAUTHORIZED, text: 'Security context not found' },
  replay: { code: Code.UNAUTHORIZED, text: 'Replay detected' },
  'decryption-failed': { code: Code.BAD_REQUEST, text: 'Decryption failed' },
  'bad-plaintext': { code: Code.BAD_REQUEST, text: 'Decryption failed' },
  'sequence-exhausted': { code: Code.INTERNAL_SERVER_ERROR, text: 'Sequence number exhausted' },
  rederivation: { code: Code.UNAUTHORIZED, text: '' },
  'too-large': { code: Code.REQUEST_ENTITY_TOO_LARGE, text: 'Message exceeds MAX_UNFRAGMENTED_SIZE' },
  internal: { code: Code.INTERNAL_SERVER_ERROR, text: 'OSCORE processing failed' },
};

function answerType(request: CoapMessage): MessageType {
  return request.type === CON ? ACK : NON;
}

/**
 * The unprotected error answer to a request (§8.2, §7.4): piggybacked ACK for CON, else NON (the MID is the
 * request's; a message layer may renumber a NON), same token, outer Max-Age 0 (§4.1.3.1, so intermediaries do
 * not cache it), Content-Format text/plain and the diagnostic payload, as Californium's CoapOSExceptionHandler.
 */
export function oscoreErrorResponse(request: CoapMessage, reason: OscoreRejection): CoapMessage {
  const d = DIAGNOSTICS[reason];
  return {
    type: answerType(request),
    code: d.code,
    mid: request.mid,
    token: request.token,
    options: [
      { number: Opt.CONTENT_FORMAT, value: encodeUint(0) },
      { number: Opt.MAX_AGE, value: encodeUint(0) },
    ],
    payload: d.text === '' ? EMPTY : Buffer.from(d.text, 'utf8'),
  };
}

function rejected(request: CoapMessage, reason: OscoreRejection): UnprotectRequestResult {
  return { kind: 'error', response: oscoreErrorResponse(request, reason), reason };
}

function fail(failure: OscoreFailure, message: string): never {
  throw new OscoreError(failure, message);
}

function accepted(msg: CoapMessage, entry: OscoreContextEntry, ctx: SecurityContext, v: UnprotectedRequest): UnprotectRequestResult {
  const inner = v.inner;
  // a request's inner code is a method (§5.3); an inner OSCORE option is not allowed (Class U only)
  if (inner.code < 1 || inner.code > 31) fail('bad-plaintext', 'inner code is no request method');
  let observe = false;
  for (const o of inner.options) {
    if (o.number === Opt.OSCORE) fail('bad-plaintext', 'inner OSCORE option');
    if (o.number === Opt.OBSERVE) observe = true;
  }
  const request: CoapMessage = {
    type: msg.type,
    code: inner.code,
    mid: msg.mid,
    token: msg.token,
    options: mergeAfterVerification(inner.options, msg.options),
    payload: inner.payload,
  };
  return { kind: 'ok', request, state: { brand: EXCHANGE_BRAND, entry, ctx, request: v.request, sequenceNumber: v.sequenceNumber, aad: v.aad, observe, responses: 0 } };
}

/** True for the exchange state of a request unprotectIncomingRequest verified (a hook slot's state may be anything). */
export function isOscoreExchange(state: unknown): state is OscoreExchange {
  return typeof state === 'object' && state !== null && (state as { brand?: unknown }).brand === EXCHANGE_BRAND;
}

/** Appendix B.2 on an entry with re-derivation enabled, for a kid context that matches no active context. */
function rederive(msg: CoapMessage, entry: OscoreContextEntry, kid: Buffer, piv: Buffer, wireKidContext: Buffer): UnprotectRequestResult {
  const idContext = decodeKidContext(wireKidContext, entry.config.kidContextEncoding);
  if (idContext === undefined) fail('context-not-found', 'kid context not in the re-derivation form');
  const step = classifyRederivation(entry, idContext);
  if (step.step === 'request2') {
    const ctx = deriveWithIdContext(entry.config, step.idContext);
    const v = verifyRequest(ctx, kid, piv, msg.payload);
    completeServerRederivation(entry, ctx);
    return accepted(msg, entry, ctx, v);
  }
  // Request #1: verify with ID1, then answer 4.01 protected with R2||ID1 without processing the request
  const v = verifyRequest(deriveWithIdContext(entry.config, step.id1), kid, piv, msg.payload);
  const next = startServerRederivation(entry, step.id1);
  const parts = protectResponse(next.ctx, { code: Code.UNAUTHORIZED, options: [], payload: EMPTY }, v.request, { kidContext: next.kidContext });
  const response: CoapMessage = {
    type: answerType(msg),
    code: outerCode(false),
    mid: msg.mid,
    token: msg.token,
    options: [{ number: Opt.OSCORE, value: parts.option }],
    payload: parts.ciphertext,
  };
  return { kind: 'error', response, reason: 'rederivation' };
}

function unprotectOrThrow(store: OscoreContextStore, msg: CoapMessage): UnprotectRequestResult {
  const count = countOscoreOptions(msg.options);
  if (count === 0) return { kind: 'plain' };
  // RFC 7252 §5.4.5: a repeated non-repeatable critical option is a bad option
  if (count > 1) fail('bad-option', 'repeated OSCORE option');
  const o = decodeOscoreOption(oscoreOptionOf(msg.options)!);
  // §6.1: a request carries kid and Partial IV; §8.2 step 3: no COSE ciphertext is a decoding failure
  if (o.partialIv === undefined || o.kid === undefined) fail('bad-option', 'request without kid or Partial IV');
  if (msg.payload.length === 0) fail('bad-option', 'no ciphertext');
  if (!hasKid(store, o.kid)) fail('context-not-found', 'Security context not found');
  let entry = lookupContext(store, o.kid, o.kidContext);
  if (entry === undefined && o.kidContext !== undefined) {
    const b2 = entriesForKid(store, o.kid).filter((e) => e.config.rederivation === true);
    if (b2.length === 1) {
      entry = b2[0]!;
      if (msg.payload.length > maxUnfragmentedSize(entry) + TAG_LENGTH) return rejected(msg, 'too-large');
      return rederive(msg, entry, o.kid, o.partialIv, o.kidContext);
    }
  }
  if (entry === undefined) fail('context-not-found', 'Security context not found');
  // without inner block-wise a message is bounded by MAX_UNFRAGMENTED_SIZE (the tag is on top of it)
  if (msg.payload.length > maxUnfragmentedSize(entry) + TAG_LENGTH) return rejected(msg, 'too-large');
  return accepted(msg, entry, entry.active, verifyRequest(entry.active, o.kid, o.partialIv, msg.payload));
}

/**
 * Server side of §8.2 for one incoming request: 'plain' without OSCORE option; 'ok' with the verified inner
 * request (outer Class U options merged, OSCORE option left as a zero-length marker) and the exchange state;
 * or 'error' with the response to send: 4.02 "Failed to decode COSE" (malformed or repeated OSCORE option,
 * no kid or Partial IV, no ciphertext), 4.01 "Security context not found" (unknown kid / kid context),
 * 4.01 "Replay detected" (§7.4), 4.00 "Decryption failed" (AEAD failure or bad plaintext), 4.13 over
 * MAX_UNFRAGMENTED_SIZE, or the protected 4.01 Response #1 of Appendix B.2. Never throws.
 */
export function unprotectIncomingRequest(store: OscoreContextStore, msg: CoapMessage): UnprotectRequestResult {
  try {
    return unprotectOrThrow(store, msg);
  } catch (e) {
    return rejected(msg, isOscoreError(e) ? e.failure : 'internal');
  }
}

function plainError(resp: CoapMessage, code: number): CoapMessage {
  return { type: resp.type, code, mid: resp.mid, token: resp.token, options: [], payload: EMPTY };
}

/**
 * Server side of §8.3: protects a response (or notification) to a verified request. Class E options and the
 * payload go into the ciphertext (§4.1), Observe inner and outer (§4.1.3.5), outer code 2.05 with Observe
 * else 2.04 (§4.2); type, MID and token stay. The first response reuses the request nonce (empty OSCORE
 * option); notifications and every later response take a fresh Partial IV, so a nonce is never used twice.
 * A ciphertext over MAX_UNFRAGMENTED_SIZE without inner block-wise, or exhausted sequence numbers (§7.2.1),
 * give an unprotected 5.00 instead, as Californium does. Never throws.
 */
export function protectOutgoingResponse(state: OscoreExchange, resp: CoapMessage, opts: ProtectResponseMessageOptions = {}): CoapMessage {
  const { inner, outer } = splitForProtection(resp.options);
  const observe = inner.some((o) => o.number === Opt.OBSERVE);
  const fresh = opts.notification === true || state.responses > 0;
  let parts;
  try {
    parts = protectResponseWithAad(state.ctx, { code: resp.code, options: inner, payload: resp.payload }, state.request, state.aad, { partialIv: fresh });
  } catch {
    return plainError(resp, Code.INTERNAL_SERVER_ERROR);
  } finally {
    state.responses++;
  }
  if (parts.ciphertext.length > maxUnfragmentedSize(state.entry) + TAG_LENGTH && !hasInnerBlock(inner)) {
    return plainError(resp, Code.INTERNAL_SERVER_ERROR);
  }
  return { type: resp.type, code: outerCode(false, observe), mid: resp.mid, token: resp.token, options: withOscoreOption(outer, parts.option), payload: parts.ciphertext };
}

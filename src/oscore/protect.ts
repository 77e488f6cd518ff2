// OSCORE message protection on plain data (RFC 8613 §5.3 plaintext, §8.1-§8.4 protect / verify requests and responses).
import { decodeMessage, encode, isFormatFailure } from '../coap/codec.js';
import { Code, EMPTY, type CoapOption } from '../coap/message.js';
import { nextSequenceNumber, replayAccept, replayCheck, type SecurityContext } from './context.js';
import { aeadDecrypt, aeadEncrypt, buildAad, computeNonce, decodePartialIv, encodePartialIv } from './cose.js';
import { OscoreError, decodeOscoreOption, encodeOscoreOption, type OscoreOptionValue } from './option.js';

/** The inner message OSCORE encrypts (§5.3): the real code, the Class E options (sorted by number) and the payload. */
export interface InnerMessage {
  code: number;
  options: CoapOption[];
  payload: Buffer;
}

/** What a request's responses are bound to (§5.4 request_kid / request_piv, §5.2 nonce reused without a Partial IV). */
export interface RequestBinding {
  readonly kid: Buffer;
  readonly partialIv: Buffer;
  readonly nonce: Buffer;
}

/** A protected message in parts (§6): the OSCORE option value and the outer payload (ciphertext | tag). */
export interface ProtectedParts {
  option: Buffer;
  ciphertext: Buffer;
}

/** A protected request: its parts and the binding to keep for its responses. */
export interface ProtectedRequest extends ProtectedParts {
  request: RequestBinding;
}

/** A verified request: the inner message, the binding for the response, and its sequence number. */
export interface UnprotectedRequest {
  inner: InnerMessage;
  request: RequestBinding;
  sequenceNumber: number;
  /** the request's AAD (§5.4): its responses are protected with the same bytes (request_kid, request_piv) */
  aad: Buffer;
}

/** Options of protectRequest. */
export interface ProtectRequestOptions {
  /** put the ID Context as kid context into the option (§6.1); default: when the context has one */
  kidContext?: boolean;
  /** the kid context bytes to send instead of the ID Context (Appendix B.2 with an encoded ID Context) */
  kidContextValue?: Buffer;
}

/** Options of protectResponse. */
export interface ProtectResponseOptions {
  /** use a fresh Partial IV from the Sender Sequence Number (§8.3; needed e.g. for Observe notifications); default false */
  partialIv?: boolean;
  /** kid context to put into the response's option (§6.1; Appendix B.2 Response #1 carries R2); implies partialIv */
  kidContext?: Buffer;
}

/** Outer code of a protected message (§4.2): POST / FETCH (Observe) for requests, 2.04 / 2.05 (Observe) for responses. */
export function outerCode(request: boolean, observe = false): number {
  if (request) return observe ? Code.FETCH : Code.POST;
  return observe ? Code.CONTENT : Code.CHANGED;
}

/** The plaintext (§5.3): code byte | Class E options in CoAP option encoding | 0xFF | payload (marker only with a payload). */
export function encodePlaintext(inner: InnerMessage): Buffer {
  const options = sortedOptions(inner.options);
  // the project's message encoder with an empty token: 4 header bytes, then options, marker and payload; the
  // plaintext is that from the last header byte on, with the code written over it (no second buffer)
  const msg = encode({ type: 0, code: inner.code, mid: 0, token: EMPTY, options, payload: inner.payload });
  msg[3] = inner.code;
  return msg.subarray(3);
}

/** The options sorted by number (stable); the array itself when it already is (the usual case, no copy). */
function sortedOptions(options: CoapOption[]): CoapOption[] {
  for (let i = 1; i < options.length; i++) {
    if (options[i]!.number < options[i - 1]!.number) return [...options].sort((a, b) => a.number - b.number);
  }
  return options;
}

/** Parses a plaintext (§5.3); throws OscoreError 'bad-plaintext' when it is no valid inner message. */
export function decodePlaintext(plaintext: Buffer): InnerMessage {
  if (plaintext.length === 0) throw new OscoreError('bad-plaintext', 'empty plaintext');
  const code = plaintext[0]!;
  if (code === 0) throw new OscoreError('bad-plaintext', 'inner code 0.00');
  // the project's message decoder on a token-less header (version 1, CON, the code, MID 0) and the rest
  const msg = Buffer.allocUnsafe(plaintext.length + 3);
  msg[0] = 0x40;
  msg[1] = code;
  msg[2] = 0;
  msg[3] = 0;
  plaintext.copy(msg, 4, 1);
  const r = decodeMessage(msg);
  if (isFormatFailure(r)) throw new OscoreError('bad-plaintext', `bad plaintext: ${r.reason}`);
  return { code, options: r.options, payload: r.payload };
}

function decrypt(ctx: SecurityContext, nonce: Buffer, aad: Buffer, ciphertext: Buffer): Buffer {
  const pt = aeadDecrypt(ctx.recipient.key, nonce, aad, ciphertext);
  if (pt === undefined) throw new OscoreError('decryption-failed', 'Decryption failed');
  return pt;
}

/** Protects a request (§8.1) with the next Sender Sequence Number; kid = Sender ID, Partial IV = sequence number. */
export function protectRequest(ctx: SecurityContext, inner: InnerMessage, opts: ProtectRequestOptions = {}): ProtectedRequest {
  return protectRequestPlaintext(ctx, encodePlaintext(inner), opts);
}

/** protectRequest of an already encoded plaintext (§5.3), e.g. one inner request sent many times with fresh Partial IVs. */
export function protectRequestPlaintext(ctx: SecurityContext, plaintext: Buffer, opts: ProtectRequestOptions = {}): ProtectedRequest {
  const seq = nextSequenceNumber(ctx.sender);
  const kid = ctx.sender.id;
  const piv = encodePartialIv(seq);
  const nonce = computeNonce(ctx.commonIv, kid, piv);
  const kidContext = opts.kidContextValue ?? ((opts.kidContext ?? true) ? ctx.idContext : undefined);
  const option = encodeOscoreOption(kidContext !== undefined ? { partialIv: piv, kid, kidContext } : { partialIv: piv, kid });
  const ciphertext = aeadEncrypt(ctx.sender.key, nonce, buildAad(kid, piv, ctx.aeadAlg), plaintext);
  return { option, ciphertext, request: { kid, partialIv: piv, nonce } };
}

/**
 * Verifies and decrypts a request (§8.2): option value and outer payload in; throws OscoreError
 * ('bad-option', 'context-not-found', 'replay', 'decryption-failed', 'bad-plaintext'). The replay window
 * is updated only after the request verified.
 */
export function unprotectRequest(ctx: SecurityContext, optionValue: Buffer, ciphertext: Buffer): UnprotectedRequest {
  const o = decodeOscoreOption(optionValue);
  // §6.1: a request carries both kid and Partial IV
  if (o.partialIv === undefined) throw new OscoreError('bad-option', 'request without Partial IV');
  if (o.kid === undefined) throw new OscoreError('bad-option', 'request without kid');
  if (!o.kid.equals(ctx.recipient.id)) throw new OscoreError('context-not-found', 'Security context not found');
  if (o.kidContext !== undefined && (ctx.idContext === undefined || !o.kidContext.equals(ctx.idContext))) {
    throw new OscoreError('context-not-found', 'Security context not found');
  }
  return verifyRequest(ctx, o.kid, o.partialIv, ciphertext);
}

/**
 * Steps 4-7 of §8.2 for a request whose context is already chosen: replay check (§7.4), nonce, AAD,
 * decryption, then the replay window update and the plaintext. Throws OscoreError ('replay',
 * 'decryption-failed', 'bad-plaintext').
 */
export function verifyRequest(ctx: SecurityContext, requestKid: Buffer, partialIv: Buffer, ciphertext: Buffer): UnprotectedRequest {
  // the kid is the Recipient ID whenever the context was found by it (else a copy); the Partial IV stays a view
  // of the request (the binding lives with the exchange, as the request's token does)
  const kid = requestKid.equals(ctx.recipient.id) ? ctx.recipient.id : Buffer.from(requestKid);
  const piv = partialIv;
  const seq = decodePartialIv(piv);
  const verdict = replayCheck(ctx.recipient.replay, seq);
  if (verdict !== 'ok') throw new OscoreError('replay', `Replay detected (${verdict} Partial IV ${seq})`);
  const nonce = computeNonce(ctx.commonIv, kid, piv);
  const aad = buildAad(kid, piv, ctx.aeadAlg);
  const plaintext = decrypt(ctx, nonce, aad, ciphertext);
  replayAccept(ctx.recipient.replay, seq);
  return { inner: decodePlaintext(plaintext), request: { kid, partialIv: piv, nonce }, sequenceNumber: seq, aad };
}

/**
 * Protects a response to a request (§8.3): without a Partial IV it reuses the request nonce and the option is
 * empty; with one it takes the next Sender Sequence Number and the nonce from the Sender ID.
 */
export function protectResponse(ctx: SecurityContext, inner: InnerMessage, request: RequestBinding, opts: ProtectResponseOptions = {}): ProtectedParts {
  return protectResponseWithAad(ctx, inner, request, buildAad(request.kid, request.partialIv, ctx.aeadAlg), opts);
}

/** protectResponse with the request's AAD (§5.4) already built, e.g. UnprotectedRequest.aad of the verified request. */
export function protectResponseWithAad(ctx: SecurityContext, inner: InnerMessage, request: RequestBinding, aad: Buffer, opts: ProtectResponseOptions = {}): ProtectedParts {
  const plaintext = encodePlaintext(inner);
  if (!opts.partialIv && opts.kidContext === undefined) {
    return { option: EMPTY, ciphertext: aeadEncrypt(ctx.sender.key, request.nonce, aad, plaintext) };
  }
  const piv = encodePartialIv(nextSequenceNumber(ctx.sender));
  const nonce = computeNonce(ctx.commonIv, ctx.sender.id, piv);
  const option = encodeOscoreOption(opts.kidContext !== undefined ? { partialIv: piv, kidContext: opts.kidContext } : { partialIv: piv });
  return { option, ciphertext: aeadEncrypt(ctx.sender.key, nonce, aad, plaintext) };
}

/**
 * Verifies and decrypts a response to the request it is bound to (§8.4); throws OscoreError ('bad-option',
 * 'decryption-failed', 'bad-plaintext'). Ordering of notifications (§7.4.1) is the caller's.
 */
export function unprotectResponse(ctx: SecurityContext, optionValue: Buffer, ciphertext: Buffer, request: RequestBinding): InnerMessage {
  return unprotectResponseWith(ctx, decodeOscoreOption(optionValue), ciphertext, request);
}

/** unprotectResponse with the OSCORE option already decoded (§6.1), for a caller that needs its fields too. */
export function unprotectResponseWith(ctx: SecurityContext, o: OscoreOptionValue, ciphertext: Buffer, request: RequestBinding): InnerMessage {
  const nonce = o.partialIv === undefined ? request.nonce : computeNonce(ctx.commonIv, ctx.recipient.id, o.partialIv);
  return decodePlaintext(decrypt(ctx, nonce, buildAad(request.kid, request.partialIv, ctx.aeadAlg), ciphertext));
}

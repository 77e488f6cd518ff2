// OSCORE at the CoAP message level, client side for our own clients and tests (RFC 8613 §8.1 protect a
// request, §8.4 verify a response, §7.4.1 notification order, §4.1.3.3 Proxy-Uri decomposition).
import { EMPTY, Opt, type CoapMessage, type CoapOption } from '../coap/message.js';
import type { SecurityContext } from './context.js';
import { decodePartialIv } from './cose.js';
import { countOscoreOptions, mergeAfterVerification, oscoreOptionOf, splitForProtection, withOscoreOption } from './option-classes.js';
import { decodeOscoreOption, isOscoreError, type OscoreFailure } from './option.js';
import { outerCode, protectRequest, unprotectResponseWith, type ProtectRequestOptions, type RequestBinding } from './protect.js';

/** What the client keeps of a protected request to verify its responses (and order its notifications). */
export interface ClientRequestBinding extends RequestBinding {
  /** the request registered an observation (inner Observe 0) */
  readonly observe: boolean;
  /** Notification Number (§7.4.1): Partial IV of the newest notification accepted, undefined before the first */
  notificationNumber: number | undefined;
}

/** Result of unprotectIncomingResponse. */
export type UnprotectResponseResult =
  /** no OSCORE option (e.g. the server's unprotected OSCORE error answer) */
  | { kind: 'plain'; response: CoapMessage }
  /** verified: inner code, options and payload with the outer type, MID and token; the Partial IV if it had one */
  | { kind: 'ok'; response: CoapMessage; partialIv: number | undefined; kidContext: Buffer | undefined }
  | { kind: 'error'; failure: OscoreFailure; message: string };

/**
 * §4.1.3.3: a Proxy-Uri is decomposed; its path and query become inner Uri-Path / Uri-Query, the outer
 * Proxy-Uri keeps scheme, host and port. Throws RangeError on an unparsable Proxy-Uri (caller input).
 */
function decomposeProxyUri(options: readonly CoapOption[]): readonly CoapOption[] {
  const proxy = options.find((o) => o.number === Opt.PROXY_URI);
  if (proxy === undefined) return options;
  let url: URL;
  try {
    url = new URL(proxy.value.toString('utf8'));
  } catch {
    throw new RangeError('unparsable Proxy-Uri');
  }
  const out = options.filter((o) => o.number !== Opt.PROXY_URI && o.number !== Opt.URI_PATH && o.number !== Opt.URI_QUERY);
  out.push({ number: Opt.PROXY_URI, value: Buffer.from(`${url.protocol}//${url.host}`, 'utf8') });
  for (const seg of url.pathname.split('/').slice(1)) {
    if (seg !== '') out.push({ number: Opt.URI_PATH, value: Buffer.from(decodeURIComponent(seg), 'utf8') });
  }
  if (url.search.length > 1) {
    for (const q of url.search.slice(1).split('&')) out.push({ number: Opt.URI_QUERY, value: Buffer.from(decodeURIComponent(q), 'utf8') });
  }
  return out.sort((a, b) => a.number - b.number);
}

/**
 * §8.1: protects a plain request with the next Sender Sequence Number. Class E options and the payload are
 * encrypted; the outer message is POST, or FETCH when it carries Observe (§4.2), with the Class U options,
 * the outer Observe copy and the OSCORE option. Throws OscoreError 'sequence-exhausted' or RangeError (a bad
 * Proxy-Uri): its input is our own, not the network's.
 */
export function protectOutgoingRequest(ctx: SecurityContext, req: CoapMessage, opts: ProtectRequestOptions = {}): { message: CoapMessage; binding: ClientRequestBinding } {
  const { inner, outer } = splitForProtection(decomposeProxyUri(req.options));
  const observe = inner.some((o) => o.number === Opt.OBSERVE);
  const p = protectRequest(ctx, { code: req.code, options: inner, payload: req.payload }, opts);
  const options = withOscoreOption(outer, p.option);
  const message: CoapMessage = { type: req.type, code: outerCode(true, observe), mid: req.mid, token: req.token, options, payload: p.ciphertext };
  const registers = observe && inner.some((o) => o.number === Opt.OBSERVE && o.value.length === 0);
  return { message, binding: { ...p.request, observe: registers, notificationNumber: undefined } };
}

/**
 * §8.4: verifies a response to the request of `binding`. Notifications (inner Observe) must carry a Partial
 * IV newer than the Notification Number (§7.4.1; an older one is reported as 'replay'). Never throws.
 */
export function unprotectIncomingResponse(ctx: SecurityContext, resp: CoapMessage, binding: ClientRequestBinding): UnprotectResponseResult {
  try {
    const count = countOscoreOptions(resp.options);
    if (count === 0) return { kind: 'plain', response: resp };
    if (count > 1) return { kind: 'error', failure: 'bad-option', message: 'repeated OSCORE option' };
    const value = oscoreOptionOf(resp.options)!;
    const o = decodeOscoreOption(value);
    const inner = unprotectResponseWith(ctx, o, resp.payload, binding);
    const partialIv = o.partialIv === undefined ? undefined : decodePartialIv(o.partialIv);
    if (inner.options.some((x) => x.number === Opt.OBSERVE)) {
      // §4.1.3.5.2: notifications after the first carry a Partial IV; §7.4.1: only newer ones are delivered
      if (partialIv === undefined && binding.notificationNumber !== undefined) {
        return { kind: 'error', failure: 'replay', message: 'notification without Partial IV' };
      }
      if (partialIv !== undefined) {
        if (binding.notificationNumber !== undefined && partialIv <= binding.notificationNumber) {
          return { kind: 'error', failure: 'replay', message: `notification ${partialIv} not newer than ${binding.notificationNumber}` };
        }
        binding.notificationNumber = partialIv;
      }
    }
    const response: CoapMessage = {
      type: resp.type,
      code: inner.code,
      mid: resp.mid,
      token: resp.token,
      options: mergeAfterVerification(inner.options, resp.options),
      payload: inner.payload.length === 0 ? EMPTY : inner.payload,
    };
    return { kind: 'ok', response, partialIv, kidContext: o.kidContext };
  } catch (e) {
    if (isOscoreError(e)) return { kind: 'error', failure: e.failure, message: e.message };
    return { kind: 'error', failure: 'decryption-failed', message: e instanceof Error ? e.message : String(e) };
  }
}

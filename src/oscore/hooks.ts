// OSCORE (RFC 8613) plugged into a CoAP endpoint through its message hooks (coap/message-layer.ts): the server
// side unprotects requests (§8.2) and protects their responses and notifications (§8.3), the client side
// protects the requests that ask for it (§8.1) and verifies their responses (§8.4). The hooks run after
// deduplication and never for retransmissions, so a repeated CON gets its cached protected answer and is not
// taken for a replay. Neither hook throws on network input.
import { Opt, type CoapMessage } from '../coap/message.js';
import type { HookSlot, InboundVerdict, MessageHooks } from '../coap/message-layer.js';
import type { SecurityContext } from './context.js';
import { protectOutgoingRequest, unprotectIncomingResponse, type ClientRequestBinding } from './client.js';
import { isOscoreExchange, protectOutgoingResponse, unprotectIncomingRequest } from './server.js';
import type { OscoreContextStore } from './store.js';

/** Request codes are 0.01-0.31 (RFC 7252 §12.1.1); responses 2.xx-5.xx. */
function isRequest(msg: CoapMessage): boolean {
  return msg.code >= 1 && msg.code <= 31;
}

function hasObserve(msg: CoapMessage): boolean {
  for (const o of msg.options) if (o.number === Opt.OBSERVE) return true;
  return false;
}

/**
 * The server's hooks: a request without OSCORE option passes unchanged (plain resources work as before, and
 * a protected-only resource sees no marker and refuses it); a verified one becomes the inner request, which
 * keeps a zero-length OSCORE option as the marker (option-classes.ts mergeAfterVerification), with the
 * exchange state kept in `slot.hookState`; a failed one is answered with the §8.2 / §7.4 error (or the
 * protected Appendix B.2 Response #1). Responses to client exchanges of the endpoint pass unchanged.
 * Outbound, every message of a slot holding an OSCORE exchange is protected (a notification, i.e. a message
 * with Observe, or any later message of the exchange takes a fresh Partial IV); others pass unchanged.
 */
export function oscoreServerHooks(store: OscoreContextStore): MessageHooks {
  return {
    inbound(msg: CoapMessage, _ctx, slot: HookSlot): InboundVerdict {
      if (!isRequest(msg)) return msg;
      const r = unprotectIncomingRequest(store, msg);
      if (r.kind === 'plain') return msg;
      if (r.kind === 'error') return { reply: r.response };
      slot.hookState = r.state;
      return r.request;
    },
    outbound(msg: CoapMessage, _ctx, slot: HookSlot): CoapMessage {
      const state = slot.hookState;
      if (!isOscoreExchange(state)) return msg;
      return protectOutgoingResponse(state, msg, { notification: hasObserve(msg) });
    },
  };
}

/** Value of ClientState.brand: only this module has it, so no other hook state can pass for a client state. */
const CLIENT_BRAND: unique symbol = Symbol('OscoreClientState');

/** What the client hooks keep of a protected request in its exchange's slot. */
interface ClientState {
  readonly brand: typeof CLIENT_BRAND;
  /** the context the request was protected with (its responses are verified with it) */
  readonly ctx: SecurityContext;
  readonly binding: ClientRequestBinding;
}

function isClientState(state: unknown): state is ClientState {
  return typeof state === 'object' && state !== null && (state as { brand?: unknown }).brand === CLIENT_BRAND;
}

/** Options of oscoreClientHooks. */
export interface OscoreClientHooksOptions {
  /** a response that fails verification (§8.4); default: dropped silently */
  onFailure?(slot: HookSlot, message: string): void;
  /** a request was protected: the plain request (MID and token set) and the message sent instead */
  onProtected?(plain: CoapMessage, sent: CoapMessage): void;
  /** protect every request, not only those carrying PROTECT_MARKER; default false */
  all?: boolean;
}

/** The zero-length OSCORE option a request carries to ask the client hooks for protection. */
export const PROTECT_MARKER = { number: Opt.OSCORE, value: Buffer.alloc(0) } as const;

function wantsProtection(msg: CoapMessage): boolean {
  for (const o of msg.options) if (o.number === Opt.OSCORE && o.value.length === 0) return true;
  return false;
}

/**
 * A client endpoint's hooks over one security context (or a function giving the current one, e.g. after the
 * client learnt the server's ID Context): a request asking for protection (it carries PROTECT_MARKER, e.g. in
 * RequestSpec.options; `all` protects every request) is protected with the context's next sequence number
 * (§8.1), and its responses are verified against that request (§8.4; an unprotected response, e.g. the
 * server's 4.01 "Replay detected", is passed on as it is). A response that fails verification is dropped,
 * after `onFailure`; an older notification (§7.4.1) is dropped silently. Throws only on our own input (a bad
 * Proxy-Uri, exhausted sequence numbers), from the request's send.
 */
export function oscoreClientHooks(context: SecurityContext | (() => SecurityContext), opts: OscoreClientHooksOptions = {}): MessageHooks {
  return {
    inbound(msg: CoapMessage, _ctx, slot: HookSlot): InboundVerdict {
      if (isRequest(msg)) return msg;
      const state = slot.hookState;
      if (!isClientState(state)) return msg;
      const r = unprotectIncomingResponse(state.ctx, msg, state.binding);
      if (r.kind !== 'error') return r.response;
      if (r.failure !== 'replay') opts.onFailure?.(slot, `OSCORE: ${r.message}`);
      return undefined;
    },
    outbound(msg: CoapMessage, _ctx, slot: HookSlot): CoapMessage {
      if (!isRequest(msg)) return msg;
      const marked = wantsProtection(msg);
      if (!marked && opts.all !== true) return msg;
      const plain = marked ? { ...msg, options: msg.options.filter((o) => o.number !== Opt.OSCORE) } : msg;
      const ctx = typeof context === 'function' ? context() : context;
      const p = protectOutgoingRequest(ctx, plain);
      const state: ClientState = { brand: CLIENT_BRAND, ctx, binding: p.binding };
      slot.hookState = state;
      opts.onProtected?.(plain, p.message);
      return p.message;
    },
  };
}

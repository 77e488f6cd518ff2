// Client side of the OSCORE Security Context re-derivation (RFC 8613 Appendix B.2), for our own clients and
// tests: start with a random ID1, verify Response #1 with R2||ID1, continue with R2||R3 (see rederive.ts).
import { randomBytes } from 'node:crypto';
import { Code, type CoapMessage } from '../coap/message.js';
import type { SecurityContext } from './context.js';
import { unprotectIncomingResponse, type ClientRequestBinding } from './client.js';
import { countOscoreOptions, oscoreOptionOf } from './option-classes.js';
import { decodeOscoreOption, isOscoreError } from './option.js';
import { REDERIVATION_NONCE_LENGTH, decodeKidContext, deriveWithIdContext, encodeKidContext } from './rederive.js';
import type { OscoreContextConfig } from './store.js';

/** A client re-derivation in progress: Request #1 is sent with `ctx` and kid context `kidContext`. */
export interface ClientRederivation {
  readonly config: Readonly<OscoreContextConfig>;
  readonly id1: Buffer;
  /** the context with ID Context ID1 that protects Request #1 */
  readonly ctx: SecurityContext;
  /** the kid context to send with Request #1 (protectOutgoingRequest option kidContextValue) */
  readonly kidContext: Buffer;
}

/** Result of a Response #1: the context R2||R3 and the kid context for Request #2 and on, or why it failed. */
export type ClientRederivationResult = { kind: 'ok'; ctx: SecurityContext; kidContext: Buffer } | { kind: 'error'; message: string };

/** Starts Appendix B.2 on the client: a fresh ID1 (8 random bytes unless given) and its context. */
export function startClientRederivation(config: OscoreContextConfig, id1: Buffer = randomBytes(REDERIVATION_NONCE_LENGTH)): ClientRederivation {
  return { config, id1: Buffer.from(id1), ctx: deriveWithIdContext(config, id1), kidContext: encodeKidContext(id1, config.kidContextEncoding) };
}

/**
 * Handles Response #1 (Appendix B.2): takes R2 from its kid context, verifies it with ID Context R2||ID1,
 * expects inner 4.01, then derives the context R2||R3 (R3: 8 random bytes unless given). Never throws.
 */
export function continueClientRederivation(state: ClientRederivation, resp: CoapMessage, binding: ClientRequestBinding, r3: Buffer = randomBytes(REDERIVATION_NONCE_LENGTH)): ClientRederivationResult {
  try {
    if (countOscoreOptions(resp.options) !== 1) return { kind: 'error', message: 'Response #1 is not protected' };
    const o = decodeOscoreOption(oscoreOptionOf(resp.options)!);
    if (o.kidContext === undefined || o.partialIv === undefined) return { kind: 'error', message: 'Response #1 without kid context or Partial IV' };
    const r2 = decodeKidContext(o.kidContext, state.config.kidContextEncoding);
    if (r2 === undefined || r2.length === 0) return { kind: 'error', message: 'Response #1 kid context is no R2' };
    const verify = deriveWithIdContext(state.config, Buffer.concat([r2, state.id1]));
    const r = unprotectIncomingResponse(verify, resp, binding);
    if (r.kind !== 'ok') return { kind: 'error', message: r.kind === 'error' ? r.message : 'Response #1 is not protected' };
    if (r.response.code !== Code.UNAUTHORIZED) return { kind: 'error', message: `Response #1 inner code ${r.response.code}` };
    const idContext = Buffer.concat([r2, r3]);
    return { kind: 'ok', ctx: deriveWithIdContext(state.config, idContext), kidContext: encodeKidContext(idContext, state.config.kidContextEncoding) };
  } catch (e) {
    return { kind: 'error', message: isOscoreError(e) || e instanceof Error ? e.message : String(e) };
  }
}

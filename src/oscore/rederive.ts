// OSCORE Security Context re-derivation (RFC 8613 Appendix B.2), server state and the kid context forms:
//
//   Client                                   Server
//   Request #1: kid context ID1, protected    verify with ID Context ID1; generate R2;
//     with ID Context ID1              --->   do not process the request
//                                      <---   Response #1: inner 4.01, kid context R2, Partial IV,
//                                             protected with ID Context R2||ID1 (§8.3: new context → Partial IV)
//   verify with R2||ID1; generate R3
//   Request #2: kid context R2||R3,    --->   R2 is the pending one: verify with R2||R3; the new context
//     protected with ID Context R2||R3        replaces the old one; process the request
//                                      <---   Response #2, protected with R2||R3
//
// The server keeps at most one pending re-derivation (its R2) per configured context.
import { randomBytes } from 'node:crypto';
import { deriveContext, type SecurityContext } from './context.js';
import { cborBstr } from './cose.js';
import type { KidContextEncoding, OscoreContextConfig, OscoreContextEntry } from './store.js';

/** Length of the random values ID1, R2 and R3 (Appendix B.2 recommends at least 8 bytes; Californium uses 8). */
export const REDERIVATION_NONCE_LENGTH = 8;

/** Wire form of an ID Context value in the kid context of a B.2 message. */
export function encodeKidContext(value: Buffer, encoding: KidContextEncoding = 'raw'): Buffer {
  return encoding === 'raw' ? value : cborBstr(value);
}

/** ID Context value of a B.2 kid context; undefined when it is not of the configured form (a bad CBOR bstr). */
export function decodeKidContext(wire: Buffer, encoding: KidContextEncoding = 'raw'): Buffer | undefined {
  if (encoding === 'raw') return wire;
  // RFC 8949 §3: major type 2 with the length in the head (immediate, 1 or 2 bytes; the option is at most 255 bytes)
  if (wire.length === 0 || wire[0]! >> 5 !== 2) return undefined;
  const ai = wire[0]! & 0x1f;
  let len: number;
  let pos: number;
  if (ai < 24) {
    len = ai;
    pos = 1;
  } else if (ai === 24 && wire.length >= 2) {
    len = wire[1]!;
    pos = 2;
  } else if (ai === 25 && wire.length >= 3) {
    len = wire.readUInt16BE(1);
    pos = 3;
  } else {
    return undefined;
  }
  return pos + len === wire.length ? wire.subarray(pos) : undefined;
}

/** The context of a configuration with another ID Context: fresh Sender Sequence Number and replay window. */
export function deriveWithIdContext(config: OscoreContextConfig, idContext: Buffer): SecurityContext {
  return deriveContext({ ...config, idContext, senderSequenceNumber: 0 });
}

/** The server's reading of a B.2 kid context: Request #2 (starts with the pending R2) or a new Request #1. */
export type ServerRederivationStep = { step: 'request2'; idContext: Buffer } | { step: 'request1'; id1: Buffer };

/** Classifies a decoded kid context that matches no active context of an entry with B.2 enabled. */
export function classifyRederivation(entry: OscoreContextEntry, idContext: Buffer): ServerRederivationStep {
  const r2 = entry.pending?.r2;
  if (r2 !== undefined && idContext.length > r2.length && idContext.subarray(0, r2.length).equals(r2)) {
    return { step: 'request2', idContext };
  }
  return { step: 'request1', id1: idContext };
}

/**
 * After a verified Request #1: generates R2, records it as the entry's only pending re-derivation (replacing
 * an older one) and returns the context R2||ID1 that protects Response #1 and the kid context to send.
 */
export function startServerRederivation(entry: OscoreContextEntry, id1: Buffer, r2: Buffer = randomBytes(REDERIVATION_NONCE_LENGTH)): { ctx: SecurityContext; kidContext: Buffer } {
  entry.pending = { r2: Buffer.from(r2) };
  return {
    ctx: deriveWithIdContext(entry.config, Buffer.concat([r2, id1])),
    kidContext: encodeKidContext(r2, entry.config.kidContextEncoding),
  };
}

/** After a verified Request #2: the new context becomes the entry's active one and nothing is pending. */
export function completeServerRederivation(entry: OscoreContextEntry, ctx: SecurityContext): void {
  entry.active = ctx;
  entry.pending = undefined;
}

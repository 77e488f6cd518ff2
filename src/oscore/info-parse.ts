// The client's reading of the plugtest /oscoreInfo text (info.ts, resources.md §3.22): the server's current ID
// Context and the Sender Sequence Number the client should use next, so a new client process does not reuse
// sequence numbers the server's replay window (RFC 8613 §7.4) has already seen.
import { deriveContext, MAX_SEQUENCE_NUMBER, type SecurityContext } from './context.js';
import type { OscoreContextConfig } from './store.js';

/** What /oscoreInfo tells a client; a field is undefined when the text lacks it or it is malformed. */
export interface OscoreInfo {
  idContext: Buffer | undefined;
  sequenceNumber: number | undefined;
}

/** Parses the `ID Context: <HEX>` and `Client Sender Sequence Number: <n>` lines; never throws. */
export function parseOscoreInfo(text: string): OscoreInfo {
  const id = /^ID Context: ([0-9A-Fa-f]*)\s*$/m.exec(text);
  const seq = /^Client Sender Sequence Number: (\d{1,13})\s*$/m.exec(text);
  const hex = id?.[1];
  const n = seq?.[1] === undefined ? undefined : Number(seq[1]);
  return {
    idContext: hex !== undefined && hex.length % 2 === 0 && hex.length <= 2 * 255 ? Buffer.from(hex, 'hex') : undefined,
    sequenceNumber: n !== undefined && n <= MAX_SEQUENCE_NUMBER ? n : undefined,
  };
}

/** The client context of `config` continued at what /oscoreInfo said (an empty ID Context: none). */
export function contextFromInfo(config: OscoreContextConfig, info: OscoreInfo): SecurityContext {
  const params = { ...config };
  if (info.idContext !== undefined) params.idContext = info.idContext.length > 0 ? info.idContext : undefined;
  if (info.sequenceNumber !== undefined) params.senderSequenceNumber = info.sequenceNumber;
  return deriveContext(params);
}

// OSCORE security context store of a server (RFC 8613 §3, §8.2 step 3: context by kid and kid context) and
// the plugtest context of resources.md §3.22.
import { deriveContext, type ContextParams, type SecurityContext } from './context.js';

/** Default MAX_UNFRAGMENTED_SIZE (Californium's OSCORE default and the plugtest setting of resources.md §3.22). */
export const DEFAULT_MAX_UNFRAGMENTED_SIZE = 8192;

/** How the kid context of the Appendix B.2 messages carries ID1, R2 and R2||R3. */
export type KidContextEncoding =
  /** RFC 8613 Appendix B.2 as written: the bytes themselves */
  | 'raw'
  /** Californium's ContextRederivation: each value wrapped as a CBOR byte string */
  | 'cbor-bstr';

/** A configured security context: the §3.2 inputs plus the server's options for it. */
export interface OscoreContextConfig extends ContextParams {
  /** Appendix B.2 context re-derivation enabled; default false */
  rederivation?: boolean;
  /** kid context form of the B.2 messages; default 'raw' */
  kidContextEncoding?: KidContextEncoding;
  /** largest ciphertext of a message without inner block-wise; default DEFAULT_MAX_UNFRAGMENTED_SIZE */
  maxUnfragmentedSize?: number;
}

/** An Appendix B.2 re-derivation the server started (Response #1 sent), waiting for Request #2. */
export interface PendingRederivation {
  /** the R2 sent in Response #1 */
  readonly r2: Buffer;
}

/** One configured context in the store: its configuration, the active derived context, at most one pending B.2. */
export interface OscoreContextEntry {
  readonly config: Readonly<OscoreContextConfig>;
  /** the context in use; Appendix B.2 replaces it */
  active: SecurityContext;
  /** the B.2 re-derivation in progress, if any (at most one per entry) */
  pending: PendingRederivation | undefined;
}

/** The server's security contexts; a fixed set, so memory does not grow with traffic. */
export interface OscoreContextStore {
  readonly entries: readonly OscoreContextEntry[];
}

const h = (hex: string): Buffer => Buffer.from(hex, 'hex');

/** The plugtest server context of resources.md §3.22: sender 02, recipient 01, ID Context 37cbf3210017a2d3, B.2 on. */
export function plugtestServerContext(): OscoreContextConfig {
  return {
    masterSecret: h('0102030405060708090a0b0c0d0e0f10'),
    masterSalt: h('9e7ca92223786340'),
    senderId: h('02'),
    recipientId: h('01'),
    idContext: h('37cbf3210017a2d3'),
    replayWindowSize: 32,
    rederivation: true,
    maxUnfragmentedSize: DEFAULT_MAX_UNFRAGMENTED_SIZE,
  };
}

/** The mirror client context (plugtest.md §5): sender 01, recipient 02, same secrets and ID Context. */
export function plugtestClientContext(): OscoreContextConfig {
  return { ...plugtestServerContext(), senderId: h('01'), recipientId: h('02') };
}

function sameIdContext(a: Buffer | undefined, b: Buffer | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return a.equals(b);
}

/** Creates the store from configurations; throws RangeError on a bad or duplicate (Recipient ID, ID Context). */
export function createOscoreContextStore(configs: readonly OscoreContextConfig[]): OscoreContextStore {
  const entries: OscoreContextEntry[] = [];
  for (const config of configs) {
    const max = config.maxUnfragmentedSize ?? DEFAULT_MAX_UNFRAGMENTED_SIZE;
    if (!Number.isInteger(max) || max < 16) throw new RangeError(`max unfragmented size ${max}`);
    const active = deriveContext(config);
    const dup = entries.find((e) => e.active.recipient.id.equals(active.recipient.id) && sameIdContext(e.active.idContext, active.idContext));
    if (dup !== undefined) throw new RangeError(`duplicate OSCORE context for Recipient ID ${active.recipient.id.toString('hex')}`);
    entries.push({ config: { ...config }, active, pending: undefined });
  }
  return { entries };
}

/** Entries whose Recipient ID equals the kid (§8.2 step 3). */
export function entriesForKid(store: OscoreContextStore, kid: Buffer): OscoreContextEntry[] {
  return store.entries.filter((e) => e.active.recipient.id.equals(kid));
}

/** True when some entry's Recipient ID equals the kid (§8.2 step 3; no array on the request path). */
export function hasKid(store: OscoreContextStore, kid: Buffer): boolean {
  for (const e of store.entries) if (e.active.recipient.id.equals(kid)) return true;
  return false;
}

/**
 * The entry for a kid and an optional kid context (§8.2 step 3): with a kid context, the entry whose active
 * ID Context equals it; without, the only entry of that kid (or the one without ID Context).
 */
export function lookupContext(store: OscoreContextStore, kid: Buffer, kidContext: Buffer | undefined): OscoreContextEntry | undefined {
  let only: OscoreContextEntry | undefined;
  let count = 0;
  let withoutIdContext: OscoreContextEntry | undefined;
  for (const e of store.entries) {
    const active = e.active;
    if (!active.recipient.id.equals(kid)) continue;
    if (kidContext !== undefined) {
      if (active.idContext !== undefined && active.idContext.equals(kidContext)) return e;
      continue;
    }
    count++;
    only = e;
    if (active.idContext === undefined) withoutIdContext ??= e;
  }
  if (kidContext !== undefined) return undefined;
  return count === 1 ? only : withoutIdContext;
}

/** The max unfragmented size of an entry. */
export function maxUnfragmentedSize(entry: OscoreContextEntry): number {
  return entry.config.maxUnfragmentedSize ?? DEFAULT_MAX_UNFRAGMENTED_SIZE;
}

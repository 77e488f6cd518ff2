// Destination and query of the receive test's POST `/requests?dev=..&rid=RID<ms>&ep[&extra]` (clients.md §6).
import { DEFAULT_PORTS } from '../transport.js';

/** The clients' default destination host (clients.md §2). */
export const DEFAULT_HOST = 'californium.eclipseprojects.io';
/** Ports of the receive test on the default host (the extended server's ports). */
export const RECEIVETEST_PORTS: Readonly<Record<string, number>> = { 'coap:': 5783, 'coaps:': 5784, 'coap+tcp:': 5783, 'coaps+tcp:': 5784 };
/** Prefix of the request ids this client sends. */
export const REQUEST_ID_PREFIX = 'RID';
/** Path of the receive test resource. */
export const REQUESTS_PATH = 'requests';

/** Where and what the receive test sends. */
export interface ReceivetestTarget {
  /** `<scheme>://<host>:<port>` of the destination (path and query of the given URI dropped) */
  base: URL;
  /** the query of the given URI (decoded), undefined when there is none */
  extra: string | undefined;
  /** request id `RID<epoch-ms>` */
  rid: string;
  /** Uri-Query options: `dev=..`, `rid=..`, `ep`, then the extra ones */
  query: string[];
  /** the request URI as text */
  text: string;
}

/** Decodes percent escapes, keeping the text as is when it is malformed. */
function decode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** Port of the URI: explicit, else 5783/5784 for the default host, else the scheme's default. */
export function targetPort(uri: URL): number {
  if (uri.port !== '') return Number(uri.port);
  if (uri.hostname === DEFAULT_HOST) return RECEIVETEST_PORTS[uri.protocol]!;
  return DEFAULT_PORTS[uri.protocol]!;
}

/** Builds the receive test request for the given URI, device id and time (epoch ms). */
export function receivetestTarget(uri: URL, dev: string, now: number): ReceivetestTarget {
  // hostname keeps the brackets of an IPv6 literal (coap is no special scheme)
  const base = new URL(`${uri.protocol}//${uri.hostname}:${targetPort(uri)}`);
  const rawExtra = uri.search.length > 1 ? uri.search.slice(1) : undefined;
  const extra = rawExtra === undefined ? undefined : decode(rawExtra);
  const rid = REQUEST_ID_PREFIX + String(now);
  const query = [`dev=${dev}`, `rid=${rid}`, 'ep'];
  if (rawExtra !== undefined) query.push(...rawExtra.split('&').filter((q) => q.length > 0).map(decode));
  const text = `${base.protocol}//${base.host}/${REQUESTS_PATH}?${query.join('&')}`;
  return { base, extra, rid, query, text };
}

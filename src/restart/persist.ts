// Saving and loading the established connections of all DTLS connectors of both servers (restart.md
// §1, §5): selection by max age, component labels, all-or-nothing per component, the envelope.
import type { Logger } from 'pino';
import { ClusterConnector } from '../cluster/cluster-connector.js';
import type { CoapServer } from '../coap/server.js';
import type { Connection } from '../dtls/connection.js';
import { DtlsConnector } from '../dtls/connector.js';
import { EnvelopeError, openEnvelope, sealEnvelope } from './envelope.js';
import { componentLabel, readStream, writeStream, type Component } from './stream.js';

/** The DTLS connectors of the servers' endpoints (a cluster node's inner connector), in endpoint order. */
export function dtlsConnectorsOf(servers: readonly CoapServer[]): DtlsConnector[] {
  const out: DtlsConnector[] = [];
  for (const s of servers) {
    for (const ep of s.endpoints) {
      const c = ep.connector;
      if (c instanceof DtlsConnector) out.push(c);
      else if (c instanceof ClusterConnector) out.push(c.dtls);
    }
  }
  return out;
}

/** Label of a connector's component (`dtls://<host>:<port>`). */
export function connectorLabel(c: DtlsConnector): string {
  return componentLabel(c.localAddress, c.localPort);
}

/** Result of saving: the bytes and the number of connections in them. */
export interface SavedState {
  data: Buffer;
  connections: number;
}

/**
 * Serializes the established connections (closed ones and those idle longer than `maxAgeMs` skipped)
 * of every connector into the plain components stream (restart.md §2) and empties the connection
 * stores (restart.md §1). The /restore service sends this stream as it is (TLS protects it).
 */
export function saveStream(connectors: readonly DtlsConnector[], maxAgeMs: number, logger: Logger, now = Date.now()): SavedState {
  const components: Component[] = connectors.map((c) => {
    const connections: Connection[] = [];
    for (const conn of c.connections()) if (now - conn.lastActivity <= maxAgeMs) connections.push(conn);
    return { label: connectorLabel(c), connections };
  });
  let skipped = 0;
  const data = writeStream(components, undefined, (label, err) => {
    skipped++;
    logger.warn(`save: connection of ${label} skipped: ${err.message}`);
  });
  for (const c of connectors) c.store.clear();
  return { data, connections: components.reduce((n, c) => n + c.connections.length, 0) - skipped };
}

/** saveStream wrapped in the envelope of restart.md §4 (encrypted with a password); the plain copy is wiped. */
export function saveConnectors(connectors: readonly DtlsConnector[], password: Buffer | undefined, maxAgeMs: number, logger: Logger, now = Date.now()): SavedState {
  const plain = saveStream(connectors, maxAgeMs, logger, now);
  const data = sealEnvelope(plain.data, password);
  if (password !== undefined) plain.data.fill(0);
  return { data, connections: plain.connections };
}

/** Outcome of a load: connections restored; `ok` false when the envelope or the stream failed. */
export interface LoadOutcome {
  ok: boolean;
  items: number;
}

/** Options of loadStream. */
export interface LoadStreamOptions {
  /**
   * A component of a wildcard-bound connector (`dtls://0.0.0.0:<port>`, `dtls://[::]:<port>`) with no
   * local label of the same name loads into the single local wildcard-bound connector, if there is
   * exactly one and nothing was loaded into it yet: blue/green on one host needs two ports (restore).
   */
  remapWildcard?: boolean;
}

/**
 * Opens the envelope and restores the connections (loadStream). Logs `load: <ms> ms, <n> items`; never
 * throws; a wrong password, unknown cipher or damaged envelope loads nothing.
 */
export function loadConnectors(connectors: readonly DtlsConnector[], data: Buffer, password: Buffer | undefined, logger: Logger): LoadOutcome {
  let plain: Buffer;
  try {
    plain = openEnvelope(data, password);
  } catch (err) {
    logger.warn(`load failed: ${err instanceof EnvelopeError ? err.message : `cannot open the saved state: ${(err as Error).message}`}`);
    return { ok: false, items: 0 };
  }
  const outcome = loadStream(connectors, plain, logger);
  if (password !== undefined) plain.fill(0);
  return outcome;
}

/**
 * Restores the connections of a plain components stream into the connectors with matching labels
 * (unknown labels are skipped and counted). A parse error ends the load and clears the failing
 * connector. Logs `load: <ms> ms, <n> items`; never throws.
 */
export function loadStream(connectors: readonly DtlsConnector[], plain: Buffer, logger: Logger, options: LoadStreamOptions = {}): LoadOutcome {
  const start = performance.now();
  const byLabel = new Map(connectors.map((c) => [connectorLabel(c), c]));
  const wildcards = connectors.filter((c) => WILDCARD_LABEL.test(connectorLabel(c)));
  const loaded = new Set<DtlsConnector>();
  const target = (label: string): DtlsConnector | undefined => {
    const exact = byLabel.get(label);
    if (exact !== undefined || !options.remapWildcard || !WILDCARD_LABEL.test(label) || wildcards.length !== 1) return exact;
    const only = wildcards[0]!;
    if (loaded.has(only)) return undefined;
    logger.info(`load: component ${label} loaded into ${connectorLabel(only)}`);
    return only;
  };
  let items = 0;
  let skipped = 0;
  let skippedComponents = 0;
  let future = 0;
  const now = Date.now();
  const targets = new Map<string, DtlsConnector>();
  const result = readStream(plain, (component) => {
    const connector = target(component.label);
    if (connector === undefined) {
      skippedComponents++;
      skipped += component.connections.length;
      return;
    }
    loaded.add(connector);
    targets.set(component.label, connector);
    for (const conn of component.connections) if (conn.lastActivity > now) future++;
    items += connector.loadConnections(component.connections, logger);
  });
  if (result.error !== undefined) {
    const { label, where, message } = result.error;
    const failed = label === undefined ? undefined : (targets.get(label) ?? byLabel.get(label));
    failed?.store.clear();
    logger.warn(`load failed in ${where}: ${message}${failed !== undefined ? ` (the connections of ${connectorLabel(failed)} cleared)` : ''}`);
  }
  if (skipped > 0 || skippedComponents > 0) logger.warn(`load: skipped ${skipped} items of ${skippedComponents} unknown component(s)`);
  if (future > 0) logger.warn(`load: ${future} connection(s) with a last activity in the future restored`);
  logger.info(`load: ${Math.round(performance.now() - start)} ms, ${items} items`);
  return { ok: result.error === undefined, items };
}

/** Labels of connectors bound to the IPv4 or IPv6 wildcard address. */
/** Label of a wildcard-bound connector's component. */
export const WILDCARD_LABEL = /^dtls:\/\/(0\.0\.0\.0|\[::\]):\d+$/;

// Saving and loading the established connections of all DTLS connectors of both servers (restart.md
// §1, §5): selection by max age, component labels, all-or-nothing per component, the envelope.
import type { Logger } from 'pino';
import { ClusterConnector } from '../cluster/cluster-connector.js';
import type { CoapServer } from '../coap/server.js';
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
 * of every connector, wraps them in the envelope and empties the connection stores (restart.md §1).
 */
export function saveConnectors(connectors: readonly DtlsConnector[], password: Buffer | undefined, maxAgeMs: number, logger: Logger, now = Date.now()): SavedState {
  const components: Component[] = connectors.map((c) => ({
    label: connectorLabel(c),
    connections: c.saveConnections().filter((j) => now - j.lastActivity <= maxAgeMs),
  }));
  let skipped = 0;
  const plain = writeStream(components, undefined, (label, err) => {
    skipped++;
    logger.warn(`save: connection of ${label} skipped: ${err.message}`);
  });
  const data = sealEnvelope(plain, password);
  if (password !== undefined) plain.fill(0);
  for (const c of connectors) c.store.clear();
  return { data, connections: components.reduce((n, c) => n + c.connections.length, 0) - skipped };
}

/** Outcome of a load: connections restored; `ok` false when the envelope or the stream failed. */
export interface LoadOutcome {
  ok: boolean;
  items: number;
}

/**
 * Opens the envelope and restores the connections into the connectors with matching labels (unknown
 * labels are skipped and counted). A parse error ends the load and clears the failing connector.
 * Logs `load: <ms> ms, <n> items`; never throws.
 */
export function loadConnectors(connectors: readonly DtlsConnector[], data: Buffer, password: Buffer | undefined, logger: Logger): LoadOutcome {
  const start = performance.now();
  let plain: Buffer;
  try {
    plain = openEnvelope(data, password);
  } catch (err) {
    logger.warn(err instanceof EnvelopeError ? err.message : `cannot open saved state: ${(err as Error).message}`);
    return { ok: false, items: 0 };
  }
  const byLabel = new Map(connectors.map((c) => [connectorLabel(c), c]));
  let items = 0;
  let skipped = 0;
  let skippedComponents = 0;
  let future = 0;
  const now = Date.now();
  const result = readStream(plain, (component) => {
    const connector = byLabel.get(component.label);
    if (connector === undefined) {
      skippedComponents++;
      skipped += component.connections.length;
      return;
    }
    future += component.connections.filter((j) => j.lastActivity > now).length;
    items += connector.loadConnections(component.connections);
  });
  if (password !== undefined) plain.fill(0);
  if (result.error !== undefined) {
    const failed = result.error.label === undefined ? undefined : byLabel.get(result.error.label);
    failed?.store.clear();
    logger.warn(`load failed in ${result.error.label ?? 'header'}: ${result.error.message}${failed !== undefined ? ' (its connections cleared)' : ''}`);
  }
  if (skipped > 0 || skippedComponents > 0) logger.warn(`load: skipped ${skipped} items of ${skippedComponents} unknown component(s)`);
  if (future > 0) logger.warn(`load: ${future} connection(s) with a last activity in the future restored`);
  logger.info(`load: ${Math.round(performance.now() - start)} ms, ${items} items`);
  return { ok: result.error === undefined, items };
}

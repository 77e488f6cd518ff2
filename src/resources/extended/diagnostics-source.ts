// Builds the /diagnose DiagnosticsSource from the running servers (filled lazily: the servers are
// created after the resource trees).
import type { CoapEndpoint } from '../../coap/endpoint.js';
import type { CoapServer } from '../../coap/server.js';
import { COUNTER_NAMES } from '../../coap/stats.js';
import type { CounterGroup, DiagnosticEndpoint, DiagnosticGroupProvider, DiagnosticsSource } from './diagnose.js';
import { diagnoseChildName } from './diagnose.js';
import { observeStatsOf } from './observe-stats.js';

/** Settings of createDiagnosticsSource. */
export interface DiagnosticsSourceOptions {
  /** the servers (extended first, then plugtest); read on every request */
  servers: () => readonly CoapServer[];
  /** `SYS.HEALTH_STATUS_INTERVAL` > 0: counters exist; otherwise /diagnose shows no groups */
  counters: boolean;
  /** process start, epoch ms (default: the process' time origin) */
  systemStart?: number;
  /** extra groups of an endpoint, shown before its CoAP message group (default: the connector's diagnosticGroup()) */
  connectorGroups?: (ep: CoapEndpoint) => CounterGroup[];
}

/** The CoAP message counters of an endpoint (tag = endpoint URI). */
export function messageGroup(ep: CoapEndpoint): CounterGroup {
  return { tag: ep.info.uri, counters: COUNTER_NAMES.map((n) => [n, ep.stats.get(n), ep.stats.total.get(n)!] as const) };
}

/** The connector's own group when it implements DiagnosticGroupProvider (DTLS connector). */
export function connectorGroup(ep: CoapEndpoint): CounterGroup[] {
  const provider = ep.connector as Partial<DiagnosticGroupProvider>;
  const group = typeof provider.diagnosticGroup === 'function' ? provider.diagnosticGroup() : undefined;
  return group ? [group] : [];
}

function describe(ep: CoapEndpoint, opts: DiagnosticsSourceOptions): DiagnosticEndpoint {
  const c = ep.connector;
  const secure = c.scheme === 'coaps';
  // the DTLS connector carries its DtlsConfig (nodeId, maxConnections)
  const dtls = secure ? (c as { config?: { nodeId?: number; maxConnections?: number } }).config : undefined;
  const extra = opts.connectorGroups ?? connectorGroup;
  return {
    name: diagnoseChildName(c.protocol, c.localAddress, c.localPort),
    uri: ep.info.uri,
    secure,
    nodeId: dtls?.nodeId,
    maxConnections: dtls?.maxConnections,
    groups: () => (opts.counters ? [...extra(ep), messageGroup(ep)] : []),
  };
}

/** A DiagnosticsSource over the servers' endpoints, with each server's observe statistics. */
export function createDiagnosticsSource(opts: DiagnosticsSourceOptions): DiagnosticsSource {
  return {
    systemStart: opts.systemStart ?? Math.round(performance.timeOrigin),
    lastTransfer() {
      let last = 0;
      for (const s of opts.servers()) for (const ep of s.endpoints) last = Math.max(last, ep.stats.periodStart);
      return last;
    },
    endpoints: () => opts.servers().flatMap((s) => s.endpoints.map((ep) => describe(ep, opts))),
    serverGroups: () => (opts.counters ? opts.servers().map((s) => ({ tag: s.tag, counters: observeStatsOf(s).rows() })) : []),
  };
}

// Builds the /diagnose DiagnosticsSource from the running servers (filled lazily: the servers are
// created after the resource trees).
import type { CoapEndpoint } from '../../coap/endpoint.js';
import type { CoapServer } from '../../coap/server.js';
import { COUNTER_NAMES, counterLabel, periodRows, transferPeriod } from '../../coap/stats.js';
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
  /**
   * endpoints of another process of the server (a worker: the primary's plugtest endpoints), listed after this
   * process' own; their groups come from DiagnosticsSource.others
   */
  remote?: () => readonly RemoteEndpoint[];
  /** the other processes' groups of an endpoint (DiagnosticsSource.others) */
  others?: (name: string) => Promise<CounterGroup[][]>;
  /** extra groups of an endpoint, shown before its CoAP message group (default: the connector's diagnosticGroup()) */
  connectorGroups?: (ep: CoapEndpoint) => CounterGroup[];
}

/** An endpoint of another process as /diagnose lists it (its groups are asked for when shown). */
export type RemoteEndpoint = Omit<DiagnosticEndpoint, 'groups'>;

/** The endpoints of a source as another process lists them. */
export function remoteEndpointsOf(source: DiagnosticsSource): RemoteEndpoint[] {
  return source.endpoints().map(({ name, uri, secure, nodeId, maxConnections }) => ({
    name,
    uri,
    secure,
    ...(nodeId !== undefined ? { nodeId } : {}),
    ...(maxConnections !== undefined ? { maxConnections } : {}),
  }));
}

/** The groups /diagnose shows of the endpoint `name` in this process (server groups first); empty when it has none. */
export function localGroups(source: DiagnosticsSource, name: string): CounterGroup[] {
  const endpoint = source.endpoints().find((e) => e.name === name);
  return [...source.serverGroups(), ...(endpoint?.groups() ?? [])];
}

/** A cumulative counter object of a connector (never reset; its periods are kept by periodRows). */
export interface ConnectorCounters {
  /** `dtls-details` (DtlsConnector.detailStats) or `transport` (a connector's transportStats) */
  name: 'dtls-details' | 'transport';
  /** the object the counters belong to (their period baseline is kept per owner) */
  owner: object;
  counters: Readonly<Record<string, unknown>>;
}

/**
 * The cumulative counter objects of a connector: the DTLS connector's `detailStats` (also of the
 * DtlsConnector a ClusterConnector wraps as `.dtls`) and a `transportStats` record (any connector).
 */
export function connectorCounters(connector: object): ConnectorCounters[] {
  type Source = { detailStats?: Record<string, unknown>; transportStats?: Record<string, unknown> };
  const c = connector as Source & { dtls?: Source };
  const out: ConnectorCounters[] = [];
  if (isRecord(c.detailStats)) out.push({ name: 'dtls-details', owner: c, counters: c.detailStats });
  else if (c.dtls !== undefined && isRecord(c.dtls.detailStats)) out.push({ name: 'dtls-details', owner: c.dtls, counters: c.dtls.detailStats });
  if (isRecord(c.transportStats)) out.push({ name: 'transport', owner: c, counters: c.transportStats });
  return out;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null;
}

/** Host and port of an endpoint's connector as a tag suffix (`127.0.0.1:5784`, `[::1]:5784`). */
function addressOf(ep: CoapEndpoint): string {
  const c = ep.connector;
  return `${c.localAddress.includes(':') ? `[${c.localAddress}]` : c.localAddress}:${c.localPort}`;
}

/**
 * Groups shown after the CoAP message group (beyond the reference): every numeric field of the
 * connector's DTLS `detailStats` (tag `dtls-details:<addr>`) and `transportStats` (tag `transport:<addr>`),
 * keys as words (`helloVerifyRequests` → `hello verify requests`), then the endpoint's bound counters
 * (tag `bounds:<uri>`: evictions and refusals of bounded CoAP state).
 */
export function boundGroups(ep: CoapEndpoint): CounterGroup[] {
  const groups: CounterGroup[] = [];
  for (const c of connectorCounters(ep.connector)) {
    const rows = periodRows(c.owner, c.name, c.counters).map(([k, cur, all]) => [counterLabel(k), cur, all] as const);
    if (rows.length > 0) groups.push({ tag: `${c.name}:${addressOf(ep)}`, counters: rows });
  }
  groups.push({ tag: `bounds:${ep.info.uri}`, counters: ep.stats.bounds.rows() });
  return groups;
}

/** Starts a new period for the connector's cumulative counters (with each periodic health dump). */
export function transferConnectorCounters(ep: CoapEndpoint): void {
  for (const c of connectorCounters(ep.connector)) transferPeriod(c.owner, c.name, c.counters);
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
    groups: () => (opts.counters ? [...extra(ep), messageGroup(ep), ...boundGroups(ep)] : []),
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
    endpoints: () => [
      ...opts.servers().flatMap((s) => s.endpoints.map((ep) => describe(ep, opts))),
      ...(opts.remote?.() ?? []).map((e) => ({ ...e, groups: () => [] })),
    ],
    serverGroups: () => (opts.counters ? opts.servers().map((s) => ({ tag: s.tag, counters: observeStatsOf(s).rows() })) : []),
    ...(opts.others !== undefined ? { others: opts.others } : {}),
  };
}

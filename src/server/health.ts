// Periodic health statistics of all endpoints (cli.md §5, `SYS.HEALTH_STATUS_INTERVAL`).
import type { Logger } from 'pino';
import type { CoapServer } from '../coap/server.js';
import type { Properties } from '../config/index.js';
import { COUNTER_NAMES } from '../coap/stats.js';
import { startUdpDropsReader } from './udp-drops.js';
import { observeStatsOf } from '../resources/extended/observe-stats.js';
import { boundGroups, transferConnectorCounters } from '../resources/extended/diagnostics-source.js';
import type { CounterRow } from '../resources/extended/diagnose.js';
import { sumCounterRows } from '../workers/sum-counters.js';

/**
 * Starts the periodic dump (only endpoints that counted something); the returned stop() ends it. `collect`
 * replaces the servers' own health (a multi-worker primary: the sum over its workers).
 */
export function startHealthLog(
  servers: CoapServer[],
  props: Properties,
  logger: Logger,
  collect?: () => Promise<EndpointHealth[]>,
): { stop(): void } {
  const interval = props.get<number>('SYS.HEALTH_STATUS_INTERVAL') ?? 0;
  const dropsInterval = props.get<number>('UDP_DROPS_READ_INTERVAL') ?? 0;
  // cli.md / config.md §1: the OS drop counters are read only if that is more frequent than the health dump
  const drops = dropsInterval > 0 && (interval <= 0 || dropsInterval < interval) ? startUdpDropsReader(dropsInterval, logger) : { stop() {} };
  if (interval <= 0) return drops;
  const dump = collect === undefined ? () => dumpHealth(servers, logger) : () =>
          void collect().then(
            (h) => logHealth(h, logger),
            (err: Error) => logger.warn(`health: ${err.message}`),
          );
  const timer = setInterval(dump, interval);
  timer.unref();
  return {
    stop: () => {
      clearInterval(timer);
      drops.stop();
    },
  };
}

/** One counter of a health line: the current period and the total including it. */
type Row = CounterRow;

/** `key cur` or `key cur (all overall)` when earlier periods counted too. */
function rowText([key, cur, all]: Row): string {
  return cur === all ? `${key} ${cur}` : `${key} ${cur} (${all} overall)`;
}

/** The connector counters always shown on an endpoint's line (the others only once they counted). */
const ALWAYS_SHOWN = new Set(['connections', 'handshakes succeeded', 'handshakes failed']);

/**
 * What a connector with its own counter group provides: DTLS (src/dtls/connector.ts), cluster
 * (src/cluster/cluster-connector.ts), coap+tcp/coaps+tcp (src/tcp/connector.ts, tags `tcp:`/`tls:`).
 */
interface GroupProvider {
  diagnosticGroup?: () => { tag: string; counters: Array<[string, number, number]> } | undefined;
  transferStats?: () => void;
}

/** Options of one dump. */
export interface DumpOptions {
  /** also endpoints that never counted anything (the console's dump on an empty line) */
  all?: boolean;
}

/** What one endpoint counted, as a health line shows it (plain data: workers send it to the primary). */
export interface EndpointHealth {
  server: string;
  endpoint: string;
  /** the connector's own group (DTLS, cluster, TCP or TLS): its tag and the rows shown */
  connector?: { group: string; rows: Row[] };
  /** the connector's group counted anything */
  connectorCounted: boolean;
  coap: Row[];
  observes: number;
  dedup: number;
  /** the /diagnose groups after the message group that counted (DTLS details, transport, bounds) */
  further: Array<{ tag: string; rows: Row[] }>;
}

/**
 * The health of every endpoint (see dumpHealth), then starts a new period: the DTLS connections and handshakes
 * (and the other DTLS/cluster counters that counted), the CoAP message counters, the observe relations and the
 * deduplicator size, and the further /diagnose groups that counted.
 */
export function collectHealth(servers: readonly CoapServer[]): EndpointHealth[] {
  const now = Date.now();
  const out: EndpointHealth[] = [];
  for (const s of servers) {
    observeStatsOf(s).transfer();
    for (const ep of s.endpoints) {
      const coap: Row[] = [];
      for (const n of COUNTER_NAMES) {
        const cur = ep.stats.get(n);
        const all = ep.stats.total.get(n)! + cur;
        if (all > 0) coap.push([n, cur, all]);
      }
      // the connector's group: DTLS (and a cluster node's forwarding counters, cluster.md §4.5), TCP or TLS
      const connector = ep.connector as GroupProvider;
      const group = connector.diagnosticGroup?.();
      const rows: Row[] = [];
      let connectorCounted = false;
      for (const [k, cur, total] of group?.counters ?? []) {
        // `connections` is a gauge: its current value is also its total
        const all = k === 'connections' ? cur : total + cur;
        if (all > 0) connectorCounted = true;
        if (all > 0 || ALWAYS_SHOWN.has(k)) rows.push([k, cur, all]);
      }
      // DTLS details, transport and bound counters (the /diagnose groups after the message group)
      const further: Array<{ tag: string; rows: Row[] }> = [];
      for (const g of boundGroups(ep)) {
        const rows: Row[] = [];
        for (const [k, cur, total] of g.counters) if (total + cur > 0) rows.push([k, cur, total + cur]);
        if (rows.length > 0) further.push({ tag: g.tag, rows });
      }
      out.push({
        server: s.tag,
        endpoint: ep.info.uri,
        ...(group !== undefined ? { connector: { group: group.tag, rows } } : {}),
        connectorCounted,
        coap,
        observes: ep.relations.size,
        dedup: ep.dedup.size,
        further,
      });
      ep.stats.transfer(now);
      connector.transferStats?.();
      transferConnectorCounters(ep);
    }
  }
  return out;
}

/** The health of several workers as one server's: endpoints matched by server and URI, every number summed. */
export function sumHealth(perWorker: readonly (readonly EndpointHealth[])[]): EndpointHealth[] {
  const byEndpoint = new Map<string, EndpointHealth[]>();
  for (const list of perWorker) {
    for (const h of list) {
      const key = `${h.server} ${h.endpoint}`;
      const same = byEndpoint.get(key);
      if (same === undefined) byEndpoint.set(key, [h]);
      else same.push(h);
    }
  }
  return [...byEndpoint.values()].map((same) => {
    const first = same[0]!;
    const groups = same.flatMap((h) => (h.connector !== undefined ? [h.connector] : []));
    const further = new Map<string, Row[][]>();
    for (const h of same) for (const f of h.further) further.set(f.tag, [...(further.get(f.tag) ?? []), f.rows]);
    return {
      server: first.server,
      endpoint: first.endpoint,
      ...(groups.length > 0 ? { connector: { group: groups[0]!.group, rows: sumCounterRows(groups.map((g) => g.rows)) } } : {}),
      connectorCounted: same.some((h) => h.connectorCounted),
      coap: sumCounterRows(same.map((h) => h.coap)),
      observes: same.reduce((n, h) => n + h.observes, 0),
      dedup: same.reduce((n, h) => n + h.dedup, 0),
      further: [...further].map(([tag, rows]) => ({ tag, rows: sumCounterRows(rows) })),
    };
  });
}

/**
 * The JSON record key of a connector group: its tag's kind (`dtls:...` → `dtls`, `tcp:...` → `tcp`, `tls:...` →
 * `tls`), so that readers of `stats.dtls` see DTLS counters only; `connector` for a tag without a kind.
 */
export function connectorGroupKey(tag: string): string {
  const kind = /^([a-z][a-z0-9-]*):/.exec(tag)?.[1];
  return kind === undefined || ['coap', 'observes', 'dedup', 'groups'].includes(kind) ? 'connector' : kind;
}

/**
 * Logs one line per endpoint of `health` (collectHealth, or sumHealth of the workers'); without `all` only the
 * endpoints that ever counted something. JSON records carry the numbers in `stats` (`dtls`, `tcp` or `tls`, see
 * connectorGroupKey: the connector's group tag and rows; `coap`: rows; `groups`: tag → rows of the further groups;
 * a row is [current period, total]).
 */
export function logHealth(health: readonly EndpointHealth[], logger: Logger, opts: DumpOptions = {}): void {
  for (const h of health) {
    if (!(opts.all || h.coap.length > 0 || h.connectorCounted || h.further.length > 0)) continue;
    const sections: string[] = [];
    const c = h.connector;
    if (c !== undefined && c.rows.length > 0) sections.push(c.rows.map(rowText).join(', '));
    sections.push(h.coap.length > 0 ? h.coap.map(rowText).join(', ') : 'no messages');
    sections.push(`observes ${h.observes}, dedup ${h.dedup}`);
    for (const f of h.further) sections.push(`${f.tag.slice(0, f.tag.indexOf(':'))}: ${f.rows.map(rowText).join(', ')}`);
    const stats = {
      ...(c !== undefined ? { [connectorGroupKey(c.group)]: { group: c.group, counters: Object.fromEntries(c.rows.map(([k, cur, a]) => [k, [cur, a]])) } } : {}),
      coap: Object.fromEntries(h.coap.map(([k, c, a]) => [k, [c, a]])),
      observes: h.observes,
      dedup: h.dedup,
      ...(h.further.length > 0 ? { groups: Object.fromEntries(h.further.map((f) => [f.tag, Object.fromEntries(f.rows.map(([k, c, a]) => [k, [c, a]]))])) } : {}),
    };
    logger.info({ server: h.server, endpoint: h.endpoint, stats }, `health ${h.endpoint}: ${sections.join('; ')}`);
  }
}

/** Logs the health of every endpoint (logHealth of collectHealth) and starts a new period. */
export function dumpHealth(servers: CoapServer[], logger: Logger, opts: DumpOptions = {}): void {
  logHealth(collectHealth(servers), logger, opts);
}

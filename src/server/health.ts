// Periodic health statistics of all endpoints (cli.md §5, `SYS.HEALTH_STATUS_INTERVAL`).
import type { Logger } from 'pino';
import type { CoapServer } from '../coap/server.js';
import type { Properties } from '../config/index.js';
import { COUNTER_NAMES } from '../coap/stats.js';
import { startUdpDropsReader } from './udp-drops.js';
import { observeStatsOf } from '../resources/extended/observe-stats.js';
import { boundGroups, transferConnectorCounters } from '../resources/extended/diagnostics-source.js';

/** Starts the periodic dump (only endpoints that counted something); the returned stop() ends it. */
export function startHealthLog(servers: CoapServer[], props: Properties, logger: Logger): { stop(): void } {
  const interval = props.get<number>('SYS.HEALTH_STATUS_INTERVAL') ?? 0;
  const dropsInterval = props.get<number>('UDP_DROPS_READ_INTERVAL') ?? 0;
  // cli.md / config.md §1: the OS drop counters are read only if that is more frequent than the health dump
  const drops = dropsInterval > 0 && (interval <= 0 || dropsInterval < interval) ? startUdpDropsReader(dropsInterval, logger) : { stop() {} };
  if (interval <= 0) return drops;
  const timer = setInterval(() => dumpHealth(servers, logger), interval);
  timer.unref();
  return {
    stop: () => {
      clearInterval(timer);
      drops.stop();
    },
  };
}

/** One counter of a health line: the current period and the total including it. */
type Row = [key: string, cur: number, all: number];

/** `key cur` or `key cur (all overall)` when earlier periods counted too. */
function rowText([key, cur, all]: Row): string {
  return cur === all ? `${key} ${cur}` : `${key} ${cur} (${all} overall)`;
}

/** The DTLS counters always shown on a DTLS endpoint's line (the others only once they counted). */
const DTLS_ALWAYS = new Set(['connections', 'handshakes succeeded', 'handshakes failed']);

/** What a connector with DTLS (or cluster) counters provides (src/dtls/connector.ts, src/cluster/cluster-connector.ts). */
interface GroupProvider {
  diagnosticGroup?: () => { tag: string; counters: Array<[string, number, number]> } | undefined;
  transferStats?: () => void;
}

/** Options of one dump. */
export interface DumpOptions {
  /** also endpoints that never counted anything (the console's dump on an empty line) */
  all?: boolean;
}

/**
 * Logs one line per endpoint: the DTLS connections and handshakes (and the other DTLS/cluster counters
 * that counted) beside the CoAP message counters, the observe relations and the deduplicator size,
 * then the counters of the /diagnose groups beyond the reference that counted (DTLS details, transport,
 * bounds: evictions and refusals); then starts a new period. Without `all` only endpoints that ever
 * counted something are logged. JSON records carry the numbers in `stats` (`dtls`: group tag and rows,
 * `coap`: rows, `groups`: tag → rows of the further groups; a row is [current period, total]).
 */
export function dumpHealth(servers: CoapServer[], logger: Logger, opts: DumpOptions = {}): void {
  const now = Date.now();
  for (const s of servers) {
    observeStatsOf(s).transfer();
    for (const ep of s.endpoints) {
      const coap: Row[] = [];
      for (const n of COUNTER_NAMES) {
        const cur = ep.stats.get(n);
        const all = ep.stats.total.get(n)! + cur;
        if (all > 0) coap.push([n, cur, all]);
      }
      // the DTLS connector's group (and a cluster node's forwarding counters, cluster.md §4.5)
      const connector = ep.connector as GroupProvider;
      const group = connector.diagnosticGroup?.();
      const dtls: Row[] = [];
      let dtlsCounted = false;
      for (const [k, cur, total] of group?.counters ?? []) {
        // `connections` is a gauge: its current value is also its total
        const all = k === 'connections' ? cur : total + cur;
        if (all > 0) dtlsCounted = true;
        if (all > 0 || DTLS_ALWAYS.has(k)) dtls.push([k, cur, all]);
      }
      // DTLS details, transport and bound counters (the /diagnose groups after the message group)
      const further: Array<{ tag: string; rows: Row[] }> = [];
      for (const g of boundGroups(ep)) {
        const rows: Row[] = [];
        for (const [k, cur, total] of g.counters) if (total + cur > 0) rows.push([k, cur, total + cur]);
        if (rows.length > 0) further.push({ tag: g.tag, rows });
      }
      if (opts.all || coap.length > 0 || dtlsCounted || further.length > 0) {
        const sections: string[] = [];
        if (dtls.length > 0) sections.push(dtls.map(rowText).join(', '));
        sections.push(coap.length > 0 ? coap.map(rowText).join(', ') : 'no messages');
        sections.push(`observes ${ep.relations.size}, dedup ${ep.dedup.size}`);
        for (const f of further) sections.push(`${f.tag.slice(0, f.tag.indexOf(':'))}: ${f.rows.map(rowText).join(', ')}`);
        const stats = {
          ...(group !== undefined ? { dtls: { group: group.tag, counters: Object.fromEntries(dtls.map(([k, c, a]) => [k, [c, a]])) } } : {}),
          coap: Object.fromEntries(coap.map(([k, c, a]) => [k, [c, a]])),
          observes: ep.relations.size,
          dedup: ep.dedup.size,
          ...(further.length > 0
            ? { groups: Object.fromEntries(further.map((f) => [f.tag, Object.fromEntries(f.rows.map(([k, c, a]) => [k, [c, a]]))])) }
            : {}),
        };
        logger.info({ server: s.tag, endpoint: ep.info.uri, stats }, `health ${ep.info.uri}: ${sections.join('; ')}`);
      }
      ep.stats.transfer(now);
      connector.transferStats?.();
      transferConnectorCounters(ep);
    }
  }
}

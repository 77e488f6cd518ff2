// Periodic health statistics of all endpoints (cli.md §5, `SYS.HEALTH_STATUS_INTERVAL`).
import type { Logger } from 'pino';
import type { CoapServer } from '../coap/server.js';
import type { Properties } from '../config/index.js';
import { COUNTER_NAMES } from '../coap/stats.js';
import { startUdpDropsReader } from './udp-drops.js';
import { observeStatsOf } from '../resources/extended/observe-stats.js';

/** Starts the periodic dump; the returned stop() ends it. */
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

/** Logs the counters of every endpoint that saw traffic and starts a new period. */
export function dumpHealth(servers: CoapServer[], logger: Logger): void {
  const now = Date.now();
  for (const s of servers) {
    observeStatsOf(s).transfer();
    for (const ep of s.endpoints) {
      const counters: Record<string, [number, number]> = {};
      let any = false;
      for (const n of COUNTER_NAMES) {
        const cur = ep.stats.get(n);
        const all = ep.stats.total.get(n)! + cur;
        if (all > 0) {
          counters[n] = [cur, all];
          any = true;
        }
      }
      if (any) logger.info({ server: s.tag, endpoint: ep.info.uri, counters, observes: ep.relations.size, dedup: ep.dedup.size }, 'health');
      // the DTLS connector's group (and a cluster node's forwarding counters, cluster.md §4.5)
      const group = (ep.connector as { diagnosticGroup?: () => { tag: string; counters: Array<[string, number, number]> } | undefined }).diagnosticGroup?.();
      if (group !== undefined) {
        const rows: Record<string, [number, number]> = {};
        for (const [k, cur, all] of group.counters) if (cur > 0 || all > 0) rows[k] = [cur, k === 'connections' ? cur : all + cur];
        if (Object.keys(rows).length > 0) logger.info({ server: s.tag, endpoint: ep.info.uri, group: group.tag, counters: rows }, 'health');
      }
      ep.stats.transfer(now);
      (ep.connector as { transferStats?: () => void }).transferStats?.();
    }
  }
}

// Process statistics for the final report: uptime, CPU time and load, garbage collections, system load.
import os from 'node:os';
import { PerformanceObserver } from 'node:perf_hooks';

/** Garbage collection totals observed since watchGc(). */
export interface GcTotals {
  calls: number;
  ms: number;
}

/** Starts counting garbage collections (one observer callback per GC, not per request). */
export function watchGc(): GcTotals {
  const totals: GcTotals = { calls: 0, ms: 0 };
  try {
    const observer = new PerformanceObserver((list) => {
      for (const e of list.getEntries()) {
        totals.calls++;
        totals.ms += e.duration;
      }
    });
    observer.observe({ entryTypes: ['gc'] });
  } catch {
    // GC entries are not available on this platform; the report shows zeros
  }
  return totals;
}

/** Lines `uptime`, `cpu-time`, `gc` and `average load` of the final statistics. */
export function processLines(gc: GcTotals): string[] {
  const uptimeMs = Math.round(process.uptime() * 1000);
  const processors = os.availableParallelism();
  const cpu = process.cpuUsage();
  const cpuMs = Math.round((cpu.user + cpu.system) / 1000);
  const perProcessor = Math.round(cpuMs / processors);
  const load = uptimeMs > 0 ? Math.floor((perProcessor * 100) / uptimeMs) : 0;
  const lines = [
    `uptime: ${uptimeMs} ms, ${processors} processors`,
    `cpu-time: ${cpuMs} ms (per-processor: ${perProcessor} ms, load: ${load}%)`,
    `gc: ${Math.round(gc.ms)} ms, ${gc.calls} calls`,
  ];
  const avg = os.loadavg()[0];
  if (avg !== undefined && avg >= 0) lines.push(`average load: ${avg.toFixed(2)}`);
  return lines;
}

/** Header of the statistics file: tag, OS, runtime options and program arguments. */
export function statisticsHeader(tag: string, args: readonly string[]): string[] {
  return [
    `------- ${tag} ------------------------------------------------`,
    `${os.type()}, ${os.release()}, ${os.arch()}`,
    `node ${process.version} ${process.execArgv.join(' ')}`.trimEnd(),
    args.join(' '),
  ];
}

// Shared types of the benchmark runner: a run is a list of sections, each returning printable lines, target checks and data.

/** Runner options (from the command line). */
export interface BenchOptions {
  /** measured window per target, seconds */
  duration: number;
  /** warm-up per target, seconds (not counted) */
  warmup: number;
  /** outstanding requests overall */
  outstanding: number;
  /** client sockets of the load generator */
  sockets: number;
  /** targets to run; empty = all (ids: raw, ours, npm, plus any a section defines) */
  only: Set<string>;
  /** sections to run; empty = all */
  sections: Set<string>;
  /** pin the server to CPU 1 and the generator to CPU 0 (taskset); undefined: the section's default (the load section pins, the others do not) */
  pin: boolean | undefined;
  /** run our server with --cpu-prof (profile written to the temp dir) */
  cpuProf: boolean;
  /** extra Californium3.properties lines for our server (KEY=VALUE) */
  oursProps: string[];
  /** UDP receive buffer for the npm-coap baseline server in bytes (0 = OS default) */
  npmRcvbuf: number;
  /** before each target, wait up to this many seconds for other processes to go quiet (0 = don't wait) */
  quietWait: number;
  /** repeat a target whose window was noisy (other processes > 10% of a core) up to this many times */
  retries: number;
  /** where to write the JSON figures */
  outFile: string;
}

/** Paths and helpers handed to every section. */
export interface BenchContext {
  options: BenchOptions;
  /** repository root (package.json lives here) */
  repoRoot: string;
  /** compiled output root (dist/) */
  distRoot: string;
  /** prints a progress line */
  log: (line: string) => void;
  /** true when a target id is selected by --only */
  wants: (target: string) => boolean;
}

/** One target figure compared with its goal. */
export interface TargetCheck {
  /** what is checked, e.g. "our server req/s" */
  name: string;
  /** measured value, or undefined when it could not be measured */
  value: number | undefined;
  /** goal: the value must be at least this (a throughput) ... */
  atLeast?: number;
  /** ... or at most this (a time, a size) */
  atMost?: number;
  unit: string;
}

/** What a section returns. */
export interface SectionResult {
  /** printed after all sections ran (a table) */
  report: string[];
  checks: TargetCheck[];
  /** written to the JSON file under sections.<id> */
  data: unknown;
}

/** One benchmark section (plain CoAP throughput, coaps throughput, handshakes/s, ...). */
export interface Section {
  id: string;
  title: string;
  run: (ctx: BenchContext) => Promise<SectionResult>;
}

/** Formats a table with right-aligned numeric columns (first column left-aligned). */
export function formatTable(header: string[], rows: (string | number)[][]): string[] {
  const cells = [header, ...rows.map((r) => r.map((c) => String(c)))];
  const widths = header.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  return cells.map((r, ri) => {
    const line = r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
    return ri === 0 ? `${line}\n${'-'.repeat(line.length)}` : line;
  });
}

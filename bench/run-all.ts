// Entry of `npm run bench`: runs the benchmark sections one after another, prints the figures with PASS/BELOW
// against the targets, and writes everything as JSON to bench-results.json in the repository root.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import type { BenchContext, BenchOptions, Section, SectionResult, TargetCheck } from './sections.js';
import { coapSection } from './coap-section.js';
import { createCoapsSection, handshakesSection } from './dtls-section.js';
import { benchmarkSection } from './benchmark-section.js';
import { clusterSection } from './cluster-section.js';
import { restartSection } from './restart-section.js';
import { createLoadSection } from './load-section.js';
import { workersSection } from './workers-section.js';
import { oscoreSection } from './oscore-section.js';
import { tcpSection } from './tcp-section.js';
import { storeSection } from './store-section.js';
import { DEFAULT_BASELINE } from './baseline.js';
import { killChildrenOnSignal } from './proc-util.js';

/** --baseline: the commit whose server build the load section measures beside the current one ('none' = skip). */
let baselineRef = DEFAULT_BASELINE;

/** Results of the sections run so far (a later section may compare with an earlier one). */
const results: Record<string, SectionResult | { error: string }> = {};

/** Our server's plain CoAP req/s and CPU per 1k requests from this run's coap section, if it ran. */
function plainFigure(): { rps: number; cpuMsPer1000: number } | undefined {
  const r = results['coap'];
  if (r === undefined || !('data' in r)) return undefined;
  const data = r.data as { oursRequestsPerSecond: number | null; targets: { id: string; measurement?: { server: { cpuMsPer1000: number } } }[] };
  if (data.oursRequestsPerSecond === null) return undefined;
  const ours = data.targets.find((t) => t.id === 'ours');
  return { rps: data.oursRequestsPerSecond, cpuMsPer1000: ours?.measurement?.server.cpuMsPer1000 ?? 0 };
}

/**
 * All sections, in run order: coaps right after plain CoAP (its ratio uses the plain figure of the same run), the
 * OSCORE beside plain coap on the plugtest server and coap+tcp/coaps+tcp beside coap on the benchmark resource (issue 11), the benchmark client against our server (issue 4), then the DTLS CID cluster behind the NAT against one node, then
 * the in-process save/load of the DTLS connection state (graceful restart), then the old build beside the new one (issue 10).
 */
export const SECTIONS: Section[] = [coapSection, createCoapsSection(plainFigure), handshakesSection, oscoreSection, tcpSection, benchmarkSection, clusterSection, storeSection, restartSection, createLoadSection(() => baselineRef), workersSection];

/** dist/bench → dist. */
const distRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
/** dist → repository root. */
const repoRoot = path.resolve(distRoot, '..');

/** Parses the command line. */
function parseOptions(argv: string[]): BenchOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      duration: { type: 'string', default: '10' },
      warmup: { type: 'string', default: '1' },
      outstanding: { type: 'string', default: '256' },
      sockets: { type: 'string', default: '16' },
      only: { type: 'string', multiple: true, default: [] },
      section: { type: 'string', multiple: true, default: [] },
      pin: { type: 'boolean' },
      'no-pin': { type: 'boolean' },
      'cpu-prof': { type: 'boolean', default: false },
      'npm-rcvbuf': { type: 'string', default: String(1 << 20) },
      'ours-prop': { type: 'string', multiple: true, default: [] },
      'quiet-wait': { type: 'string', default: '30' },
      retries: { type: 'string', default: '2' },
      out: { type: 'string', default: path.join(repoRoot, 'bench-results.json') },
      baseline: { type: 'string', default: DEFAULT_BASELINE },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log(
      [
        'usage: npm run bench -- [options]',
        '  --duration <s>       measured window per target (default 10; benchmark section: requests sized for about this long at the target rate)',
        '  --warmup <s>         warm-up per target, not counted (default 1)',
        '  --outstanding <n>    outstanding CON requests overall (default 256)',
        '  --sockets <n>        generator UDP sockets (default 16)',
        '  --only <id>          plain CoAP section: run only this target: ours | npm | raw; benchmark section: coap | coaps-cid; tcp section: udp | tcp | tls; cluster section: nat1 | backward | direct | cid (the one-node run always runs) (repeatable or comma-separated)',
        '  --section <id>       run only this section: ' + SECTIONS.map((s) => s.id).join(' | '),
        '  --pin                pin server to CPU 1 and generator to CPU 0 (taskset) in every section; the load section pins by default on 2+ CPUs, --no-pin runs it unpinned',
        '  --cpu-prof           run our server with --cpu-prof (plain, coaps and benchmark sections, the handshake server of the load section; benchmark also profiles the client; profiles in the temp dir)',
        '  --ours-prop K=V      extra Californium3.properties line for our server (repeatable), e.g. UDP.RECEIVE_BUFFER_SIZE=1048576',
        '  --npm-rcvbuf <bytes> UDP receive buffer of the npm coap baseline (default 1048576, 0 = OS default)',
        '  --quiet-wait <s>     before each target wait up to this long for other processes to go idle (default 30, 0 = off)',
        '  --retries <n>        repeat a target whose window was noisy (other processes > 10% of a core) up to n times, keep the quietest (default 2)',
        '  --out <file>         JSON output (default bench-results.json in the repository root)',
        `  --baseline <commit>  load section: the old build measured beside the new one (default ${DEFAULT_BASELINE}; none = new build only); --only req | psk | ecdhe | idle10k | idle100k selects its figures`,
      ].join('\n'),
    );
    process.exit(0);
  }
  const num = (name: string, v: string, min: number, max: number): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < min || n > max) throw new Error(`--${name} must be a number in ${min}..${max}`);
    return n;
  };
  const list = (v: string[]): Set<string> => new Set(v.flatMap((s) => s.split(',')).map((s) => s.trim()).filter(Boolean));
  baselineRef = values.baseline.trim();
  const only = list(values.only);
  for (const id of only) if (id === 'our') only.add('ours');
  return {
    duration: num('duration', values.duration, 0.1, 300),
    warmup: num('warmup', values.warmup, 0, 60),
    outstanding: num('outstanding', values.outstanding, 1, 10_000),
    sockets: num('sockets', values.sockets, 1, 256),
    only,
    sections: list(values.section),
    pin: values['no-pin'] === true ? false : values.pin === true ? true : undefined,
    cpuProf: values['cpu-prof'],
    oursProps: values['ours-prop'].map((l) => {
      if (!/^[A-Z0-9_.]+=/.test(l)) throw new Error(`--ours-prop expects KEY=VALUE, got ${l}`);
      return l;
    }),
    npmRcvbuf: num('npm-rcvbuf', values['npm-rcvbuf'], 0, 64 << 20),
    retries: num('retries', values.retries, 0, 10),
    quietWait: num('quiet-wait', values['quiet-wait'], 0, 600),
    outFile: path.resolve(values.out),
  };
}

/** True when a measured value meets its goal (at least / at most). */
function passes(c: TargetCheck): boolean {
  if (c.value === undefined) return false;
  return (c.atLeast === undefined || c.value >= c.atLeast) && (c.atMost === undefined || c.value <= c.atMost);
}

/** PASS/BELOW (ABOVE for an upper bound) line of one check. */
function checkLine(c: TargetCheck): string {
  const goal = [c.atLeast !== undefined ? `≥ ${c.atLeast} ${c.unit}` : '', c.atMost !== undefined ? `≤ ${c.atMost} ${c.unit}` : ''].filter(Boolean).join(', ');
  if (c.value === undefined) return `${c.name}: n/a (target ${goal}) NOT MEASURED`;
  return `${c.name}: ${c.value} ${c.unit} (target ${goal}) ${passes(c) ? 'PASS' : c.atMost !== undefined && c.value > c.atMost ? 'ABOVE' : 'BELOW'}`;
}

/** Runs the selected sections, prints the report, writes the JSON file. */
async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const log = (line: string): void => console.log(line);
  const ctx: BenchContext = {
    options,
    repoRoot,
    distRoot,
    log,
    wants: (target) => options.only.size === 0 || options.only.has(target),
  };
  const startedAt = new Date();
  log(`extplugtest bench: ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? '?'}), node ${process.version}, load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  const reports: string[] = [];
  const checks: TargetCheck[] = [];
  for (const section of SECTIONS) {
    if (options.sections.size > 0 && !options.sections.has(section.id)) continue;
    log(`== ${section.title}`);
    try {
      const r = await section.run(ctx);
      results[section.id] = r;
      reports.push(`== ${section.title}`, ...r.report, '');
      checks.push(...r.checks);
    } catch (err) {
      results[section.id] = { error: (err as Error).stack ?? String(err) };
      reports.push(`== ${section.title}`, `FAILED: ${(err as Error).message}`, '');
    }
  }
  log('');
  for (const line of reports) log(line);
  if (checks.length > 0) {
    log('targets:');
    for (const c of checks) log(`  ${checkLine(c)}`);
  }
  const json = {
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model ?? null, node: process.version, loadavgAtEnd: os.loadavg() },
    options: { ...options, only: [...options.only], sections: [...options.sections] },
    checks: checks.map((c) => ({ ...c, value: c.value ?? null, pass: passes(c) })),
    sections: Object.fromEntries(Object.entries(results).map(([id, r]) => [id, 'data' in r ? r.data : r])),
  };
  fs.writeFileSync(options.outFile, JSON.stringify(json, null, 2) + '\n');
  log(`figures written to ${path.relative(process.cwd(), options.outFile) || options.outFile}`);
}

killChildrenOnSignal();

main().catch((err: unknown) => {
  console.error((err as Error).stack ?? err);
  process.exitCode = 1;
});

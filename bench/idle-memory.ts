// Memory per idle DTLS connection (issue 10), library + CLI: starts a server process from a given dist directory
// (<dist>/src/cli/server-main.js --no-plugtest --no-ipv6 --no-external, temp cwd, free ports in its
// Californium3.properties), measures its resident memory (VmRSS from /proc/<pid>/status) and V8 heap after a full GC,
// opens idle PSK sessions with bench/idle-sessions.ts up to each of `counts` (cumulative: 10,000 then 90,000 more
// for 100,000), lets it settle and measures again: bytes per connection = (after - baseline) / connections, and the
// marginal bytes between two steps. The heap is read through a probe preloaded into the server with
// `node --expose-gc --import data:...` that answers an IPC message with process.memoryUsage() after gc(): it needs
// nothing from the server itself, so an older build is measured the same way. The server's own count of
// connections comes from its console health dump (an empty line on stdin), when the build has one.
// The generator runs in this process; its own heap per session is reported too.
// Run: npx tsc -p tsconfig.json && node dist/bench/idle-memory.js [--dist dist] [--counts 10000,100000]
//      [--settle 5] [--concurrency 200] [--cid 6] [--prop KEY=VALUE ...] [--out idle-memory.json] [--json]
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import v8 from 'node:v8';
import vm from 'node:vm';
import { parseArgs } from 'node:util';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { openIdleSessions, type IdleSessionsResult } from './idle-sessions.js';
import { ONE_PROCESS_PROPERTY, trackChild, tryPort } from './proc-util.js';
import { cliNumber } from './cli-number.js';

/** Memory figures of a process at one moment (bytes). */
export interface MemorySample {
  /** VmRSS from /proc/<pid>/status */
  rss: number;
  /** V8 heap in use after a full GC (process.memoryUsage().heapUsed) */
  heapUsed: number;
  heapTotal: number;
  /** memory of C++ objects bound to JS objects (Buffers, KeyObjects, sockets) */
  external: number;
  arrayBuffers: number;
}

/**
 * The probe preloaded into the measured process: on an IPC `{ type: 'memory-probe', gc }` it runs gc() (when
 * --expose-gc is given and `gc` is true) and answers with process.memoryUsage(). The channel is unref'd so that it
 * never keeps the process alive.
 */
export const MEMORY_PROBE_SOURCE =
  "if(typeof process.send==='function'){process.on('message',(m)=>{if(m&&m.type==='memory-probe'){" +
  "if(m.gc&&typeof globalThis.gc==='function'){globalThis.gc();globalThis.gc();}const u=process.memoryUsage();" +
  "process.send({type:'memory',id:m.id,rss:u.rss,heapUsed:u.heapUsed,heapTotal:u.heapTotal,external:u.external,arrayBuffers:u.arrayBuffers});}});" +
  'if(process.channel)process.channel.unref();}';

/** Node options that load the probe (put them before the script). */
export function probeNodeArgs(): string[] {
  return ['--expose-gc', '--import', `data:text/javascript,${encodeURIComponent(MEMORY_PROBE_SOURCE)}`];
}

/** VmRSS of a process in bytes, undefined when it is gone. */
export function readVmRss(pid: number): number | undefined {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** A server process started with the memory probe, its console on stdin and its output in a log file. */
export interface ProbedServer {
  child: ChildProcess;
  pid: number;
  cwd: string;
  coapPort: number;
  coapsPort: number;
  logPath: string;
  /** memory after a full GC (gc = true) or as it is; rejects after timeoutMs */
  memory(gc: boolean, timeoutMs?: number): Promise<MemorySample>;
  /** the DTLS connections the server counts on its coaps endpoint (console health dump), undefined if it prints none */
  connections(timeoutMs?: number): Promise<number | undefined>;
  /** the DTLS counters (totals) of the coaps endpoint from the console health dump, undefined if it prints none */
  dtlsCounters(timeoutMs?: number): Promise<Record<string, number> | undefined>;
  /** the last `bytes` of the log */
  logTail(bytes?: number): string;
  /** SIGTERM, SIGKILL after 5 s; removes the temp directory unless keepDir */
  stop(keepDir?: boolean): Promise<void>;
}

/** Options of startProbedServer. */
export interface ProbedServerOptions {
  /** dist directory of the build to run (contains src/cli/server-main.js) */
  serverDist: string;
  /** extra Californium3.properties lines */
  properties?: string[];
  /** extra server arguments */
  serverArgs?: string[];
  /** extra node options (e.g. --max-old-space-size=...) */
  nodeArgs?: string[];
  /** start-up limit, ms (default 20,000) */
  timeoutMs?: number;
}

/** Starts `<dist>/src/cli/server-main.js --no-plugtest --no-ipv6 --no-external` in a temp cwd with free ports. */
export async function startProbedServer(o: ProbedServerOptions): Promise<ProbedServer> {
  const main = path.resolve(o.serverDist, 'src', 'cli', 'server-main.js');
  if (!fs.existsSync(main)) throw new Error(`${main} does not exist (build that tree first)`);
  const cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'idle-memory-'));
  const coapPort = (await tryPort(0))!;
  let coapsPort = (await tryPort(0))!;
  while (coapsPort === coapPort) coapsPort = (await tryPort(0))!;
  fs.writeFileSync(path.join(cwd, 'Californium3.properties'), [`COAP.COAP_PORT=${coapPort}`, `COAP.COAP_SECURE_PORT=${coapsPort}`, ONE_PROCESS_PROPERTY, ...(o.properties ?? [])].join('\n') + '\n');
  const logPath = path.join(cwd, 'server.log');
  const fd = fs.openSync(logPath, 'w');
  const child = spawn(process.execPath, [...probeNodeArgs(), ...(o.nodeArgs ?? []), main, '--no-plugtest', '--no-ipv6', '--no-external', ...(o.serverArgs ?? [])], {
    cwd,
    stdio: ['pipe', fd, fd, 'ipc'],
    env: { ...process.env, LOG_FORMAT: 'json' },
  });
  fs.closeSync(fd);
  trackChild(child);
  child.stdin!.on('error', () => {}); // EPIPE once the server is gone
  let exited = false;
  const exitPromise = new Promise<void>((resolve) => child.once('exit', () => ((exited = true), resolve())));
  const logTail = (bytes = 3000): string => {
    try {
      return fs.readFileSync(logPath, 'utf8').slice(-bytes);
    } catch {
      return '';
    }
  };
  const log = (): string => {
    try {
      return fs.readFileSync(logPath, 'utf8');
    } catch {
      return '';
    }
  };
  let probeId = 0;
  const memory = (gc: boolean, timeoutMs = 30_000): Promise<MemorySample> =>
    new Promise<MemorySample>((resolve, reject) => {
      const id = ++probeId;
      const rss = readVmRss(child.pid ?? -1);
      const timer = setTimeout(() => {
        child.off('message', onMessage);
        reject(new Error('the server did not answer the memory probe'));
      }, timeoutMs);
      const onMessage = (m: { type?: string; id?: number } & Partial<MemorySample>): void => {
        if (m?.type !== 'memory' || m.id !== id) return;
        clearTimeout(timer);
        child.off('message', onMessage);
        // RSS after the GC (the probe's own figure is the same number read by the process itself)
        resolve({ rss: readVmRss(child.pid ?? -1) ?? m.rss ?? rss ?? 0, heapUsed: m.heapUsed!, heapTotal: m.heapTotal!, external: m.external!, arrayBuffers: m.arrayBuffers! });
      };
      child.on('message', onMessage);
      child.send({ type: 'memory-probe', gc, id });
    });
  const dtlsCounters = async (timeoutMs = 3000): Promise<Record<string, number> | undefined> => {
    const before = log().length;
    child.stdin!.write('\n');
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      const fresh = log().slice(before);
      for (const line of fresh.split('\n')) {
        if (!line.includes(`coaps://127.0.0.1:${coapsPort}`) || !line.includes('health')) continue;
        try {
          const rec = JSON.parse(line) as { stats?: { dtls?: { counters?: Record<string, [number, number]> } } };
          const counters = rec.stats?.dtls?.counters;
          // [current period, total]; `connections` is a gauge (both the same)
          if (counters !== undefined) return Object.fromEntries(Object.entries(counters).map(([k, v]) => [k, v[1]]));
        } catch {
          // not JSON: the text form
        }
        const m = /connections (\d+)/.exec(line);
        if (m) return { connections: Number(m[1]) };
      }
    }
    return undefined;
  };
  const connections = async (timeoutMs = 3000): Promise<number | undefined> => (await dtlsCounters(timeoutMs))?.['connections'];
  const stop = async (keepDir = false): Promise<void> => {
    if (!exited) {
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exitPromise;
      clearTimeout(t);
    }
    if (!keepDir) fs.rmSync(cwd, { recursive: true, force: true });
  };
  // started: the start-up line, and our coaps endpoint in the log (a taken port would show an error instead)
  const deadline = Date.now() + (o.timeoutMs ?? 20_000);
  for (;;) {
    const text = log();
    if (/started \.\.\./.test(text) && text.includes(`:${coapsPort}`)) break;
    if (exited || Date.now() > deadline) {
      const tail = logTail();
      await stop(true);
      throw new Error(`server did not start (${exited ? 'exited' : 'time limit'}); log ${logPath}:\n${tail}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { child, pid: child.pid ?? -1, cwd, coapPort, coapsPort, logPath, memory, connections, dtlsCounters, logTail, stop };
}

/** A gc() for this process (the flag set at run time, the function taken from a fresh context). */
function localGc(): () => void {
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc') as () => void;
  return () => {
    gc();
    gc();
  };
}

/** Options of measureIdleMemory. */
export interface IdleMemoryOptions {
  /** dist directory of the server build (e.g. /work/main/dist, or an older build's) */
  serverDist: string;
  /** cumulative session counts to measure at (ascending), default [10000, 100000] */
  counts?: number[];
  /** wait after opening the sessions before measuring, ms (default 5,000) */
  settleMs?: number;
  /** generator sockets in flight (default 200) */
  concurrency?: number;
  /** client CID length offered (default 6; null = no CID extension) */
  cid?: number | null;
  /** extra server properties / arguments / node options */
  properties?: string[];
  serverArgs?: string[];
  nodeArgs?: string[];
  /** progress lines */
  onLog?: (line: string) => void;
}

/** Figures at one count. */
export interface IdleMemoryStep {
  /** sessions the generator established so far */
  sessions: number;
  /** connections the server reports (console health dump), null if not available */
  serverConnections: number | null;
  server: MemorySample;
  /** (server - baseline) / sessions, bytes */
  rssPerConnection: number;
  heapPerConnection: number;
  /** heapUsed + external per connection */
  heapAndExternalPerConnection: number;
  /** difference to the previous step / sessions added, bytes (the cost of one more connection) */
  marginalRssPerConnection: number;
  marginalHeapPerConnection: number;
  /** this generator's heap (after gc) growth per session since the start, bytes */
  generatorHeapPerSession: number;
  generatorRss: number;
  /** the generator run that reached this step */
  run: IdleSessionsResult;
}

/** Result of measureIdleMemory. */
export interface IdleMemoryResult {
  serverDist: string;
  node: string;
  cid: number | null;
  settleMs: number;
  baseline: MemorySample;
  generatorBaseline: { rss: number; heapUsed: number };
  steps: IdleMemoryStep[];
}

/** Starts the server, measures it idle, opens sessions up to each count, measures again; stops the server. */
export async function measureIdleMemory(o: IdleMemoryOptions): Promise<IdleMemoryResult> {
  const counts = o.counts ?? [10_000, 100_000];
  for (let i = 0; i < counts.length; i++) {
    if (!(Number.isInteger(counts[i]) && counts[i]! > 0 && (i === 0 || counts[i]! > counts[i - 1]!))) throw new Error('counts must be ascending positive integers');
  }
  const settleMs = o.settleMs ?? 5000;
  const cid = o.cid === undefined ? 6 : o.cid;
  const log = o.onLog ?? (() => {});
  const gc = localGc();
  const server = await startProbedServer({ serverDist: o.serverDist, properties: o.properties, serverArgs: o.serverArgs, nodeArgs: o.nodeArgs });
  try {
    log(`server pid ${server.pid} on coaps port ${server.coapsPort}, cwd ${server.cwd}`);
    await new Promise((r) => setTimeout(r, settleMs));
    const baseline = await server.memory(true);
    gc();
    const gen0 = process.memoryUsage();
    log(`baseline: rss ${mb(baseline.rss)} MB, heap ${mb(baseline.heapUsed)} MB, external ${mb(baseline.external)} MB`);
    const steps: IdleMemoryStep[] = [];
    let sessions = 0;
    let slot = 0;
    let previous = baseline;
    for (const target of counts) {
      const run = await openIdleSessions({
        host: '127.0.0.1',
        port: server.coapsPort,
        count: target - sessions,
        cid,
        concurrency: o.concurrency ?? 200,
        firstSlot: slot,
        onProgress: (p) => log(`  ${sessions + p.established} sessions, ${p.failed} failed, ${p.inFlight} in flight`),
      });
      slot = run.endSlot;
      const added = run.established;
      sessions += added;
      log(`opened ${added} sessions (${run.sessionsPerSecond}/s, ${run.failed} failed); settling ${settleMs / 1000} s`);
      await new Promise((r) => setTimeout(r, settleMs));
      const m = await server.memory(true);
      const serverConnections = (await server.connections()) ?? null;
      gc();
      const gen = process.memoryUsage();
      const per = (a: number, b: number, n: number): number => (n > 0 ? Math.round((a - b) / n) : 0);
      const step: IdleMemoryStep = {
        sessions,
        serverConnections,
        server: m,
        rssPerConnection: per(m.rss, baseline.rss, sessions),
        heapPerConnection: per(m.heapUsed, baseline.heapUsed, sessions),
        heapAndExternalPerConnection: per(m.heapUsed + m.external, baseline.heapUsed + baseline.external, sessions),
        marginalRssPerConnection: per(m.rss, previous.rss, added),
        marginalHeapPerConnection: per(m.heapUsed, previous.heapUsed, added),
        generatorHeapPerSession: per(gen.heapUsed, gen0.heapUsed, sessions),
        generatorRss: gen.rss,
        run,
      };
      steps.push(step);
      log(formatStep(step));
      previous = m;
      if (run.established < run.requested) {
        log(`stopping: only ${run.established} of ${run.requested} sessions established`);
        break;
      }
    }
    return {
      serverDist: path.resolve(o.serverDist),
      node: process.version,
      cid,
      settleMs,
      baseline,
      generatorBaseline: { rss: gen0.rss, heapUsed: gen0.heapUsed },
      steps,
    };
  } catch (err) {
    log(server.logTail(1500));
    throw err;
  } finally {
    await server.stop();
  }
}

/** MB with one decimal. */
function mb(bytes: number): string {
  return (bytes / 1048576).toFixed(1);
}

/** One line of a step. */
export function formatStep(s: IdleMemoryStep): string {
  return (
    `${s.sessions} sessions (server counts ${s.serverConnections ?? '?'}): server rss ${mb(s.server.rss)} MB, heap ${mb(s.server.heapUsed)} MB, ` +
    `external ${mb(s.server.external)} MB; per connection: rss ${s.rssPerConnection} B, heap ${s.heapPerConnection} B, ` +
    `heap+external ${s.heapAndExternalPerConnection} B (marginal rss ${s.marginalRssPerConnection} B, heap ${s.marginalHeapPerConnection} B); ` +
    `generator heap ${s.generatorHeapPerSession} B/session, rss ${mb(s.generatorRss)} MB`
  );
}

/** The table printed at the end. */
export function formatIdleMemory(r: IdleMemoryResult): string {
  const lines = [
    `Idle DTLS connection memory (${r.serverDist}, node ${r.node}, PSK CCM_8, client CID ${r.cid ?? 'none'}, settle ${r.settleMs / 1000} s, after full GC):`,
    `  baseline: rss ${mb(r.baseline.rss)} MB, heap ${mb(r.baseline.heapUsed)} MB, external ${mb(r.baseline.external)} MB`,
    '  sessions  server-count  rss MB  heap MB  rss B/conn  heap B/conn  heap+ext B/conn  marginal rss  marginal heap  generator B/session',
  ];
  for (const s of r.steps) {
    lines.push(
      `  ${String(s.sessions).padStart(8)}  ${String(s.serverConnections ?? '?').padStart(12)}  ${mb(s.server.rss).padStart(6)}  ${mb(s.server.heapUsed).padStart(7)}  ` +
        `${String(s.rssPerConnection).padStart(10)}  ${String(s.heapPerConnection).padStart(11)}  ${String(s.heapAndExternalPerConnection).padStart(15)}  ` +
        `${String(s.marginalRssPerConnection).padStart(12)}  ${String(s.marginalHeapPerConnection).padStart(13)}  ${String(s.generatorHeapPerSession).padStart(19)}`,
    );
  }
  return lines.join('\n');
}

/** Command line of the CLI. */
function parseCli(argv: string[]) {
  const here = path.dirname(fileURLToPath(import.meta.url)); // <dist>/bench
  const { values } = parseArgs({
    args: argv,
    options: {
      dist: { type: 'string', default: path.resolve(here, '..') },
      counts: { type: 'string', default: '10000,100000' },
      settle: { type: 'string', default: '5' },
      concurrency: { type: 'string', default: '200' },
      cid: { type: 'string', default: '6' },
      prop: { type: 'string', multiple: true, default: [] },
      'node-arg': { type: 'string', multiple: true, default: [] },
      out: { type: 'string', default: 'idle-memory.json' },
      json: { type: 'boolean', default: false },
    },
    strict: true,
  });
  const num = cliNumber;
  return {
    dist: values.dist,
    counts: values.counts.split(',').map((c) => num('counts', c.trim())),
    settleMs: num('settle', values.settle) * 1000,
    concurrency: num('concurrency', values.concurrency),
    cid: values.cid === 'none' ? null : num('cid', values.cid),
    props: values.prop,
    nodeArgs: values['node-arg'],
    out: values.out,
    json: values.json,
  };
}

async function main(): Promise<void> {
  const cli = parseCli(process.argv.slice(2));
  const result = await measureIdleMemory({
    serverDist: cli.dist,
    counts: cli.counts,
    settleMs: cli.settleMs,
    concurrency: cli.concurrency,
    cid: cli.cid,
    properties: cli.props,
    nodeArgs: cli.nodeArgs,
    onLog: cli.json ? undefined : (line) => process.stderr.write(line + '\n'),
  });
  fs.writeFileSync(cli.out, JSON.stringify(result, null, 2) + '\n');
  console.log(cli.json ? JSON.stringify(result) : `${formatIdleMemory(result)}\n  (written to ${cli.out})`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => {
    console.error((err as Error).message);
    process.exit(1);
  });
}

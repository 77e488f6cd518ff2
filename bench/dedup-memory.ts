// Memory and GC cost of a full deduplicator (RFC 7252 §4.5 state), old per-message objects vs. the slot store:
// in a child process per run (node --expose-gc), a deduplicator with the stack's default config
// (DEFAULT_STACK_CONFIG: MARK_AND_SWEEP, as the plugtest server; COAP.DEDUPLICATOR_MAX_MESSAGES = 300,000; the
// extended server's PEERS_MARK_AND_SWEEP keeps 16 per peer, so 200 peers could not fill it) is filled with
// `--messages` messages from `--peers` peers, each with a fresh 50-byte response (as the encoder hands it to
// the layer). Printed per implementation: heap used per message after a forced GC (and the ArrayBuffer memory
// outside the heap), the time of a full gc() with the store full, and in steady state (store full, each new
// message evicting the oldest) ns per message (check + keeping its response) and then ns per check alone.
// The old implementation is src/coap/dedup.ts of b151e81, the last commit with per-message objects (`--old-ref`), transpiled into a temp dir; the new one
// is this build's. Timing figures are the median of `--repeat` runs (old and new alternate), as another
// benchmark may share the CPUs; heap figures do not depend on that.
// Run: npx tsc -p tsconfig.json && node dist/bench/dedup-memory.js [--messages 300000] [--peers 200]
//      [--steady 1000000] [--repeat 3] [--mode MARK_AND_SWEEP] [--old-ref b151e81] [--out dedup-memory.json]
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PerformanceObserver } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { DEFAULT_STACK_CONFIG, type DeduplicatorMode } from '../src/coap/stack-config.js';

/** What one child run measured (bytes, ms, ns). */
export interface DedupMemoryRun {
  impl: 'old' | 'new';
  messages: number;
  size: number;
  peers: number;
  /** V8 heap used after gc(), per remembered message */
  heapPerMessage: number;
  /** ArrayBuffer memory (Buffers, typed arrays) after gc(), per remembered message */
  arrayBuffersPerMessage: number;
  /** median of 5 full gc() calls with the store full */
  fullGcMs: number;
  /** steady state: ns per message (check + keep a 50-byte response), each evicting */
  nsPerMessage: number;
  /** then: ns per check alone (no response kept, as for a request still being served), each evicting */
  nsPerCheck: number;
  /** GC time (ms, from the perf_hooks gc entries) during the steady-state loop */
  steadyGcMs: number;
  steadyMessages: number;
}

const RESPONSE_BYTES = 50;
/** messages per ms of simulated receive time (60k/s) */
const PER_MS = 60;

/** The API of either implementation, as the bench drives it. */
interface Driver {
  /** records a new message with its response; returns false for a duplicate */
  add(peer: string, mid: number, time: number, response: Buffer | undefined): boolean;
  readonly size: number;
  readonly peers: number;
}

interface OldEntry {
  response?: Buffer;
  accepted: boolean;
  time: number;
  con: boolean;
}
interface OldDedup {
  check(peer: string, mid: number, fresh: OldEntry): OldEntry | undefined;
  readonly size: number;
  readonly peers: number;
}
interface NewDedup {
  check(peer: string, mid: number, time: number, con: boolean): number;
  setResponse(handle: number, data: Buffer): void;
  readonly size: number;
  readonly peers: number;
}

async function driver(impl: 'old' | 'new', modulePath: string, mode: DeduplicatorMode): Promise<Driver> {
  const mod = (await import(pathToFileURL(modulePath).href)) as { createDeduplicator: (c: unknown, counter?: unknown) => unknown };
  const config = { ...DEFAULT_STACK_CONFIG, deduplicator: mode };
  if (impl === 'old') {
    const d = mod.createDeduplicator(config) as OldDedup;
    return {
      add(peer, mid, time, response) {
        const e: OldEntry = { accepted: false, time, con: true };
        if (d.check(peer, mid, e) !== undefined) return false;
        if (response !== undefined) e.response = response;
        return true;
      },
      get size() { return d.size; },
      get peers() { return d.peers; },
    };
  }
  const d = mod.createDeduplicator(config) as NewDedup;
  return {
    add(peer, mid, time, response) {
      const h = d.check(peer, mid, time, true);
      if (h < 0) return false;
      if (response !== undefined) d.setResponse(h, response);
      return true;
    },
    get size() { return d.size; },
    get peers() { return d.peers; },
  };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** One run in this process (the child side). */
async function runChild(impl: 'old' | 'new', modulePath: string, mode: DeduplicatorMode, messages: number, peerCount: number, steady: number): Promise<DedupMemoryRun> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error('run the child with node --expose-gc');
  const peers = Array.from({ length: peerCount }, (_, i) => `10.2.${i >> 8}.${i & 255}:5683`);
  const template = Buffer.alloc(RESPONSE_BYTES, 0x42);
  const t0 = Date.now();
  let i = 0;
  const feed = (d: Driver, n: number): void => {
    for (const end = i + n; i < end; i++) {
      // the encoder allocates the bytes of every response
      const res = Buffer.allocUnsafe(RESPONSE_BYTES);
      template.copy(res);
      d.add(peers[i % peerCount]!, Math.floor(i / peerCount) & 0xffff, t0 + Math.floor(i / PER_MS), res);
    }
  };
  const mem = (): NodeJS.MemoryUsage => {
    gc();
    gc();
    return process.memoryUsage();
  };
  const d = await driver(impl, modulePath, mode);
  feed(d, 1000); // warm-up (JIT), part of the fill
  const before = mem();
  feed(d, messages - 1000);
  const full = mem();
  if (d.size !== Math.min(messages, DEFAULT_STACK_CONFIG.dedupMaxMessages)) console.error(`${impl}: only ${d.size} of ${messages} messages remembered (mode ${mode})`);
  const gcTimes: number[] = [];
  for (let k = 0; k < 5; k++) {
    const s = process.hrtime.bigint();
    gc();
    gcTimes.push(Number(process.hrtime.bigint() - s) / 1e6);
  }
  let steadyGcMs = 0;
  const obs = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) steadyGcMs += e.duration;
  });
  obs.observe({ entryTypes: ['gc'] });
  const s = process.hrtime.bigint();
  feed(d, steady);
  const ns = Number(process.hrtime.bigint() - s) / steady;
  await new Promise((r) => setTimeout(r, 100)); // the gc entries arrive asynchronously
  obs.disconnect();
  const c = process.hrtime.bigint();
  for (const end = i + steady; i < end; i++) d.add(peers[i % peerCount]!, Math.floor(i / peerCount) & 0xffff, t0 + Math.floor(i / PER_MS), undefined);
  const nsCheck = Number(process.hrtime.bigint() - c) / steady;
  const stored = messages - 1000;
  return {
    impl,
    messages,
    size: d.size,
    peers: d.peers,
    heapPerMessage: Math.round((full.heapUsed - before.heapUsed) / stored),
    arrayBuffersPerMessage: Math.round((full.arrayBuffers - before.arrayBuffers) / stored),
    fullGcMs: Math.round(median(gcTimes) * 100) / 100,
    nsPerMessage: Math.round(ns),
    nsPerCheck: Math.round(nsCheck),
    steadyGcMs: Math.round(steadyGcMs),
    steadyMessages: steady,
  };
}

/** `main`'s dedup.ts (or another ref's) transpiled to a standalone ES module in a temp dir; returns its path. */
async function oldModule(ref: string): Promise<string> {
  const src = execFileSync('git', ['show', `${ref}:src/coap/dedup.ts`], { cwd: path.dirname(fileURLToPath(import.meta.url)), encoding: 'utf8' });
  const ts = (await import('typescript')).default;
  const js = ts.transpileModule(src, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } }).outputText;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dedup-old-'));
  const file = path.join(dir, 'dedup.mjs');
  fs.writeFileSync(file, js);
  return file;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      child: { type: 'string' },
      module: { type: 'string' },
      messages: { type: 'string', default: '300000' },
      peers: { type: 'string', default: '200' },
      steady: { type: 'string', default: '1000000' },
      repeat: { type: 'string', default: '3' },
      'old-ref': { type: 'string', default: 'b151e81' },
      mode: { type: 'string', default: DEFAULT_STACK_CONFIG.deduplicator },
      out: { type: 'string', default: 'dedup-memory.json' },
    },
  });
  const messages = Math.max(2000, Number(values.messages));
  const peers = Math.max(1, Number(values.peers));
  const steady = Math.max(1000, Number(values.steady));
  if (values.child !== undefined) {
    const run = await runChild(values.child as 'old' | 'new', values.module!, values.mode as DeduplicatorMode, messages, peers, steady);
    process.stdout.write(JSON.stringify(run) + '\n');
    return;
  }
  const self = fileURLToPath(import.meta.url);
  const modules = { old: await oldModule(values['old-ref']!), new: path.join(path.dirname(self), '../src/coap/dedup.js') };
  const runs: DedupMemoryRun[] = [];
  for (let r = 0; r < Math.max(1, Number(values.repeat)); r++) {
    for (const impl of ['old', 'new'] as const) {
      const args = ['--expose-gc', self, '--child', impl, '--module', modules[impl], '--mode', values.mode!, '--messages', String(messages), '--peers', String(peers), '--steady', String(steady)];
      const p = spawnSync(process.execPath, args, { encoding: 'utf8', maxBuffer: 1 << 20 });
      if (p.status !== 0) throw new Error(`${impl} run failed: ${p.stderr}`);
      const run = JSON.parse(p.stdout.trim().split('\n').pop()!) as DedupMemoryRun;
      runs.push(run);
      console.log(`run ${r + 1} ${impl}: ${JSON.stringify(run)}`);
    }
  }
  fs.rmSync(path.dirname(modules.old), { recursive: true, force: true });
  const fields = ['heapPerMessage', 'arrayBuffersPerMessage', 'fullGcMs', 'nsPerMessage', 'steadyGcMs', 'nsPerCheck'] as const;
  const summary = Object.fromEntries(
    (['old', 'new'] as const).map((impl) => [impl, Object.fromEntries(fields.map((f) => [f, median(runs.filter((r) => r.impl === impl).map((r) => r[f]))]))]),
  ) as Record<'old' | 'new', Record<(typeof fields)[number], number>>;
  const labels: Record<(typeof fields)[number], string> = {
    heapPerMessage: 'V8 heap used per message after gc (bytes)',
    arrayBuffersPerMessage: 'ArrayBuffers per message after gc (bytes)',
    fullGcMs: 'full gc() with the store full (ms)',
    nsPerMessage: 'steady state check + response, evicting (ns/message)',
    steadyGcMs: `GC time during ${steady.toLocaleString('en-US')} steady messages (ms)`,
    nsPerCheck: 'then check alone, no response kept, evicting (ns/check)',
  };
  console.log(`\ndedup ${values.mode} store full: ${messages.toLocaleString('en-US')} messages from ${peers} peers, ${RESPONSE_BYTES}-byte responses, node ${process.version}; median of ${runs.length / 2} runs`);
  console.log(`${'figure'.padEnd(58)}${'old'.padStart(10)}${'new'.padStart(10)}`);
  for (const f of fields) console.log(`${labels[f].padEnd(58)}${String(summary.old[f]).padStart(10)}${String(summary.new[f]).padStart(10)}`);
  fs.writeFileSync(values.out!, JSON.stringify({ node: process.version, mode: values.mode, messages, peers, responseBytes: RESPONSE_BYTES, steady, oldRef: values['old-ref'], summary, runs }, null, 2) + '\n');
  console.log(`written to ${values.out}`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}

// Micro-benchmark of the NAT's per-datagram path: the NAT (startNat) in a child process on 127.0.0.1, UDP echo
// destinations in child processes on 127.0.0.2, .3, ..., and client sockets in this process sending a bounded number
// of datagrams, at most `window` in flight per socket. Reports the NAT process's CPU µs per datagram (forwarded +
// backwarded), the echoes' CPU µs per echoed datagram (one receive and one send, for comparison) and datagrams/s, and
// writes the figures as JSON. Loopback only; every loop is bounded in count and time.
//
//   node dist/bench/nat-datagram.js [--datagrams 200000] [--sockets 200] [--window 4] [--size 64] [--destinations 2]
//                                   [--mode lb,cid] [--runs 1] [--cpu-prof] [--nat-module <nat.js>] [--out <file>]
// The machine is shared: compare variants over several alternating runs (`otherCpuMs` shows other processes' load).
import { fork, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { freePortOn, nodeIp } from './cluster-procs.js';
import { findProfile, formatProfile, summarizeProfile } from './profile-summary.js';
import { killChildren, machineCpuMs, trackChild, waitForQuiet } from './proc-util.js';

/** dist/bench → repository root. */
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const thisScript = fileURLToPath(import.meta.url);

/** NAT arguments after the destinations, per mode. */
const MODES: Record<string, { label: string; args: (destinations: string[]) => string[]; cid: boolean }> = {
  lb: { label: 'load balancer, one destination per entry', args: () => [], cid: false },
  reverse: { label: 'load balancer with -r', args: () => ['-r'], cid: false },
  cid: {
    label: '--cid, datagrams alternate between the nodes',
    args: (d) => [`--cid=${d.map((x, i) => `${i + 1}=${x}`).join(',')}`],
    cid: true,
  },
};

/** Messages between this process and the NAT child. */
type NatRequest = { cmd: 'start'; args: string[]; module: string } | { cmd: 'stats' } | { cmd: 'stop' };
/** Counters and CPU µs of a child (an echo child counts its echoed datagrams as `forwarded`). */
type ChildStats = { forwarded: number; backwarded: number; entries: number; cpuUs: number; userUs: number };
type NatReply = { port: number } | { stats: ChildStats } | { error: string };

// ---- child roles ----------------------------------------------------------------------------------------------

/** Echo destination: sends every datagram back to its source. */
function runEcho(host: string, port: number): void {
  const s = dgram.createSocket({ type: 'udp4', recvBufferSize: 1 << 20, sendBufferSize: 1 << 20 });
  let echoed = 0;
  s.on('message', (msg, rinfo) => {
    ++echoed;
    s.send(msg, rinfo.port, rinfo.address);
  });
  s.bind(port, host, () => process.send?.({ port: s.address().port }));
  process.on('message', (m: NatRequest) => {
    if (m.cmd !== 'stats') process.exit(0);
    const cpu = process.cpuUsage();
    process.send?.({ stats: { forwarded: echoed, backwarded: 0, entries: 0, cpuUs: cpu.user + cpu.system, userUs: cpu.user } } satisfies NatReply);
  });
  process.on('disconnect', () => process.exit(0));
}

/** The NAT, driven over IPC. */
function runNat(): void {
  let nat: { stats(): { forwarded: number; backwarded: number; entries: number }; localPorts: number[]; stop(): Promise<void> } | undefined;
  const reply = (m: NatReply): void => void process.send?.(m);
  process.on('message', (m: NatRequest) => {
    void (async () => {
      try {
        if (m.cmd === 'start') {
          const mod = (await import(pathToFileURL(m.module).href)) as typeof import('../src/nat/nat.js');
          const parsed = mod.parseNatArgs(m.args);
          if (parsed.kind !== 'ok') throw new Error(parsed.kind === 'error' ? parsed.message : 'usage');
          nat = await mod.startNat(parsed.options);
          reply({ port: nat.localPorts[0]! });
        } else if (m.cmd === 'stats') {
          const s = nat!.stats();
          const cpu = process.cpuUsage();
          reply({ stats: { forwarded: s.forwarded, backwarded: s.backwarded, entries: s.entries, cpuUs: cpu.user + cpu.system, userUs: cpu.user } });
        } else {
          await nat?.stop();
          process.exit(0);
        }
      } catch (err) {
        reply({ error: (err as Error).stack ?? String(err) });
      }
    })();
  });
  process.on('disconnect', () => process.exit(0));
}

// ---- parent ---------------------------------------------------------------------------------------------------

/** A forked child with request/reply over IPC (one request at a time, each bounded to 10 s). */
interface Child {
  proc: ChildProcess;
  next(): Promise<NatReply>;
  stop(): Promise<void>;
}

function forkChild(args: string[], execArgv: string[] = []): Child {
  const proc = fork(thisScript, args, { execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  trackChild(proc);
  const queue: NatReply[] = [];
  let waiting: ((m: NatReply | undefined) => void) | undefined;
  proc.on('message', (m: NatReply) => (waiting ? waiting(m) : queue.push(m)));
  proc.once('exit', () => waiting?.(undefined));
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  return {
    proc,
    next: async () => {
      const m =
        queue.shift() ??
        (proc.exitCode !== null || proc.signalCode !== null
          ? undefined
          : await new Promise<NatReply | undefined>((resolve) => {
              const t = setTimeout(() => waiting?.(undefined), 10_000);
              waiting = (reply) => {
                clearTimeout(t);
                waiting = undefined;
                resolve(reply);
              };
            }));
      if (m === undefined) throw new Error(`child ${args.join(' ')}: no reply`);
      if ('error' in m) throw new Error(m.error);
      return m;
    },
    stop: async () => {
      if (proc.exitCode === null && proc.connected) proc.send({ cmd: 'stop' } satisfies NatRequest);
      else proc.kill('SIGTERM');
      const t = setTimeout(() => proc.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(t);
    },
  };
}

interface Options {
  datagrams: number;
  sockets: number;
  window: number;
  size: number;
  destinations: number;
  modes: string[];
  runs: number;
  timeoutS: number;
  quietWaitS: number;
  cpuProf: boolean;
  natModule: string;
  out: string;
}

/** One measured run. */
interface RunResult {
  mode: string;
  run: number;
  /** client requests answered */
  answered: number;
  /** requests given up (no answer within the stall time) */
  lost: number;
  forwarded: number;
  backwarded: number;
  natCpuMs: number;
  /** NAT CPU µs per NAT datagram (forwarded + backwarded) */
  natUsPerDatagram: number;
  /** the user-mode part of it (JavaScript and libuv; the rest is the kernel's) */
  natUserUsPerDatagram: number;
  /** CPU µs of the echo destinations per echoed datagram (one receive and one send, like one NAT datagram) */
  echoUsPerDatagram: number;
  /** NAT datagrams (forwarded + backwarded) per second */
  datagramsPerSecond: number;
  seconds: number;
  clientCpuMs: number;
  /** machine CPU ms used by other processes (and interrupts) during the run: noise */
  otherCpuMs: number;
  /** machine irq + softirq ms during the run (loopback delivery is partly accounted here) */
  irqMs: number;
  timedOut: boolean;
  profile?: string[];
}

/** A request: a tls12_cid record header with `nodeId` as byte 11 (the --cid routing byte), zero-padded to `size`. */
function makeDatagram(size: number, nodeId: number): Buffer {
  const b = Buffer.alloc(Math.max(size, 16));
  b[0] = 25;
  b[1] = 0xfe;
  b[2] = 0xfd;
  b[11] = nodeId;
  return b;
}

/**
 * Sends `total` requests from `sockets` client sockets to 127.0.0.1:port, at most `window` in flight per socket; a
 * socket without an answer for 300 ms counts its in-flight requests as lost and refills its window. Bounded by
 * `timeoutMs`.
 */
async function drive(port: number, sockets: dgram.Socket[], total: number, window: number, payloads: Buffer[], timeoutMs: number): Promise<{ answered: number; lost: number; timedOut: boolean }> {
  let sent = 0;
  let answered = 0;
  let lost = 0;
  const inflight = new Array<number>(sockets.length).fill(0);
  const lastAnswer = new Array<number>(sockets.length).fill(Date.now());
  let finish!: () => void;
  const done = new Promise<void>((r) => (finish = r));
  const send = (i: number): void => {
    if (sent >= total) return;
    const p = payloads[sent % payloads.length]!;
    ++sent;
    ++inflight[i]!;
    sockets[i]!.send(p, port, '127.0.0.1');
  };
  const fill = (i: number): void => {
    while (inflight[i]! < window && sent < total) send(i);
  };
  const settled = (): boolean => answered + lost >= total;
  const handlers = sockets.map((s, i) => {
    const h = (): void => {
      if (inflight[i]! > 0) --inflight[i]!;
      ++answered;
      lastAnswer[i] = Date.now();
      if (settled()) finish();
      else send(i);
    };
    s.on('message', h);
    return h;
  });
  const stall = setInterval(() => {
    const t = Date.now();
    for (let i = 0; i < sockets.length; i++) {
      if (inflight[i]! > 0 && t - lastAnswer[i]! > 300) {
        lost += inflight[i]!;
        inflight[i] = 0;
        lastAnswer[i] = t;
        fill(i);
      }
    }
    if (settled()) finish();
  }, 100);
  let timedOut = false;
  const timeout = setTimeout(() => {
    timedOut = true;
    finish();
  }, timeoutMs);
  for (let i = 0; i < sockets.length; i++) fill(i);
  await done;
  clearInterval(stall);
  clearTimeout(timeout);
  sockets.forEach((s, i) => s.off('message', handlers[i]!));
  return { answered, lost, timedOut };
}

/** Asks a NAT or echo child for its counters. */
async function childStats(child: Child): Promise<ChildStats> {
  child.proc.send({ cmd: 'stats' } satisfies NatRequest);
  return ((await child.next()) as { stats: ChildStats }).stats;
}

async function runOnce(o: Options, mode: string, run: number): Promise<RunResult> {
  const m = MODES[mode];
  if (!m) throw new Error(`unknown mode ${mode} (${Object.keys(MODES).join(', ')})`);
  const ips = Array.from({ length: o.destinations }, (_, i) => nodeIp(i + 1));
  const destPort = await freePortOn(ips);
  const echoes = ips.map((ip) => forkChild(['--role', 'echo', '--host', ip, '--port', String(destPort)]));
  const profDir = o.cpuProf ? fs.mkdtempSync(path.join(os.tmpdir(), 'nat-prof-')) : undefined;
  const nat = forkChild(['--role', 'nat'], profDir ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : []);
  const sockets: dgram.Socket[] = [];
  try {
    for (const e of echoes) await e.next();
    const destinations = ips.map((ip) => `${ip}:${destPort}`);
    nat.proc.send({ cmd: 'start', args: ['127.0.0.1:0', '--', ...destinations, ...m.args(destinations)], module: o.natModule } satisfies NatRequest);
    const { port } = (await nat.next()) as { port: number };
    for (let i = 0; i < o.sockets; i++) {
      const s = dgram.createSocket({ type: 'udp4', recvBufferSize: 1 << 20, sendBufferSize: 1 << 20 });
      await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
      sockets.push(s);
    }
    const payloads = m.cid ? ips.map((_, i) => makeDatagram(o.size, i + 1)) : [makeDatagram(o.size, 0)];
    // warm-up: entries created, code optimized
    await drive(port, sockets, Math.min(o.datagrams, Math.max(o.sockets * 10, Math.floor(o.datagrams / 10))), o.window, payloads, 20_000);
    if (o.quietWaitS > 0) await waitForQuiet(0.1, o.quietWaitS * 1000);
    const m0 = machineCpuMs();
    const s0 = await childStats(nat);
    const e0 = await Promise.all(echoes.map(childStats));
    const c0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    const r = await drive(port, sockets, o.datagrams, o.window, payloads, o.timeoutS * 1000);
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    const c1 = process.cpuUsage(c0);
    const s1 = await childStats(nat);
    const e1 = await Promise.all(echoes.map(childStats));
    const m1 = machineCpuMs();
    const echoed = e1.reduce((a, e, i) => a + e.forwarded - e0[i]!.forwarded, 0);
    const echoUs = e1.reduce((a, e, i) => a + e.cpuUs - e0[i]!.cpuUs, 0);
    const datagrams = s1.forwarded - s0.forwarded + (s1.backwarded - s0.backwarded);
    const cpuUs = s1.cpuUs - s0.cpuUs;
    await nat.stop();
    let profile: string[] | undefined;
    const file = profDir ? findProfile(profDir) : undefined;
    if (file) profile = formatProfile(summarizeProfile(file, 20));
    return {
      mode,
      run,
      answered: r.answered,
      lost: r.lost,
      forwarded: s1.forwarded - s0.forwarded,
      backwarded: s1.backwarded - s0.backwarded,
      natCpuMs: Math.round(cpuUs / 100) / 10,
      natUsPerDatagram: datagrams > 0 ? Math.round((cpuUs / datagrams) * 100) / 100 : 0,
      natUserUsPerDatagram: datagrams > 0 ? Math.round(((s1.userUs - s0.userUs) / datagrams) * 100) / 100 : 0,
      echoUsPerDatagram: echoed > 0 ? Math.round((echoUs / echoed) * 100) / 100 : 0,
      datagramsPerSecond: Math.round(datagrams / seconds),
      seconds: Math.round(seconds * 1000) / 1000,
      clientCpuMs: Math.round((c1.user + c1.system) / 100) / 10,
      otherCpuMs: Math.max(0, Math.round(m1.busy - m0.busy - (m1.irq - m0.irq) - (cpuUs + echoUs + c1.user + c1.system) / 1000)),
      irqMs: Math.round(m1.irq - m0.irq),
      timedOut: r.timedOut,
      ...(profile ? { profile } : {}),
    };
  } finally {
    for (const s of sockets) s.close();
    await nat.stop();
    await Promise.all(echoes.map((e) => e.stop()));
  }
}

function parseOptions(argv: string[]): Options | undefined {
  const { values } = parseArgs({
    args: argv,
    options: {
      datagrams: { type: 'string', default: '200000' },
      sockets: { type: 'string', default: '200' },
      window: { type: 'string', default: '4' },
      size: { type: 'string', default: '64' },
      destinations: { type: 'string', default: '2' },
      mode: { type: 'string', default: 'lb,cid' },
      runs: { type: 'string', default: '1' },
      timeout: { type: 'string', default: '120' },
      'quiet-wait': { type: 'string', default: '30' },
      'cpu-prof': { type: 'boolean', default: false },
      'nat-module': { type: 'string', default: path.join(repoRoot, 'dist', 'src', 'nat', 'nat.js') },
      out: { type: 'string', default: path.join(repoRoot, 'bench-results-nat.json') },
      help: { type: 'boolean', short: 'h', default: false },
      role: { type: 'string' },
      host: { type: 'string', default: '127.0.0.2' },
      port: { type: 'string', default: '0' },
    },
    strict: true,
  });
  if (values.role === 'echo') {
    if (!values.host.startsWith('127.')) throw new Error('echo: loopback addresses only');
    runEcho(values.host, Number(values.port));
    return undefined;
  }
  if (values.role === 'nat') {
    runNat();
    return undefined;
  }
  if (values.help) {
    console.log(
      [
        'usage: node dist/bench/nat-datagram.js [options]',
        '  --datagrams <n>     client requests per measured run (default 200000; NAT datagrams = 2 × answered)',
        '  --sockets <n>       client sockets = NAT entries (default 200)',
        '  --window <k>        requests in flight per socket (default 4)',
        '  --size <bytes>      datagram size (default 64)',
        '  --destinations <n>  echo destinations on 127.0.0.2 ... (default 2)',
        `  --mode <list>       ${Object.entries(MODES).map(([id, x]) => `${id} (${x.label})`).join(', ')}; default lb,cid`,
        '  --runs <n>          runs per mode, alternating the modes (default 1)',
        '  --timeout <s>       bound of one measured run (default 120)',
        '  --quiet-wait <s>    before each run wait up to this long for other processes to go idle (default 30, 0 = off)',
        '  --cpu-prof          profile the NAT process and print its top functions',
        '  --nat-module <file> the built nat.js to load (default dist/src/nat/nat.js; for before/after comparisons)',
        '  --out <file>        JSON output (default bench-results-nat.json in the repository root)',
      ].join('\n'),
    );
    process.exit(0);
  }
  const num = (name: string, v: string, min: number, max: number): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max) throw new Error(`--${name} must be an integer in ${min}..${max}`);
    return n;
  };
  return {
    datagrams: num('datagrams', values.datagrams, 1, 10_000_000),
    sockets: num('sockets', values.sockets, 1, 2000),
    window: num('window', values.window, 1, 64),
    size: num('size', values.size, 16, 2048),
    destinations: num('destinations', values.destinations, 1, 8),
    modes: values.mode.split(',').map((s) => s.trim()).filter(Boolean),
    runs: num('runs', values.runs, 1, 20),
    timeoutS: num('timeout', values.timeout, 1, 600),
    quietWaitS: num('quiet-wait', values['quiet-wait'], 0, 600),
    cpuProf: values['cpu-prof'],
    natModule: path.resolve(values['nat-module']),
    out: path.resolve(values.out),
  };
}

async function main(): Promise<void> {
  const o = parseOptions(process.argv.slice(2));
  if (!o) return;
  process.once('SIGINT', () => {
    killChildren();
    process.exit(130);
  });
  console.log(
    `NAT datagram bench: ${os.cpus().length} CPUs, node ${process.version}, load ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}; ` +
      `${o.datagrams} requests, ${o.sockets} sockets, window ${o.window}, ${o.size} bytes, ${o.destinations} destinations, ${o.natModule}`,
  );
  const results: RunResult[] = [];
  for (let run = 1; run <= o.runs; run++) {
    for (const mode of o.modes) {
      const r = await runOnce(o, mode, run);
      results.push(r);
      console.log(
        `${mode} #${run}: ${r.natUsPerDatagram} µs NAT CPU per datagram (user ${r.natUserUsPerDatagram}; echo ${r.echoUsPerDatagram}), ${r.datagramsPerSecond} datagrams/s ` +
          `(${r.forwarded} forwarded, ${r.backwarded} backwarded, ${r.lost} lost, NAT ${r.natCpuMs} ms CPU, client ${r.clientCpuMs} ms, ` +
          `other processes ${r.otherCpuMs} ms, irq ${r.irqMs} ms, ${r.seconds} s${r.timedOut ? ', TIMED OUT' : ''})`,
      );
      for (const line of r.profile ?? []) console.log(`  ${line}`);
    }
  }
  fs.writeFileSync(o.out, JSON.stringify({ date: new Date().toISOString(), options: o, loadavg: os.loadavg(), results }, null, 2) + '\n');
  console.log(`written to ${o.out}`);
}

main().catch((err: unknown) => {
  console.error((err as Error).stack ?? String(err));
  killChildren();
  process.exit(1);
});

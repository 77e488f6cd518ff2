// Process helpers for the benchmark runner: CPU time from /proc, machine load, UDP drop counters, server spawning.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

let clkTck: number | undefined;

/** Kernel clock ticks per second (for /proc stat fields); 100 when getconf is unavailable. */
export function clockTicks(): number {
  if (clkTck === undefined) {
    try {
      clkTck = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clkTck = 100;
    }
  }
  return clkTck;
}

/** CPU time (user + system, all threads) of a process in ms, or undefined when it is gone. */
export function processCpuMs(pid: number): number | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // fields after the ")" closing the command name: state is field 3, utime 14, stime 15
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(rest[11]) + Number(rest[12]);
    return (ticks * 1000) / clockTicks();
  } catch {
    return undefined;
  }
}

/** Process ids of the live children of `pid` (from each process' parent id in /proc/<pid>/stat). */
export function childPids(pid: number): number[] {
  const out: number[] = [];
  let entries: string[];
  try {
    entries = fs.readdirSync('/proc');
  } catch {
    return out;
  }
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${e}/stat`, 'utf8');
      // field 4 (the parent id) is the second after the ")" closing the command name
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) out.push(Number(e));
    } catch {
      // ended meanwhile
    }
  }
  return out;
}

/**
 * Properties line that makes a measured server one process (the default is a worker per core on a Node with
 * SO_REUSEPORT): the sections compare one server's CPU per request, profile it with --cpu-prof (which a worker
 * would inherit into separate files) and run old builds beside it, which ignore the unknown key.
 */
export const ONE_PROCESS_PROPERTY = 'WORKERS=1';

/**
 * Reads a child's stdout as text: `onLine` gets every complete line as it arrives, `output()` everything read so far,
 * `flush()` hands on a last line without newline (call it when the child has closed).
 */
export function stdoutLines(child: ChildProcess, onLine: (line: string) => void): { output: () => string; flush: () => void } {
  let output = '';
  let pending = '';
  child.stdout!.setEncoding('utf8');
  child.stdout!.on('data', (chunk: string) => {
    output += chunk;
    pending += chunk;
    let nl: number;
    while ((nl = pending.indexOf('\n')) >= 0) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      onLine(line);
    }
  });
  return {
    output: () => output,
    flush: () => {
      if (pending) onLine(pending);
      pending = '';
    },
  };
}

/** CPU time of a process and its live children (a server's worker processes), ms; undefined when it is gone. */
export function processTreeCpuMs(pid: number): number | undefined {
  const own = processCpuMs(pid);
  if (own === undefined) return undefined;
  return childPids(pid).reduce((sum, child) => sum + (processCpuMs(child) ?? 0), own);
}

/** Peak resident set size of a process in MB (VmHWM), or undefined. */
export function processPeakRssMb(pid: number): number | undefined {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Math.round(Number(m[1]) / 102.4) / 10 : undefined;
  } catch {
    return undefined;
  }
}

/** Machine-wide CPU time in ms since boot (from /proc/stat, all cores): busy (incl. irq), irq+softirq, total. */
export function machineCpuMs(): { busy: number; irq: number; total: number } {
  try {
    const line = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
    // user nice system idle iowait irq softirq steal guest guest_nice (guest time is already in user)
    const v = line.trim().split(/\s+/).slice(1, 9).map(Number);
    const total = v.reduce((a, b) => a + b, 0);
    const idle = (v[3] ?? 0) + (v[4] ?? 0) + (v[7] ?? 0);
    const f = 1000 / clockTicks();
    return { busy: (total - idle) * f, irq: ((v[5] ?? 0) + (v[6] ?? 0)) * f, total: total * f };
  } catch {
    return { busy: 0, irq: 0, total: 0 };
  }
}

/** Waits until the machine is quiet (busy below maxBusyFraction of one core over a 500 ms sample), at most maxWaitMs; resolves with the last busy fraction. */
export async function waitForQuiet(maxBusyFraction: number, maxWaitMs: number): Promise<number> {
  const deadline = Date.now() + maxWaitMs;
  for (;;) {
    const a = machineCpuMs();
    await new Promise((r) => setTimeout(r, 500));
    const b = machineCpuMs();
    const busy = b.total > a.total ? ((b.busy - a.busy) / (b.total - a.total)) * os.cpus().length : 0;
    if (busy <= maxBusyFraction || Date.now() >= deadline) return busy;
  }
}

/** UDP counters (InDatagrams, RcvbufErrors, SndbufErrors, ...) from /proc/net/snmp. */
export function udpCounters(): Record<string, number> {
  try {
    const lines = fs.readFileSync('/proc/net/snmp', 'utf8').split('\n').filter((l) => l.startsWith('Udp:'));
    const names = lines[0]!.split(/\s+/).slice(1);
    const values = lines[1]!.split(/\s+/).slice(1).map(Number);
    return Object.fromEntries(names.map((n, i) => [n, values[i] ?? 0]));
  } catch {
    return {};
  }
}

const liveChildren = new Set<ChildProcess>();

/** Remembers a child process until it exits, so that killChildren() can end it when the runner is interrupted. */
export function trackChild(child: ChildProcess): void {
  liveChildren.add(child);
  child.once('exit', () => liveChildren.delete(child));
}

/** Sends SIGKILL to every tracked child still running (on SIGINT/SIGTERM of the runner). */
export function killChildren(): void {
  for (const child of liveChildren) child.kill('SIGKILL');
  liveChildren.clear();
}

/** SIGINT and SIGTERM of a runner end its tracked children and the runner (exit status 130). */
export function killChildrenOnSignal(): void {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      killChildren();
      process.exit(130);
    });
  }
}

/** A spawned server process whose output goes to a log file. */
export interface ServerProcess {
  child: ChildProcess;
  pid: number;
  logPath: string;
  /** true once the process has exited */
  exited: () => boolean;
  /** sends SIGTERM, then SIGKILL after graceMs; resolves when the process is gone */
  stop: (graceMs?: number) => Promise<void>;
  /** the last bytes of the log (for error reports) */
  logTail: (bytes?: number) => string;
}

/** Spawns `node <args>` in cwd with stdout/stderr into cwd/<name>.log (a file, so logging costs the parent nothing). */
export function spawnNode(name: string, args: string[], cwd: string, nodeArgs: string[] = [], execPath = process.execPath): ServerProcess {
  const logPath = path.join(cwd, `${name}.log`);
  const fd = fs.openSync(logPath, 'w');
  const child = spawn(execPath, [...nodeArgs, ...args], { cwd, stdio: ['ignore', fd, fd] });
  fs.closeSync(fd);
  trackChild(child);
  let done = false;
  const exitPromise = new Promise<void>((resolve) => {
    child.once('exit', () => {
      done = true;
      resolve();
    });
    child.once('error', () => {
      done = true;
      resolve();
    });
  });
  return {
    child,
    pid: child.pid ?? -1,
    logPath,
    exited: () => done,
    stop: async (graceMs = 5000) => {
      if (done) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exitPromise;
      clearTimeout(timer);
    },
    logTail: (bytes = 2000) => {
      try {
        const text = fs.readFileSync(logPath, 'utf8');
        return text.slice(-bytes);
      } catch {
        return '';
      }
    },
  };
}

/** Binds 127.0.0.1:port (0 = any) for a moment; resolves with the bound port, or undefined when it is taken. */
export function tryPort(port: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const s = dgram.createSocket('udp4');
    s.once('error', () => resolve(undefined));
    s.bind(port, '127.0.0.1', () => {
      const bound = s.address().port;
      s.close(() => resolve(bound));
    });
  });
}

/** The preferred UDP port if free on 127.0.0.1, else a free one chosen by the OS. */
export async function pickPort(preferred: number): Promise<number> {
  return (await tryPort(preferred)) ?? (await tryPort(0))!;
}

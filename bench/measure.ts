// Runs the forked load generator against a running server process and samples the server's CPU time in the
// generator's measured window (reusable by other sections: any generator script speaking GeneratorMessage works).
import { fork, execFileSync } from 'node:child_process';
import type { GeneratorMessage, LoadResult } from './coap-load.js';
import { machineCpuMs, processPeakRssMb, processTreeCpuMs, trackChild, udpCounters } from './proc-util.js';

/** Server-side figures for the measured window. */
export interface ServerFigures {
  /** server CPU time in the window, ms (all threads) */
  cpuMs: number;
  /** server CPU as % of one core */
  cpuPercent: number;
  /** server CPU ms per 1,000 completed requests */
  cpuMsPer1000: number;
  /** peak RSS of the server process so far, MB */
  peakRssMb: number | undefined;
}

/** Machine-level figures for the measured window. */
export interface MachineFigures {
  /** CPU busy ms on all cores in the window */
  busyMs: number;
  /** irq + softirq ms in the window (mostly the loopback UDP traffic itself) */
  irqMs: number;
  /** busy ms not used by server, generator or irq (other processes; > ~10% of the window means noisy figures) */
  otherMs: number;
  /** UDP receive-buffer drops (whole machine) in the window */
  udpRcvbufErrors: number;
  /** UDP send-buffer drops (whole machine) in the window */
  udpSndbufErrors: number;
}

/** A generator run plus server and machine figures. */
export interface Measurement {
  load: LoadResult;
  server: ServerFigures;
  machine: MachineFigures;
}

/** Pins all threads of a process to one CPU, or to a CPU list such as "0-3" (best effort; false when taskset failed). */
export function pinToCpu(pid: number, cpu: number | string): boolean {
  try {
    execFileSync('taskset', ['-a', '-p', '-c', String(cpu), String(pid)], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** The CPU list a process may run on ("0-1", as taskset prints it); undefined when taskset failed. */
export function cpuListOf(pid: number): string | undefined {
  try {
    return execFileSync('taskset', ['-c', '-p', String(pid)], { encoding: 'utf8' }).split(':').pop()!.trim();
  } catch {
    return undefined;
  }
}

/** Forks generatorScript with args; samples the CPU of serverPid and its children at measure-start/-end; resolves with the figures. */
export function measureWithGenerator(
  generatorScript: string,
  args: string[],
  serverPid: number,
  limitMs: number,
  pinGeneratorCpu?: number,
): Promise<Measurement> {
  return new Promise<Measurement>((resolve, reject) => {
    const child = fork(generatorScript, args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    trackChild(child);
    if (pinGeneratorCpu !== undefined && child.pid) pinToCpu(child.pid, pinGeneratorCpu);
    let cpu0 = 0;
    let m0 = machineCpuMs();
    let u0 = udpCounters();
    let settled = false;
    const killer = setTimeout(() => {
      child.kill('SIGKILL');
      done(new Error(`generator exceeded ${limitMs} ms`));
    }, limitMs);
    const done = (err: Error | undefined, m?: Measurement): void => {
      if (settled) return;
      settled = true;
      clearTimeout(killer);
      if (err) reject(err);
      else resolve(m!);
    };
    let serverCpuMs = 0;
    let machine: MachineFigures = { busyMs: 0, irqMs: 0, otherMs: 0, udpRcvbufErrors: 0, udpSndbufErrors: 0 };
    child.on('message', (msg: GeneratorMessage) => {
      if (msg.type === 'phase' && msg.phase === 'measure-start') {
        cpu0 = processTreeCpuMs(serverPid) ?? 0;
        m0 = machineCpuMs();
        u0 = udpCounters();
      } else if (msg.type === 'phase' && msg.phase === 'measure-end') {
        // the whole server: with --workers, the primary and its worker processes
        serverCpuMs = (processTreeCpuMs(serverPid) ?? cpu0) - cpu0;
        const m1 = machineCpuMs();
        const u1 = udpCounters();
        machine = {
          busyMs: Math.round(m1.busy - m0.busy),
          irqMs: Math.round(m1.irq - m0.irq),
          otherMs: 0,
          udpRcvbufErrors: (u1['RcvbufErrors'] ?? 0) - (u0['RcvbufErrors'] ?? 0),
          udpSndbufErrors: (u1['SndbufErrors'] ?? 0) - (u0['SndbufErrors'] ?? 0),
        };
      } else if (msg.type === 'result') {
        const load = msg.result;
        const windowS = load.windowMs / 1000;
        machine.otherMs = Math.max(0, Math.round(machine.busyMs - machine.irqMs - serverCpuMs - load.generatorCpuMs));
        done(undefined, {
          load,
          server: {
            cpuMs: Math.round(serverCpuMs),
            cpuPercent: Math.round(serverCpuMs / windowS / 10),
            cpuMsPer1000: load.completed > 0 ? Math.round((serverCpuMs * 1000 * 100) / load.completed) / 100 : 0,
            peakRssMb: processPeakRssMb(serverPid),
          },
          machine,
        });
      } else if (msg.type === 'error') {
        done(new Error(`generator: ${msg.message}`));
      }
    });
    child.once('exit', (code) => {
      if (!settled) done(new Error(`generator exited with code ${code} before reporting`));
    });
  });
}

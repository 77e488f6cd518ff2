// The primary's supervisor of worker processes (issue 13): forks N copies of a worker entry module, waits until
// each reports ready (or fails start-up with a message), restarts a worker that dies with a growing delay, relays
// messages both ways and stops them all. Plain child_process.fork, not node:cluster: node:cluster would share one
// socket handle between workers, where each worker must bind its own SO_REUSEPORT socket (transport/datagram.ts).
//
// Messages of the protocol (plain objects over the IPC channel):
//   worker -> primary: { type: 'ready' } once serving, { type: 'failed', message } when start-up failed;
//   primary -> worker: { type: 'stop' } (the worker ends itself; killed after stopTimeoutMs).
// Anything else is handed to onMessage as it is.
import { fork, type ChildProcess } from 'node:child_process';
import type { Logger } from 'pino';

/** Options of a supervisor. */
export interface SupervisorOptions {
  /** workers to run (at least 1) */
  count: number;
  /** the worker's entry module (a built .js file) */
  module: string;
  /** command-line arguments of worker `index` */
  args?: (index: number) => string[];
  /** extra environment of worker `index` (merged over the primary's) */
  env?: (index: number) => Record<string, string>;
  /** node options of the workers (default: the primary's) */
  execArgv?: string[];
  /** a worker's message other than ready/failed */
  onMessage?: (index: number, message: unknown) => void;
  /** a worker (re)started and reported ready (`message`: its ready message); `restart` false for the first start */
  onReady?: (index: number, restart: boolean, message: { type: string; [key: string]: unknown }) => void;
  /** time a worker has to report ready (ms, default 30 s) */
  readyTimeoutMs?: number;
  /** first restart delay (ms, default 500); doubles per quick death, at most maxRestartDelayMs */
  restartDelayMs?: number;
  maxRestartDelayMs?: number;
  /** a worker that ran this long counts as healthy again: its next restart waits restartDelayMs (ms, default 10 s) */
  healthyAfterMs?: number;
  /** time a worker has to end after { type: 'stop' } before it is killed (ms, default 5 s) */
  stopTimeoutMs?: number;
  logger?: Logger;
}

/** What the supervisor knows of one worker slot. */
export interface WorkerState {
  readonly index: number;
  /** process id of the current process (undefined between a death and its restart) */
  pid: number | undefined;
  /** restarts after deaths */
  restarts: number;
  /** starting: forked, not ready yet; running: ready; waiting: dead, restart scheduled; stopped */
  state: 'starting' | 'running' | 'waiting' | 'stopped';
}

/** A running set of workers. */
export interface Supervisor {
  readonly workers: readonly WorkerState[];
  /** forks every worker and resolves when all are ready; rejects with the first start-up failure (all stopped) */
  start(): Promise<void>;
  /** sends to worker `index`; false when it is neither starting nor running */
  send(index: number, message: unknown): boolean;
  /** sends to every running worker; the number reached */
  broadcast(message: unknown): number;
  /** stops every worker (no restarts any more) */
  stop(): Promise<void>;
}

interface Slot {
  state: WorkerState;
  child: ChildProcess | undefined;
  startedAt: number;
  delay: number;
  timer: NodeJS.Timeout | undefined;
}

/** A worker's start-up message. */
function isType(message: unknown, type: string): message is { type: string; message?: unknown; [key: string]: unknown } {
  return typeof message === 'object' && message !== null && (message as { type?: unknown }).type === type;
}

/** Creates a supervisor (nothing runs until start()). */
export function createSupervisor(o: SupervisorOptions): Supervisor {
  if (!Number.isInteger(o.count) || o.count < 1) throw new RangeError(`worker count must be a positive integer, got ${o.count}`);
  const readyTimeout = o.readyTimeoutMs ?? 30_000;
  const firstDelay = o.restartDelayMs ?? 500;
  const maxDelay = o.maxRestartDelayMs ?? 10_000;
  const healthyAfter = o.healthyAfterMs ?? 10_000;
  const stopTimeout = o.stopTimeoutMs ?? 5_000;
  const slots: Slot[] = [];
  for (let i = 0; i < o.count; i++) {
    slots.push({ state: { index: i, pid: undefined, restarts: 0, state: 'stopped' }, child: undefined, startedAt: 0, delay: firstDelay, timer: undefined });
  }
  let stopping = false;

  /** Forks worker `slot`; resolves when it is ready, rejects with its start-up failure. */
  function launch(slot: Slot, restart: boolean): Promise<void> {
    const i = slot.state.index;
    const child = fork(o.module, o.args?.(i) ?? [], {
      env: { ...process.env, ...(o.env?.(i) ?? {}) },
      execArgv: o.execArgv ?? process.execArgv,
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    slot.child = child;
    slot.state.pid = child.pid;
    slot.state.state = 'starting';
    slot.startedAt = Date.now();
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      const settle = (err?: Error): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (err) reject(err);
        else resolve();
      };
      const timer = setTimeout(() => {
        settle(new Error(`worker ${i} not ready after ${readyTimeout} ms`));
        child.kill('SIGKILL');
      }, readyTimeout);
      child.on('message', (message: unknown) => {
        if (isType(message, 'ready')) {
          slot.state.state = 'running';
          o.onReady?.(i, restart, message);
          settle();
        } else if (isType(message, 'failed')) {
          settle(new Error(String(message.message ?? `worker ${i} failed to start`)));
        } else {
          o.onMessage?.(i, message);
        }
      });
      child.on('error', (err) => settle(err));
      child.on('exit', (code, signal) => {
        settle(new Error(`worker ${i} exited during start-up (${signal ?? `status ${code}`})`));
        if (slot.child !== child) return;
        slot.child = undefined;
        slot.state.pid = undefined;
        const wasRunning = slot.state.state === 'running';
        slot.state.state = 'stopped';
        if (stopping || !wasRunning) return;
        scheduleRestart(slot, code, signal);
      });
    });
  }

  /** A running worker died: restart it after a delay that grows while it keeps dying quickly. */
  function scheduleRestart(slot: Slot, code: number | null, signal: NodeJS.Signals | null): void {
    const i = slot.state.index;
    if (Date.now() - slot.startedAt >= healthyAfter) slot.delay = firstDelay;
    const delay = slot.delay;
    slot.delay = Math.min(delay * 2, maxDelay);
    slot.state.state = 'waiting';
    o.logger?.warn({ worker: i, code, signal, restartInMs: delay }, `worker ${i} died (${signal ?? `status ${code}`}), restarting it`);
    slot.timer = setTimeout(() => {
      slot.timer = undefined;
      if (stopping) return;
      slot.state.restarts++;
      launch(slot, true).then(
        () => o.logger?.info({ worker: i, pid: slot.state.pid, restarts: slot.state.restarts }, `worker ${i} restarted`),
        (err: Error) => {
          o.logger?.error({ worker: i, err: err.message }, `worker ${i} failed to restart`);
          if (!stopping && slot.child === undefined) scheduleRestart(slot, null, null);
        },
      );
    }, delay);
  }

  /** Ends one worker: { type: 'stop' }, SIGKILL after the timeout. */
  function end(slot: Slot): Promise<void> {
    if (slot.timer !== undefined) clearTimeout(slot.timer);
    slot.timer = undefined;
    const child = slot.child;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) {
      slot.state.state = 'stopped';
      return Promise.resolve();
    }
    return new Promise<void>((resolve) => {
      const kill = setTimeout(() => child.kill('SIGKILL'), stopTimeout);
      child.once('exit', () => {
        clearTimeout(kill);
        slot.state.state = 'stopped';
        resolve();
      });
      if (!child.connected || !trySend(child, { type: 'stop' })) child.kill('SIGTERM');
    });
  }

  const supervisor: Supervisor = {
    workers: slots.map((s) => s.state),
    async start() {
      stopping = false;
      const results = await Promise.allSettled(slots.map((s) => launch(s, false)));
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed !== undefined) {
        stopping = true;
        await Promise.all(slots.map(end));
        throw failed.reason as Error;
      }
    },
    send(index, message) {
      const child = slots[index]?.child;
      const state = slots[index]?.state.state;
      // a starting worker may already ask (e.g. for its part of the store file before it serves)
      return child !== undefined && (state === 'running' || state === 'starting') && trySend(child, message);
    },
    broadcast(message) {
      let n = 0;
      for (let i = 0; i < slots.length; i++) if (supervisor.send(i, message)) n++;
      return n;
    },
    async stop() {
      stopping = true;
      await Promise.all(slots.map(end));
    },
  };
  return supervisor;
}

/** process.send that reports a closed channel as false instead of throwing. */
function trySend(child: ChildProcess, message: unknown): boolean {
  if (!child.connected) return false;
  try {
    return child.send(message as object);
  } catch {
    return false;
  }
}

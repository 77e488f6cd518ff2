// Timers owned by a resource tree: periodic tasks (started by start()) and tracked one-shot delays.

/** Periodic and one-shot timers of a resource tree; stop() cancels everything. */
export interface TreeTimers {
  /** registers a periodic task; start() runs it once immediately and then every `intervalMs` */
  every(intervalMs: number, task: () => void): void;
  /** runs `task` once after `delayMs`; returns a cancel function */
  after(delayMs: number, task: () => void): () => void;
  /** starts the periodic tasks (idempotent) */
  start(): void;
  /** stops periodic tasks and cancels pending one-shot tasks */
  stop(): void;
}

/** Creates the timer set of a resource tree. */
export function createTreeTimers(): TreeTimers {
  const periodic: { intervalMs: number; task: () => void }[] = [];
  const running: NodeJS.Timeout[] = [];
  const pending = new Set<NodeJS.Timeout>();
  let started = false;
  return {
    every(intervalMs, task) {
      periodic.push({ intervalMs, task });
      if (started) {
        task();
        running.push(setInterval(task, intervalMs));
      }
    },
    after(delayMs, task) {
      const handle = setTimeout(() => {
        pending.delete(handle);
        task();
      }, delayMs);
      pending.add(handle);
      return () => {
        clearTimeout(handle);
        pending.delete(handle);
      };
    },
    start() {
      if (started) return;
      started = true;
      for (const p of periodic) {
        p.task();
        running.push(setInterval(p.task, p.intervalMs));
      }
    },
    stop() {
      started = false;
      for (const h of running.splice(0)) clearInterval(h);
      for (const h of pending) clearTimeout(h);
      pending.clear();
    },
  };
}

// The workers' supervisor (issue 13) with a stand-in worker process: all ready before start() resolves,
// messages both ways, a killed worker replaced (only it), a start-up failure stopping everything with the
// worker's message, a worker that never reports ready, stop() without restarts.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { createSupervisor, type Supervisor, type SupervisorOptions } from '../../src/workers/supervisor.js';

const FIXTURE = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'helpers', 'worker-fixture.mjs');
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const alive = (pid: number | undefined): boolean => {
  if (pid === undefined) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

let running: Supervisor | undefined;
afterEach(async () => {
  await running?.stop();
  running = undefined;
});

function supervisor(count: number, extra: Partial<SupervisorOptions> = {}, mode: (i: number) => string = () => 'ready'): Supervisor {
  running = createSupervisor({ count, module: FIXTURE, execArgv: [], env: (i) => ({ FIXTURE_INDEX: String(i), FIXTURE_MODE: mode(i) }), restartDelayMs: 50, ...extra });
  return running;
}

async function until(check: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('condition not reached in time');
    await sleep(20);
  }
}

describe('worker supervisor', () => {
  it('starts every worker, relays messages both ways, broadcasts', async () => {
    const echoes: { index: number; value: string }[] = [];
    const s = supervisor(3, { onMessage: (_i, m) => echoes.push(m as { index: number; value: string }) });
    await s.start();
    expect(s.workers.map((w) => w.state)).toEqual(['running', 'running', 'running']);
    expect(new Set(s.workers.map((w) => w.pid)).size).toBe(3);
    expect(s.broadcast({ type: 'echo', value: 'all' })).toBe(3);
    expect(s.send(1, { type: 'echo', value: 'one' })).toBe(true);
    await until(() => echoes.length === 4);
    expect(echoes.filter((e) => e.value === 'all').map((e) => e.index).sort()).toEqual([0, 1, 2]);
    expect(echoes.find((e) => e.value === 'one')?.index).toBe(1);
  });

  it('replaces a worker that dies, and only that one', async () => {
    const readies: [number, boolean][] = [];
    const s = supervisor(3, { onReady: (i, restart) => readies.push([i, restart]) });
    await s.start();
    const before = s.workers.map((w) => w.pid);
    process.kill(before[1]!, 'SIGKILL');
    await until(() => s.workers[1]!.state === 'running' && s.workers[1]!.pid !== before[1]);
    expect(s.workers[1]!.restarts).toBe(1);
    expect(alive(before[1])).toBe(false);
    expect([s.workers[0]!.pid, s.workers[2]!.pid]).toEqual([before[0], before[2]]);
    expect(readies.filter(([, restart]) => restart)).toEqual([[1, true]]);
    // a worker that ends itself (status 3) is replaced as well
    const pid0 = s.workers[0]!.pid;
    s.send(0, { type: 'die' });
    await until(() => s.workers[0]!.state === 'running' && s.workers[0]!.pid !== pid0);
  });

  it('a start-up failure rejects start() with the worker message and stops the others', async () => {
    const s = supervisor(3, {}, (i) => (i === 2 ? 'fail' : 'ready'));
    await expect(s.start()).rejects.toThrow('worker 2: cannot bind UDP port 5783 (EADDRINUSE)');
    const pids = s.workers.map((w) => w.pid);
    await until(() => pids.every((p) => !alive(p)));
    expect(s.workers.every((w) => w.state === 'stopped')).toBe(true);
    await sleep(200); // no restarts after a failed start
    expect(s.workers.every((w) => w.restarts === 0 && w.state === 'stopped')).toBe(true);
  });

  it('a worker that never reports ready fails start()', async () => {
    const s = supervisor(1, { readyTimeoutMs: 300 }, () => 'hang');
    await expect(s.start()).rejects.toThrow('worker 0 not ready after 300 ms');
  });

  it('stop() ends every worker (killed after the timeout if it ignores stop) and restarts none', async () => {
    const s = supervisor(2, { stopTimeoutMs: 300 }, (i) => (i === 1 ? 'ignore-stop' : 'ready'));
    await s.start();
    const pids = s.workers.map((w) => w.pid);
    await s.stop();
    expect(pids.every((p) => !alive(p))).toBe(true);
    await sleep(200);
    expect(s.workers.every((w) => w.state === 'stopped' && w.restarts === 0)).toBe(true);
    expect(s.send(0, { type: 'echo', value: 'x' })).toBe(false);
  });
});

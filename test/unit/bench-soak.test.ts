// The soak script's judgement (scripts/soak.ts): it reads the benchmark client's real progress lines, and "flat
// memory after warm-up" is the least-squares slope over the last 2/3 of the samples. The memory probe preloaded into
// measured processes (bench/idle-memory.ts) answers with the heap after a full GC.
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { progressLine } from '../../src/clients/benchmark/format.js';
import { afterWarmup, parseProgressLine, slope } from '../../scripts/soak.js';
import { probeNodeArgs, type MemorySample } from '../../bench/idle-memory.js';

const base = { line: 3, sent: 123_456, requests: 40_000, responses: 40_000, transmissions: 40_000, retransmissions: 17, errors: 2, unavailableTotal: 0, unavailable: 0, honoTotal: 0, hono: 0, clients: 2000, pending: 0, seconds: 10 };

describe('parseProgressLine', () => {
  it('reads sent, retransmissions and transmission errors of the client progress line', () => {
    expect(parseProgressLine(progressLine(base))).toEqual({ sent: 123_456, retransmissions: 17, errors: 2, clients: 2000 });
    expect(parseProgressLine(progressLine({ ...base, pending: 5, unavailableTotal: 3, unavailable: 1, clients: 1990 }))).toEqual({ sent: 123_456, retransmissions: 17, errors: 2, clients: 1990 });
    // a period without responses ('no responses received!') still parses
    expect(parseProgressLine(progressLine({ ...base, responses: 0, retransmissions: 40, errors: 0 }))).toEqual({ sent: 123_456, retransmissions: 40, errors: 0, clients: 2000 });
  });

  it('ignores other lines', () => {
    expect(parseProgressLine('Benchmark started.')).toBeUndefined();
    expect(parseProgressLine('[0004]: 5000 requests, stale (10 clients, 0 pending)')).toBeUndefined();
  });
});

describe('memory slope after warm-up', () => {
  it('skips the first third and fits a line through the rest', () => {
    const t = [1, 2, 3, 4, 5, 6];
    // steep warm-up, then flat
    const rss = [50, 100, 150, 150, 150, 150];
    expect(afterWarmup(t)).toEqual([3, 4, 5, 6]);
    expect(slope(afterWarmup(t), afterWarmup(rss))).toBe(0);
    // a leak of 2 MB per unit stays visible
    expect(slope(t, t.map((x) => 100 + 2 * x))).toBeCloseTo(2, 10);
    expect(slope([1], [5])).toBe(0);
    expect(afterWarmup([1, 2])).toEqual([1, 2]);
  });
});

describe('memory probe', () => {
  it('answers an IPC probe with the heap after a full GC, retained objects included', async () => {
    const script = 'globalThis.keep = Array.from({ length: 200000 }, (_, i) => ({ i })); setTimeout(() => {}, 5000);';
    const child = spawn(process.execPath, [...probeNodeArgs(), '-e', script], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
    try {
      await new Promise((r) => setTimeout(r, 300));
      const m = await new Promise<MemorySample & { id: number }>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no answer')), 5000);
        child.on('message', (msg: MemorySample & { id: number; type: string }) => {
          if (msg.type !== 'memory') return;
          clearTimeout(timer);
          resolve(msg);
        });
        child.send({ type: 'memory-probe', gc: true, id: 7 });
      });
      expect(m.id).toBe(7);
      // 200,000 small objects are several MB of heap
      expect(m.heapUsed).toBeGreaterThan(5 * 1024 * 1024);
      expect(m.rss).toBeGreaterThan(m.heapUsed);
    } finally {
      child.kill();
    }
  });
});

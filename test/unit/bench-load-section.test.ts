// The load section's comparison (issue 10): the old build's figure beside the new one, the target and whether the new
// figure meets it, as `npm run bench` prints it; and the --baseline commit check.
import { describe, expect, it } from 'vitest';
import { comparisonRows, comparisonTable, loadChecks, type BuildFigures } from '../../bench/load-section.js';
import { resolveCommit } from '../../bench/baseline.js';
import type { IdleMemoryStep } from '../../bench/idle-memory.js';

const step = {} as IdleMemoryStep;

/** Figures of a build with the given values (idle: count → RSS bytes per connection). */
function build(id: 'old' | 'new', v: Partial<BuildFigures>, idle: Record<number, number> = {}): BuildFigures {
  return {
    build: { id, label: id === 'old' ? 'old (3995914)' : 'new', serverMain: '/x/server-main.js' },
    runs: {},
    notes: [],
    ...v,
    idle: Object.entries(idle).map(([count, rss]) => ({
      count: Number(count),
      established: Number(count),
      serverConnections: Number(count),
      rssBytesPerConnection: rss,
      heapBytesPerConnection: 500,
      externalBytesPerConnection: 100,
      step,
    })),
  };
}

/** The table line of a figure, split into its columns. */
function columns(lines: string[], figure: string): string[] {
  const line = lines.find((l) => l.startsWith(figure));
  expect(line, figure).toBeDefined();
  return line!.slice(figure.length).trim().split(/\s{2,}/);
}

describe('load section comparison', () => {
  const counts = [10_000, 100_000];
  const oldF = build('old', { coapUsPerRequest: 20, coapsUsPerRequest: 40, coapsCoapRatio: 2, pskUsPerHandshake: 400, ecdheUsPerHandshake: 2500 }, { 10_000: 5000, 100_000: 4000 });
  const newF = build('new', { coapUsPerRequest: 18, coapsUsPerRequest: 22, coapsCoapRatio: 1.22, pskUsPerHandshake: 180, ecdheUsPerHandshake: 2100 }, { 10_000: 2500, 100_000: 1900 });

  it('shows old beside new with the target and whether the new figure meets it', () => {
    const lines = comparisonTable('old (3995914)', comparisonRows(oldF, newF, counts));
    expect(lines[0]).toMatch(/^figure\s+old \(3995914\)\s+new\s+target\s+met\?\n-+$/);
    expect(columns(lines, 'server CPU per request, coaps / coap (x)')).toEqual(['2', '1.22', '≤ 1.3', 'yes']);
    expect(columns(lines, 'server CPU per full PSK handshake (µs)')).toEqual(['400', '180', '≤ 150', 'NO']);
    expect(columns(lines, 'RSS per idle connection at 100,000 (B)')).toEqual(['4000', '1900', '≤ 2048', 'yes']);
    // no target for the 10,000 step and for the ECDHE_ECDSA handshake: the figures only
    expect(columns(lines, 'RSS per idle connection at 10,000 (B)')).toEqual(['5000', '2500']);
    expect(columns(lines, 'server CPU per full ECDHE_ECDSA handshake (µs)')).toEqual(['2500', '2100']);
  });

  it('prints n/a for a build or a figure that was not measured', () => {
    const partial = build('new', { coapUsPerRequest: 18 });
    const lines = comparisonTable('old (none)', comparisonRows(undefined, partial, [100_000]));
    expect(columns(lines, 'server CPU per request, coap (µs)')).toEqual(['n/a', '18']);
    expect(columns(lines, 'server CPU per full PSK handshake (µs)')).toEqual(['n/a', 'n/a', '≤ 150', 'n/a']);
    expect(lines.some((l) => l.includes('10,000'))).toBe(false);
  });

  it('checks the three targets on the new build only', () => {
    const checks = loadChecks(newF, counts);
    expect(checks.map((c) => [c.value, c.atMost, c.unit])).toEqual([
      [1.22, 1.3, 'x'],
      [180, 150, 'µs'],
      [1900, 2048, 'B'],
    ]);
    // without the 100,000 step the memory target is not claimed
    expect(loadChecks(newF, [10_000])).toHaveLength(2);
  });
});

describe('--baseline commit', () => {
  it('refuses what is not a commit name and an unknown commit', async () => {
    await expect(resolveCommit(process.cwd(), 'HEAD; rm -rf /')).rejects.toThrow(/not a commit/);
    await expect(resolveCommit(process.cwd(), 'ffffffffffffffffffffffffffffffffffffffff')).rejects.toThrow(/unknown commit/);
  });

  it('resolves a short hash to the full one', async () => {
    const full = await resolveCommit(process.cwd(), 'HEAD');
    expect(full).toMatch(/^[0-9a-f]{40}$/);
    expect(await resolveCommit(process.cwd(), full.slice(0, 7))).toBe(full);
  });
});

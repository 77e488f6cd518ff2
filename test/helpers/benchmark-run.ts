// Running the benchmark client (dist/src/cli/benchmark-main.js) as a process in tests, and reading its report.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { expect } from 'vitest';
import { REPO } from './server-process.js';

/** The built benchmark client. */
export const MAIN = path.join(REPO, 'dist/src/cli/benchmark-main.js');

/** A finished benchmark client run. */
export interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs the client; `onStdout` may act on the output (e.g. send SIGINT). Killed after `timeoutMs`. */
export function runClient(args: string[], timeoutMs = 30_000, onStdout?: (text: string, pid: number) => void): Promise<Run> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [MAIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (d) => {
      stdout += d.toString();
      onStdout?.(stdout, proc.pid!);
    });
    proc.stderr.on('data', (d) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`benchmark ${args.join(' ')} did not end in ${timeoutMs} ms:\n${stdout}\n${stderr}`));
    }, timeoutMs);
    proc.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** The numbers of a report. */
export interface Report {
  sent: number;
  expected: number;
  clientsInDistribution: number;
  /** exact per-client counts when every group names one value */
  distribution: Array<{ clients: number; from: number; to: number }>;
  connects: number;
  success: number;
  errors: number;
  transmissionErrors: boolean;
  stale: boolean;
}

function count(stdout: string, name: string): number {
  const m = new RegExp(`^${name}\\s*: (?:#: (\\d+)|no values available!)`, 'm').exec(stdout);
  if (!m) throw new Error(`no ${name} summary in:\n${stdout}`);
  return m[1] === undefined ? 0 : Number(m[1]);
}

/** The numbers of the final report. */
export function parseReport(stdout: string): Report {
  const sent = /^(-?\d+) requests sent, (\d+) expected$/m.exec(stdout);
  if (!sent) throw new Error(`no "requests sent" line in:\n${stdout}`);
  const distribution = [...stdout.matchAll(/^\s*(\d+) clients with (\d+)(?: to (\d+))? requests\.$/gm)].map((m) => ({
    clients: Number(m[1]),
    from: Number(m[2]),
    to: Number(m[3] ?? m[2]),
  }));
  return {
    sent: Number(sent[1]),
    expected: Number(sent[2]),
    clientsInDistribution: distribution.reduce((a, d) => a + d.clients, 0),
    distribution,
    connects: count(stdout, 'connects'),
    success: count(stdout, 'success-responses'),
    errors: count(stdout, 'errors-responses'),
    transmissionErrors: /(^|[^0-9])[1-9]\d* transmission errors/.test(stdout),
    stale: /^Stale at /m.test(stdout) || /stale \(/.test(stdout),
  };
}

/** A completed run: exit 0, finished, every request answered once, no transmission errors. */
export function expectComplete(run: Run, clients: number, expected: number): Report {
  expect(run.stderr).toBe('');
  expect(run.code, run.stdout).toBe(0);
  expect(run.stdout).toContain('Benchmark clients, first request successful.');
  expect(run.stdout).toMatch(/^Benchmark clients created\. \d+ ms/m);
  expect(run.stdout).toContain('Benchmark started.');
  expect(run.stdout).toContain(`${clients} benchmark clients finished.`);
  const r = parseReport(run.stdout);
  expect(r.expected).toBe(expected);
  expect(r.sent).toBe(expected);
  expect(r.clientsInDistribution).toBe(clients);
  expect(r.transmissionErrors).toBe(false);
  expect(r.stale).toBe(false);
  return r;
}


// Blue/green handover under load (cluster.md §10, pair mode): the benchmark client runs over coaps with
// CID through the NAT against instance A; instance B starts, downloads A's sessions through /restore,
// the NAT moves the clients to B, and the benchmark completes without a new handshake or a
// transmission error (CoAP retransmission covers the gap).
import fs from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { expectComplete, runClient } from '../helpers/benchmark-run.js';
import { startTestNat } from '../helpers/cluster.js';
import { freeTcpPorts, makeCertsDir, waitForStatus } from '../helpers/restore.js';
import { startServer, type ServerProcess } from '../helpers/server-process.js';

const H = '127.0.0.1';
const CLIENTS = 100;
const REQUESTS = 1000;
const certs = makeCertsDir();
const procs: ServerProcess[] = [];
const cleanup: Array<() => Promise<unknown>> = [];

afterAll(async () => {
  for (const c of cleanup.reverse()) await c().catch(() => {});
  await Promise.all(procs.map((p) => p.stop()));
  fs.rmSync(certs, { recursive: true, force: true });
});

async function waitOutput(sp: ServerProcess, re: RegExp, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!re.test(sp.output())) {
    if (sp.proc.exitCode !== null || Date.now() > deadline) throw new Error(`no ${re}:\n${sp.output()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('restore under load', () => {
  it(`${CLIENTS} benchmark clients move from A to B through /restore: no new handshake, no transmission error`, async () => {
    const [restoreA, restoreB, monitorA, monitorB] = (await freeTcpPorts(4)) as [number, number, number, number];
    const instance = (own: number, other: number, monitor: number) =>
      startServer({
        args: ['--no-external', '--no-ipv6', '--dtls-only', '--no-plugtest', '--benchmark', `--local-restore=${H}:${own}`, `--other-restore=${H}:${other}`, `--k8s-monitor=${H}:${monitor}`],
        env: { EXTPLUGTEST_CERTS_DIR: certs },
      });
    const a = await instance(restoreA, restoreB, monitorA);
    procs.push(a);
    await waitForStatus(H, monitorA, '/ready', 200, 10_000);
    const nat = await startTestNat([`${H}:${a.ports.extSecure}`]);
    cleanup.push(() => nat.stop());

    let handover: Promise<void> | undefined;
    let out = '';
    let finishedBeforeSwitch = true;
    const run = runClient(
      [`coaps://${H}:${nat.port}/benchmark?rlen=16`, '--clients', String(CLIENTS), '--requests', String(REQUESTS), '--cid-length', '6'],
      90_000,
      (stdout) => {
        out = stdout;
        // once the load runs: B starts, restores from A (A stops), and the NAT switches to B
        handover ??= stdout.includes('Benchmark started.') ? takeOver() : undefined;
      },
    );
    const takeOver = async (): Promise<void> => {
      const b = await instance(restoreB, restoreA, monitorB);
      procs.push(b);
      await waitOutput(b, new RegExp(`restored ${CLIENTS} connections from ${H}:${restoreA}`), 20_000);
      nat.command(`add ${H}:${b.ports.extSecure}`);
      nat.command(`remove ${H}:${a.ports.extSecure}`);
      finishedBeforeSwitch = out.includes('benchmark clients finished.');
      await waitForStatus(H, monitorB, '/ready', 200, 5_000);
    };
    const result = await run;
    await handover;
    expect(finishedBeforeSwitch).toBe(false);
    const report = expectComplete(result, CLIENTS, CLIENTS * REQUESTS);
    // every client handshook once, with A; B answered with the restored sessions
    expect(report.connects).toBe(CLIENTS);
    expect(report.connects + report.success).toBe(CLIENTS * REQUESTS);
    expect(procs[1]!.output()).toMatch(new RegExp(`load: \\d+ ms, ${CLIENTS} items`));
  }, 120_000);
});

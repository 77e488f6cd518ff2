// Graceful restart under load (restart.md §3, §5): the benchmark client (coaps, PSK, CID 6, CON, --no-stop) keeps
// running while the server does a console save/load, and while the server process is replaced through the
// --store-file. No client handshakes again (the client's `connects` stay at the number of clients: with --no-stop a
// failed request would force a new full handshake; the server's /diagnose `handshakes succeeded` does not grow), no
// transmission error, every request answered; CoAP retransmission covers the gap. The small-scale twin of
// bench/restart-demo.ts (2,000 clients).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startServer, type ServerProcess, waitOutput } from '../helpers/server-process.js';
import { expectComplete, runClient, type Run } from '../helpers/benchmark-run.js';
import { coapGet } from '../../bench/coap-wire.js';

/** Simulated clients. */
const CLIENTS = 200;
/** Requests per client: paced by --interval (200 ms + random 0–499 ms per request) about 14 s for all clients. */
const REQUESTS = 30;
const INTERVAL_MS = 200;
/** The event starts this long after all clients completed their handshake. */
const EVENT_AT_MS = 3000;
/** Servers stopped between `Saved:` and the `load` command. */
const PAUSE_MS = 1500;

/** Counters of the DTLS group of /diagnose/DTLS:127.0.0.1:<coaps>, read over plain CoAP (cur + all). */
async function dtlsCounters(sp: ServerProcess): Promise<{ handshakes: number; failed: number; connections: number }> {
  const text = await coapGet(sp.ports.ext, `diagnose/DTLS:127.0.0.1:${sp.ports.extSecure}`, 5000);
  const value = (key: string, total: boolean): number => {
    const m = new RegExp(`^ {3}${key},(\\d+),(\\d+)$`, 'm').exec(text);
    if (!m) throw new Error(`no '${key}' in /diagnose:\n${text}`);
    return Number(m[1]) + (total ? Number(m[2]) : 0);
  };
  return { handshakes: value('handshakes succeeded', true), failed: value('handshakes failed', true), connections: value('connections', false) };
}


/** Starts the benchmark client; `started` resolves when it prints "Benchmark started.". */
function startClient(sp: ServerProcess): { started: Promise<void>; run: Promise<Run>; ended: () => boolean } {
  let onStarted!: () => void;
  const started = new Promise<void>((r) => (onStarted = r));
  const args = [
    `coaps://127.0.0.1:${sp.ports.extSecure}/benchmark?rlen=40`,
    ...['--clients', String(CLIENTS), '--requests', String(REQUESTS), '--cid-length', '6', '--no-stop', '--interval', String(INTERVAL_MS)],
  ];
  const run = runClient(args, 50_000, (text) => {
    if (text.includes('\nBenchmark started.\n')) onStarted();
  });
  let ended = false;
  // a client that ends early never prints the line: the run's result tells why
  void run.then(
    () => ((ended = true), onStarted()),
    () => ((ended = true), onStarted()),
  );
  return { started, run, ended: () => ended };
}

/** The client's report: complete, no transmission error, one connect per client, the gap hit by retransmissions. */
function expectNoReconnect(run: Run): void {
  const r = expectComplete(run, CLIENTS, CLIENTS * REQUESTS);
  expect(r.connects, 'connects: a client handshook again').toBe(CLIENTS);
  expect(r.errors).toBe(0);
  expect(r.connects + r.success).toBe(CLIENTS * REQUESTS);
  // the progress lines agree
  for (const m of run.stdout.matchAll(/^\[\d+\]: .*?, (\d+) transmission errors/gm)) expect(Number(m[1])).toBe(0);
  // requests were lost in the gap and recovered by CoAP retransmission (proves the event fell into the run)
  const retransmissions = /^(\d+) retransmissions/m.exec(run.stdout);
  expect(Number(retransmissions?.[1] ?? 0), run.stdout).toBeGreaterThan(0);
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Waits (bounded) until every client completed its handshake, then EVENT_AT_MS more; returns the counters then. */
async function beforeEvent(sp: ServerProcess): Promise<{ handshakes: number; failed: number; connections: number }> {
  const deadline = Date.now() + 20_000;
  while ((await dtlsCounters(sp)).handshakes < CLIENTS && Date.now() < deadline) await sleep(200);
  await sleep(EVENT_AT_MS);
  return dtlsCounters(sp);
}

const SERVER_ARGS = ['--no-external', '--no-ipv6', '--no-plugtest', '--no-tcp', '--benchmark', '--diagnose'];

const cleanup: Array<() => Promise<unknown>> = [];
afterAll(async () => {
  for (const c of cleanup.reverse()) await c().catch(() => {});
});

describe(`restart under load: ${CLIENTS} coaps CID clients of the benchmark client`, () => {
  it('console save, pause, load: no new handshake, no transmission error, every request answered', { timeout: 60_000 }, async () => {
    const sp = await startServer({ args: SERVER_ARGS });
    cleanup.push(() => sp.stop());
    const client = startClient(sp);
    await client.started;
    const before = await beforeEvent(sp);
    expect(before.handshakes).toBe(CLIENTS);

    sp.write('save');
    await waitOutput(sp, /"msg":"Saved: \d+ Bytes"/, 15_000);
    await sleep(PAUSE_MS);
    sp.write('load');
    await waitOutput(sp, /"msg":"Loaded: \d+ Bytes"/, 15_000);
    expect(sp.output()).toMatch(new RegExp(`"msg":"load: \\d+ ms, ${CLIENTS} items"`));
    expect(sp.output()).not.toMatch(/load failed|skipped/);
    // the event ended while the clients were still sending
    expect(client.ended()).toBe(false);

    const run = await client.run;
    expectNoReconnect(run);
    const after = await dtlsCounters(sp);
    expect(after.handshakes, 'server-side handshakes after load').toBe(before.handshakes);
    expect(after.failed).toBe(0);
    expect(after.connections).toBe(CLIENTS);
  });

  it('process restart through --store-file: the new process loads the connections, the clients go on without a handshake', { timeout: 60_000 }, async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'extplugtest-restart-bench-'));
    cleanup.push(async () => fs.rmSync(dir, { recursive: true, force: true }));
    const file = path.join(dir, 'state.bin');
    const args = [...SERVER_ARGS, '--store-file', file, '--store-password64', Buffer.from('bench secret').toString('base64'), '--store-max-age', '1'];
    const sp1 = await startServer({ args });
    cleanup.push(() => sp1.stop());
    const client = startClient(sp1);
    await client.started;
    const before = await beforeEvent(sp1);
    expect(before.handshakes).toBe(CLIENTS);

    expect(await sp1.stop()).toBe(0);
    expect(sp1.output()).toMatch(new RegExp(`"msg":"store file .*: \\d+ bytes, ${CLIENTS} connections saved"`));
    expect(fs.existsSync(file)).toBe(true);
    const sp2 = await startServer({ args, ports: sp1.ports });
    cleanup.push(() => sp2.stop());
    expect(sp2.output()).toMatch(new RegExp(`"msg":"load: \\d+ ms, ${CLIENTS} items"`));
    expect(sp2.output()).toMatch(new RegExp(`"msg":"store file .*: ${CLIENTS} connections loaded"`));
    expect(fs.existsSync(file)).toBe(false);
    expect(client.ended()).toBe(false);

    const run = await client.run;
    expectNoReconnect(run);
    // the new process never handshook: every client's records were decrypted with the loaded keys
    const after = await dtlsCounters(sp2);
    expect(after.handshakes, 'handshakes in the new process').toBe(0);
    expect(after.failed).toBe(0);
    expect(after.connections).toBe(CLIENTS);
  });
});

// The benchmark client as a process against the real server (clients.md §3): coap, coaps (PSK, CID), handshake
// closes, observe and reverse modes, NON, the failed first request, usage errors and Ctrl-C.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freeUdpPorts, startServer, type ServerProcess } from '../helpers/server-process.js';
import { expectComplete, parseReport, runClient } from '../helpers/benchmark-run.js';

let server: ServerProcess;
let coap: string;
let coaps: string;

beforeAll(async () => {
  // a short notify interval lets /benchmark notify every 100 ms for the observe run
  server = await startServer({ args: ['--no-external', '--benchmark', '--no-plugtest', '--notify-interval', '100'] });
  coap = `coap://127.0.0.1:${server.ports.ext}`;
  coaps = `coaps://127.0.0.1:${server.ports.extSecure}`;
});

afterAll(async () => {
  await server?.stop();
});

describe('benchmark client against the server', () => {
  it('coap CON: 20 clients × 50 requests, traced first request, all answered', async () => {
    const run = await runClient([`${coap}/benchmark?rlen=40`, '--clients', '20', '--requests', '50']);
    expect(run.stdout).toContain(`Create 20 benchmark clients, expect to send 1000 requests overall to ${coap}/benchmark?rlen=40`);
    expect(run.stdout).toMatch(/^Request:\n0\.02 POST \(CON, MID \d+, token [0-9A-F]{16}\)\n  Uri-Path: benchmark\n  Uri-Query: rlen=40\n  Accept: 0/m);
    expect(run.stdout).toMatch(/^Received response:\n2\.04 CHANGED \(ACK, [^\n]*\n  Content-Format: 0 \(text\/plain\)\nPayload: 40 bytes\nhello benchmark\*{25}$/m);
    const r = expectComplete(run, 20, 1000);
    // every response is in exactly one round-trip summary: the first of each client is its connect
    expect(r.connects).toBe(20);
    expect(r.connects + r.success + r.errors).toBe(1000);
    expect(run.stdout).toMatch(/^1000 requests in \d+ ms, \d+ reqs\/s$/m);
    expect(run.stdout).toMatch(/^uptime: \d+ ms, \d+ processors$/m);
    expect(run.stdout).toMatch(/^cpu-time: \d+ ms \(per-processor: \d+ ms, load: \d+%\)$/m);
  });

  it('coaps PSK: cali. identity, empty client CID, all answered', async () => {
    const run = await runClient([`${coaps}/benchmark?rlen=40`, '--clients', '20', '--requests', '50']);
    expect(run.stdout).toContain(`Create 20 secure benchmark clients, expect to send 1000 requests overall to ${coaps}/benchmark?rlen=40`);
    expect(run.stdout).toContain('\nUse PSK.\n');
    expect(run.stdout).toMatch(/^ID: cali\.[0-9A-F]{16}, \.fornium$/m);
    expect(run.stdout).toContain('>>> CONNECTING <<<');
    expect(run.stdout).toMatch(/^DTLS session: TLS_PSK_WITH_\w+, server cali\.[0-9A-F]{16}$/m);
    // CID length 0: the client supports CID but receives without one
    expect(run.stdout).toMatch(/read-cid: \(empty\), write-cid: /);
    const r = expectComplete(run, 20, 1000);
    expect(r.connects + r.success).toBe(1000);
  });

  it('coaps with --cid-length 6: the client receives with a 6-byte CID', async () => {
    const run = await runClient([`${coaps}/benchmark?rlen=40`, '--clients', '20', '--requests', '50', '--cid-length', '6']);
    expect(run.stdout).toMatch(/read-cid: [0-9A-F]{12}, write-cid: /);
    expectComplete(run, 20, 1000);
  });

  it('coaps --handshakes-close 10: every 10th response closes the connection, the next request handshakes again', async () => {
    const run = await runClient([`${coaps}/benchmark?rlen=40`, '--clients', '20', '--requests', '50', '--handshakes-close', '10'], 40_000);
    const r = expectComplete(run, 20, 1000);
    // 20 first connects plus (up to) 99 reconnects, each answered after a new handshake
    expect(r.connects).toBeGreaterThanOrEqual(20 + 80);
    expect(r.connects).toBeLessThanOrEqual(20 + 99);
    expect(r.connects + r.success).toBe(1000);
  });

  it('--notifies 20: observe mode, one registration per client, all notifications received', async () => {
    const run = await runClient([`${coap}/benchmark?rlen=40`, '--clients', '20', '--notifies', '20'], 40_000);
    expect(run.stdout).toContain('Expect 400 notifies received, reregister every 0 and register every 0 notify');
    expect(run.stdout).toMatch(/^Request:\n0\.01 GET \(CON, [^\n]*\n(  [^\n]*\n)*  Observe: 0$/m);
    const r = expectComplete(run, 20, 20);
    expect(r.distribution).toEqual([{ clients: 20, from: 1, to: 1 }]);
    expect(run.stdout).toMatch(/^400 notifies received, 400 expected$/m);
    expect(run.stdout).toMatch(/^400 notifies received in \d+ ms/m);
  });

  it('--reverse 20: the server GETs the clients` feed-CON resources', async () => {
    const run = await runClient([`${coap}/reverse-request?req=15&res=feed-CON&rlen=40`, '--clients', '20', '--requests', '2', '--reverse', '20'], 40_000);
    expect(run.stdout).toContain('Expect 400 notifies sent, interval 100 [ms]');
    const r = expectComplete(run, 20, 40);
    // --requests ≤ 10: each client sends exactly that many
    expect(r.distribution).toEqual([{ clients: 20, from: 2, to: 2 }]);
    const reverse = /^(\d+) reverse-responses sent, 400 expected$/m.exec(run.stdout);
    expect(reverse, run.stdout).not.toBeNull();
    // the server sends 2 × 15 GETs per client; the phase ends once 400 are answered
    expect(Number(reverse![1])).toBeGreaterThanOrEqual(400);
    expect(Number(reverse![1])).toBeLessThanOrEqual(600);
  });

  it('--non: NON requests, all answered', async () => {
    const run = await runClient([`${coap}/benchmark?rlen=40`, '--clients', '20', '--requests', '50', '--non']);
    expect(run.stdout).toMatch(/^0\.02 POST \(NON, /m);
    expect(run.stdout).toMatch(/^2\.04 CHANGED \(NON, /m);
    const r = expectComplete(run, 20, 1000);
    expect(r.connects + r.success).toBe(1000);
  });

  it('a failing first request ends the benchmark with status 255', async () => {
    const [port] = await freeUdpPorts(1);
    const uri = `coap://127.0.0.1:${port}/benchmark`;
    const run = await runClient([uri, '--clients', '3', '--non', '--timeout', '300']);
    expect(run.code).toBe(255);
    expect(run.stdout).toContain(`Request ${uri} POST failed, exit Benchmark.`);
    expect(run.stdout).not.toContain('Benchmark started.');
  });

  it('usage errors exit with 255 and name the problem', async () => {
    const run = await runClient([`${coap}/benchmark`, '--blocksize', '100']);
    expect(run.code).toBe(255);
    expect(run.stderr).toContain("Invalid value '100' for option '--blocksize': value is not [16, 32, ..., 1024].");
  });

  it('Ctrl-C prints the final statistics with "Interrupted at"', async () => {
    let signalled = false;
    const run = await runClient([`${coap}/benchmark?rlen=40`, '--clients', '5', '--requests', '100', '--interval', '300'], 30_000, (text, pid) => {
      if (!signalled && text.includes('Benchmark started.')) {
        signalled = true;
        setTimeout(() => process.kill(pid, 'SIGINT'), 1500);
      }
    });
    expect(run.code).toBe(130);
    expect(run.stdout).toContain('5 benchmark clients interrupted.');
    const r = parseReport(run.stdout);
    expect(r.expected).toBe(500);
    expect(r.sent).toBeGreaterThan(5);
    expect(r.sent).toBeLessThan(500);
    expect(run.stdout).toMatch(new RegExp(`^Interrupted at ${r.sent} messages \\(\\d+%\\)$`, 'm'));
    expect(run.stdout).toMatch(/^success-responses : #: \d+, avg\.: \d+\.\d\d ms, 95%: \d+ ms, 99%: \d+ ms, 99\.9%: \d+ ms, max\.: \d+ ms$/m);
  });
});

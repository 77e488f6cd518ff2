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
    // the traced first request and its response in Californium's prettyPrint layout
    expect(run.stdout).toMatch(
      /^Request:\n==\[ CoAP Request \]=+\nMID    : \d+\nToken  : [0-9A-F]{16}\nType   : CON\nMethod : 0\.02 - POST\nOptions: \{"Uri-Path":"benchmark", "Uri-Query":"rlen=40", "Accept":"text\/plain"\}\nPayload: 0 Bytes\n=+$/m,
    );
    expect(run.stdout).toMatch(
      /^Received response:\n==\[ CoAP Response \]=+\nMID    : \d+\nToken  : [0-9A-F]{16}\nType   : ACK\nStatus : 2\.04 - CHANGED\nOptions: \{"Content-Format":"text\/plain"\}\nRTT    : \d+ ms\nPayload: 40 Bytes\n-+\nhello benchmark\*{25}\n=+$/m,
    );
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
    // the session lines name the first client's own identity (the one of the ID: line)
    const id = /^ID: (cali\.[0-9A-F]{16}), \.fornium$/m.exec(run.stdout)![1];
    expect(run.stdout).toMatch(new RegExp(`^>>> DTLS\\(127\\.0\\.0\\.1:\\d+,ID:[0-9A-F]{10}\\)\\n>>> TLS_PSK_WITH_\\w+\\n>>> PreSharedKey Identity \\[identity: ${id}\\]$`, 'm'));
    expect(run.stdout).not.toMatch(/server cali\./);
    // CID length 0: the client supports CID but receives without one
    expect(run.stdout).toMatch(/^>>> read-cid : \n>>> write-cid: [0-9A-F]+$/m);
    const r = expectComplete(run, 20, 1000);
    expect(r.connects + r.success).toBe(1000);
  });

  it('coaps with --cid-length 6: the client receives with a 6-byte CID', async () => {
    const run = await runClient([`${coaps}/benchmark?rlen=40`, '--clients', '20', '--requests', '50', '--cid-length', '6']);
    expect(run.stdout).toMatch(/^>>> read-cid : [0-9A-F]{12}$/m);
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
    expect(run.stdout).toMatch(/^Request:\n==\[ CoAP Request \]=+\n(?:[^\n]*\n){3}Method : 0\.01 - GET\nOptions: \{"Observe":0, "Uri-Path":"benchmark", /m);
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
    expect(run.stdout).toMatch(/^Type   : NON\nMethod : 0\.02 - POST$/m);
    expect(run.stdout).toMatch(/^Type   : NON\nStatus : 2\.04 - CHANGED$/m);
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

  for (const scheme of ['coap', 'coaps'] as const) {
    it(`${scheme}: no server at the destination (ICMP port unreachable) ends the benchmark at once`, async () => {
      const [port] = await freeUdpPorts(1);
      const uri = `${scheme}://127.0.0.1:${port}/benchmark?rlen=40`;
      const start = performance.now();
      // CON: without the refusal the first request would wait for its 30 s response timeout
      const run = await runClient([uri, '--clients', '3'], 20_000);
      expect(run.code).toBe(255);
      expect(performance.now() - start).toBeLessThan(10_000);
      expect(run.stdout).toContain(`${uri}: connection refused (ICMP port unreachable), no server at 127.0.0.1:${port}\n`);
      expect(run.stdout).toContain(`Request ${uri} POST failed, exit Benchmark.`);
      expect(run.stdout).not.toContain('Benchmark started.');
    });
  }

  it('no destination URI: refused with the usage, nothing sent', async () => {
    const start = performance.now();
    const run = await runClient(['--clients', '2', '--requests', '2'], 20_000);
    expect(run.code).toBe(255);
    expect(run.stderr).toMatch(/^Missing destination URI: /);
    expect(run.stderr).toContain('Usage: benchmark-client [options] <uri>');
    expect(run.stderr).toContain('--clients');
    // no client was created, no request traced
    expect(run.stdout).toBe('');
    expect(run.stderr).not.toContain('eclipseprojects');
    expect(performance.now() - start).toBeLessThan(10_000);
  });

  it('--help shows POST as the default method', async () => {
    const run = await runClient(['--help'], 20_000);
    expect(run.code).toBe(0);
    const lines = run.stdout.split('\n');
    const at = lines.findIndex((l) => /^\s*-m, --method\b/.test(l));
    expect(at, run.stdout).toBeGreaterThanOrEqual(0);
    expect(lines.filter((l) => /^\s*-m, --method\b/.test(l))).toHaveLength(1);
    const entry = [lines[at], ...lines.slice(at + 1).filter((_l, i, a) => a.slice(0, i + 1).every((x) => /^\s{20,}/.test(x)))].join(' ');
    expect(entry).toContain('[default: POST]');
    expect(entry).not.toContain('[default: "GET"]');
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

describe('the server stops in the middle of a run', () => {
  it('--no-stop: the periods without responses keep their percentages and end with "no responses received!"', async () => {
    const sp = await startServer({ args: ['--no-external', '--benchmark', '--no-plugtest'] });
    let stopping: Promise<unknown> | undefined;
    try {
      const run = await runClient(
        [`coap://127.0.0.1:${sp.ports.ext}/benchmark?rlen=40`, '--clients', '3', '--requests', '100000', '--interval', '200', '--no-stop'],
        60_000,
        (text) => {
          if (stopping === undefined && text.includes('Benchmark clients, first request successful.')) {
            // gone at once: the other clients' first requests are not answered either
            sp.proc.kill('SIGKILL');
            stopping = sp.stop();
          }
        },
      );
      expect(run.code, run.stdout + run.stderr).toBe(0);
      // during the run a refused port is no error of its own (a restarting server closes it for a moment): the CON
      // requests are retransmitted, so a period may have retransmissions but no first transmissions and no responses
      const silent = run.stdout.split('\n').filter((l) => l.includes('no responses received!'));
      expect(silent.length, run.stdout).toBeGreaterThanOrEqual(1);
      for (const l of silent) {
        expect(l).toMatch(
          /^\[\d{4}\]: \d+ requests \(0 reqs\/s, \d+ retransmissions \(\d+\.\d\d%, no responses received!\), \d+ transmission errors \(\d+\.\d\d%, no responses received!\), 3 clients(, \d pending)?\)$/,
        );
      }
      expect(silent.some((l) => /, [1-9]\d* retransmissions \(/.test(l)), run.stdout).toBe(true);
      // then stale: no response for 10 s + interval
      expect(run.stdout).toMatch(/^\[\d{4}\]: \d+ requests, stale \(3 clients, \d pending\)$/m);
      expect(run.stdout).toContain('3 benchmark clients stopped.');
    } finally {
      await (stopping ?? sp.stop());
    }
  }, 70_000);
});

// The clients over coap+tcp and coaps+tcp (RFC 8323) against the real server process: extplugtest-client GET, PUT,
// observe and block-wise, the TLS session with and without client certificate, a server with --client-auth NEEDED
// refusing a client without one; the benchmark client with one connection per client; the receive-test client.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO, startServer, type ServerProcess } from '../helpers/server-process.js';
import { expectComplete, runClient as runBenchmark } from '../helpers/benchmark-run.js';

const CLIENT_MAIN = path.join(REPO, 'dist/src/cli/client-main.js');
const RECEIVETEST_MAIN = path.join(REPO, 'dist/src/cli/receivetest-main.js');
const HOST = '127.0.0.1';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a built client executable (killed after `timeoutMs`). */
function run(main: string, args: string[], timeoutMs = 20_000, cwd = REPO): Promise<Run> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [main, ...args], { cwd, timeout: timeoutMs }, (err, stdout, stderr) => {
      const e = err as (Error & { code?: number | string; killed?: boolean }) | null;
      if (e?.killed) return reject(new Error(`${path.basename(main)} ${args.join(' ')} did not end:\n${stdout}\n${stderr}`));
      if (e && typeof e.code === 'string') return reject(e);
      resolve({ code: e ? (e.code as number) : 0, stdout, stderr });
    });
  });
}

let sp: ServerProcess;
let tcp: string;
let tls: string;

beforeAll(async () => {
  sp = await startServer({ args: ['--no-external', '--benchmark', '--diagnose', '--notify-interval', '100'] });
  tcp = `coap+tcp://${HOST}:${sp.ports.plug}`;
  tls = `coaps+tcp://${HOST}:${sp.ports.plugSecure}`;
}, 30_000);

afterAll(async () => {
  await sp?.stop();
});

describe('extplugtest-client over coap+tcp and coaps+tcp', () => {
  it('GET /test over coap+tcp: no session lines, 2.05', async () => {
    const r = await run(CLIENT_MAIN, [`${tcp}/test`]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^Status : 2\.05 - CONTENT$/m);
    expect(r.stdout).not.toContain('>>> TLS');
  });

  it('GET /mycontext over coaps+tcp: the TLS session and the demo client certificate', async () => {
    const r = await run(CLIENT_MAIN, [`coaps+tcp://${HOST}:${sp.ports.extSecure}/mycontext`]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^>>> TLS\(127\.0\.0\.1:\d+,ID:[0-9A-F]*\)\n>>> TLSv1\.[23] TLS_\w+\n>>> x509 \[CN=cf-server,OU=Californium,O=Eclipse IoT,L=Ottawa,C=CA\]$/m);
    expect(r.stdout).toMatch(/^peer: CN=cf-client,OU=Californium,O=Eclipse IoT,L=Ottawa,C=CA$/m);
  });

  it('coaps+tcp --anonymous: no client certificate, still answered (server WANTED)', async () => {
    const r = await run(CLIENT_MAIN, ['--anonymous', `coaps+tcp://${HOST}:${sp.ports.extSecure}/mycontext`]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^Status : 2\.05 - CONTENT$/m);
    expect(r.stdout).not.toMatch(/^peer: /m);
  });

  it('PUT /test over coaps+tcp', async () => {
    const put = await run(CLIENT_MAIN, ['-m', 'PUT', '--payload', 'tcp-put', '--text', `${tls}/test`]);
    expect(put.code, put.stdout + put.stderr).toBe(0);
    expect(put.stdout).toMatch(/^Status : 2\.0[14] - (CREATED|CHANGED)$/m);
  });

  it('block-wise GET /large over coap+tcp and coaps+tcp', async () => {
    for (const base of [tcp, tls]) {
      const r = await run(CLIENT_MAIN, [`${base}/large`]);
      expect(r.code, r.stdout + r.stderr).toBe(0);
      expect(r.stdout).toMatch(/^Payload: 1280 Bytes$/m);
      expect(r.stdout).toContain('RESOURCE BLOCK NO. 5 OF 5');
    }
  });

  it('observe /obs over coap+tcp: two notifications, then the cancel', async () => {
    const r = await run(CLIENT_MAIN, ['--observe', '2', `${tcp}/obs`], 30_000);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain('\nNotification 1:\n');
    expect(r.stdout).toContain('\nNotification 2:\n');
  });

  it('a port without a server: exit 1 at once with the refusal', async () => {
    const t0 = Date.now();
    const r = await run(CLIENT_MAIN, [`coap+tcp://${HOST}:1/test`]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/ECONNREFUSED/);
    expect(Date.now() - t0).toBeLessThan(10_000);
  });
});

describe('coaps+tcp against --client-auth NEEDED', () => {
  let needed: ServerProcess;

  beforeAll(async () => {
    needed = await startServer({ args: ['--no-external', '--no-plugtest', '--client-auth', 'NEEDED'] });
  }, 30_000);

  afterAll(async () => {
    await needed?.stop();
  });

  it('refuses a client without certificate and serves one with the demo certificate', async () => {
    const uri = `coaps+tcp://${HOST}:${needed.ports.extSecure}/mycontext`;
    const refused = await run(CLIENT_MAIN, ['--anonymous', '--timeout', '5000', uri]);
    expect(refused.code).toBe(1);
    expect(refused.stdout).not.toMatch(/^Status :/m);
    // the connection ends before the server's CSM (TLS alert, or closed right after a TLS 1.3 handshake)
    expect(refused.stderr).toMatch(/^coaps\+tcp:\/\/127\.0\.0\.1:\d+\/mycontext: /m);
    const ok = await run(CLIENT_MAIN, [uri]);
    expect(ok.code, ok.stdout + ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/^peer: CN=cf-client,/m);
  });
});

describe('benchmark client over coap+tcp and coaps+tcp', () => {
  it('coap+tcp: 20 clients x 50 requests on 20 connections, all answered', async () => {
    const uri = `coap+tcp://${HOST}:${sp.ports.ext}/benchmark?rlen=40`;
    const r = await runBenchmark([uri, '--clients', '20', '--requests', '50'], 60_000);
    expect(r.stdout).toContain(`Create 20 benchmark clients, expect to send 1000 requests overall to ${uri}`);
    const rep = expectComplete(r, 20, 1000);
    expect(rep.connects).toBe(20);
    expect(rep.connects + rep.success).toBe(1000);
  });

  it('coaps+tcp: 20 clients x 50 requests, TLS with the demo client certificate, all answered', async () => {
    const uri = `coaps+tcp://${HOST}:${sp.ports.extSecure}/benchmark?rlen=40`;
    const r = await runBenchmark([uri, '--clients', '20', '--requests', '50'], 60_000);
    expect(r.stdout).toContain(`Create 20 secure benchmark clients, expect to send 1000 requests overall to ${uri}`);
    expect(r.stdout).toContain('\nUse X509.\n');
    expect(r.stdout).toMatch(/^>>> TLS\(127\.0\.0\.1:\d+,ID:[0-9A-F]*\)$/m);
    const rep = expectComplete(r, 20, 1000);
    expect(rep.connects + rep.success).toBe(1000);
  });
});

/** The extended coaps+tcp endpoint's `accepted` and `resumed sessions` counters from its /diagnose (asked over it). */
async function tlsCounters(): Promise<{ accepted: number; resumed: number }> {
  const r = await run(CLIENT_MAIN, [`coaps+tcp://${HOST}:${sp.ports.extSecure}/diagnose`]);
  expect(r.code, r.stderr).toBe(0);
  const group = r.stdout.split(`tls:127.0.0.1:${sp.ports.extSecure}\n`)[1]?.split(/\n(?! )/)[0] ?? '';
  const total = (name: string): number => {
    // rows are `name,<this health period>,<earlier periods>`: their sum is the total
    const m = new RegExp(`^ {3}${name},(\\d+),(\\d+)$`, 'm').exec(group);
    expect(m, `${name} in\n${r.stdout}`).not.toBeNull();
    return Number(m![1]) + Number(m![2]);
  };
  return { accepted: total('accepted'), resumed: total('resumed sessions') };
}

describe('benchmark client forced TLS handshakes over coaps+tcp', () => {
  const uri = () => `coaps+tcp://${HOST}:${sp.ports.extSecure}/benchmark?rlen=40`;

  it('--handshakes-close 10: every 10th response releases the connection, the next request connects again resuming the TLS session', async () => {
    const before = await tlsCounters();
    const r = await runBenchmark([uri(), '--clients', '10', '--requests', '50', '--handshakes-close', '10'], 60_000);
    const rep = expectComplete(r, 10, 500);
    // 10 first connects plus up to 49 reconnects (the last response of a client may close without a next request)
    expect(rep.connects).toBeGreaterThanOrEqual(10 + 35);
    expect(rep.connects).toBeLessThanOrEqual(10 + 49);
    const after = await tlsCounters();
    // the connectivity test's client and the diagnose client aside, one TLS connection per connect, and the
    // reconnects resumed their sessions
    const reconnects = rep.connects - 10;
    expect(after.accepted - before.accepted).toBeGreaterThanOrEqual(rep.connects);
    expect(after.resumed - before.resumed).toBeGreaterThanOrEqual(reconnects - 2);
  }, 90_000);

  it('--handshakes-full 10: the reconnects run full TLS handshakes (no session resumed)', async () => {
    const before = await tlsCounters();
    const r = await runBenchmark([uri(), '--clients', '10', '--requests', '50', '--handshakes-full', '10'], 60_000);
    const rep = expectComplete(r, 10, 500);
    expect(rep.connects).toBeGreaterThanOrEqual(10 + 35);
    const after = await tlsCounters();
    expect(after.accepted - before.accepted).toBeGreaterThanOrEqual(rep.connects);
    expect(after.resumed - before.resumed).toBe(0);
  }, 90_000);

  it('--handshakes-close on a plain URI is refused, naming the flag', async () => {
    const r = await runBenchmark([`coap+tcp://${HOST}:${sp.ports.ext}/benchmark`, '--handshakes-close', '10'], 20_000);
    expect(r.code).not.toBe(0);
    expect(r.stdout + r.stderr).toContain('--handshakes-close: forced handshakes need a coaps or coaps+tcp URI, not coap+tcp');
  });
});

describe('benchmark client observe over coap+tcp', () => {
  it('--notifies: re-registrations and proactive cancels (no RST on a stream), all notifications received', async () => {
    const uri = `coap+tcp://${HOST}:${sp.ports.ext}/benchmark?rlen=40`;
    const r = await runBenchmark([uri, '--clients', '5', '--requests', '1', '--notifies', '20', '--reregister', '5', '--register', '10'], 60_000);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^100 notifies received, 100 expected$/m);
  });
});

describe('benchmark client reverse observe over coap+tcp', () => {
  it('the server observes the feed resources on the clients\' connections; every notification completes when written', async () => {
    const uri = `coap+tcp://${HOST}:${sp.ports.ext}/reverse-observe?obs=100&res=feed-CON&rlen=40`;
    const r = await runBenchmark([uri, '--clients', '5', '--requests', '1', '--reverse', '20', '--min', '-20', '--max', '20'], 60_000);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^0 sent notifies could not be completed$/m);
    expect(r.stdout).toMatch(/^\d+ notifies sent in \d+ ms/m);
  });
});

describe('receivetest-client over coap+tcp', () => {
  it('posts to /requests and prints the listing', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'receivetest-tcp-'));
    try {
      const r = await run(RECEIVETEST_MAIN, ['--json', `coap+tcp://${HOST}:${sp.ports.ext}`], 20_000, dir);
      expect(r.code, r.stdout + r.stderr).toBe(0);
      expect(r.stdout).toMatch(/RID\d+/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

// The receivetest-client executable against the real server's /requests (clients.md §6, resources.md §2.1).
import { execFile } from 'node:child_process';
import dgram from 'node:dgram';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { REPO, freeUdpPorts, hasIpv6Loopback, startServer, type ServerProcess } from '../helpers/server-process.js';

const CLIENT_MAIN = path.join(REPO, 'dist/src/cli/receivetest-main.js');
const HOST = '127.0.0.1';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the built client in `cwd` (the device's directory). */
function runClient(cwd: string, args: string[], timeoutMs = 20_000): Promise<Run> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [CLIENT_MAIN, ...args], { cwd, timeout: timeoutMs }, (err, stdout, stderr) => {
      const e = err as (Error & { code?: number | string; killed?: boolean }) | null;
      if (e?.killed) return reject(new Error(`client ${args.join(' ')} did not end:\n${stdout}\n${stderr}`));
      if (e && typeof e.code === 'string') return reject(e);
      resolve({ code: e ? (e.code as number) : 0, stdout, stderr });
    });
  });
}

/** A free UDP port above 32767 (sent as a negative CBOR integer by the server). */
async function freeHighPort(): Promise<number> {
  for (;;) {
    const port = 40_000 + Math.floor(Math.random() * 20_000);
    const s = dgram.createSocket('udp4');
    const ok = await new Promise<boolean>((resolve) => {
      s.once('error', () => resolve(false));
      s.bind(port, HOST, () => resolve(true));
    });
    await new Promise<void>((r) => s.close(() => r()));
    if (ok) return port;
  }
}

const dirs: string[] = [];
function deviceDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'receivetest-device-'));
  dirs.push(d);
  return d;
}
const uuidOf = (dir: string) => /^UUID=(.+)$/m.exec(fs.readFileSync(path.join(dir, 'UUID.properties'), 'utf8'))?.[1];

const HEAD = /^\nResponse: (\d+) bytes, Payload: (\d+) bytes\nRTT: (\d+)ms\n\n/;
const REQUEST_LINE = /^Request: \d\d:\d\d:\d\d\.\d{3} \d\d\.\d\d\.\d{4}, received: -?\d+ ms$/;

/** The decoded list of a `-v` run: request lines and their address lines. */
function listing(out: string) {
  const lines = out.split('\n');
  return {
    start: lines.filter((l) => l.startsWith("Server's system start: ")),
    requests: lines.filter((l) => l.startsWith('Request: ')),
    addresses: lines.filter((l) => l.startsWith('    (')),
  };
}

let sp: ServerProcess;
beforeAll(async () => {
  if (!fs.existsSync(CLIENT_MAIN)) throw new Error(`${CLIENT_MAIN} missing: run npm run build first`);
  sp = await startServer({ args: ['--no-external', '--no-plugtest'] });
});
afterAll(async () => {
  await sp?.stop();
});
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

describe('receivetest-client', () => {
  it('three runs from one device (--json -v): the third lists three requests with their sources', async () => {
    const dir = deviceDir();
    const uri = `coap://${HOST}:${sp.ports.ext}`;
    const first = await runClient(dir, ['--json', '-v', uri]);
    expect(first.code).toBe(0);
    const uuid = uuidOf(dir);
    expect(uuid).toMatch(/^[0-9a-f-]{36}$/);
    expect(listing(first.stdout).requests).toHaveLength(1);
    const second = await runClient(dir, ['--json', '-v', uri]);
    expect(listing(second.stdout).requests).toHaveLength(2);
    const port = (await freeUdpPorts(1))[0]!;
    const third = await runClient(dir, ['--json', '-v', '--local-port', String(port), uri]);
    expect(third.code).toBe(0);
    expect(third.stderr).toBe('');
    expect(uuidOf(dir)).toBe(uuid);
    const head = HEAD.exec(third.stdout);
    expect(head, third.stdout).not.toBeNull();
    // raw message = 4 header + token + Content-Format option (2) + marker + payload
    expect(Number(head![1])).toBeGreaterThan(Number(head![2]) + 4);
    const list = listing(third.stdout);
    expect(list.start).toHaveLength(1);
    expect(list.start[0]).toMatch(/^Server's system start: \d\d:\d\d:\d\d \d\d\.\d\d\.\d{4}$/);
    expect(list.requests).toHaveLength(3);
    for (const l of list.requests) expect(l).toMatch(REQUEST_LINE);
    expect(list.addresses).toHaveLength(3);
    for (const l of list.addresses) expect(l).toMatch(/^ {4}\(127\.0\.0\.1:\d+\)$/);
    // newest first: this run's local port
    expect(list.addresses[0]).toBe(`    (127.0.0.1:${port})`);
    // the list ends with the entry's line break plus the print's one
    expect(third.stdout).toMatch(/\n {4}\(127\.0\.0\.1:\d+\)\n\n$/);
  });

  it('coaps with the default PSK credentials; coap and coaps share the device history', async () => {
    const dir = deviceDir();
    const port = (await freeUdpPorts(1))[0]!;
    const secure = await runClient(dir, ['--json', '-v', '--local-port', String(port), `coaps://${HOST}:${sp.ports.extSecure}`]);
    expect(secure.code).toBe(0);
    expect(secure.stdout, secure.stdout + secure.stderr).toMatch(HEAD);
    const list = listing(secure.stdout);
    expect(list.requests).toHaveLength(1);
    expect(list.addresses).toEqual([`    (127.0.0.1:${port})`]);
    const plain = await runClient(dir, ['--json', '-v', `coap://${HOST}:${sp.ports.ext}`]);
    expect(listing(plain.stdout).requests).toHaveLength(2);
    expect(listing(plain.stdout).addresses[1]).toBe(`    (127.0.0.1:${port})`);
  });

  it('--cbor -v: ports above 32767 (negative in the CBOR) are shown masked', async () => {
    const dir = deviceDir();
    const port = await freeHighPort();
    const run = await runClient(dir, ['--cbor', '-v', '--local-port', String(port), `coap://${HOST}:${sp.ports.ext}`]);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(HEAD);
    const list = listing(run.stdout);
    expect(list.start).toHaveLength(1);
    expect(list.requests).toHaveLength(1);
    expect(list.requests[0]).toMatch(REQUEST_LINE);
    expect(list.addresses).toEqual([`    (127.0.0.1:${port})`]);
    // without -v: diagnostic notation, the port masked as well
    const plain = await runClient(dir, ['--cbor', `coap://${HOST}:${sp.ports.ext}`]);
    const body = plain.stdout.replace(HEAD, '');
    expect(body).toMatch(/^\[\{"systemstart": \d+\}, \{"rid": "RID\d+", "time": \d+, "ep": h'7f000001', "port": \d+\}, /);
    expect(body).toContain(`"ep": h'7f000001', "port": ${port}}]\n`);
  });

  it('--reset-uuid starts a new device (history back to one entry)', async () => {
    const dir = deviceDir();
    const uri = `coap://${HOST}:${sp.ports.ext}`;
    await runClient(dir, ['--json', '-v', uri]);
    expect(listing((await runClient(dir, ['--json', '-v', uri])).stdout).requests).toHaveLength(2);
    const before = uuidOf(dir);
    const reset = await runClient(dir, ['--reset-uuid', '--json', '-v', uri]);
    expect(reset.code).toBe(0);
    const after = uuidOf(dir);
    expect(after).toMatch(/^[0-9a-f-]{36}$/);
    expect(after).not.toBe(before);
    expect(listing(reset.stdout).requests).toHaveLength(1);
    expect(listing((await runClient(dir, ['--json', '-v', uri])).stdout).requests).toHaveLength(2);
  });

  it('default text response; the extra query is printed and sent', async () => {
    const dir = deviceDir();
    const uri = `coap://${HOST}:${sp.ports.ext}`;
    const first = await runClient(dir, [uri]);
    expect(first.stdout).toMatch(/^systemstart:\d+\nRID\d+:\d+\n$/);
    await runClient(dir, [uri]);
    const all = await runClient(dir, [uri]);
    expect(all.stdout).toMatch(/^systemstart:\d+\n(RID\d+:\d+\n){3}$/);
    // rlen=60 leaves room for the systemstart line and one entry only
    const limited = await runClient(dir, [`${uri}?rlen=60`]);
    expect(limited.code).toBe(0);
    expect(limited.stdout).toMatch(/^extra: rlen=60\nsystemstart:\d+\nRID\d+:\d+\n$/);
  });

  it.runIf(hasIpv6Loopback())('IPv6 sources are printed in brackets', async () => {
    const dir = deviceDir();
    const run = await runClient(dir, ['--json', '-v', `coap://[::1]:${sp.ports.ext}`]);
    expect(listing(run.stdout).addresses).toHaveLength(1);
    expect(listing(run.stdout).addresses[0]).toMatch(/^ {4}\(\[0:0:0:0:0:0:0:1\]:\d+\)$/);
  });

  it('other responses: code, options, ADVANCED and the response block; exit status 0', async () => {
    const dir = deviceDir();
    const xml = await runClient(dir, ['--xml', `coap://${HOST}:${sp.ports.ext}`]);
    expect(xml.code).toBe(0);
    expect(xml.stdout).toMatch(
      /^4\.06 NOT_ACCEPTABLE\n\{\}\n\nADVANCED\n\n==\[ CoAP Response \]=+\nMID    : \d+\nToken  : [0-9A-F]+\nType   : ACK\nStatus : 4\.06 - NOT_ACCEPTABLE\nOptions: \{\}\nRTT    : \d+ ms\nPayload: 0 Bytes\n=+\n$/,
    );
  });

  it('no response: "No response received." and a non-zero exit status', async () => {
    const dir = deviceDir();
    // a server that does not answer (a bound socket that drops everything): the request times out
    const silent = dgram.createSocket('udp4');
    await new Promise<void>((r) => silent.bind(0, HOST, () => r()));
    try {
      const none = await runClient(dir, ['--timeout', '300', '--non', '--json', `coap://${HOST}:${silent.address().port}`]);
      expect(none.code).not.toBe(0);
      expect(none.stdout).toBe('No response received.\n');
    } finally {
      await new Promise<void>((r) => silent.close(() => r()));
    }
    // no server at all (ICMP port unreachable): at once, with the reason
    const [closed] = await freeUdpPorts(1);
    const start = performance.now();
    const refused = await runClient(dir, ['--json', `coap://${HOST}:${closed}`]);
    expect(refused.code).not.toBe(0);
    expect(performance.now() - start).toBeLessThan(10_000);
    expect(refused.stdout).toBe('No response received.\n');
    expect(refused.stderr).toMatch(new RegExp(`^coap://127\\.0\\.0\\.1:${closed}/requests\\?dev=[^ ]+: connection refused \\(ICMP port unreachable\\), no server at 127\\.0\\.0\\.1:${closed}\\n$`));
  });

  it('--help lists -v once', async () => {
    const help = await runClient(deviceDir(), ['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout.match(/(^|[\s,])-v\b/gm)).toHaveLength(1);
    expect(help.stdout).toMatch(/^\s+-v, --verbose\s+list the history decoded/m);
  });

  it('usage errors exit with 255', async () => {
    const run = await runClient(deviceDir(), ['--bogus']);
    expect(run.code).toBe(255);
    expect(run.stderr).toContain('Unknown argument: bogus');
    expect(run.stdout).toBe('');
    // the receive test always POSTs: no --method
    expect((await runClient(deviceDir(), ['-m', 'GET'])).code).toBe(255);
  });
});

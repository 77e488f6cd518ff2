// The extplugtest-client executable against the real server (clients.md §2): the request and response blocks and the
// `>>> DTLS(...)` session lines of Californium's clients, `-v` message traces, and a destination without server
// (ICMP port unreachable) ending the client at once.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO, freeUdpPorts, hasIpv6Loopback, startServer, type ServerProcess } from '../helpers/server-process.js';

const CLIENT_MAIN = path.join(REPO, 'dist/src/cli/client-main.js');
const HOST = '127.0.0.1';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  /** ms from the start to the exit */
  ms: number;
  /** ms from the first output (the request block, printed as the request goes out) to the exit */
  afterRequest: number;
}

/** Runs the built client (killed after `timeoutMs`). */
function run(args: string[], timeoutMs = 20_000): Promise<Run> {
  const start = performance.now();
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [CLIENT_MAIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let firstOutput: number | undefined;
    proc.stdout.on('data', (d) => {
      firstOutput ??= performance.now();
      stdout += d.toString();
    });
    proc.stderr.on('data', (d) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`extplugtest-client ${args.join(' ')} did not end in ${timeoutMs} ms:\n${stdout}\n${stderr}`));
    }, timeoutMs);
    proc.on('close', (code) => {
      clearTimeout(timer);
      const end = performance.now();
      resolve({ code, stdout, stderr, ms: end - start, afterRequest: end - (firstOutput ?? start) });
    });
  });
}

const REQUEST_BLOCK = new RegExp(
  [
    '^==\\[ CoAP Request \\]={45}',
    'MID    : \\d+',
    'Token  : ([0-9A-F]{16})',
    'Type   : CON',
    'Method : 0\\.01 - GET',
    'Options: \\{"Uri-Path":"mycontext"\\}',
    'Payload: 0 Bytes',
    '={63}\\n\\n',
  ].join('\\n'),
);

/** The response block at the end of the output: fields and payload. */
function responseBlock(stdout: string) {
  const m = new RegExp(
    [
      'Time elapsed \\(ms\\): (\\d+)',
      '==\\[ CoAP Response \\]={44}',
      'MID    : (\\d+)',
      'Token  : ([0-9A-F]*)',
      'Type   : (\\w+)',
      'Status : (\\d\\.\\d\\d - \\w+)',
      'Options: (\\{.*\\})',
      'RTT    : (\\d+) ms',
      'Payload: (\\d+) Bytes',
      '-{63}',
      '([\\s\\S]*)',
      '={63}\\n$',
    ].join('\\n'),
  ).exec(stdout);
  if (!m) return undefined;
  const payload = m[9]!.replace(/\n$/, '');
  return { mid: Number(m[2]), token: m[3]!, type: m[4]!, status: m[5]!, options: m[6]!, rtt: Number(m[7]), size: Number(m[8]), payload };
}

const fieldsOf = (payload: string) => new Map(payload.split('\n').map((l) => [l.slice(0, l.indexOf(': ')), l.slice(l.indexOf(': ') + 2)] as const));

let sp: ServerProcess;
beforeAll(async () => {
  if (!fs.existsSync(CLIENT_MAIN)) throw new Error(`${CLIENT_MAIN} missing: run npm run build first`);
  sp = await startServer({ args: ['--no-external', '--no-plugtest'] });
});
afterAll(async () => {
  await sp?.stop();
});

describe('extplugtest-client output', () => {
  it('coap GET: the request block, then the response block with RTT and payload size; no session lines', async () => {
    const r = await run(['-m', 'GET', `coap://${HOST}:${sp.ports.ext}/mycontext`]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stderr).toBe('');
    const req = REQUEST_BLOCK.exec(r.stdout);
    expect(req, r.stdout).not.toBeNull();
    expect(r.stdout).not.toContain('>>> ');
    const res = responseBlock(r.stdout);
    expect(res, r.stdout).toBeDefined();
    expect(res!.token).toBe(req![1]);
    expect(res!.type).toBe('ACK');
    expect(res!.status).toBe('2.05 - CONTENT');
    expect(res!.options).toBe('{"Content-Format":"text/plain"}');
    expect(res!.size).toBe(Buffer.byteLength(res!.payload));
    expect(fieldsOf(res!.payload).get('ip')).toBe(HOST);
  });

  it('coaps PSK GET: the DTLS lines name the session, its suite and the client`s own identity', async () => {
    const r = await run(['-m', 'GET', '-i', 'Client_identity', '-s', 'secretPSK', `coaps://${HOST}:${sp.ports.extSecure}/mycontext`]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(REQUEST_BLOCK.test(r.stdout), r.stdout).toBe(true);
    const session = /\n\n(>>> DTLS\(127\.0\.0\.1:(\d+),ID:([0-9A-F]{10})\)\n>>> (TLS_\w+)\n>>> (.*))\n\nTime elapsed/.exec(r.stdout);
    expect(session, r.stdout).not.toBeNull();
    expect(Number(session![2])).toBe(sp.ports.extSecure);
    expect(session![5]).toBe('PreSharedKey Identity [identity: Client_identity]');
    expect(r.stdout).not.toMatch(/server Client_identity/);
    const res = responseBlock(r.stdout);
    expect(res, r.stdout).toBeDefined();
    const fields = fieldsOf(res!.payload);
    // the server saw the same identity, suite and session
    expect(fields.get('peer')).toBe('Client_identity');
    expect(fields.get('cipher-suite')).toBe(session![4]);
    expect(fields.get('session-id')!.startsWith(session![3]!)).toBe(true);
  });

  it('coaps with the default credentials: the generated cali. identity is the one shown', async () => {
    const r = await run(['-m', 'GET', `coaps://${HOST}:${sp.ports.extSecure}/mycontext`]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const id = />>> PreSharedKey Identity \[identity: (cali\.[0-9A-F]{16})\]\n/.exec(r.stdout);
    expect(id, r.stdout).not.toBeNull();
    expect(fieldsOf(responseBlock(r.stdout)!.payload).get('peer')).toBe(id![1]);
  });

  it('-v traces the sent request and the received response (coap and coaps)', async () => {
    const plain = await run(['-v', '-m', 'GET', `coap://${HOST}:${sp.ports.ext}/mycontext`]);
    expect(plain.code, plain.stdout + plain.stderr).toBe(0);
    const peer = `127.0.0.1:${sp.ports.ext}`;
    const sent = new RegExp(`^${peer.replace(/\./g, '\\.')} <== req CON-GET    MID=\\s*(\\d+), Token=([0-9A-F]{16}), OptionSet=\\{"Uri-Path":"mycontext"\\}, no payload$`, 'm').exec(
      plain.stdout,
    );
    expect(sent, plain.stdout).not.toBeNull();
    const received = new RegExp(`^${peer.replace(/\./g, '\\.')} ==> res ACK-2\\.05   MID=\\s*(\\d+), Token=([0-9A-F]{16}), OptionSet=\\{"Content-Format":"text/plain"\\}, "ip: 127\\.0\\.0\\.1`, 'm').exec(
      plain.stdout,
    );
    expect(received, plain.stdout).not.toBeNull();
    expect(received![1]).toBe(sent![1]);
    expect(received![2]).toBe(sent![2]);
    // without -v: no trace lines
    const quiet = await run(['-m', 'GET', `coap://${HOST}:${sp.ports.ext}/mycontext`]);
    expect(quiet.stdout).not.toMatch(/ <== | ==> /);

    const secure = await run(['-v', '-m', 'GET', `coaps://${HOST}:${sp.ports.extSecure}/mycontext`]);
    expect(secure.code, secure.stdout + secure.stderr).toBe(0);
    expect(secure.stdout).toMatch(new RegExp(`^127\\.0\\.0\\.1:${sp.ports.extSecure} <== req CON-GET `, 'm'));
    expect(secure.stdout).toMatch(new RegExp(`^127\\.0\\.0\\.1:${sp.ports.extSecure} ==> res ACK-2\\.05 `, 'm'));
  });

  it('a host name destination sends Uri-Host (as Californium)', async () => {
    const r = await run(['-m', 'GET', `coap://localhost:${sp.ports.ext}/mycontext`]);
    // localhost may resolve to ::1 first; the server listens on both loopbacks
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain('Options: {"Uri-Host":"localhost", "Uri-Path":"mycontext"}');
  });
});

describe('no server at the destination (ICMP port unreachable)', () => {
  for (const scheme of ['coap', 'coaps'] as const) {
    it(`${scheme}: exits non-zero within 3 s with a clear message`, async () => {
      const [port] = await freeUdpPorts(1);
      const uri = `${scheme}://${HOST}:${port}/mycontext`;
      const r = await run(['-m', 'GET', uri], 10_000);
      expect(r.code).not.toBe(0);
      // the request went out (its block is printed first); the refusal ends the client at once, not after the
      // CON retransmissions (about 93 s) or the 30 s timeout. Measured from the send, not the Node start-up.
      expect(r.afterRequest).toBeLessThan(3000);
      expect(r.stdout).toMatch(/^==\[ CoAP Request \]/);
      expect(r.stderr).toBe(`${uri}: connection refused (ICMP port unreachable), no server at ${HOST}:${port}\n`);
      expect(r.stdout).not.toContain('CoAP Response');
    });
  }

  it.runIf(hasIpv6Loopback())('IPv6: the address in brackets', async () => {
    const [port] = await freeUdpPorts(1);
    const r = await run([`coap://[::1]:${port}/x`], 10_000);
    expect(r.code).not.toBe(0);
    expect(r.afterRequest).toBeLessThan(3000);
    expect(r.stderr).toContain(`connection refused (ICMP port unreachable), no server at [::1]:${port}`);
  });
});

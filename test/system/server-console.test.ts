// The server console with the real process (cli.md §5, restart.md §3): help, unknown commands, matching
// without trailing blanks, the health dump on an empty line (DTLS handshakes and connections beside the
// CoAP counters), the save/load password with its blanks; and the process end through `npm start`
// (SIGTERM / SIGINT reach the server: no server process is left behind).
import { execFileSync, spawn } from 'node:child_process';
import dgram from 'node:dgram';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DtlsPeer } from '../helpers/dtls-client.js';
import { freeUdpPorts, REPO, startServer, type ServerProcess } from '../helpers/server-process.js';

/** Polls the process output (bounded) until `re` matches; returns the match. */
async function waitOutput(text: () => string, re: RegExp, ms = 10_000): Promise<RegExpMatchArray> {
  const deadline = Date.now() + ms;
  for (;;) {
    const m = re.exec(text());
    if (m) return m;
    if (Date.now() > deadline) throw new Error(`timeout waiting for ${re}:\n${text()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function exitWithin(exited: Promise<number | null>, ms = 10_000): Promise<number | null | 'timeout'> {
  return Promise.race([exited, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), ms))]);
}

/** JSON mode: the environment without the log variables of the test run. */
function jsonEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, LOG_FORMAT: 'json' };
  delete env.LOG_LEVEL;
  return env;
}

/** A connector's group in a health record: its /diagnose tag and rows [current period, total]. */
interface ConnectorGroup {
  group: string;
  counters: Record<string, [number, number]>;
}

interface HealthRecord {
  level: number;
  server: string;
  endpoint: string;
  msg: string;
  stats: { dtls?: ConnectorGroup; tcp?: ConnectorGroup; tls?: ConnectorGroup; coap: Record<string, [number, number]>; observes: number; dedup: number };
}

/** The health records logged after output position `from`. */
function healthRecords(sp: ServerProcess, from: number): HealthRecord[] {
  return sp
    .output()
    .slice(from)
    .split('\n')
    .filter((l) => l.startsWith('{') && l.includes('"msg":"health '))
    .map((l) => JSON.parse(l) as HealthRecord);
}

const cleanup: Array<() => Promise<unknown>> = [];
afterAll(async () => {
  for (const c of cleanup.reverse()) await c().catch(() => {});
});

describe('console', () => {
  it('help lists the commands; an unknown command says so; trailing blanks and a CR do not matter', async () => {
    const sp = await startServer({ args: ['--no-external', '--no-plugtest'], env: jsonEnv() });
    cleanup.push(() => sp.stop());
    sp.write('help  ');
    await waitOutput(sp.output, /^> help {2}\nconsole commands:\n/m);
    for (const cmd of ['<empty line>', 'save[<password>]', 'load[<password>]', 'help', 'exit']) expect(sp.output()).toMatch(new RegExp(`^ {2}${cmd.replace(/[[\]]/g, '\\$&')} `, 'm'));
    sp.write('status');
    await waitOutput(sp.output, /^> status\nunknown command 'status' \(help lists the commands\)$/m);
    sp.write(' exit');
    await waitOutput(sp.output, /^unknown command ' exit'/m);
    sp.write('exit now');
    await waitOutput(sp.output, /^unknown command 'exit now'/m);
    expect(sp.proc.exitCode).toBeNull();
    // CRLF line end and trailing blanks: still `exit`
    sp.write('exit \r');
    expect(await exitWithin(sp.exited)).toBe(0);
    expect(sp.output()).toMatch(/"msg":"Exit \.\.\."/);
  });

  it('an empty line logs the health of every endpoint: DTLS connections and handshakes beside the CoAP counters; a new period starts', async () => {
    const sp = await startServer({ args: ['--no-external', '--no-plugtest', '--no-ipv6'], env: jsonEnv() });
    cleanup.push(() => sp.stop());
    // no traffic yet: every endpoint still has its line
    let from = sp.output().length;
    sp.write('');
    await waitOutput(() => sp.output().slice(from), /"msg":"health coap:\/\/127\.0\.0\.1:\d+: no messages; observes 0, dedup 0"/);
    const idle = healthRecords(sp, from);
    expect(idle.map((r) => r.endpoint).sort()).toEqual([
      `coap+tcp://127.0.0.1:${sp.ports.ext}`,
      `coap://127.0.0.1:${sp.ports.ext}`,
      `coaps+tcp://127.0.0.1:${sp.ports.extSecure}`,
      `coaps://127.0.0.1:${sp.ports.extSecure}`,
    ]);
    // the TCP and TLS endpoints (--tcp, on by default) show their open connections
    const idleTls = idle.find((r) => r.endpoint.startsWith('coaps+tcp:'))!;
    expect(idleTls.msg).toBe(`health coaps+tcp://127.0.0.1:${sp.ports.extSecure}: connections 0; no messages; observes 0, dedup 0`);
    // their connector groups are keyed by their kind: readers of `stats.dtls` see DTLS endpoints only
    expect(idleTls.stats.tls).toEqual({ group: `tls:127.0.0.1:${sp.ports.extSecure}`, counters: { connections: [0, 0] } });
    expect(idleTls.stats.dtls).toBeUndefined();
    const idleTcp = idle.find((r) => r.endpoint.startsWith('coap+tcp:'))!;
    expect(idleTcp.stats.tcp).toEqual({ group: `tcp:127.0.0.1:${sp.ports.ext}`, counters: { connections: [0, 0] } });
    expect(idleTcp.stats.dtls).toBeUndefined();
    const idleDtls = idle.find((r) => r.endpoint.startsWith('coaps:'))!;
    expect(idleDtls).toMatchObject({ level: 30, server: 'EXTENDED-TEST' });
    expect(idleDtls.stats.dtls!.counters).toEqual({ connections: [0, 0], 'handshakes succeeded': [0, 0], 'handshakes failed': [0, 0] });
    expect(idleDtls.msg).toBe(`health coaps://127.0.0.1:${sp.ports.extSecure}: connections 0, handshakes succeeded 0, handshakes failed 0; no messages; observes 0, dedup 0`);

    const peer = await DtlsPeer.open('127.0.0.1', sp.ports.extSecure, { cidLength: 6 });
    cleanup.push(() => peer.close());
    await peer.connect();
    await peer.context(6000, 3);
    from = sp.output().length;
    sp.write('');
    await waitOutput(() => sp.output().slice(from), /"msg":"health coaps:/);
    const dtls = healthRecords(sp, from).find((r) => r.endpoint === `coaps://127.0.0.1:${sp.ports.extSecure}`)!;
    expect(dtls.stats.dtls!.group).toBe(`dtls:127.0.0.1:${sp.ports.extSecure}`);
    expect(dtls.stats.dtls!.counters).toMatchObject({ connections: [1, 1], 'handshakes succeeded': [1, 1], 'handshakes failed': [0, 0] });
    expect(dtls.stats.coap['recv-requests']).toEqual([1, 1]);
    expect(dtls.msg).toMatch(/^health coaps:\/\/127\.0\.0\.1:\d+: connections 1, handshakes succeeded 1, handshakes failed 0, received records \d+, .*; .*recv-requests 1\b.*; observes 0, dedup \d+; dtls-details: .*\bfull handshakes 1\b/);

    // the dump started a new period: the next one shows the earlier counts as totals
    from = sp.output().length;
    sp.write('   ');
    await waitOutput(() => sp.output().slice(from), /"msg":"health coaps:/);
    const next = healthRecords(sp, from).find((r) => r.endpoint === `coaps://127.0.0.1:${sp.ports.extSecure}`)!;
    expect(next.stats.dtls!.counters).toMatchObject({ connections: [1, 1], 'handshakes succeeded': [0, 1] });
    expect(next.stats.coap['recv-requests']).toEqual([0, 1]);
    expect(next.msg).toContain('handshakes succeeded 0 (1 overall)');
    expect(next.msg).toContain('recv-requests 0 (1 overall)');
  });

  it('save/load: the password is everything after the 4 characters, trailing blanks included', async () => {
    const sp = await startServer({ args: ['--no-external', '--no-plugtest', '--no-ipv6'], env: jsonEnv() });
    cleanup.push(() => sp.stop());
    const peer = await DtlsPeer.open('127.0.0.1', sp.ports.extSecure, { cidLength: 6 });
    cleanup.push(() => peer.close());
    await peer.connect();
    sp.write('save pw ');
    await waitOutput(sp.output, /"msg":"Saved: \d+ Bytes \(pw:  pw \)"/);
    // without the trailing blank the password is a different one
    sp.write('load pw');
    await waitOutput(sp.output, /"msg":"load failed: /);
    sp.write('load pw ');
    await waitOutput(sp.output, /"msg":"Loaded: \d+ Bytes \(pw:  pw \)"/);
    await peer.context(6000, 3);
    expect(peer.handshakes).toBe(1);
  });
});

/** All descendants of a process (children first). */
function descendants(pid: number): number[] {
  let out: string;
  try {
    out = execFileSync('ps', ['-o', 'pid=', '--ppid', String(pid)], { encoding: 'utf8' });
  } catch {
    return [];
  }
  const children = out
    .split('\n')
    .map((s) => Number(s.trim()))
    .filter((n) => n > 0);
  return children.flatMap((c) => [c, ...descendants(c)]);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** True when the UDP port can be bound on 127.0.0.1 (the server released it). */
function udpFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = dgram.createSocket('udp4');
    s.once('error', () => resolve(false));
    s.bind(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/** npm's executable next to this node (the PATH one otherwise). */
function npmCommand(): string {
  const local = path.join(path.dirname(process.execPath), 'npm');
  return fs.existsSync(local) ? local : 'npm';
}

describe('npm start', () => {
  it.each(['SIGTERM', 'SIGINT'] as const)('%s to npm reaches the server: it exits cleanly and no server process is left', { timeout: 40_000 }, async (signal) => {
    // a package directory with the repository's start script and its dist/, and a properties file with free ports
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'extplugtest-npm-'));
    const pkg = JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')) as { scripts: { start: string } };
    fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'npm-start-check', version: '1.0.0', private: true, type: 'module', scripts: { start: pkg.scripts.start } }));
    fs.symlinkSync(path.join(REPO, 'dist'), path.join(dir, 'dist'));
    const [plug, plugSecure, ext, extSecure] = await freeUdpPorts(4);
    fs.writeFileSync(
      path.join(dir, 'Californium3.properties'),
      [`COAP.COAP_PORT=${ext}`, `COAP.COAP_SECURE_PORT=${extSecure}`, `PLUGTEST.COAP.COAP_PORT=${plug}`, `PLUGTEST.COAP.COAP_SECURE_PORT=${plugSecure}`].join('\n') + '\n',
    );
    const npm = spawn(npmCommand(), ['start', '--', '--no-external', '--no-ipv6'], {
      cwd: dir,
      env: { ...jsonEnv(), npm_config_update_notifier: 'false', npm_config_fund: 'false' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let out = '';
    npm.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    npm.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    const npmExited = new Promise<number | null>((resolve) => npm.on('exit', (code) => resolve(code)));
    let pids: number[] = [];
    try {
      await waitOutput(() => out, /started \.\.\./, 20_000);
      pids = descendants(npm.pid!);
      expect(pids.length).toBeGreaterThan(0);
      expect(await udpFree(ext!)).toBe(false);
      npm.kill(signal);
      expect(await exitWithin(npmExited)).not.toBe('timeout');
      // within 5 s every process npm started is gone, the server logged its end and released its ports
      const deadline = Date.now() + 5000;
      while (pids.some(alive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(pids.filter(alive)).toEqual([]);
      expect(out).toMatch(/"msg":"Exit \.\.\."/);
      expect(await udpFree(ext!)).toBe(true);
    } finally {
      for (const pid of [...pids, ...descendants(npm.pid!)]) if (alive(pid)) process.kill(pid, 'SIGKILL');
      if (npm.exitCode === null && npm.signalCode === null) npm.kill('SIGKILL');
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

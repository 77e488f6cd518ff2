// The server's log output with the real process (README "Logs", cli.md §4-§6): readable lines on a
// terminal (run under util-linux `script`, a pseudo terminal), JSON when asked or when stdout is a pipe,
// the level, the start-up line with the heap limit, one line for the default-on features that are not
// available, one failure prefix for several refused flags, the log options on the command line.
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DtlsPeer } from '../helpers/dtls-client.js';
import { freeUdpPorts, SERVER_MAIN, startServer, type ServerProcess } from '../helpers/server-process.js';

/** util-linux `script` runs a command on a pseudo terminal. */
const HAS_SCRIPT = (() => {
  try {
    return /util-linux/.test(execFileSync('script', ['--version'], { encoding: 'utf8' }));
  } catch {
    return false;
  }
})();

/** Colour codes and the terminal's CRs removed. */
function plain(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/\x1b\[[0-9;]*m/g, '').replace(/\r/g, '');
}

/** The environment without the log variables of the test run itself. */
function cleanEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const k of ['LOG_FORMAT', 'LOG_LEVEL', 'NO_COLOR', 'FORCE_COLOR']) delete env[k];
  return { ...env, ...extra };
}

/** A server on a pseudo terminal. */
interface TermServer {
  proc: ChildProcess;
  ports: ServerProcess['ports'];
  output(): string;
  write(line: string): void;
  exited: Promise<number | null>;
  stop(): Promise<void>;
}

const shellQuote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/** Starts the server under `script` (stdout and stdin are a terminal) with free loopback ports; waits for `started`. */
async function startInTerminal(args: string[], env: NodeJS.ProcessEnv = {}, waitFor = /started \.\.\./): Promise<TermServer> {
  const cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'extplugtest-log-'));
  const [plug, plugSecure, ext, extSecure] = await freeUdpPorts(4);
  const ports = { plug: plug!, plugSecure: plugSecure!, ext: ext!, extSecure: extSecure! };
  fs.writeFileSync(
    path.join(cwd, 'Californium3.properties'),
    [`COAP.COAP_PORT=${ports.ext}`, `COAP.COAP_SECURE_PORT=${ports.extSecure}`, `PLUGTEST.COAP.COAP_PORT=${ports.plug}`, `PLUGTEST.COAP.COAP_SECURE_PORT=${ports.plugSecure}`].join('\n') + '\n',
  );
  const command = ['exec', shellQuote(process.execPath), shellQuote(SERVER_MAIN), ...args.map(shellQuote)].join(' ');
  const proc = spawn('script', ['-qfec', command, '/dev/null'], { cwd, env: cleanEnv({ TERM: 'xterm', ...env }), stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  const server: TermServer = {
    proc,
    ports,
    output: () => out,
    write: (line) => proc.stdin!.write(line + '\n'),
    exited,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) {
        // the server is the child of `script`: end it by its pid, then `script` ends
        for (const pid of childPids(proc.pid!)) killQuietly(pid, 'SIGTERM');
        const t = setTimeout(() => {
          for (const pid of childPids(proc.pid!)) killQuietly(pid, 'SIGKILL');
          proc.kill('SIGKILL');
        }, 5000);
        await exited;
        clearTimeout(t);
      }
      fs.rmSync(cwd, { recursive: true, force: true });
    },
  };
  const deadline = Date.now() + 15_000;
  while (!waitFor.test(plain(out))) {
    if (proc.exitCode !== null) throw new Error(`server exited with ${proc.exitCode}:\n${out}`);
    if (Date.now() > deadline) {
      await server.stop();
      throw new Error(`server did not start:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return server;
}

/** Direct children of a process. */
function childPids(pid: number): number[] {
  try {
    return execFileSync('ps', ['-o', 'pid=', '--ppid', String(pid)], { encoding: 'utf8' })
      .split('\n')
      .map((s) => Number(s.trim()))
      .filter((n) => n > 0);
  } catch {
    return [];
  }
}

function killQuietly(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}

/** Polls `text()` (bounded) until `re` matches. */
async function waitFor(text: () => string, re: RegExp, ms = 10_000): Promise<RegExpMatchArray> {
  const deadline = Date.now() + ms;
  for (;;) {
    const m = re.exec(text());
    if (m) return m;
    if (Date.now() > deadline) throw new Error(`timeout waiting for ${re}:\n${text()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Resolves with the exit code, or 'timeout'. */
function exitWithin(exited: Promise<number | null>, ms = 10_000): Promise<number | null | 'timeout'> {
  return Promise.race([exited, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), ms))]);
}

/** Runs the server to its end with pipes (start-up failures, usage errors). */
function runServer(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'extplugtest-log-'));
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [SERVER_MAIN, ...args], { cwd, timeout: 15_000, env: cleanEnv(env) }, (err, stdout, stderr) => {
      fs.rmSync(cwd, { recursive: true, force: true });
      const e = err as (Error & { code?: number | string; killed?: boolean }) | null;
      if (e?.killed) return reject(new Error(`server ${args.join(' ')} did not end:\n${stdout}\n${stderr}`));
      if (e && typeof e.code === 'string') return reject(e);
      resolve({ code: e ? (e.code as number) : 0, stdout, stderr });
    });
  });
}

/** The log lines of an output (not the console echo/answers, not npm's banner). */
function logLines(text: string): string[] {
  return plain(text)
    .split('\n')
    .filter((l) => /^\d\d:\d\d:\d\d\.\d{3} /.test(l) || l.startsWith('{'));
}

/** Pretty line: time of day, level padded to 5, then the rest. */
const PRETTY = /^\d\d:\d\d:\d\d\.\d{3} (TRACE|DEBUG|INFO |WARN |ERROR|FATAL) \S/;

const cleanup: Array<() => Promise<unknown>> = [];
afterAll(async () => {
  for (const c of cleanup.reverse()) await c().catch(() => {});
});

describe.skipIf(!HAS_SCRIPT)('on a terminal', () => {
  it('readable lines by default (time of day, level, server tag, message), coloured levels, no JSON; the console answers', async () => {
    const sp = await startInTerminal(['--no-external']);
    cleanup.push(() => sp.stop());
    const raw = sp.output();
    const text = plain(raw);
    const lines = logLines(raw);
    expect(lines.length).toBeGreaterThan(3);
    for (const l of lines) expect(l).toMatch(PRETTY);
    // by default one worker per core serves the extended server: its lines carry the worker index (EXTENDED-TEST#1)
    expect(text).toMatch(new RegExp(`^\\d\\d:\\d\\d:\\d\\d\\.\\d{3} INFO  EXTENDED-TEST(#\\d+)? endpoint started coaps://127\\.0\\.0\\.1:${sp.ports.extSecure}$`, 'm'));
    expect(text).toMatch(new RegExp(`^\\d\\d:\\d\\d:\\d\\d\\.\\d{3} INFO  PLUG-TEST endpoint started coap://127\\.0\\.0\\.1:${sp.ports.plug}$`, 'm'));
    expect(text).toMatch(/^\d\d:\d\d:\d\d\.\d{3} INFO {2}extplugtest, version \S+, \d+MB heap, started \.\.\.$/m);
    expect(text).not.toMatch(/^\{/m);
    // the level label is coloured on a terminal
    expect(raw).toContain('\x1b[32mINFO \x1b[0m');

    // console: help, an unknown command (trailing blanks are not part of it)
    sp.write('help');
    await waitFor(() => plain(sp.output()), /exit +stop the servers and end the process/);
    const help = plain(sp.output());
    expect(help).toContain('> help\n');
    expect(help).toMatch(/^ {2}save\[<password>\] /m);
    expect(help).toMatch(/^ {2}load\[<password>\] /m);
    expect(help).toMatch(/^ {2}<empty line> +log the health statistics/m);
    sp.write('bogus  ');
    await waitFor(() => plain(sp.output()), /^unknown command 'bogus' \(help lists the commands\)$/m);

    // a DTLS handshake, then an empty line: the health lines show DTLS connections and handshakes beside the CoAP counters
    const peer = await DtlsPeer.open('127.0.0.1', sp.ports.extSecure, { cidLength: 6 });
    cleanup.push(() => peer.close());
    await peer.connect();
    await peer.context(6000, 3);
    sp.write('');
    const dtlsLine = new RegExp(
      `^\\d\\d:\\d\\d:\\d\\d\\.\\d{3} INFO  EXTENDED-TEST health coaps://127\\.0\\.0\\.1:${sp.ports.extSecure}: connections 1, handshakes succeeded 1, handshakes failed 0, .*; .*recv-requests 1.*; observes 0, dedup \\d+; dtls-details: .*$`,
      'm',
    );
    await waitFor(() => plain(sp.output()), dtlsLine);
    // every endpoint is listed, also those without traffic
    expect(plain(sp.output())).toMatch(new RegExp(`^\\d\\d:\\d\\d:\\d\\d\\.\\d{3} INFO  PLUG-TEST health coap://127\\.0\\.0\\.1:${sp.ports.plug}: no messages; observes 0, dedup 0$`, 'm'));
    expect(plain(sp.output())).toMatch(
      new RegExp(`^\\d\\d:\\d\\d:\\d\\d\\.\\d{3} INFO  PLUG-TEST health coaps://127\\.0\\.0\\.1:${sp.ports.plugSecure}: connections 0, handshakes succeeded 0, handshakes failed 0; no messages;`, 'm'),
    );

    // `exit` with trailing blanks
    sp.write('exit \t ');
    expect(await exitWithin(sp.exited)).toBe(0);
    expect(plain(sp.output())).toMatch(/^\d\d:\d\d:\d\d\.\d{3} INFO {2}Exit \.\.\.$/m);
  });

  it.each([
    ['--log-format json', ['--no-external', '--log-format', 'json'], {}],
    ['LOG_FORMAT=json', ['--no-external'], { LOG_FORMAT: 'json' }],
  ] as Array<[string, string[], NodeJS.ProcessEnv]>)('%s: JSON lines on a terminal too', async (_name, args, env) => {
    const sp = await startInTerminal(args, env);
    cleanup.push(() => sp.stop());
    const lines = logLines(sp.output());
    expect(lines.length).toBeGreaterThan(3);
    for (const l of lines) expect(l.startsWith('{'), l).toBe(true);
    const records = lines.map((l) => JSON.parse(l) as { level: number; time: number; msg: string; server?: string });
    expect(records.find((r) => /started \.\.\./.test(r.msg))).toMatchObject({ level: 30 });
    expect(records.some((r) => r.server === 'EXTENDED-TEST' && r.msg === 'endpoint started')).toBe(true);
    sp.write('exit');
    expect(await exitWithin(sp.exited)).toBe(0);
  });

  it('NO_COLOR: readable lines without colour codes', async () => {
    const sp = await startInTerminal(['--no-external', '--no-plugtest'], { NO_COLOR: '1' });
    cleanup.push(() => sp.stop());
    // eslint-disable-next-line no-control-regex
    expect(sp.output()).not.toMatch(/\x1b\[/);
    expect(plain(sp.output())).toMatch(/^\d\d:\d\d:\d\d\.\d{3} INFO {2}EXTENDED-TEST(#\d+)? endpoint started /m);
  });
});

describe('not on a terminal', () => {
  it('JSON lines by default (stdout is a pipe); the console echo and answers stay plain text', async () => {
    const sp = await startServer({ args: ['--no-external', '--no-plugtest'], env: cleanEnv() });
    cleanup.push(() => sp.stop());
    const lines = logLines(sp.output());
    expect(lines.length).toBeGreaterThan(2);
    for (const l of lines) expect(() => JSON.parse(l), l).not.toThrow();
    sp.write('help');
    await waitFor(() => sp.output(), /^> help\nconsole commands:$/m);
  });

  it('--log-format pretty (or LOG_FORMAT=pretty): readable lines, no colours', async () => {
    for (const [args, env] of [
      [['--no-external', '--no-plugtest', '--log-format=pretty'], {}],
      [['--no-external', '--no-plugtest'], { LOG_FORMAT: 'pretty' }],
    ] as Array<[string[], NodeJS.ProcessEnv]>) {
      const sp = await startServer({ args, env: cleanEnv(env) });
      cleanup.push(() => sp.stop());
      const lines = logLines(sp.output());
      expect(lines.length).toBeGreaterThan(2);
      for (const l of lines) expect(l).toMatch(PRETTY);
      // eslint-disable-next-line no-control-regex
      expect(sp.output()).not.toMatch(/\x1b\[/);
      expect(sp.output()).toMatch(/ INFO {2}EXTENDED-TEST endpoint started coap:\/\/127\.0\.0\.1:\d+\n/);
      await sp.stop();
    }
  });

  it.each([
    ['LOG_LEVEL=warn', [], { LOG_LEVEL: 'warn' }],
    ['--log-level warn', ['--log-level', 'warn'], { LOG_LEVEL: 'debug' }],
  ] as Array<[string, string[], NodeJS.ProcessEnv]>)('%s: no info lines, warnings still show', async (_name, extra, env) => {
    const sp = await startServer({ args: ['--no-external', '--log-format=pretty', ...extra], env: cleanEnv(env), waitStarted: false });
    cleanup.push(() => sp.stop());
    // the console runs once start-up is done: `exit` ends the process after it
    sp.write('exit');
    expect(await exitWithin(sp.exited, 15_000)).toBe(0);
    const text = sp.output();
    expect(text).toContain('> exit');
    expect(text).not.toMatch(/ INFO /);
    expect(text).not.toMatch(/ DEBUG /);
    expect(text).not.toContain('started ...');
    expect(text).not.toMatch(/ WARN /);
  });

  it('an unknown LOG_FORMAT / LOG_LEVEL is ignored with a warning; the server runs with the defaults', async () => {
    const sp = await startServer({ args: ['--no-external', '--no-plugtest'], env: cleanEnv({ LOG_FORMAT: 'xml', LOG_LEVEL: 'verbose' }) });
    cleanup.push(() => sp.stop());
    const records = logLines(sp.output()).map((l) => JSON.parse(l) as { level: number; msg: string });
    expect(records).toContainEqual(expect.objectContaining({ level: 40, msg: 'LOG_FORMAT=xml ignored: expected one of pretty, json' }));
    expect(records).toContainEqual(expect.objectContaining({ level: 40, msg: expect.stringMatching(/^LOG_LEVEL=verbose ignored/) }));
    expect(records.some((r) => r.level === 30)).toBe(true);
  });
});

describe('start-up lines', () => {
  it('a default start prints no warning: every default-on feature (--tcp, --oscore) is available', async () => {
    const sp = await startServer({ args: ['--no-external', '--log-format=pretty'], env: cleanEnv() });
    cleanup.push(() => sp.stop());
    expect(sp.output()).not.toMatch(/ WARN /);
    expect(sp.output()).toMatch(/coap\+tcp:\/\/127\.0\.0\.1:\d+/);
    expect(sp.output()).toMatch(/coaps\+tcp:\/\/127\.0\.0\.1:\d+/);
  });

  it('the start-up line reports the heap limit (as node reports it for the same options), not the heap in use', async () => {
    const nodeOptions = '--max-old-space-size=256';
    const expected = Number(execFileSync(process.execPath, [nodeOptions, '-p', "Math.round(require('v8').getHeapStatistics().heap_size_limit / 1048576)"], { encoding: 'utf8' }).trim());
    const sp = await startServer({ args: ['--no-external', '--no-plugtest', '--log-format=pretty'], env: cleanEnv({ NODE_OPTIONS: nodeOptions }) });
    cleanup.push(() => sp.stop());
    const m = /extplugtest, version \S+, (\d+)MB heap, started \.\.\./.exec(sp.output());
    expect(Number(m![1])).toBe(expected);
  });
});

describe('log options on the command line', () => {
  it('--help lists --log-format and --log-level with the environment variables', async () => {
    const r = await runServer(['--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('--log-format=<pretty|json>');
    expect(r.stdout).toContain('--log-level=<level>');
    expect(r.stdout).toContain('LOG_FORMAT');
    expect(r.stdout).toContain('LOG_LEVEL');
  });

  it.each([
    [['--log-format=xml'], "Invalid value for option '--log-format': 'xml'"],
    [['--log-level'], "Missing required parameter for option '--log-level'"],
    [['--log-format', 'json', '--log-format', 'pretty'], "option '--log-format' should be specified only once"],
  ])('%j: exit 255, the error and the usage on stderr', async (args, message) => {
    const r = await runServer(args);
    expect(r.code).toBe(255);
    expect(r.stdout).toBe('');
    expect(r.stderr.split('\n')[0]).toContain(message);
    expect(r.stderr).toContain('Usage: extended-test-server ');
    expect(r.stderr).toContain('--log-format=<pretty|json>');
  });
});

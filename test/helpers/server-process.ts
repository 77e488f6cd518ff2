// Starts the real server (dist/src/cli/server-main.js) as a child process in a temp working directory.
import { spawn, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import net from 'node:net';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** Repository root. */
export const REPO = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
/** The built server entry point. */
export const SERVER_MAIN = path.join(REPO, 'dist/src/cli/server-main.js');

/** A running server process. */
export interface ServerProcess {
  proc: ChildProcess;
  cwd: string;
  /** UDP ports: plugtest coap, extended coap (and the secure ones reserved for later) */
  ports: { plug: number; plugSecure: number; ext: number; extSecure: number };
  /** everything the process printed so far */
  output(): string;
  /** sends a console line */
  write(line: string): void;
  /** SIGTERM and wait for exit; returns the exit code */
  stop(): Promise<number | null>;
  /** resolves with the exit code when the process ends */
  exited: Promise<number | null>;
}

/** Finds `n` UDP ports free on 127.0.0.1 and ::1. */
export async function freeUdpPorts(n: number): Promise<number[]> {
  const ports: number[] = [];
  while (ports.length < n) {
    const s = dgram.createSocket('udp4');
    await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
    const port = s.address().port;
    s.close();
    if (ports.includes(port)) continue;
    const ok6 = await new Promise<boolean>((resolve) => {
      const s6 = dgram.createSocket({ type: 'udp6', ipv6Only: true });
      s6.once('error', () => resolve(false));
      s6.bind(port, '::1', () => {
        s6.close();
        resolve(true);
      });
    });
    // the server's coap+tcp and coaps+tcp endpoints (--tcp, on by default) listen on the same numbers
    if ((ok6 || !hasIpv6Loopback()) && (await tcpFree(port, '127.0.0.1')) && (!hasIpv6Loopback() || (await tcpFree(port, '::1')))) ports.push(port);
  }
  return ports;
}

/** True when a TCP listener can take `port` on `host`. */
function tcpFree(port: number, host: string): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/** True when ::1 is configured on this machine. */
export function hasIpv6Loopback(): boolean {
  return Object.values(os.networkInterfaces()).some((list) => list?.some((a) => a.address === '::1'));
}

/**
 * The vitest projects `workers-2`/`workers-4` (vitest.config.ts) run the plugtest and extended-resource suites again
 * against a server of that many workers: EXTPLUGTEST_TEST_WORKERS adds `--workers N` where the test gives none.
 */
export function withTestWorkers(args: readonly string[], env: NodeJS.ProcessEnv = process.env): string[] {
  const n = env.EXTPLUGTEST_TEST_WORKERS;
  if (n === undefined || n === '' || args.includes('--workers')) return [...args];
  return [...args, '--workers', n];
}

/** Options for startServer. */
export interface StartOptions {
  /** extra command line flags (default: loopback only) */
  args?: string[];
  /** extra properties lines appended to the generated file */
  properties?: string[];
  /** do not write a properties file (the server creates its own with default ports) */
  noProperties?: boolean;
  env?: NodeJS.ProcessEnv;
  /** wait for the `started` log line (default true) */
  waitStarted?: boolean;
  timeoutMs?: number;
  /** reuse these ports (e.g. a restarted server taking over from a stopped one) instead of free ones */
  ports?: ServerProcess['ports'];
  /** server-main.js of another build (default: this repository's dist) */
  main?: string;
}

/** Starts the server with free ports written into a fresh Californium3.properties. */
export async function startServer(opts: StartOptions = {}): Promise<ServerProcess> {
  const main = opts.main ?? SERVER_MAIN;
  if (!fs.existsSync(main)) throw new Error(`${main} missing: run npm run build first`);
  const cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'extplugtest-'));
  const [plug, plugSecure, ext, extSecure] = opts.ports ? [] : await freeUdpPorts(4);
  const ports = opts.ports ?? { plug: plug!, plugSecure: plugSecure!, ext: ext!, extSecure: extSecure! };
  if (!opts.noProperties) {
    const lines = [
      `COAP.COAP_PORT=${ports.ext}`,
      `COAP.COAP_SECURE_PORT=${ports.extSecure}`,
      `PLUGTEST.COAP.COAP_PORT=${ports.plug}`,
      `PLUGTEST.COAP.COAP_SECURE_PORT=${ports.plugSecure}`,
      // one process unless a test asks for workers (--workers, a later WORKERS line, EXTPLUGTEST_TEST_WORKERS);
      // the default, one worker per core, is tested by test/system/workers.test.ts
      'WORKERS=1',
      ...(opts.properties ?? []),
    ];
    fs.writeFileSync(path.join(cwd, 'Californium3.properties'), lines.join('\n') + '\n');
  }
  const args = withTestWorkers(opts.args ?? ['--no-external']);
  const proc = spawn(process.execPath, [main, ...args], {
    cwd,
    env: { ...process.env, ...opts.env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout!.on('data', (d) => (out += d.toString()));
  proc.stderr!.on('data', (d) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  const sp: ServerProcess = {
    proc,
    cwd,
    ports,
    output: () => out,
    write: (line) => proc.stdin!.write(line + '\n'),
    exited,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      const t = setTimeout(() => proc.kill('SIGKILL'), 5000);
      const code = await exited;
      clearTimeout(t);
      fs.rmSync(cwd, { recursive: true, force: true });
      return code;
    },
  };
  if (opts.waitStarted ?? true) {
    const deadline = Date.now() + (opts.timeoutMs ?? 15_000);
    while (!/started \.\.\./.test(out)) {
      if (proc.exitCode !== null) throw new Error(`server exited with ${proc.exitCode}:\n${out}`);
      if (Date.now() > deadline) {
        proc.kill('SIGKILL');
        throw new Error(`server did not start:\n${out}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return sp;
}

/**
 * Polls the process output until `re` matches and returns the match; throws (with the output's tail) when
 * the process has exited without it or after `ms`.
 */
export async function waitOutput(sp: ServerProcess, re: RegExp, ms = 10_000): Promise<RegExpMatchArray> {
  const deadline = Date.now() + ms;
  for (;;) {
    const m = re.exec(sp.output());
    if (m) return m;
    if (sp.proc.exitCode !== null || Date.now() > deadline) throw new Error(`no ${re} within ${ms} ms:\n${sp.output().slice(-4000)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

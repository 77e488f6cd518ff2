// A Redis server of its own for a test (the shared DTLS connection store, issue 12): Debian's redis-server on a free
// loopback port, no persistence, stopped by the test. requirePeer decides whether a missing redis-server skips or fails.
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';

/** A running test Redis. */
export interface TestRedis {
  port: number;
  /** `redis://127.0.0.1:<port>` */
  url: string;
  proc: ChildProcess;
  /** its output so far */
  output(): string;
  /** ends it (SIGTERM, then SIGKILL after 3 s) */
  stop(): Promise<void>;
}

/** A TCP port free on 127.0.0.1. */
export async function freeTcpPort(): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen({ port: 0, host: '127.0.0.1', exclusive: true }, () => {
      const port = (server.address() as net.AddressInfo).port;
      server.close(() => resolve(port));
    });
  });
}

/** Starts `redis-server --port P --save '' --appendonly no` on 127.0.0.1 (on `port` if given) and waits until it is ready. */
export async function startRedis(exe: string, port?: number): Promise<TestRedis> {
  const p = port ?? (await freeTcpPort());
  const proc = spawn(exe, ['--port', String(p), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--protected-mode', 'no'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const deadline = Date.now() + 10_000;
  while (!/Ready to accept connections/.test(out)) {
    if (proc.exitCode !== null) throw new Error(`redis-server exited with ${proc.exitCode}:\n${out}`);
    if (Date.now() > deadline) {
      proc.kill('SIGKILL');
      throw new Error(`redis-server not ready within 10 s:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  return {
    port: p,
    url: `redis://127.0.0.1:${p}`,
    proc,
    output: () => out,
    stop: async () => {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(timer);
    },
  };
}

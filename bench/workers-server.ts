// Starts the server with --workers N for a measurement (the workers section of npm run bench, scripts/scale.sh):
// free coap/coaps ports written into a fresh Californium3.properties, the extended server only, and the wait until
// the primary's start line says that every worker serves.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnNode, tryPort, type ServerProcess } from './proc-util.js';
import { probeCoap } from './probe.js';

/** A started server and where it runs. */
export interface WorkersServer {
  server: ServerProcess;
  /** its working directory (the caller removes it, or keeps it after a failure) */
  dir: string;
  coapPort: number;
  coapsPort: number;
}

/** How to start it. */
export interface WorkersServerOptions {
  distRoot: string;
  workers: number;
  /** the node binary (default: this one) */
  node?: string;
  /** extra Californium3.properties lines */
  props?: readonly string[];
  /** temp directory name part */
  name: string;
  /** called with the primary's pid right after the spawn (before it forks its workers), e.g. to pin it */
  onSpawn?: (pid: number) => void;
}

/** Starts the server and resolves once it serves; on failure it is stopped (its directory kept) and the error names its log. */
export async function startWorkersServer(o: WorkersServerOptions): Promise<WorkersServer> {
  const coapPort = (await tryPort(0))!;
  let coapsPort = (await tryPort(0))!;
  while (coapsPort === coapPort) coapsPort = (await tryPort(0))!;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `extplugtest-${o.name}-${o.workers}-`));
  fs.writeFileSync(path.join(dir, 'Californium3.properties'), [`COAP.COAP_PORT=${coapPort}`, `COAP.COAP_SECURE_PORT=${coapsPort}`, ...(o.props ?? [])].join('\n') + '\n');
  const main = path.join(o.distRoot, 'src', 'cli', 'server-main.js');
  const server = spawnNode('server', [main, '--no-plugtest', '--no-ipv6', '--no-external', '--workers', String(o.workers)], dir, [], o.node);
  try {
    if (server.pid < 0) throw new Error('server did not spawn');
    o.onSpawn?.(server.pid);
    await probeCoap(coapPort, '127.0.0.1', 'echo', 30_000);
    const deadline = Date.now() + 30_000;
    while (!server.logTail(1 << 20).includes('started ...')) {
      if (server.exited() || Date.now() > deadline) throw new Error(`server with --workers ${o.workers} did not start:\n${server.logTail(1500)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  } catch (err) {
    await server.stop();
    throw new Error(`${(err as Error).message} (server files kept in ${dir})`);
  }
  return { server, dir, coapPort, coapsPort };
}

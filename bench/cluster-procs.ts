// Process helpers of the cluster section of `npm run bench`: DTLS CID cluster nodes as server processes on 127.0.0.2,
// .3, ... (one address each, the same ports), the NAT executable with its console driven over stdin, UDP ports free
// on several loopback addresses, and a node's cluster counters read from its /diagnose resource. Loopback only.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import fs from 'node:fs';
import path from 'node:path';
import { processCpuMs, spawnNode, trackChild, type ServerProcess } from './proc-util.js';

/** IP of cluster node n (1-based): 127.0.0.(n+1); the NAT and the client use 127.0.0.1. */
export function nodeIp(n: number): string {
  return `127.0.0.${n + 1}`;
}

/** Binds udp4 address:port for a moment; resolves with the bound port, or undefined when taken. */
function bindOnce(address: string, port: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const s = dgram.createSocket('udp4');
    s.once('error', () => resolve(undefined));
    s.bind(port, address, () => {
      const bound = s.address().port;
      s.close(() => resolve(bound));
    });
  });
}

/** A UDP port free on every one of `addresses` (OS-chosen on the first, checked on the others), not in `exclude`. */
export async function freePortOn(addresses: readonly string[], exclude: readonly number[] = []): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const port = await bindOnce(addresses[0]!, 0);
    if (port === undefined || exclude.includes(port)) continue;
    let free = true;
    for (const a of addresses.slice(1)) {
      if ((await bindOnce(a, port)) === undefined) {
        free = false;
        break;
      }
    }
    if (free) return port;
  }
  throw new Error(`no UDP port free on all of ${addresses.join(', ')}`);
}

/** How the nodes of a cluster run. */
export interface ClusterSpec {
  /** number of nodes (1 = a static single-node cluster) */
  size: number;
  /** dynamic cluster (--dtls-cluster-group) when size > 1 */
  dynamic: boolean;
  /** false: --no-dtls-cluster-backward (direct send) */
  backward: boolean;
  /** extra Californium3.properties lines */
  properties: string[];
  /** one sub directory per node is created here */
  workDir: string;
  /** dist/ of the build */
  distRoot: string;
  /** extra command line flags of every node (e.g. --dtls-cluster-group-security, --dtls-cluster-store) */
  args?: string[];
}

/** Running cluster nodes. */
export interface ClusterNodes {
  nodes: ServerProcess[];
  ips: string[];
  dtlsPort: number;
  mgmtPort: number;
  /** `ip:dtlsPort` of every node */
  destinations: string[];
  stop(): Promise<void>;
}

/** Resolves once every node's log matches `re` (rejects after `ms` or when a node exited). */
async function waitForLogs(nodes: readonly ServerProcess[], re: RegExp, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  for (const [i, n] of nodes.entries()) {
    while (!re.test(n.logTail(1 << 20))) {
      if (n.exited()) throw new Error(`node ${i + 1} exited before ${re} (port taken?)\n${n.logTail(1500)}`);
      if (Date.now() > deadline) throw new Error(`node ${i + 1}: no ${re} within ${ms} ms\n${n.logTail(1500)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

/**
 * Starts the nodes (server processes with --dtls-only --no-plugtest --benchmark --diagnose, each in its own working
 * directory under spec.workDir) and waits until each started its coaps endpoint and, in dynamic mode, logged
 * `cluster ready`. Ports are free on all node addresses; a node that fails to bind exits and is reported.
 */
export async function startClusterNodes(spec: ClusterSpec): Promise<ClusterNodes> {
  const main = path.join(spec.distRoot, 'src', 'cli', 'server-main.js');
  if (!fs.existsSync(main)) throw new Error(`${main} does not exist (build the server first)`);
  const ips = Array.from({ length: spec.size }, (_, i) => nodeIp(i + 1));
  const dtlsPort = await freePortOn(ips);
  const mgmtPort = await freePortOn(ips, [dtlsPort]);
  const coapPort = await freePortOn(ips, [dtlsPort, mgmtPort]);
  const nodes: ServerProcess[] = [];
  const stop = async (): Promise<void> => {
    await Promise.all(nodes.map((n) => n.stop()));
  };
  try {
    for (let n = 1; n <= spec.size; n++) {
      const ip = ips[n - 1]!;
      const dir = path.join(spec.workDir, `node${n}`);
      fs.mkdirSync(dir, { recursive: true });
      fs.writeFileSync(
        path.join(dir, 'Californium3.properties'),
        [`COAP.COAP_PORT=${coapPort}`, `COAP.COAP_SECURE_PORT=${dtlsPort}`, 'SYS.HEALTH_STATUS_INTERVAL=3600s', ...spec.properties].join('\n') + '\n',
      );
      // one process per node (the default on Node 24 is a worker per core, which would put 6 workers on 2 cores)
      const args = [main, '--no-external', '--no-ipv6', '--dtls-only', '--no-plugtest', '--diagnose', '--benchmark', '--workers', '1'];
      args.push(`--dtls-cluster=${ip}:${dtlsPort};${ip}:${mgmtPort};${n}`);
      if (spec.size > 1 && spec.dynamic) {
        args.push(`--dtls-cluster-group=${ips.filter((x) => x !== ip).map((x) => `${x}:${mgmtPort}`).join(',')}`);
      } else if (spec.size > 1) {
        throw new Error('static multi-node clusters are not used by the bench');
      }
      if (!spec.backward) args.push('--no-dtls-cluster-backward');
      args.push(...(spec.args ?? []));
      nodes.push(spawnNode(`node${n}`, args, dir));
    }
    await waitForLogs(nodes, /started \.\.\./, 20_000);
    for (const [i, n] of nodes.entries()) {
      const uri = `coaps://${ips[i]}:${dtlsPort}`;
      if (!n.logTail(1 << 20).includes(`"endpoint":"${uri}","msg":"endpoint started"`)) {
        throw new Error(`node ${i + 1} did not start ${uri}\n${n.logTail(1500)}`);
      }
    }
    if (spec.size > 1 && spec.dynamic) await waitForLogs(nodes, /"msg":"cluster ready"/, 20_000);
  } catch (err) {
    await stop();
    throw err;
  }
  return { nodes, ips, dtlsPort, mgmtPort, destinations: ips.map((ip) => `${ip}:${dtlsPort}`), stop };
}

/** NAT counters from its `info` statistics line plus the process CPU time when the line arrived. */
export interface NatSnapshot {
  /** client → node datagrams */
  forwarded: number;
  /** node → client datagrams */
  backwarded: number;
  /** forward datagrams sent by node-id (--cid) */
  cidRouted: number;
  /** answers from another node than the entry's destination (direct mode) */
  wronglyRouted: number;
  /** wrongly routed answers dropped */
  droppedWrong: number;
  /** NAT entries */
  entries: number;
  /** utime+stime of the NAT process, ms */
  cpuMs: number;
}

/** The NAT executable (dist/src/cli/nat-main.js) as a child process with its console on stdin. */
export interface NatProcess {
  pid: number;
  /** listening port on 127.0.0.1 */
  port: number;
  /** counters and CPU (console `info`) */
  snapshot(): Promise<NatSnapshot>;
  /** console `clear [n]`; resolves with the number of dropped entries */
  clear(n?: number): Promise<number>;
  /** the console output so far (last bytes) */
  outputTail(bytes?: number): string;
  /** another console line (e.g. `remove <destination>`), in order with the others, reply not awaited */
  send(line: string): void;
  stop(): Promise<void>;
}

/** Parses the `info` lines of the NAT console. */
export function parseNatInfo(lines: readonly string[]): Omit<NatSnapshot, 'cpuMs'> {
  const text = lines.join('\n');
  const s = /^statistics: (\d+) forwarded, (\d+) backwarded, (\d+) cid routed, .* (\d+) wrongly routed \((\d+) dropped\)/m.exec(text);
  if (!s) throw new Error(`NAT info without statistics line:\n${text}`);
  return {
    forwarded: Number(s[1]),
    backwarded: Number(s[2]),
    cidRouted: Number(s[3]),
    wronglyRouted: Number(s[4]),
    droppedWrong: Number(s[5]),
    entries: Number(/^(\d+) NAT entries/m.exec(text)?.[1] ?? 0),
  };
}

/**
 * Starts the NAT on 127.0.0.1 (a free port) in front of `destinations` with `extraArgs` (-r, --cid=...); stderr (its
 * log) goes to `<workDir>/nat.log`. Console commands run one after the other; each waits (bounded) for its reply.
 */
export async function startNatProcess(distRoot: string, workDir: string, destinations: readonly string[], extraArgs: readonly string[]): Promise<NatProcess> {
  const main = path.join(distRoot, 'src', 'cli', 'nat-main.js');
  const port = await freePortOn(['127.0.0.1']);
  const fd = fs.openSync(path.join(workDir, 'nat.log'), 'w');
  const child: ChildProcess = spawn(process.execPath, [main, `127.0.0.1:${port}`, '--', ...destinations, ...extraArgs], {
    cwd: workDir,
    stdio: ['pipe', 'pipe', fd],
  });
  fs.closeSync(fd);
  trackChild(child);
  const pid = child.pid ?? -1;
  let output = '';
  let pending = '';
  const lines: string[] = [];
  let waiter: (() => void) | undefined;
  let exited = false;
  const exit = new Promise<void>((resolve) => {
    child.once('exit', () => {
      exited = true;
      waiter?.();
      resolve();
    });
  });
  child.stdout!.setEncoding('utf8');
  child.stdout!.on('data', (chunk: string) => {
    if (output.length > 200_000) output = output.slice(-100_000);
    output += chunk;
    pending += chunk;
    let nl: number;
    while ((nl = pending.indexOf('\n')) >= 0) {
      lines.push(pending.slice(0, nl));
      pending = pending.slice(nl + 1);
    }
    waiter?.();
  });
  child.stdin!.on('error', () => {});
  /** Resolves with the lines up to and including the first one matching `re` (consumed), rejects after `ms`. */
  const readUntil = async (re: RegExp, ms: number): Promise<string[]> => {
    const deadline = Date.now() + ms;
    for (;;) {
      const i = lines.findIndex((l) => re.test(l));
      if (i >= 0) return lines.splice(0, i + 1);
      if (exited) throw new Error(`NAT exited\n${output.slice(-1500)}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`NAT: no ${re} within ${ms} ms\n${output.slice(-1500)}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        waiter = () => {
          clearTimeout(t);
          resolve();
        };
      });
      waiter = undefined;
    }
  };
  let queue: Promise<unknown> = Promise.resolve();
  const command = <T>(line: string, until: RegExp, map: (reply: string[]) => T): Promise<T> => {
    const next = queue.then(async () => {
      child.stdin!.write(`${line}\n`);
      return map(await readUntil(until, 10_000));
    });
    queue = next.catch(() => undefined);
    return next;
  };
  const stop = async (): Promise<void> => {
    if (exited) return;
    child.kill('SIGTERM');
    const t = setTimeout(() => child.kill('SIGKILL'), 3000);
    await exit;
    clearTimeout(t);
  };
  try {
    await readUntil(new RegExp(`^listening on 127\\.0\\.0\\.1:${port}$`), 10_000);
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    pid,
    port,
    snapshot: () => command('info', /^statistics: /, (reply) => ({ ...parseNatInfo(reply), cpuMs: processCpuMs(pid) ?? 0 })),
    clear: (n) =>
      command(n === undefined ? 'clear' : `clear ${n}`, /^\d+ - NAT entries dropped\.$/, (reply) => Number(/^(\d+) - /.exec(reply[reply.length - 1]!)?.[1] ?? 0)),
    outputTail: (bytes = 1500) => output.slice(-bytes),
    send: (line) => {
      queue = queue.then(() => void child.stdin!.write(`${line}\n`));
    },
    stop,
  };
}

/** Cluster counters of a node (cluster.md §4.5) with DTLS figures, from /diagnose (current period + before). */
export type NodeCounters = Record<string, number>;

/** Parses /diagnose text: the counters of the group whose tag starts with `dtls:node-<id>:` (cur + all). */
export function parseNodeCounters(text: string, nodeId: number): NodeCounters | undefined {
  const counters: NodeCounters = {};
  let inGroup = false;
  let found = false;
  for (const line of text.split('\n')) {
    if (line.startsWith('   ')) {
      const m = /^ {3}(.+),(\d+),(\d+)$/.exec(line);
      if (m && inGroup) counters[m[1]!] = m[1] === 'connections' ? Number(m[2]) : Number(m[2]) + Number(m[3]);
    } else if (line.length > 0) {
      inGroup = line.startsWith(`dtls:node-${nodeId}:`);
      found ||= inGroup;
    }
  }
  return found ? counters : undefined;
}

/** Reads node `nodeId`'s counters with our client (PSK Client_identity, GET coaps://ip:port/diagnose, bounded 15 s). */
export function readNodeCounters(distRoot: string, cwd: string, ip: string, port: number, nodeId: number): Promise<NodeCounters> {
  const main = path.join(distRoot, 'src', 'cli', 'client-main.js');
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [main, '-i', 'Client_identity', '-s', 'secretPSK', `coaps://${ip}:${port}/diagnose`],
      { cwd, timeout: 15_000, maxBuffer: 1 << 20 },
      (err, stdout, stderr) => {
        const counters = parseNodeCounters(stdout, nodeId);
        if (counters) resolve(counters);
        else reject(new Error(`/diagnose of node ${nodeId} (${ip}:${port}): ${err?.message ?? 'no dtls:node group'}\n${(stdout + stderr).slice(-800)}`));
      },
    );
  });
}

// Test helpers for DTLS CID clusters on the loopback range: nodes as server processes on 127.0.0.2,
// .3, .4, ... (each its own address, same ports), the NAT / load balancer in-process on 127.0.0.1.
import { startNat, type Nat, type NatOptions } from '../../src/nat/nat.js';
import { expect } from 'vitest';
import { freeUdpPorts, startServer, type ServerProcess } from './server-process.js';
import { DtlsPeer, getBlockwise, parseDiagnose } from './dtls-client.js';

/** Cluster modes of the system tests. */
export type ClusterMode = 'static' | 'dynamic' | 'secure';

/** A running cluster: its nodes, their addresses and ports. */
export interface TestCluster {
  nodes: ServerProcess[];
  /** node n (1-based) has IP 127.0.0.(n+1) */
  ips: string[];
  dtlsPort: number;
  mgmtPort: number;
  /** `ip:dtlsPort` of every node (NAT destinations) */
  destinations: string[];
  /** starts node n (1-based) again with its first flags and properties, after it stopped or was killed */
  restart(n: number): Promise<ServerProcess>;
  stop(): Promise<void>;
}

/** Options of startCluster. */
export interface ClusterOptions {
  mode: ClusterMode;
  size?: number;
  /** --no-dtls-cluster-backward */
  direct?: boolean;
  /** extra flags for every node */
  args?: string[];
  /** extra properties for every node */
  properties?: string[];
}

/** IP of node n (1-based). */
export function nodeIp(n: number): string {
  return `127.0.0.${n + 1}`;
}

/** Starts `size` nodes (default 3) and, for dynamic modes, waits until each logged `cluster ready`. */
export async function startCluster(o: ClusterOptions): Promise<TestCluster> {
  const size = o.size ?? 3;
  const [dtlsPort, mgmtPort] = await freeUdpPorts(2);
  const ips = Array.from({ length: size }, (_, i) => nodeIp(i + 1));
  const nodes: ServerProcess[] = [];
  const starts: Array<Parameters<typeof startServer>[0]> = [];
  try {
    for (let n = 1; n <= size; n++) {
      const ip = ips[n - 1]!;
      const own = `${ip}:${dtlsPort};${ip}:${mgmtPort};${n}`;
      const args = ['--no-external', '--no-ipv6', '--dtls-only', '--no-plugtest', '--diagnose', '--benchmark'];
      if (o.mode === 'static') {
        const list = ips.map((other, i) => (i + 1 === n ? own : `---;${other}:${mgmtPort};${i + 1}`));
        args.push(`--dtls-cluster=${list.join(',')}`);
      } else {
        args.push(`--dtls-cluster=${own}`);
        args.push(`--dtls-cluster-group=${ips.filter((x) => x !== ip).map((x) => `${x}:${mgmtPort}`).join(',')}`);
        if (o.mode === 'secure') args.push('--dtls-cluster-group-security=testClusterSecret');
      }
      if (o.direct) args.push('--no-dtls-cluster-backward');
      args.push(...(o.args ?? []));
      starts.push({ args, properties: ['SYS.HEALTH_STATUS_INTERVAL=60s', 'CLUSTER_MGMT.TIMER_INTERVAL=500ms', ...(o.properties ?? [])] });
      nodes.push(await startServer(starts[n - 1]));
    }
    if (o.mode !== 'static') await waitForOutput(nodes, /cluster ready/, 15_000);
  } catch (err) {
    await Promise.all(nodes.map((n) => n.stop()));
    throw err;
  }
  return {
    nodes,
    ips,
    dtlsPort: dtlsPort!,
    mgmtPort: mgmtPort!,
    destinations: ips.map((ip) => `${ip}:${dtlsPort}`),
    restart: async (n) => {
      await nodes[n - 1]!.stop();
      const node = await startServer(starts[n - 1]);
      nodes[n - 1] = node;
      return node;
    },
    stop: async () => {
      await Promise.all(nodes.map((n) => n.stop()));
    },
  };
}

/** Waits (bounded) until every node's output matches. */
export async function waitForOutput(nodes: readonly ServerProcess[], re: RegExp, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  for (const n of nodes) {
    while (!re.test(n.output())) {
      if (n.proc.exitCode !== null) throw new Error(`node exited with ${n.proc.exitCode}:\n${n.output()}`);
      if (Date.now() > deadline) throw new Error(`no ${re} within ${ms} ms:\n${n.output()}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

/** Starts the NAT on 127.0.0.1 (ephemeral port) in front of the destinations. */
export async function startTestNat(destinations: string[], extra: Partial<NatOptions> = {}): Promise<Nat & { port: number }> {
  const nat = await startNat({ binds: ['127.0.0.1:0'], destinations, ...extra });
  return Object.assign(nat, { port: nat.localPorts[0]! });
}

/**
 * The DTLS/cluster counter group of node n (1-based) from its /diagnose (the cluster and store counters), read by a
 * direct CID client of that node; `cleanup` gets the client's close.
 */
export async function nodeCounters(cluster: TestCluster, n: number, cleanup: (fn: () => Promise<void>) => void): Promise<Map<string, [number, number]>> {
  const direct = await DtlsPeer.open(cluster.ips[n - 1]!, cluster.dtlsPort, { cidLength: 6 });
  cleanup(() => direct.close());
  const { payload } = await getBlockwise(direct, { code: 1, path: 'diagnose' });
  const groups = parseDiagnose(payload.toString());
  const tag = [...groups.keys()].find((t) => t.startsWith(`dtls:node-${n}:`));
  expect(tag, `node ${n} groups: ${[...groups.keys()].join(' ')}`).toBeDefined();
  return groups.get(tag!)!;
}

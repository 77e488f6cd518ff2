// coap+tcp / coaps+tcp section (issue 11): one server process (extended server, --benchmark, one worker) serves
// the same request, POST /benchmark?rlen=40 with 40 payload bytes (clients.md §3.3), over plain coap (UDP), coap+tcp
// and coaps+tcp (RFC 8323) from 200 connections (UDP: 200 sockets) with a bounded window of pipelined requests each;
// the generator (bench/tcp-load.ts) runs in its own process. Figures: requests/s and server CPU per request of each,
// and the ratios coap+tcp / coap (target ≥ 0.9) and coaps+tcp / coap.
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { formatTable, type BenchContext, type Section, type SectionResult, type TargetCheck } from './sections.js';
import { measureWithGenerator, pinToCpu, type Measurement } from './measure.js';
import { ONE_PROCESS_PROPERTY, spawnNode, tryPort, waitForQuiet } from './proc-util.js';
import { probeCoap } from './probe.js';
import type { TcpLoadMode } from './tcp-load.js';

/** Connections of every run (the figure). */
export const TCP_BENCH_CONNECTIONS = 200;
/** `rlen` of the request (the benchmark scenarios', clients.md §6). */
export const TCP_BENCH_RLEN = 40;
/** Target: coap+tcp requests/s at least this fraction of coap over UDP. */
export const TARGET_TCP_RATIO = 0.9;

/** True when a TCP listener can take `port` on 127.0.0.1. */
function tcpFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen({ port, host: '127.0.0.1', exclusive: true }, () => s.close(() => resolve(true)));
  });
}

/** A port free on UDP and TCP of 127.0.0.1 (the server binds coap and coap+tcp on the same number). */
export async function freeUdpTcpPort(avoid: number[] = []): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const p = (await tryPort(0))!;
    if (!avoid.includes(p) && (await tcpFree(p))) return p;
  }
  throw new Error('no port free on UDP and TCP');
}

const LABELS: Record<TcpLoadMode, string> = { udp: 'coap (UDP)', tcp: 'coap+tcp', tls: 'coaps+tcp' };

/** Runs the section. */
async function run(ctx: BenchContext): Promise<SectionResult> {
  const o = ctx.options;
  const main = path.join(ctx.distRoot, 'src', 'cli', 'server-main.js');
  const coapPort = await freeUdpTcpPort();
  const coapsPort = await freeUdpTcpPort([coapPort]);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'extplugtest-bench-tcp-'));
  // window per connection: --outstanding spread over the connections, 1..8
  const window = Math.max(1, Math.min(8, Math.ceil(o.outstanding / TCP_BENCH_CONNECTIONS)));
  const props = [`COAP.COAP_PORT=${coapPort}`, `COAP.COAP_SECURE_PORT=${coapsPort}`, ONE_PROCESS_PROPERTY, 'TCP.CLIENT_AUTHENTICATION_MODE=NONE', ...o.oursProps];
  fs.writeFileSync(path.join(dir, 'Californium3.properties'), props.join('\n') + '\n');
  const server = spawnNode('server', [main, '--no-plugtest', '--no-ipv6', '--no-external', '--benchmark', '--tcp'], dir);
  const results: Partial<Record<TcpLoadMode, Measurement>> = {};
  const failures: string[] = [];
  try {
    if (o.pin) pinToCpu(server.pid, 1);
    await probeCoap(coapPort, '127.0.0.1', 'benchmark', 15_000);
    ctx.log(`  server ready (coap/coap+tcp ${coapPort}, coaps+tcp ${coapsPort}); ${TCP_BENCH_CONNECTIONS} connections x ${window} in flight, ${o.warmup} + ${o.duration} s per mode`);
    for (const mode of ['udp', 'tcp', 'tls'] as const) {
      if (!ctx.wants(mode)) continue;
      if (o.quietWait > 0) await waitForQuiet(0.15, o.quietWait * 1000);
      const args = [
        '--port', String(mode === 'tls' ? coapsPort : coapPort),
        '--mode', mode,
        '--connections', String(TCP_BENCH_CONNECTIONS),
        '--window', String(window),
        '--rlen', String(TCP_BENCH_RLEN),
        '--payload', '40',
        '--duration', String(o.duration),
        '--warmup', String(o.warmup),
      ];
      try {
        const m = await measureWithGenerator(path.join(ctx.distRoot, 'bench', 'tcp-load.js'), args, server.pid, (o.duration + o.warmup) * 1000 + 60_000, o.pin ? 0 : undefined);
        results[mode] = m;
        ctx.log(
          `  ${LABELS[mode]}: ${m.load.requestsPerSecond} req/s, timeouts ${m.load.timeouts}, errors ${m.load.errors} ${JSON.stringify(m.load.errorCodes)}, ` +
            `server CPU ${m.server.cpuPercent}% (${m.server.cpuMsPer1000} ms/1k req), generator ELU ${Math.round(m.load.generatorElu * 100)}%, other ${m.machine.otherMs} ms`,
        );
      } catch (err) {
        failures.push(`${mode}: ${(err as Error).message}`);
        ctx.log(`  ${LABELS[mode]}: FAILED ${(err as Error).message}`);
      }
    }
  } catch (err) {
    failures.push(`${(err as Error).message}\n${server.logTail(1500)}`);
  } finally {
    await server.stop();
  }
  if (failures.length === 0) fs.rmSync(dir, { recursive: true, force: true });
  const udp = results.udp;
  const ratio = (m: Measurement | undefined): number | undefined =>
    m && udp && udp.load.requestsPerSecond > 0 ? Math.round((m.load.requestsPerSecond / udp.load.requestsPerSecond) * 100) / 100 : undefined;
  const cpuRatio = (m: Measurement | undefined): number | undefined =>
    m && udp && udp.server.cpuMsPer1000 > 0 ? Math.round((m.server.cpuMsPer1000 / udp.server.cpuMsPer1000) * 100) / 100 : undefined;
  const row = (mode: TcpLoadMode): (string | number)[] => {
    const m = results[mode];
    return m === undefined
      ? [LABELS[mode], 'n/a', '', '', '', '', '', '', '']
      : [
          LABELS[mode],
          m.load.requestsPerSecond,
          m.load.timeouts,
          m.load.errors,
          m.load.latency.p50Ms.toFixed(2),
          m.server.cpuPercent,
          (m.server.cpuMsPer1000 / 1000).toFixed(3),
          Math.round(m.load.generatorElu * 100),
          mode === 'udp' ? '1.00' : (ratio(m)?.toFixed(2) ?? 'n/a'),
        ];
  };
  const tcpRatio = ratio(results.tcp);
  const tlsRatio = ratio(results.tls);
  const report = [
    `POST /benchmark?rlen=${TCP_BENCH_RLEN} (40-byte payload), ${TCP_BENCH_CONNECTIONS} connections (UDP: sockets) x ${window} pipelined, one server process, ` +
      `${o.duration} s measured after ${o.warmup} s warm-up${o.pin ? ', pinned' : ''}`,
    '',
    ...formatTable(['transport', 'req/s', 'timeouts', 'errors', 'p50 ms', 'srv CPU%', 'srv CPU ms/req', 'gen ELU%', 'vs coap'], (['udp', 'tcp', 'tls'] as const).map(row)),
    '',
    `coap+tcp / coap: ${tcpRatio ?? 'n/a'} req/s (target ≥ ${TARGET_TCP_RATIO}), server CPU per request ${cpuRatio(results.tcp) ?? 'n/a'}`,
    `coaps+tcp / coap: ${tlsRatio ?? 'n/a'} req/s, server CPU per request ${cpuRatio(results.tls) ?? 'n/a'}`,
  ];
  for (const f of failures) report.push(`FAILED: ${f.split('\n')[0]} (server log kept in ${dir})`);
  for (const mode of ['udp', 'tcp', 'tls'] as const) {
    const m = results[mode];
    if (m && m.load.generatorElu > 0.9) report.push(`note: the generator was saturated (ELU ${Math.round(m.load.generatorElu * 100)}%) in ${LABELS[mode]}: its req/s may be the generator's limit`);
  }
  const checks: TargetCheck[] = [{ name: 'coap+tcp req/s / coap req/s', value: tcpRatio, atLeast: TARGET_TCP_RATIO, unit: 'x' }];
  return {
    report,
    checks,
    data: {
      connections: TCP_BENCH_CONNECTIONS,
      window,
      rlen: TCP_BENCH_RLEN,
      durationS: o.duration,
      warmupS: o.warmup,
      udp: udp ?? null,
      tcp: results.tcp ?? null,
      tls: results.tls ?? null,
      tcpRatio: tcpRatio ?? null,
      tlsRatio: tlsRatio ?? null,
      tcpCpuPerRequestRatio: cpuRatio(results.tcp) ?? null,
      tlsCpuPerRequestRatio: cpuRatio(results.tls) ?? null,
      failures,
    },
  };
}

/** The coap+tcp / coaps+tcp throughput section. */
export const tcpSection: Section = { id: 'tcp', title: 'coap+tcp and coaps+tcp throughput (benchmark resource)', run };

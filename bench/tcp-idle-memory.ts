// Idle coap+tcp connections against the bound (issue 11), a script: starts our server (one worker, TCP.MAX_CONNECTIONS
// = --bound, long idle and CSM timeouts), opens --attempts connections from 127.0.0.x source addresses (so the
// ephemeral port range is no limit), each sending its CSM and then staying idle, and prints how many were accepted
// (got the server's CSM) and refused (closed without one), the server's resident memory before, with the accepted
// connections open and after the refused attempts, and the growth per accepted connection.
//   node dist/bench/tcp-idle-memory.js [--attempts 20000] [--bound 5000] [--out file.json]
// Bounded: every connection attempt waits at most 10 s, the whole run at most --limit seconds; the attempts are also
// kept below the process' file descriptor limit (ulimit -n) minus a margin, open at once.
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { encodeTcp } from '../src/coap/tcp-codec.js';
import { buildCsm } from '../src/coap/tcp-signaling.js';
import { ONE_PROCESS_PROPERTY, spawnNode, killChildrenOnSignal } from './proc-util.js';
import { freeUdpTcpPort } from './tcp-section.js';
import { probeCoap } from './probe.js';
import { cliNumber } from './cli-number.js';

const distRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** VmRSS of a process in kB (0 when gone). */
function rssKb(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/** The soft fd limit of this process (from /proc/self/limits). */
function fdLimit(): number {
  const m = /Max open files\s+(\d+)/.exec(fs.readFileSync('/proc/self/limits', 'utf8'));
  return m ? Number(m[1]) : 1024;
}

type Outcome = 'accepted' | 'refused' | 'error' | 'timeout';

/** One attempt: connects from `local`, sends a CSM; accepted when the server's CSM (first bytes) arrives. */
function attempt(port: number, local: string, keep: net.Socket[]): Promise<Outcome> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port, localAddress: local });
    let done = false;
    const finish = (o: Outcome, keepOpen: boolean): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (keepOpen) keep.push(s);
      else s.destroy();
      resolve(o);
    };
    const timer = setTimeout(() => finish('timeout', false), 10_000);
    // a reset is how a connection dropped at the bound may look
    s.on('error', (err: NodeJS.ErrnoException) => finish(err.code === 'ECONNRESET' || err.code === 'EPIPE' ? 'refused' : 'error', false));
    s.on('close', () => finish('refused', false));
    s.once('connect', () => s.write(encodeTcp(buildCsm({ maxMessageSize: 1152 }))));
    s.once('data', () => finish('accepted', true));
  });
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      attempts: { type: 'string', default: '20000' },
      bound: { type: 'string', default: '5000' },
      concurrency: { type: 'string', default: '200' },
      limit: { type: 'string', default: '300' },
      out: { type: 'string' },
    },
    strict: true,
  });
  const attempts = cliNumber('attempts', values.attempts);
  const bound = cliNumber('bound', values.bound);
  const concurrency = cliNumber('concurrency', values.concurrency);
  const limitMs = cliNumber('limit', values.limit) * 1000;
  const fds = fdLimit();
  if (bound + concurrency + 200 > fds) throw new Error(`--bound ${bound} + --concurrency ${concurrency} needs more file descriptors than ulimit -n ${fds}`);
  const port = await freeUdpTcpPort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'extplugtest-tcp-idle-'));
  fs.writeFileSync(
    path.join(dir, 'Californium3.properties'),
    [`COAP.COAP_PORT=${port}`, `COAP.COAP_SECURE_PORT=${await freeUdpTcpPort([port])}`, ONE_PROCESS_PROPERTY, `TCP.MAX_CONNECTIONS=${bound}`, 'TCP.CONNECTION_IDLE_TIMEOUT=1[h]', 'TCP.HANDSHAKE_TIMEOUT=60[s]'].join('\n') + '\n',
  );
  const server = spawnNode('server', [path.join(distRoot, 'src', 'cli', 'server-main.js'), '--no-plugtest', '--no-ipv6', '--no-external', '--tcp'], dir);
  const keep: net.Socket[] = [];
  const counts: Record<Outcome, number> = { accepted: 0, refused: 0, error: 0, timeout: 0 };
  const t0 = Date.now();
  try {
    await probeCoap(port, '127.0.0.1', 'echo', 15_000);
    await new Promise((r) => setTimeout(r, 1000));
    const rssStart = rssKb(server.pid);
    let next = 0;
    let rssAtBound = 0;
    const worker = async (): Promise<void> => {
      while (next < attempts && Date.now() - t0 < limitMs) {
        const i = next++;
        // source addresses 127.0.1.1 .. 127.0.1.250: 28k ephemeral ports each
        const o = await attempt(port, `127.0.1.${1 + (i % 250)}`, keep);
        counts[o]++;
        if (counts.accepted === bound && rssAtBound === 0) rssAtBound = rssKb(server.pid);
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    const elapsedS = (Date.now() - t0) / 1000;
    await new Promise((r) => setTimeout(r, 1000));
    const rssEnd = rssKb(server.pid);
    for (const s of keep) s.destroy();
    await new Promise((r) => setTimeout(r, 2000));
    const rssAfterClose = rssKb(server.pid);
    const made = counts.accepted + counts.refused + counts.error + counts.timeout;
    const perConnKb = counts.accepted > 0 ? Math.round(((rssAtBound || rssEnd) - rssStart) / counts.accepted * 100) / 100 : null;
    const perRefusedB = made > counts.accepted ? Math.round(((rssEnd - (rssAtBound || rssEnd)) * 1024) / (made - counts.accepted)) : null;
    const result = {
      attempts: made,
      bound,
      ulimitN: fds,
      elapsedS,
      ...counts,
      serverRssKb: { start: rssStart, atBound: rssAtBound, end: rssEnd, afterClose: rssAfterClose },
      rssPerAcceptedConnectionKb: perConnKb,
      rssPerRefusedAttemptBytes: perRefusedB,
    };
    console.log(`${made} connection attempts in ${elapsedS.toFixed(1)} s against TCP.MAX_CONNECTIONS=${bound} (ulimit -n ${fds})`);
    console.log(`accepted ${counts.accepted}, refused ${counts.refused}, errors ${counts.error}, timeouts ${counts.timeout}`);
    console.log(`server RSS: start ${(rssStart / 1024).toFixed(1)} MB, ${counts.accepted} idle open ${((rssAtBound || rssEnd) / 1024).toFixed(1)} MB, after all attempts ${(rssEnd / 1024).toFixed(1)} MB, all closed ${(rssAfterClose / 1024).toFixed(1)} MB`);
    console.log(`RSS growth per accepted idle connection: ${perConnKb ?? 'n/a'} kB; per refused attempt: ${perRefusedB ?? 'n/a'} bytes`);
    if (values.out) fs.writeFileSync(values.out, JSON.stringify(result, null, 2) + '\n');
  } finally {
    for (const s of keep) s.destroy();
    await server.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

killChildrenOnSignal();

main().catch((err: unknown) => {
  console.error((err as Error).stack ?? err);
  process.exitCode = 1;
});

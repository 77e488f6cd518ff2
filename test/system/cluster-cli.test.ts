// The cluster flags at start-up (cli.md §2.2, §3.3, §4): the reference's start-up checks and messages
// (exit 1), the plugtest server not run with a cluster, one coaps endpoint per local node with its
// node-id in /diagnose, and the k8s mode's MAC check.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SERVER_MAIN, freeUdpPorts, startServer } from '../helpers/server-process.js';
import { DtlsPeer } from '../helpers/dtls-client.js';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

function run(args: string[], o: { properties?: string; env?: NodeJS.ProcessEnv } = {}): Promise<Run> {
  const cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'extplugtest-cluster-cli-'));
  dirs.push(cwd);
  if (o.properties !== undefined) fs.writeFileSync(path.join(cwd, 'Californium3.properties'), o.properties);
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [SERVER_MAIN, ...args], { cwd, timeout: 15_000, env: { ...process.env, ...o.env } }, (err, stdout, stderr) => {
      const e = err as (Error & { code?: number | string; killed?: boolean }) | null;
      if (e?.killed) return reject(new Error(`did not end:\n${stdout}\n${stderr}`));
      resolve({ code: e ? (e.code as number) : 0, stdout, stderr });
    });
  });
}

const BASE = ['--no-external', '--no-ipv6', '--dtls-only', '--no-tcp', '--no-oscore'];

describe('cluster flags at start-up', () => {
  it('no node with a DTLS interface: exit 1 with the reference message', async () => {
    const r = await run([...BASE, '--dtls-cluster=---;127.0.0.2:15884;1,---;127.0.0.3:25884;2']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('Failed to create extplugtest server: at least one cluster node must have a dtls interface!');
  });

  it('DTLS.CONNECTION_ID_LENGTH below 6: exit 1', async () => {
    const r = await run([...BASE, '--dtls-cluster=127.0.0.2:15784;127.0.0.2:15884;1'], { properties: 'DTLS.CONNECTION_ID_LENGTH=5\n' });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('cid length must be at least 6 for cluster!');
  });

  it('k8s mode: --dtls-cluster-mac without the management PSK is refused; node-id must be derivable', async () => {
    const env = { KUBECTL_HOST: '127.0.0.1:1', KUBECTL_NAMESPACE: 'test' };
    const mac = await run([...BASE, '--k8s-dtls-cluster=127.0.0.2:15784;127.0.0.2:15884;15884', '--dtls-cluster-mac'], { env: { ...env, KUBECTL_NODE_ID: '1' } });
    expect(mac.code).toBe(1);
    expect(mac.stderr).toContain('MAC for cluster traffic requires enabled encryption!');
    const noId = await run([...BASE, '--k8s-dtls-cluster=127.0.0.2:15784;127.0.0.2:15884;15884'], { env: { ...env, KUBECTL_NODE_ID: '', HOSTNAME: 'no-suffix' } });
    if (!/-\d+$/.test(os.hostname())) {
      expect(noId.code).toBe(1);
      expect(noId.stderr).toContain('node-id not available!');
    }
  });

  it('--[no-]dtls-cluster-backward without a cluster type is a usage error (exit 255)', async () => {
    const r = await run([...BASE, '--no-dtls-cluster-backward']);
    expect(r.code).toBe(255);
    expect(r.stderr).toContain('requires a cluster type');
  });

  it('a static cluster runs only the extended server: one coaps endpoint per local node, node-id in /diagnose', async () => {
    const [dtls, mgmt] = await freeUdpPorts(2);
    const server = await startServer({
      args: [...BASE, '--diagnose', `--dtls-cluster=127.0.0.2:${dtls};127.0.0.2:${mgmt};4,127.0.0.3:${dtls};127.0.0.3:${mgmt};5`],
    });
    try {
      const out = server.output();
      expect(out).not.toContain('PLUG-TEST');
      expect(out).toMatch(/"endpoint":"coaps:\/\/127\.0\.0\.2:\d+"/);
      expect(out).toMatch(/"endpoint":"coaps:\/\/127\.0\.0\.3:\d+"/);
      for (const [ip, id] of [['127.0.0.2', '4'], ['127.0.0.3', '5']] as const) {
        const peer = await DtlsPeer.open(ip, dtls!, { cidLength: 6 });
        try {
          const rx = await peer.get('diagnose');
          expect(rx.msg.payload.toString()).toContain(`node-id:${id}`);
          const ctx = (await peer.context()).fields;
          expect(ctx.get('node-id')).toBe(id);
          expect(ctx.get('read-cid')!.slice(0, 2)).toBe(`0${id}`);
        } finally {
          await peer.close();
        }
      }
    } finally {
      await server.stop();
    }
  });
});

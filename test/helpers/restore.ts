// Helpers of the restore tests: a certs dir with the https_*.pem files from the demo PKI, free TCP
// ports on loopback, and plain HTTP GETs of the monitor.
import fs from 'node:fs';
import { request } from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { REPO } from './server-process.js';

const PKI = path.join(REPO, 'resources/pki');
const pem = (name: string): string => fs.readFileSync(path.join(PKI, name), 'utf8');

/** Writes https_{server,client}_{cert,trust}.pem (key + chain; the demo trust bundle) to a fresh dir. */
export function makeCertsDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'extplugtest-certs-'));
  fs.writeFileSync(path.join(dir, 'https_server_cert.pem'), pem('cf-server-key.pem') + pem('cf-server-chain.pem'));
  fs.writeFileSync(path.join(dir, 'https_client_cert.pem'), pem('cf-client-key.pem') + pem('cf-client-chain.pem'));
  fs.writeFileSync(path.join(dir, 'https_server_trust.pem'), pem('trust.pem'));
  fs.writeFileSync(path.join(dir, 'https_client_trust.pem'), pem('trust.pem'));
  return dir;
}

/** `n` distinct TCP ports free on 127.0.0.1 right now. */
export async function freeTcpPorts(n: number): Promise<number[]> {
  const ports: number[] = [];
  while (ports.length < n) {
    const port = await new Promise<number>((resolve, reject) => {
      const s = net.createServer();
      s.once('error', reject);
      s.listen(0, '127.0.0.1', () => {
        const p = (s.address() as net.AddressInfo).port;
        s.close(() => resolve(p));
      });
    });
    if (!ports.includes(port)) ports.push(port);
  }
  return ports;
}

/** GET http://host:port/path: status and body text (2 s timeout). */
export function httpGet(host: string, port: number, urlPath: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host, port, path: urlPath, timeout: 2000, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

/** Polls GET until the answer has `status` (bounded); resolves with the time it took. */
export async function waitForStatus(host: string, port: number, urlPath: string, status: number, ms: number): Promise<number> {
  const start = Date.now();
  let last = '';
  while (Date.now() - start < ms) {
    try {
      const r = await httpGet(host, port, urlPath);
      if (r.status === status) return Date.now() - start;
      last = `${r.status} ${r.body.trim()}`;
    } catch (err) {
      last = (err as Error).message;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${urlPath} on ${port}: no ${status} within ${ms} ms (last: ${last})`);
}

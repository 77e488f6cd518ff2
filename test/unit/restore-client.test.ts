// The /restore download (cluster.md §10 step 3) against local HTTPS servers: client certificate sent,
// host name not checked, 503 and I/O errors retried up to 3 attempts, a TLS error ends at once, the
// size bound; and the credentials files (https-certs.ts) with clear messages.
import fs from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { HttpsCredentialsError, loadHttpsCredentials } from '../../src/restart/https-certs.js';
import { downloadRestoreState, RestoreDownloadError } from '../../src/restart/restore-client.js';
import { makeCertsDir } from '../helpers/restore.js';
import { REPO } from '../helpers/server-process.js';

const logger = pino({ level: 'silent' });
const dir = makeCertsDir();
const server = loadHttpsCredentials('server', dir);
const client = loadHttpsCredentials('client', dir);
const servers: Server[] = [];
const noSleep = async (): Promise<void> => {};

afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise<void>((r) => s.close(() => r()));
  }
});

async function serve(handler: Parameters<typeof createServer>[1], cert = server): Promise<number> {
  const s = createServer({ key: cert.key, cert: cert.cert, ca: cert.ca, requestCert: true, rejectUnauthorized: true }, handler);
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return (s.address() as AddressInfo).port;
}

describe('restore download', () => {
  it('sends the client certificate and returns the body; the host name is not verified', async () => {
    let cn: string | undefined;
    const port = await serve((req, res) => {
      cn = String((req.socket as import('node:tls').TLSSocket).getPeerCertificate().subject?.CN);
      res.end(Buffer.from('state'));
    });
    // 127.0.0.1 is in the demo server certificate; a name that is not (localhost.localdomain style) must work too
    const data = await downloadRestoreState({ host: '127.0.0.1', port, credentials: client, logger });
    expect(data.toString()).toBe('state');
    expect(cn).toBe('cf-client');
  });

  it('retries 503 up to 3 attempts', async () => {
    let calls = 0;
    const port = await serve((_req, res) => {
      calls++;
      res.statusCode = calls < 3 ? 503 : 200;
      res.end(calls < 3 ? '' : 'ok');
    });
    expect((await downloadRestoreState({ host: '127.0.0.1', port, credentials: client, logger, sleep: noSleep })).toString()).toBe('ok');
    expect(calls).toBe(3);
  });

  it('gives up after the third 503, and at once on 404', async () => {
    let calls = 0;
    const port = await serve((req, res) => {
      calls++;
      res.statusCode = req.url === '/restore' ? 503 : 500;
      res.end();
    });
    await expect(downloadRestoreState({ host: '127.0.0.1', port, credentials: client, logger, sleep: noSleep })).rejects.toThrow(/HTTP 503/);
    expect(calls).toBe(3);
    calls = 0;
    const port404 = await serve((_req, res) => {
      calls++;
      res.statusCode = 404;
      res.end();
    });
    await expect(downloadRestoreState({ host: '127.0.0.1', port: port404, credentials: client, logger, sleep: noSleep })).rejects.toThrow(/HTTP 404/);
    expect(calls).toBe(1);
  });

  it('ends at once on a TLS error (server certificate not trusted)', async () => {
    let accepted = 0;
    const port = await serve(() => {}, { ...server, key: fs.readFileSync(path.join(REPO, 'resources/pki/cf-ca2-key.pem'), 'utf8'), cert: fs.readFileSync(path.join(REPO, 'resources/pki/cf-ca2.pem'), 'utf8') });
    servers[0]!.on('secureConnection', () => accepted++);
    const untrusting = { ...client, ca: fs.readFileSync(path.join(REPO, 'resources/pki/cf-ca-rsa.pem'), 'utf8') };
    const err = await downloadRestoreState({ host: '127.0.0.1', port, credentials: untrusting, logger, sleep: noSleep }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RestoreDownloadError);
    expect((err as RestoreDownloadError).message).toMatch(/certificate/);
    expect((err as RestoreDownloadError).retry).toBe(false);
    expect(accepted).toBe(0);
  });

  it('retries a refused connection and reports it', async () => {
    const port = await serve((_req, res) => res.end());
    const s = servers.pop()!;
    await new Promise<void>((r) => s.close(() => r()));
    const warnings: string[] = [];
    const log = pino({ level: 'warn' }, { write: (line: string) => void warnings.push(line) });
    await expect(downloadRestoreState({ host: '127.0.0.1', port, credentials: client, logger: log, sleep: noSleep })).rejects.toThrow(/ECONNREFUSED/);
    expect(warnings.filter((w) => /attempt \d from/.test(w))).toHaveLength(2);
  });

  it('bounds the answer size', async () => {
    const port = await serve((_req, res) => res.end(Buffer.alloc(5000)));
    await expect(downloadRestoreState({ host: '127.0.0.1', port, credentials: client, logger, maxBytes: 4096 })).rejects.toThrow(/larger than 4096 bytes/);
  });
});

describe('https credentials files', () => {
  it('names the missing file', () => {
    expect(() => loadHttpsCredentials('server', path.join(dir, 'nope'))).toThrow(new HttpsCredentialsError(`${path.join(dir, 'nope', 'https_server_cert.pem')}: ENOENT`));
  });

  it('names a file without a private key', () => {
    const other = fs.mkdtempSync(path.join(dir, 'x-'));
    fs.writeFileSync(path.join(other, 'https_client_cert.pem'), fs.readFileSync(path.join(REPO, 'resources/pki/cf-client-chain.pem')));
    expect(() => loadHttpsCredentials('client', other)).toThrow(/https_client_cert\.pem: no private key/);
  });
});

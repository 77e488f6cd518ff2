// Interop: libcoap's coap-client-openssl drives the extended server's /requests (receive test) and
// /benchmark over coaps (PSK) and coap, checking the exact payloads of resources.md §2.1 and §2.2.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requirePeer } from '../helpers/peers.js';
import { startServer, type ServerProcess } from '../helpers/server-process.js';

const peer = requirePeer('coap-client-openssl');

/** Runs coap-client-openssl and returns the payload it wrote to a file (-o). */
function coapClient(args: string[], timeoutMs = 20_000): Promise<{ payload: string; stdout: string }> {
  const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'ext-libcoap-')), 'payload');
  return new Promise((resolve, reject) => {
    execFile(peer.path!, ['-B', '8', '-o', out, ...args], { timeout: timeoutMs }, (err, stdout, stderr) => {
      const e = err as (Error & { killed?: boolean }) | null;
      if (e?.killed) return reject(new Error(`coap-client ${args.join(' ')} timed out:\n${stdout}\n${stderr}`));
      const payload = fs.existsSync(out) ? fs.readFileSync(out, 'utf8') : '';
      fs.rmSync(path.dirname(out), { recursive: true, force: true });
      resolve({ payload, stdout: stdout + stderr });
    });
  });
}

describe.skipIf(peer.skipReason !== undefined)('coap-client-openssl against /requests and /benchmark', () => {
  let sp: ServerProcess;
  beforeAll(async () => {
    sp = await startServer({ args: ['--no-external', '--no-plugtest', '--benchmark'] });
  });
  afterAll(async () => {
    await sp?.stop();
  });

  const psk = ['-u', 'Client_identity', '-k', 'secretPSK'];

  it('POST /benchmark?rlen=40 over coaps answers hello benchmark padded with * to 40 bytes', async () => {
    const { payload } = await coapClient([...psk, '-m', 'post', `coaps://127.0.0.1:${sp.ports.extSecure}/benchmark?rlen=40`]);
    expect(payload).toBe('hello benchmark' + '*'.repeat(25));
  });

  it('GET /benchmark over coap answers hello observe NNN', async () => {
    const { payload } = await coapClient(['-m', 'get', `coap://127.0.0.1:${sp.ports.ext}/benchmark`]);
    expect(payload).toMatch(/^hello observe \d{3}$/);
  });

  it('three POSTs to /requests from one device over coaps show three entries with their source (JSON)', async () => {
    const dev = 'libcoap-' + Date.now();
    let last = '';
    for (let i = 1; i <= 3; i++) {
      const { payload } = await coapClient([...psk, '-m', 'post', '-A', '50', `coaps://127.0.0.1:${sp.ports.extSecure}/requests?dev=${dev}&rid=R${i}&ep`]);
      last = payload;
    }
    const list = JSON.parse(last) as Array<Record<string, unknown>>;
    expect(Object.keys(list[0]!)).toEqual(['systemstart']);
    expect(list.slice(1).map((e) => e.rid)).toEqual(['R3', 'R2', 'R1']);
    for (const e of list.slice(1)) {
      expect(e.ep).toBe('127.0.0.1');
      expect(e.port).toEqual(expect.any(Number));
    }
  });

  it('/requests text layout over coap and the missing-option error text', async () => {
    const dev = 'libcoap-text-' + Date.now();
    const { payload } = await coapClient(['-m', 'post', `coap://127.0.0.1:${sp.ports.ext}/requests?dev=${dev}&rid=X1`]);
    expect(payload).toMatch(/^systemstart:\d+\nX1:\d+\n$/);
    // libcoap prints error responses as `<code> <payload>` instead of writing them to the -o file
    const missing = await coapClient(['-m', 'post', `coap://127.0.0.1:${sp.ports.ext}/requests?dev=${dev}`]);
    expect(missing.stdout.trim()).toBe("4.02 missing URI-query-option for 'rid'!");
  });
});

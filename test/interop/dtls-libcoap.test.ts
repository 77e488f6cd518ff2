// Interop over coaps (DTLS 1.2, PSK): libcoap 4.3.x's coap-client-openssl and coap-client-gnutls against
// the real server process on 127.0.0.1 and [::1]. Methods on /test, observe /obs (-s 3, server
// --notify-interval 300ms), block-wise GET /large (-b 64) and PUT /large-update (1280-byte file) on the
// plugtest coaps port; GET /mycontext on the extended coaps port (peer, PSK cipher suite, EMS,
// message-size-limit). `-v 6` prints every PDU (`v:1 t:CON c:GET i:<mid> {<token>} [ options ] :: 'payload'`);
// payloads are compared exactly through `-o file` (libcoap's own log lines share stdout).
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requirePeer, type PeerName } from '../helpers/peers.js';
import { hasIpv6Loopback, startServer, type ServerProcess } from '../helpers/server-process.js';
import { largeText } from '../helpers/plugtest-checks.js';
import { parseContext } from '../helpers/dtls-client.js';
import { hhmmss, isRequestCode, pdus, runCoapClient, type Run } from '../helpers/libcoap.js';

const LARGE = largeText();
const CLIENTS: PeerName[] = ['coap-client-openssl', 'coap-client-gnutls'];
const found = CLIENTS.map((name) => ({ name, check: requirePeer(name) }));

/** Runs a coap-client with the PSK credentials Client_identity / secretPSK. */
const coapClient = (exe: string, args: string[], timeoutMs = 20_000) => runCoapClient(exe, args, timeoutMs, ['-u', 'Client_identity', '-k', 'secretPSK']);

/** Record expansion of a suite by name (dtls.md §2): AEAD nonce + tag, or CBC IV + MAC + padding. */
function expansion(suite: string): number {
  if (suite.endsWith('_CCM_8') || suite.endsWith('_CCM_8_SHA256')) return 16;
  if (suite.includes('_GCM_') || suite.endsWith('_CCM')) return 24;
  if (suite.includes('_CBC_')) return 65;
  throw new Error(`unknown suite ${suite}`);
}

describe('libcoap coap-client over coaps (PSK) against the real server', () => {
  let sp: ServerProcess;
  let tmp: string;

  beforeAll(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'libcoap-dtls-'));
    sp = await startServer({ args: ['--no-external', '--notify-interval', '300ms'] });
  });
  afterAll(async () => {
    await sp?.stop();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  const hosts = [
    { name: 'IPv4', host: '127.0.0.1', ip: '127.0.0.1', skip: false },
    { name: 'IPv6', host: '[::1]', ip: '::1', skip: !hasIpv6Loopback() },
  ];

  for (const { name: client, check } of found) {
    describe.skipIf(check.skipReason !== undefined)(`${client}${check.skipReason ? ` (skipped: ${check.skipReason})` : ''}`, () => {
      const exe = check.path!;
      for (const { name, host, ip, skip } of hosts) {
        describe.skipIf(skip)(`${name} coaps://${host}${skip ? ' (skipped: ::1 not configured)' : ''}`, () => {
          const uri = (p: string) => `coaps://${host}:${sp.ports.plugSecure}${p}`;
          const outFile = (label: string) => path.join(tmp, `${client}-${name}-${label}.out`);

          it('GET /test: piggy-backed ACK 2.05 with the request type, code, MID and token as text', async () => {
            const file = outFile('get');
            const r = await coapClient(exe, ['-v', '6', '-o', file, uri('/test')]);
            const [req, res] = pdus(r.stdout);
            expect(req, r.stdout + r.stderr).toBeDefined();
            expect(req!.type).toBe('CON');
            expect(req!.code).toBe('GET');
            expect(res, r.stdout + r.stderr).toMatchObject({ type: 'ACK', code: '2.05', mid: req!.mid, token: req!.token });
            expect(res!.options).toBe('Content-Format:text/plain, Max-Age:30');
            expect(fs.readFileSync(file, 'utf8')).toBe(`Type: 0 (CON)\nCode: 1 (GET)\nMID: ${req!.mid}\nToken: ${req!.token}`);
            expect(r.code).toBe(0);
          });

          it('PUT /test: ACK 2.04; POST /test: 2.01 with Location-Path; DELETE /test: 2.02', async () => {
            const put = await coapClient(exe, ['-m', 'put', '-e', 'hello', '-v', '6', uri('/test')]);
            const [preq, pres] = pdus(put.stdout);
            expect(preq!.payload).toBe('hello');
            expect(pres, put.stdout + put.stderr).toMatchObject({ type: 'ACK', code: '2.04', mid: preq!.mid, token: preq!.token, options: '' });

            const post = await coapClient(exe, ['-m', 'post', '-e', 'data', '-v', '6', uri('/test')]);
            const [oreq, ores] = pdus(post.stdout);
            expect(oreq!.code).toBe('POST');
            expect(ores, post.stdout + post.stderr).toMatchObject({ type: 'ACK', code: '2.01', mid: oreq!.mid, token: oreq!.token });
            expect(ores!.options).toBe('Location-Path:location1, Location-Path:location2, Location-Path:location3');
            expect(ores!.payload).toBeUndefined();

            const del = await coapClient(exe, ['-m', 'delete', '-v', '6', uri('/test')]);
            const [dreq, dres] = pdus(del.stdout);
            expect(dreq!.code).toBe('DELETE');
            expect(dres, del.stdout + del.stderr).toMatchObject({ type: 'ACK', code: '2.02', mid: dreq!.mid, options: '' });
          });

          it('GET /large with -b 64: 20 Block2 blocks, exactly the 1280-byte text', async () => {
            const file = outFile('large');
            const r = await coapClient(exe, ['-b', '64', '-v', '6', '-o', file, uri('/large')]);
            expect(fs.readFileSync(file, 'utf8'), r.stdout + r.stderr).toBe(LARGE);
            const answers = pdus(r.stdout).filter((p) => p.code === '2.05');
            const blocks = answers.map((p) => /Block2:(\d+)\/([M_])\/(\d+)/.exec(p.options)?.slice(1).join('/'));
            expect(blocks).toEqual(Array.from({ length: 20 }, (_, i) => `${i}/${i < 19 ? 'M' : '_'}/64`));
            for (const a of answers) expect(a.type).toBe('ACK');
            expect(answers[0]!.options).toContain('Size2:1280');
          });

          it('PUT /large-update block-wise (-b 64, 1280-byte file): 2.04 with Block1 19/_/64; GET returns the file', async () => {
            const body = Buffer.alloc(1280);
            const shift = client.length + name.length;
            for (let i = 0; i < body.length; i++) body[i] = 0x61 + ((i + shift) % 26);
            const file = path.join(tmp, `${client}-${name}-update.txt`);
            fs.writeFileSync(file, body);
            const r = await coapClient(exe, ['-m', 'put', '-b', '64', '-t', '0', '-f', file, '-v', '6', uri('/large-update')]);
            const all = pdus(r.stdout);
            expect(all[0]!.options, r.stdout).toContain('Block1:0/M/64');
            const answers = all.filter((p) => !isRequestCode(p.code));
            expect(answers.slice(0, -1).every((a) => a.code === '2.31'), r.stdout).toBe(true);
            expect(answers.at(-1), r.stdout + r.stderr).toMatchObject({ type: 'ACK', code: '2.04' });
            expect(answers.at(-1)!.options).toContain('Block1:19/_/64');
            const out = outFile('update-get');
            await coapClient(exe, ['-b', '64', '-o', out, uri('/large-update')]);
            expect(fs.readFileSync(out)).toEqual(body);
          });

          it('observe /obs for 3 s (-s 3): CON notifications, increasing Observe, HH:mm:ss payloads', async () => {
            const file = outFile('obs');
            const start = Date.now();
            const r = await coapClient(exe, ['-s', '3', '-w', '-v', '6', '-o', file, uri('/obs')]);
            const end = Date.now();
            const all = pdus(r.stdout);
            expect(all[0]!.options).toMatch(/^Observe:0, /);
            const responses = all.filter((p) => p.code === '2.05');
            expect(responses.length, r.stdout).toBeGreaterThanOrEqual(5);
            expect(responses[0]!.type).toBe('ACK');
            for (const n of responses.slice(1)) expect(n.type).toBe('CON');
            const seq = responses.map((p) => Number(/Observe:(\d+)/.exec(p.options)?.[1]));
            for (let i = 1; i < seq.length; i++) expect(seq[i]!).toBeGreaterThan(seq[i - 1]!);
            for (const p of responses) {
              expect(p.token).toBe(all[0]!.token);
              expect(p.options).toContain('Content-Format:text/plain, Max-Age:5');
            }
            const valid = new Set<string>();
            for (let t = start - 2000; t <= end + 2000; t += 500) valid.add(hhmmss(new Date(t)));
            const lines = fs.readFileSync(file, 'utf8').split('\n').filter((l) => l !== '');
            expect(lines).toEqual(responses.map((p) => p.payload));
            for (const l of lines) expect(valid.has(l), `${l} not within the run's time window`).toBe(true);
          });

          it('GET /mycontext on the extended coaps port: peer Client_identity, a PSK suite, EMS, no CID', async () => {
            const file = outFile('ctx');
            const r = await coapClient(exe, ['-o', file, `coaps://${host}:${sp.ports.extSecure}/mycontext`]);
            const text = fs.readFileSync(file, 'utf8');
            const f = parseContext(text);
            expect([...f.keys()], r.stdout + r.stderr + text).toEqual([
              'ip', 'port', 'peer', 'cipher-suite', 'session-id', 'secure-renegotiation', 'ext-master-secret', 'newest-record', 'message-size-limit', 'server',
            ]);
            expect(f.get('ip')).toBe(ip);
            expect(f.get('port')).toMatch(/^\d+$/);
            expect(f.get('peer')).toBe('Client_identity');
            const suite = f.get('cipher-suite')!;
            expect(suite).toMatch(/^TLS_(ECDHE_)?PSK_WITH_AES_128_/);
            expect(f.get('session-id')).toMatch(/^[0-9A-F]{64}$/);
            expect(f.get('ext-master-secret')).toBe('true');
            expect(f.get('secure-renegotiation')).toBe('true');
            expect(f.get('newest-record')).toBe('true');
            const ipOverhead = ip.includes(':') ? 128 : 64;
            expect(f.get('message-size-limit')).toBe(String(1500 - ipOverhead - 13 - expansion(suite)));
          });
        });
      }

      it('wrong PSK secret: no response and no alert (the server discards the unauthenticated Finished, issue: no identity oracle) (127.0.0.1)', async () => {
        const file = path.join(tmp, `${client}-wrong.out`);
        const r = await new Promise<Run>((resolve, reject) => {
          execFile(exe, ['-B', '4', '-u', 'Client_identity', '-k', 'wrongPSK', '-o', file, `coaps://127.0.0.1:${sp.ports.plugSecure}/test`], { timeout: 20_000 }, (err, stdout, stderr) => {
            const e = err as (Error & { code?: number | string; killed?: boolean }) | null;
            if (e?.killed) return reject(new Error('timed out'));
            resolve({ stdout, stderr, code: e ? (e.code as number) : 0 });
          });
        });
        expect(fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '', r.stdout + r.stderr).toBe('');
        // the server cannot authenticate the client's Finished and discards it silently (DTLS.PSK_FAILURE_ALERT=NONE)
        expect(r.stdout + r.stderr).not.toMatch(/bad record mac|unknown psk identity|alert/i);
      });
    });
  }
});

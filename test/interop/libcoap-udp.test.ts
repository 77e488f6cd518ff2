// Interop: libcoap's coap-client (coap-client-notls, libcoap 4.3.x) against the plugtest server over coap/UDP,
// on 127.0.0.1 and [::1]. Payloads are compared exactly; `-v 6` prints every sent/received PDU
// (`v:1 t:CON c:GET i:<mid hex> {<token hex>} [ options ] :: 'payload'`) so MIDs, tokens and codes can be checked.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requirePeer } from '../helpers/peers.js';
import { hasIpv6Loopback, startServer, type ServerProcess } from '../helpers/server-process.js';
import { largeText } from '../helpers/plugtest-checks.js';
import { hhmmss, isRequestCode, pdus, runCoapClient } from '../helpers/libcoap.js';

/** Runs coap-client-notls. */
const coapClient = (args: string[], timeoutMs = 20_000) => runCoapClient(peer.path!, args, timeoutMs);


const peer = requirePeer('coap-client-notls');

const LARGE = largeText();

describe.skipIf(peer.skipReason !== undefined)(`libcoap coap-client-notls against the plugtest server${peer.skipReason ? ` (skipped: ${peer.skipReason})` : ''}`, () => {
  let sp: ServerProcess;
  let tmp: string;

  beforeAll(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'libcoap-interop-'));
    sp = await startServer({ args: ['--no-external', '--notify-interval', '300ms'] });
  });
  afterAll(async () => {
    await sp?.stop();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  const hosts: Array<{ name: string; host: string; skip: boolean }> = [
    { name: 'IPv4', host: '127.0.0.1', skip: false },
    { name: 'IPv6', host: '[::1]', skip: !hasIpv6Loopback() },
  ];

  for (const { name, host, skip } of hosts) {
    describe.skipIf(skip)(`${name} coap://${host}${skip ? ' (skipped: ::1 not configured)' : ''}`, () => {
      const uri = (p: string) => `coap://${host}:${sp.ports.plug}${p}`;
      const outFile = (label: string) => path.join(tmp, `${name}-${label}.out`);

      it('GET /test: piggy-backed 2.05 with the request type, code, MID and token as text', async () => {
        const file = outFile('get-test');
        const r = await coapClient(['-v', '6', '-o', file, uri('/test')]);
        const [req, res] = pdus(r.stdout);
        expect(req, r.stdout + r.stderr).toBeDefined();
        expect(req!.type).toBe('CON');
        expect(req!.code).toBe('GET');
        expect(res, r.stdout + r.stderr).toBeDefined();
        expect(res!.type).toBe('ACK');
        expect(res!.code).toBe('2.05');
        expect(res!.mid).toBe(req!.mid);
        expect(res!.token).toBe(req!.token);
        expect(res!.options).toBe('Content-Format:text/plain, Max-Age:30');
        expect(fs.readFileSync(file, 'utf8')).toBe(`Type: 0 (CON)\nCode: 1 (GET)\nMID: ${req!.mid}\nToken: ${req!.token}`);
      });

      it('GET /test as NON (-N): NON 2.05 naming the NON request', async () => {
        const file = outFile('get-non');
        const r = await coapClient(['-N', '-v', '6', '-o', file, uri('/test')]);
        const [req, res] = pdus(r.stdout);
        expect(req!.type).toBe('NON');
        expect(res, r.stdout + r.stderr).toBeDefined();
        expect(res!.type).toBe('NON');
        expect(res!.code).toBe('2.05');
        expect(res!.token).toBe(req!.token);
        expect(fs.readFileSync(file, 'utf8')).toBe(`Type: 1 (NON)\nCode: 1 (GET)\nMID: ${req!.mid}\nToken: ${req!.token}`);
      });

      it('GET /test printed on stdout (no -v): exactly the payload plus the newline coap-client appends', async () => {
        const r = await coapClient([uri('/test')]);
        expect(r.stdout).toMatch(/^Type: 0 \(CON\)\nCode: 1 \(GET\)\nMID: \d{1,5}\nToken: [0-9A-F]*\n$/);
      });

      it('PUT /test: 2.04; with If-None-Match: 4.12', async () => {
        const r = await coapClient(['-m', 'put', '-e', 'hello', '-v', '6', uri('/test')]);
        const [req, res] = pdus(r.stdout);
        expect(req!.code).toBe('PUT');
        expect(req!.payload).toBe('hello');
        expect(res, r.stdout + r.stderr).toMatchObject({ type: 'ACK', code: '2.04', mid: req!.mid, token: req!.token, options: '' });
        const r2 = await coapClient(['-m', 'put', '-O', '5', '-e', 'x', '-v', '6', uri('/test')]);
        const [req2, res2] = pdus(r2.stdout);
        expect(req2!.options).toContain('If-None-Match:');
        expect(res2, r2.stdout + r2.stderr).toMatchObject({ type: 'ACK', code: '4.12', mid: req2!.mid });
      });

      it('POST /test: 2.01 with Location-Path location1/location2/location3', async () => {
        const r = await coapClient(['-m', 'post', '-e', 'data', '-v', '6', uri('/test')]);
        const [req, res] = pdus(r.stdout);
        expect(req!.code).toBe('POST');
        expect(res, r.stdout + r.stderr).toMatchObject({ type: 'ACK', code: '2.01', mid: req!.mid, token: req!.token });
        expect(res!.options).toBe('Location-Path:location1, Location-Path:location2, Location-Path:location3');
        expect(res!.payload).toBeUndefined();
      });

      it('DELETE /test: 2.02', async () => {
        const r = await coapClient(['-m', 'delete', '-v', '6', uri('/test')]);
        const [req, res] = pdus(r.stdout);
        expect(req!.code).toBe('DELETE');
        expect(res, r.stdout + r.stderr).toMatchObject({ type: 'ACK', code: '2.02', mid: req!.mid, options: '' });
      });

      it('GET /large with -b 64: 20 Block2 blocks of 64 bytes, the full 1280-byte text', async () => {
        const r = await coapClient(['-b', '64', uri('/large')]);
        expect(r.stdout).toBe(LARGE + '\n');
        const file = outFile('large');
        const v = await coapClient(['-b', '64', '-v', '6', '-o', file, uri('/large')]);
        expect(fs.readFileSync(file, 'utf8')).toBe(LARGE);
        const blocks = pdus(v.stdout)
          .filter((p) => p.code === '2.05')
          .map((p) => /Block2:(\d+)\/([M_])\/(\d+)/.exec(p.options)?.slice(1).join('/'));
        expect(blocks).toEqual(Array.from({ length: 20 }, (_, i) => `${i}/${i < 19 ? 'M' : '_'}/64`));
        const first = pdus(v.stdout).find((p) => p.code === '2.05')!;
        expect(first.options).toContain('Content-Format:text/plain');
        expect(first.options).toContain('Size2:1280');
        expect(first.payload).toBe('/' + '-'.repeat(61) + '\\\\x0A');
      });

      it('PUT /large-update block-wise (-b 64 -f, 1280 bytes), then GET returns exactly that file', async () => {
        const body = Buffer.alloc(1280);
        const shift = host.startsWith('[') ? 7 : 3;
        for (let i = 0; i < body.length; i++) body[i] = 0x61 + ((i + shift) % 26);
        const file = path.join(tmp, `${name}-update.txt`);
        fs.writeFileSync(file, body);
        const r = await coapClient(['-m', 'put', '-b', '64', '-t', '0', '-f', file, '-v', '6', uri('/large-update')]);
        const all = pdus(r.stdout);
        expect(all[0]!.options, r.stdout).toContain('Block1:0/M/64');
        expect(all[0]!.options).toContain('Size1:1280');
        const last = all.filter((p) => !isRequestCode(p.code)).at(-1);
        expect(last, r.stdout + r.stderr).toMatchObject({ type: 'ACK', code: '2.04' });
        expect(last!.options).toContain('Block1:19/_/64');
        const g = await coapClient(['-b', '64', uri('/large-update')]);
        expect(g.stdout).toBe(body.toString('latin1') + '\n');
      });

      it('POST /large-post block-wise: the answer is the 1280-byte body upper-cased (two-way block-wise)', async () => {
        const body = Buffer.alloc(1280);
        for (let i = 0; i < body.length; i++) body[i] = i % 64 === 63 ? 0x0a : 0x61 + (i % 26);
        const file = path.join(tmp, `${name}-post.txt`);
        fs.writeFileSync(file, body);
        const out = outFile('post');
        const r = await coapClient(['-m', 'post', '-b', '64', '-t', '0', '-f', file, '-v', '6', '-o', out, uri('/large-post')]);
        expect(fs.readFileSync(out, 'latin1'), r.stdout + r.stderr).toBe(body.toString('latin1').toUpperCase());
        const answers = pdus(r.stdout).filter((p) => p.code === '2.04');
        expect(answers.length, r.stdout).toBeGreaterThan(1);
        expect(answers[0]!.options).toContain('Content-Format:text/plain');
        expect(answers[0]!.options).toMatch(/Block2:0\/M\/64/);
      });

      it('observe /obs for 3 s (-s 3): several CON notifications with increasing Observe numbers and the current time', async () => {
        const file = outFile('obs');
        const start = Date.now();
        const r = await coapClient(['-s', '3', '-w', '-v', '6', '-o', file, uri('/obs')]);
        const end = Date.now();
        const all = pdus(r.stdout);
        expect(all[0]!.options).toMatch(/^Observe:0, /);
        const responses = all.filter((p) => p.code === '2.05');
        // notify interval 300 ms → about 10 notifications in 3 s; require at least 5
        expect(responses.length, r.stdout).toBeGreaterThanOrEqual(5);
        expect(responses[0]!.type).toBe('ACK');
        for (const n of responses.slice(1)) expect(n.type).toBe('CON');
        const seq = responses.map((p) => Number(/Observe:(\d+)/.exec(p.options)?.[1]));
        for (let i = 1; i < seq.length; i++) expect(seq[i]!).toBeGreaterThan(seq[i - 1]!);
        for (const p of responses) {
          expect(p.token).toBe(all[0]!.token);
          expect(p.options).toContain('Content-Format:text/plain, Max-Age:5');
        }
        // the printed payloads: one HH:mm:ss line per notification (the server's local time of the run)
        const valid = new Set<string>();
        for (let t = start - 2000; t <= end + 2000; t += 500) valid.add(hhmmss(new Date(t)));
        const lines = fs.readFileSync(file, 'utf8').split('\n').filter((l) => l !== '');
        expect(lines.length).toBe(responses.length);
        for (const l of lines) expect(valid.has(l), `${l} not within the run's time window`).toBe(true);
        expect(lines).toEqual(responses.map((p) => p.payload));
      });

      it('GET /.well-known/core?rt=Type2: exactly /link1 and /link2 with sorted attributes', async () => {
        const r = await coapClient([uri('/.well-known/core?rt=Type2')]);
        expect(r.stdout).toBe(
          '</link1>;if="If1";rt="Type1 Type2";title="Link test resource",' +
            '</link2>;if="If2";rt="Type2 Type3";title="Link test resource"\n',
        );
      });

      it('GET /.well-known/core?rt=block: the five block resources, link-format (ct 40)', async () => {
        const file = outFile('wkc');
        const r = await coapClient(['-v', '6', '-o', file, uri('/.well-known/core?rt=block')]);
        const res = pdus(r.stdout).find((p) => p.code === '2.05');
        expect(res!.options).toContain('Content-Format:application/link-format');
        const text = fs.readFileSync(file, 'utf8');
        const hrefs = text.split(',').map((l) => /^<([^>]*)>/.exec(l)?.[1]);
        expect(hrefs).toEqual(['/large', '/large-create', '/large-post', '/large-separate', '/large-update']);
        for (const l of text.split(',')) expect(l).toContain(';rt="block"');
        expect(text).toContain('</large>;rt="block";sz=1280;title="Large resource"');
      });
    });
  }
});

// Interop: OpenSSL's `s_client -dtls1_2` against the real server process. PSK (CCM_8, GCM, CBC, ECDHE_PSK),
// ECDHE_ECDSA and ECDHE_RSA with the demo client certificate (server client-auth NEEDED), a server with
// `--client-auth NONE` without client certificate, and the failures: NEEDED without certificate, wrong
// PSK. After each handshake one binary CoAP CON GET /mycontext is written to s_client's stdin (it sends
// whatever one read() returns as one DTLS application record, `-nocommands` disables its command
// letters) and the answer, printed raw on stdout after the session block, is decoded as CoAP: the
// server's view of the session (peer identity, cipher suite, EMS) must match what OpenSSL negotiated.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decode, encode } from '../../src/coap/codec.js';
import { Opt, type CoapMessage } from '../../src/coap/message.js';
import { getUint } from '../../src/coap/options.js';
import { parseContext } from '../helpers/dtls-client.js';
import { requirePeer } from '../helpers/peers.js';
import { hasIpv6Loopback, REPO, startServer, type ServerProcess } from '../helpers/server-process.js';

const openssl = requirePeer('openssl');
const PKI = path.join(REPO, 'resources/pki');
const TRUST = path.join(PKI, 'trust.pem');
const CLIENT_CERT = ['-cert', path.join(PKI, 'cf-client-chain.pem'), '-key', path.join(PKI, 'cf-client-key.pem')];
const PSK = ['-psk_identity', 'Client_identity', '-psk', Buffer.from('secretPSK').toString('hex')];
const CLIENT_DN = 'CN=cf-client,OU=Californium,O=Eclipse IoT,L=Ottawa,C=CA';

/** Outcome of one s_client run. */
interface SClientRun {
  /** s_client's own text (stdout up to and including the session block) */
  text: string;
  stderr: string;
  code: number | null;
  /** the CoAP request written after the handshake (if the session block appeared) */
  request?: CoapMessage;
  /** the CoAP answer decoded from the application data s_client printed */
  response?: CoapMessage;
}

const SESSION_END = /SSL-Session:[\s\S]*?\n---\n/;

/**
 * Runs `openssl s_client -dtls1_2` towards host:port; after the session block appears, writes one CoAP CON
 * GET /mycontext and waits (≤ answerMs) for the answer, then closes stdin (s_client sends close_notify) or,
 * with `abort`, kills s_client (no close_notify). Hard limit 15 s.
 */
function sClient(host: string, port: number, args: string[], answerMs = 3000, abort = false): Promise<SClientRun> {
  const connect = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
  const proc = spawn(openssl.path!, ['s_client', '-dtls1_2', '-connect', connect, '-nocommands', ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = Buffer.alloc(0);
  let stderr = '';
  let appStart = -1;
  let request: CoapMessage | undefined;
  let response: CoapMessage | undefined;
  let answerTimer: NodeJS.Timeout | undefined;
  const finish = () => {
    if (answerTimer) clearTimeout(answerTimer);
    // abort: end the process without close_notify (the server keeps the connection and its session)
    if (abort) proc.kill('SIGKILL');
    else if (!proc.stdin.destroyed) proc.stdin.end();
  };
  proc.stdout.on('data', (d: Buffer) => {
    out = Buffer.concat([out, d]);
    if (appStart < 0) {
      const m = SESSION_END.exec(out.toString('latin1'));
      if (m) {
        appStart = m.index + m[0].length;
        const mid = Math.floor(Math.random() * 0xffff);
        request = { type: 0, code: 1, mid, token: Buffer.from([0xc0, 0xff, 0xee, mid & 0xff]), options: [{ number: Opt.URI_PATH, value: Buffer.from('mycontext') }], payload: Buffer.alloc(0) };
        // give s_client a moment to enter its read loop, then send the datagram as one write
        setTimeout(() => {
          if (!proc.stdin.destroyed) proc.stdin.write(encode(request!));
        }, 100);
        answerTimer = setTimeout(finish, answerMs);
      }
    }
    if (appStart >= 0 && response === undefined && out.length > appStart) {
      try {
        response = decode(out.subarray(appStart));
        finish();
      } catch {
        // incomplete (or not CoAP): keep waiting until answerMs
      }
    }
  });
  proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  proc.stdin.on('error', () => {});
  const hard = setTimeout(() => proc.kill('SIGKILL'), 15_000);
  return new Promise((resolve) => {
    proc.on('exit', (code) => {
      clearTimeout(hard);
      if (answerTimer) clearTimeout(answerTimer);
      resolve({ text: out.subarray(0, appStart < 0 ? out.length : appStart).toString('latin1'), stderr, code, request, response });
    });
  });
}

/** Asserts a successful handshake plus the 2.05 /mycontext answer; returns its fields. */
function expectSession(r: SClientRun, cipher: string): Map<string, string> {
  const all = `${r.text}\n${r.stderr}`;
  expect(r.text, all).toContain(`Cipher is ${cipher}`);
  expect(r.text).toMatch(/Protocol\s*: DTLSv1\.2/);
  expect(r.text).toContain('Verify return code: 0 (ok)');
  expect(r.text).toContain('Extended master secret: yes');
  expect(r.text).toContain('Secure Renegotiation IS supported');
  expect(r.response, `no CoAP answer; ${all}`).toBeDefined();
  const res = r.response!;
  expect(res.type).toBe(2); // ACK
  expect(res.code).toBe((2 << 5) | 5);
  expect(res.mid).toBe(r.request!.mid);
  expect(res.token).toEqual(r.request!.token);
  expect(getUint(res, Opt.CONTENT_FORMAT)).toBe(0);
  // OpenSSL's session id is the one the server issued
  const sid = /Session-ID: ([0-9A-F]{64})/.exec(r.text)?.[1];
  const fields = parseContext(res.payload.toString('utf8'));
  expect(fields.get('session-id')).toBe(sid);
  expect(fields.get('ext-master-secret')).toBe('true');
  expect(fields.get('secure-renegotiation')).toBe('true');
  // OpenSSL 3.0 has no RFC 9146 CID
  expect(fields.has('read-cid')).toBe(false);
  return fields;
}

describe.skipIf(openssl.skipReason !== undefined)(`openssl s_client -dtls1_2 against the real server${openssl.skipReason ? ` (skipped: ${openssl.skipReason})` : ''}`, () => {
  describe('server with the default client authentication (NEEDED)', () => {
    let sp: ServerProcess;
    beforeAll(async () => {
      sp = await startServer({ args: ['--no-external'] });
    });
    afterAll(async () => {
      await sp?.stop();
    });

    const pskCases = [
      { openssl: 'PSK-AES128-CCM8', iana: 'TLS_PSK_WITH_AES_128_CCM_8', expansion: 16 },
      { openssl: 'PSK-AES128-GCM-SHA256', iana: 'TLS_PSK_WITH_AES_128_GCM_SHA256', expansion: 24 },
      { openssl: 'PSK-AES128-CBC-SHA256', iana: 'TLS_PSK_WITH_AES_128_CBC_SHA256', expansion: 65 },
      { openssl: 'ECDHE-PSK-AES128-CBC-SHA256', iana: 'TLS_ECDHE_PSK_WITH_AES_128_CBC_SHA256', expansion: 65 },
    ];
    for (const c of pskCases) {
      it(`PSK ${c.openssl}: handshake, then CoAP GET /mycontext shows Client_identity and ${c.iana}`, async () => {
        const r = await sClient('127.0.0.1', sp.ports.extSecure, [...PSK, '-cipher', c.openssl]);
        const f = expectSession(r, c.openssl);
        expect(r.text).toContain('PSK identity: Client_identity');
        expect(f.get('ip')).toBe('127.0.0.1');
        expect(f.get('peer')).toBe('Client_identity');
        expect(f.get('cipher-suite')).toBe(c.iana);
        expect(f.get('message-size-limit')).toBe(String(1500 - 64 - 13 - c.expansion));
      });
    }

    it.skipIf(!hasIpv6Loopback())('PSK-AES128-CCM8 over [::1] on the plugtest coaps port (64-byte blocks: first block of /mycontext)', async () => {
      const r = await sClient('::1', sp.ports.plugSecure, [...PSK, '-cipher', 'PSK-AES128-CCM8']);
      expect(r.text, r.stderr).toContain('Cipher is PSK-AES128-CCM8');
      expect(r.response, r.text + r.stderr).toBeDefined();
      expect(r.response!.code).toBe((2 << 5) | 5);
      expect(r.response!.payload.toString('utf8')).toMatch(/^ip: ::1\nport: \d+\npeer: Client_identity\n/);
      expect(getUint(r.response!, Opt.BLOCK2)).toBeDefined();
    });

    it('ECDHE-ECDSA-AES128-CCM8 with the client certificate: server chain verifies for 127.0.0.1, peer = client DN', async () => {
      const r = await sClient('127.0.0.1', sp.ports.extSecure, ['-cipher', 'ECDHE-ECDSA-AES128-CCM8', '-CAfile', TRUST, '-verify_ip', '127.0.0.1', '-verify_return_error', ...CLIENT_CERT]);
      const f = expectSession(r, 'ECDHE-ECDSA-AES128-CCM8');
      expect(r.text).toMatch(/subject=C = CA, L = Ottawa, O = Eclipse IoT, OU = Californium, CN = cf-server\n/);
      expect(r.text).toContain('Client Certificate Types: ECDSA sign, RSA sign');
      expect(f.get('peer')).toBe(CLIENT_DN);
      expect(f.get('cipher-suite')).toBe('TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8');
    });

    it.skipIf(!hasIpv6Loopback())('ECDHE-ECDSA-AES128-GCM-SHA256 over [::1] with the client certificate (SAN ::1 verified)', async () => {
      const r = await sClient('::1', sp.ports.extSecure, ['-cipher', 'ECDHE-ECDSA-AES128-GCM-SHA256', '-CAfile', TRUST, '-verify_ip', '::1', '-verify_return_error', ...CLIENT_CERT]);
      const f = expectSession(r, 'ECDHE-ECDSA-AES128-GCM-SHA256');
      expect(f.get('ip')).toBe('::1');
      expect(f.get('peer')).toBe(CLIENT_DN);
      expect(f.get('cipher-suite')).toBe('TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256');
      expect(f.get('message-size-limit')).toBe(String(1500 - 128 - 13 - 24));
    });

    it('ECDHE-RSA-AES128-GCM-SHA256: the server picks its RSA certificate (cf-server-rsa)', async () => {
      const r = await sClient('127.0.0.1', sp.ports.extSecure, ['-cipher', 'ECDHE-RSA-AES128-GCM-SHA256', '-CAfile', TRUST, '-verify_ip', '127.0.0.1', '-verify_return_error', ...CLIENT_CERT]);
      const f = expectSession(r, 'ECDHE-RSA-AES128-GCM-SHA256');
      expect(r.text).toContain('CN = cf-server-rsa\n');
      expect(f.get('peer')).toBe(CLIENT_DN);
      expect(f.get('cipher-suite')).toBe('TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256');
    });

    it('-maxfraglen 512 -mtu 400: fragmented flights both ways (1.2 kB server chain, 1.6 kB client chain); limit min(…, 512) − 16', async () => {
      const r = await sClient('127.0.0.1', sp.ports.extSecure, ['-cipher', 'ECDHE-ECDSA-AES128-CCM8', '-CAfile', TRUST, '-verify_ip', '127.0.0.1', '-verify_return_error', '-maxfraglen', '512', '-mtu', '400', ...CLIENT_CERT]);
      const f = expectSession(r, 'ECDHE-ECDSA-AES128-CCM8');
      expect(f.get('peer')).toBe(CLIENT_DN);
      // dtls.md §9: min(1500 − 64 − 13, 512) − 16 (CCM_8)
      expect(f.get('message-size-limit')).toBe('496');
    });

    it('session resumption (-sess_out / -sess_in): abbreviated handshake with the same session id', async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sclient-sess-'));
      try {
        const sess = path.join(dir, 'session.pem');
        const first = await sClient('127.0.0.1', sp.ports.extSecure, [...PSK, '-cipher', 'PSK-AES128-CCM8', '-sess_out', sess], 3000, true);
        const f1 = parseContext(first.response!.payload.toString('utf8'));
        expect(first.text).toContain('New, TLSv1.2, Cipher is PSK-AES128-CCM8');
        const second = await sClient('127.0.0.1', sp.ports.extSecure, [...PSK, '-cipher', 'PSK-AES128-CCM8', '-sess_in', sess]);
        expect(second.text, second.stderr).toContain('Reused, TLSv1.2, Cipher is PSK-AES128-CCM8');
        const f2 = parseContext(second.response!.payload.toString('utf8'));
        expect(f2.get('session-id')).toBe(f1.get('session-id'));
        expect(f2.get('peer')).toBe('Client_identity');
        expect(f2.get('port')).not.toBe(f1.get('port'));
        expect(f2.get('ext-master-secret')).toBe('true');
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });

    it('control: a hostname the server certificate does not name fails verification (the check above is real)', async () => {
      const r = await sClient('127.0.0.1', sp.ports.extSecure, ['-cipher', 'ECDHE-ECDSA-AES128-CCM8', '-CAfile', TRUST, '-verify_hostname', 'not-the-server.invalid', ...CLIENT_CERT]);
      expect(r.text).toMatch(/Verify return code: 62 \(hostname mismatch\)/);
    });

    it('client-auth NEEDED and no client certificate: the server aborts with a fatal alert, no CoAP answer', async () => {
      const r = await sClient('127.0.0.1', sp.ports.extSecure, ['-cipher', 'ECDHE-ECDSA-AES128-GCM-SHA256', '-CAfile', TRUST], 1500);
      expect(r.code, r.text + r.stderr).not.toBe(0);
      // RFC 5246 §7.4.6: handshake_failure (40); bad_certificate (42) would also be acceptable
      expect(r.stderr).toMatch(/SSL alert number (40|42)/);
      expect(r.response).toBeUndefined();
    });
  });

  describe('server with DTLS.PSK_FAILURE_ALERT=DECRYPT_ERROR', () => {
    let sp: ServerProcess;
    beforeAll(async () => {
      sp = await startServer({ args: ['--no-external'], properties: ['DTLS.PSK_FAILURE_ALERT=DECRYPT_ERROR'] });
    });
    afterAll(async () => {
      await sp?.stop();
    });

    // RFC 4279 §2: an unknown identity looks exactly like a wrong secret (no identity oracle)
    for (const [what, identity, secret] of [
      ['wrong PSK secret', 'Client_identity', 'wrongPSK'],
      ['unknown PSK identity', 'nobody', 'secretPSK'],
    ] as const) {
      it(`${what}: the handshake fails with a fatal decrypt_error alert (51)`, async () => {
        const r = await sClient('127.0.0.1', sp.ports.extSecure, ['-psk_identity', identity, '-psk', Buffer.from(secret).toString('hex'), '-cipher', 'PSK-AES128-CCM8'], 1500);
        expect(r.code, r.text + r.stderr).not.toBe(0);
        expect(r.stderr).toMatch(/alert decrypt error.*SSL alert number 51/);
        expect(r.stderr).not.toMatch(/unknown psk identity|bad record mac/);
        expect(r.response).toBeUndefined();
      });
    }
  });

  describe('server with --client-auth NONE', () => {
    let sp: ServerProcess;
    beforeAll(async () => {
      sp = await startServer({ args: ['--no-external', '--client-auth', 'NONE'] });
    });
    afterAll(async () => {
      await sp?.stop();
    });

    it('ECDHE-ECDSA-AES128-CCM8 without client certificate: no CertificateRequest, no peer in /mycontext', async () => {
      const r = await sClient('127.0.0.1', sp.ports.extSecure, ['-cipher', 'ECDHE-ECDSA-AES128-CCM8', '-CAfile', TRUST, '-verify_ip', '127.0.0.1', '-verify_return_error']);
      const f = expectSession(r, 'ECDHE-ECDSA-AES128-CCM8');
      expect(r.text).not.toContain('Client Certificate Types');
      expect(f.has('peer'), [...f.entries()].join('\n')).toBe(false);
      expect(f.get('cipher-suite')).toBe('TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8');
      expect(f.get('message-size-limit')).toBe(String(1500 - 64 - 13 - 16));
    });
  });
});

// Interop sanity check with OpenSSL's DTLS 1.2 client (openssl s_client, PSK-AES128-CCM8): the handshake
// completes against our server connector (cookie exchange included) and an application record is echoed.
import { spawn } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import type { DtlsConnector } from '../../src/dtls/connector.js';
import { join } from 'node:path';
import { defaultPkiDir } from '../../src/dtls/credentials/demo-pki.js';
import { demoPki, echoServer, waitFor } from '../helpers/dtls-pair.js';
import { findPeer, inCi } from '../helpers/peers.js';

const openssl = findPeer('openssl');
const started: DtlsConnector[] = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((c) => c.stop()));
});

describe.skipIf(!openssl && !inCi())('openssl s_client -dtls1_2 against our server', () => {
  const pki = defaultPkiDir();
  const psk = ['-psk_identity', 'Client_identity', '-psk', '73656372657450534b'];
  const cert = ['-cert', join(pki, 'cf-client.pem'), '-key', join(pki, 'cf-client-key.pem'), '-CAfile', join(pki, 'trust.pem'), '-verify_return_error'];
  const cases: [string, string[], string][] = [
    ['PSK-AES128-CCM8', psk, 'Client_identity'],
    ['PSK-AES128-GCM-SHA256', psk, 'Client_identity'],
    ['PSK-AES128-CBC-SHA256', psk, 'Client_identity'],
    ['ECDHE-PSK-AES128-CBC-SHA256', psk, 'Client_identity'],
    ['ECDHE-ECDSA-AES128-GCM-SHA256', cert, 'CN=cf-client,OU=Californium,O=Eclipse IoT,L=Ottawa,C=CA'],
  ];
  for (const [cipher, args, identity] of cases) {
    it(`${cipher}: handshake and echo`, async () => {
      expect(openssl).toBeDefined();
      const s = await echoServer({ identities: demoPki().identities, trustAnchors: demoPki().trustAnchors });
      started.push(s.server);
      const child = spawn(
        openssl!,
        ['s_client', '-dtls1_2', '-connect', `127.0.0.1:${s.server.localPort}`, ...args, '-cipher', `${cipher}@SECLEVEL=0`, '-quiet'],
        { stdio: ['pipe', 'pipe', 'pipe'] },
      );
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      try {
        expect(await waitFor(() => s.server.stats['handshakes succeeded'] === 1, 5000)).toBe(true);
        child.stdin.write('hello from openssl\n');
        const received = await s.inbox.next(5000);
        expect(received.data.toString()).toBe('hello from openssl\n');
        const dtls = received.ctx.dtls!;
        expect(dtls.peerIdentity).toBe(identity);
        expect(dtls.cipherSuite).toMatch(cipher.startsWith('ECDHE-ECDSA') ? /ECDHE_ECDSA/ : cipher.startsWith('ECDHE') ? /ECDHE_PSK/ : /^TLS_PSK/);
        expect(dtls.extendedMasterSecret).toBe(true);
        expect(dtls.secureRenegotiation).toBe(true);
        expect(await waitFor(() => stdout.includes('echo:hello from openssl'), 5000)).toBe(true);
        expect(s.server.detailStats.helloVerifyRequests).toBe(1);
      } catch (err) {
        throw new Error(`${(err as Error).message}\nopenssl stderr:\n${stderr}\nstdout:\n${stdout}`);
      } finally {
        child.kill();
      }
    });
  }
});

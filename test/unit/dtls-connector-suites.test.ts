// Our client connector ↔ our server connector over loopback: handshake and application data both ways
// for every suite of dtls.md §2 plus the CCM suites, the PSK identities of dtls.md §3 and the client
// authentication modes of dtls.md §5.
import { afterEach, describe, expect, it } from 'vitest';
import { ALL_CIPHER_SUITES, cipherSuiteByName, type CipherSuite } from '../../src/dtls/cipher-suites.js';
import type { DtlsConnector } from '../../src/dtls/connector.js';
import type { DtlsConfig } from '../../src/dtls/config.js';
import { rawPublicKeyIdentity } from '../../src/dtls/credentials/raw-public-key.js';
import { generateRawPublicKeyIdentity } from '../../src/dtls/local-identity.js';
import { client, clientIdentity, demoPki, echoServer, roundTrip } from '../helpers/dtls-pair.js';

const started: DtlsConnector[] = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((c) => c.stop()));
});

const CF_CLIENT = 'CN=cf-client,OU=Californium,O=Eclipse IoT,L=Ottawa,C=CA';

async function pair(suite: CipherSuite, opts: { serverConfig?: Partial<DtlsConfig>; clientConfig?: Partial<DtlsConfig>; psk?: [string, string]; clientCert?: boolean } = {}) {
  const pki = demoPki();
  const s = await echoServer({
    identities: pki.identities,
    trustAnchors: pki.trustAnchors,
    config: { cipherSuites: ALL_CIPHER_SUITES, ...opts.serverConfig },
  });
  const [identity, secret] = opts.psk ?? ['Client_identity', 'secretPSK'];
  const c = await client({
    pskIdentity: identity,
    pskSecret: Buffer.from(secret),
    offeredCipherSuites: [suite],
    identities: opts.clientCert === false ? [] : [clientIdentity()],
    trustAnchors: pki.trustAnchors,
    config: { certificateTypes: ['X_509'], ...opts.clientConfig },
  });
  started.push(c.client, s.server);
  return { s, c };
}

describe('every cipher suite, data both ways', () => {
  for (const suite of ALL_CIPHER_SUITES) {
    it(suite.name, async () => {
      const { s, c } = await pair(suite);
      const info = await c.client.connect('127.0.0.1', s.server.localPort);
      expect(info.cipherSuite).toBe(suite.name);
      const { atServer, atClient } = await roundTrip(c, s, `hello ${suite.name}`);
      expect(atServer.data.toString()).toBe(`hello ${suite.name}`);
      expect(atClient.data.toString()).toBe(`echo:hello ${suite.name}`);
      const dtls = atServer.ctx.dtls!;
      expect(dtls.cipherSuite).toBe(suite.name);
      expect(dtls.extendedMasterSecret).toBe(true);
      expect(dtls.secureRenegotiation).toBe(true);
      expect(dtls.sessionId.length).toBe(32);
      expect(dtls.messageSizeLimit).toBe(1500 - 64 - 13 - 6 - suite.maxExpansion - 1);
      if (suite.psk) {
        expect(dtls.peerIdentity).toBe('Client_identity');
      } else {
        // NEEDED (default): the client certificate is the peer identity; the client sees the server's subject
        expect(dtls.peerIdentity).toBe(CF_CLIENT);
        expect(info.peerIdentity).toBe(suite.keyExchange === 'ECDHE_RSA' ? 'CN=cf-server-rsa,OU=Californium,O=Eclipse IoT,L=Ottawa,C=CA' : 'CN=cf-server,OU=Californium,O=Eclipse IoT,L=Ottawa,C=CA');
      }
      expect(s.server.stats['handshakes succeeded']).toBe(1);
      expect(c.client.stats['handshakes succeeded']).toBe(1);
    });
  }
});

describe('PSK identities (dtls.md §3)', () => {
  const ccm8 = cipherSuiteByName('TLS_PSK_WITH_AES_128_CCM_8')!;
  for (const [identity, secret] of [
    ['Client_identity', 'secretPSK'],
    ['password', 'sesame'],
    ['cali.0123456789ABCDEF', '.fornium'],
  ] as const) {
    it(`${identity} / ${secret}`, async () => {
      const { s, c } = await pair(ccm8, { psk: [identity, secret] });
      const { atServer } = await roundTrip(c, s, 'x');
      expect(atServer.ctx.dtls!.peerIdentity).toBe(identity);
    });
  }

  it('an unknown identity fails like a wrong secret (decrypt_error when configured) and gets no connection', async () => {
    const { s, c } = await pair(ccm8, { psk: ['nobody', 'secret'], serverConfig: { pskFailureAlert: 'DECRYPT_ERROR' } });
    await expect(c.client.connect('127.0.0.1', s.server.localPort)).rejects.toThrow(/fatal alert 51/);
    expect(s.server.store.size).toBe(0);
    expect(s.server.stats['handshakes failed']).toBe(1);
  });

  it('ECDHE_PSK uses the same store', async () => {
    const { s, c } = await pair(cipherSuiteByName('TLS_ECDHE_PSK_WITH_AES_128_CBC_SHA256')!, { psk: ['password', 'sesame'] });
    const { atServer } = await roundTrip(c, s, 'x');
    expect(atServer.ctx.dtls!.peerIdentity).toBe('password');
  });
});

describe('certificate suites and client authentication (dtls.md §4, §5)', () => {
  const ecdsa = cipherSuiteByName('TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8')!;

  it('RPK on both sides: identities are ni:///sha-256 names', async () => {
    const { s, c } = await pair(ecdsa, { clientConfig: { certificateTypes: ['RAW_PUBLIC_KEY'] } });
    const info = await c.client.connect('127.0.0.1', s.server.localPort);
    const { atServer } = await roundTrip(c, s, 'rpk');
    expect(atServer.ctx.dtls!.peerIdentity).toBe(rawPublicKeyIdentity(clientIdentity().spki));
    expect(info.peerIdentity).toBe(demoPki().identities[0]!.rpkIdentity);
  });

  it('a generated RPK client key (no certificate) authenticates as its ni: name', async () => {
    const pki = demoPki();
    const s = await echoServer({ identities: pki.identities, trustAnchors: pki.trustAnchors });
    const key = generateRawPublicKeyIdentity();
    const c = await client({ identities: [key], trustAnchors: pki.trustAnchors, offeredCipherSuites: [ecdsa], config: { certificateTypes: ['RAW_PUBLIC_KEY'] } });
    started.push(c.client, s.server);
    const { atServer } = await roundTrip(c, s, 'generated');
    expect(atServer.ctx.dtls!.peerIdentity).toBe(key.rpkIdentity);
    expect(key.rpkIdentity).toMatch(/^ni:\/\/\/sha-256;[A-Za-z0-9_-]{43}$/);
  });

  it('WANTED accepts a client without certificate (no peer identity)', async () => {
    const { s, c } = await pair(ecdsa, { serverConfig: { clientAuthentication: 'WANTED' }, clientCert: false });
    const { atServer } = await roundTrip(c, s, 'anon');
    expect(atServer.ctx.dtls!.peerIdentity).toBeUndefined();
  });

  it('NONE sends no CertificateRequest: even a client with a certificate stays anonymous', async () => {
    const { s, c } = await pair(ecdsa, { serverConfig: { clientAuthentication: 'NONE' } });
    const { atServer } = await roundTrip(c, s, 'none');
    expect(atServer.ctx.dtls!.peerIdentity).toBeUndefined();
  });

  it('NEEDED fails a client without certificate', async () => {
    const { s, c } = await pair(ecdsa, { serverConfig: { clientAuthentication: 'NEEDED' }, clientCert: false });
    await expect(c.client.connect('127.0.0.1', s.server.localPort)).rejects.toThrow(/fatal alert 40/);
    expect(s.server.store.size).toBe(0);
  });

  it('a client rejects a server chain it does not trust', async () => {
    const pki = demoPki();
    const s = await echoServer({ identities: pki.identities, config: { clientAuthentication: 'NONE' } });
    const c = await client({ offeredCipherSuites: [ecdsa], trustAnchors: [], config: { certificateTypes: ['X_509'] } });
    started.push(c.client, s.server);
    await expect(c.client.connect('127.0.0.1', s.server.localPort)).rejects.toThrow(/untrusted|no trust anchor/);
  });

  it('no common suite → handshake_failure', async () => {
    const s = await echoServer({ config: { cipherSuites: [cipherSuiteByName('TLS_PSK_WITH_AES_128_CCM_8')!] } });
    const c = await client({ offeredCipherSuites: [ecdsa], trustAll: true });
    started.push(c.client, s.server);
    await expect(c.client.connect('127.0.0.1', s.server.localPort)).rejects.toThrow(/fatal alert 40/);
  });

  it('the server picks in the client order among its configured suites', async () => {
    const pki = demoPki();
    const s = await echoServer({ identities: pki.identities, config: { clientAuthentication: 'NONE' } });
    const gcm = cipherSuiteByName('TLS_PSK_WITH_AES_128_GCM_SHA256')!;
    const c = await client({
      pskIdentity: 'password',
      pskSecret: Buffer.from('sesame'),
      trustAnchors: pki.trustAnchors,
      offeredCipherSuites: [cipherSuiteByName('TLS_PSK_WITH_AES_128_CCM')!, gcm, ecdsa],
    });
    started.push(c.client, s.server);
    // CCM (16-byte tag) is not in the server's preselected list → the client's next choice
    expect((await c.client.connect('127.0.0.1', s.server.localPort)).cipherSuite).toBe(gcm.name);
  });
});

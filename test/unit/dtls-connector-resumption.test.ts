// Session resumption (dtls.md §7): abbreviated handshake with the previous session id, new connection
// with a new CID, same principal and suite; cookie exchange skipped below the threshold; full handshake
// when forced or when the server no longer knows the session.
import { afterEach, describe, expect, it } from 'vitest';
import { cipherSuiteByName } from '../../src/dtls/cipher-suites.js';
import type { DtlsConnector } from '../../src/dtls/connector.js';
import type { DtlsConfig } from '../../src/dtls/config.js';
import { client, clientIdentity, demoPki, echoServer, roundTrip, waitFor } from '../helpers/dtls-pair.js';

const started: DtlsConnector[] = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((c) => c.stop()));
});

async function pskPair(serverConfig: Partial<DtlsConfig> = {}) {
  const s = await echoServer({ config: serverConfig });
  const c = await client({ pskIdentity: 'cali.RESUME', pskSecret: Buffer.from('.fornium') });
  started.push(c.client, s.server);
  return { s, c };
}

describe('resumption', () => {
  it('abbreviated handshake: same session and identity, new CID, no cookie exchange', async () => {
    const { s, c } = await pskPair();
    const port = s.server.localPort;
    const first = await c.client.connect('127.0.0.1', port);
    const r1 = await roundTrip(c, s, 'full');
    expect(s.server.detailStats.helloVerifyRequests).toBe(1);
    const second = await c.client.connect('127.0.0.1', port);
    // the server completes when the client's Finished arrives (after the client completed)
    expect(await waitFor(() => s.server.detailStats.resumedHandshakes === 1)).toBe(true);
    expect(c.client.detailStats.resumedHandshakes).toBe(1);
    expect(s.server.detailStats.helloVerifyRequests).toBe(1); // resumption skipped the cookie
    expect(second.sessionId.equals(first.sessionId)).toBe(true);
    expect(second.cipherSuite).toBe(first.cipherSuite);
    const r2 = await roundTrip(c, s, 'resumed');
    expect(r2.atServer.ctx.dtls!.peerIdentity).toBe('cali.RESUME');
    expect(r2.atServer.ctx.dtls!.sessionId.equals(r1.atServer.ctx.dtls!.sessionId)).toBe(true);
    expect(r2.atServer.ctx.dtls!.readCid!.equals(r1.atServer.ctx.dtls!.readCid!)).toBe(false);
    expect(r2.atServer.ctx.connection).not.toBe(r1.atServer.ctx.connection);
    // the new connection replaced the old one of the same address
    expect(s.server.store.size).toBe(1);
    expect(s.server.stats['handshakes succeeded']).toBe(2);
  });

  it('forceFullHandshake issues a new session', async () => {
    const { s, c } = await pskPair();
    const first = await c.client.connect('127.0.0.1', s.server.localPort);
    c.client.forceFullHandshake = true;
    const second = await c.client.connect('127.0.0.1', s.server.localPort);
    expect(second.sessionId.equals(first.sessionId)).toBe(false);
    expect(s.server.detailStats.resumedHandshakes).toBe(0);
    expect(s.server.detailStats.fullHandshakes).toBe(2);
    expect(s.server.detailStats.helloVerifyRequests).toBe(2);
  });

  it('a session unknown to the server falls back to a full handshake', async () => {
    const { s, c } = await pskPair();
    const first = await c.client.connect('127.0.0.1', s.server.localPort);
    s.server.store.clear();
    const second = await c.client.connect('127.0.0.1', s.server.localPort);
    expect(second.sessionId.equals(first.sessionId)).toBe(false);
    expect(c.client.detailStats.fullHandshakes).toBe(2);
    await roundTrip(c, s, 'works');
  });

  it('an expired session (sessionTimeout) is not resumed', async () => {
    const { s, c } = await pskPair({ sessionTimeout: 50 });
    const first = await c.client.connect('127.0.0.1', s.server.localPort);
    await new Promise((r) => setTimeout(r, 80));
    const second = await c.client.connect('127.0.0.1', s.server.localPort);
    expect(second.sessionId.equals(first.sessionId)).toBe(false);
    expect(s.server.detailStats.resumedHandshakes).toBe(0);
  });

  it('with threshold 0 every resumption gets a HelloVerifyRequest', async () => {
    const { s, c } = await pskPair({ verifyPeersOnResumptionThreshold: 0 });
    await c.client.connect('127.0.0.1', s.server.localPort);
    await c.client.connect('127.0.0.1', s.server.localPort);
    expect(await waitFor(() => s.server.detailStats.resumedHandshakes === 1)).toBe(true);
    expect(s.server.detailStats.helloVerifyRequests).toBe(2);
  });

  it('a certificate session resumes without certificates and keeps the principal', async () => {
    const pki = demoPki();
    const s = await echoServer({ identities: pki.identities, trustAnchors: pki.trustAnchors });
    const c = await client({
      identities: [clientIdentity()],
      trustAnchors: pki.trustAnchors,
      offeredCipherSuites: [cipherSuiteByName('TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256')!],
      config: { certificateTypes: ['X_509'] },
    });
    started.push(c.client, s.server);
    await c.client.connect('127.0.0.1', s.server.localPort);
    const resumed = await c.client.connect('127.0.0.1', s.server.localPort);
    expect(resumed.peerIdentity).toBe('CN=cf-server,OU=Californium,O=Eclipse IoT,L=Ottawa,C=CA');
    const { atServer } = await roundTrip(c, s, 'x509 resumed');
    expect(atServer.ctx.dtls!.peerIdentity).toBe('CN=cf-client,OU=Californium,O=Eclipse IoT,L=Ottawa,C=CA');
    expect(await waitFor(() => s.server.detailStats.resumedHandshakes === 1)).toBe(true);
  });

  it('the first send of a client starts the handshake and queues the message', async () => {
    const { s, c } = await pskPair();
    const dest = { address: '127.0.0.1', port: s.server.localPort };
    for (let i = 0; i < 3; i++) c.client.send(Buffer.from(`queued ${i}`), dest);
    for (let i = 0; i < 3; i++) expect((await s.inbox.next()).data.toString()).toBe(`queued ${i}`);
    // a full queue reports errors
    const errors: Error[] = [];
    c.client.forceFullHandshake = true;
    c.client.close('127.0.0.1', s.server.localPort);
    for (let i = 0; i < 12; i++) c.client.send(Buffer.from(`q${i}`), dest, (e) => errors.push(e));
    expect(errors.length).toBe(2);
    for (let i = 0; i < 10; i++) expect((await s.inbox.next()).data.toString()).toBe(`q${i}`);
  });

  it('close sends close_notify: the server removes the connection', async () => {
    const { s, c } = await pskPair();
    await roundTrip(c, s, 'x');
    expect(s.server.store.size).toBe(1);
    c.client.close('127.0.0.1', s.server.localPort);
    for (let i = 0; i < 50 && s.server.store.size > 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(s.server.store.size).toBe(0);
    expect(c.client.store.size).toBe(0);
  });
});

// Flight retransmission (RFC 6347 §4.2.4, dtls.md §8): lost flights are resent by timer or when the peer
// retransmits its previous flight; the back-off and the ECC addition; a handshake gives up after
// maxRetransmissions.
import { afterEach, describe, expect, it } from 'vitest';
import { cipherSuiteByName } from '../../src/dtls/cipher-suites.js';
import type { DtlsConnector } from '../../src/dtls/connector.js';
import { DEFAULT_DTLS_CONFIG } from '../../src/dtls/config.js';
import { backOff, createOutgoingFlight, currentWait } from '../../src/dtls/flight.js';
import { HandshakeType } from '../../src/dtls/handshake/index.js';
import { parseDatagram } from '../../src/dtls/record.js';
import { client, demoPki, echoServer, FAST, roundTrip, waitFor } from '../helpers/dtls-pair.js';

const started: DtlsConnector[] = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((c) => c.stop()));
});

const PSK = { pskIdentity: 'Client_identity', pskSecret: Buffer.from('secretPSK') };

/** Predicate over a datagram: contains an epoch-0 handshake record of this type, or a ChangeCipherSpec. */
function has(d: Buffer, what: number | 'ccs'): boolean {
  return parseDatagram(d, 6).some((r) => (what === 'ccs' ? r.type === 20 : r.type === 22 && r.epoch === 0 && r.fragment[0] === what));
}

/** Outbound filter dropping the first datagram that matches. */
function dropFirst(what: number | 'ccs'): { filter: (d: Buffer) => boolean; dropped: () => number } {
  let dropped = 0;
  return {
    filter: (d) => {
      if (dropped === 0 && has(d, what)) {
        dropped++;
        return false;
      }
      return true;
    },
    dropped: () => dropped,
  };
}

describe('back-off (config.md §3)', () => {
  it('initial timeout, ×scale, capped, + ECC time on the first wait only', () => {
    const config = { ...DEFAULT_DTLS_CONFIG, retransmissionTimeout: 3000, retransmissionTimeoutScale: 2, maxRetransmissionTimeout: 10_000, maxRetransmissions: 4, additionalEccTimeout: 8000 };
    const f = createOutgoingFlight([], true, config);
    const waits = [currentWait(f, config)];
    while (backOff(f, config)) waits.push(currentWait(f, config));
    expect(waits).toEqual([11_000, 6000, 10_000, 10_000, 10_000]);
    const plain = createOutgoingFlight([], false, config);
    expect(currentWait(plain, config)).toBe(3000);
  });
});

describe('lost flights', () => {
  it('server flight 4 lost: resent (timer or client retransmission), handshake completes', async () => {
    const drop = dropFirst(HandshakeType.SERVER_HELLO);
    const s = await echoServer({ config: FAST, outboundFilter: drop.filter });
    const c = await client({ ...PSK, config: FAST });
    started.push(s.server, c.client);
    await roundTrip(c, s, 'after loss');
    expect(drop.dropped()).toBe(1);
    expect(s.server.detailStats.retransmissions).toBeGreaterThanOrEqual(1);
    expect(s.server.stats['handshakes succeeded']).toBe(1);
  });

  it('server flight 6 lost: the client retransmits flight 5, the server resends its last flight', async () => {
    const drop = dropFirst('ccs');
    const s = await echoServer({ config: FAST, outboundFilter: drop.filter });
    const c = await client({ ...PSK, config: FAST });
    started.push(s.server, c.client);
    await c.client.connect('127.0.0.1', s.server.localPort);
    expect(drop.dropped()).toBe(1);
    expect(c.client.detailStats.retransmissions).toBeGreaterThanOrEqual(1);
    expect(s.server.detailStats.retransmissions).toBeGreaterThanOrEqual(1);
    await roundTrip(c, s, 'ok');
  });

  it('client flight 5 lost (ECDHE_ECDSA): the server timer resends flight 4 and the client answers again', async () => {
    const pki = demoPki();
    const drop = dropFirst(HandshakeType.CLIENT_KEY_EXCHANGE);
    const s = await echoServer({ identities: pki.identities, config: { ...FAST, clientAuthentication: 'NONE' } });
    const c = await client({
      trustAnchors: pki.trustAnchors,
      offeredCipherSuites: [cipherSuiteByName('TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8')!],
      config: { ...FAST, retransmissionTimeout: 2000 },
      outboundFilter: drop.filter,
    });
    started.push(s.server, c.client);
    const start = Date.now();
    await c.client.connect('127.0.0.1', s.server.localPort);
    expect(Date.now() - start).toBeLessThan(1500); // faster than the client's own 2 s timer
    expect(drop.dropped()).toBe(1);
    expect(s.server.detailStats.retransmissions).toBeGreaterThanOrEqual(1);
    await roundTrip(c, s, 'ok');
  });

  it('a server that never answers: the client gives up after maxRetransmissions', async () => {
    const s = await echoServer({ outboundFilter: () => false });
    const sent: number[] = [];
    const c = await client({ ...PSK, config: { ...FAST, maxRetransmissions: 2, retransmissionTimeout: 50 }, outboundFilter: () => (sent.push(Date.now()), true) });
    started.push(s.server, c.client);
    await expect(c.client.connect('127.0.0.1', s.server.localPort)).rejects.toThrow(/timeout/);
    expect(sent.length).toBe(3);
    expect(c.client.store.size).toBe(0);
    expect(c.client.stats['handshakes failed']).toBe(1);
  });

  it('a client that disappears after flight 3: the server drops the handshake after its retransmissions', async () => {
    const s = await echoServer({ config: { ...FAST, maxRetransmissions: 1, retransmissionTimeout: 50 } });
    let answered = 0;
    const c = await client({ ...PSK, config: { ...FAST, retransmissionTimeout: 5000 }, outboundFilter: (d) => !(has(d, HandshakeType.CLIENT_KEY_EXCHANGE) && ++answered) });
    started.push(s.server, c.client);
    void c.client.connect('127.0.0.1', s.server.localPort).catch(() => undefined);
    expect(await waitFor(() => s.server.store.size === 1)).toBe(true);
    expect(await waitFor(() => s.server.store.size === 0 && s.server.stats['handshakes failed'] === 1, 3000)).toBe(true);
  });
});

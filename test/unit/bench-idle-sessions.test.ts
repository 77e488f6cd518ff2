// The idle-session generator of issue 10 (bench/idle-sessions.ts) against our server connector on loopback: every
// session established ends as its own idle connection in the server's store (own source address:port, PSK identity,
// CIDs both ways); a second handshake from the same address replaces the first (why the generator binds one port per
// session); a wrong secret counts failures (timeouts: the server drops a Finished it cannot decrypt) and stops at maxFailures. Bounded: a few dozen handshakes.
import { afterEach, describe, expect, it } from 'vitest';
import { DtlsConnector } from '../../src/dtls/connector.js';
import { openIdleSessions, slotAddress, FIRST_PORT, PORTS_PER_ADDRESS } from '../../bench/idle-sessions.js';

const started: DtlsConnector[] = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((c) => c.stop()));
});

/** A server connector with the default PSK store (cali.* identities, secret .fornium) and server CIDs of 6 bytes. */
async function server(): Promise<DtlsConnector> {
  const s = new DtlsConnector({ address: '127.0.0.1', port: 0, role: 'server', config: { cidLength: 6 } });
  await s.start();
  started.push(s);
  return s;
}

/** A slot range unlikely to be used by another test file running at the same time (random, high addresses). */
function randomSlot(): number {
  return (100 + Math.floor(Math.random() * 100)) * PORTS_PER_ADDRESS + Math.floor(Math.random() * 30_000);
}

describe('slotAddress', () => {
  it('maps slots to 40,000 ports per address from 127.0.0.2', () => {
    expect(slotAddress(0)).toEqual({ address: '127.0.0.2', port: FIRST_PORT });
    expect(slotAddress(39_999)).toEqual({ address: '127.0.0.2', port: 59_999 });
    expect(slotAddress(40_000)).toEqual({ address: '127.0.0.3', port: FIRST_PORT });
    expect(slotAddress(100_000)).toEqual({ address: '127.0.0.4', port: 40_000 });
    expect(() => slotAddress(-1)).toThrow(RangeError);
    expect(() => slotAddress(253 * PORTS_PER_ADDRESS)).toThrow(RangeError);
  });
});

describe('openIdleSessions', () => {
  it('leaves one established connection per session in the server, each from its own address:port', async () => {
    const s = await server();
    const first = randomSlot();
    const progress: number[] = [];
    const r = await openIdleSessions({ host: '127.0.0.1', port: s.localPort, count: 40, concurrency: 8, firstSlot: first, onProgress: (p) => progress.push(p.established) });
    expect(r.established).toBe(40);
    expect(r.failed).toBe(0);
    expect(progress.at(-1)).toBe(40);
    const conns = [...s.store.values()].filter((c) => c.established);
    expect(conns.length).toBe(40);
    expect(new Set(conns.map((c) => c.addressKey)).size).toBe(40);
    for (const c of conns) {
      expect(c.address).toMatch(/^127\.0\.0\.\d+$/);
      expect(c.readCid?.length).toBe(6);
      expect(c.writeCid?.length).toBe(6);
      expect(c.session?.peerIdentity).toMatch(/^cali\.idle\.\d+$/);
    }
    // the slots used follow each other (a taken port is skipped and counted)
    expect(r.endSlot - r.firstSlot).toBe(40 + r.bindErrors);
  });

  it('without CID: the server connections have no CID', async () => {
    const s = await server();
    const r = await openIdleSessions({ host: '127.0.0.1', port: s.localPort, count: 5, cid: null, concurrency: 5, firstSlot: randomSlot() });
    expect(r.established).toBe(5);
    const conns = [...s.store.values()];
    expect(conns.every((c) => (c.writeCid?.length ?? 0) === 0)).toBe(true);
  });

  it('a new handshake from the same address replaces the older connection (hence one port per session)', async () => {
    const s = await server();
    const slot = randomSlot();
    const a = await openIdleSessions({ host: '127.0.0.1', port: s.localPort, count: 1, firstSlot: slot });
    const b = await openIdleSessions({ host: '127.0.0.1', port: s.localPort, count: 1, firstSlot: slot });
    expect(a.established + b.established).toBe(2);
    expect(s.store.size).toBe(1);
  });

  it('a wrong secret fails every handshake and stops at maxFailures', async () => {
    const s = await server();
    const r = await openIdleSessions({
      host: '127.0.0.1',
      port: s.localPort,
      count: 20,
      concurrency: 3,
      maxFailures: 3,
      pskSecret: Buffer.from('wrong'),
      timeoutMs: 1000,
      retransmitMs: 300,
      firstSlot: randomSlot(),
    });
    expect(r.established).toBe(0);
    // the server cannot decrypt our Finished and drops it: the handshakes time out; no new one starts after the
    // third failure, those in flight then end too (at most concurrency - 1 more)
    expect(r.failed).toBeGreaterThanOrEqual(3);
    expect(r.failed).toBeLessThanOrEqual(5);
    expect(r.failures).toEqual({ timeout: r.failed });
    expect(r.retransmissions).toBeGreaterThan(0);
    expect([...s.store.values()].filter((c) => c.established).length).toBe(0);
  });

  it('refuses non-loopback targets and unbounded counts', async () => {
    await expect(openIdleSessions({ host: '192.0.2.1', port: 5684, count: 1 })).rejects.toThrow(/non-loopback/);
    await expect(openIdleSessions({ host: '127.0.0.1', port: 5684, count: 2_000_000 })).rejects.toThrow(/count/);
  });
});

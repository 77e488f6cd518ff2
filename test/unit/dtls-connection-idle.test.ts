// What an established connection keeps (issue 10): its last flight and the randoms only until the peer's first
// application record or the end of the peer's retransmission span, CIDs / session / keys packed into one string of its
// own (no buffers: no slices of shared 8 KB pools, no native allocations), no record protection object while idle, and
// no fast-CCM slots once it is removed.
import { afterEach, describe, expect, it } from 'vitest';
import { fastCcmStats } from '../../src/dtls/aead.js';
import type { Connection } from '../../src/dtls/connection.js';
import { DtlsConnector } from '../../src/dtls/connector.js';
import { lastFlightLifetime } from '../../src/dtls/handshake-end.js';
import { TimerWheel } from '../../src/util/timer-wheel.js';
import { FAST, client, echoServer, roundTrip, waitFor } from '../helpers/dtls-pair.js';

const started: DtlsConnector[] = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((c) => c.stop()));
});

/** A PSK echo server with a clock the test can move forward, and a client with CIDs on both sides. */
async function pair() {
  let skew = 0;
  const now = (): number => Date.now() + skew;
  const s = await echoServer({ config: { ...FAST, cidLength: 6 }, now, wheel: new TimerWheel(10, 1024, now) });
  const c = await client({ config: { ...FAST, cidLength: 4 }, pskIdentity: 'cali.idle', pskSecret: Buffer.from('.fornium') });
  started.push(s.server, c.client);
  await c.client.connect('127.0.0.1', s.server.localPort);
  const conn = s.server.getConnection('127.0.0.1', c.client.localPort)!;
  expect(conn).toBeDefined();
  return { s, c, conn, advance: (ms: number) => (skew += ms) };
}

/** Names of the own properties of `o` that hold a buffer (or an array / object holding one, one level down). */
function bufferFields(o: object): string[] {
  const holds = (v: unknown): boolean => Buffer.isBuffer(v) || (Array.isArray(v) && v.some((x) => Buffer.isBuffer(x) || (typeof x === 'object' && x !== null && Object.values(x as object).some((y) => Buffer.isBuffer(y)))));
  return Object.entries(o)
    .filter(([, v]) => holds(v))
    .map(([k]) => k);
}

describe('an established, idle DTLS connection', () => {
  it('drops its last flight and the randoms when the peer could no longer retransmit, and keeps working', async () => {
    const { s, c, conn, advance } = await pair();
    expect(conn.lastFlight).toBeDefined(); // the server sent the last flight of the full handshake
    expect(conn.lastFlight!.map((e) => e.kind)).toEqual(['ccs', 'handshake']);
    expect(conn.clientRandom!.length).toBe(32);
    expect(conn.serverRandom).toBeUndefined(); // kept only by a cluster peer (its MAC keys)
    // kept as strings, not as buffers that pin node's 8 KB pool or a received datagram; no protection object while idle
    expect(bufferFields(conn)).toEqual([]);
    expect(bufferFields(conn.session!)).toEqual([]);
    expect(conn.builtProtection).toBeUndefined();
    advance(lastFlightLifetime(s.server.config) - 100);
    await new Promise((r) => setTimeout(r, 40));
    expect(conn.lastFlight).toBeDefined();
    advance(200);
    expect(await waitFor(() => conn.lastFlight === undefined)).toBe(true);
    expect(conn.clientRandom).toBeUndefined();
    expect(conn.serverRandom).toBeUndefined();
    const { atClient } = await roundTrip(c, s, 'still there');
    expect(atClient.data.toString()).toBe('echo:still there');
  });

  it('drops them at the first application record; keeps CIDs, session and keys in one string of its own', async () => {
    const { s, c, conn } = await pair();
    const { atServer, atClient } = await roundTrip(c, s, 'hello');
    expect(atClient.data.toString()).toBe('echo:hello');
    expect(conn.lastFlight).toBeUndefined();
    expect(conn.clientRandom).toBeUndefined();
    expect(conn.handshake).toBeUndefined();
    expect(conn.hasLastFlight || conn.keepsLeftovers).toBe(false);
    expect(bufferFields(conn)).toEqual([]);
    expect(bufferFields(conn.session!)).toEqual([]);
    const keys = conn.epoch!.keys;
    expect([conn.session!.id.length, conn.session!.masterSecret.length, keys.read.key.length, keys.read.iv.length, keys.write.key.length, keys.write.iv.length]).toEqual([32, 48, 16, 4, 16, 4]);
    expect(keys.read.key.equals(keys.write.key)).toBe(false);
    expect(conn.builtProtection).toBeDefined(); // rebuilt from the packed keys by the first record
    // what the application sees of the record is still complete
    const d = atServer.ctx.dtls!;
    expect(d.cipherSuite).toBe(conn.session!.cipherSuite.name);
    expect(d.peerIdentity).toBe('cali.idle');
    expect(d.readCid?.length).toBe(6);
    expect(d.writeCid?.length).toBe(4);
    expect(d.sessionId.equals(conn.session!.id)).toBe(true);
    expect(d.readSequence).toBe(1); // the client's Finished was record 0 of epoch 1
    expect(d.newestRecord).toBe(true);
    expect(JSON.parse(JSON.stringify(d))).toMatchObject({ cipherSuite: d.cipherSuite, peerIdentity: 'cali.idle', readSequence: 1, epoch: 1 });
  });

  it('gives back its fast-CCM slots when it is removed', async () => {
    const { s, c, conn } = await pair();
    // a direction is admitted from its second record after the handshake (the protection is rebuilt on the first)
    await roundTrip(c, s, 'hello');
    await roundTrip(c, s, 'again');
    const before = fastCcmStats().size;
    s.server.close('127.0.0.1', c.client.localPort);
    expect(conn.closed).toBe(true);
    // the server's two directions at once, the client's two when its close_notify arrived
    expect(fastCcmStats().size).toBeLessThanOrEqual(before - 2);
    expect(await waitFor(() => fastCcmStats().size <= before - 4)).toBe(true);
  });
});

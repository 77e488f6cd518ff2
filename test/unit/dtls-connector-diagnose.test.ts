// The DTLS connector's /diagnose counter group (resources.md §2.4): tag, keys, current vs total periods.
import { afterEach, describe, expect, it } from 'vitest';
import type { DtlsConnector } from '../../src/dtls/connector.js';
import { DTLS_STATS_KEYS } from '../../src/dtls/dtls-stats.js';
import { client, echoServer, roundTrip } from '../helpers/dtls-pair.js';

const started: DtlsConnector[] = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((c) => c.stop()));
});

describe('DTLS connector diagnostic group', () => {
  it('reports dtls:<addr> with all keys; a transfer moves counts to the total, connections stays a gauge', async () => {
    const s = await echoServer();
    const c = await client({ pskIdentity: 'Client_identity', pskSecret: Buffer.from('secretPSK') });
    started.push(c.client, s.server);
    await roundTrip(c, s, 'one');
    const g = s.server.diagnosticGroup();
    expect(g.tag).toBe(`dtls:127.0.0.1:${s.server.localPort}`);
    expect(g.counters.map((r) => r[0])).toEqual([...DTLS_STATS_KEYS]);
    const row = (name: string) => g.counters.find((r) => r[0] === name)!;
    expect(row('handshakes succeeded')).toEqual(['handshakes succeeded', 1, 0]);
    expect(row('connections')).toEqual(['connections', 1, 1]);
    s.server.transferStats();
    const after = s.server.diagnosticGroup();
    expect(after.counters.find((r) => r[0] === 'handshakes succeeded')).toEqual(['handshakes succeeded', 0, 1]);
    expect(after.counters.find((r) => r[0] === 'connections')).toEqual(['connections', 1, 1]);
    const received = after.counters.find((r) => r[0] === 'received records')!;
    expect(received[1]).toBe(0);
    expect(received[2]).toBeGreaterThan(0);
  });
});

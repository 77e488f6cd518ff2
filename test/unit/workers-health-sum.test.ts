// The health log of a multi-worker server shows one server (issue 13): each endpoint's rows summed over the workers,
// a row one worker lacks still shown, endpoints kept apart by server and URI.
import { describe, expect, it } from 'vitest';
import { sumHealth, type EndpointHealth } from '../../src/server/health.js';

function health(endpoint: string, over: Partial<EndpointHealth>): EndpointHealth {
  return { server: 'EXTENDED-TEST', endpoint, connectorCounted: false, coap: [], observes: 0, dedup: 0, further: [], ...over };
}

describe('sumHealth', () => {
  it('sums rows, gauges and groups of the same endpoint over the workers', () => {
    const w0 = [
      health('coaps://127.0.0.1:5784', {
        connector: { group: 'dtls:127.0.0.1:5784', rows: [['connections', 3, 3], ['handshakes succeeded', 2, 5]] },
        connectorCounted: true,
        coap: [['recv-requests', 10, 30]],
        observes: 1,
        dedup: 4,
        further: [{ tag: 'bounds:coaps://127.0.0.1:5784', rows: [['dedup-evicted peers', 1, 1]] }],
      }),
      health('coap://127.0.0.1:5783', { coap: [['recv-requests', 1, 1]] }),
    ];
    const w1 = [
      health('coaps://127.0.0.1:5784', {
        connector: { group: 'dtls:127.0.0.1:5784', rows: [['connections', 2, 2], ['handshakes succeeded', 0, 4], ['handshakes failed', 1, 1]] },
        coap: [['recv-requests', 5, 5], ['send-errors', 1, 1]],
        dedup: 2,
      }),
    ];
    const [coaps, coap] = sumHealth([w0, w1]);
    expect(coaps).toEqual({
      server: 'EXTENDED-TEST',
      endpoint: 'coaps://127.0.0.1:5784',
      connector: { group: 'dtls:127.0.0.1:5784', rows: [['connections', 5, 5], ['handshakes succeeded', 2, 9], ['handshakes failed', 1, 1]] },
      connectorCounted: true,
      coap: [['recv-requests', 15, 35], ['send-errors', 1, 1]],
      observes: 1,
      dedup: 6,
      further: [{ tag: 'bounds:coaps://127.0.0.1:5784', rows: [['dedup-evicted peers', 1, 1]] }],
    });
    expect(coap).toEqual(health('coap://127.0.0.1:5783', { coap: [['recv-requests', 1, 1]] }));
  });

  it('the same URI of another server stays apart', () => {
    const sums = sumHealth([[health('coap://127.0.0.1:5783', {})], [{ ...health('coap://127.0.0.1:5783', {}), server: 'PLUG-TEST' }]]);
    expect(sums.map((h) => h.server)).toEqual(['EXTENDED-TEST', 'PLUG-TEST']);
  });
});

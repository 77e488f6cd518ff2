// Per-source fair queue of the plain UDP connector (issue 10): datagrams pass at once without a backlog;
// a full read batch in one turn engages the queue, which serves sources round-robin, a batch per turn,
// bounds what it holds per source and in total (drops counted), logs once per episode and disengages.
import type { Logger } from 'pino';
import { describe, expect, it } from 'vitest';
import { FairQueue } from '../../src/transport/fair-queue.js';
import { UdpConnector } from '../../src/transport/udp-connector.js';
import type { DatagramTransport } from '../../src/transport/datagram.js';

const turn = () => new Promise<void>((r) => setImmediate(r));

function logCapture(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const log = (...a: unknown[]) => lines.push(String(a.find((x) => typeof x === 'string')));
  return { logger: { warn: log, info: log, debug: () => {}, error: () => {} } as unknown as Logger, lines };
}

function setup(opts = { batch: 4, sourceCapacity: 3, capacity: 10, engageAt: 8 }) {
  const got: string[] = [];
  const log = logCapture();
  const q = new FairQueue(opts, (data, address, port) => got.push(`${address}:${port}:${data.toString()}`), log.logger, 'test');
  return { q, got, log };
}

describe('FairQueue', () => {
  it('hands datagrams on at once while a turn stays below a read batch', async () => {
    const { q, got } = setup();
    for (let i = 0; i < 7; i++) q.offer(Buffer.from(String(i)), '10.0.0.1', 1);
    expect(got).toHaveLength(7);
    expect(q.isEngaged).toBe(false);
    await turn();
    for (let i = 0; i < 7; i++) q.offer(Buffer.from(String(i)), '10.0.0.1', 1);
    expect(got).toHaveLength(14);
    expect(q.stats['fair queue episodes']).toBe(0);
  });

  it('under a backlog a flooding source cannot starve a quiet one; bounded per source, drops counted', async () => {
    const { q, got, log } = setup();
    for (let i = 0; i < 100; i++) q.offer(Buffer.from(`f${i}`), '10.0.0.1', 1);
    q.offer(Buffer.from('good'), '10.0.0.2', 2);
    expect(q.isEngaged).toBe(true);
    expect(got).toHaveLength(7); // before the backlog was seen
    // 3 queued for the flooder, the rest dropped; the good datagram is queued
    expect(q.stats['fair queue dropped']).toBe(100 - 7 - 3);
    await turn();
    // round-robin: the good source is served in the first batch
    expect(got.slice(7)).toContain('10.0.0.2:2:good');
    expect(got).toHaveLength(7 + 4);
    await turn();
    expect(got).toHaveLength(7 + 4); // all served (3 + 1)
    expect(q.stats['fair queue delivered']).toBe(4);
    await turn();
    expect(q.isEngaged).toBe(false);
    // a new backlog soon after is the same episode: not logged again
    for (let i = 0; i < 10; i++) q.offer(Buffer.from(`f${i}`), '10.0.0.1', 1);
    expect(q.isEngaged).toBe(true);
    for (let i = 0; i < 4; i++) await turn();
    expect(q.isEngaged).toBe(false);
    expect(log.lines.filter((l) => l.includes('fair queue engaged'))).toHaveLength(1);
    expect(log.lines.filter((l) => l.includes('backlog gone'))).toHaveLength(0); // after 2 s without backlog
    expect(q.stats['fair queue episodes']).toBe(1);
    q.clear();
    expect(log.lines.filter((l) => l.includes('backlog gone'))).toHaveLength(1);
  });

  it('holds at most `capacity` datagrams over all sources', async () => {
    const { q, got } = setup();
    for (let i = 0; i < 8; i++) q.offer(Buffer.from('x'), '10.0.0.1', 1); // engages at the 8th
    for (let p = 0; p < 50; p++) q.offer(Buffer.from(String(p)), '10.0.1.1', 1000 + p);
    expect(q.stats['fair queue dropped']).toBe(50 - 9); // 1 of the first source + 9 others fill 10
    for (let i = 0; i < 5; i++) await turn();
    expect(got).toHaveLength(7 + 10);
    expect(q.stats['fair queue pending']).toBe(0);
  });

  it('UdpConnector exposes the counters as transportStats and delivers through the queue', async () => {
    const transport: DatagramTransport = {
      localAddress: '127.0.0.1',
      localPort: 1,
      running: true,
      onDatagram: () => {},
      start: async () => {},
      stop: async () => {},
      send: () => {},
    };
    const c = new UdpConnector({ address: '127.0.0.1', port: 0, transport, fairQueue: { batch: 2, sourceCapacity: 2, capacity: 100 } });
    const got: string[] = [];
    c.onDatagram = (d, ctx) => got.push(`${ctx.address}:${ctx.port}:${d.toString()}`);
    for (let i = 0; i < 40; i++) transport.onDatagram(Buffer.from(String(i)), '127.0.0.9', 9, undefined);
    expect(got).toHaveLength(31);
    expect(c.transportStats['fair queue episodes']).toBe(1);
    expect(c.transportStats['fair queue dropped']).toBe(40 - 31 - 2);
    await turn();
    expect(got).toEqual([...Array.from({ length: 33 }, (_, i) => `127.0.0.9:9:${i}`)]);
    expect(new UdpConnector({ address: '127.0.0.1', port: 0, transport }).transportStats).toEqual({});
  });
});

// SO_REUSEPORT UDP transports (issue 13, workers): on Node.js >= 22.12 two transports bind the same port and
// the kernel spreads peers over them by address; on older Node.js start() fails with a message naming the need.
// CI runs the suite on Node 24 and on Node 20, so each branch runs in one of the two runs.
import dgram from 'node:dgram';
import { describe, expect, it } from 'vitest';
import { reusePortSupported, UdpTransport } from '../../src/transport/datagram.js';

describe('reusePortSupported', () => {
  it('from Node.js 22.12 on Linux', () => {
    expect(reusePortSupported('20.19.2', 'linux')).toBe(false);
    expect(reusePortSupported('22.11.0', 'linux')).toBe(false);
    expect(reusePortSupported('22.12.0', 'linux')).toBe(true);
    expect(reusePortSupported('24.22.3', 'linux')).toBe(true);
    expect(reusePortSupported('24.22.3', 'darwin')).toBe(false);
  });
});

describe.runIf(reusePortSupported())('two transports on one port (SO_REUSEPORT)', () => {
  it('both bind, every peer reaches exactly one of them, the peers are spread over both', async () => {
    const a = new UdpTransport({ address: '127.0.0.1', port: 0, reusePort: true });
    await a.start();
    const port = a.localPort;
    const b = new UdpTransport({ address: '127.0.0.1', port, reusePort: true });
    await b.start();
    const seen = new Map<number, Set<string>>(); // client port -> transports that got it
    const note = (who: string) => (_d: Buffer, _address: string, p: number) => {
      let s = seen.get(p);
      if (s === undefined) seen.set(p, (s = new Set()));
      s.add(who);
    };
    a.onDatagram = note('a');
    b.onDatagram = note('b');
    const clients: dgram.Socket[] = [];
    for (let i = 0; i < 32; i++) {
      const c = dgram.createSocket('udp4');
      await new Promise<void>((r) => c.bind(0, '127.0.0.1', () => r()));
      clients.push(c);
    }
    for (let round = 0; round < 3; round++) for (const c of clients) c.send(Buffer.from('x'), port, '127.0.0.1');
    const deadline = Date.now() + 2000;
    while (seen.size < clients.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(seen.size).toBe(clients.length);
    for (const s of seen.values()) expect(s.size, 'a peer stays with one transport').toBe(1);
    const onA = [...seen.values()].filter((s) => s.has('a')).length;
    expect(onA).toBeGreaterThan(0);
    expect(onA).toBeLessThan(clients.length);
    for (const c of clients) c.close();
    await a.stop();
    await b.stop();
  });

  it('without reusePort the second bind of the port fails', async () => {
    const a = new UdpTransport({ address: '127.0.0.1', port: 0, reusePort: true });
    await a.start();
    const b = new UdpTransport({ address: '127.0.0.1', port: a.localPort });
    await expect(b.start()).rejects.toThrow(/EADDRINUSE/);
    await a.stop();
  });
});

describe.runIf(!reusePortSupported())('reusePort on a Node.js without it', () => {
  it('start() fails with a message naming the version it needs', async () => {
    const t = new UdpTransport({ address: '127.0.0.1', port: 0, reusePort: true });
    await expect(t.start()).rejects.toThrow(/needs Node\.js 22\.12 or later/);
  });
});

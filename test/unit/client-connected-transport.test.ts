// The clients' connected UDP socket (loopback only): datagrams to and from the destination, and an ICMP port
// unreachable reported at once as ECONNREFUSED with the clear text the clients print.
import dgram from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import { ConnectedUdpTransport, ConnectionRefusedError, isRefused, refusedText } from '../../src/clients/connected-transport.js';

const HOST = '127.0.0.1';
const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

/** A UDP port with nothing listening (bound once, then released). */
async function closedPort(): Promise<number> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, HOST, () => r()));
  const port = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

describe('ConnectedUdpTransport', () => {
  it('exchanges datagrams with its destination', async () => {
    const server = dgram.createSocket('udp4');
    await new Promise<void>((r) => server.bind(0, HOST, () => r()));
    cleanup.push(() => new Promise<void>((r) => server.close(() => r())));
    server.on('message', (msg, rinfo) => server.send(Buffer.concat([Buffer.from('echo:'), msg]), rinfo.port, rinfo.address));
    const dest = { address: HOST, port: server.address().port };
    const t = new ConnectedUdpTransport({ address: HOST, port: 0, destination: dest });
    const received = new Promise<{ data: string; address: string; port: number }>((resolve) => {
      t.onDatagram = (data, address, port) => resolve({ data: data.toString(), address, port });
    });
    await t.start();
    cleanup.push(() => t.stop());
    expect(t.localPort).toBeGreaterThan(0);
    const sent = await new Promise<Error | null>((resolve) => t.send(Buffer.from('ping'), dest.address, dest.port, undefined, resolve));
    expect(sent).toBeNull();
    expect(await received).toEqual({ data: 'echo:ping', address: HOST, port: dest.port });
    // the socket talks to its destination only
    const other = await new Promise<Error | null>((resolve) => t.send(Buffer.from('x'), HOST, dest.port + 1, undefined, resolve));
    expect(other?.message).toMatch(/connected to 127\.0\.0\.1:\d+, not 127\.0\.0\.1:\d+/);
  });

  it('ICMP port unreachable: onRefused within a second, with the destination in the text', async () => {
    const port = await closedPort();
    const start = performance.now();
    const refused = new Promise<ConnectionRefusedError>((resolve) => {
      const t = new ConnectedUdpTransport({ address: HOST, port: 0, destination: { address: HOST, port }, onRefused: resolve });
      cleanup.push(() => t.stop());
      void t.start().then(() => t.send(Buffer.from('hello'), HOST, port, undefined, () => {}));
    });
    const err = await Promise.race([refused, new Promise<undefined>((r) => setTimeout(() => r(undefined), 3000))]);
    expect(err, 'no ECONNREFUSED within 3 s').toBeInstanceOf(ConnectionRefusedError);
    expect(performance.now() - start).toBeLessThan(1000);
    expect(err!.message).toBe(`connection refused (ICMP port unreachable), no server at 127.0.0.1:${port}`);
    expect(isRefused(err)).toBe(true);
    expect(err!.destination).toEqual({ address: HOST, port });
  });

  it('texts name IPv6 destinations in brackets', () => {
    expect(refusedText({ address: '::1', port: 5683 })).toBe('connection refused (ICMP port unreachable), no server at [::1]:5683');
  });
});

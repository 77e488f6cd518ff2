// Connection ID (RFC 9146, dtls.md §6) between our client and server connectors: CID length
// combinations, address update on newer records (NAT rebinding), reordered older records.
import dgram from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import type { DtlsConnector } from '../../src/dtls/connector.js';
import { parseDatagram } from '../../src/dtls/record.js';
import { client, echoServer, roundTrip } from '../helpers/dtls-pair.js';

const started: DtlsConnector[] = [];
const sockets: dgram.Socket[] = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((c) => c.stop()));
  for (const s of sockets.splice(0)) s.close();
});

const PSK = { pskIdentity: 'Client_identity', pskSecret: Buffer.from('secretPSK') };

/** Server and client with the given CID lengths; both record the first byte (content type) of each datagram sent. */
async function pair(serverCid: number | undefined, clientCid: number | undefined) {
  const serverTypes: number[] = [];
  const clientTypes: number[] = [];
  const s = await echoServer({ config: { cidLength: serverCid }, outboundFilter: (d) => (serverTypes.push(d[0]!), true) });
  const c = await client({ ...PSK, config: { cidLength: clientCid }, outboundFilter: (d) => (clientTypes.push(d[0]!), true) });
  started.push(c.client, s.server);
  return { s, c, serverTypes, clientTypes };
}

describe('CID length combinations', () => {
  it('server 6 / client 6: tls12_cid records both ways', async () => {
    const { s, c, serverTypes, clientTypes } = await pair(6, 6);
    await c.client.connect('127.0.0.1', s.server.localPort);
    serverTypes.length = 0;
    clientTypes.length = 0;
    const { atServer } = await roundTrip(c, s, 'a');
    expect(atServer.ctx.dtls!.readCid!.length).toBe(6);
    expect(atServer.ctx.dtls!.writeCid!.length).toBe(6);
    expect(clientTypes).toEqual([25]);
    expect(serverTypes).toEqual([25]);
    const conn = c.client.getConnection('127.0.0.1', s.server.localPort)!;
    expect(conn.readCid!.equals(atServer.ctx.dtls!.writeCid!)).toBe(true);
    expect(conn.writeCid!.equals(atServer.ctx.dtls!.readCid!)).toBe(true);
  });

  it('server 6 / client 0: the server writes records without CID', async () => {
    const { s, c, serverTypes, clientTypes } = await pair(6, 0);
    await c.client.connect('127.0.0.1', s.server.localPort);
    serverTypes.length = 0;
    clientTypes.length = 0;
    const { atServer, atClient } = await roundTrip(c, s, 'b');
    expect(atServer.ctx.dtls!.readCid!.length).toBe(6);
    expect(atServer.ctx.dtls!.writeCid!.length).toBe(0);
    expect(atClient.ctx.dtls!.readCid!.length).toBe(0);
    expect(clientTypes).toEqual([25]);
    expect(serverTypes).toEqual([23]);
  });

  it('server 0 / client 6: the server asks for an empty CID but writes the client one', async () => {
    const { s, c, serverTypes, clientTypes } = await pair(0, 6);
    await c.client.connect('127.0.0.1', s.server.localPort);
    serverTypes.length = 0;
    clientTypes.length = 0;
    const { atServer } = await roundTrip(c, s, 'c');
    expect(atServer.ctx.dtls!.readCid!.length).toBe(0);
    expect(atServer.ctx.dtls!.writeCid!.length).toBe(6);
    expect(clientTypes).toEqual([23]);
    expect(serverTypes).toEqual([25]);
  });

  it('server CID disabled, client offers one: no CID at all', async () => {
    const { s, c, serverTypes, clientTypes } = await pair(undefined, 6);
    await c.client.connect('127.0.0.1', s.server.localPort);
    serverTypes.length = 0;
    clientTypes.length = 0;
    const { atServer, atClient } = await roundTrip(c, s, 'd');
    expect(atServer.ctx.dtls!.readCid).toBeUndefined();
    expect(atServer.ctx.dtls!.writeCid).toBeUndefined();
    expect(atClient.ctx.dtls!.readCid).toBeUndefined();
    expect(clientTypes).toEqual([23]);
    expect(serverTypes).toEqual([23]);
    expect(c.client.getConnection('127.0.0.1', s.server.localPort)!.readCid).toBeUndefined();
  });
});

describe('address update (dtls.md §6)', () => {
  it('a client that changes its source port keeps its session; the server answers at the new address', async () => {
    const { s, c } = await pair(6, 6);
    await roundTrip(c, s, 'before');
    const oldPort = c.client.localPort;
    await c.client.rebind();
    expect(c.client.localPort).not.toBe(oldPort);
    const { atServer, atClient } = await roundTrip(c, s, 'after');
    expect(atClient.data.toString()).toBe('echo:after');
    const dtls = atServer.ctx.dtls!;
    expect(atServer.ctx.port).toBe(c.client.localPort);
    expect(dtls.newestRecord).toBe(true);
    expect(dtls.prevAddress).toBe('127.0.0.1');
    expect(dtls.prevPort).toBe(oldPort);
    expect(s.server.stats['handshakes succeeded']).toBe(1);
    expect(s.server.getConnection('127.0.0.1', c.client.localPort)).toBeDefined();
    expect(s.server.getConnection('127.0.0.1', oldPort)).toBeUndefined();
    // the next record from the same address reports no previous address
    const again = await roundTrip(c, s, 'again');
    expect(again.atServer.ctx.dtls!.prevPort).toBeUndefined();
  });

  it('without CID a new source port is an unknown peer', async () => {
    const { s, c } = await pair(undefined, undefined);
    await roundTrip(c, s, 'before');
    await c.client.rebind();
    c.client.send(Buffer.from('lost'), { address: '127.0.0.1', port: s.server.localPort });
    await expect(s.inbox.next(300)).rejects.toThrow();
    expect(s.server.stats['dropped received records']).toBeGreaterThan(0);
  });

  it('an older record is delivered but does not move the address; the newest one does', async () => {
    const captured: Buffer[] = [];
    let capture = false;
    const s = await echoServer({ config: { cidLength: 6 } });
    const c = await client({ ...PSK, config: { cidLength: 6 }, outboundFilter: (d) => (capture ? (captured.push(d), false) : true) });
    started.push(c.client, s.server);
    await roundTrip(c, s, 'first');
    capture = true;
    const dest = { address: '127.0.0.1', port: s.server.localPort };
    c.client.send(Buffer.from('older'), dest);
    c.client.send(Buffer.from('newer'), dest);
    capture = false;
    expect(captured.length).toBe(2);
    const seqs = captured.map((d) => parseDatagram(d, 6)[0]!.seq);
    expect(seqs[1]).toBe(seqs[0]! + 1);
    const bind = async (): Promise<{ socket: dgram.Socket; inbox: Buffer[]; port: number }> => {
      const socket = dgram.createSocket('udp4');
      sockets.push(socket);
      const inbox: Buffer[] = [];
      socket.on('message', (m) => inbox.push(m));
      await new Promise<void>((r) => socket.bind(0, '127.0.0.1', r));
      return { socket, inbox, port: socket.address().port };
    };
    const a = await bind();
    const b = await bind();
    b.socket.send(captured[1]!, dest.port, dest.address);
    const newer = await s.inbox.next();
    expect(newer.data.toString()).toBe('newer');
    expect(newer.ctx.port).toBe(b.port);
    expect(newer.ctx.dtls!.newestRecord).toBe(true);
    expect(newer.ctx.dtls!.prevPort).toBe(c.client.localPort);
    a.socket.send(captured[0]!, dest.port, dest.address);
    const older = await s.inbox.next();
    expect(older.data.toString()).toBe('older');
    expect(older.ctx.port).toBe(a.port);
    expect(older.ctx.dtls!.newestRecord).toBe(false);
    expect(older.ctx.dtls!.prevPort).toBeUndefined();
    // the connection stays at b: both echoes went there
    expect(s.server.getConnection('127.0.0.1', b.port)).toBeDefined();
    expect(s.server.getConnection('127.0.0.1', a.port)).toBeUndefined();
    for (let i = 0; i < 50 && b.inbox.length < 2; i++) await new Promise((r) => setTimeout(r, 10));
    expect(b.inbox.length).toBe(2);
    expect(a.inbox.length).toBe(0);
    // a replay of the newer record is dropped by the replay window
    const dropped = s.server.stats['dropped received records'];
    b.socket.send(captured[1]!, dest.port, dest.address);
    await expect(s.inbox.next(200)).rejects.toThrow();
    expect(s.server.stats['dropped received records']).toBe(dropped + 1);
  });
});

describe('responses follow the connection', () => {
  it('ctx.connection sends over the session even after the peer moved', async () => {
    const { s, c } = await pair(6, 6);
    const { atServer } = await roundTrip(c, s, 'one');
    await c.client.rebind();
    await roundTrip(c, s, 'two'); // moves the connection
    // a late (separate) response sent with the old context still reaches the client at its new port
    s.server.send(Buffer.from('late'), atServer.ctx);
    expect((await c.inbox.next()).data.toString()).toBe('late');
  });

  it('server send without connection fails with onError', async () => {
    const { s } = await pair(6, 6);
    const errors: Error[] = [];
    s.server.send(Buffer.from('x'), { address: '127.0.0.1', port: 9 }, (e) => errors.push(e));
    expect(errors.length).toBe(1);
    expect(s.server.stats['dropped sending records']).toBe(1);
  });
});

describe('IPv6', () => {
  it('handshake and data over ::1 (message size limit with the IPv6 overhead)', async () => {
    const s = await echoServer({ address: '::1' });
    const c = await client({ ...PSK, address: '::1' });
    started.push(c.client, s.server);
    c.client.send(Buffer.from('v6'), { address: '::1', port: s.server.localPort });
    const atServer = await s.inbox.next();
    expect(atServer.ctx.address).toBe('::1');
    expect(atServer.ctx.dtls!.messageSizeLimit).toBe(1500 - 128 - 13 - 6 - 16 - 1);
    expect((await c.inbox.next()).data.toString()).toBe('echo:v6');
  });
});

// Connection state for the graceful restart (restart.md §1: JSON round trip of established connections,
// never handshakes) and the connection store rules (dtls.md §6-§8): CID issuing with node id, capacity,
// stale double principals.
import { afterEach, describe, expect, it } from 'vitest';
import { cipherSuiteByName } from '../../src/dtls/cipher-suites.js';
import { Connection, connectionFromJson, connectionToJson, type ConnectionJson } from '../../src/dtls/connection.js';
import { ConnectionStore } from '../../src/dtls/connection-store.js';
import { DtlsConnector } from '../../src/dtls/connector.js';
import { createEpochState } from '../../src/dtls/epoch-state.js';
import { deriveKeyBlock, epochKeysForRole } from '../../src/dtls/keys.js';
import { accept, type ReplayWindow } from '../../src/dtls/replay-window.js';
import { createRecordProtection } from '../../src/dtls/record-protection.js';
import { parseRecord } from '../../src/dtls/record.js';
import { client, echoServer, roundTrip } from '../helpers/dtls-pair.js';

const started: DtlsConnector[] = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((c) => c.stop()));
});

function established(role: 'server' | 'client', identity: string, now = 1000): Connection {
  const suite = cipherSuiteByName('TLS_PSK_WITH_AES_128_GCM_SHA256')!;
  const keys = epochKeysForRole(deriveKeyBlock(Buffer.alloc(48, 7), Buffer.alloc(32, 1), Buffer.alloc(32, 2), suite), suite, role);
  const conn = new Connection(role, '10.0.0.7', 40163, now);
  conn.readCid = Buffer.from('b92d2e09b995', 'hex');
  conn.writeCid = Buffer.alloc(0);
  conn.session = {
    id: Buffer.alloc(32, 0x3d),
    cipherSuite: suite,
    masterSecret: Buffer.alloc(48, 7),
    peerIdentity: identity,
    extendedMasterSecret: true,
    secureRenegotiation: true,
    creationTime: 123,
    recordSizeLimit: undefined,
    maxFragmentLength: 1024,
    sendCertificateType: undefined,
    receiveCertificateType: undefined,
    namedGroup: undefined,
  };
  conn.epoch = createEpochState(keys);
  conn.protection = createRecordProtection(keys);
  conn.established = true;
  conn.handshakeTime = 456;
  conn.messageSizeLimit = 1367;
  return conn;
}

describe('connection JSON round trip', () => {
  it('restores session, CIDs, keys, sequence numbers and replay window', () => {
    const conn = established('server', 'cali.30FC0A725D79F82C');
    conn.epoch!.nextSeq = 77;
    accept(conn.epoch!.window, 5);
    accept(conn.epoch!.window, 3);
    conn.setAddress('10.0.0.8', 5000);
    conn.router = { address: '10.0.0.2', port: 5884 };
    const json = JSON.parse(JSON.stringify(connectionToJson(conn))) as ConnectionJson;
    const copy = connectionFromJson(json);
    expect(copy.address).toBe('10.0.0.8');
    expect(copy.port).toBe(5000);
    expect(copy.prevPort).toBe(40163);
    expect(copy.router).toEqual({ address: '10.0.0.2', port: 5884 });
    expect(copy.readCid!.toString('hex')).toBe('b92d2e09b995');
    expect(copy.writeCid!.length).toBe(0);
    expect(copy.session!.peerIdentity).toBe('cali.30FC0A725D79F82C');
    expect(copy.session!.maxFragmentLength).toBe(1024);
    expect(copy.session!.masterSecret.equals(conn.session!.masterSecret)).toBe(true);
    expect(copy.epoch!.nextSeq).toBe(77);
    const bits = (w: ReplayWindow) => ({ maxSeq: w.maxSeq, lo: w.lo, hi: w.hi });
    expect(bits(copy.epoch!.window)).toEqual(bits(conn.epoch!.window));
    expect(bits(copy.epoch!.window)).toEqual({ maxSeq: 5, lo: 0b101, hi: 0 });
    expect(copy.messageSizeLimit).toBe(1367);
    expect(copy.established).toBe(true);
    // the restored keys read what the peer writes
    const peer = established('client', 'x');
    const record = peer.protection!.encryptRecord(23, 1, 9, Buffer.from('hi'), copy.readCid);
    expect(copy.protection!.decrypt(parseRecord(record, 0, 6)!)!.plaintext.toString()).toBe('hi');
  });

  it('handshakes in progress and closed connections are not serialized', () => {
    const hs = new Connection('server', '10.0.0.7', 1, 0);
    expect(connectionToJson(hs)).toBeUndefined();
    const closed = established('server', 'a');
    closed.closed = true;
    expect(connectionToJson(closed)).toBeUndefined();
  });

  it('a live connection survives a server restart (save, new connector, load)', async () => {
    const s1 = await echoServer();
    const c = await client({ pskIdentity: 'Client_identity', pskSecret: Buffer.from('secretPSK') });
    started.push(c.client);
    const r1 = await roundTrip(c, s1, 'before restart');
    const saved = JSON.parse(JSON.stringify(s1.server.saveConnections())) as ConnectionJson[];
    const port = s1.server.localPort;
    await s1.server.stop();
    expect(saved.length).toBe(1);
    const s2 = await echoServer({ port });
    started.push(s2.server);
    expect(s2.server.loadConnections(saved)).toBe(1);
    const r2 = await roundTrip(c, s2, 'after restart');
    expect(r2.atClient.data.toString()).toBe('echo:after restart');
    expect(r2.atServer.ctx.dtls!.sessionId.equals(r1.atServer.ctx.dtls!.sessionId)).toBe(true);
    expect(s2.server.stats['handshakes succeeded']).toBe(0);
  });
});

describe('connection store', () => {
  it('CIDs are unique, n bytes, with the node id in byte 0', () => {
    let n = 0;
    const store = new ConnectionStore({ maxConnections: 10, staleConnectionThreshold: 1000, cidLength: 6, nodeId: 0x1ff, random: (len) => Buffer.alloc(len, n++ % 2) });
    const a = store.newCid();
    const conn = new Connection('server', '1.2.3.4', 1, 0);
    conn.readCid = a;
    store.addHandshake(conn);
    const b = store.newCid();
    expect(a.length).toBe(6);
    expect(a[0]).toBe(0xff);
    expect(b[0]).toBe(0xff);
    expect(b.equals(a)).toBe(false);
    expect(store.getByCid(a)).toBe(conn);
    expect(() => new ConnectionStore({ maxConnections: 1, staleConnectionThreshold: 1, cidLength: 4, nodeId: 1 })).toThrow();
  });

  it('a worker of a cluster node: its index in byte 1, after the node id; it needs a node id and 6-byte CIDs', () => {
    const store = new ConnectionStore({ maxConnections: 10, staleConnectionThreshold: 1000, cidLength: 6, nodeId: 2, workerId: 3, random: (len) => Buffer.alloc(len, 0xee) });
    expect(store.newCid()).toEqual(Buffer.from([2, 3, 0xee, 0xee, 0xee, 0xee]));
    expect(() => new ConnectionStore({ maxConnections: 1, staleConnectionThreshold: 1, cidLength: 6, nodeId: undefined, workerId: 1 })).toThrow('a worker id requires a node id');
    expect(() => new ConnectionStore({ maxConnections: 1, staleConnectionThreshold: 1, cidLength: 5, nodeId: 1, workerId: 1 })).toThrow('CID length of at least 6');
  });

  it('capacity: refuse while the LRU connection is fresh, evict it once stale', () => {
    const removed: string[] = [];
    const store = new ConnectionStore({ maxConnections: 2, staleConnectionThreshold: 100, cidLength: 6, nodeId: undefined, onRemoved: (c, r) => removed.push(`${c.port}:${r}`) });
    for (const port of [1, 2]) {
      const c = established('server', `p${port}`, 0);
      c.port = port;
      c.addressKey = `x:${port}`;
      c.readCid = Buffer.from([0, 0, 0, 0, 0, port]);
      store.restore(c);
    }
    expect(store.reserve(50)).toBe(false);
    expect(store.reserve(150)).toBe(true);
    expect(removed).toEqual(['1:evicted']);
    expect(store.size).toBe(1);
  });

  it('finds sessions by id, also ids that share their first four bytes, the newest connection of an id winning', () => {
    const store = new ConnectionStore({ maxConnections: 10, staleConnectionThreshold: 100, cidLength: 6, nodeId: undefined });
    const withId = (port: number, id: Buffer): Connection => {
      const c = established('server', `s${port}`, 0);
      c.setAddress('10.0.0.20', port);
      c.readCid = Buffer.from([1, 2, 3, 4, 5, port]);
      c.session = { ...c.session!, id };
      store.addHandshake(c);
      store.establish(c, 10, false);
      return c;
    };
    const idA = Buffer.alloc(32, 0xa1);
    const idB = Buffer.concat([idA.subarray(0, 4), Buffer.alloc(28, 0xb2)]); // same first four bytes
    const a = withId(1, idA);
    const b = withId(2, idB);
    expect(store.findSession(Buffer.from(idA))).toBe(a);
    expect(store.findSession(Buffer.from(idB))).toBe(b);
    expect(store.findSession(Buffer.concat([idA.subarray(0, 4), Buffer.alloc(28)]))).toBeUndefined();
    expect(store.findSession(Buffer.alloc(0))).toBeUndefined();
    const b2 = withId(3, idB); // resumed: a new connection of session B
    expect(store.findSession(idB)).toBe(b2);
    store.remove(b2, 'closed');
    expect(store.findSession(idB)).toBeUndefined(); // as before: the older connection of B no longer stands for it
    expect(b.closed).toBe(false);
    store.remove(a, 'closed');
    expect(store.findSession(idA)).toBeUndefined();
    const b3 = withId(4, idB);
    expect(store.findSession(idB)).toBe(b3);
    store.clear();
    expect(store.findSession(idB)).toBeUndefined();
  });

  it('removeStaleDoublePrincipals removes an older stale connection of the same principal', () => {
    const store = new ConnectionStore({ maxConnections: 10, staleConnectionThreshold: 100, cidLength: 6, nodeId: undefined });
    const old = established('server', 'same', 0);
    store.restore(old);
    const fresh = established('server', 'same', 500);
    fresh.setAddress('10.0.0.9', 1);
    fresh.readCid = Buffer.from('010203040506', 'hex');
    store.addHandshake(fresh);
    store.establish(fresh, 500, true);
    expect(old.closed).toBe(true);
    expect(store.size).toBe(1);
    // not stale → only marked
    const third = established('server', 'same', 520);
    third.setAddress('10.0.0.10', 1);
    third.readCid = Buffer.from('0102030405ff', 'hex');
    store.addHandshake(third);
    store.establish(third, 520, true);
    expect(fresh.closed).toBe(false);
    expect(fresh.doublePrincipal).toBe(true);
  });
});

// The cluster wire protocol against the Californium 3.14.0 cluster captures: every forwarded (63) and
// backwarded (62) packet parses with the captured client address; our cluster MAC over their bytes
// equals theirs; a management handshake replayed through our peer-role connector derives their cluster
// MAC keys (with the reference's key offset quirk); every PING/PONG decodes.
import { describe, expect, it } from 'vitest';
import { cipherSuiteByCode } from '../../src/dtls/cipher-suites.js';
import { DtlsConnector } from '../../src/dtls/connector.js';
import type { CookieGenerator } from '../../src/dtls/cookie.js';
import { CLUSTER_MAC_LENGTH, decodeClusterPacket, encodeClusterPacket, RECORD_TYPE_INCOMING, RECORD_TYPE_OUTGOING } from '../../src/cluster/header.js';
import { clusterMac, clusterMacKeys, verifyClusterMac } from '../../src/cluster/mac.js';
import { createDtlsChannel, mgmtDtlsConfig } from '../../src/cluster/mgmt-channel.js';
import { decodeMgmtMessage, MGMT_PING, MGMT_PONG } from '../../src/cluster/mgmt-message.js';
import { capturesAvailable, hex, loadCapture, suiteCode, type Capture, type CaptureDatagram, type CaptureSession } from '../helpers/captures.js';
import { createSecretKey } from 'node:crypto';

interface ClusterField {
  type: number;
  port: number;
  address: string;
  address_length: number;
  mac: string | null;
  inner_datagram_length: number;
  mac_key?: string;
  mac_input?: string;
}

const clusterPackets = (c: Capture): Array<CaptureDatagram & { cluster: ClusterField }> =>
  c.datagrams.filter((d) => d['cluster'] !== undefined) as Array<CaptureDatagram & { cluster: ClusterField }>;

function split(addr: string): { address: string; port: number } {
  const i = addr.lastIndexOf(':');
  return { address: addr.slice(0, i), port: Number(addr.slice(i + 1)) };
}

describe.skipIf(!capturesAvailable())('cluster forwarding header (cluster.md §4) against the captures', () => {
  for (const [name, macLength] of [
    ['cluster-static-forward', 0],
    ['cluster-dynamic-secure', CLUSTER_MAC_LENGTH],
  ] as const) {
    it(`${name}: every type 63/62 packet parses and re-encodes to the same bytes`, () => {
      const packets = clusterPackets(loadCapture(name));
      expect(packets.map((p) => p.cluster.type).sort()).toEqual([RECORD_TYPE_OUTGOING, RECORD_TYPE_INCOMING]);
      for (const p of packets) {
        const bytes = hex(p.udp_payload);
        const decoded = decodeClusterPacket(bytes, macLength)!;
        expect(decoded).toBeDefined();
        expect(decoded.type).toBe(p.cluster.type);
        expect(decoded.client).toEqual({ address: p.cluster.address, port: p.cluster.port });
        expect(decoded.headerLength).toBe(4 + p.cluster.address_length);
        const inner = bytes.subarray(decoded.payloadOffset);
        expect(inner.length).toBe(p.cluster.inner_datagram_length);
        // the inner datagram is the record the other side of the NAT carried, unchanged
        expect(inner.toString('hex')).toBe(p.records.map((r) => r.header + r.fragment).join(''));
        const again = encodeClusterPacket(decoded.type, decoded.client, inner, macLength)!;
        if (macLength > 0) bytes.copy(again.packet, again.headerLength, decoded.headerLength, decoded.payloadOffset);
        expect(again.packet.equals(bytes)).toBe(true);
      }
    });
  }

  it('a forwarded record carries the CID of the owning node (byte 11 = node-id)', () => {
    for (const name of ['cluster-static-forward', 'cluster-dynamic-secure']) {
      const c = loadCapture(name);
      for (const p of clusterPackets(c)) {
        const bytes = hex(p.udp_payload);
        const inner = bytes.subarray(decodeClusterPacket(bytes, p.cluster.mac ? 8 : 0)!.payloadOffset);
        const dst = c.endpoints[p.dst]!;
        if (p.cluster.type === RECORD_TYPE_INCOMING) expect(`node${inner[11]}-mgmt`).toBe(dst);
      }
    }
  });

  it('malformed packets are refused: short, bad address length, too little record', () => {
    const good = hex(clusterPackets(loadCapture('cluster-static-forward'))[0]!.udp_payload);
    expect(decodeClusterPacket(good.subarray(0, 32), 0)).toBeUndefined();
    expect(decodeClusterPacket(good.subarray(0, 4 + 4 + 25), 0)).toBeUndefined();
    expect(decodeClusterPacket(good.subarray(0, 4 + 4 + 26), 0)).toBeDefined();
    const badLength = Buffer.from(good);
    badLength[3] = 5;
    expect(decodeClusterPacket(badLength, 0)).toBeUndefined();
    const badType = Buffer.from(good);
    badType[0] = 61;
    expect(decodeClusterPacket(badType, 0)).toBeUndefined();
    // with a MAC the same packet has 8 bytes less record part
    expect(decodeClusterPacket(good.subarray(0, 4 + 4 + 8 + 25), 8)).toBeUndefined();
  });
});

describe.skipIf(!capturesAvailable())('cluster MAC (cluster.md §5) against the dynamic secure capture', () => {
  const capture = (): Capture => loadCapture('cluster-dynamic-secure');
  const mgmtSessions = (): CaptureSession[] => capture().sessions.filter((s) => s.psk_identity === 'dtls-mgmt');

  it('the key expansion extended by two keys yields the captured cluster MAC keys (offset quirk: 36 and 52)', () => {
    expect(mgmtSessions().length).toBeGreaterThanOrEqual(3);
    for (const s of mgmtSessions()) {
      const suite = cipherSuiteByCode(suiteCode(s))!;
      const keys = clusterMacKeys(hex(s.master_secret), hex(s.client_random), hex(s.server_random), suite);
      expect(keys.client.export().toString('hex')).toBe(s['client_cluster_mac_key']);
      expect(keys.server.export().toString('hex')).toBe(s['server_cluster_mac_key']);
      // the client key overlaps the server IV: bytes 36-51 of the extended key block
      expect((s['client_cluster_mac_key'] as string).slice(0, 8)).toBe(s.server_write_iv);
    }
  });

  it("our MAC over the captured packets equals theirs, with the sender's key by its handshake role", () => {
    const c = capture();
    const packets = clusterPackets(c);
    expect(packets.length).toBe(2);
    for (const p of packets) {
      // the management session between the two nodes; the node that initiated it writes with the client key
      const session = mgmtSessions().find((s) => (s.client === p.src && s.server === p.dst) || (s.client === p.dst && s.server === p.src))!;
      const suite = cipherSuiteByCode(suiteCode(session))!;
      const keys = clusterMacKeys(hex(session.master_secret), hex(session.client_random), hex(session.server_random), suite);
      const senderIsClient = session.client === p.src;
      const key = senderIsClient ? keys.client : keys.server;
      const bytes = hex(p.udp_payload);
      const decoded = decodeClusterPacket(bytes, 8)!;
      const mac = clusterMac(key, bytes, decoded.headerLength, decoded.payloadOffset);
      expect(mac.toString('hex')).toBe(p.cluster.mac);
      expect(verifyClusterMac(key, bytes, decoded.headerLength)).toBe(true);
      expect(verifyClusterMac(senderIsClient ? keys.server : keys.client, bytes, decoded.headerLength)).toBe(false);
      // a record part of more than 64 - header bytes: first 32 and last 32 bytes
      const input = Buffer.concat([bytes.subarray(0, 8), bytes.subarray(16, 48), bytes.subarray(bytes.length - 32)]);
      expect(input.toString('hex')).toBe(p.cluster.mac_input);
      // any changed byte of header or covered record part breaks it
      for (const i of [0, 1, 5, 16, bytes.length - 1]) {
        const forged = Buffer.from(bytes);
        forged[i]! ^= 1;
        expect(verifyClusterMac(key, forged, decoded.headerLength)).toBe(false);
      }
    }
  });

  it('short record parts are covered whole', () => {
    const key = createSecretKey(Buffer.alloc(16, 7));
    const enc = encodeClusterPacket(RECORD_TYPE_INCOMING, { address: '127.0.0.1', port: 5684 }, Buffer.alloc(40, 1), 8)!;
    const mac = clusterMac(key, enc.packet, enc.headerLength, enc.headerLength + 8);
    enc.packet[enc.packet.length - 20]! ^= 1;
    expect(clusterMac(key, enc.packet, enc.headerLength, enc.headerLength + 8).equals(mac)).toBe(false);
  });

  it('every PING and PONG of the capture decodes to the captured node-id and state', () => {
    let n = 0;
    for (const d of capture().datagrams) {
      for (const r of d.records) {
        const m = r['cluster_management'] as { type: number; node_id: number; state: string } | undefined;
        if (m === undefined) continue;
        const decoded = decodeMgmtMessage(hex((r as unknown as { decryption: { content: string } }).decryption.content))!;
        expect(decoded.type).toBe(m.type);
        expect([MGMT_PING, MGMT_PONG]).toContain(decoded.type);
        expect(decoded.nodeId).toBe(m.node_id);
        expect(['START', 'UP', 'INITIALIZED'][decoded.state]).toBe(m.state);
        n++;
      }
    }
    expect(n).toBeGreaterThan(10);
  });

  it('replaying node 1 → node 2 management handshake through our peer connector derives their keys and MACs', async () => {
    const c = capture();
    const session = mgmtSessions().find((s) => s.client === '127.0.0.1:15884' && s.server === '127.0.0.1:25884')!;
    const serverAddr = session.server;
    const clientAddr = session.client;
    const hvr = c.datagrams.find((d) => d.src === serverAddr && d.dst === clientAddr && d.records[0]!.handshake_messages?.[0]?.name === 'hello_verify_request')!;
    const cookie = hex(hvr.records[0]!.handshake_messages![0]!['cookie'] as string);
    const cookies: CookieGenerator = { generate: () => cookie, verify: (_a, _p, _b, k) => k.equals(cookie) };
    const outputs: Buffer[] = [];
    const received: Buffer[] = [];
    const node2 = new DtlsConnector({
      address: '127.0.0.1',
      port: 0,
      role: 'peer',
      config: mgmtDtlsConfig(2, undefined),
      pskStore: { lookup: (id) => (id === 'dtls-mgmt' ? Buffer.from('clusterSecret') : undefined) },
      cookieGenerator: cookies,
      random: (purpose) => hex(purpose === 'random' ? session.server_random : purpose === 'session-id' ? session.session_id : session.server_cid),
      outboundFilter: (d) => (outputs.push(Buffer.from(d)), false),
    });
    node2.onDatagram = (data) => received.push(Buffer.from(data));
    await node2.start();
    try {
      const from = split(clientAddr);
      // node 1's datagrams to node 2 from the first ClientHello carrying the session's random on
      const toNode2 = c.datagrams.filter((d) => d.src === clientAddr && d.dst === serverAddr);
      for (const d of toNode2) node2.receiveDatagram(hex(d.udp_payload), from.address, from.port);
      // the server flights (HelloVerifyRequest, ServerHello+Done, CCS+Finished) byte for byte
      const flights = c.datagrams.filter(
        (d) =>
          d.src === serverAddr &&
          d.dst === clientAddr &&
          (d.records[0]!.content_type === 22 || d.records[0]!.content_type === 20) &&
          d.records[0]!.handshake_messages?.[0]?.name !== 'client_hello',
      );
      expect(flights.length).toBe(3);
      expect(outputs.slice(0, flights.length).map((b) => b.toString('hex'))).toEqual(flights.map((d) => d.udp_payload));
      const conn = node2.getConnection(from.address, from.port)!;
      expect(conn.role).toBe('server');
      const keys = clusterMacKeys(conn.session!.masterSecret, conn.clientRandom!, conn.serverRandom!, conn.session!.cipherSuite);
      expect(keys.client.export().toString('hex')).toBe(session['client_cluster_mac_key']);
      expect(keys.server.export().toString('hex')).toBe(session['server_cluster_mac_key']);
      // node 1's PINGs reached the application side of the channel
      const pings = received.map(decodeMgmtMessage).filter((m) => m?.type === MGMT_PING && m.nodeId === 1);
      expect(pings.length).toBeGreaterThan(0);
    } finally {
      await node2.stop();
    }
  });

  it('the DTLS channel of a node picks the write key by its handshake role', async () => {
    // two channels on loopback UDP stand-ins: node A initiates, so A writes with the client key
    const sent: Array<{ from: string; data: Buffer; to: { address: string; port: number } }> = [];
    const mk = (name: string, port: number, nodeId: number) =>
      createDtlsChannel({
        localAddress: '127.0.0.1',
        localPort: () => port,
        send: (data, to, done) => {
          sent.push({ from: name, data: Buffer.from(data), to });
          done(null);
        },
        identity: 'dtls-mgmt',
        secret: Buffer.from('clusterSecret'),
        nodeId,
      });
    const a = mk('a', 40001, 1);
    const b = mk('b', 40002, 2);
    const got: Buffer[] = [];
    b.onMessage = (data) => got.push(Buffer.from(data));
    await a.start();
    await b.start();
    try {
      a.send(Buffer.from([61, 1, 0, 0, 0, 0]), { address: '127.0.0.1', port: 40002 }, false);
      // pump the datagrams between the two channels (bounded)
      for (let i = 0; i < 40 && got.length === 0; i++) {
        const batch = sent.splice(0);
        for (const s of batch) (s.to.port === 40002 ? b : a).receive(s.data, { address: '127.0.0.1', port: s.from === 'a' ? 40001 : 40002 });
        if (batch.length === 0) await new Promise((r) => setTimeout(r, 10));
      }
      expect(got.length).toBe(1);
      const ka = a.macKeys({ address: '127.0.0.1', port: 40002 })!;
      const kb = b.macKeys({ address: '127.0.0.1', port: 40001 })!;
      expect(ka.write.export().equals(kb.read.export())).toBe(true);
      expect(kb.write.export().equals(ka.read.export())).toBe(true);
      expect(ka.write.export().equals(ka.read.export())).toBe(false);
      const conn = a.connector.getConnection('127.0.0.1', 40002)!;
      const keys = clusterMacKeys(conn.session!.masterSecret, conn.clientRandom!, conn.serverRandom!, conn.session!.cipherSuite);
      expect(ka.write.export().equals(keys.client.export())).toBe(true);
    } finally {
      await a.stop();
      await b.stop();
    }
  });
});

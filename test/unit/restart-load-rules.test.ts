// DtlsConnector.loadConnections rules (issue text, restart.md §5): DTLS.MAX_CONNECTIONS keeps the newest,
// address and CID conflicts keep the newer connection (loaded or already in the store) and log what was
// dropped, stale double-principal connections are not restored, restored connections enter the LRU order
// oldest first.
import type { Logger } from 'pino';
import { describe, expect, it } from 'vitest';
import { cipherSuiteByName } from '../../src/dtls/cipher-suites.js';
import { connectionFromJson, type ConnectionJson } from '../../src/dtls/connection.js';
import { DtlsConnector } from '../../src/dtls/connector.js';
import { createEpochState, epochStateToJson } from '../../src/dtls/epoch-state.js';
import { deriveKeyBlock, epochKeysForRole } from '../../src/dtls/keys.js';
import type { DtlsConfig } from '../../src/dtls/config.js';

const NOW = 1_700_000_000_000;

function capture(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const log = (m: unknown) => lines.push(String(m));
  return { logger: { info: log, warn: log, error: log, debug: () => {} } as unknown as Logger, lines };
}

/** A server connector (not started) with the clock at NOW. */
function connector(config: Partial<DtlsConfig> = {}): DtlsConnector {
  return new DtlsConnector({ address: '127.0.0.1', port: 5684, role: 'server', config: { cidLength: 6, ...config }, now: () => NOW });
}

/** A PSK CCM_8 server connection: CID 0000000000<n>, peer 10.0.0.<n>:5000, idle `idleMs`. */
function conn(n: number, idleMs: number, over: Partial<ConnectionJson> = {}): ConnectionJson {
  const suite = cipherSuiteByName('TLS_PSK_WITH_AES_128_CCM_8')!;
  const kb = deriveKeyBlock(Buffer.alloc(48, n), Buffer.alloc(32, 1), Buffer.alloc(32, 2), suite);
  const cid = Buffer.alloc(6);
  cid.writeUIntBE(n, 0, 6);
  return {
    version: 1,
    role: 'server',
    address: `10.0.0.${n}`,
    port: 5000,
    readCid: cid.toString('hex'),
    writeCid: 'b1b2',
    session: {
      id: Buffer.alloc(32, n).toString('hex'),
      cipherSuite: suite.code,
      masterSecret: Buffer.alloc(48, n).toString('hex'),
      peerIdentity: `device-${n}`,
      extendedMasterSecret: true,
      secureRenegotiation: true,
      creationTime: NOW - 100_000,
      recordSizeLimit: null,
      maxFragmentLength: null,
      sendCertificateType: null,
      receiveCertificateType: null,
      namedGroup: null,
    },
    epoch: epochStateToJson(createEpochState(epochKeysForRole(kb, suite, 'server'))),
    seq0: 0,
    lastActivity: NOW - idleMs,
    handshakeTime: NOW - 100_000,
    messageSizeLimit: 1300,
    prevAddress: null,
    prevPort: null,
    router: null,
    macErrors: 0,
    macErrorStart: 0,
    doublePrincipal: false,
    resumptionRequired: false,
    ...over,
  };
}

/** CIDs (hex) of the store, least recently used first. */
function cids(c: DtlsConnector): string[] {
  return [...c.store.values()].map((x) => x.readCid!.toString('hex'));
}

const cid = (n: number): string => conn(n, 0).readCid!;

describe('loadConnections rules', () => {
  it('restores all without conflicts, oldest first in the LRU order, returns the count', () => {
    const c = connector();
    const { logger, lines } = capture();
    expect(c.loadConnections([conn(1, 5_000), conn(2, 1_000), conn(3, 9_000)].map(connectionFromJson), logger)).toBe(3);
    expect(cids(c)).toEqual([cid(3), cid(1), cid(2)]);
    expect(c.stats.connections).toBe(3);
    expect(lines).toEqual([]);
    expect(c.getConnection('10.0.0.2', 5000)?.readCid?.toString('hex')).toBe(cid(2));
  });

  it('two loaded connections at one address: the newer stays, the other is dropped entirely and logged', () => {
    const c = connector();
    const { logger, lines } = capture();
    const older = conn(1, 9_000);
    const newer = conn(2, 1_000, { address: '10.0.0.1' });
    expect(c.loadConnections([newer, older], logger)).toBe(1);
    expect(cids(c)).toEqual([cid(2)]);
    expect(c.store.getByCid(Buffer.from(cid(1), 'hex'))).toBeUndefined();
    expect(c.store.findSession(Buffer.alloc(32, 1))).toBeUndefined();
    expect(lines).toEqual([`load: dropped connection CID ${cid(1)} at 10.0.0.1:5000: address of a newer loaded connection (CID ${cid(2)})`]);
  });

  it('equal activity at one address: the one loaded later stays', () => {
    const c = connector();
    const { logger } = capture();
    expect(c.loadConnections([conn(1, 1_000), conn(2, 1_000, { address: '10.0.0.1' })], logger)).toBe(1);
    expect(cids(c)).toEqual([cid(2)]);
  });

  it('two loaded connections with one CID: the newer stays', () => {
    const c = connector();
    const { logger, lines } = capture();
    expect(c.loadConnections([conn(1, 1_000), conn(2, 5_000, { readCid: cid(1) })], logger)).toBe(1);
    expect(c.getConnection('10.0.0.1', 5000)).toBeDefined();
    expect(c.getConnection('10.0.0.2', 5000)).toBeUndefined();
    expect(lines).toEqual([`load: dropped connection CID ${cid(1)} at 10.0.0.2:5000: CID of a newer loaded connection (CID ${cid(1)})`]);
  });

  it('a loaded connection at the address of a newer one in the store is dropped; an older one in the store is replaced', () => {
    const c = connector();
    c.loadConnections([conn(1, 1_000), conn(2, 9_000)]);
    const { logger, lines } = capture();
    // 3 takes the address of 1 (newer in the store) and of 2 (older in the store)
    const n = c.loadConnections([conn(3, 5_000, { address: '10.0.0.1' }), conn(4, 5_000, { address: '10.0.0.2' })], logger);
    expect(n).toBe(1);
    expect(cids(c).sort()).toEqual([cid(1), cid(4)]);
    expect(c.getConnection('10.0.0.2', 5000)?.readCid?.toString('hex')).toBe(cid(4));
    expect(lines.sort()).toEqual([
      `load: dropped connection CID ${cid(2)} at 10.0.0.2:5000: in the store, address of a newer loaded connection (CID ${cid(4)})`,
      `load: dropped connection CID ${cid(3)} at 10.0.0.1:5000: address of a newer connection in the store (CID ${cid(1)})`,
    ]);
  });

  it('DTLS.MAX_CONNECTIONS: the newest are restored up to the limit, the rest dropped and counted', () => {
    const c = connector({ maxConnections: 3 });
    const { logger, lines } = capture();
    const items = [conn(1, 5_000), conn(2, 1_000), conn(3, 9_000), conn(4, 2_000), conn(5, 7_000)];
    expect(c.loadConnections(items, logger)).toBe(3);
    expect(cids(c)).toEqual([cid(1), cid(4), cid(2)]);
    expect(lines).toEqual(['load: 2 connection(s) dropped: DTLS.MAX_CONNECTIONS 3 reached (the newest were kept)']);
    // connections already in the store are not evicted to make room
    const { logger: l2, lines: lines2 } = capture();
    expect(c.loadConnections([conn(6, 0)], l2)).toBe(0);
    expect(c.store.size).toBe(3);
    expect(lines2).toEqual(['load: 1 connection(s) dropped: DTLS.MAX_CONNECTIONS 3 reached (the newest were kept)']);
    // but a newer connection at the address of one in the store replaces it at the limit
    expect(c.loadConnections([conn(7, 0, { address: '10.0.0.1' })], l2)).toBe(1);
    expect(cids(c)).toEqual([cid(4), cid(2), cid(7)]);
  });

  it('a double-principal connection is only restored while it is not stale', () => {
    const c = connector({ staleConnectionThreshold: 60_000 });
    const { logger, lines } = capture();
    const fresh = conn(1, 59_000, { doublePrincipal: true });
    const stale = conn(2, 60_000, { doublePrincipal: true });
    expect(c.loadConnections([fresh, stale, conn(3, 600_000)], logger)).toBe(2);
    expect(cids(c).sort()).toEqual([cid(1), cid(3)]);
    expect(lines).toEqual(['load: 1 stale double-principal connection(s) not restored']);
  });

  it('connections of the other role are skipped', () => {
    const c = connector();
    const { logger, lines } = capture();
    expect(c.loadConnections([conn(1, 0, { role: 'client' }), conn(2, 0)], logger)).toBe(1);
    expect(lines).toEqual(['load: 1 connection(s) of the other role (not server) skipped']);
  });

  it('many conflicts: the first 20 are logged one by one, then a count', () => {
    const c = connector();
    const { logger, lines } = capture();
    const items = Array.from({ length: 30 }, (_, i) => conn(i + 1, 1_000 + i, { address: '10.9.9.9' }));
    expect(c.loadConnections(items, logger)).toBe(1);
    expect(cids(c)).toEqual([cid(1)]);
    expect(lines.length).toBe(21);
    expect(lines[20]).toBe('load: 9 more connection(s) dropped for address or CID conflicts');
  });
});

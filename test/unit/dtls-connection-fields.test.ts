// The compact field layout of a Connection (issue 10): times kept as small offsets (exact for any clock), booleans as
// flags, the MAC error filter made on demand, the handshake leftovers (randoms, last flight) in one string.
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { cipherSuiteByName } from '../../src/dtls/cipher-suites.js';
import { Connection } from '../../src/dtls/connection.js';
import { createEpochState } from '../../src/dtls/epoch-state.js';
import type { FlightEntry } from '../../src/dtls/flight.js';
import { epochKeysToJson, type EpochKeys } from '../../src/dtls/keys.js';
import { accept, createReplayWindow } from '../../src/dtls/replay-window.js';
import { copySession, type Session } from '../../src/dtls/session.js';

describe('Connection fields', () => {
  it('gives back every time exactly: wall clock, fractional, zero, negative and huge values', () => {
    const c = new Connection('server', '10.0.0.1', 5684, 0);
    expect([c.lastActivity, c.lastTouch, c.handshakeTime]).toEqual([0, 0, 0]);
    const d = new Connection('server', '10.0.0.1', 5684, Date.now() + 0.5);
    expect(d.lastActivity - Date.now()).toBeLessThan(1);
    expect(d.handshakeTime).toBe(0);
    for (const t of [Date.now(), Date.now() + 0.123456789, Date.now() + 30 * 86400000, 1234.5678, 0, -17, 2 ** 52 + 1, 1e-9, 1.7e12 + 0.1]) {
      c.lastActivity = t;
      c.lastTouch = t + 1;
      c.handshakeTime = t * 3;
      expect([c.lastActivity, c.lastTouch, c.handshakeTime]).toEqual([t, t + 1, t * 3]);
    }
  });

  it('keeps the replay window bitmap as uint32 halves', () => {
    const c = new Connection('server', '10.0.0.1', 5684, 0);
    c.lo = 0xffffffff;
    c.hi = 0x80000001;
    expect([c.lo, c.hi, c.window.lo, c.window.hi]).toEqual([0xffffffff, 0x80000001, 0xffffffff, 0x80000001]);
    for (let seq = 0; seq < 100; seq++) if (seq % 5 !== 2) accept(c.window, seq);
    const w = createReplayWindow();
    for (let seq = 0; seq < 100; seq++) if (seq % 5 !== 2) accept(w, seq);
    expect({ maxSeq: c.maxSeq, lo: c.lo, hi: c.hi }).toEqual(w);
    expect(c.lo).toBeGreaterThanOrEqual(2 ** 31);
  });

  it('keeps its booleans apart', () => {
    const c = new Connection('client', '10.0.0.1', 5684, 0);
    expect([c.established, c.closed, c.doublePrincipal, c.resumptionRequired]).toEqual([false, false, false, false]);
    c.closed = true;
    c.resumptionRequired = true;
    expect([c.established, c.closed, c.doublePrincipal, c.resumptionRequired]).toEqual([false, true, false, true]);
    c.established = true;
    c.closed = false;
    c.doublePrincipal = true;
    expect([c.established, c.closed, c.doublePrincipal, c.resumptionRequired]).toEqual([true, false, true, true]);
    expect(c.epoch).toBeUndefined();
  });

  it('makes the MAC error filter state at the first error and runs the filter', () => {
    const c = new Connection('server', '10.0.0.1', 5684, 0);
    expect([c.macErrors, c.macErrorStart, c.macFilterUntil]).toEqual([0, 0, 0]);
    expect(c.macFiltered(1000)).toBe(false);
    c.macError(1000, 2, 500);
    c.macError(1100, 2, 500);
    expect(c.macFiltered(1150)).toBe(false);
    c.macError(1200, 2, 500); // third error within the period: filter on until 1700
    expect([c.macErrors, c.macErrorStart, c.macFilterUntil]).toEqual([3, 1000, 1700]);
    expect(c.macFiltered(1699)).toBe(true);
    expect(c.macFiltered(1700)).toBe(false);
    expect([c.macErrors, c.macFilterUntil]).toEqual([0, 0]);
    const d = new Connection('server', '10.0.0.1', 5684, 0);
    d.macErrorStart = 5;
    d.macErrors = 2;
    expect([d.macErrors, d.macErrorStart, d.macFilterUntil]).toEqual([2, 5, 0]);
  });

  it('keeps randoms and last flight together and releases them part by part', () => {
    const c = new Connection('server', '10.0.0.1', 5684, 0);
    expect(c.keepsLeftovers).toBe(false);
    const cr = Buffer.from(Array.from({ length: 32 }, (_, i) => 255 - i));
    const sr = Buffer.alloc(32, 0x80);
    const body = Buffer.from([0, 1, 2, 0xfe, 0xff, 0x7f, 0x80, 9, 8, 7, 6, 5]);
    c.clientRandom = cr;
    expect(c.hasClientRandom(cr)).toBe(true);
    expect(c.hasClientRandom(sr)).toBe(false);
    expect(c.serverRandom).toBeUndefined();
    expect(c.hasLastFlight).toBe(false);
    c.serverRandom = sr;
    const flight: FlightEntry[] = [
      { kind: 'ccs', epoch: 0 },
      { kind: 'handshake', epoch: 1, msg: { msgType: 20, messageSeq: 0x1234, body } },
    ];
    c.lastFlight = flight;
    expect(c.hasLastFlight).toBe(true);
    expect(c.clientRandom!.equals(cr)).toBe(true);
    expect(c.serverRandom!.equals(sr)).toBe(true);
    expect(c.lastFlight).toEqual(flight);
    c.lastFlight = undefined;
    expect(c.hasLastFlight).toBe(false);
    expect(c.keepsLeftovers).toBe(true);
    expect(c.serverRandom!.equals(sr)).toBe(true);
    c.clientRandom = undefined;
    c.serverRandom = undefined;
    expect(c.keepsLeftovers).toBe(false);
    expect(c.clientRandom).toBeUndefined();
  });
});

describe('a packed connection', () => {
  /** A connection with a session and epoch-1 keys of TLS_PSK_WITH_AES_128_CCM_8, not yet packed. */
  function unpacked(extras: Partial<Session>) {
    const suite = cipherSuiteByName('TLS_PSK_WITH_AES_128_CCM_8')!;
    const c = new Connection('server', '10.0.0.1', 5684, 0);
    const session: Session = {
      id: randomBytes(32),
      cipherSuite: suite,
      masterSecret: randomBytes(48),
      peerIdentity: 'cali.packed',
      extendedMasterSecret: true,
      secureRenegotiation: false,
      creationTime: Date.now(),
      recordSizeLimit: undefined,
      maxFragmentLength: undefined,
      sendCertificateType: undefined,
      receiveCertificateType: undefined,
      namedGroup: undefined,
      ...extras,
    };
    const keys: EpochKeys = {
      cipherSuite: suite.code,
      epoch: 1,
      read: { key: randomBytes(16), iv: randomBytes(4), macKey: Buffer.alloc(0) },
      write: { key: randomBytes(16), iv: randomBytes(4), macKey: Buffer.alloc(0) },
    };
    c.readCid = randomBytes(6);
    c.writeCid = randomBytes(3);
    c.session = session;
    c.epoch = createEpochState(keys);
    return { c, session, keys };
  }

  it('reads back the same session, CIDs and keys, for every kind of session', () => {
    for (const extras of [{}, { creationTime: 1234.5678, secureRenegotiation: true, extendedMasterSecret: false }, { recordSizeLimit: 512, namedGroup: 23, sendCertificateType: 2, id: Buffer.alloc(0), peerIdentity: undefined }]) {
      const { c, session, keys } = unpacked(extras);
      const readCid = c.readCid!;
      const writeCid = c.writeCid!;
      expect(c.pack()).toBe(true);
      expect(c.session).not.toBe(session);
      expect(copySession(c.session!)).toEqual(session);
      expect(c.readCid!.equals(readCid) && c.writeCid!.equals(writeCid)).toBe(true);
      expect(epochKeysToJson(c.epoch!.keys)).toEqual(epochKeysToJson(keys));
      expect(c.pack()).toBe(false); // once
    }
  });

  it('keeps keys that do not fit the session suite unpacked', () => {
    const { c, keys } = unpacked({});
    c.epoch = createEpochState({ ...keys, read: { ...keys.read, key: randomBytes(32) } });
    expect(c.pack()).toBe(false);
    expect(c.epoch!.keys.read.key.length).toBe(32);
  });
});

// The plain restart stream (restart.md §2): round trip, time shift, labels, truncated/corrupt input,
// size per connection.
import { describe, expect, it } from 'vitest';
import { cipherSuiteByName } from '../../src/dtls/cipher-suites.js';
import type { ConnectionJson } from '../../src/dtls/connection.js';
import { createEpochState, epochStateToJson } from '../../src/dtls/epoch-state.js';
import { deriveKeyBlock, epochKeysForRole } from '../../src/dtls/keys.js';
import { accept } from '../../src/dtls/replay-window.js';
import { ByteReader, ByteWriter } from '../../src/restart/bytes.js';
import { componentLabel, readStream, writeStream, type Component } from '../../src/restart/stream.js';
import { loadingMapping, timeShift, type TimeMark } from '../../src/restart/time-mark.js';
import { mulberry32 } from '../helpers/random.js';

const MARK: TimeMark = { wallMs: 1_700_000_000_000, monoNs: 5_000_000_000n };

/** A PSK CCM_8 server connection with 6-byte CIDs both ways. */
function sampleConnection(over: Partial<ConnectionJson> = {}, suiteName = 'TLS_PSK_WITH_AES_128_CCM_8'): ConnectionJson {
  const suite = cipherSuiteByName(suiteName)!;
  const kb = deriveKeyBlock(Buffer.alloc(48, 9), Buffer.alloc(32, 1), Buffer.alloc(32, 2), suite);
  const epoch = createEpochState(epochKeysForRole(kb, suite, 'server'));
  accept(epoch.window, 3);
  accept(epoch.window, 5);
  epoch.nextSeq = 7;
  return {
    version: 1,
    role: 'server',
    address: '127.0.0.1',
    port: 40_000,
    readCid: 'a1a2a3a4a5a6',
    writeCid: 'b1b2b3b4b5b6',
    session: {
      id: Buffer.alloc(32, 0x33).toString('hex'),
      cipherSuite: suite.code,
      masterSecret: Buffer.alloc(48, 0x44).toString('hex'),
      peerIdentity: 'Client_identity',
      extendedMasterSecret: true,
      secureRenegotiation: true,
      creationTime: MARK.wallMs - 20_000,
      recordSizeLimit: null,
      maxFragmentLength: null,
      sendCertificateType: null,
      receiveCertificateType: null,
      namedGroup: null,
    },
    epoch: epochStateToJson(epoch),
    seq0: 4,
    lastActivity: MARK.wallMs - 10_000,
    handshakeTime: MARK.wallMs - 20_000,
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

/** Every optional field set, CBC suite, IPv6 and text addresses, client role. */
function fullConnection(): ConnectionJson {
  const base = sampleConnection({}, 'TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256');
  return {
    ...base,
    role: 'client',
    address: 'fe80::1%lo',
    readCid: '',
    writeCid: null,
    session: { ...base.session, id: '', peerIdentity: 'CN=cf-client,O=Eclipse', recordSizeLimit: 512, maxFragmentLength: 1024, sendCertificateType: 2, receiveCertificateType: 0, namedGroup: 23 },
    prevAddress: '::ffff:10.0.0.1',
    prevPort: 5000,
    router: { address: '2001:db8::7', port: 5685 },
    macErrors: 3,
    macErrorStart: MARK.wallMs - 500,
    doublePrincipal: true,
    resumptionRequired: true,
  };
}

function read(data: Buffer, now: TimeMark = MARK) {
  const components: Component[] = [];
  const result = readStream(data, (c) => components.push(c), now);
  return { components, result };
}

describe('restart stream', () => {
  it('labels: IPv4, IPv6 in brackets, scope as %25, wildcard', () => {
    expect(componentLabel('127.0.0.1', 5684)).toBe('dtls://127.0.0.1:5684');
    expect(componentLabel('::1', 5784)).toBe('dtls://[::1]:5784');
    expect(componentLabel('fe80::1%eth0', 5784)).toBe('dtls://[fe80::1%25eth0]:5784');
    expect(componentLabel('::', 5684)).toBe('dtls://[::]:5684');
    expect(componentLabel('0.0.0.0', 5684)).toBe('dtls://0.0.0.0:5684');
  });

  it('starts with the time mark item and COMPONENTS and ends with 0xFFFF', () => {
    const data = writeStream([{ label: 'dtls://127.0.0.1:5684', connections: [] }], MARK);
    const r = new ByteReader(data);
    const mark = r.item(1)!;
    expect(mark.version).toBe(1);
    expect(mark.content.remaining).toBe(16);
    expect(Number(mark.content.int64())).toBe(MARK.wallMs);
    expect(mark.content.int64()).toBe(MARK.monoNs);
    expect(r.string(1)).toBe('COMPONENTS');
    expect(r.string(2)).toBe('dtls://127.0.0.1:5684');
    expect(r.item(2)).toBeUndefined();
    expect(r.string(2)).toBeUndefined();
    expect(r.remaining).toBe(0);
  });

  it('round trip: every ConnectionJson field survives, components in order', () => {
    const a = sampleConnection();
    const b = fullConnection();
    const c = sampleConnection({ address: '::1', port: 1, readCid: null, writeCid: null });
    const input: Component[] = [
      { label: 'dtls://127.0.0.1:5684', connections: [a, b] },
      { label: 'dtls://[::1]:5784', connections: [] },
      { label: 'dtls://[::1]:5684', connections: [c] },
    ];
    const { components, result } = read(writeStream(input, MARK));
    expect(result).toEqual({ components: 3, items: 3 });
    expect(components).toEqual(input);
  });

  it('time shift: ages survive a move to a process with another monotonic clock', () => {
    const conn = sampleConnection({ macErrors: 1, macErrorStart: MARK.wallMs - 2_000 });
    const data = writeStream([{ label: 'x', connections: [conn] }], MARK);
    const later: TimeMark = { wallMs: MARK.wallMs + 60_000, monoNs: 77_000_000_000n };
    expect(timeShift(MARK, later)).toBe(77_000_000_000n - 5_000_000_000n - 60_000_000_000n);
    const loaded = read(data, later).components[0]!.connections[0]!;
    // wall clock moved forward by 60 s: the connection was idle 10 s and is 70 s idle now
    expect(later.wallMs - loaded.lastActivity).toBe(70_000);
    expect(later.wallMs - loaded.macErrorStart).toBe(62_000);
    // wall-clock times are kept as they are
    expect(loaded.handshakeTime).toBe(conn.handshakeTime);
    expect(loaded.session.creationTime).toBe(conn.session.creationTime);
    // wall clock set back: the elapsed time counts as 0, the age stays 10 s
    const back: TimeMark = { wallMs: MARK.wallMs - 3_600_000, monoNs: 1n };
    const loadedBack = read(data, back).components[0]!.connections[0]!;
    expect(back.wallMs - loadedBack.lastActivity).toBe(10_000);
    expect(loadingMapping(MARK, MARK)(MARK.monoNs)).toBe(MARK.wallMs);
  });

  it('size per connection: a PSK CCM_8 connection with 6-byte CIDs stays well below 284 bytes', () => {
    const one = writeStream([{ label: 'l', connections: [sampleConnection()] }], MARK);
    const two = writeStream([{ label: 'l', connections: [sampleConnection(), sampleConnection()] }], MARK);
    const perConnection = two.length - one.length;
    console.log(`restart stream: ${perConnection} bytes per PSK CCM_8 CID connection (identity 'Client_identity')`);
    expect(perConnection).toBeLessThan(220);
  });

  it('truncated input: every prefix gives a clean error, complete components before it are delivered', () => {
    const input: Component[] = [
      { label: 'first', connections: [sampleConnection()] },
      { label: 'second', connections: [fullConnection(), sampleConnection()] },
    ];
    const data = writeStream(input, MARK);
    const firstEnd = writeStream([input[0]!], MARK).length - 2;
    for (let n = 0; n < data.length; n++) {
      const { components, result } = read(data.subarray(0, n));
      expect(result.error, `prefix ${n}`).toBeDefined();
      // the terminator (2 bytes) is the only thing missing of the last prefixes
      expect(components.length, `prefix ${n}`).toBe(n >= data.length - 2 ? 2 : n >= firstEnd ? 1 : 0);
      if (n >= firstEnd + 2 + 'second'.length && n < data.length - 2) expect(result.error!.label, `prefix ${n}`).toBe('second');
    }
    expect(read(Buffer.concat([data, Buffer.from([0])])).result.error?.message).toMatch(/trailing/);
  });

  it('corrupt input never throws (bounded fuzz)', () => {
    const data = writeStream([{ label: 'a', connections: [sampleConnection(), fullConnection()] }], MARK);
    const rnd = mulberry32(4711);
    for (let i = 0; i < 2000; i++) {
      const copy = Buffer.from(data);
      const flips = 1 + Math.floor(rnd() * 4);
      for (let f = 0; f < flips; f++) copy[Math.floor(rnd() * copy.length)] = Math.floor(rnd() * 256);
      expect(() => read(copy)).not.toThrow();
    }
    expect(read(Buffer.alloc(0)).result.error).toBeDefined();
    expect(read(Buffer.from('not a stream')).result.error).toBeDefined();
  });

  it('an unknown cipher suite or item version is a parse error naming the component', () => {
    const w = new ByteWriter();
    w.item(1, 1, (b) => b.int64(BigInt(MARK.wallMs)).int64(MARK.monoNs)).string('COMPONENTS', 1).string('bad', 2);
    w.item(9, 2, (b) => b.uint(0, 1));
    w.uint(0, 1).string(undefined, 2);
    const { components, result } = read(w.toBuffer());
    expect(components).toEqual([]);
    expect(result.error).toEqual({ label: 'bad', message: 'unsupported connection item version 9' });
    const bogus = sampleConnection();
    bogus.session.cipherSuite = 0x1234;
    const data = writeStream([{ label: 'l', connections: [bogus] }], MARK, (_l, err) => expect(err.message).toMatch(/unknown cipher suite/));
    expect(read(data).components).toEqual([{ label: 'l', connections: [] }]);
  });
});

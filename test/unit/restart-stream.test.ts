// The plain restart stream (restart.md §2): round trip, time shift, labels, truncated/corrupt input,
// digest, identity dictionary, size per connection.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { cipherSuiteByName, type CipherSuite } from '../../src/dtls/cipher-suites.js';
import { connectionFromJson, connectionToJson, type Connection, type ConnectionJson } from '../../src/dtls/connection.js';
import { createEpochState, epochStateToJson } from '../../src/dtls/epoch-state.js';
import { deriveKeyBlock, epochKeysForRole } from '../../src/dtls/keys.js';
import { accept } from '../../src/dtls/replay-window.js';
import { ByteReader, ByteWriter } from '../../src/restart/bytes.js';
import { CONNECTION_ITEM_VERSION } from '../../src/restart/connection-item.js';
import { componentLabel, DIGEST_ITEM_VERSION, readStream, writeStream, type Component } from '../../src/restart/stream.js';
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

/** Connection objects of JSON forms. */
function conns(...json: ConnectionJson[]): Connection[] {
  return json.map(connectionFromJson);
}

/** A component as JSON (comparable with toEqual). */
interface JsonComponent {
  label: string;
  connections: ConnectionJson[];
}

function toObjects(input: JsonComponent[]): Component[] {
  return input.map((c) => ({ label: c.label, connections: conns(...c.connections) }));
}

function read(data: Buffer, now: TimeMark = MARK) {
  const components: JsonComponent[] = [];
  const result = readStream(data, (c) => components.push({ label: c.label, connections: c.connections.map((x) => connectionToJson(x)!) }), now);
  return { components, result };
}

/** Bytes per connection of a component holding `a` then `b` (difference to a component with `a` only). */
function itemSize(a: ConnectionJson, b: ConnectionJson): number {
  const one = writeStream([{ label: 'l', connections: conns(a) }], MARK);
  const two = writeStream([{ label: 'l', connections: conns(a, b) }], MARK);
  return two.length - one.length;
}

describe('restart stream', () => {
  it('labels: IPv4, IPv6 in brackets, scope as %25, wildcard', () => {
    expect(componentLabel('127.0.0.1', 5684)).toBe('dtls://127.0.0.1:5684');
    expect(componentLabel('::1', 5784)).toBe('dtls://[::1]:5784');
    expect(componentLabel('fe80::1%eth0', 5784)).toBe('dtls://[fe80::1%25eth0]:5784');
    expect(componentLabel('::', 5684)).toBe('dtls://[::]:5684');
    expect(componentLabel('0.0.0.0', 5684)).toBe('dtls://0.0.0.0:5684');
  });

  it('starts with the time mark item and COMPONENTS, a component ends with its digest item and 0x00, the stream with 0xFFFF', () => {
    const data = writeStream([{ label: 'dtls://127.0.0.1:5684', connections: [] }], MARK);
    const r = new ByteReader(data);
    const mark = r.item(1)!;
    expect(mark.version).toBe(1);
    expect(mark.content.remaining).toBe(16);
    expect(Number(mark.content.int64())).toBe(MARK.wallMs);
    expect(mark.content.int64()).toBe(MARK.monoNs);
    expect(r.string(1)).toBe('COMPONENTS');
    expect(r.string(2)).toBe('dtls://127.0.0.1:5684');
    const digestAt = r.position;
    const digest = r.item(2)!;
    expect(digest.version).toBe(DIGEST_ITEM_VERSION);
    // the first 16 bytes of SHA-256 over everything before the digest item
    expect(digest.content.bytes(16)).toEqual(createHash('sha256').update(data.subarray(0, digestAt)).digest().subarray(0, 16));
    expect(r.item(2)).toBeUndefined();
    expect(r.string(2)).toBeUndefined();
    expect(r.remaining).toBe(0);
    expect(data.length).toBe(18 + 11 + 2 + 21 + 19 + 1 + 2);
  });

  it('connection item version 2, 2-byte length', () => {
    const empty = writeStream([{ label: 'l', connections: [] }], MARK);
    const data = writeStream([{ label: 'l', connections: conns(sampleConnection()) }], MARK);
    const r = new ByteReader(data.subarray(18 + 11 + 2 + 1));
    const item = r.item(2)!;
    expect(item.version).toBe(CONNECTION_ITEM_VERSION);
    expect(CONNECTION_ITEM_VERSION).toBe(2);
    expect(data.length - empty.length).toBe(3 + item.content.remaining);
  });

  it('round trip: every ConnectionJson field survives, components in order', () => {
    const a = sampleConnection();
    const b = fullConnection();
    const c = sampleConnection({ address: '::1', port: 1, readCid: null, writeCid: null });
    const input: JsonComponent[] = [
      { label: 'dtls://127.0.0.1:5684', connections: [a, b] },
      { label: 'dtls://[::1]:5784', connections: [] },
      { label: 'dtls://[::1]:5684', connections: [c] },
    ];
    const { components, result } = read(writeStream(toObjects(input), MARK));
    expect(result).toEqual({ components: 3, items: 3 });
    expect(components).toEqual(input);
  });

  it('round trip: IPv4-mapped, IPv6 and text addresses, a future activity, a window with bits beyond its start', () => {
    const raw = sampleConnection({ address: '::ffff:192.0.2.1', lastActivity: MARK.wallMs + 5_000 });
    raw.epoch.window = { maxSeq: 2, lo: 0xff, hi: 0x80000000 };
    const input: JsonComponent[] = [
      {
        label: 'x',
        connections: [
          raw,
          sampleConnection({ address: '2001:db8::1', readCid: 'c1c2c3c4c5c6', session: { ...sampleConnection().session, peerIdentity: null } }),
          sampleConnection({ address: '2001:0db8::2', readCid: 'd1d2d3d4d5d6' }),
          sampleConnection({ address: 'localhost', readCid: 'e1e2e3e4e5e6', epoch: { ...sampleConnection().epoch, window: { maxSeq: 200, lo: 0xfffffffe, hi: 0x7fffffff } } }),
        ],
      },
    ];
    expect(read(writeStream(toObjects(input), MARK)).components).toEqual(input);
  });

  it('a v1 connection item is refused as unsupported', () => {
    const w = new ByteWriter();
    w.item(1, 1, (b) => b.int64(BigInt(MARK.wallMs)).int64(MARK.monoNs)).string('COMPONENTS', 1).string('old', 2);
    w.item(1, 2, (b) => b.uint(0, 4));
    w.uint(0, 1).string(undefined, 2);
    expect(read(w.toBuffer()).result.error).toEqual({ label: 'old', where: 'component old, item 1', message: 'unsupported connection item version 1' });
  });

  it('time shift: ages survive a move to a process with another monotonic clock', () => {
    const conn = sampleConnection({ macErrors: 1, macErrorStart: MARK.wallMs - 2_000 });
    const data = writeStream([{ label: 'x', connections: conns(conn) }], MARK);
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

  it('size per connection: a PSK CCM_8 connection with 6-byte CIDs stays below 200 bytes', () => {
    const withIdentity = (id: string): ConnectionJson => sampleConnection({ session: { ...sampleConnection().session, peerIdentity: id } });
    // a new identity each time (benchmark client: cali.<16 hex>), and a repeated one (dictionary)
    const fresh = itemSize(withIdentity('cali.0123456789ABCDEF'), withIdentity('cali.FEDCBA9876543210'));
    const repeated = itemSize(withIdentity('Client_identity'), withIdentity('Client_identity'));
    const first = itemSize(withIdentity('Client_identity'), withIdentity('Other_identity_'));
    console.log(`restart stream: ${fresh} bytes per PSK CCM_8 CID connection with a new cali.<16 hex> identity, ${first} with a new 'Client_identity', ${repeated} with a repeated one`);
    // 164 bytes without the identity: item header 3, flags 2, times 3 + 3 + 1, IPv4 peer 7, CIDs 7 + 7, session id 33,
    // suite 2, master secret 48, epoch 1, keys 2 × (16 + 4), window 3, sequence numbers 1 + 1, message size limit 2
    expect(fresh).toBe(164 + 1 + 21);
    expect(first).toBe(164 + 1 + 15);
    expect(repeated).toBe(164 + 1);
    expect(fresh).toBeLessThanOrEqual(200);
  });

  it('identity dictionary: per component, and a connection that could not be written defines no entry', () => {
    const a = sampleConnection({ session: { ...sampleConnection().session, peerIdentity: 'shared' } });
    const b = sampleConnection({ readCid: 'a1a2a3a4a5a7', session: { ...sampleConnection().session, peerIdentity: 'shared' } });
    const bad = connectionFromJson(a);
    bad.session!.recordSizeLimit = 70_000; // fails after its identity was encoded
    const skipped: string[] = [];
    const data = writeStream(
      [
        { label: 'one', connections: [bad, ...conns(b, a)] },
        { label: 'two', connections: conns(a) },
      ],
      MARK,
      (_l, err) => skipped.push(err.message),
    );
    expect(skipped).toEqual(['value 70000 does not fit 2 bytes']);
    expect(read(data).components).toEqual([
      { label: 'one', connections: [b, a] },
      { label: 'two', connections: [a] },
    ]);
  });

  it('truncated input: every prefix gives a clean error, complete components before it are delivered', () => {
    const input: JsonComponent[] = [
      { label: 'first', connections: [sampleConnection()] },
      { label: 'second', connections: [fullConnection(), sampleConnection()] },
    ];
    const data = writeStream(toObjects(input), MARK);
    const firstEnd = writeStream(toObjects([input[0]!]), MARK).length - 2;
    for (let n = 0; n < data.length; n++) {
      const { components, result } = read(data.subarray(0, n));
      expect(result.error, `prefix ${n}`).toBeDefined();
      expect(result.error!.message, `prefix ${n}`).toMatch(/truncated|terminator/);
      // the terminator (2 bytes) is the only thing missing of the last prefixes
      expect(components.length, `prefix ${n}`).toBe(n >= data.length - 2 ? 2 : n >= firstEnd ? 1 : 0);
      if (n >= firstEnd + 2 + 'second'.length && n < data.length - 2) expect(result.error!.label, `prefix ${n}`).toBe('second');
    }
    expect(read(Buffer.concat([data, Buffer.from([0])])).result.error?.message).toMatch(/trailing/);
  });

  it('corrupt input never throws (bounded fuzz)', () => {
    const data = writeStream([{ label: 'a', connections: conns(sampleConnection(), fullConnection()) }], MARK);
    const rnd = mulberry32(4711);
    for (let i = 0; i < 2000; i++) {
      const copy = Buffer.from(data);
      const flips = 1 + Math.floor(rnd() * 4);
      for (let f = 0; f < flips; f++) copy[Math.floor(rnd() * copy.length)] = Math.floor(rnd() * 256);
      expect(() => read(copy)).not.toThrow();
      // the digest refuses every change before the terminator (a random replacement may write the same byte)
      const end = data.length - 2;
      if (!copy.subarray(0, end).equals(data.subarray(0, end))) expect(read(copy).components).toEqual([]);
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
    expect(result.error).toEqual({ label: 'bad', where: 'component bad, item 1', message: 'unsupported connection item version 9' });
    const bogus = connectionFromJson(sampleConnection());
    bogus.session!.cipherSuite = { ...bogus.session!.cipherSuite, code: 0x1234 } as CipherSuite;
    const data = writeStream([{ label: 'l', connections: [bogus] }], MARK, (_l, err) => expect(err.message).toMatch(/unknown cipher suite 0x1234/));
    expect(read(data).components).toEqual([{ label: 'l', connections: [] }]);
  });

  it('a missing digest item or a wrong digest refuses the component', () => {
    const w = new ByteWriter();
    w.item(1, 1, (b) => b.int64(BigInt(MARK.wallMs)).int64(MARK.monoNs)).string('COMPONENTS', 1).string('l', 2);
    w.uint(0, 1).string(undefined, 2);
    expect(read(w.toBuffer()).result.error).toEqual({ label: 'l', where: 'component l, item 1', message: 'digest item missing' });
    const data = writeStream([{ label: 'l', connections: conns(sampleConnection()) }], MARK);
    const damaged = Buffer.from(data);
    damaged[5]! ^= 0x01; // inside the time mark: ages would silently change
    const { components, result } = read(damaged);
    expect(components).toEqual([]);
    expect(result.error).toEqual({ label: 'l', where: 'component l, digest', message: 'digest mismatch (damaged data)' });
  });
});

// Hostile input for loadConnectors (restart.md §4, §5) with real DTLS connectors: a small saved file
// (two components, three handshaken connections) truncated at every length and with every single bit
// flipped, wrong passwords and cipher ids, huge length fields, unknown labels. A load never throws,
// never leaves part of a component, never restores altered state, and says why it failed.
import type { Logger } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConnectionJson } from '../../src/dtls/connection.js';
import { DtlsConnector } from '../../src/dtls/connector.js';
import { ByteReader, ByteWriter } from '../../src/restart/bytes.js';
import { openEnvelope, sealEnvelope } from '../../src/restart/envelope.js';
import { connectorLabel, loadConnectors, saveConnectors } from '../../src/restart/persist.js';
import { client, echoServer, roundTrip } from '../helpers/dtls-pair.js';

const PSK = { pskIdentity: 'Client_identity', pskSecret: Buffer.from('secretPSK') };
const PW = Buffer.from('hostile pw');
const MAX_AGE_MS = 600_000;

function capture(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const log = (m: unknown) => lines.push(String(m));
  return { logger: { info: log, warn: log, error: log, debug: () => {} } as unknown as Logger, lines };
}

/** A connector's established connections as JSON, in CID order (comparable with toEqual). */
function stateOf(c: DtlsConnector): ConnectionJson[] {
  return c.saveConnections().sort((a, b) => (a.readCid ?? '').localeCompare(b.readCid ?? ''));
}

const stopped: DtlsConnector[] = [];
let ports: [number, number];
let expected: [ConnectionJson[], ConnectionJson[]];
let encrypted: Buffer;
let plain: Buffer;
/** file offsets just after the end marker (0x00) of component A and of component B in the plain file */
let endA: number;
let endB: number;

/** Unstarted connectors with the labels of the saved ones (A: two connections, B: one). */
function targets(): [DtlsConnector, DtlsConnector] {
  return [
    new DtlsConnector({ address: '127.0.0.1', port: ports[0], role: 'server', config: { cidLength: 6 } }),
    new DtlsConnector({ address: '127.0.0.1', port: ports[1], role: 'server', config: { cidLength: 6 } }),
  ];
}

/**
 * The all-or-nothing rule: each target holds either none of its component's connections or exactly the
 * saved ones (same keys, sequence numbers, ages); returns which components are complete.
 */
function complete(t: [DtlsConnector, DtlsConnector], what: string): [boolean, boolean] {
  return [0, 1].map((i) => {
    const size = t[i]!.store.size;
    if (size === 0) return false;
    expect(stateOf(t[i]!), `${what}: component ${i === 0 ? 'A' : 'B'}`).toEqual(expected[i as 0 | 1]);
    return true;
  }) as [boolean, boolean];
}

/** Offsets just after the end markers (0x00) of the two components of a plain stream. */
function ends(stream: Buffer): [number, number] {
  const r = new ByteReader(stream);
  r.item(1);
  r.string(1);
  const out: number[] = [];
  for (let i = 0; i < 2; i++) {
    r.string(2);
    while (r.item(2) !== undefined);
    out.push(r.position);
  }
  return out as [number, number];
}

/** Cipher id, seed length and seed in front of the encrypted stream. */
const HEADER = 3 + 16;

function clear(t: [DtlsConnector, DtlsConnector]): void {
  for (const c of t) c.store.clear();
}

beforeAll(async () => {
  const a = await echoServer({ config: { cidLength: 6 } });
  const b = await echoServer({ config: { cidLength: 6 } });
  const clients = await Promise.all([client({ ...PSK, config: { cidLength: 6 } }), client({ ...PSK, config: { cidLength: 6 } }), client({ ...PSK, config: { cidLength: 6 } })]);
  stopped.push(a.server, b.server, ...clients.map((c) => c.client));
  await roundTrip(clients[0]!, a, 'a1');
  await roundTrip(clients[1]!, a, 'a2');
  await roundTrip(clients[2]!, b, 'b1');
  ports = [a.server.localPort, b.server.localPort];
  expected = [stateOf(a.server), stateOf(b.server)];
  expect(expected[0].length).toBe(2);
  expect(expected[1].length).toBe(1);
  const { logger } = capture();
  encrypted = saveConnectors([a.server, b.server], PW, MAX_AGE_MS, logger).data;
  a.server.loadConnections(expected[0]);
  b.server.loadConnections(expected[1]);
  plain = saveConnectors([a.server, b.server], undefined, MAX_AGE_MS, logger).data;
  [endA, endB] = ends(plain.subarray(1)).map((e) => e + 1) as [number, number];
  expect(endB).toBe(plain.length - 2);
});

afterAll(async () => {
  await Promise.all(stopped.map((c) => c.stop()));
});

describe('hostile saved state', () => {
  it('the intact files load completely (plain and encrypted)', () => {
    for (const [data, pw] of [
      [plain, undefined],
      [encrypted, PW],
    ] as const) {
      const t = targets();
      const { logger } = capture();
      expect(loadConnectors(t, data, pw, logger)).toEqual({ ok: true, items: 3 });
      expect(complete(t, 'intact')).toEqual([true, true]);
    }
    console.log(`restart hostile: plain file ${plain.length} bytes, encrypted ${encrypted.length} bytes`);
  });

  it('plain file truncated at every length: components before the cut load completely, the cut one not at all', () => {
    const t = targets();
    for (let n = 0; n < plain.length; n++) {
      const { logger, lines } = capture();
      let outcome;
      expect(() => (outcome = loadConnectors(t, plain.subarray(0, n), undefined, logger)), `length ${n}`).not.toThrow();
      expect(outcome!.ok, `length ${n}`).toBe(false);
      // the exact rule: a component is restored iff its end marker (0x00 after the digest item) is inside the data
      expect(complete(t, `length ${n}`), `length ${n}`).toEqual([n >= endA, n >= endB]);
      expect(outcome!.items, `length ${n}`).toBe((n >= endA ? 2 : 0) + (n >= endB ? 1 : 0));
      const failure = lines.filter((l) => l.startsWith('load failed'));
      expect(failure.length, `length ${n}: ${lines.join(' | ')}`).toBe(1);
      if (n === 0) expect(failure[0]).toBe('load failed: no data (empty saved state)');
      else {
        expect(failure[0], `length ${n}`).toMatch(
          /^load failed in (the stream header|the first component label|component dtls:\/\/127\.0\.0\.1:\d+(, item \d|, digest)|the component label after [12] component\(s\)): truncated: /,
        );
      }
      clear(t);
    }
  });

  it('encrypted file truncated at every length: refused (or at most whole components), the reason named', () => {
    const t = targets();
    const reasons = new Map<string, number>();
    for (let n = 0; n < encrypted.length; n++) {
      const { logger, lines } = capture();
      let outcome;
      expect(() => (outcome = loadConnectors(t, encrypted.subarray(0, n), PW, logger)), `length ${n}`).not.toThrow();
      expect(outcome!.ok, `length ${n}`).toBe(false);
      complete(t, `length ${n}`);
      const failure = lines.find((l) => l.startsWith('load failed'));
      expect(failure, `length ${n}`).toMatch(
        /^load failed: (no data|truncated envelope: |truncated or damaged envelope: \d+ encrypted bytes are not a positive multiple|decryption failed \(wrong password\?\))|^load failed in .*: truncated/,
      );
      const reason = ['no data', 'truncated envelope', 'not a positive multiple', 'decryption failed', 'truncated'].find((r) => failure!.includes(r))!;
      reasons.set(reason, (reasons.get(reason) ?? 0) + 1);
      clear(t);
    }
    console.log(`restart hostile: truncated encrypted file: ${JSON.stringify(Object.fromEntries(reasons))}`);
  });

  it('every single-bit flip of the encrypted file: a component whose bytes changed is never restored, nothing is altered', () => {
    // plaintext offsets (exclusive) of the end markers of A and B in the encrypted file's stream
    const [encEndA, encEndB] = ends(openEnvelope(encrypted, PW));
    const t = targets();
    let refused = 0;
    let earlier = 0;
    const bits = encrypted.length * 8;
    for (let bit = 0; bit < bits; bit++) {
      const byte = bit >> 3;
      const data = Buffer.from(encrypted);
      data[byte]! ^= 0x80 >> (bit & 7);
      const { logger, lines } = capture();
      let outcome;
      expect(() => (outcome = loadConnectors(t, data, PW, logger)), `bit ${bit}`).not.toThrow();
      const [a, b] = complete(t, `bit ${bit}`);
      // CBC: a flip in ciphertext block i garbles plaintext block i (and one bit of block i + 1); a flip in the
      // header (cipher id, seed length, seed) changes the key: everything is garbled
      const touched = byte < HEADER ? 0 : (byte - HEADER) & ~15;
      if (a) expect(touched, `bit ${bit}: A restored although its bytes changed`).toBeGreaterThanOrEqual(encEndA);
      if (b) expect(touched, `bit ${bit}: B restored although its bytes changed`).toBeGreaterThanOrEqual(encEndB);
      expect(outcome!.ok, `bit ${bit}`).toBe(false);
      expect(
        lines.some((l) => l.startsWith('load failed')),
        `bit ${bit}`,
      ).toBe(true);
      if (a || b) earlier++;
      else refused++;
      clear(t);
    }
    console.log(`restart hostile: ${bits} single-bit flips of the ${encrypted.length}-byte encrypted file: ${refused} refused entirely, ${earlier} with the components before the damage restored`);
    expect(refused + earlier).toBe(bits);
  });

  it('wrong or missing password: nothing loaded, the reason named', () => {
    const t = targets();
    const { logger, lines } = capture();
    expect(loadConnectors(t, encrypted, Buffer.from('wrong pw'), logger).items).toBe(0);
    expect(complete(t, 'wrong password')).toEqual([false, false]);
    // a wrong CBC key fails the padding check, or (~1/256) yields a stream the digest refuses
    expect(lines.find((l) => l.startsWith('load failed'))).toMatch(/^load failed: decryption failed \(wrong password\?\)|^load failed in .*(digest mismatch|truncated|missing|unsupported)/);
    expect(loadConnectors(t, encrypted, undefined, logger)).toEqual({ ok: false, items: 0 });
    expect(lines).toContain('load failed: missing password!');
    expect(complete(t, 'no password')).toEqual([false, false]);
  });

  it('unknown, unsupported or wrong cipher ids: nothing loaded, the reason named', () => {
    const t = targets();
    const withId = (id: number): Buffer => {
      const d = Buffer.from(encrypted);
      d.writeUInt16BE(id, 0);
      return d;
    };
    const cases: Array<[string, Buffer, RegExp]> = [
      ['unknown id', withId(0xf001), /^load failed: unknown cipher id 0xf001$/],
      ['unknown id', withId(0x0000 + 0x0203), /^load failed: unknown cipher id 0x0203$/],
      ['GCM instead of CBC', withId(0x0301), /^load failed: decryption failed \(wrong password\?\)/],
      ['AES-256 instead of AES-128', withId(0x0202), /^load failed: decryption failed \(wrong password\?\)|^load failed in .*/],
      ['ARIA', withId(0x0401), /^load failed: (decryption failed \(wrong password\?\)|cipher id 0x0401 \(aria-128-gcm\) not supported)/],
      ['legacy first byte, shifted seed', Buffer.concat([Buffer.from([0x10]), encrypted.subarray(2)]), /^load failed: (decryption failed \(wrong password\?\)|truncated or damaged envelope)|^load failed in .*/],
    ];
    for (const [what, data, reason] of cases) {
      const { logger, lines } = capture();
      const outcome = loadConnectors(t, data, PW, logger);
      expect(outcome, what).toEqual({ ok: false, items: 0 });
      expect(complete(t, what), what).toEqual([false, false]);
      expect(lines.find((l) => l.startsWith('load failed')), what).toMatch(reason);
    }
  });

  it('the legacy layout (0x10 + 16 seed bytes, AES-128-CBC) of the same data loads completely', () => {
    const t = targets();
    const { logger } = capture();
    expect(loadConnectors(t, Buffer.concat([Buffer.from([0x10]), encrypted.subarray(3)]), PW, logger)).toEqual({ ok: true, items: 3 });
    expect(complete(t, 'legacy')).toEqual([true, true]);
  });

  describe('huge length fields in the plain stream', () => {
    /** A plain stream: a valid time mark and marker, then `rest`. */
    function stream(rest: (w: ByteWriter) => void): Buffer {
      const w = new ByteWriter();
      w.item(1, 1, (b) => b.int64(BigInt(Date.now())).int64(process.hrtime.bigint())).string('COMPONENTS', 1);
      rest(w);
      return sealEnvelope(w.toBuffer(), undefined);
    }

    /** Loads `data` into targets where A already holds a connection: A must be cleared when its component fails. */
    function load(data: Buffer): { lines: string[]; t: [DtlsConnector, DtlsConnector]; ok: boolean } {
      const t = targets();
      t[0].loadConnections(expected[0].slice(0, 1));
      const { logger, lines } = capture();
      let ok = true;
      expect(() => (ok = loadConnectors(t, data, undefined, logger).ok)).not.toThrow();
      return { lines, t, ok };
    }

    const labelA = (): string => connectorLabel(targets()[0]);

    it('time mark with length 0xFF', () => {
      const w = new ByteWriter().bytes(Buffer.from([0, 1, 0xff, 1, 2, 3]));
      const { lines, ok } = load(w.toBuffer());
      expect(ok).toBe(false);
      expect(lines).toContain('load failed in the stream header: truncated: item (version 1) of 255 bytes, 3 left');
    });

    it('label length 0xFFFF (null) followed by data, and 0xFFFE past the end', () => {
      let r = load(stream((w) => w.bytes(Buffer.from([0xff, 0xff, 0, 0, 0]))));
      expect(r.ok).toBe(false);
      expect(r.lines).toContain('load failed in the stream end: stream: 3 unexpected trailing bytes');
      r = load(stream((w) => w.bytes(Buffer.from([0xff, 0xfe, 0x64, 0x74]))));
      expect(r.ok).toBe(false);
      expect(r.lines).toContain('load failed in the first component label: truncated: 65534 bytes needed, 2 left');
      // the connection A held before is kept: no component of A failed
      expect(r.t[0].store.size).toBe(1);
    });

    it('an item length past the end clears the component', () => {
      const { lines, t, ok } = load(stream((w) => w.string(labelA(), 2).bytes(Buffer.from([2, 0xff, 0xff, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]))));
      expect(ok).toBe(false);
      expect(lines).toContain(`load failed in component ${labelA()}, item 1: truncated: item (version 2) of 65535 bytes, 10 left (the connections of ${labelA()} cleared)`);
      expect(t[0].store.size).toBe(0);
    });

    it('a var-bytes length past the end of its item clears the component', () => {
      const { lines, t, ok } = load(
        stream((w) =>
          w.string(labelA(), 2).item(2, 2, (b) => {
            b.u8(0).u8(0).zigzag(0).zigzag(0).zigzag(0); // flags, optional fields, times
            b.u8(4).bytes(Buffer.from([10, 0, 0, 1])).u16(5000); // peer 10.0.0.1:5000
            b.u8(200).bytes(Buffer.from([1, 2, 3])); // read CID: 200 bytes announced, 3 present
          }),
        ),
      );
      expect(ok).toBe(false);
      expect(lines).toContain(`load failed in component ${labelA()}, item 1: truncated: 200 bytes needed, 3 left (the connections of ${labelA()} cleared)`);
      expect(t[0].store.size).toBe(0);
    });
  });

  it('a component with an unknown label is skipped and counted, the others load', () => {
    const source = (port: number, items: ConnectionJson[]): DtlsConnector => {
      const c = new DtlsConnector({ address: '127.0.0.1', port, role: 'server', config: { cidLength: 6 } });
      c.loadConnections(items);
      return c;
    };
    const { logger, lines } = capture();
    const saved = saveConnectors([source(1, [...expected[0], ...expected[1]]), source(ports[0], expected[0])], PW, MAX_AGE_MS, logger);
    const t = targets();
    expect(loadConnectors(t, saved.data, PW, logger)).toEqual({ ok: true, items: 2 });
    expect(complete(t, 'unknown label')).toEqual([true, false]);
    expect(lines).toContain('load: skipped 3 items of 1 unknown component(s)');
  });
});

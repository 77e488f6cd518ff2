// CoAP over TCP framing (RFC 8323 §3.2): length encodings byte for byte, round trips, the streaming
// reader across chunk boundaries, its size bound and its format errors.
import { describe, expect, it } from 'vitest';
import {
  TcpFrameError,
  createTcpFrameReader,
  decodeTcp,
  encodeTcp,
  tcpFrameSize,
  type TcpFrameErrorKind,
} from '../../src/coap/tcp-codec.js';
import { CON, Code, Opt, type CoapMessage } from '../../src/coap/message.js';

function msg(partial: Partial<CoapMessage>): CoapMessage {
  return { type: CON, code: Code.GET, mid: 0, token: Buffer.alloc(0), options: [], payload: Buffer.alloc(0), ...partial };
}

function hex(s: string): Buffer {
  return Buffer.from(s.replace(/\s+/g, ''), 'hex');
}

/** Payload making options+payload exactly `len` bytes (payload marker + len-1 bytes); bytes vary so offsets show. */
function payloadFor(len: number): Buffer {
  const p = Buffer.alloc(Math.max(0, len - 1));
  for (let i = 0; i < p.length; i++) p[i] = i & 0xff;
  return p;
}

function expectFrameError(fn: () => unknown, kind: TcpFrameErrorKind): TcpFrameError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(TcpFrameError);
    expect((err as TcpFrameError).kind).toBe(kind);
    return err as TcpFrameError;
  }
  return expect.unreachable('must throw TcpFrameError');
}

/** Compares the fields carried over TCP (type and MID are not). */
function wire(m: CoapMessage): unknown {
  return { code: m.code, token: m.token.toString('hex'), options: m.options.map((o) => [o.number, o.value.toString('hex')]), payload: m.payload.toString('hex') };
}

describe('encodeTcp / decodeTcp (RFC 8323 §3.2)', () => {
  it('RFC 8323 §3.2 example: 2.03 with token 0x7f, no options or payload is 01 43 7f', () => {
    const m = msg({ code: Code.VALID, token: hex('7f') });
    expect(encodeTcp(m)).toEqual(hex('01 43 7f'));
    expect(wire(decodeTcp(hex('01 43 7f')))).toEqual(wire(m));
  });

  it('encodes options exactly as RFC 7252 §3.1 and counts them in Len', () => {
    // GET, token 0x42, Uri-Path "a": option delta 11 length 1 (0xb1 0x61) → Len 2, TKL 1
    const m = msg({ token: hex('42'), options: [{ number: Opt.URI_PATH, value: Buffer.from('a') }] });
    expect(encodeTcp(m)).toEqual(hex('21 01 42 b1 61'));
    // Uri-Path of 11 bytes: 0xbb + 11 → 12 bytes of options, the largest inline Len
    const m12 = msg({ options: [{ number: Opt.URI_PATH, value: Buffer.from('abcdefghijk') }] });
    expect(encodeTcp(m12)).toEqual(Buffer.concat([hex('c0 01 bb'), Buffer.from('abcdefghijk')]));
    expect(wire(decodeTcp(encodeTcp(m12)))).toEqual(wire(m12));
  });

  // Len nibble and extended length from the RFC text: 0-12 inline; 13 → 1 byte, length-13;
  // 14 → 2 bytes, length-269; 15 → 4 bytes, length-65805 (network byte order). Code 0.01 follows.
  it.each([
    [0, '00 01'],
    [12, 'c0 01'],
    [13, 'd0 00 01'],
    [268, 'd0 ff 01'],
    [269, 'e0 00 00 01'],
    [65804, 'e0 ff ff 01'],
    [65805, 'f0 00 00 00 00 01'],
    [100000, 'f0 00 00 85 93 01'], // 100000 - 65805 = 34195 = 0x8593
    [1 << 20, 'f0 00 0e fe f3 01'], // 1048576 - 65805 = 982771 = 0x000efef3
  ])('options+payload length %i → header %s', (len, head) => {
    const payload = payloadFor(len);
    const m = msg({ payload });
    const expected = len === 0 ? hex(head) : Buffer.concat([hex(head), hex('ff'), payload]);
    const bytes = encodeTcp(m);
    expect(bytes.length).toBe(expected.length);
    expect(bytes.equals(expected)).toBe(true);
    expect(tcpFrameSize(m)).toBe(expected.length);
    const back = decodeTcp(expected);
    expect(back.code).toBe(Code.GET);
    expect(back.payload.equals(payload)).toBe(true);
  });

  it('puts TKL in the low nibble next to every length form', () => {
    const token = hex('0102030405060708');
    expect(encodeTcp(msg({ token })).subarray(0, 2)).toEqual(hex('08 01'));
    expect(encodeTcp(msg({ token, payload: payloadFor(13) })).subarray(0, 3)).toEqual(hex('d8 00 01'));
    expect(encodeTcp(msg({ token, payload: payloadFor(269) })).subarray(0, 4)).toEqual(hex('e8 00 00 01'));
    const big = encodeTcp(msg({ token, payload: payloadFor(65805) }));
    expect(big.subarray(0, 14)).toEqual(Buffer.concat([hex('f8 00 00 00 00 01'), token]));
    expect(big[14]).toBe(0xff);
  });

  it('round-trips tokens, extended option deltas and lengths, and payloads', () => {
    const samples: CoapMessage[] = [
      msg({ code: 0 }),
      msg({ token: hex('01'), options: [{ number: Opt.URI_PATH, value: Buffer.from('x') }] }),
      msg({
        code: Code.CONTENT,
        token: hex('a1a2a3a4a5a6a7a8'),
        options: [
          { number: Opt.ETAG, value: hex('0102') },
          { number: Opt.CONTENT_FORMAT, value: Buffer.from([50]) },
          { number: Opt.BLOCK2, value: Buffer.from([0x0e]) },
          { number: Opt.SIZE2, value: hex('0400') },
          { number: Opt.NO_RESPONSE, value: Buffer.alloc(300, 1) },
          { number: 3000, value: Buffer.alloc(0) },
        ],
        payload: Buffer.from('{"a":1}'),
      }),
      msg({ code: Code.POST, token: hex('beef'), payload: payloadFor(70000) }),
      msg({ code: codeOf71(), token: hex('42'), options: [{ number: 2, value: hex('0480') }, { number: 4, value: Buffer.alloc(0) }] }),
    ];
    for (const m of samples) {
      const bytes = encodeTcp(m);
      expect(bytes.length).toBe(tcpFrameSize(m));
      expect(wire(decodeTcp(bytes))).toEqual(wire(m));
    }
  });

  it('rejects a token longer than 8 bytes when encoding', () => {
    expect(() => encodeTcp(msg({ token: Buffer.alloc(9) }))).toThrow(RangeError);
  });

  it('reports truncated frames and trailing bytes', () => {
    const frame = encodeTcp(msg({ token: hex('42'), payload: payloadFor(300) }));
    for (const n of [0, 1, 2, 3, 4, 5, frame.length - 1]) expectFrameError(() => decodeTcp(frame.subarray(0, n)), 'truncated');
    expectFrameError(() => decodeTcp(Buffer.concat([frame, hex('00')])), 'trailing-bytes');
    expectFrameError(() => decodeTcp(Buffer.concat([frame, frame])), 'trailing-bytes');
    // a declared 4 GiB body with nothing behind it is just truncated (decodeTcp has no size bound)
    expectFrameError(() => decodeTcp(hex('f0 ff ff ff ff 01')), 'truncated');
  });

  it.each([9, 10, 11, 12, 13, 14, 15])('rejects TKL %i as a message format error (RFC 7252 §3)', (tkl) => {
    // the first byte alone is enough to know
    expectFrameError(() => decodeTcp(Buffer.from([tkl])), 'token-length');
    expectFrameError(() => decodeTcp(Buffer.concat([Buffer.from([tkl, 0x01]), Buffer.alloc(tkl)])), 'token-length');
  });

  it.each([
    ['payload marker without payload', '10 01 ff'],
    ['option delta nibble 15', '20 01 f1 00'],
    ['option length nibble 15', '10 01 1f'],
    ['extended option delta past the end', '10 01 d0'],
    ['option value past the end', '20 01 15 61'],
    ['Empty message with a token (RFC 7252 §4.1)', '01 00 07'],
    ['Empty message with a payload', '20 00 ff 61'],
  ])('rejects %s as a format error', (_name, bytes) => {
    expectFrameError(() => decodeTcp(hex(bytes)), 'format');
  });
});

function codeOf71(): number {
  return (7 << 5) | 1;
}

describe('createTcpFrameReader', () => {
  const frames = [
    msg({ code: 0 }), // Empty (keep-alive, §3.4): 2 bytes
    msg({ code: codeOf71(), options: [{ number: 2, value: hex('0480') }, { number: 4, value: Buffer.alloc(0) }] }),
    msg({ token: hex('42'), options: [{ number: Opt.URI_PATH, value: Buffer.from('a') }] }),
    msg({ code: Code.PUT, token: hex('0102030405060708'), payload: payloadFor(13) }), // Len 13
    msg({ code: Code.CONTENT, token: hex('99'), payload: payloadFor(300) }), // Len 14
    msg({ code: Code.VALID, token: hex('7f') }),
  ];
  const stream = Buffer.concat(frames.map(encodeTcp));
  const expected = frames.map(wire);

  it('decodes several frames from one chunk', () => {
    const r = createTcpFrameReader({ maxMessageSize: 1152 });
    expect(r.push(stream).map(wire)).toEqual(expected);
    expect(r.buffered).toBe(0);
  });

  it('decodes the sample stream split at every byte offset', () => {
    for (let i = 0; i <= stream.length; i++) {
      const r = createTcpFrameReader({ maxMessageSize: 1152 });
      const got = [...r.push(stream.subarray(0, i)), ...r.push(stream.subarray(i))];
      expect(got.map(wire), `split at ${i}`).toEqual(expected);
      expect(r.buffered).toBe(0);
    }
  });

  it('decodes the sample stream split at every pair of offsets', () => {
    for (let i = 0; i <= stream.length; i += 1) {
      for (let j = i; j <= stream.length; j += 7) {
        const r = createTcpFrameReader({ maxMessageSize: 1152 });
        const got = [...r.push(stream.subarray(0, i)), ...r.push(stream.subarray(i, j)), ...r.push(stream.subarray(j))];
        expect(got.length, `splits at ${i}, ${j}`).toBe(frames.length);
        expect(got.map(wire)).toEqual(expected);
      }
    }
  });

  it('decodes the sample stream fed one byte at a time', () => {
    const r = createTcpFrameReader({ maxMessageSize: 1152 });
    const got: CoapMessage[] = [];
    for (let i = 0; i < stream.length; i++) {
      got.push(...r.push(stream.subarray(i, i + 1)));
      expect(r.buffered).toBeLessThanOrEqual(1152);
    }
    expect(got.map(wire)).toEqual(expected);
    expect(r.push(Buffer.alloc(0))).toEqual([]);
  });

  it('returns messages that own their bytes (the chunk can be reused)', () => {
    const r = createTcpFrameReader({ maxMessageSize: 1152 });
    const chunk = Buffer.from(encodeTcp(msg({ token: hex('42'), payload: Buffer.from('hello') })));
    const [m] = r.push(chunk);
    chunk.fill(0);
    expect(m!.token).toEqual(hex('42'));
    expect(m!.payload.toString()).toBe('hello');
  });

  it('accepts a frame of exactly maxMessageSize, header included', () => {
    const m = msg({ token: hex('42'), payload: payloadFor(100) });
    const size = tcpFrameSize(m); // 1 + 1 ext + 1 code + 1 token + 100
    expect(size).toBe(104);
    expect(createTcpFrameReader({ maxMessageSize: size }).push(encodeTcp(m)).length).toBe(1);
    expectFrameError(() => createTcpFrameReader({ maxMessageSize: size - 1 }).push(encodeTcp(m)), 'too-large');
  });

  it.each([
    ['Len 13', 'd0 ff', 2 + 1 + 268, 64],
    ['Len 14', 'e0 ff ff', 2 + 2 + 65804, 1152],
    ['Len 15, 2^32-1', 'f0 ff ff ff ff', 2 + 4 + 0xffffffff + 65805, 1152],
  ])('rejects an oversized %s declaration from its length field alone, before any body', (_name, head, size, max) => {
    const r = createTcpFrameReader({ maxMessageSize: max });
    const err = expectFrameError(() => r.push(hex(head)), 'too-large');
    expect(err.size).toBe(size);
    expect(r.buffered).toBe(0);
    // the reader stays failed and buffers nothing more
    expect(() => r.push(Buffer.alloc(1000))).toThrow(err);
    expect(r.buffered).toBe(0);
  });

  it('rejects an oversized declaration whose length field arrives byte by byte', () => {
    const r = createTcpFrameReader({ maxMessageSize: 1152 });
    expect(r.push(hex('f0'))).toEqual([]);
    expect(r.push(hex('00'))).toEqual([]);
    expect(r.push(hex('00'))).toEqual([]);
    expect(r.push(hex('00'))).toEqual([]);
    // Len 15 with extended length 0: 65805 bytes of options/payload declared
    expectFrameError(() => r.push(hex('00')), 'too-large');
  });

  it('counts the token in the size bound', () => {
    // Len 12, TKL 8: 2 + 8 + 12 = 22 bytes
    expectFrameError(() => createTcpFrameReader({ maxMessageSize: 21 }).push(hex('c8')), 'too-large');
    expect(createTcpFrameReader({ maxMessageSize: 22 }).push(hex('c8'))).toEqual([]);
  });

  it('keeps a truncated frame buffered and completes it later', () => {
    const frame = encodeTcp(msg({ token: hex('42'), payload: payloadFor(300) }));
    const r = createTcpFrameReader({ maxMessageSize: 1152 });
    expect(r.push(frame.subarray(0, 10))).toEqual([]);
    expect(r.buffered).toBe(10);
    expect(r.push(frame.subarray(10, frame.length - 1))).toEqual([]);
    expect(r.buffered).toBe(frame.length - 1);
    expect(r.push(frame.subarray(frame.length - 1)).length).toBe(1);
    expect(r.buffered).toBe(0);
  });

  it('fails on TKL > 8 as soon as the first byte arrives and hands over the messages before it', () => {
    const r = createTcpFrameReader({ maxMessageSize: 1152 });
    const good = encodeTcp(msg({ token: hex('42') }));
    const err = expectFrameError(() => r.push(Buffer.concat([good, good, hex('09')])), 'token-length');
    expect(err.messages.length).toBe(2);
    expect(() => r.push(good)).toThrow(err);
  });

  it('fails on a malformed option inside a complete frame', () => {
    const r = createTcpFrameReader({ maxMessageSize: 1152 });
    expect(r.push(hex('20 01'))).toEqual([]);
    expectFrameError(() => r.push(hex('f1 00')), 'format');
  });

  it('never throws anything but TcpFrameError on random bytes and stays within its bound', () => {
    let seed = 12345;
    const rnd = (): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed;
    };
    for (let run = 0; run < 500; run++) {
      const r = createTcpFrameReader({ maxMessageSize: 256 });
      try {
        for (let k = 0; k < 20; k++) {
          const chunk = Buffer.alloc(1 + (rnd() % 40));
          for (let i = 0; i < chunk.length; i++) chunk[i] = rnd() & 0xff;
          r.push(chunk);
          expect(r.buffered).toBeLessThanOrEqual(256);
        }
      } catch (err) {
        expect(err).toBeInstanceOf(TcpFrameError);
      }
    }
  });

  it('refuses a nonsensical maxMessageSize', () => {
    for (const bad of [0, 1, -5, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => createTcpFrameReader({ maxMessageSize: bad })).toThrow(RangeError);
    }
  });
});

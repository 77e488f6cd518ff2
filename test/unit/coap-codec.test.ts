// Codec tests: RFC 7252 §3 encoding rules, checked against the third-party coap-packet codec.
import { describe, expect, it } from 'vitest';
import packet from 'coap-packet';
import { decode, encode, CoapFormatError } from '../../src/coap/codec.js';
import { CON, NON, Code, Opt, type CoapMessage } from '../../src/coap/message.js';
import { decodeBlock, encodeBlock, encodeUint, decodeUint, sizeToSzx } from '../../src/coap/options.js';

function msg(partial: Partial<CoapMessage>): CoapMessage {
  return { type: CON, code: Code.GET, mid: 0x1234, token: Buffer.alloc(0), options: [], payload: Buffer.alloc(0), ...partial };
}

describe('codec', () => {
  it('encodes header, token, options with extended deltas and lengths, payload', () => {
    const m = msg({
      token: Buffer.from('01020304', 'hex'),
      options: [
        { number: Opt.URI_PATH, value: Buffer.from('a') },
        { number: Opt.URI_PATH, value: Buffer.alloc(20, 0x62) },
        { number: Opt.URI_QUERY, value: Buffer.alloc(300, 0x63) },
        { number: Opt.NO_RESPONSE, value: Buffer.from([2]) },
        { number: 2000, value: Buffer.alloc(0) },
      ],
      payload: Buffer.from('hello'),
    });
    const bytes = encode(m);
    expect(bytes.subarray(0, 4)).toEqual(Buffer.from([0x44, 0x01, 0x12, 0x34]));
    // delta 11 length 1; delta 0 length 20 (13+7); delta 4 length 300 (14, 300-269=31)
    expect(bytes.subarray(8, 10)).toEqual(Buffer.from([0xb1, 0x61]));
    expect(bytes.subarray(10, 12)).toEqual(Buffer.from([0x0d, 7]));
    expect(bytes.subarray(32, 35)).toEqual(Buffer.from([0x4e, 0x00, 31]));
    const back = decode(bytes);
    expect(back.options.map((o) => [o.number, o.value.length])).toEqual([[11, 1], [11, 20], [15, 300], [258, 1], [2000, 0]]);
    expect(back.payload.toString()).toBe('hello');
    // the third-party codec reads the same message
    const p = packet.parse(bytes);
    expect(p.messageId).toBe(0x1234);
    expect(p.payload.toString()).toBe('hello');
    expect(p.options.filter((o) => o.name === 'Uri-Path').length).toBe(2);
  });

  it('decodes what coap-packet encodes', () => {
    const bytes = packet.generate({
      messageId: 77,
      token: Buffer.from([9, 8]),
      code: '0.02',
      confirmable: false,
      options: [{ name: 'Uri-Path', value: Buffer.from('x') }, { name: 'Content-Format', value: Buffer.from([50]) }],
      payload: Buffer.from('{}'),
    });
    const m = decode(bytes);
    expect(m).toMatchObject({ type: NON, code: Code.POST, mid: 77 });
    expect(m.token).toEqual(Buffer.from([9, 8]));
    expect(m.options.map((o) => o.number)).toEqual([Opt.URI_PATH, Opt.CONTENT_FORMAT]);
  });

  it.each([
    ['shorter than 4 bytes', Buffer.from([0x40, 1, 0]), false],
    ['version 2', Buffer.from([0x80, 1, 0, 1]), false],
    ['token length 9', Buffer.from([0x49, 1, 0, 1, 1, 2, 3, 4, 5, 6, 7, 8, 9]), true],
    ['token length 15', Buffer.from([0x4f, 1, 0, 1]), true],
    ['token longer than message', Buffer.from([0x44, 1, 0, 1, 1]), true],
    ['payload marker without payload', Buffer.from([0x40, 1, 0, 1, 0xff]), true],
    ['option delta nibble 15', Buffer.from([0x40, 1, 0, 1, 0xf1, 0]), true],
    ['option length nibble 15', Buffer.from([0x40, 1, 0, 1, 0x1f]), true],
    ['extended delta past the end', Buffer.from([0x40, 1, 0, 1, 0xd0]), true],
    ['extended length past the end', Buffer.from([0x40, 1, 0, 1, 0x1e, 0x01]), true],
    ['value past the end', Buffer.from([0x40, 1, 0, 1, 0x15, 0x61]), true],
    ['option number above 65535', Buffer.from([0x40, 1, 0, 1, 0xe0, 0xff, 0xff, 0xe0, 0xff, 0xff]), true],
    ['empty message with token', Buffer.from([0x41, 0, 0, 1, 7]), true],
  ])('rejects %s', (_name, bytes, hasHeader) => {
    try {
      decode(bytes);
      expect.unreachable('decode must throw');
    } catch (err) {
      expect(err).toBeInstanceOf(CoapFormatError);
      expect((err as CoapFormatError).hasHeader).toBe(hasHeader);
    }
  });

  it('round-trips uint and block values (RFC 7959 §2.2)', () => {
    for (const v of [0, 1, 255, 256, 65535, 65536, 0xffffff, 0xffffffff]) expect(decodeUint(encodeUint(v))).toBe(v);
    expect(encodeUint(0).length).toBe(0);
    const b = { num: 1000, more: true, szx: 6 };
    expect(decodeBlock(encodeBlock(b))).toEqual(b);
    expect(decodeBlock(Buffer.from([0x0f]))).toBeUndefined(); // SZX 7 is reserved
    expect(decodeBlock(Buffer.from([1, 2, 3, 4]))).toBeUndefined();
    expect(sizeToSzx(64)).toBe(2);
    expect(sizeToSzx(1024)).toBe(6);
    expect(sizeToSzx(100)).toBe(2);
  });
});

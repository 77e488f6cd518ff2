// Handshake header, fragmentation and bounded reassembly (RFC 6347 §4.2.2, §4.2.3).
import { describe, expect, it } from 'vitest';
import {
  AlertDescription,
  HANDSHAKE_HEADER_LENGTH,
  HandshakeType,
  createReassembler,
  decodeHandshakeFragments,
  encodeFullHandshakeMessage,
  encodeHandshakeFragment,
  encodeHandshakeHeader,
  encodeHandshakeMessageFragments,
  fragmentHandshakeMessage,
  type HandshakeFragment,
  type HandshakeMessage,
} from '../../src/dtls/handshake/index.js';
import { mulberry32 } from '../helpers/random.js';

// second ClientHello of dtls-psk-ccm8-cid (README section 1, frame 3), full record fragment
const CH2_RECORD = Buffer.from(
  '0100005d000100000000005dfefd6b01323226df3806bc0bf4569e992b966db6bf727cc606aa2f1883fa5770820e0020726ba7ead1' +
    '1e776814d954d171bd9b2cb55f7d0461059ae3cdc93c1963a8cbec0004c0a800ff0100000f0017000000360007067839e0d1149d',
  'hex',
);
const CH2: HandshakeMessage = { msgType: HandshakeType.CLIENT_HELLO, messageSeq: 1, body: CH2_RECORD.subarray(12) };

const rng = mulberry32;

function shuffle<T>(items: T[], rand: () => number): T[] {
  const a = [...items];
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}

function frag(msg: HandshakeMessage, offset: number, len: number, length = msg.body.length): HandshakeFragment {
  return {
    header: { msgType: msg.msgType, length, messageSeq: msg.messageSeq, fragmentOffset: offset, fragmentLength: len },
    fragment: msg.body.subarray(offset, offset + len),
  };
}

describe('handshake header (RFC 6347 §4.2.2)', () => {
  it('encodes the 12-byte header and the full-header form of a captured ClientHello', () => {
    expect(HANDSHAKE_HEADER_LENGTH).toBe(12);
    expect(
      encodeHandshakeHeader({ msgType: 1, length: 0x5d, messageSeq: 1, fragmentOffset: 0, fragmentLength: 0x5d }).toString('hex'),
    ).toBe('0100005d000100000000005d');
    expect(encodeFullHandshakeMessage(CH2).equals(CH2_RECORD)).toBe(true);
    expect(
      encodeHandshakeHeader({ msgType: 11, length: 0x123456, messageSeq: 0xabcd, fragmentOffset: 0x10, fragmentLength: 0x20 }).toString('hex'),
    ).toBe('0b123456abcd000010000020');
  });

  it('rejects encoding a fragment beyond the message', () => {
    expect(() => encodeHandshakeHeader({ msgType: 1, length: 10, messageSeq: 0, fragmentOffset: 5, fragmentLength: 6 })).toThrow(RangeError);
  });

  it('decodes several messages packed into one record', () => {
    const sh = Buffer.from('0e0000000002000000000000', 'hex');
    const frags = decodeHandshakeFragments(Buffer.concat([CH2_RECORD, sh]));
    expect(frags.ok).toBe(true);
    if (!frags.ok) return;
    expect(frags.value.map((f) => f.header.msgType)).toEqual([1, 14]);
    expect(frags.value[1]!.fragment.length).toBe(0);
  });

  it('fails with decode_error on truncated headers, fragments past the record or past the message, empty records', () => {
    const cases: Buffer[] = [
      Buffer.alloc(0),
      CH2_RECORD.subarray(0, 11),
      CH2_RECORD.subarray(0, CH2_RECORD.length - 1),
      Buffer.concat([CH2_RECORD, Buffer.from([0x0e, 0])]),
      // fragment_offset 0x51 + fragment_length 0x0d > length 0x5d
      Buffer.concat([Buffer.from('0100005d000100005100000d', 'hex'), Buffer.alloc(13)]),
    ];
    for (const c of cases) {
      const r = decodeHandshakeFragments(c);
      expect(r.ok, c.toString('hex')).toBe(false);
      if (!r.ok) expect(r.alert).toBe(AlertDescription.DECODE_ERROR);
    }
  });
});

describe('fragmentation (RFC 6347 §4.2.3)', () => {
  it('splits into fragments of at most the given size that cover the message in order', () => {
    for (const size of [1, 7, 12, 50, 92, 93, 1000]) {
      const frags = fragmentHandshakeMessage(CH2, size);
      expect(frags.length).toBe(Math.ceil(CH2.body.length / size));
      let offset = 0;
      for (const f of frags) {
        expect(f.header.fragmentOffset).toBe(offset);
        expect(f.header.fragmentLength).toBeLessThanOrEqual(size);
        expect(f.header.length).toBe(CH2.body.length);
        expect(f.header.messageSeq).toBe(1);
        offset += f.header.fragmentLength;
      }
      expect(offset).toBe(CH2.body.length);
      expect(Buffer.concat(frags.map((f) => f.fragment)).equals(CH2.body)).toBe(true);
    }
  });

  it('an empty message is one empty fragment', () => {
    const shd: HandshakeMessage = { msgType: HandshakeType.SERVER_HELLO_DONE, messageSeq: 2, body: Buffer.alloc(0) };
    const out = encodeHandshakeMessageFragments(shd, 10);
    expect(out.map((b) => b.toString('hex'))).toEqual(['0e0000000002000000000000']);
  });

  it('rejects a non-positive fragment size', () => {
    expect(() => fragmentHandshakeMessage(CH2, 0)).toThrow(RangeError);
  });

  it('small fragments, shuffled, with overlaps and duplicates, reassemble to the original', () => {
    const rand = rng(4711);
    for (let round = 0; round < 200; round++) {
      const size = 1 + Math.floor(rand() * 20);
      const encoded = encodeHandshakeMessageFragments(CH2, size);
      let pieces: HandshakeFragment[] = encoded.flatMap((b) => {
        const d = decodeHandshakeFragments(b);
        if (!d.ok) throw new Error(d.reason);
        return d.value;
      });
      // overlapping fragments at random offsets and exact duplicates
      for (let i = 0; i < 5; i++) {
        const off = Math.floor(rand() * CH2.body.length);
        const len = 1 + Math.floor(rand() * (CH2.body.length - off));
        pieces.push(frag(CH2, off, Math.min(len, CH2.body.length - off)));
      }
      pieces = shuffle([...pieces, ...pieces.slice(0, 3)], rand);
      const r = createReassembler({ nextSeq: 1 });
      const delivered: HandshakeMessage[] = [];
      for (const p of pieces) {
        const st = r.push(p);
        // once delivered, further fragments of the message are retransmissions ('old')
        expect(delivered.length === 0 ? ['accepted', 'duplicate'] : ['old']).toContain(st.status);
        for (let m = r.next(); m; m = r.next()) delivered.push(m);
      }
      expect(delivered).toHaveLength(1);
      expect(encodeFullHandshakeMessage(delivered[0]!).equals(CH2_RECORD)).toBe(true);
      expect(r.nextSeq).toBe(2);
      expect(r.bufferedBytes).toBe(0);
    }
  });

  it('a whole message does not alias the record buffer', () => {
    const record = Buffer.from(CH2_RECORD);
    const d = decodeHandshakeFragments(record);
    if (!d.ok) throw new Error(d.reason);
    const r = createReassembler({ nextSeq: 1 });
    expect(r.push(d.value[0]!).status).toBe('accepted');
    record.fill(0);
    expect(r.next()!.body.equals(CH2.body)).toBe(true);
  });
});

describe('reassembler ordering and bounds', () => {
  const msg = (seq: number, len: number, type = 11): HandshakeMessage => ({
    msgType: type,
    messageSeq: seq,
    body: Buffer.alloc(len, seq + 1),
  });

  it('delivers in message_seq order and waits for gaps', () => {
    const r = createReassembler();
    const m0 = msg(0, 30);
    const m1 = msg(1, 40);
    const m2 = msg(2, 0, HandshakeType.SERVER_HELLO_DONE);
    expect(r.push(frag(m2, 0, 0)).status).toBe('accepted');
    expect(r.push(frag(m1, 0, 40)).status).toBe('accepted');
    expect(r.next()).toBeUndefined();
    expect(r.push(frag(m0, 10, 20)).status).toBe('accepted');
    expect(r.next()).toBeUndefined();
    expect(r.push(frag(m0, 0, 10)).status).toBe('accepted');
    const out = [r.next(), r.next(), r.next(), r.next()];
    expect(out.map((m) => m?.messageSeq)).toEqual([0, 1, 2, undefined]);
    expect(out[2]!.body.length).toBe(0);
    expect(out[0]!.body.equals(m0.body)).toBe(true);
    // retransmissions of delivered messages are reported as old (RFC 6347 §4.2.4)
    expect(r.push(frag(m1, 0, 40)).status).toBe('old');
  });

  it('reports a fully covered fragment as duplicate', () => {
    const r = createReassembler();
    const m = msg(0, 50);
    expect(r.push(frag(m, 0, 30)).status).toBe('accepted');
    expect(r.push(frag(m, 5, 10)).status).toBe('duplicate');
    expect(r.push(frag(m, 0, 0)).status).toBe('duplicate');
    expect(r.push(frag(m, 20, 30)).status).toBe('accepted');
    expect(r.push(frag(m, 0, 50)).status).toBe('duplicate');
    expect(r.next()!.body.equals(m.body)).toBe(true);
  });

  it('rejects a fragmented message longer than the cap with decode_error (default 8192)', () => {
    const r = createReassembler();
    const big = msg(0, 8193);
    const st = r.push(frag(big, 0, 1000));
    expect(st).toMatchObject({ status: 'error', alert: AlertDescription.DECODE_ERROR });
    expect(r.push(frag(msg(0, 8192), 0, 1000)).status).toBe('accepted');
    const small = createReassembler({ maxMessageLength: 100 });
    expect(small.push(frag(msg(0, 101), 0, 50)).status).toBe('error');
    expect(small.push(frag(msg(0, 100), 0, 50)).status).toBe('accepted');
  });

  it('accepts an unfragmented message above the cap (the cap applies to reassembly, as in Californium)', () => {
    const r = createReassembler({ maxMessageLength: 100 });
    expect(r.push(frag(msg(0, 500), 0, 500)).status).toBe('accepted');
    expect(r.next()!.body.length).toBe(500);
  });

  it('rejects fragments inconsistent with earlier ones (length, type) and fragments past the length', () => {
    const r = createReassembler();
    const m = msg(0, 50);
    expect(r.push(frag(m, 0, 20)).status).toBe('accepted');
    expect(r.push(frag(m, 20, 10, 60))).toMatchObject({ status: 'error', alert: AlertDescription.DECODE_ERROR });
    expect(r.push({ ...frag(m, 20, 10), header: { ...frag(m, 20, 10).header, msgType: 12 } }).status).toBe('error');
    const bad = frag(m, 45, 5);
    expect(r.push({ ...bad, header: { ...bad.header, fragmentLength: 10 } }).status).toBe('error');
    expect(r.push({ ...bad, header: { ...bad.header, length: 40 } }).status).toBe('error');
    // a complete message with a different length is still inconsistent
    expect(r.push(frag(m, 20, 30)).status).toBe('accepted');
    expect(r.push(frag(msg(0, 51), 0, 51)).status).toBe('error');
  });

  it('drops fragments beyond the message_seq window and when the queue byte budget is spent', () => {
    const r = createReassembler({ maxQueuedMessages: 4, maxMessageLength: 100, maxQueuedBytes: 150 });
    expect(r.push(frag(msg(4, 10), 0, 10)).status).toBe('dropped');
    expect(r.push(frag(msg(3, 100), 0, 50)).status).toBe('accepted');
    expect(r.push(frag(msg(2, 60), 0, 30)).status).toBe('dropped'); // 100 + 60 > 150
    expect(r.push(frag(msg(2, 50), 0, 30)).status).toBe('accepted');
    // the message at nextSeq is never refused for budget reasons
    expect(r.push(frag(msg(0, 100), 0, 50)).status).toBe('accepted');
    expect(r.bufferedBytes).toBe(250);
  });

  it('drops a fragment that would create too many disjoint ranges', () => {
    const r = createReassembler({ maxRanges: 4 });
    const m = msg(0, 100);
    for (let i = 0; i < 4; i++) expect(r.push(frag(m, i * 10, 5)).status).toBe('accepted');
    expect(r.push(frag(m, 60, 5)).status).toBe('dropped');
    // filling a gap merges ranges and is accepted
    expect(r.push(frag(m, 5, 5)).status).toBe('accepted');
    expect(r.push(frag(m, 60, 5)).status).toBe('accepted');
  });

  it('never throws and stays bounded under random fragment streams', () => {
    const rand = rng(99);
    const r = createReassembler({ maxMessageLength: 512 });
    for (let i = 0; i < 20_000; i++) {
      const length = Math.floor(rand() * 600);
      const off = Math.floor(rand() * (length + 1));
      const len = Math.floor(rand() * (length - off + 1));
      const seq = Math.floor(rand() * 12);
      const type = rand() < 0.9 ? 11 : 12;
      const st = r.push({
        header: { msgType: type, length, messageSeq: seq, fragmentOffset: off, fragmentLength: len },
        fragment: Buffer.alloc(len, 7),
      });
      expect(['accepted', 'duplicate', 'old', 'dropped', 'error']).toContain(st.status);
      while (r.next());
      expect(r.bufferedBytes).toBeLessThanOrEqual(600 + 2 * 512);
    }
  });

  it('whole fragments from encodeHandshakeFragment round-trip through decode', () => {
    const f = frag(CH2, 10, 30);
    const d = decodeHandshakeFragments(encodeHandshakeFragment(f));
    expect(d.ok && d.value[0]!.fragment.equals(f.fragment)).toBe(true);
  });
});

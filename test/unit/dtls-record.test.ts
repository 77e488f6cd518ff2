import { describe, expect, it } from 'vitest';
import {
  ContentType,
  createRecordParseStats,
  DTLS_1_2,
  encodeRecord,
  parseDatagram,
  parseRecord,
  peekCid,
  RECORD_HEADER_LENGTH,
  recordHeaderLength,
} from '../../src/dtls/record.js';
import { allRecords, capturesAvailable, hex, loadCapture, PSK_CAPTURES, type Capture, type CaptureDatagram } from '../helpers/captures.js';

/** CID length the receiver of `datagram` issued (server_cid for records to the server). */
function receiverCidLength(capture: Capture, datagram: CaptureDatagram): number {
  const session = capture.sessions[0]!;
  const toServer = datagram.dst_role === 'server' || datagram.dst_role === 'nat-front';
  return (toServer ? session.server_cid : session.client_cid).length / 2;
}

describe.skipIf(!capturesAvailable())('record codec against the Californium captures', () => {
  for (const name of PSK_CAPTURES) {
    it(`${name}: parses every datagram and re-encodes it byte-identically`, () => {
      const capture = loadCapture(name);
      let count = 0;
      for (const datagram of capture.datagrams) {
        const bytes = hex(datagram.udp_payload);
        expect(bytes.length).toBe(datagram.udp_payload_length);
        const stats = createRecordParseStats();
        const records = parseDatagram(bytes, receiverCidLength(capture, datagram), stats);
        expect(stats).toEqual({ malformed: 0, unknownType: 0 });
        expect(records.length).toBe(datagram.records.length);
        const encoded: Buffer[] = [];
        records.forEach((rec, i) => {
          const want = datagram.records[i]!;
          expect(rec.offset).toBe(want.offset);
          expect(rec.type).toBe(want.content_type);
          expect(rec.version).toBe(parseInt(want.version, 16));
          expect(rec.epoch).toBe(want.epoch);
          expect(rec.seq).toBe(want.sequence_number);
          expect(rec.cid?.toString('hex') ?? null).toBe(want.cid);
          expect(rec.fragment.length).toBe(want.length);
          expect(rec.fragment.toString('hex')).toBe(want.fragment);
          expect(rec.headerLength).toBe(want.header.length / 2);
          expect(bytes.subarray(rec.offset, rec.offset + rec.headerLength).toString('hex')).toBe(want.header);
          const again = encodeRecord(rec.type, rec.version, rec.epoch, rec.seq, rec.fragment, rec.cid);
          expect(again.subarray(0, rec.headerLength).toString('hex')).toBe(want.header);
          encoded.push(again);
          count++;
        });
        expect(Buffer.concat(encoded).equals(bytes)).toBe(true);
      }
      expect(count).toBe([...allRecords(capture)].length);
    });
  }

  it('reads the node-id / CID at byte offset 11 (dtls.md §6)', () => {
    const capture = loadCapture('dtls-psk-ccm8-cid');
    const d = capture.datagrams.find((x) => x.frame === 7)!;
    expect(peekCid(hex(d.udp_payload), 6)?.toString('hex')).toBe('b724636c9c35');
    expect(peekCid(hex(capture.datagrams[0]!.udp_payload), 6)).toBeUndefined();
  });
});

describe('record codec', () => {
  const cid = Buffer.from('0102030405', 'hex');

  it('encodes plain and tls12_cid headers with 48-bit sequence numbers', () => {
    const plain = encodeRecord(23, DTLS_1_2, 1, 2 ** 48 - 1, Buffer.from('abc'));
    expect(plain.toString('hex')).toBe('17fefd0001ffffffffffff0003616263');
    const withCid = encodeRecord(25, DTLS_1_2, 2, 0x0102_0304_0506, Buffer.from('x'), cid);
    expect(withCid.toString('hex')).toBe('19fefd00020102030405060102030405000178');
    expect(recordHeaderLength(5)).toBe(18);
    const parsed = parseRecord(withCid, 0, 5)!;
    expect(parsed).toMatchObject({ type: 25, version: 0xfefd, epoch: 2, seq: 0x0102_0304_0506, offset: 0, headerLength: 18 });
    expect(parsed.cid?.equals(cid)).toBe(true);
    expect(parsed.fragment.toString()).toBe('x');
    expect(parseRecord(plain, 0, 0)!.seq).toBe(2 ** 48 - 1);
  });

  it('parses several records per datagram without copying', () => {
    const a = encodeRecord(22, DTLS_1_2, 0, 1, Buffer.alloc(5, 1));
    const b = encodeRecord(20, DTLS_1_2, 0, 2, Buffer.from([1]));
    const c = encodeRecord(25, DTLS_1_2, 1, 0, Buffer.alloc(20, 3), cid);
    const datagram = Buffer.concat([a, b, c]);
    const records = parseDatagram(datagram, 5);
    expect(records.map((r) => [r.type, r.seq, r.offset])).toEqual([
      [22, 1, 0],
      [20, 2, a.length],
      [25, 0, a.length + b.length],
    ]);
    expect(records[2]!.fragment.buffer).toBe(datagram.buffer);
  });

  it('drops malformed records without throwing', () => {
    const stats = createRecordParseStats();
    const good = encodeRecord(23, DTLS_1_2, 1, 5, Buffer.alloc(10));
    // truncated header
    expect(parseDatagram(good.subarray(0, RECORD_HEADER_LENGTH - 1), 0, stats)).toEqual([]);
    expect(parseRecord(Buffer.alloc(0), 0, 0)).toBeUndefined();
    // length beyond datagram
    expect(parseDatagram(good.subarray(0, good.length - 1), 0, stats)).toEqual([]);
    // a good record followed by a truncated one: the good one survives
    const two = parseDatagram(Buffer.concat([good, good.subarray(0, 20)]), 0, stats);
    expect(two).toHaveLength(1);
    // CID record shorter than the CID
    const cidRecord = encodeRecord(25, DTLS_1_2, 1, 0, Buffer.alloc(4, 0xaa), Buffer.alloc(6, 9));
    expect(parseDatagram(cidRecord.subarray(0, 15), 6, stats)).toEqual([]);
    // CID record when the receiver uses no CID
    expect(parseDatagram(cidRecord, 0, stats)).toEqual([]);
    // CID record parsed with a wrong (longer) expected CID length: length field lands elsewhere
    expect(parseDatagram(cidRecord, 8, stats)).toEqual([]);
    expect(stats.malformed).toBe(6);
    expect(stats.unknownType).toBe(0);
  });

  it('skips records of unknown content type but keeps parsing', () => {
    const stats = createRecordParseStats();
    const unknown = encodeRecord(99, DTLS_1_2, 0, 0, Buffer.alloc(3));
    const good = encodeRecord(ContentType.ALERT, DTLS_1_2, 0, 1, Buffer.from([1, 0]));
    const records = parseDatagram(Buffer.concat([unknown, good]), 0, stats);
    expect(records.map((r) => r.type)).toEqual([21]);
    expect(stats).toEqual({ malformed: 0, unknownType: 1 });
  });

  it('never throws on random garbage', () => {
    let state = 7;
    for (let i = 0; i < 2000; i++) {
      const len = i % 64;
      const buf = Buffer.alloc(len);
      for (let j = 0; j < len; j++) {
        state = (state * 1103515245 + 12345) & 0x7fffffff;
        buf[j] = j === 0 ? [20, 21, 22, 23, 25][state % 5]! : state & 0xff;
      }
      expect(() => parseDatagram(buf, i % 8)).not.toThrow();
    }
  });
});

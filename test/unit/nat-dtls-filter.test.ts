// DTLS filter (clients.md §7.3) and the CID node-id peek (cluster.md §4.2).
import { describe, expect, it } from 'vitest';
import { cidNodeId, isDtlsRecord } from '../../src/nat/dtls-filter.js';
import { dropByChance, dropBySize } from '../../src/nat/drops.js';

function record(type: number, major: number, minor: number, length = 14): Uint8Array {
  const data = new Uint8Array(length);
  data[0] = type;
  data[1] = major;
  data[2] = minor;
  return data;
}

describe('isDtlsRecord', () => {
  it('accepts DTLS 1.2 content types 20, 21, 22, 23, 25', () => {
    for (const type of [20, 21, 22, 23, 25]) expect(isDtlsRecord(record(type, 0xfe, 0xfd))).toBe(true);
  });

  it('rejects other DTLS 1.2 content types', () => {
    for (const type of [0, 19, 24, 26, 63, 0x40, 255]) expect(isDtlsRecord(record(type, 0xfe, 0xfd))).toBe(false);
  });

  it('accepts DTLS 1.0 only for handshake records', () => {
    expect(isDtlsRecord(record(22, 0xfe, 0xff))).toBe(true);
    for (const type of [20, 21, 23, 25]) expect(isDtlsRecord(record(type, 0xfe, 0xff))).toBe(false);
  });

  it('rejects short datagrams and other versions', () => {
    expect(isDtlsRecord(record(22, 0xfe, 0xfd, 13))).toBe(false);
    expect(isDtlsRecord(new Uint8Array(0))).toBe(false);
    expect(isDtlsRecord(record(22, 0x03, 0x03))).toBe(false);
    expect(isDtlsRecord(record(22, 0xfe, 0xfc))).toBe(false);
    // a CoAP message
    expect(isDtlsRecord(Uint8Array.from([0x40, 0x01, 0x12, 0x34, 0xb4, 0x74, 0x65, 0x73, 0x74, 0, 0, 0, 0, 0]))).toBe(false);
  });
});

describe('cidNodeId', () => {
  it('reads byte 11 of a tls12_cid record longer than 13 bytes', () => {
    const data = record(25, 0xfe, 0xfd, 30);
    data[11] = 0xc8;
    expect(cidNodeId(data)).toBe(200);
  });

  it('ignores other records and too short ones', () => {
    const data = record(23, 0xfe, 0xfd, 30);
    data[11] = 1;
    expect(cidNodeId(data)).toBeUndefined();
    const short = record(25, 0xfe, 0xfd, 13);
    short[11] = 1;
    expect(cidNodeId(short)).toBeUndefined();
  });
});

describe('dropping', () => {
  it('0 never, 100 always, otherwise by the random value', () => {
    expect(dropByChance(0, () => 0)).toBe(false);
    expect(dropByChance(100, () => 0.999)).toBe(true);
    expect(dropByChance(30, () => 0.29)).toBe(true);
    expect(dropByChance(30, () => 0.3)).toBe(false);
  });

  it('size limit drops only larger datagrams', () => {
    expect(dropBySize(100, 100, 100, () => 0)).toBe(false);
    expect(dropBySize(101, 100, 100, () => 0)).toBe(true);
    expect(dropBySize(101, undefined, 100, () => 0)).toBe(false);
    expect(dropBySize(101, 100, 50, () => 0.6)).toBe(false);
  });

  it('drops about the given share', () => {
    let seed = 1;
    const random = (): number => ((seed = (seed * 16807) % 2147483647) - 1) / 2147483646;
    let dropped = 0;
    for (let i = 0; i < 10_000; ++i) if (dropByChance(25, random)) ++dropped;
    expect(dropped).toBeGreaterThan(2200);
    expect(dropped).toBeLessThan(2800);
  });
});

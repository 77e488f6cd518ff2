// Receive test client: the CBOR decoder and its diagnostic notation (RFC 8949 §8, examples of Appendix A).
import { describe, expect, it } from 'vitest';
import { CborError, cborDiagnostic, cborMapGet, decodeCbor } from '../../src/clients/receivetest/cbor-diag.js';
import { encodeCbor } from '../../src/resources/cbor.js';

const diag = (hex: string, maskPorts = false) => cborDiagnostic(decodeCbor(Buffer.from(hex, 'hex')), { maskPorts });

describe('decodeCbor + cborDiagnostic (RFC 8949 Appendix A)', () => {
  const cases: [string, string][] = [
    ['00', '0'],
    ['17', '23'],
    ['1818', '24'],
    ['1903e8', '1000'],
    ['1b000000e8d4a51000', '1000000000000'],
    ['1bffffffffffffffff', '18446744073709551615'],
    ['3bffffffffffffffff', '-18446744073709551616'],
    ['20', '-1'],
    ['3903e7', '-1000'],
    ['f93e00', '1.5'],
    ['f93c00', '1.0'],
    ['f98000', '-0.0'],
    ['fa47c35000', '100000.0'],
    ['fb3ff199999999999a', '1.1'],
    ['f97c00', 'Infinity'],
    ['f9fc00', '-Infinity'],
    ['f97e00', 'NaN'],
    ['f4', 'false'],
    ['f5', 'true'],
    ['f6', 'null'],
    ['f7', 'undefined'],
    ['f0', 'simple(16)'],
    ['f8ff', 'simple(255)'],
    ['c11a514b67b0', '1(1363896240)'],
    ['40', "h''"],
    ['4401020304', "h'01020304'"],
    ['60', '""'],
    ['6449455446', '"IETF"'],
    ['62225c', '"\\"\\\\"'],
    ['80', '[]'],
    ['83010203', '[1, 2, 3]'],
    ['a201020304', '{1: 2, 3: 4}'],
    ['a26161016162820203', '{"a": 1, "b": [2, 3]}'],
    ['9f018202039f0405ffff', '[_ 1, [2, 3], [_ 4, 5]]'],
    ['bf61610161629f0203ffff', '{_ "a": 1, "b": [_ 2, 3]}'],
    ['5f42010243030405ff', "h'0102030405'"],
    ['7f657374726561646d696e67ff', '"streaming"'],
  ];
  for (const [hex, expected] of cases) {
    it(`${hex} → ${expected}`, () => {
      expect(diag(hex)).toBe(expected);
    });
  }
});

describe('malformed CBOR raises CborError', () => {
  const bad: [string, string][] = [
    ['', 'empty'],
    ['18', 'truncated argument'],
    ['1b0000', 'truncated 64-bit argument'],
    ['644945', 'truncated text'],
    ['8301', 'truncated array'],
    ['a1', 'truncated map'],
    ['0000', 'trailing bytes'],
    ['ff', 'lone break'],
    ['1c', 'reserved additional info'],
    ['5bffffffffffffffff', 'huge byte string length'],
    ['9bffffffffffffffff', 'huge array length'],
    ['62c328', 'invalid UTF-8'],
    ['5f6161ff', 'text chunk in a byte string'],
    ['3f', 'indefinite integer'],
  ];
  for (const [hex, what] of bad) {
    it(what, () => {
      expect(() => decodeCbor(Buffer.from(hex, 'hex'))).toThrow(CborError);
    });
  }
  it('deep nesting is refused instead of overflowing the stack', () => {
    expect(() => decodeCbor(Buffer.concat([Buffer.alloc(100_000, 0x81), Buffer.from([0])]))).toThrow(/too deep/);
    // 60 levels are fine
    expect(diag('81'.repeat(60) + '00')).toBe('['.repeat(60) + '0' + ']'.repeat(60));
  });
});

describe('the /requests CBOR as the server encodes it', () => {
  it('decodes maps in order, 64-bit times, byte-string addresses and signed ports', () => {
    const payload = encodeCbor([
      { systemstart: 1_512_577_466_765 },
      { rid: 'RID1', time: 1_700_000_000_000, ep: Buffer.from([127, 0, 0, 1]), port: -536 },
    ]);
    const item = decodeCbor(payload);
    expect(cborDiagnostic(item)).toBe('[{"systemstart": 1512577466765}, {"rid": "RID1", "time": 1700000000000, "ep": h\'7f000001\', "port": -536}]');
    // masked: 65000 (= -536 & 0xFFFF)
    expect(cborDiagnostic(item, { maskPorts: true })).toBe(
      '[{"systemstart": 1512577466765}, {"rid": "RID1", "time": 1700000000000, "ep": h\'7f000001\', "port": 65000}]',
    );
    expect(item.kind === 'array' && cborMapGet(item.items[1]!, 'port')).toEqual({ kind: 'int', value: -536n });
    expect(cborMapGet(item, 'port')).toBeUndefined();
  });
  it('only integer values of text keys "port" are masked', () => {
    expect(diag('a1647061727420', true)).toBe('{"part": -1}');
    expect(diag('a164706f727420', true)).toBe('{"port": 65535}');
    expect(diag('a164706f72746161', true)).toBe('{"port": "a"}');
    expect(diag('a1187b20', true)).toBe('{123: -1}');
  });
});

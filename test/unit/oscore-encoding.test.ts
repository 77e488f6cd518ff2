// The direct encoders of the OSCORE message path (RFC 8613 §5.4 AAD, §6.1 Partial IV, §4.1 option merge) give
// the same bytes and option lists as the generic CBOR helpers and the sort-based merge they replace.
import { describe, expect, it } from 'vitest';
import { Opt, type CoapOption } from '../../src/coap/message.js';
import { buildAad, cborArray, cborBstr, cborInt, cborTstr, encodePartialIv, externalAad } from '../../src/oscore/cose.js';
import { mergeAfterVerification, withOscoreOption } from '../../src/oscore/option-classes.js';

const bytes = (n: number, fill: number): Buffer => Buffer.alloc(n, fill);

/** §5.4 with the generic CBOR helpers: the reference the direct writer must equal. */
function referenceAad(kid: Buffer, piv: Buffer, alg: number): Buffer {
  const ext = cborArray([cborInt(1), cborArray([cborInt(alg)]), cborBstr(kid), cborBstr(piv), cborBstr(Buffer.alloc(0))]);
  return cborArray([cborTstr('Encrypt0'), cborBstr(Buffer.alloc(0)), cborBstr(ext)]);
}

/** The merge as a filter and a stable sort (the specification of mergeAfterVerification). */
function referenceMerge(inner: CoapOption[], outer: CoapOption[]): CoapOption[] {
  const innerNumbers = new Set(inner.map((o) => o.number));
  const out = [...inner];
  let marker = false;
  for (const o of outer) {
    if (o.number === Opt.OSCORE) {
      marker = true;
      continue;
    }
    if (innerNumbers.has(o.number)) continue;
    if ([Opt.BLOCK1, Opt.BLOCK2, Opt.SIZE1, Opt.SIZE2, Opt.OBSERVE, Opt.MAX_AGE].includes(o.number as never)) continue;
    if ([Opt.URI_PATH, Opt.URI_QUERY, Opt.CONTENT_FORMAT, Opt.ETAG, Opt.ACCEPT, Opt.LOCATION_PATH, Opt.IF_MATCH].includes(o.number as never)) continue;
    out.push(o);
  }
  if (marker) out.push({ number: Opt.OSCORE, value: Buffer.alloc(0) });
  return out.sort((a, b) => a.number - b.number);
}

const opt = (number: number, v: string): CoapOption => ({ number, value: Buffer.from(v) });

describe('AAD (§5.4) written directly', () => {
  it('equals the generic CBOR encoding for kid, Partial IV and algorithm of every head size', () => {
    for (const kidLen of [0, 1, 7, 23, 24, 255, 256]) {
      for (const pivLen of [0, 1, 5, 24]) {
        for (const alg of [10, 23, 24, 300, -7, 70000]) {
          const kid = bytes(kidLen, 0xa1);
          const piv = bytes(pivLen, 0x5c);
          expect(buildAad(kid, piv, alg).toString('hex')).toBe(referenceAad(kid, piv, alg).toString('hex'));
        }
      }
    }
  });

  it('externalAad is the bstr content inside the AAD', () => {
    const aad = buildAad(Buffer.from('01', 'hex'), Buffer.from('14', 'hex'));
    const ext = externalAad(Buffer.from('01', 'hex'), Buffer.from('14', 'hex'));
    expect(ext.toString('hex')).toBe('8501810a4101411440');
    expect(aad.subarray(aad.length - ext.length).equals(ext)).toBe(true);
  });
});

describe('Partial IV (§6.1)', () => {
  it('is big-endian without leading zeros at every length', () => {
    const cases: [number, string][] = [
      [0, '00'],
      [255, 'ff'],
      [256, '0100'],
      [65535, 'ffff'],
      [65536, '010000'],
      [2 ** 32 - 1, 'ffffffff'],
      [2 ** 32, '0100000000'],
      [2 ** 40 - 1, 'ffffffffff'],
    ];
    for (const [seq, hex] of cases) expect(encodePartialIv(seq).toString('hex')).toBe(hex);
  });
});

describe('option merge and OSCORE option placement (§4.1, §8.2, §8.4)', () => {
  it('the linear merge of sorted lists equals the filter-and-sort', () => {
    const inner = [opt(Opt.OBSERVE, ''), opt(Opt.URI_PATH, 'a'), opt(Opt.URI_PATH, 'b'), opt(Opt.MAX_AGE, '\x1e'), opt(65000, 'x')];
    const outers: CoapOption[][] = [
      [],
      [opt(Opt.URI_HOST, 'h'), opt(Opt.OBSERVE, '\x01'), opt(Opt.OSCORE, '\x09'), opt(Opt.PROXY_SCHEME, 'coap')],
      [opt(Opt.OSCORE, ''), opt(Opt.OSCORE, '\x01'), opt(Opt.URI_PATH, 'outer'), opt(Opt.BLOCK2, '\x06'), opt(2000, 'u'), opt(2000, 'v')],
      [opt(Opt.URI_HOST, 'a'), opt(Opt.URI_HOST, 'b'), opt(Opt.MAX_AGE, '\x00'), opt(65000, 'outer'), opt(65001, 'y')],
    ];
    for (const outer of outers) {
      for (const inn of [inner, [], [opt(Opt.OSCORE, 'inner')]]) {
        expect(mergeAfterVerification(inn, outer)).toEqual(referenceMerge(inn, outer));
      }
    }
  });

  it('options out of order (not from a decoder) are merged and sorted as well', () => {
    const inner = [opt(Opt.URI_PATH, 'b'), opt(Opt.ETAG, 'e'), opt(Opt.URI_PATH, 'c')];
    const outer = [opt(Opt.PROXY_SCHEME, 'coap'), opt(Opt.OSCORE, '\x09'), opt(Opt.URI_HOST, 'h')];
    const merged = mergeAfterVerification(inner, outer);
    expect(merged).toEqual(referenceMerge(inner, outer));
    expect(merged.map((o) => o.number)).toEqual([Opt.URI_HOST, Opt.ETAG, Opt.OSCORE, Opt.URI_PATH, Opt.URI_PATH, Opt.PROXY_SCHEME]);
  });

  it('the OSCORE option goes between the options below and above number 9', () => {
    const v = Buffer.from('09', 'hex');
    const outer = [opt(Opt.URI_HOST, 'h'), opt(Opt.OBSERVE, ''), opt(Opt.URI_PORT, '\x16'), opt(Opt.PROXY_SCHEME, 'coap')];
    expect(withOscoreOption(outer, v).map((o) => o.number)).toEqual([Opt.URI_HOST, Opt.OBSERVE, Opt.URI_PORT, Opt.OSCORE, Opt.PROXY_SCHEME]);
    expect(withOscoreOption([], v)).toEqual([{ number: Opt.OSCORE, value: v }]);
    expect(withOscoreOption([opt(Opt.PROXY_SCHEME, 'coap'), opt(Opt.URI_HOST, 'h')], v).map((o) => o.number)).toEqual([Opt.URI_HOST, Opt.OSCORE, Opt.PROXY_SCHEME]);
    expect(outer).toHaveLength(4);
  });
});

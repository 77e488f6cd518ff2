import { describe, expect, it, vi } from 'vitest';
import { decode } from 'cbor-x';
import { Code, Format } from '../../src/coap/message.js';
import { parseJavaInt, parseQuery, parseQueryOptions, type QuerySpec } from '../../src/resources/query.js';
import { applyRlen, truncateText } from '../../src/resources/payload.js';
import { formatDayTime, formatTimeOfDay, requestSummary, tokenHex } from '../../src/resources/text.js';
import { encodeCbor } from '../../src/resources/cbor.js';
import { contentFormatNotSet, onlyFormat, typeNotSupported } from '../../src/resources/responses.js';
import { createTreeTimers } from '../../src/resources/timers.js';
import { buildRequest } from '../helpers/fake-exchange.js';

const SPEC = {
  ack: { kind: 'flag' },
  rlen: { kind: 'int', def: 0, min: 0, max: 8192 },
  delay: { kind: 'int', def: 0, min: 0, max: 3_600_000 },
  id: { kind: 'string' },
} satisfies QuerySpec;

function error(queries: string[], spec: QuerySpec = SPEC): unknown {
  const r = parseQueryOptions(queries, spec);
  if (r.ok) throw new Error('expected failure');
  return r.response;
}

function values(queries: string[]) {
  const r = parseQueryOptions(queries, SPEC);
  if (!r.ok) throw new Error(String(r.response.payload));
  return r.values;
}

const bad = (text: string) => ({ code: Code.BAD_OPTION, payload: text, format: Format.TEXT });

describe('strict query parsing', () => {
  it('defaults when nothing is given', () => {
    expect(values([])).toEqual({ ack: false, rlen: 0, delay: 0, id: undefined });
  });
  it('parses flags, ints and strings', () => {
    expect(values(['ack', 'rlen=12', 'delay=1000', 'id=dev1'])).toEqual({ ack: true, rlen: 12, delay: 1000, id: 'dev1' });
    expect(values(['ack=whatever']).ack).toBe(true);
  });
  it('an int name without = uses the default', () => {
    const r = parseQueryOptions(['rlen'], { rlen: { kind: 'int', def: 500, min: 1, max: 1023 } });
    expect(r.ok && r.values.rlen).toBe(500);
  });
  it('unsupported names answer 4.02 with the raw option text', () => {
    expect(error(['rlen=1', 'foo=bar'])).toEqual(bad("URI-query-option 'foo=bar' is not supported!"));
    expect(error(['x'])).toEqual(bad("URI-query-option 'x' is not supported!"));
  });
  it('unsupported names are reported before number errors', () => {
    expect(error(['rlen=abc', 'foo'])).toEqual(bad("URI-query-option 'foo' is not supported!"));
  });
  it('empty values and non-numbers are no number', () => {
    expect(error(['rlen='])).toEqual(bad("URI-query-option 'rlen=' is no number!"));
    expect(error(['rlen=abc'])).toEqual(bad("URI-query-option 'rlen=abc' is no number!"));
    expect(error(['rlen=1.5'])).toEqual(bad("URI-query-option 'rlen=1.5' is no number!"));
    expect(error(['rlen= 1'])).toEqual(bad("URI-query-option 'rlen= 1' is no number!"));
    expect(error(['rlen=2147483648'])).toEqual(bad("URI-query-option 'rlen=2147483648' is no number!"));
  });
  it('range errors print the parsed number', () => {
    expect(error(['rlen=-1'])).toEqual(bad("URI-query-option 'rlen=-1' is less than 0!"));
    expect(error(['rlen=8193'])).toEqual(bad("URI-query-option 'rlen=8193' is more than 8192!"));
    expect(error(['rlen=09000'])).toEqual(bad("URI-query-option 'rlen=9000' is more than 8192!"));
    expect(values(['rlen=+7']).rlen).toBe(7);
  });
  it('values are checked in declaration order', () => {
    expect(error(['delay=-5', 'rlen=x'])).toEqual(bad("URI-query-option 'rlen=x' is no number!"));
  });
  it('later duplicates overwrite earlier ones', () => {
    expect(values(['rlen=5', 'rlen=7']).rlen).toBe(7);
    expect(values(['rlen=abc', 'rlen=7']).rlen).toBe(7);
    expect(error(['rlen=7', 'rlen=abc'])).toEqual(bad("URI-query-option 'rlen=abc' is no number!"));
    expect(values(['id=a', 'id=b']).id).toBe('b');
  });
  it('collect mode passes unsupported options on verbatim', () => {
    const r = parseQueryOptions(['req=3', 'foo=1', 'bar', 'rlen=400'], { req: { kind: 'int', def: 1, min: 1 } }, {
      collectUnsupported: true,
    });
    expect(r.ok).toBe(true);
    if (r.ok) {
      expect(r.values.req).toBe(3);
      expect(r.unsupported).toEqual(['foo=1', 'bar', 'rlen=400']);
      expect([...r.raw.keys()]).toEqual(['req']);
    }
  });
  it('error format can be omitted', () => {
    const r = parseQueryOptions(['foo'], SPEC, { errorFormat: null });
    expect(!r.ok && r.response).toEqual({ code: Code.BAD_OPTION, payload: "URI-query-option 'foo' is not supported!" });
  });
  it('required parameters report missing parameter / argument', () => {
    const spec = { dev: { kind: 'string', required: true }, n: { kind: 'int', def: 0, required: true } } satisfies QuerySpec;
    expect(error([], spec)).toEqual(bad("Missing parameter 'dev' in URI-query-options!"));
    expect(error(['dev'], spec)).toEqual(bad("Missing argument for URI-query-option 'dev'!"));
    expect(error(['dev=x', 'n'], spec)).toEqual(bad("Missing argument for URI-query-option 'n'!"));
  });
  it('parseQuery reads the request Uri-Query options', () => {
    const r = parseQuery(buildRequest({ query: ['rlen=3', 'keep'] }), { rlen: { kind: 'int', def: 0 }, keep: { kind: 'flag' } });
    expect(r.ok && r.values).toEqual({ rlen: 3, keep: true });
  });
  it('parseJavaInt follows Integer.parseInt', () => {
    expect(parseJavaInt('-2147483648')).toBe(-2147483648);
    expect(parseJavaInt('2147483647')).toBe(2147483647);
    expect(parseJavaInt('-0')).toBe(0);
    expect(parseJavaInt('')).toBeUndefined();
    expect(parseJavaInt('0x10')).toBeUndefined();
  });
});

describe('payload helpers', () => {
  const p = Buffer.from('hello');
  it('applyRlen truncates, pads with * and leaves 0 unchanged', () => {
    expect(applyRlen(p, 0)).toEqual(p);
    expect(applyRlen(p, 3).toString()).toBe('hel');
    expect(applyRlen(p, 8).toString()).toBe('hello***');
    expect(applyRlen(Buffer.alloc(0), 2).toString()).toBe('**');
    expect(applyRlen(p, 5).toString()).toBe('hello');
  });
  it('truncateText cuts at character level and appends »', () => {
    expect(truncateText('a'.repeat(64), 64, 62)).toBe('a'.repeat(64));
    expect(truncateText('a'.repeat(65), 64, 62)).toBe('a'.repeat(62) + '\u00bb');
    expect(truncateText('ä'.repeat(70), 64, 63)).toBe('ä'.repeat(63) + '»');
    expect(Buffer.from(truncateText('b'.repeat(70), 64, 63)).subarray(63)).toEqual(Buffer.from([0xc2, 0xbb]));
  });
});

describe('text helpers', () => {
  it('tokenHex is uppercase without separators', () => {
    expect(tokenHex(Buffer.from([0xbe, 0xef, 0x01]))).toBe('BEEF01');
    expect(tokenHex(Buffer.alloc(0))).toBe('');
  });
  it('requestSummary uses Californium names', () => {
    expect(requestSummary(buildRequest({ method: 'GET', mid: 1234 }))).toBe('Type: 0 (CON)\nCode: 1 (GET)\nMID: 1234');
    expect(requestSummary(buildRequest({ method: 'DELETE', type: 1, mid: 7 }))).toBe(
      'Type: 1 (NON)\nCode: 4 (DELETE)\nMID: 7',
    );
  });
  it('formats local times', () => {
    const ms = new Date(2024, 0, 5, 7, 8, 9).getTime();
    expect(formatTimeOfDay(ms)).toBe('07:08:09');
    expect(formatDayTime(ms)).toBe('05.Jan-07:08:09');
    expect(formatDayTime(new Date(2023, 11, 31, 23, 59, 0).getTime())).toBe('31.Dec-23:59:00');
  });
});

describe('shared responses', () => {
  it('typeNotSupported names the MIME type', () => {
    expect(typeNotSupported(50)).toEqual({
      code: Code.NOT_ACCEPTABLE,
      payload: 'Type "application/json" is not supported for this resource!',
      format: Format.TEXT,
    });
    expect(typeNotSupported(1).payload).toBe('Type "unknown/1" is not supported for this resource!');
  });
  it('contentFormatNotSet and onlyFormat', () => {
    expect(contentFormatNotSet()).toEqual({ code: Code.BAD_REQUEST, payload: 'Content-Format not set', format: 0 });
    expect(onlyFormat(0)).toEqual({ code: Code.NOT_ACCEPTABLE, payload: 'text/plain only', format: 0 });
  });
});

describe('encodeCbor', () => {
  it('uses minimal map headers in insertion order', () => {
    const b = encodeCbor({ type: 'CON', mid: 1 });
    expect(b[0]).toBe(0xa2);
    expect(decode(b)).toEqual({ type: 'CON', mid: 1 });
  });
  it('encodes large integers as CBOR integers, not floats', () => {
    const b = encodeCbor({ t: 1_700_000_000_000 });
    expect(b.subarray(3, 4)).toEqual(Buffer.from([0x1b]));
    expect(Number(decode(b).t)).toBe(1_700_000_000_000);
  });
  it('keeps byte strings and arrays', () => {
    expect(encodeCbor([Buffer.from([1, 2])]).toString('hex')).toBe('81420102');
  });
});

describe('tree timers', () => {
  it('runs periodic tasks immediately on start, then every interval, until stop', () => {
    vi.useFakeTimers();
    try {
      const timers = createTreeTimers();
      let n = 0;
      timers.every(100, () => n++);
      expect(n).toBe(0);
      timers.start();
      expect(n).toBe(1);
      vi.advanceTimersByTime(250);
      expect(n).toBe(3);
      let fired = false;
      timers.after(50, () => (fired = true));
      timers.stop();
      vi.advanceTimersByTime(1000);
      expect(n).toBe(3);
      expect(fired).toBe(false);
    } finally {
      vi.useRealTimers();
    }
  });
  it('one-shot tasks can be cancelled', () => {
    vi.useFakeTimers();
    try {
      const timers = createTreeTimers();
      let a = 0;
      const cancel = timers.after(10, () => a++);
      timers.after(10, () => (a += 10));
      cancel();
      vi.advanceTimersByTime(10);
      expect(a).toBe(10);
    } finally {
      vi.useRealTimers();
    }
  });
});

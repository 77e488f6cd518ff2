import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { decode } from 'cbor-x';
import { Code, Format, Opt } from '../../src/coap/message.js';
import { decodeUint } from '../../src/coap/options.js';
import { createPlugtestResources, type ResourceTree } from '../../src/resources/plugtest/index.js';
import { EMPTY_ETAG, validateEtag } from '../../src/resources/plugtest/validate.js';
import { bannerTitle } from '../../src/resources/extended/root.js';
import { dispatch, resOption, resOptions, text } from '../helpers/fake-exchange.js';

function tree(shutdown: () => void = () => {}): ResourceTree {
  return createPlugtestResources({ notifyInterval: 5000, echoDelay: false, version: '9.8.7', shutdown });
}

describe('/ root banner of the plugtest server', () => {
  it('is framed by 64 *, has the 64-character title line and the public-data note', () => {
    const ex = dispatch(tree().root, { path: '/' });
    expect(ex.response.code).toBe(Code.CONTENT);
    expect(ex.response.format).toBe(Format.TEXT);
    const lines = text(ex.response).split('\n');
    expect(lines[0]).toBe('*'.repeat(64));
    expect(lines[1]).toBe(bannerTitle('9.8.7'));
    expect(lines[1]).toHaveLength(64);
    expect(lines[1]!.startsWith('CoAP RFC 7252 ')).toBe(true);
    expect(lines[1]!.endsWith(' extplugtest 9.8.7')).toBe(true);
    expect(lines[2]).toBe('*'.repeat(64));
    expect(lines.at(-1)).toBe('*'.repeat(64));
    expect(text(ex.response)).toContain('Eclipse Californium');
    expect(text(ex.response)).toContain('http://www.eclipse.org/californium/');
    expect(text(ex.response)).toContain('public visible');
  });
  it('unknown paths are 4.04, missing methods 4.05', () => {
    const { root } = tree();
    expect(dispatch(root, { path: '/nothing' }).response.code).toBe(Code.NOT_FOUND);
    expect(dispatch(root, { method: 'POST', path: '/' }).response.code).toBe(Code.METHOD_NOT_ALLOWED);
    for (const link of ['/link1', '/link2', '/link3']) {
      for (const method of ['GET', 'POST', 'PUT', 'DELETE'] as const) {
        expect(dispatch(root, { method, path: link }).response).toEqual({ code: Code.METHOD_NOT_ALLOWED });
      }
    }
  });
});

describe('/test', () => {
  const { root } = tree();
  it('GET answers the request summary with Max-Age 30', () => {
    const ex = dispatch(root, { path: '/test', mid: 1234, token: 'BEEF' });
    expect(ex.response.code).toBe(Code.CONTENT);
    expect(ex.response.format).toBe(Format.TEXT);
    expect(text(ex.response)).toBe('Type: 0 (CON)\nCode: 1 (GET)\nMID: 1234\nToken: BEEF');
    expect(decodeUint(resOption(ex.response, Opt.MAX_AGE)!)).toBe(30);
  });
  it('GET with empty token keeps the Token line', () => {
    const ex = dispatch(root, { path: '/test', type: 1, mid: 5 });
    expect(text(ex.response)).toBe('Type: 1 (NON)\nCode: 1 (GET)\nMID: 5\nToken: ');
  });
  it('GET longer than 64 characters is cut to 62 + »', () => {
    const ex = dispatch(root, { path: '/test', mid: 65535, token: '01020304050607080910' });
    const full = 'Type: 0 (CON)\nCode: 1 (GET)\nMID: 65535\nToken: 01020304050607080910';
    expect(full.length).toBeGreaterThan(64);
    expect(text(ex.response)).toBe(full.substring(0, 62) + '»');
  });
  it('POST creates with three Location-Path options', () => {
    const ex = dispatch(root, { method: 'POST', path: '/test', payload: 'x', contentFormat: 0 });
    expect(ex.response.code).toBe(Code.CREATED);
    expect(resOptions(ex.response, Opt.LOCATION_PATH).map(String)).toEqual(['location1', 'location2', 'location3']);
  });
  it('PUT answers 2.04, or 4.12 with If-None-Match', () => {
    expect(dispatch(root, { method: 'PUT', path: '/test', payload: 'TD_COAP_CORE_03', contentFormat: 0 }).response).toEqual({
      code: Code.CHANGED,
    });
    expect(dispatch(root, { method: 'PUT', path: '/test', ifNoneMatch: true }).response).toEqual({
      code: Code.PRECONDITION_FAILED,
    });
  });
  it('DELETE answers 2.02', () => {
    expect(dispatch(root, { method: 'DELETE', path: '/test' }).response).toEqual({ code: Code.DELETED });
  });
});

describe('/seg1/seg2/seg3 and /query', () => {
  const { root } = tree();
  it('every long path segment answers', () => {
    for (const path of ['/seg1', '/seg1/seg2', '/seg1/seg2/seg3']) {
      const ex = dispatch(root, { path, mid: 42, token: '01' });
      expect(ex.response).toEqual({
        code: Code.CONTENT,
        payload: 'Long path resource\nType: 0 (CON)\nCode: 1 (GET)\nMID: 42',
        format: Format.TEXT,
      });
    }
  });
  it('/query echoes the queries joined by &', () => {
    const ex = dispatch(root, { path: '/query', mid: 7, query: ['first=1', 'second=2', 'third=3'] });
    expect(ex.response).toEqual({
      code: Code.CONTENT,
      payload: 'Type: 0 (CON)\nCode: 1 (GET)\nMID: 7\n?first=1&second=2&third=3',
      format: Format.TEXT,
    });
  });
  it('/query longer than 64 characters is cut to 63 + »', () => {
    const ex = dispatch(root, { path: '/query', mid: 7, query: ['a'.repeat(40)] });
    const full = `Type: 0 (CON)\nCode: 1 (GET)\nMID: 7\n?${'a'.repeat(40)}`;
    expect(text(ex.response)).toBe(full.substring(0, 63) + '»');
    expect(text(ex.response)).toHaveLength(64);
  });
});

describe('/separate', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());
  it('accepts, then responds after 1000 ms with the original request values', () => {
    const { root } = tree();
    const ex = dispatch(root, { path: '/separate', mid: 99, token: 'BEEF' });
    expect(ex.accepted).toBe(1);
    expect(ex.responses).toHaveLength(0);
    vi.advanceTimersByTime(999);
    expect(ex.responses).toHaveLength(0);
    vi.advanceTimersByTime(1);
    expect(ex.responses).toEqual([
      { code: Code.CONTENT, payload: 'Type: 0 (CON)\nCode: 1 (GET)\nMID: 99\n', format: Format.TEXT },
    ]);
  });
  it('NON requests get the NON values', () => {
    const { root } = tree();
    const ex = dispatch(root, { path: '/separate', type: 1, mid: 3 });
    vi.advanceTimersByTime(1000);
    expect(text(ex.response)).toBe('Type: 1 (NON)\nCode: 1 (GET)\nMID: 3\n');
  });
  it('stop() drops pending separate responses', () => {
    const t = tree();
    const ex = dispatch(t.root, { path: '/separate' });
    t.stop();
    vi.advanceTimersByTime(2000);
    expect(ex.responses).toHaveLength(0);
  });
});

describe('/location-query', () => {
  it('POST answers 2.01 with Location-Query first=1, second=2', () => {
    const ex = dispatch(tree().root, { method: 'POST', path: '/location-query', payload: 'x', contentFormat: 0 });
    expect(ex.response.code).toBe(Code.CREATED);
    expect(resOptions(ex.response, Opt.LOCATION_QUERY).map(String)).toEqual(['first=1', 'second=2']);
    expect(dispatch(tree().root, { path: '/location-query' }).response.code).toBe(Code.METHOD_NOT_ALLOWED);
  });
});

describe('/multi-format', () => {
  const { root } = tree();
  it('no Accept → text with Accept -1', () => {
    expect(dispatch(root, { path: '/multi-format', mid: 10 }).response).toEqual({
      code: Code.CONTENT,
      payload: 'Status type: "CON"\nCode: "GET"\nMID: 10\nAccept: -1',
      format: Format.TEXT,
    });
  });
  it('Accept 0 → text with Accept 0', () => {
    expect(text(dispatch(root, { path: '/multi-format', mid: 10, accept: 0 }).response)).toBe(
      'Status type: "CON"\nCode: "GET"\nMID: 10\nAccept: 0',
    );
  });
  it('Accept 41 → XML', () => {
    expect(dispatch(root, { path: '/multi-format', mid: 11, accept: 41 }).response).toEqual({
      code: Code.CONTENT,
      payload: '<msg type="CON" code="GET" mid="11" accept="41" />',
      format: Format.XML,
    });
  });
  it('Accept 50 → JSON that parses', () => {
    const ex = dispatch(root, { path: '/multi-format', mid: 12, accept: 50, type: 1 });
    expect(ex.response.format).toBe(Format.JSON);
    expect(text(ex.response)).toBe('{ "type":"NON", "code":"GET", "mid":12, "accept":50 }');
    expect(JSON.parse(text(ex.response))).toEqual({ type: 'NON', code: 'GET', mid: 12, accept: 50 });
  });
  it('Accept 60 → CBOR map', () => {
    const ex = dispatch(root, { path: '/multi-format', mid: 13, accept: 60 });
    expect(ex.response.format).toBe(Format.CBOR);
    expect(decode(ex.response.payload as Buffer)).toEqual({ type: 'CON', code: 'GET', mid: 13, accept: 60 });
  });
  it('other Accept → 4.06 with text, no Content-Format', () => {
    expect(dispatch(root, { path: '/multi-format', accept: 42 }).response).toEqual({
      code: Code.NOT_ACCEPTABLE,
      payload: 'text/plain, application/xml, application/json, or application/cbor only',
    });
  });
});

describe('/validate', () => {
  it('ETag hash follows Arrays.hashCode with signed bytes', () => {
    expect(validateEtag(Buffer.alloc(0))).toEqual(Buffer.from([0, 0, 0, 1]));
    // 31*1 + 97 = 128
    expect(validateEtag(Buffer.from('a'))).toEqual(Buffer.from([0, 0, 0, 128]));
    // 31*1 + (-1) = 30
    expect(validateEtag(Buffer.from([0xff]))).toEqual(Buffer.from([0, 0, 0, 30]));
    // Java "It should change".getBytes() hashCode
    let h = 1;
    for (const b of Buffer.from('It should change')) h = (Math.imul(31, h) + b) | 0;
    const expected = Buffer.alloc(4);
    expected.writeInt32BE(h);
    expect(validateEtag(Buffer.from('It should change'))).toEqual(expected);
    // wrap-around of a long input stays 32-bit
    expect(validateEtag(Buffer.alloc(100, 0x80))).toHaveLength(4);
  });

  it('GET without data: summary text, format 0, ETag 0x00; token line only with token', () => {
    const { root } = tree();
    const ex = dispatch(root, { path: '/validate', mid: 77 });
    expect(ex.response.code).toBe(Code.CONTENT);
    expect(ex.response.format).toBe(Format.TEXT);
    expect(text(ex.response)).toBe('Type: 0 (CON)\nCode: 1 (GET)\nMID: 77');
    expect(resOption(ex.response, Opt.ETAG)).toEqual(EMPTY_ETAG);
    const tok = dispatch(root, { path: '/validate', mid: 77, token: 'CAFE' });
    expect(text(tok.response)).toBe('Type: 0 (CON)\nCode: 1 (GET)\nMID: 77\nToken: CAFE');
    const long = dispatch(root, { path: '/validate', mid: 65535, token: '01020304050607080910' });
    const full = 'Type: 0 (CON)\nCode: 1 (GET)\nMID: 65535\nToken: 01020304050607080910';
    expect(full.length).toBeGreaterThan(64);
    expect(text(long.response)).toBe(full.substring(0, 63) + '»');
  });

  it('CORE_21: GET E1, GET with E1 → 2.03, PUT, GET with E1 → 2.05 with another ETag', () => {
    const { root } = tree();
    const e1 = resOption(dispatch(root, { path: '/validate' }).response, Opt.ETAG)!;
    const valid = dispatch(root, { path: '/validate', etags: [e1] });
    expect(valid.response.code).toBe(Code.VALID);
    expect(resOption(valid.response, Opt.ETAG)).toEqual(e1);
    expect(valid.response.payload).toBeUndefined();
    const put = dispatch(root, { method: 'PUT', path: '/validate', payload: 'It should change', contentFormat: 0 });
    expect(put.response.code).toBe(Code.CHANGED);
    const e2 = resOption(put.response, Opt.ETAG)!;
    expect(e2).toEqual(validateEtag(Buffer.from('It should change')));
    const after = dispatch(root, { path: '/validate', etags: [e1] });
    expect(after.response.code).toBe(Code.CONTENT);
    expect(resOption(after.response, Opt.ETAG)).toEqual(e2);
    expect(resOption(after.response, Opt.ETAG)).not.toEqual(e1);
    expect(text(after.response)).toBe('It should change');
    expect(after.response.format).toBe(0);
  });

  it('2.03 clears the data (ETag back to 0x00)', () => {
    const { root } = tree();
    const put = dispatch(root, { method: 'PUT', path: '/validate', payload: 'abc', contentFormat: 0 });
    const e = resOption(put.response, Opt.ETAG)!;
    expect(dispatch(root, { path: '/validate', etags: [Buffer.from([9]), e] }).response.code).toBe(Code.VALID);
    const get = dispatch(root, { path: '/validate' });
    expect(resOption(get.response, Opt.ETAG)).toEqual(EMPTY_ETAG);
    expect(text(get.response)).toContain('Type: 0 (CON)');
  });

  it('CORE_22: If-Match E1 stores, unconditional PUT stores, If-Match E1 again → 4.12 and clear', () => {
    const { root } = tree();
    const e1 = resOption(dispatch(root, { path: '/validate' }).response, Opt.ETAG)!;
    const a = dispatch(root, { method: 'PUT', path: '/validate', ifMatch: [e1], payload: 'TD_COAP_CORE_22 Part A', contentFormat: 0 });
    expect(a.response.code).toBe(Code.CHANGED);
    const get = dispatch(root, { path: '/validate' });
    const e2 = resOption(get.response, Opt.ETAG)!;
    expect(e2).not.toEqual(e1);
    expect(get.response.format).toBe(0);
    expect(text(get.response)).toBe('TD_COAP_CORE_22 Part A');
    expect(dispatch(root, { method: 'PUT', path: '/validate', payload: 'random 42', contentFormat: 0 }).response.code).toBe(
      Code.CHANGED,
    );
    const b = dispatch(root, { method: 'PUT', path: '/validate', ifMatch: [e1], payload: 'Part B', contentFormat: 0 });
    expect(b.response).toEqual({ code: Code.PRECONDITION_FAILED });
    expect(resOption(dispatch(root, { path: '/validate' }).response, Opt.ETAG)).toEqual(EMPTY_ETAG);
  });

  it('PUT with an empty If-Match value matches; missing Content-Format → 4.00', () => {
    const { root } = tree();
    dispatch(root, { method: 'PUT', path: '/validate', payload: 'x', contentFormat: 0 });
    expect(
      dispatch(root, { method: 'PUT', path: '/validate', ifMatch: [Buffer.from([1]), Buffer.alloc(0)], payload: 'y', contentFormat: 0 })
        .response.code,
    ).toBe(Code.CHANGED);
    expect(dispatch(root, { method: 'PUT', path: '/validate', payload: 'z' }).response).toEqual({
      code: Code.BAD_REQUEST,
      payload: 'Content-Format not set',
      format: Format.TEXT,
    });
  });

  it('If-None-Match without data creates (format may be absent), with data → 4.12', () => {
    const { root } = tree();
    const created = dispatch(root, { method: 'PUT', path: '/validate', ifMatch: [Buffer.from([5])], ifNoneMatch: true, payload: 'raw' });
    expect(created.response).toEqual({ code: Code.CREATED });
    const get = dispatch(root, { path: '/validate' });
    expect(text(get.response)).toBe('raw');
    expect(get.response.format).toBeUndefined();
    const again = dispatch(root, { method: 'PUT', path: '/validate', ifMatch: [Buffer.from([5])], ifNoneMatch: true, payload: 'x' });
    expect(again.response.code).toBe(Code.PRECONDITION_FAILED);
  });

  it('DELETE clears', () => {
    const { root } = tree();
    dispatch(root, { method: 'PUT', path: '/validate', payload: 'x', contentFormat: 0 });
    expect(dispatch(root, { method: 'DELETE', path: '/validate' }).response).toEqual({ code: Code.DELETED });
    expect(resOption(dispatch(root, { path: '/validate' }).response, Opt.ETAG)).toEqual(EMPTY_ETAG);
  });
});

describe('/create1', () => {
  it('CORE_23: first PUT If-None-Match → 2.01, second → 4.12 and the data is cleared (retry creates)', () => {
    const { root } = tree();
    const create1 = root.children.get('create1')!;
    expect(create1.visible).toBe(false);
    expect(dispatch(root, { path: '/create1' }).response).toEqual({ code: Code.NOT_FOUND });
    const a = dispatch(root, { method: 'PUT', path: '/create1', ifNoneMatch: true, payload: 'TD_COAP_CORE_23 Part A', contentFormat: 0 });
    expect(a.response).toEqual({ code: Code.CREATED });
    expect(create1.visible).toBe(true);
    expect(create1.attributes.get('ct')).toEqual(['0']);
    const get = dispatch(root, { path: '/create1' });
    expect(get.response).toEqual({ code: Code.CONTENT, payload: Buffer.from('TD_COAP_CORE_23 Part A'), format: 0 });
    const b = dispatch(root, { method: 'PUT', path: '/create1', ifNoneMatch: true, payload: 'Part B', contentFormat: 0 });
    expect(b.response).toEqual({ code: Code.PRECONDITION_FAILED });
    expect(dispatch(root, { path: '/create1' }).response.code).toBe(Code.NOT_FOUND);
    const retry = dispatch(root, { method: 'PUT', path: '/create1', ifNoneMatch: true, payload: 'Part B', contentFormat: 0 });
    expect(retry.response.code).toBe(Code.CREATED);
  });
  it('PUT without Content-Format → 4.00; PUT without If-None-Match overwrites', () => {
    const { root } = tree();
    expect(dispatch(root, { method: 'PUT', path: '/create1', payload: 'x' }).response).toEqual({
      code: Code.BAD_REQUEST,
      payload: 'Content-Format not set',
      format: 0,
    });
    dispatch(root, { method: 'PUT', path: '/create1', payload: 'one', contentFormat: 0 });
    expect(dispatch(root, { method: 'PUT', path: '/create1', payload: 'two', contentFormat: 42 }).response.code).toBe(Code.CREATED);
    expect(dispatch(root, { path: '/create1' }).response).toEqual({ code: Code.CONTENT, payload: Buffer.from('two'), format: 42 });
  });
  it('DELETE clears and hides', () => {
    const { root } = tree();
    dispatch(root, { method: 'PUT', path: '/create1', payload: 'one', contentFormat: 0 });
    expect(dispatch(root, { method: 'DELETE', path: '/create1' }).response).toEqual({ code: Code.DELETED });
    expect(root.children.get('create1')!.visible).toBe(false);
    expect(dispatch(root, { path: '/create1' }).response.code).toBe(Code.NOT_FOUND);
  });
});

describe('/shutdown', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());
  it('POST sesame → 2.04, shutdown after 500 ms', () => {
    const shutdown = vi.fn();
    const { root } = tree(shutdown);
    expect(dispatch(root, { method: 'POST', path: '/shutdown', payload: 'sesame' }).response).toEqual({ code: Code.CHANGED });
    vi.advanceTimersByTime(499);
    expect(shutdown).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(shutdown).toHaveBeenCalledTimes(1);
  });
  it('other payload → 4.03, no shutdown', () => {
    const shutdown = vi.fn();
    const { root } = tree(shutdown);
    expect(dispatch(root, { method: 'POST', path: '/shutdown', payload: 'open' }).response).toEqual({ code: Code.FORBIDDEN });
    vi.advanceTimersByTime(1000);
    expect(shutdown).not.toHaveBeenCalled();
  });
});

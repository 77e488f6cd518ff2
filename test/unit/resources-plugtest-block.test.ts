import { describe, expect, it } from 'vitest';
import { Code, Format, Opt } from '../../src/coap/message.js';
import { createPlugtestResources } from '../../src/resources/plugtest/index.js';
import { LARGE_TEXT } from '../../src/resources/plugtest/large.js';
import { dispatch, fakeObserver, resOptions, text } from '../helpers/fake-exchange.js';

function tree() {
  return createPlugtestResources({ notifyInterval: 5000, echoDelay: false, version: '1', shutdown: () => {} }).root;
}

const REQUEST_TEXT = [1, 2, 3, 4, 5]
  .map((n) => `/${'-'.repeat(61)}\\\n|${' '.repeat(17)}Request BLOCK NO. ${n} OF 5${' '.repeat(20)}|\n`)
  .join('');

describe('/large text', () => {
  it('is 1280 bytes of 20 lines with 64 bytes each', () => {
    expect(Buffer.byteLength(LARGE_TEXT)).toBe(1280);
    const lines = LARGE_TEXT.split('\n');
    expect(lines.pop()).toBe('');
    expect(lines).toHaveLength(20);
    for (const l of lines) expect(l).toHaveLength(63);
  });
  it('has the exact block layout', () => {
    const lines = LARGE_TEXT.split('\n');
    for (let n = 1; n <= 5; n++) {
      const i = (n - 1) * 4;
      expect(lines[i]).toBe('/' + '-'.repeat(61) + '\\');
      expect(lines[i + 1]).toBe('|' + ' '.repeat(17) + `RESOURCE BLOCK NO. ${n} OF 5` + ' '.repeat(19) + '|');
      expect(lines[i + 2]).toBe('|' + ' '.repeat(15) + '[each line contains 64 bytes]' + ' '.repeat(17) + '|');
      expect(lines[i + 3]).toBe('\\' + '-'.repeat(61) + '/');
    }
  });
  it('GET /large answers it as text', () => {
    const ex = dispatch(tree(), { path: '/large' });
    expect(ex.response).toEqual({ code: Code.CONTENT, payload: LARGE_TEXT, format: Format.TEXT });
    expect(ex.accepted).toBe(0);
  });
});

describe('/large-separate', () => {
  it('accepts and answers the large text', () => {
    const ex = dispatch(tree(), { path: '/large-separate' });
    expect(ex.accepted).toBe(1);
    expect(ex.response).toEqual({ code: Code.CONTENT, payload: LARGE_TEXT, format: Format.TEXT });
  });
});

describe('/large-update', () => {
  it('initially holds the large text, Accept mismatch → 4.06 "text/plain only"', () => {
    const root = tree();
    expect(dispatch(root, { path: '/large-update' }).response).toEqual({
      code: Code.CONTENT,
      payload: Buffer.from(LARGE_TEXT),
      format: 0,
    });
    expect(dispatch(root, { path: '/large-update', accept: 0 }).response.code).toBe(Code.CONTENT);
    expect(dispatch(root, { path: '/large-update', accept: 50 }).response).toEqual({
      code: Code.NOT_ACCEPTABLE,
      payload: 'text/plain only',
      format: 0,
    });
  });
  it('BLOCK_03: PUT stores payload and format, updates ct/sz and notifies', () => {
    const root = tree();
    const res = root.children.get('large-update')!;
    const obs = fakeObserver(res);
    const put = dispatch(root, { method: 'PUT', path: '/large-update', payload: REQUEST_TEXT, contentFormat: 0 });
    expect(put.response).toEqual({ code: Code.CHANGED });
    expect(obs.notified).toBe(1);
    expect(res.attributes.get('ct')).toEqual(['0']);
    expect(res.attributes.get('sz')).toEqual([String(Buffer.byteLength(REQUEST_TEXT))]);
    expect(text(dispatch(root, { path: '/large-update' }).response)).toBe(REQUEST_TEXT);
    dispatch(root, { method: 'PUT', path: '/large-update', payload: '{}', contentFormat: 50 });
    expect(dispatch(root, { path: '/large-update', accept: 0 }).response).toEqual({
      code: Code.NOT_ACCEPTABLE,
      payload: 'application/json only',
      format: 0,
    });
    expect(dispatch(root, { path: '/large-update' }).response).toEqual({ code: Code.CONTENT, payload: Buffer.from('{}'), format: 50 });
  });
  it('PUT without Content-Format → 4.00, empty payload allowed', () => {
    const root = tree();
    expect(dispatch(root, { method: 'PUT', path: '/large-update', payload: 'x' }).response).toEqual({
      code: Code.BAD_REQUEST,
      payload: 'Content-Format not set',
      format: 0,
    });
    expect(dispatch(root, { method: 'PUT', path: '/large-update', contentFormat: 42 }).response.code).toBe(Code.CHANGED);
    expect(dispatch(root, { path: '/large-update' }).response).toEqual({ code: Code.CONTENT, payload: Buffer.alloc(0), format: 42 });
  });
});

describe('/large-create', () => {
  it('BLOCK_04: POST creates numbered children with Location-Path', () => {
    const root = tree();
    expect(dispatch(root, { path: '/large-create' }).response).toEqual({ code: Code.CONTENT, payload: '', format: Format.LINK });
    const first = dispatch(root, { method: 'POST', path: '/large-create', payload: REQUEST_TEXT, contentFormat: 0 });
    expect(first.response.code).toBe(Code.CREATED);
    expect(resOptions(first.response, Opt.LOCATION_PATH).map(String)).toEqual(['large-create', '1']);
    const second = dispatch(root, { method: 'POST', path: '/large-create', payload: '<a/>', contentFormat: 41 });
    expect(resOptions(second.response, Opt.LOCATION_PATH).map(String)).toEqual(['large-create', '2']);
    expect(dispatch(root, { path: '/large-create' }).response).toEqual({
      code: Code.CONTENT,
      payload: `</large-create/1>;ct=0;sz=${Buffer.byteLength(REQUEST_TEXT)},</large-create/2>;ct=41;sz=4`,
      format: Format.LINK,
    });
    expect(text(dispatch(root, { path: '/large-create/1' }).response)).toBe(REQUEST_TEXT);
    expect(dispatch(root, { path: '/large-create/2', accept: 0 }).response).toEqual({
      code: Code.NOT_ACCEPTABLE,
      payload: 'application/xml only',
      format: 0,
    });
    expect(dispatch(root, { path: '/large-create/2', accept: 41 }).response).toEqual({
      code: Code.CONTENT,
      payload: Buffer.from('<a/>'),
      format: 41,
    });
  });
  it('POST without Content-Format → 4.00 and nothing is created', () => {
    const root = tree();
    expect(dispatch(root, { method: 'POST', path: '/large-create', payload: 'x' }).response).toEqual({
      code: Code.BAD_REQUEST,
      payload: 'Content-Format not set',
      format: 0,
    });
    expect(root.children.get('large-create')!.children.size).toBe(0);
  });
  it('child DELETE removes it; the counter keeps counting', () => {
    const root = tree();
    dispatch(root, { method: 'POST', path: '/large-create', payload: 'a', contentFormat: 0 });
    expect(dispatch(root, { method: 'DELETE', path: '/large-create/1' }).response).toEqual({ code: Code.DELETED });
    expect(dispatch(root, { path: '/large-create/1' }).response.code).toBe(Code.NOT_FOUND);
    const next = dispatch(root, { method: 'POST', path: '/large-create', payload: 'b', contentFormat: 0 });
    expect(resOptions(next.response, Opt.LOCATION_PATH).map(String)).toEqual(['large-create', '2']);
    expect(dispatch(root, { method: 'PUT', path: '/large-create/2' }).response.code).toBe(Code.METHOD_NOT_ALLOWED);
  });
});

describe('/large-post', () => {
  it('GET answers an empty link-format', () => {
    expect(dispatch(tree(), { path: '/large-post' }).response).toEqual({ code: Code.CONTENT, payload: '', format: Format.LINK });
  });
  it('BLOCK_05: POST answers the upper-cased text as 2.04 text/plain', () => {
    const ex = dispatch(tree(), { method: 'POST', path: '/large-post', payload: REQUEST_TEXT, contentFormat: 0 });
    expect(ex.response).toEqual({ code: Code.CHANGED, payload: REQUEST_TEXT.toUpperCase(), format: Format.TEXT });
    expect(text(ex.response)).toContain('REQUEST BLOCK NO. 5 OF 5');
  });
  it('POST without Content-Format → 4.00', () => {
    expect(dispatch(tree(), { method: 'POST', path: '/large-post', payload: 'abc' }).response).toEqual({
      code: Code.BAD_REQUEST,
      payload: 'Content-Format not set',
      format: 0,
    });
  });
});

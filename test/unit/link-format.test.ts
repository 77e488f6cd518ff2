import { describe, expect, it } from 'vitest';
import {
  createWellKnownCore,
  encodePathSegment,
  linkFormat,
  linkUri,
  matchesFilter,
  serializeAttribute,
  subTreeLinkFormat,
} from '../../src/coap/link-format.js';
import { Code, Format } from '../../src/coap/message.js';
import { addChild, createResource, type Resource } from '../../src/coap/resource.js';
import { createPlugtestResources } from '../../src/resources/plugtest/index.js';
import { dispatch, text } from '../helpers/fake-exchange.js';

function uris(linkFormatText: string): string[] {
  return [...linkFormatText.matchAll(/(?:^|,)(<[^>]*>)/g)].map((m) => m[1]!);
}

function tree(): Resource {
  const root = createResource('');
  addChild(root, createResource('b', { attributes: { rt: 'x' } }));
  const hidden = addChild(root, createResource('a', { visible: false }));
  addChild(hidden, createResource('child', { title: 'Child', attributes: { sz: '12', ct: ['0', '40'] } }));
  addChild(root, createResource('a-b'));
  addChild(root, createResource('B', { observable: true }));
  return root;
}

describe('encodePathSegment', () => {
  it('keeps Java URLEncoder safe characters', () => {
    expect(encodePathSegment('aZ09.-*_')).toBe('aZ09.-*_');
  });
  it('encodes blanks as + and others as uppercase %XX of UTF-8', () => {
    expect(encodePathSegment('a b')).toBe('a+b');
    expect(encodePathSegment('CN=cf-client,OU=x')).toBe('CN%3Dcf-client%2COU%3Dx');
    expect(encodePathSegment('ü~/')).toBe('%C3%BC%7E%2F');
    expect(encodePathSegment('ni:///sha-256;ab')).toBe('ni%3A%2F%2F%2Fsha-256%3Bab');
  });
  it('linkUri joins encoded segments of the parent chain', () => {
    const root = createResource('');
    const echo = addChild(root, createResource('echo'));
    const kid = addChild(echo, createResource('a b'));
    expect(linkUri(kid)).toBe('/echo/a+b');
  });
});

describe('serializeAttribute', () => {
  it('bare name for empty value lists and a single empty value', () => {
    expect(serializeAttribute('obs', [])).toBe('obs');
    expect(serializeAttribute('obs', [''])).toBe('obs');
  });
  it('digit-only single values unquoted, others quoted', () => {
    expect(serializeAttribute('sz', ['1280'])).toBe('sz=1280');
    expect(serializeAttribute('rt', ['block'])).toBe('rt="block"');
    expect(serializeAttribute('sz', ['-1'])).toBe('sz="-1"');
  });
  it('multiple values blank-joined and quoted (even digits)', () => {
    expect(serializeAttribute('ct', ['0', '40'])).toBe('ct="0 40"');
  });
});

describe('linkFormat', () => {
  it('lists visible resources sorted byte-wise, children of invisible ones included, attributes sorted', () => {
    expect(linkFormat(tree())).toBe('</B>;obs,</a-b>,</a/child>;ct="0 40";sz=12;title="Child",</b>;rt="x"');
  });
  it('returns an empty string for an empty tree', () => {
    expect(linkFormat(createResource(''))).toBe('');
  });
  it('serializes a sub-tree with absolute URIs', () => {
    const root = tree();
    expect(subTreeLinkFormat(root.children.get('a')!)).toBe('</a/child>;ct="0 40";sz=12;title="Child"');
  });
  it('filters by name=value, prefix, bare name, href', () => {
    const root = tree();
    expect(uris(linkFormat(root, 'rt=x'))).toEqual(['</b>']);
    expect(uris(linkFormat(root, 'rt=y'))).toEqual([]);
    expect(uris(linkFormat(root, 'ct=4*'))).toEqual(['</a/child>']);
    expect(uris(linkFormat(root, 'ct=40'))).toEqual(['</a/child>']);
    expect(uris(linkFormat(root, 'ct=4'))).toEqual([]);
    expect(uris(linkFormat(root, 'obs'))).toEqual(['</B>']);
    expect(uris(linkFormat(root, 'obs=*'))).toEqual(['</B>']);
    expect(uris(linkFormat(root, 'sz'))).toEqual(['</a/child>']);
    expect(uris(linkFormat(root, 'href=/a/child'))).toEqual(['</a/child>']);
    expect(uris(linkFormat(root, 'href=/a*'))).toEqual(['</a-b>', '</a/child>']);
    expect(uris(linkFormat(root, 'href=/a'))).toEqual([]);
  });
  it('matchesFilter without filter matches everything', () => {
    expect(matchesFilter({ uri: '/x', attributes: new Map() }, undefined)).toBe(true);
    expect(matchesFilter({ uri: '/x', attributes: new Map() }, 'rt')).toBe(false);
  });
});

describe('/.well-known/core', () => {
  const root = tree();
  addChild(root, createWellKnownCore(root));

  it('is invisible itself and answers 2.05 link-format', () => {
    const ex = dispatch(root, { path: '/.well-known/core' });
    expect(ex.response.code).toBe(Code.CONTENT);
    expect(ex.response.format).toBe(Format.LINK);
    expect(text(ex.response)).toBe(linkFormat(root));
    expect(text(ex.response)).not.toContain('well-known');
  });
  it('accepts Accept 40 and rejects other Accept with 4.06', () => {
    expect(dispatch(root, { path: '/.well-known/core', accept: 40 }).response.code).toBe(Code.CONTENT);
    const ex = dispatch(root, { path: '/.well-known/core', accept: 0 });
    expect(ex.response).toEqual({ code: Code.NOT_ACCEPTABLE });
  });
  it('rejects more than one query with 4.02', () => {
    const ex = dispatch(root, { path: '/.well-known/core', query: ['rt=x', 'ct=0'] });
    expect(ex.response).toEqual({
      code: Code.BAD_OPTION,
      payload: 'only one search query is supported!',
      format: Format.TEXT,
    });
  });
  it('applies one filter query', () => {
    expect(text(dispatch(root, { path: '/.well-known/core', query: ['rt=x'] }).response)).toBe('</b>;rt="x"');
  });
  it('only GET is allowed', () => {
    expect(dispatch(root, { method: 'POST', path: '/.well-known/core' }).response.code).toBe(Code.METHOD_NOT_ALLOWED);
  });
});

describe('TD_COAP_LINK on the plugtest tree', () => {
  const { root } = createPlugtestResources({ notifyInterval: 5000, echoDelay: false, version: '1.0', shutdown: () => {} });
  const discover = (query?: string): string => {
    const ex = dispatch(root, { path: '/.well-known/core', query: query === undefined ? [] : [query] });
    expect(ex.response.code).toBe(Code.CONTENT);
    expect(ex.response.format).toBe(Format.LINK);
    return text(ex.response);
  };

  it('LINK_01 lists the visible resources only', () => {
    const list = uris(discover());
    expect(list).toContain('</test>');
    expect(list).toContain('</seg1/seg2/seg3>');
    expect(list).toContain('</echo>');
    for (const hidden of ['</myip>', '</mycontext>', '</telemetry>', '</event>', '</create1>', '</.well-known/core>']) {
      expect(list).not.toContain(hidden);
    }
    const bare = list.map((u) => u.slice(1, -1));
    expect([...bare].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)))).toEqual(bare);
  });
  it('link1..3 serialize exactly', () => {
    const all = discover();
    expect(all).toContain('</link1>;if="If1";rt="Type1 Type2";title="Link test resource"');
    expect(all).toContain('</link2>;if="If2";rt="Type2 Type3";title="Link test resource"');
    expect(all).toContain('</link3>;if="foo";rt="Type1 Type3";title="Link test resource"');
    expect(all).toContain('</obs>;obs;rt="observe";title=');
    expect(all).toContain('</large>;rt="block";sz=1280;title="Large resource"');
  });
  it('LINK_02 rt=Type1', () => {
    expect(uris(discover('rt=Type1'))).toEqual(['</link1>', '</link3>']);
  });
  it('LINK_03 rt=* lists only links with rt', () => {
    const list = uris(discover('rt=*'));
    expect(list).toEqual([
      '</large>',
      '</large-create>',
      '</large-post>',
      '</large-separate>',
      '</large-update>',
      '</link1>',
      '</link2>',
      '</link3>',
      '</obs>',
      '</obs-large>',
      '</obs-non>',
      '</obs-pumping>',
      '</obs-pumping-non>',
    ]);
  });
  it('LINK_04 rt=Type2', () => {
    expect(uris(discover('rt=Type2'))).toEqual(['</link1>', '</link2>']);
  });
  it('LINK_05 if=If*', () => {
    expect(uris(discover('if=If*'))).toEqual(['</link1>', '</link2>']);
  });
  it('LINK_06 sz=*', () => {
    expect(uris(discover('sz=*'))).toEqual(['</large>', '</large-separate>', '</large-update>']);
  });
  it('LINK_07 href=/link1', () => {
    expect(discover('href=/link1')).toBe('</link1>;if="If1";rt="Type1 Type2";title="Link test resource"');
  });
  it('LINK_08 href=/link*', () => {
    expect(uris(discover('href=/link*'))).toEqual(['</link1>', '</link2>', '</link3>']);
  });
  it('LINK_09 ct=40, then /path and /path/sub1', () => {
    expect(uris(discover('ct=40'))).toEqual(['</echo>', '</path>']);
    const path = dispatch(root, { path: '/path' });
    expect(path.response.code).toBe(Code.CONTENT);
    expect(path.response.format).toBe(Format.LINK);
    expect(uris(text(path.response))).toEqual(['</path/sub1>', '</path/sub2>', '</path/sub3>']);
    const sub = dispatch(root, { path: '/path/sub1' });
    expect(sub.response).toEqual({ code: Code.CONTENT, payload: '/path/sub1', format: Format.TEXT });
  });
});

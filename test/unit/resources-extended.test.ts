import { afterEach, describe, expect, it, vi } from 'vitest';
import { decode } from 'cbor-x';
import { Code, Format } from '../../src/coap/message.js';
import { createExtendedResources } from '../../src/resources/extended/index.js';
import { createPlugtestResources } from '../../src/resources/plugtest/index.js';
import { PUBLIC_DATA_NOTE, bannerTitle, rootBanner } from '../../src/resources/extended/root.js';
import { contextFields } from '../../src/resources/extended/mycontext.js';
import { dispatch, fakeDtls, text } from '../helpers/fake-exchange.js';

const OPTS = { notifyInterval: 5000, echoDelay: false, version: '3.4.5', shutdown: () => {} };
const ext = () => createExtendedResources(OPTS).root;

afterEach(() => vi.unstubAllEnvs());

describe('root banner', () => {
  it('extended banner has no public-data note by default', () => {
    vi.stubEnv('COAP_ROOT_RESOURCE_NOTE', '');
    vi.stubEnv('COAP_ROOT_RESOURCE_FOOTER', '');
    const ex = dispatch(ext(), { path: '/' });
    expect(ex.response.code).toBe(Code.CONTENT);
    expect(ex.response.format).toBe(Format.TEXT);
    const body = text(ex.response);
    expect(body.split('\n')[1]).toBe(bannerTitle('3.4.5'));
    expect(body).not.toContain('public visible');
    expect(body.startsWith('*'.repeat(64) + '\n')).toBe(true);
    expect(body.endsWith('\n' + '*'.repeat(64))).toBe(true);
  });
  it('title line is 64 characters with the version right-aligned', () => {
    expect(bannerTitle('3.4.5')).toBe('CoAP RFC 7252' + ' '.repeat(64 - 13 - 17) + 'extplugtest 3.4.5');
    expect(bannerTitle('3.4.5')).toHaveLength(64);
  });
  it('env note and footer are added', () => {
    vi.stubEnv('COAP_ROOT_RESOURCE_NOTE', 'Hello note');
    vi.stubEnv('COAP_ROOT_RESOURCE_FOOTER', 'Footer line');
    const body = text(dispatch(ext(), { path: '/' }).response);
    expect(body).toContain('\nHello note\n\n');
    expect(body.endsWith('\nFooter line\n' + '*'.repeat(64))).toBe(true);
    const plug = text(dispatch(createPlugtestResources(OPTS).root, { path: '/' }).response);
    expect(plug).toContain(PUBLIC_DATA_NOTE + '\n\n');
    expect(plug).toContain('\nHello note\n\n');
  });
  it('rootBanner places notes before the copyright line', () => {
    const b = rootBanner({ version: '1', notes: ['N1'] });
    expect(b.indexOf('N1')).toBeLessThan(b.indexOf('(c)'));
  });
});

describe('/mycontext', () => {
  const dtls = fakeDtls({
    nodeId: 2,
    peerIdentity: 'cali.30FC0A725D79F82C',
    sessionId: Buffer.from('3DEA401B64E67AFADDC8BA04EC8AD51DAFF24D76D65022996AD82FB8B43C09BF', 'hex'),
    readCid: Buffer.from('B92D2E09B995', 'hex'),
    writeCid: Buffer.alloc(0),
    secureRenegotiation: true,
    extendedMasterSecret: true,
    newestRecord: true,
    messageSizeLimit: 1367,
  });

  it('plain text without DTLS: ip, port, server', () => {
    const ex = dispatch(ext(), { path: '/mycontext' }, { context: { address: '127.0.0.1', port: 5000 } });
    expect(ex.response).toEqual({
      code: Code.CONTENT,
      payload: 'ip: 127.0.0.1\nport: 5000\nserver: extplugtest 3.4.5',
      format: Format.TEXT,
    });
  });
  it('text with all DTLS fields in order (spec example)', () => {
    const ex = dispatch(ext(), { path: '/mycontext', accept: 0 }, { context: { address: '10.0.0.7', port: 40163 }, dtls });
    expect(text(ex.response)).toBe(
      [
        'ip: 10.0.0.7',
        'port: 40163',
        'node-id: 2',
        'peer: cali.30FC0A725D79F82C',
        'cipher-suite: TLS_PSK_WITH_AES_128_CCM_8',
        'session-id: 3DEA401B64E67AFADDC8BA04EC8AD51DAFF24D76D65022996AD82FB8B43C09BF',
        'read-cid: B92D2E09B995',
        'write-cid: ',
        'secure-renegotiation: true',
        'ext-master-secret: true',
        'newest-record: true',
        'message-size-limit: 1367',
        'server: extplugtest 3.4.5',
      ].join('\n'),
    );
  });
  it('via, prev address, false flags and session id from creation time', () => {
    const d = fakeDtls({
      sessionId: Buffer.alloc(0),
      sessionTime: 1700000000123,
      via: 'dtls-cid-router',
      newestRecord: false,
      prevAddress: '10.0.0.8',
      prevPort: 1234,
    });
    const fields = contextFields({ address: '::1', port: 1, dtls: d }, '1');
    expect(fields).toEqual([
      ['ip', '::1'],
      ['port', 1],
      ['cipher-suite', 'TLS_PSK_WITH_AES_128_CCM_8'],
      ['session-id', Buffer.from('TIME:1700000000123').toString('hex').toUpperCase()],
      ['via', 'dtls-cid-router'],
      ['newest-record', false],
      ['message-size-limit', 1367],
      ['prev-ip', '10.0.0.8'],
      ['prev-port', 1234],
      ['server', 'extplugtest 1'],
    ]);
  });
  it('JSON layout', () => {
    const ex = dispatch(ext(), { path: '/mycontext', accept: 50 }, {
      context: { address: '10.0.0.7', port: 40163 },
      dtls: fakeDtls({ nodeId: 2, sessionId: Buffer.from([0xab]) }),
    });
    expect(ex.response.format).toBe(Format.JSON);
    expect(text(ex.response)).toBe(
      '{\n  "ip": "10.0.0.7",\n  "port": 40163,\n  "node-id": "2",\n' +
        '  "cipher-suite": "TLS_PSK_WITH_AES_128_CCM_8",\n  "session-id": "AB",\n' +
        '  "newest-record": true,\n  "message-size-limit": 1367,\n  "server": "extplugtest 3.4.5"\n}',
    );
    expect(JSON.parse(text(ex.response))['node-id']).toBe('2');
  });
  it('XML layout', () => {
    const ex = dispatch(ext(), { path: '/mycontext', accept: 41 }, { context: { address: '1.2.3.4', port: 9 } });
    expect(ex.response).toEqual({
      code: Code.CONTENT,
      payload: '<context ip="1.2.3.4" port="9" server="extplugtest 3.4.5" />',
      format: Format.XML,
    });
  });
  it('CBOR map with text, integer and boolean values', () => {
    const ex = dispatch(ext(), { path: '/mycontext', accept: 60 }, { context: { address: '1.2.3.4', port: 9 }, dtls });
    expect(ex.response.format).toBe(Format.CBOR);
    const map = decode(ex.response.payload as Buffer);
    expect(Object.keys(map)).toEqual([
      'ip',
      'port',
      'node-id',
      'peer',
      'cipher-suite',
      'session-id',
      'read-cid',
      'write-cid',
      'secure-renegotiation',
      'ext-master-secret',
      'newest-record',
      'message-size-limit',
      'server',
    ]);
    expect(map.port).toBe(9);
    expect(map['ext-master-secret']).toBe(true);
    expect(map['node-id']).toBe('2');
  });
  it('other Accept → 4.06 naming the type', () => {
    expect(dispatch(ext(), { path: '/mycontext', accept: 42 }).response).toEqual({
      code: Code.NOT_ACCEPTABLE,
      payload: 'Type "application/octet-stream" is not supported for this resource!',
      format: Format.TEXT,
    });
    expect(dispatch(ext(), { path: '/mycontext', accept: 9999 }).response.payload).toBe(
      'Type "unknown/9999" is not supported for this resource!',
    );
  });
});

describe('/myip', () => {
  const v4 = { context: { address: '192.168.1.2', port: 5684 } };
  const v6 = { context: { address: '2001:db8::1', port: 5683 } };
  it('text', () => {
    expect(dispatch(ext(), { path: '/myip' }, v4).response).toEqual({
      code: Code.CONTENT,
      payload: '192.168.1.2:5684',
      format: Format.TEXT,
    });
    expect(text(dispatch(ext(), { path: '/myip', accept: 0 }, v6).response)).toBe('[2001:db8::1]:5683');
  });
  it('JSON and XML', () => {
    expect(dispatch(ext(), { path: '/myip', accept: 50 }, v4).response).toEqual({
      code: Code.CONTENT,
      payload: '{ "ip" : "192.168.1.2",\n "port" : 5684 }',
      format: Format.JSON,
    });
    expect(dispatch(ext(), { path: '/myip', accept: 41 }, v6).response).toEqual({
      code: Code.CONTENT,
      payload: '<ip host="2001:db8::1" port="5683" />',
      format: Format.XML,
    });
  });
  it('other Accept → 4.06', () => {
    expect(dispatch(ext(), { path: '/myip', accept: 60 }, v4).response).toEqual({
      code: Code.NOT_ACCEPTABLE,
      payload: 'Type "application/cbor" is not supported for this resource!',
      format: Format.TEXT,
    });
  });
});

describe('/telemetry and /event', () => {
  for (const name of ['telemetry', 'event']) {
    it(`${name}: text, JSON, octets, 4.06, PUT 4.05`, () => {
      const root = ext();
      expect(dispatch(root, { method: 'POST', path: `/${name}`, payload: 'ignored' }).response).toEqual({
        code: Code.CHANGED,
        payload: `${name} published!`,
        format: Format.TEXT,
      });
      expect(text(dispatch(root, { method: 'POST', path: `/${name}`, accept: 0 }).response)).toBe(`${name} published!`);
      expect(dispatch(root, { method: 'POST', path: `/${name}`, accept: 50 }).response).toEqual({
        code: Code.CHANGED,
        payload: `{ "type" : "${name}", "msg" : "published!" }`,
        format: Format.JSON,
      });
      expect(dispatch(root, { method: 'POST', path: `/${name}`, accept: 42 }).response).toEqual({
        code: Code.CHANGED,
        payload: Buffer.from(`${name} published!`),
        format: Format.OCTETS,
      });
      expect(dispatch(root, { method: 'POST', path: `/${name}`, accept: 41 }).response).toEqual({
        code: Code.NOT_ACCEPTABLE,
        payload: 'Type "application/xml" is not supported for this resource!',
        format: Format.TEXT,
      });
      expect(dispatch(root, { method: 'PUT', path: `/${name}` }).response.code).toBe(Code.METHOD_NOT_ALLOWED);
      expect(dispatch(root, { method: 'GET', path: `/${name}` }).response.code).toBe(Code.METHOD_NOT_ALLOWED);
    });
  }
});

describe('tree factories', () => {
  it('extended tree: visible echo/mycontext/myip, invisible discovery and Hono', () => {
    const { root } = createExtendedResources(OPTS);
    const visible = (n: string) => root.children.get(n)!.visible;
    expect([...root.children.keys()].sort()).toEqual([
      '.well-known', 'benchmark', 'echo', 'event', 'mycontext', 'myip', 'requests', 'reverse-observe', 'reverse-request', 'telemetry',
    ]);
    expect(visible('echo')).toBe(true);
    expect(visible('mycontext')).toBe(true);
    expect(visible('myip')).toBe(true);
    expect(visible('telemetry')).toBe(false);
    expect(visible('event')).toBe(false);
    expect(visible('.well-known')).toBe(false);
    expect(root.children.get('mycontext')!.attributes.get('ct')).toEqual(['0', '60', '50', '41']);
    expect(root.children.get('myip')!.attributes.get('ct')).toEqual(['0', '50', '41']);
    expect(root.children.get('telemetry')!.attributes.get('ct')).toEqual(['50', '0', '42']);
    expect(text(dispatch(root, { path: '/.well-known/core' }).response)).toBe(
      '</benchmark>;ct=0;title="Benchmark (disabled)",' +
        '</echo>;ct="0 42 40";title="Resource, which echo\'s a POST. POSTs with URI-query \'keep\' can later be read by GET",' +
        '</mycontext>;ct="0 60 50 41";title="Communication Context",</myip>;ct="0 50 41";title="MyIP",' +
        '</requests>;ct="0 50 60";title="Resource that collects requests for client statistics",' +
        '</reverse-observe>;ct="0 42";title="Reverse Observe",</reverse-request>;ct="0 42";title="Reverse Request"',
    );
  });
  it('plugtest tree: myip/mycontext invisible but reachable, full resource set', () => {
    const { root } = createPlugtestResources(OPTS);
    expect(root.children.get('myip')!.visible).toBe(false);
    expect(root.children.get('mycontext')!.visible).toBe(false);
    expect(dispatch(root, { path: '/myip' }).response.code).toBe(Code.CONTENT);
    expect(dispatch(root, { path: '/mycontext' }).response.code).toBe(Code.CONTENT);
    expect([...root.children.keys()].sort()).toEqual(
      [
        '.well-known', 'create1', 'echo', 'event', 'large', 'large-create', 'large-post', 'large-separate', 'large-update',
        'link1', 'link2', 'link3', 'location-query', 'multi-format', 'mycontext', 'myip', 'obs', 'obs-large', 'obs-non',
        'obs-pumping', 'obs-pumping-non', 'obs-reset', 'path', 'query', 'separate', 'seg1', 'shutdown', 'telemetry',
        'test', 'validate',
      ].sort(),
    );
  });
  it('each tree has its own echo store', () => {
    const a = createPlugtestResources(OPTS).root;
    const b = createExtendedResources(OPTS).root;
    dispatch(a, { method: 'POST', path: '/echo', query: ['keep', 'id=x'] });
    expect(a.children.get('echo')!.children.size).toBe(1);
    expect(b.children.get('echo')!.children.size).toBe(0);
  });
  it('echo delay option is passed through', () => {
    vi.useFakeTimers();
    try {
      const t = createExtendedResources({ ...OPTS, echoDelay: true });
      const ex = dispatch(t.root, { method: 'POST', path: '/echo', query: ['delay=20'] });
      expect(ex.responses).toHaveLength(0);
      vi.advanceTimersByTime(20);
      expect(ex.responses).toHaveLength(1);
      t.stop();
    } finally {
      vi.useRealTimers();
    }
  });
});

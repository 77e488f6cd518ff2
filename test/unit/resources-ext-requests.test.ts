import { describe, expect, it } from 'vitest';
import { Decoder } from 'cbor-x';
import { Code, Format } from '../../src/coap/message.js';
import { addChild, createResource, type Resource } from '../../src/coap/resource.js';
import {
  REQUESTS_MAX_DEVICES,
  createRequestsResource,
  requestsBudget,
  requestsText,
  type RequestsResource,
} from '../../src/resources/extended/requests.js';
import { bytesToIp, ipToBytes } from '../../src/transport/address-bytes.js';
import { bytes, dispatch, fakeDtls, fakeExchange, buildRequest, text, type ExchangeSetup } from '../helpers/fake-exchange.js';

const START = 1_512_577_466_765;
let now = 1_700_000_000_000;

function tree(opts: { maxDevices?: number; maxHistory?: number } = {}) {
  const root = createResource('');
  const requests = createRequestsResource({ now: () => now, systemStart: START, ...opts });
  addChild(root, requests.resource);
  return { root, requests };
}

function post(root: Resource, query: string[], accept?: number, setup: ExchangeSetup = {}, token?: string) {
  return dispatch(root, { method: 'POST', path: '/requests', query, accept, token }, setup);
}

const cbor = new Decoder({ mapsAsObjects: true, useRecords: false });

describe('/requests query errors (4.02, text)', () => {
  const { root } = tree();
  const cases: [string[], string][] = [
    [[], "missing URI-query-options for 'dev' and 'rid'!"],
    [['dev=a'], "missing URI-query-option for 'rid'!"],
    [['rid=1'], "missing URI-query-option for 'dev'!"],
    [['dev', 'rid=1'], "missing URI-query-option for 'dev'!"],
    [['dev=a', 'rid'], "missing URI-query-option for 'rid'!"],
    [['dev=a', 'rid=1:2'], "URI-query-option 'rid' contains :!"],
    [['dev=a', 'rid=1', 'foo=bar'], "URI-query-option 'foo=bar' is not supported!"],
    [['dev=a', 'rid=1', 'rlen=0'], "URI-query-option 'rlen=0' is less than 1!"],
    [['dev=a', 'rid=1', 'rlen=1024'], "URI-query-option 'rlen=1024' is more than 1023!"],
    [['dev=a', 'rid=1', 'rlen=x'], "URI-query-option 'rlen=x' is no number!"],
    [['dev=a', 'rid=1', 'rlen='], "URI-query-option 'rlen=' is no number!"],
    // unsupported options and rlen are checked before the missing ones
    [['foo'], "URI-query-option 'foo' is not supported!"],
    [['rlen=0'], "URI-query-option 'rlen=0' is less than 1!"],
    [['dev=' + 'd'.repeat(65), 'rid=1'], "URI-query-option 'dev' too long!"],
    [['dev=a', 'rid=' + 'r'.repeat(65)], "URI-query-option 'rid' too long!"],
  ];
  for (const [query, message] of cases) {
    it(`${JSON.stringify(query).slice(0, 60)} → ${message.slice(0, 50)}`, () => {
      expect(post(root, query).response).toEqual({ code: Code.BAD_OPTION, payload: message, format: Format.TEXT });
    });
  }
  it('errors record nothing; 64-character ids are accepted', () => {
    const { root: r, requests } = tree();
    post(r, ['dev=a', 'rid=1:2']);
    expect(requests.deviceCount()).toBe(0);
    expect(post(r, ['dev=' + 'd'.repeat(64), 'rid=' + 'r'.repeat(64)]).response.code).toBe(Code.CHANGED);
    expect(requests.deviceCount()).toBe(1);
  });
});

describe('/requests text response', () => {
  it('systemstart line then one line per request, newest first, each ending with LF', () => {
    const { root } = tree();
    now = 1000;
    post(root, ['dev=d1', 'rid=RID1']);
    now = 2000;
    post(root, ['dev=d1', 'rid=RID2']);
    now = 3000;
    const ex = post(root, ['rid=RID3', 'dev=d1']);
    expect(ex.response.code).toBe(Code.CHANGED);
    expect(ex.response.format).toBe(Format.TEXT);
    expect(text(ex.response)).toBe(`systemstart:${START}\nRID3:3000\nRID2:2000\nRID1:1000\n`);
    const accept0 = post(root, ['dev=d1', 'rid=RID4'], 0);
    expect(accept0.response.format).toBe(Format.TEXT);
  });
  it('devices are separate; payload and Content-Format of the request are ignored', () => {
    const { root } = tree();
    now = 5;
    post(root, ['dev=a', 'rid=x']);
    const ex = dispatch(root, { method: 'POST', path: '/requests', query: ['dev=b', 'rid=y'], contentFormat: 50, payload: '{"a":1}' });
    expect(text(ex.response)).toBe(`systemstart:${START}\ny:5\n`);
  });
  it('keeps at most 24 entries per device', () => {
    const { root, requests } = tree();
    for (let i = 1; i <= 30; i++) {
      now = i;
      post(root, ['dev=d', `rid=R${i}`]);
    }
    const h = requests.history('d')!;
    expect(h).toHaveLength(24);
    expect(h[0]!.rid).toBe('R30');
    expect(h[23]!.rid).toBe('R7');
  });
  it('entries are added while the text fits rlen; the systemstart line always stays', () => {
    const { root } = tree();
    now = 1_700_000_000_123;
    for (let i = 1; i <= 3; i++) post(root, ['dev=d', `rid=R${i}`]);
    const head = `systemstart:${START}\n`; // 26 bytes
    const line = 'R3:1700000000123\n'; // 17 bytes
    expect(head.length).toBe(26);
    expect(text(post(root, ['dev=d', 'rid=R4', `rlen=${26 + 17}`]).response)).toBe(head + 'R4:1700000000123\n');
    expect(text(post(root, ['dev=d', 'rid=R5', `rlen=${26 + 17 - 1}`]).response)).toBe(head);
    expect(text(post(root, ['dev=d', 'rid=R6', 'rlen=1']).response)).toBe(head);
    expect(text(post(root, ['dev=d', 'rid=R7', `rlen=${26 + 2 * 17}`]).response)).toBe(head + 'R7:1700000000123\n' + line.replace('R3', 'R6'));
  });
  it('requestsText drops an entry that does not fit together with all older ones', () => {
    const history = [{ rid: 'a', time: 1 }, { rid: 'bbbbbbbbbb', time: 2 }, { rid: 'c', time: 3 }];
    expect(requestsText(7, history, 'systemstart:7\n'.length + 4)).toBe('systemstart:7\na:1\n');
  });
});

describe('/requests payload budget', () => {
  it('rlen without value means 500', () => {
    const { root } = tree();
    now = 1_700_000_000_000;
    for (let i = 0; i < 24; i++) post(root, ['dev=d', `rid=${'x'.repeat(40)}${i}`]);
    // over DTLS with a large record limit the budget is bigger than 500 ...
    const dtls = { dtls: fakeDtls({ messageSizeLimit: 1400 }) };
    const full = text(post(root, ['dev=d', `rid=${'x'.repeat(40)}`], undefined, dtls).response);
    expect(Buffer.byteLength(full)).toBeGreaterThan(500);
    // ... but a bare `rlen` sets it to 500
    const limited = text(post(root, ['dev=d', `rid=${'x'.repeat(40)}`, 'rlen'], undefined, dtls).response);
    expect(Buffer.byteLength(limited)).toBeLessThanOrEqual(500);
    expect(Buffer.byteLength(limited)).toBeGreaterThan(500 - 56);
  });
  it('without rlen: 500 on plain coap', () => {
    const { root } = tree();
    for (let i = 0; i < 24; i++) post(root, ['dev=d', `rid=${'y'.repeat(40)}${i}`]);
    const body = text(post(root, ['dev=d', 'rid=last']).response);
    expect(Buffer.byteLength(body)).toBeLessThanOrEqual(500);
    expect(body.split('\n').length - 1).toBeLessThan(24);
  });
  it('over DTLS with a message-size limit: L - (4 + token + Content-Format option + 1)', () => {
    const resource = createRequestsResource({ now: () => now, systemStart: START }).resource;
    const ex = fakeExchange(resource, buildRequest({ method: 'POST', token: '01020304' }), { dtls: fakeDtls({ messageSizeLimit: 100 }) });
    expect(requestsBudget(ex, undefined, Format.TEXT)).toBe(100 - (4 + 4 + 1 + 1));
    expect(requestsBudget(ex, undefined, Format.JSON)).toBe(100 - (4 + 4 + 2 + 1));
    expect(requestsBudget(ex, 33, Format.JSON)).toBe(33);
    const plain = fakeExchange(resource, buildRequest({ method: 'POST' }));
    expect(requestsBudget(plain, undefined, Format.TEXT)).toBe(500);
  });
  it('the DTLS budget limits the response', () => {
    const { root } = tree();
    now = 1_700_000_000_000;
    for (let i = 0; i < 10; i++) post(root, ['dev=d', `rid=R${i}`]);
    const ex = post(root, ['dev=d', 'rid=RX'], undefined, { dtls: fakeDtls({ messageSizeLimit: 60 }) }, 'AABB');
    // 60 - (4 + 2 + 1 + 1) = 52: header line 26 bytes + one 17-byte line
    expect(text(ex.response)).toBe(`systemstart:${START}\nRX:1700000000000\n`);
  });
});

describe('/requests JSON and CBOR', () => {
  it('JSON: compact array, systemstart first, ep/port only when recorded', () => {
    const { root } = tree();
    now = 11;
    post(root, ['dev=d', 'rid=a', 'ep'], undefined, { context: { address: '10.0.0.7', port: 40163 } });
    now = 12;
    const ex = post(root, ['dev=d', 'rid=b'], 50);
    expect(ex.response.format).toBe(Format.JSON);
    expect(text(ex.response)).toBe(
      `[{"systemstart":${START}},{"rid":"b","time":12},{"rid":"a","time":11,"ep":"10.0.0.7","port":40163}]`,
    );
  });
  it('JSON: IPv6 in full uncompressed form, IPv4-mapped addresses as IPv4', () => {
    const { root } = tree();
    now = 1;
    post(root, ['dev=d', 'rid=a', 'ep'], undefined, { context: { address: '::1', port: 5683 } });
    const ex = post(root, ['dev=d', 'rid=b', 'ep'], 50, { context: { address: '::ffff:192.168.1.2', port: 65535 } });
    const arr = JSON.parse(text(ex.response));
    expect(arr[1]).toEqual({ rid: 'b', time: 1, ep: '192.168.1.2', port: 65535 });
    expect(arr[2]).toEqual({ rid: 'a', time: 1, ep: '0:0:0:0:0:0:0:1', port: 5683 });
  });
  it('JSON: entries added while the serialized array fits', () => {
    const { root } = tree();
    now = 1;
    for (let i = 0; i < 5; i++) post(root, ['dev=d', `rid=R${i}`]);
    const base = `[{"systemstart":${START}}`;
    const item = ',{"rid":"R5","time":1}';
    const ex = post(root, ['dev=d', 'rid=R5', `rlen=${base.length + item.length + 1}`], 50);
    expect(text(ex.response)).toBe(base + item + ']');
    const none = post(root, ['dev=d', 'rid=R6', `rlen=${base.length + item.length}`], 50);
    expect(text(none.response)).toBe(base + ']');
  });
  it('CBOR: array of maps with integer times, raw address bytes and the signed 16-bit port', () => {
    const { root } = tree();
    now = 1_700_000_000_000;
    post(root, ['dev=d', 'rid=a', 'ep'], undefined, { context: { address: '127.0.0.1', port: 40163 } });
    post(root, ['dev=d', 'rid=b', 'ep'], undefined, { context: { address: '::1', port: 5683 } });
    const ex = post(root, ['dev=d', 'rid=c'], 60);
    expect(ex.response.format).toBe(Format.CBOR);
    const raw = bytes(ex.response);
    const list = cbor.decode(raw) as Array<Record<string, unknown>>;
    expect(list).toHaveLength(4);
    expect(Number(list[0]!.systemstart)).toBe(START);
    expect(list[1]).toMatchObject({ rid: 'c' });
    expect(list[1]!.ep).toBeUndefined();
    expect(Buffer.from(list[2]!.ep as Uint8Array)).toEqual(Buffer.alloc(16, 0).fill(1, 15));
    expect(list[2]!.port).toBe(5683);
    expect(Buffer.from(list[3]!.ep as Uint8Array)).toEqual(Buffer.from([127, 0, 0, 1]));
    expect(list[3]!.port).toBe(40163 - 65536);
    expect((list[3]!.port as number) & 0xffff).toBe(40163);
    // times are CBOR unsigned integers (major type 0, 8-byte form), not floats
    expect(raw.includes(Buffer.from('1b0000018bcfe56800', 'hex'))).toBe(true);
    expect(raw.includes(Buffer.from([0xfb]))).toBe(false);
  });
  it('CBOR: same size rule', () => {
    const { root } = tree();
    for (let i = 0; i < 24; i++) post(root, ['dev=d', `rid=${'z'.repeat(30)}${i}`]);
    const ex = post(root, ['dev=d', 'rid=q', 'rlen=200'], 60);
    expect(bytes(ex.response).length).toBeLessThanOrEqual(200);
    expect((cbor.decode(bytes(ex.response)) as unknown[]).length).toBeGreaterThan(2);
  });
  it('other Accept → 4.06 without payload (the request is still recorded, as the reference)', () => {
    const { root, requests } = tree();
    expect(post(root, ['dev=d', 'rid=a'], 41).response).toEqual({ code: Code.NOT_ACCEPTABLE });
    expect(requests.history('d')).toHaveLength(1);
  });
});

describe('/requests device store bounds', () => {
  it('evicts the least recently updated device when full', () => {
    const { root, requests } = tree({ maxDevices: 3 });
    for (const d of ['a', 'b', 'c']) post(root, [`dev=${d}`, 'rid=1']);
    post(root, ['dev=a', 'rid=2']); // a updated: b is now the least recently updated
    post(root, ['dev=d', 'rid=1']);
    expect(requests.deviceCount()).toBe(3);
    expect(requests.history('b')).toBeUndefined();
    expect(requests.history('a')!.map((e) => e.rid)).toEqual(['2', '1']);
    expect(requests.history('c')).toBeDefined();
    post(root, ['dev=e', 'rid=1']);
    expect(requests.history('c')).toBeUndefined();
  });
  it('a flood of 20,000 device ids keeps the store at the bound (small bound)', () => {
    const { root, requests } = tree({ maxDevices: 100 });
    for (let i = 0; i < 20_000; i++) post(root, [`dev=flood-${i}`, 'rid=1']);
    expect(requests.deviceCount()).toBe(100);
    expect(requests.history('flood-19999')).toBeDefined();
    expect(requests.history('flood-19899')).toBeUndefined();
  });
  it('the default bound is 16384 devices', () => {
    const r: RequestsResource = createRequestsResource({ now: () => now, systemStart: START });
    const root = createResource('');
    addChild(root, r.resource);
    for (let i = 0; i < 20_000; i++) post(root, [`dev=${i}`, 'rid=1']);
    expect(REQUESTS_MAX_DEVICES).toBe(16384);
    expect(r.deviceCount()).toBe(16384);
    expect(r.history('0')).toBeUndefined();
    expect(r.history(String(20_000 - 16384))).toBeDefined();
  });
  it('history length is a constructor parameter', () => {
    const { root, requests } = tree({ maxHistory: 2 });
    for (let i = 0; i < 5; i++) post(root, ['dev=d', `rid=${i}`]);
    expect(requests.history('d')!.map((e) => e.rid)).toEqual(['4', '3']);
  });
});

describe('address bytes', () => {
  it('parses IPv4, IPv6 (compressed, zoned, embedded IPv4) and renders Java style', () => {
    expect(ipToBytes('10.1.2.3')).toEqual(Buffer.from([10, 1, 2, 3]));
    expect(ipToBytes('fe80::1%eth0')).toEqual(Buffer.from('fe800000000000000000000000000001', 'hex'));
    expect(ipToBytes('2001:db8::ff00:42:8329')).toEqual(Buffer.from('20010db8000000000000ff0000428329', 'hex'));
    expect(ipToBytes('::ffff:1.2.3.4')).toEqual(Buffer.from([1, 2, 3, 4]));
    expect(ipToBytes('64:ff9b::1.2.3.4')).toEqual(Buffer.from('0064ff9b000000000000000001020304', 'hex'));
    expect(ipToBytes('not-an-ip')).toBeUndefined();
    expect(bytesToIp(ipToBytes('2001:db8::ff00:42:8329')!)).toBe('2001:db8:0:0:0:ff00:42:8329');
    expect(bytesToIp(Buffer.from([192, 168, 0, 1]))).toBe('192.168.0.1');
  });
});

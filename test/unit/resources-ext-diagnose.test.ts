import { describe, expect, it } from 'vitest';
import { Decoder } from 'cbor-x';
import { Code, Format } from '../../src/coap/message.js';
import { addChild, createResource } from '../../src/coap/resource.js';
import { CoapServer } from '../../src/coap/server.js';
import { UdpConnector } from '../../src/transport/udp-connector.js';
import type { Connector } from '../../src/transport/connector.js';
import { DEFAULT_STACK_CONFIG } from '../../src/coap/stack-config.js';
import { COUNTER_NAMES } from '../../src/coap/stats.js';
import type { ObserveRelation } from '../../src/coap/observe.js';
import {
  createDiagnoseResource,
  diagnoseChildName,
  diagnoseMap,
  diagnoseText,
  type CounterGroup,
  type DiagnosticEndpoint,
  type DiagnosticsSource,
} from '../../src/resources/extended/diagnose.js';
import { createDiagnosticsSource, messageGroup } from '../../src/resources/extended/diagnostics-source.js';
import { OBSERVE_COUNTER_NAMES, ObserveStats, observeStatsOf } from '../../src/resources/extended/observe-stats.js';
import { orderedCbor, orderedJson } from '../../src/resources/extended/ordered.js';
import { createExtendedResources } from '../../src/resources/extended/index.js';
import { bytes, dispatch, text, type ExchangeSetup } from '../helpers/fake-exchange.js';

const START = 1_650_000_000_000;
const ordered = new Decoder({ mapsAsObjects: false, useRecords: false });

function endpoint(over: Partial<DiagnosticEndpoint> & { name: string; uri: string }, groups: CounterGroup[] = []): DiagnosticEndpoint {
  return { secure: false, groups: () => groups, ...over };
}

const UDP = endpoint({ name: 'UDP:127.0.0.1:5783', uri: 'coap://127.0.0.1:5783' }, [
  { tag: 'coap://127.0.0.1:5783', counters: [['recv-requests', 3, 10], ['send-responses', 2, 9]] },
]);
const DTLS = endpoint({ name: 'DTLS:127.0.0.1:5784', uri: 'coaps://127.0.0.1:5784', secure: true, nodeId: 7, maxConnections: 150000 }, [
  { tag: 'dtls:node-7:127.0.0.1:5784', counters: [['connections', 1, 0]] },
  { tag: 'coaps://127.0.0.1:5784', counters: [['recv-requests', 1, 0]] },
]);

function source(endpoints: DiagnosticEndpoint[], serverGroups: CounterGroup[] = [{ tag: 'EXTENDED-TEST', counters: [['observes', 1, 4]] }]): DiagnosticsSource {
  return { systemStart: START, lastTransfer: () => START + 60_000, endpoints: () => endpoints, serverGroups: () => serverGroups };
}

function tree(src?: DiagnosticsSource, now = START + 65_500) {
  const root = createResource('');
  const d = createDiagnoseResource({ source: src, now: () => now, systemStart: 42 });
  addChild(root, d.resource);
  return { root, d };
}

const onUdp: ExchangeSetup = { endpoint: { uri: 'coap://127.0.0.1:5783' } };
const onDtls: ExchangeSetup = { endpoint: { uri: 'coaps://127.0.0.1:5784', scheme: 'coaps', protocol: 'DTLS' } };

describe('/diagnose text', () => {
  it('systemstart, since, server groups then the receiving endpoint groups', () => {
    const { root } = tree(source([UDP, DTLS]));
    const ex = dispatch(root, { path: '/diagnose' }, onUdp);
    expect(ex.response.code).toBe(Code.CONTENT);
    expect(ex.response.format).toBe(Format.TEXT);
    expect(text(ex.response)).toBe(
      `systemstart:${START}\nsince: 5s\nEXTENDED-TEST\n   observes,1,4\ncoap://127.0.0.1:5783\n   recv-requests,3,10\n   send-responses,2,9\n`,
    );
    expect(text(dispatch(root, { path: '/diagnose', accept: 0 }, onUdp).response)).toBe(text(ex.response));
  });
  it('node-id and max. connnections (sic) only for a coaps endpoint', () => {
    const { root } = tree(source([UDP, DTLS]));
    const body = text(dispatch(root, { path: '/diagnose' }, onDtls).response);
    expect(body.startsWith(`systemstart:${START}\nnode-id:7\nmax. connnections:150000\nsince: 5s\n`)).toBe(true);
    expect(body).toContain('dtls:node-7:127.0.0.1:5784\n   connections,1,0\ncoaps://127.0.0.1:5784\n   recv-requests,1,0\n');
    expect(text(dispatch(root, { path: '/diagnose' }, onUdp).response)).not.toContain('node-id');
  });
  it('a group without tag is shown as a running number', () => {
    const groups: CounterGroup[] = [{ tag: '', counters: [['a', 1, 2]] }, { tag: 'T', counters: [] }, { tag: '', counters: [] }];
    expect(diagnoseText({ systemStart: 1, since: 0, groups })).toBe('systemstart:1\nsince: 0s\n1\n   a,1,2\nT\n2\n');
  });
  it('without counters (no source / no groups): only systemstart', () => {
    expect(text(dispatch(tree(undefined).root, { path: '/diagnose' }, onUdp).response)).toBe('systemstart:42\n');
    const empty = source([endpoint({ name: 'UDP:127.0.0.1:5783', uri: 'coap://127.0.0.1:5783' })], []);
    expect(text(dispatch(tree(empty).root, { path: '/diagnose' }, onUdp).response)).toBe(`systemstart:${START}\n`);
  });
  it('other Accept → 4.06', () => {
    const { root } = tree(source([UDP]));
    expect(dispatch(root, { path: '/diagnose', accept: 41 }, onUdp).response).toEqual({ code: Code.NOT_ACCEPTABLE });
    expect(dispatch(root, { path: '/diagnose', accept: 42 }, onUdp).response).toEqual({ code: Code.NOT_ACCEPTABLE });
  });
  it('GET only', () => {
    const { root } = tree(source([UDP]));
    expect(dispatch(root, { method: 'POST', path: '/diagnose' }, onUdp).response.code).toBe(Code.METHOD_NOT_ALLOWED);
  });
});

describe('/diagnose JSON and CBOR', () => {
  it('JSON: compact object in insertion order', () => {
    const { root } = tree(source([UDP, DTLS]));
    const ex = dispatch(root, { path: '/diagnose', accept: 50 }, onDtls);
    expect(ex.response.format).toBe(Format.JSON);
    expect(text(ex.response)).toBe(
      `{"systemstart":${START},"node-id":7,"max-connections":150000,"since":"5s",` +
        '"EXTENDED-TEST":{"observes":{"cur":1,"all":4}},' +
        '"dtls:node-7:127.0.0.1:5784":{"connections":{"cur":1,"all":0}},' +
        '"coaps://127.0.0.1:5784":{"recv-requests":{"cur":1,"all":0}}}',
    );
    expect(JSON.parse(text(ex.response))['max-connections']).toBe(150000);
  });
  it('CBOR: map with the same structure, keys in insertion order, systemstart an integer', () => {
    const { root } = tree(source([UDP]));
    const ex = dispatch(root, { path: '/diagnose', accept: 60 }, onUdp);
    expect(ex.response.format).toBe(Format.CBOR);
    const map = ordered.decode(bytes(ex.response)) as Map<string, unknown>;
    expect([...map.keys()]).toEqual(['systemstart', 'since', 'EXTENDED-TEST', 'coap://127.0.0.1:5783']);
    expect(Number(map.get('systemstart'))).toBe(START);
    expect(map.get('since')).toBe('5s');
    const group = map.get('coap://127.0.0.1:5783') as Map<string, Map<string, number>>;
    expect([...group.keys()]).toEqual(['recv-requests', 'send-responses']);
    expect([...group.get('recv-requests')!.entries()]).toEqual([['cur', 3], ['all', 10]]);
    expect(bytes(ex.response).includes(Buffer.from([0xfb]))).toBe(false);
  });
  it('running-number group names keep their position (not moved first like JS object keys)', () => {
    const map = diagnoseMap({ systemStart: 1, since: 2, groups: [{ tag: '', counters: [['k', 1, 1]] }] });
    expect(orderedJson(map)).toBe('{"systemstart":1,"since":"2s","1":{"k":{"cur":1,"all":1}}}');
    expect([...(ordered.decode(orderedCbor(map)) as Map<string, unknown>).keys()]).toEqual(['systemstart', 'since', '1']);
  });
});

describe('/diagnose children', () => {
  it('one child per endpoint after refresh, listed with title and ct', () => {
    const { root, d } = tree(source([UDP, DTLS]));
    expect(d.resource.children.size).toBe(0);
    d.refresh();
    expect([...d.resource.children.keys()]).toEqual(['UDP:127.0.0.1:5783', 'DTLS:127.0.0.1:5784']);
    const child = d.resource.children.get('DTLS:127.0.0.1:5784')!;
    expect(child.attributes.get('title')).toEqual(['Resource for diagnose statistic of DTLS:127.0.0.1:5784']);
    expect(child.attributes.get('ct')).toEqual(['0', '50', '60']);
    expect(child.visible).toBe(true);
    expect(dispatch(root, { path: '/diagnose/UDP:127.0.0.1:9999' }, onUdp).response.code).toBe(Code.NOT_FOUND);
  });
  it('a child shows its endpoint groups; node-id/max-connections come from the receiving endpoint', () => {
    const { root, d } = tree(source([UDP, DTLS]));
    d.refresh();
    const viaUdp = text(dispatch(root, { path: ['diagnose', 'DTLS:127.0.0.1:5784'] }, onUdp).response);
    expect(viaUdp).not.toContain('node-id');
    expect(viaUdp).toContain('dtls:node-7:127.0.0.1:5784\n');
    expect(viaUdp).not.toContain('coap://127.0.0.1:5783');
    const viaDtls = text(dispatch(root, { path: ['diagnose', 'UDP:127.0.0.1:5783'] }, onDtls).response);
    expect(viaDtls).toContain('node-id:7\nmax. connnections:150000\n');
    expect(viaDtls).toContain('coap://127.0.0.1:5783\n   recv-requests,3,10\n');
    expect(viaDtls).not.toContain('dtls:');
  });
  it('endpoints added later are resolved (and listed) on access', () => {
    const list = [UDP];
    const { root, d } = tree(source(list));
    d.refresh();
    list.push(DTLS);
    expect(dispatch(root, { path: ['diagnose', 'DTLS:127.0.0.1:5784'] }, onUdp).response.code).toBe(Code.CONTENT);
    expect(d.resource.children.has('DTLS:127.0.0.1:5784')).toBe(true);
  });
  it('child names: PROTO:host:port, IPv6 in brackets', () => {
    expect(diagnoseChildName('UDP', '::1', 5783)).toBe('UDP:[::1]:5783');
    expect(diagnoseChildName('DTLS', '127.0.0.1', 5784)).toBe('DTLS:127.0.0.1:5784');
  });
  it('the extended tree has /diagnose (visible, ct) only with the diagnose option; start() adds children', () => {
    const base = { notifyInterval: 5000, echoDelay: false, version: '1', shutdown: () => {} };
    expect(createExtendedResources(base).root.children.has('diagnose')).toBe(false);
    const t = createExtendedResources({ ...base, diagnose: true, diagnostics: source([UDP]) });
    const diag = t.root.children.get('diagnose')!;
    expect(diag.visible).toBe(true);
    expect(diag.attributes.get('ct')).toEqual(['0', '50', '60']);
    expect(diag.attributes.get('title')).toEqual(['Resource for diagnose statistics']);
    t.start();
    expect([...diag.children.keys()]).toEqual(['UDP:127.0.0.1:5783']);
    t.stop();
  });
});

function server(tag: string, connectors: Connector[]): CoapServer {
  const s = new CoapServer(tag, createResource(''));
  for (const c of connectors) s.addEndpoint(c, { ...DEFAULT_STACK_CONFIG });
  return s;
}

function fakeDtlsConnector(port: number, group?: CounterGroup): Connector & { config: { nodeId?: number; maxConnections: number }; diagnosticGroup?: () => CounterGroup | undefined } {
  return {
    protocol: 'DTLS',
    scheme: 'coaps',
    localAddress: '::1',
    localPort: port,
    onDatagram: () => {},
    start: async () => {},
    stop: async () => {},
    send: () => {},
    config: { nodeId: 3, maxConnections: 1000 },
    ...(group ? { diagnosticGroup: () => group } : {}),
  };
}

describe('createDiagnosticsSource', () => {
  it('describes every endpoint of all servers with its CoAP message group', () => {
    const ext = server('EXTENDED-TEST', [new UdpConnector({ address: '127.0.0.1', port: 5783 })]);
    const plug = server('PLUG-TEST', [new UdpConnector({ address: '::1', port: 5683 })]);
    const src = createDiagnosticsSource({ servers: () => [ext, plug], counters: true, systemStart: START });
    expect(src.systemStart).toBe(START);
    const eps = src.endpoints();
    expect(eps.map((e) => e.name)).toEqual(['UDP:127.0.0.1:5783', 'UDP:[::1]:5683']);
    expect(eps.map((e) => e.uri)).toEqual(['coap://127.0.0.1:5783', 'coap://[::1]:5683']);
    expect(eps[0]!.secure).toBe(false);
    const ep = ext.endpoints[0]!;
    ep.stats.inc('recv-requests');
    ep.stats.inc('recv-requests');
    let group = eps[0]!.groups()[0]!;
    expect(group.tag).toBe('coap://127.0.0.1:5783');
    expect(group.counters.map((c) => c[0])).toEqual([...COUNTER_NAMES]);
    expect(group.counters.find((c) => c[0] === 'recv-requests')).toEqual(['recv-requests', 2, 0]);
    ep.stats.transfer(START + 1000);
    ep.stats.inc('recv-requests');
    group = messageGroup(ep);
    expect(group.counters.find((c) => c[0] === 'recv-requests')).toEqual(['recv-requests', 1, 2]);
    expect(src.lastTransfer()).toBe(Math.max(START + 1000, plug.endpoints[0]!.stats.periodStart));
    expect(src.serverGroups().map((g) => g.tag)).toEqual(['EXTENDED-TEST', 'PLUG-TEST']);
    expect(src.serverGroups()[0]!.counters.map((c) => c[0])).toEqual([...OBSERVE_COUNTER_NAMES]);
  });
  it('no groups at all when the health interval is off', () => {
    const ext = server('EXTENDED-TEST', [new UdpConnector({ address: '127.0.0.1', port: 5783 })]);
    const src = createDiagnosticsSource({ servers: () => [ext], counters: false });
    expect(src.serverGroups()).toEqual([]);
    expect(src.endpoints()[0]!.groups()).toEqual([]);
    expect(Math.abs(src.systemStart - performance.timeOrigin)).toBeLessThan(2);
  });
  it('secure endpoints: node id and max connections from the connector config, its own group before the CoAP group', () => {
    const dtlsGroup: CounterGroup = { tag: 'dtls:node-3:[::1]:5784', counters: [['connections', 2, 5]] };
    const ext = server('EXTENDED-TEST', [fakeDtlsConnector(5784, dtlsGroup)]);
    const src = createDiagnosticsSource({ servers: () => [ext], counters: true });
    const [ep] = src.endpoints();
    expect(ep).toMatchObject({ name: 'DTLS:[::1]:5784', uri: 'coaps://[::1]:5784', secure: true, nodeId: 3, maxConnections: 1000 });
    expect(ep!.groups().map((g) => g.tag)).toEqual(['dtls:node-3:[::1]:5784', 'coaps://[::1]:5784', 'bounds:coaps://[::1]:5784']);
    const custom = createDiagnosticsSource({ servers: () => [ext], counters: true, connectorGroups: () => [] });
    expect(custom.endpoints()[0]!.groups().map((g) => g.tag)).toEqual(['coaps://[::1]:5784', 'bounds:coaps://[::1]:5784']);
  });
  it('servers are read lazily (created after the resource tree)', () => {
    const servers: CoapServer[] = [];
    const src = createDiagnosticsSource({ servers: () => servers, counters: true });
    expect(src.endpoints()).toEqual([]);
    servers.push(server('EXTENDED-TEST', [new UdpConnector({ address: '127.0.0.1', port: 1 })]));
    expect(src.endpoints()).toHaveLength(1);
  });
});

describe('ObserveStats', () => {
  it('counters move to the totals on transfer; gauges show live numbers', () => {
    let gauges = { observes: 3, endpoints: 2 };
    const s = new ObserveStats('T', () => gauges);
    s.observeRequest();
    s.observeRequest();
    s.cancelRequest();
    s.rejectedNotify();
    expect(s.rows()).toEqual([
      ['observes', 3, 0],
      ['observing-endpoints', 2, 0],
      ['observe-request', 2, 0],
      ['cancel-request', 1, 0],
      ['rejected-notifies', 1, 0],
    ]);
    s.transfer();
    gauges = { observes: 1, endpoints: 1 };
    s.observeRequest();
    expect(s.rows()).toEqual([
      ['observes', 1, 3],
      ['observing-endpoints', 1, 2],
      ['observe-request', 1, 2],
      ['cancel-request', 0, 1],
      ['rejected-notifies', 0, 1],
    ]);
  });
  it('gauges of a server: relations and distinct observing peers per endpoint', () => {
    const s = server('EXTENDED-TEST', [new UdpConnector({ address: '127.0.0.1', port: 1 }), new UdpConnector({ address: '::1', port: 1 })]);
    const rel = (peer: string) => ({ peer }) as unknown as ObserveRelation;
    s.endpoints[0]!.relations.set('a#01', rel('a'));
    s.endpoints[0]!.relations.set('a#02', rel('a'));
    s.endpoints[0]!.relations.set('b#01', rel('b'));
    s.endpoints[1]!.relations.set('a#01', rel('a'));
    const stats = observeStatsOf(s);
    expect(observeStatsOf(s)).toBe(stats);
    expect(stats.tag).toBe('EXTENDED-TEST');
    expect(stats.rows().slice(0, 2)).toEqual([['observes', 4, 0], ['observing-endpoints', 3, 0]]);
  });
});

describe('ordered documents', () => {
  it('JSON escapes keys and values; CBOR keeps big integers as integers', () => {
    expect(orderedJson([['a"b', 'x\ny'], ['n', [['2', 1]]]])).toBe('{"a\\"b":"x\\ny","n":{"2":1}}');
    const raw = orderedCbor([['t', 1_700_000_000_000]]);
    expect(raw.toString('hex')).toBe('a161741b0000018bcfe56800');
  });
});

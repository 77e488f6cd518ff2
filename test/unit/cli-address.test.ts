import { describe, expect, it } from 'vitest';
import { parseAddress, parseClusterNode, parseK8sCluster, parsePort } from '../../src/cli/address.js';

describe('parseAddress', () => {
  it.each([
    [':5684', { port: 5684 }],
    ['localhost:5683', { host: 'localhost', port: 5683 }],
    ['10.0.0.1:0', { host: '10.0.0.1', port: 0 }],
    ['[::1]:5884', { host: '::1', port: 5884 }],
    ['[fe80::1%eth0]:5884', { host: 'fe80::1%eth0', port: 5884 }],
    ['node-2.svc.cluster.local:8080', { host: 'node-2.svc.cluster.local', port: 8080 }],
  ])('%s', (text, expected) => {
    expect(parseAddress(text)).toEqual(expected);
  });

  it.each([
    ['5684', /is not an address/],
    [':', /invalid port/],
    [':65536', /invalid port/],
    ['host:-1', /invalid port/],
    ['[::1:80', /invalid IPv6 literal/],
    ['[nope]:80', /invalid IPv6 literal/],
    ['::1:80', /need brackets/],
    ['bad host:80', /invalid host name/],
  ])('rejects %s', (text, message) => {
    expect(() => parseAddress(text)).toThrow(message);
  });

  it.each([
    ['5684', 'not an address like :5684, host:5684 or [::1]:5684'],
    [':99999', 'invalid port'],
    ['[nope]:80', 'invalid IPv6 literal'],
    ['::1:80', 'IPv6 literals need brackets, e.g. [::1]:5684'],
    ['bad host:80', 'invalid host name'],
  ])('%s: a ValueError whose reason leaves the text out', (text, reason) => {
    expect(() => parseAddress(text)).toThrow(expect.objectContaining({ name: 'ValueError', value: text, reason }));
  });

  it('parsePort accepts 0..65535 only', () => {
    expect(parsePort('65535')).toBe(65535);
    expect(() => parsePort('65536')).toThrow("'65536' has an invalid port");
    expect(() => parsePort('1e3')).toThrow();
  });
});

describe('cluster definitions', () => {
  it('parses local and remote nodes', () => {
    expect(parseClusterNode(':5784;:5884;1')).toEqual({ dtls: { port: 5784 }, mgmt: { port: 5884 }, nodeId: 1 });
    expect(parseClusterNode('---;node2:5884;2')).toEqual({ mgmt: { host: 'node2', port: 5884 }, nodeId: 2 });
  });

  it('rejects wrong part counts and node-ids', () => {
    expect(() => parseClusterNode(':5784;:5884')).toThrow('a cluster definition must contain 3 parts');
    expect(() => parseClusterNode(':5784;:5884;1;2')).toThrow('a cluster definition must contain 3 parts');
    expect(() => parseClusterNode(':5784;:5884;one')).toThrow("node-id 'one'");
    expect(() => parseClusterNode(':5784;5884;1')).toThrow('is not an address');
  });

  it('parses the k8s form', () => {
    expect(parseK8sCluster(':5784;:5884;5884')).toEqual({ dtls: { port: 5784 }, mgmt: { port: 5884 }, externalMgmtPort: 5884 });
    expect(() => parseK8sCluster(':5784;:5884')).toThrow('must contain 3 parts');
    expect(() => parseK8sCluster(':5784;:5884;x')).toThrow('invalid port');
  });
});

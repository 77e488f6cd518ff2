import os from 'node:os';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_INTERFACES_EXCLUDE,
  addressForms,
  addressKind,
  bindAddressOf,
  expandIpv6,
  explainEmptySelection,
  filterOf,
  noEndpointMessage,
  selectAddresses,
} from '../../src/server/interfaces.js';

type Table = ReturnType<typeof os.networkInterfaces>;

function v4(address: string, internal = false): os.NetworkInterfaceInfo {
  return { address, netmask: '255.255.255.0', family: 'IPv4', mac: '00:00:00:00:00:00', internal, cidr: `${address}/24` };
}

function v6(address: string, scopeid: number, internal = false): os.NetworkInterfaceInfo {
  return { address, netmask: 'ffff:ffff:ffff:ffff::', family: 'IPv6', mac: '00:00:00:00:00:00', internal, cidr: `${address}/64`, scopeid };
}

const TABLE: Table = {
  lo: [v4('127.0.0.1', true), v6('::1', 0, true)],
  eth0: [v4('192.168.1.10'), v6('2001:db8::10', 0), v6('fe80::a00:27ff:fe4e:66a1', 2)],
  wlan0: [v4('169.254.3.4'), v4('10.0.0.5')],
  docker0: [v4('172.17.0.1'), v6('fe80::42:acff:fe11:1', 3)],
  cali0123456789ab: [v4('10.1.1.1')],
  virbr1: [v4('192.168.122.1')],
};

const ALL = { loopback: true, external: true, ipv4: true, ipv6: true };
const addresses = (filter: Parameters<typeof selectAddresses>[0], env: NodeJS.ProcessEnv = {}, table: Table = TABLE): string[] =>
  selectAddresses(filter, env, table).map(bindAddressOf);

describe('selectAddresses', () => {
  it('takes every address except default-excluded interfaces', () => {
    expect(addresses(ALL)).toEqual([
      '127.0.0.1',
      '::1',
      '192.168.1.10',
      '2001:db8::10',
      'fe80::a00:27ff:fe4e:66a1%eth0',
      '169.254.3.4',
      '10.0.0.5',
    ]);
  });

  it('describes each address', () => {
    const list = selectAddresses(ALL, {}, TABLE);
    expect(list.find((a) => a.address === '127.0.0.1')).toEqual({
      address: '127.0.0.1',
      family: 4,
      loopback: true,
      linkLocal: false,
      interfaceName: 'lo',
    });
    expect(list.find((a) => a.address.startsWith('fe80'))).toEqual({
      address: 'fe80::a00:27ff:fe4e:66a1',
      family: 6,
      loopback: false,
      linkLocal: true,
      interfaceName: 'eth0',
      scopeId: 2,
    });
    expect(list.find((a) => a.address === '169.254.3.4')).toMatchObject({ linkLocal: true, loopback: false });
    expect(list.find((a) => a.address === '2001:db8::10')).toMatchObject({ linkLocal: false, loopback: false, family: 6 });
  });

  it('--no-external keeps loopback addresses only (no link-local, as the issue asks)', () => {
    expect(addresses({ ...ALL, external: false })).toEqual(['127.0.0.1', '::1']);
  });

  it('--no-loopback keeps the external addresses', () => {
    expect(addresses({ ...ALL, loopback: false })).toEqual(['192.168.1.10', '2001:db8::10', '10.0.0.5']);
  });

  it('--no-ipv6 / --no-ipv4', () => {
    expect(addresses({ ...ALL, ipv6: false })).toEqual(['127.0.0.1', '192.168.1.10', '169.254.3.4', '10.0.0.5']);
    expect(addresses({ ...ALL, ipv4: false })).toEqual(['::1', '2001:db8::10', 'fe80::a00:27ff:fe4e:66a1%eth0']);
  });

  it('treats 127/8 as loopback even without the internal flag', () => {
    const table: Table = { odd: [v4('127.0.1.1')] };
    expect(selectAddresses(ALL, {}, table)[0]).toMatchObject({ loopback: true });
    expect(addresses({ ...ALL, loopback: false }, {}, table)).toEqual([]);
  });

  it('fails on filters that exclude everything', () => {
    expect(() => selectAddresses({ ...ALL, loopback: false, external: false }, {}, TABLE)).toThrow(
      '--no-loopback together with --no-external leaves no address for endpoints',
    );
    expect(() => selectAddresses({ ...ALL, ipv4: false, ipv6: false }, {}, TABLE)).toThrow(
      '--no-ipv4 together with --no-ipv6 leaves no address for endpoints',
    );
  });

  it('COAP_NETWORK_INTERFACES selects interfaces by full name match and drops the default exclude', () => {
    expect(addresses(ALL, { COAP_NETWORK_INTERFACES: 'docker0|lo' })).toEqual([
      '127.0.0.1',
      '::1',
      '172.17.0.1',
      'fe80::42:acff:fe11:1%docker0',
    ]);
    expect(addresses(ALL, { COAP_NETWORK_INTERFACES: 'eth' })).toEqual([]);
  });

  it('COAP_NETWORK_INTERFACES_EXCLUDE replaces the default exclude', () => {
    expect(addresses({ ...ALL, ipv6: false }, { COAP_NETWORK_INTERFACES_EXCLUDE: 'eth0|wlan0' })).toEqual([
      '127.0.0.1',
      '172.17.0.1',
      '10.1.1.1',
      '192.168.122.1',
    ]);
    expect(addresses({ ...ALL, ipv6: false }, { COAP_NETWORK_INTERFACES: 'eth0|docker0', COAP_NETWORK_INTERFACES_EXCLUDE: 'docker0' })).toEqual([
      '192.168.1.10',
    ]);
  });

  it('treats empty environment values as not set', () => {
    expect(addresses(ALL, { COAP_NETWORK_INTERFACES: '', COAP_NETWORK_INTERFACES_EXCLUDE: '' })).toEqual(addresses(ALL));
  });

  it('names the variable of an invalid regex', () => {
    expect(() => selectAddresses(ALL, { COAP_NETWORK_INTERFACES: '(' }, TABLE)).toThrow(/^COAP_NETWORK_INTERFACES: invalid regular expression '\('/);
    expect(() => selectAddresses(ALL, { COAP_NETWORK_INTERFACES_EXCLUDE: '[' }, TABLE)).toThrow(/^COAP_NETWORK_INTERFACES_EXCLUDE: /);
  });

  it('default exclude matches container and VM bridges only', () => {
    const re = new RegExp(`^(?:${DEFAULT_INTERFACES_EXCLUDE})$`);
    for (const name of ['docker0', 'docker12', 'virbr0', 'vxlan.calico', 'cali0123456789', 'cilium_host', 'lxc0123456789ab']) {
      expect(re.test(name), name).toBe(true);
    }
    for (const name of ['eth0', 'lo', 'cali01234', 'lxc01', 'mydocker0', 'docker']) expect(re.test(name), name).toBe(false);
  });

  it('--interfaces-pattern must match the whole address', () => {
    expect(addresses({ ...ALL, patterns: [/^(?:192\.168\..*)$/] })).toEqual(['192.168.1.10']);
    expect(addresses({ ...ALL, patterns: [/192\.168/] })).toEqual([]);
    expect(addresses({ ...ALL, patterns: [/192\.168\..*/, /::1/] })).toEqual(['::1', '192.168.1.10']);
  });

  it('--interfaces-pattern tries <address>%<interface> (and Java forms) for IPv6', () => {
    expect(addresses({ ...ALL, patterns: [/fe80::.*%eth0/] })).toEqual(['fe80::a00:27ff:fe4e:66a1%eth0']);
    expect(addresses({ ...ALL, patterns: [/fe80::.*%2/] })).toEqual(['fe80::a00:27ff:fe4e:66a1%eth0']);
    expect(addresses({ ...ALL, patterns: [/fe80:0:0:0:.*/] })).toEqual(['fe80::a00:27ff:fe4e:66a1%eth0']);
    expect(addresses({ ...ALL, patterns: [/.*%lo/] })).toEqual(['::1']);
    expect(addresses({ ...ALL, patterns: [/.*%docker0/] })).toEqual([]);
  });

  it('lists an address only once', () => {
    const table: Table = { a: [v4('10.0.0.1'), v4('10.0.0.1')], b: [v4('10.0.0.1')] };
    expect(addresses(ALL, {}, table)).toEqual(['10.0.0.1']);
  });

  it('accepts numeric families of older Node versions', () => {
    const info = { ...v4('10.9.8.7'), family: 4 } as unknown as os.NetworkInterfaceInfo;
    expect(addresses(ALL, {}, { e: [info] })).toEqual(['10.9.8.7']);
  });

  it('defaults to the real interface table and process environment', () => {
    const real = Object.values(os.networkInterfaces()).flatMap((l) => (l ?? []).map((i) => i.address.replace(/%.*$/, '')));
    for (const a of selectAddresses(ALL)) expect(real).toContain(a.address);
  });
});

describe('classification by address, not by interface (cli.md §3.2)', () => {
  // a typical service host: an extra (external) service address on lo, next to 127.0.0.1 and ::1
  const SERVICE: Table = {
    lo: [v4('127.0.0.1', true), v4('10.20.30.40', true), v6('::1', 0, true), v6('fd00::7', 0, true)],
    eth0: [v4('169.254.9.9'), v6('fe80::1', 2)],
  };

  it.each([
    ['127.0.0.1', 4, 'loopback'],
    ['127.255.0.9', 4, 'loopback'],
    ['::1', 6, 'loopback'],
    ['169.254.0.1', 4, 'link-local'],
    ['fe80::1', 6, 'link-local'],
    ['febf::1', 6, 'link-local'],
    ['10.20.30.40', 4, 'external'],
    ['128.0.0.1', 4, 'external'],
    ['169.255.0.1', 4, 'external'],
    ['fec0::1', 6, 'external'],
    ['fd00::7', 6, 'external'],
    ['::', 6, 'external'],
    ['0:0:0:0:0:0:0:2', 6, 'external'],
  ] as const)('%s is %s', (address, family, kind) => {
    expect(addressKind(address, family)).toBe(kind);
  });

  it('an extra service address on lo is external, though lo is flagged internal', () => {
    const list = selectAddresses(ALL, {}, SERVICE);
    expect(list.find((a) => a.address === '10.20.30.40')).toEqual({ address: '10.20.30.40', family: 4, loopback: false, linkLocal: false, interfaceName: 'lo' });
    expect(list.find((a) => a.address === '127.0.0.1')).toMatchObject({ loopback: true, linkLocal: false, interfaceName: 'lo' });
    expect(list.find((a) => a.address === 'fd00::7')).toMatchObject({ loopback: false, linkLocal: false, interfaceName: 'lo' });
  });

  it('--no-loopback keeps the service addresses on lo', () => {
    expect(addresses({ ...ALL, loopback: false }, {}, SERVICE)).toEqual(['10.20.30.40', 'fd00::7']);
  });

  it('--no-external drops the service addresses on lo (and link-local)', () => {
    expect(addresses({ ...ALL, external: false }, {}, SERVICE)).toEqual(['127.0.0.1', '::1']);
  });

  it('a link-local address needs --loopback and --external', () => {
    expect(addresses({ ...ALL, ipv6: false }, { COAP_NETWORK_INTERFACES: 'eth0' }, SERVICE)).toEqual(['169.254.9.9']);
    expect(addresses({ ...ALL, loopback: false }, { COAP_NETWORK_INTERFACES: 'eth0' }, SERVICE)).toEqual([]);
    expect(addresses({ ...ALL, external: false }, { COAP_NETWORK_INTERFACES: 'eth0' }, SERVICE)).toEqual([]);
  });

  it('an external address on an interface not flagged internal stays external, 127/8 anywhere is loopback', () => {
    const table: Table = { eth0: [v4('127.0.0.2'), v4('10.0.0.1')] };
    expect(addresses({ ...ALL, loopback: false }, {}, table)).toEqual(['10.0.0.1']);
    expect(addresses({ ...ALL, external: false }, {}, table)).toEqual(['127.0.0.2']);
  });
});

describe('explaining an empty selection', () => {
  const LO: Table = { lo: [v4('127.0.0.1', true), v6('::1', 0, true)] };

  it('--no-loopback with only lo addresses', () => {
    expect(explainEmptySelection({ ...ALL, loopback: false }, {}, LO)).toBe('--no-loopback: only loopback addresses found: 127.0.0.1, ::1');
    expect(noEndpointMessage({ ...ALL, loopback: false }, {}, LO)).toBe(
      'no endpoint available! (--no-loopback: only loopback addresses found: 127.0.0.1, ::1)',
    );
  });

  it('--no-loopback with loopback and link-local addresses only', () => {
    const table: Table = { ...LO, eth0: [v6('fe80::1', 2)] };
    expect(explainEmptySelection({ ...ALL, loopback: false }, {}, table)).toBe(
      '--no-loopback: only loopback and link-local addresses found: 127.0.0.1, ::1, fe80::1%eth0',
    );
  });

  it('--no-external with only external and link-local addresses', () => {
    const table: Table = { eth0: [v4('192.0.2.2'), v6('fe80::1', 2)] };
    expect(explainEmptySelection({ ...ALL, external: false }, {}, table)).toBe(
      '--no-external: only link-local and external addresses found: 192.0.2.2, fe80::1%eth0',
    );
  });

  it('--no-ipv6 / --no-ipv4 alone', () => {
    expect(explainEmptySelection({ ...ALL, ipv4: false }, {}, { lo: [v4('127.0.0.1', true)] })).toBe('--no-ipv4: only IPv4 addresses found: 127.0.0.1');
    expect(explainEmptySelection({ ...ALL, ipv6: false }, {}, { lo: [v6('::1', 0, true)] })).toBe('--no-ipv6: only IPv6 addresses found: ::1');
  });

  it('several flags: each names what it excluded', () => {
    expect(explainEmptySelection({ ...ALL, loopback: false, ipv6: false }, {}, LO)).toBe(
      '--no-ipv6: IPv6 addresses excluded: ::1; --no-loopback: loopback addresses excluded: 127.0.0.1',
    );
  });

  it('--interfaces-pattern matching nothing', () => {
    expect(explainEmptySelection({ ...ALL, patterns: [/^(?:10\..*)$/] }, {}, LO)).toBe('--interfaces-pattern: matches none of 127.0.0.1, ::1');
    // the command line form (ServerOptions.interfacesPattern) works as well
    expect(explainEmptySelection({ ...ALL, interfacesPattern: [/^(?:10\..*)$/] }, {}, LO)).toBe('--interfaces-pattern: matches none of 127.0.0.1, ::1');
  });

  it('lists at most four addresses', () => {
    const table: Table = { lo: ['127.0.0.1', '127.0.0.2', '127.0.0.3', '127.0.0.4', '127.0.0.5', '127.0.0.6'].map((a) => v4(a, true)) };
    expect(explainEmptySelection({ ...ALL, loopback: false }, {}, table)).toBe(
      '--no-loopback: only loopback addresses found: 127.0.0.1, 127.0.0.2, 127.0.0.3, 127.0.0.4 and 2 more',
    );
  });

  it('no interface left by the environment or the default exclude', () => {
    expect(explainEmptySelection(ALL, { COAP_NETWORK_INTERFACES: 'eth9' }, LO)).toBe(
      "no network interface left by COAP_NETWORK_INTERFACES='eth9' (skipped: lo)",
    );
    expect(explainEmptySelection(ALL, { COAP_NETWORK_INTERFACES_EXCLUDE: 'lo' }, LO)).toBe(
      "no network interface left by COAP_NETWORK_INTERFACES_EXCLUDE='lo' (skipped: lo)",
    );
    expect(explainEmptySelection(ALL, {}, { docker0: [v4('172.17.0.1')] })).toBe(
      'no network interface left by the default exclude of container and VM bridges (skipped: docker0)',
    );
    expect(explainEmptySelection(ALL, {}, { lo: [] })).toBe('no network interface has an IP address');
  });

  it('nothing to explain when addresses are selected or the filter itself fails', () => {
    expect(explainEmptySelection(ALL, {}, LO)).toBeUndefined();
    expect(noEndpointMessage(ALL, {}, LO)).toBe('no endpoint available!');
    expect(explainEmptySelection({ ...ALL, loopback: false, external: false }, {}, LO)).toBeUndefined();
    expect(explainEmptySelection(ALL, { COAP_NETWORK_INTERFACES: '(' }, LO)).toBeUndefined();
  });

  it('filterOf takes the command line flags', () => {
    const re = /^(?:x)$/;
    expect(filterOf({ ...ALL, interfacesPattern: [re] })).toEqual({ ...ALL, patterns: [re] });
    expect(filterOf(ALL)).toEqual(ALL);
  });
});

describe('address helpers', () => {
  it('expandIpv6 writes the Java form', () => {
    expect(expandIpv6('fe80::1')).toBe('fe80:0:0:0:0:0:0:1');
    expect(expandIpv6('::1')).toBe('0:0:0:0:0:0:0:1');
    expect(expandIpv6('2001:db8::')).toBe('2001:db8:0:0:0:0:0:0');
    expect(expandIpv6('2001:0db8:0:0:0:0:0:0010')).toBe('2001:db8:0:0:0:0:0:10');
  });

  it('bindAddressOf adds the scope only for IPv6 link-local', () => {
    const base = { loopback: false, interfaceName: 'eth0' };
    expect(bindAddressOf({ ...base, address: 'fe80::1', family: 6, linkLocal: true, scopeId: 2 })).toBe('fe80::1%eth0');
    expect(bindAddressOf({ ...base, address: '2001:db8::1', family: 6, linkLocal: false })).toBe('2001:db8::1');
    expect(bindAddressOf({ ...base, address: '169.254.1.1', family: 4, linkLocal: true })).toBe('169.254.1.1');
  });

  it('addressForms lists the matched texts', () => {
    expect(addressForms({ address: '10.0.0.1', family: 4, loopback: false, linkLocal: false, interfaceName: 'eth0' })).toEqual(['10.0.0.1']);
    expect(addressForms({ address: 'fe80::1', family: 6, loopback: false, linkLocal: true, interfaceName: 'eth0', scopeId: 2 })).toEqual([
      'fe80::1',
      'fe80::1%eth0',
      'fe80::1%2',
      'fe80:0:0:0:0:0:0:1',
      'fe80:0:0:0:0:0:0:1%eth0',
    ]);
  });
});

import { describe, expect, it } from 'vitest';
import {
  type CliResult,
  type ServerOptions,
  parseServerArgs,
  usage,
} from '../../src/cli/options.js';

function ok(argv: string[]): ServerOptions {
  const r = parseServerArgs(argv);
  if (r.kind !== 'ok') throw new Error(`expected ok for ${JSON.stringify(argv)}, got ${JSON.stringify(r)}`);
  return r.options;
}

function error(argv: string[]): string {
  const r: CliResult = parseServerArgs(argv);
  if (r.kind !== 'error') throw new Error(`expected an error for ${JSON.stringify(argv)}, got ${r.kind}`);
  expect(r.usage).toBe(usage());
  return r.message;
}

const BOOLEANS: ReadonlyArray<readonly [flag: string, field: keyof ServerOptions, defaultOn: boolean]> = [
  ['loopback', 'loopback', true],
  ['external', 'external', true],
  ['ipv4', 'ipv4', true],
  ['ipv6', 'ipv6', true],
  ['tcp', 'tcp', true],
  ['echo-delay', 'echoDelay', false],
  ['oscore', 'oscore', true],
  ['plugtest', 'plugtest', true],
  ['benchmark', 'benchmark', false],
  ['diagnose', 'diagnose', false],
];

describe('parseServerArgs defaults', () => {
  it('gives every option its cli.md default', () => {
    const o = ok([]);
    expect(o).toMatchObject({
      loopback: true,
      external: true,
      ipv4: true,
      ipv6: true,
      tcp: true,
      dtlsOnly: false,
      trustAll: false,
      echoDelay: false,
      oscore: true,
      notifyInterval: 5000,
      plugtest: true,
      benchmark: false,
      diagnose: false,
      dtlsClusterBackward: true,
      restoreMaxAge: 12,
    });
    for (const unset of [
      'clientAuth',
      'interfacesPattern',
      'storeFile',
      'storePassword64',
      'storeMaxAge',
      'pskFile',
      'dtlsCluster',
      'dtlsClusterGroup',
      'dtlsClusterGroupSecurity',
      'k8sDtlsCluster',
      'dtlsClusterMac',
      'k8sMonitor',
      'k8sRestore',
      'localRestore',
      'otherRestore',
    ] as const) {
      expect(o[unset], unset).toBeUndefined();
    }
    expect(o.explicit.size).toBe(0);
  });
});

describe('boolean options', () => {
  it.each(BOOLEANS)('--%s and --no-%s', (flag, field, defaultOn) => {
    expect(ok([])[field]).toBe(defaultOn);
    const on = ok([`--${flag}`]);
    expect(on[field]).toBe(true);
    expect([...on.explicit]).toEqual([flag]);
    const off = ok([`--no-${flag}`]);
    expect(off[field]).toBe(false);
    expect([...off.explicit]).toEqual([flag]);
  });

  it('--dtls-only and --trust-all switch on, and have no --no- form', () => {
    expect(ok(['--dtls-only']).dtlsOnly).toBe(true);
    expect(ok(['--trust-all']).trustAll).toBe(true);
    expect(error(['--no-dtls-only'])).toBe("Unknown option: '--no-dtls-only'");
    expect(error(['--no-trust-all'])).toBe("Unknown option: '--no-trust-all'");
  });

  it('cluster flags have both forms (with a cluster type)', () => {
    const node = '--dtls-cluster=:5784;:5884;1';
    expect(ok([node, '--no-dtls-cluster-backward']).dtlsClusterBackward).toBe(false);
    expect(ok([node, '--dtls-cluster-backward']).dtlsClusterBackward).toBe(true);
    expect(ok([node, '--dtls-cluster-mac']).dtlsClusterMac).toBe(true);
    expect(ok([node, '--no-dtls-cluster-mac']).dtlsClusterMac).toBe(false);
    expect(ok([node]).dtlsClusterMac).toBeUndefined();
  });

  it('rejects a parameter given to a flag', () => {
    expect(error(['--loopback=false'])).toBe("option '--loopback' takes no parameter (was '--loopback=false')");
    expect(error(['--loopback', 'false'])).toBe("Unmatched argument at index 1: 'false'");
  });
});

describe('strict parsing', () => {
  it.each([
    [['--foo'], "Unknown option: '--foo'"],
    [['--foo=1'], "Unknown option: '--foo'"],
    [['-x'], "Unknown option: '-x'"],
    [['--no-store-file'], "Unknown option: '--no-store-file'"],
    [['--no-help'], "Unknown option: '--no-help'"],
    [['--Loopback'], "Unknown option: '--Loopback'"],
    [['--echoDelay'], "Unknown option: '--echoDelay'"],
    [['extra'], "Unmatched argument at index 0: 'extra'"],
    [['--ipv4', '--', 'x'], "Unmatched argument at index 2: 'x'"],
    [['--store-file'], "Missing required parameter for option '--store-file' (<file>)"],
    [['--notify-interval', '--tcp'], "Missing required parameter for option '--notify-interval' (<time>)"],
    [['--notify-interval', '--no-tcp'], "Missing required parameter for option '--notify-interval' (<time>)"],
    [['--notify-interval', '-h'], "Missing required parameter for option '--notify-interval' (<time>)"],
    [['--loopback', '--no-loopback'], "option '--loopback' should be specified only once"],
    [['--notify-interval=1', '--notify-interval=2'], "option '--notify-interval' should be specified only once"],
  ])('%j → %s', (argv, message) => {
    expect(error(argv)).toBe(message);
  });

  it('takes a following token that is no known option as the parameter', () => {
    expect(ok(['--psk-file', '--not-an-option']).pskFile).toBe('--not-an-option');
    expect(ok(['--store-file', '-', '--store-max-age', '0']).storeFile).toBe('-');
    expect(error(['--notify-interval', '-5'])).toBe("Invalid value for option '--notify-interval': '-5': must not be negative");
  });

  it('reports unknown options before help', () => {
    expect(parseServerArgs(['-h', '--foo']).kind).toBe('error');
  });
});

describe('help', () => {
  it.each([['-h'], ['--help'], ['--ipv4', '-h']])('%j prints the usage', (...argv) => {
    const r = parseServerArgs(argv);
    expect(r).toEqual({ kind: 'help', text: usage() });
  });

  it('the usage names every option and the product', () => {
    const text = usage();
    expect(text).toMatch(/^Usage: extended-test-server /);
    expect(text).toMatch(/extplugtest \d+\.\d+\.\d+/);
    for (const flag of [
      '-h, --help',
      '--[no-]loopback',
      '--[no-]external',
      '--[no-]ipv4',
      '--[no-]ipv6',
      '--[no-]tcp',
      '--dtls-only',
      '--trust-all',
      '--client-auth=<NONE|WANTED|NEEDED>',
      '--interfaces-pattern=',
      '--[no-]echo-delay',
      '--[no-]oscore',
      '--notify-interval=<time>',
      '--store-file=<file>',
      '--store-password64=<base64>',
      '--store-max-age=<hours>',
      '--psk-file=<file>',
      '--[no-]plugtest',
      '--[no-]benchmark',
      '--[no-]diagnose',
      '--dtls-cluster=<dtls-intf>;<mgmt-intf>;<node-id>',
      '--dtls-cluster-group=<mgmt-intf>',
      '--dtls-cluster-group-security=<secret>',
      '--k8s-dtls-cluster=<dtls-intf>;<mgmt-intf>;<external-mgmt-port>',
      '--[no-]dtls-cluster-backward',
      '--[no-]dtls-cluster-mac',
      '--k8s-monitor=<address>',
      '--k8s-restore=<address>',
      '--local-restore=<address>',
      '--other-restore=<address>',
      '--restore-max-age=<hours>',
    ]) {
      expect(text, flag).toContain(`\n  ${flag}`);
    }
    for (const line of text.split('\n')) expect(line.length, line).toBeLessThanOrEqual(100);
  });

  /** The help text of one option's usage entry (continuation lines joined). */
  function entryOf(flag: string): string {
    const lines = usage().split('\n');
    const i = lines.findIndex((l) => l.startsWith(`  ${flag} `) || l === `  ${flag}`);
    expect(i, flag).toBeGreaterThanOrEqual(0);
    const parts = [lines[i]!.slice(2 + flag.length)];
    for (let j = i + 1; j < lines.length && /^ {36}\S/.test(lines[j]!); j++) parts.push(lines[j]!);
    return parts.map((p) => p.trim()).join(' ');
  }

  it('every feature is available: --tcp and --oscore show their default, nothing is marked unavailable', () => {
    expect(entryOf('--[no-]tcp')).toBe('also create coap+tcp and coaps+tcp endpoints (default: on)');
    expect(entryOf('--[no-]oscore')).toBe('plugtest server: OSCORE stack with /oscore and /oscoreInfo (default: on)');
    expect(usage()).not.toContain('not available');
  });

  it.each(['--[no-]loopback', '--[no-]plugtest', '--k8s-monitor=<address>', '--k8s-restore=<address>', '--local-restore=<address>', '--store-file=<file>', '--psk-file=<file>'])(
    '%s (available) is not marked',
    (flag) => {
      expect(entryOf(flag)).not.toContain('not available');
    },
  );

  it('--[no-]loopback and --[no-]external describe the classification by address', () => {
    expect(entryOf('--[no-]loopback')).toBe(
      'create endpoints on loopback addresses (127.0.0.0/8, ::1), and with --external on link-local addresses (169.254.0.0/16, fe80::/10) (default: on)',
    );
    expect(entryOf('--[no-]external')).toBe('create endpoints on all other (external) addresses, whatever interface they are on (default: on)');
  });
});

describe('--notify-interval', () => {
  it.each([
    ['100', 100],
    ['2[s]', 2000],
    ['2s', 2000],
    ['1[min]', 60_000],
    ['1min', 60_000],
    ['250ms', 250],
    ['5', 5],
    ['4', 5],
    ['0', 5],
    ['1[ns]', 5],
    ['4999ys', 5],
    ['6000[ys]', 6],
  ])('%s → %d ms', (text, ms) => {
    expect(ok(['--notify-interval', text]).notifyInterval).toBe(ms);
    expect(ok([`--notify-interval=${text}`]).notifyInterval).toBe(ms);
  });

  it.each(['abc', '2[x]', '-5', '1.5s'])('rejects %s', (text) => {
    expect(error([`--notify-interval=${text}`])).toMatch(new RegExp(`^Invalid value for option '--notify-interval': '${text.replace(/[[\].]/g, '\\$&')}'`));
  });
});

describe('valued options', () => {
  it('converts and checks each value', () => {
    const o = ok([
      '--client-auth',
      'WANTED',
      '--store-file',
      'state.bin',
      '--store-password64=c2VjcmV0',
      '--store-max-age',
      '24',
      '--psk-file=psk.txt',
    ]);
    expect(o).toMatchObject({ clientAuth: 'WANTED', storeFile: 'state.bin', storePassword64: 'c2VjcmV0', storeMaxAge: 24, pskFile: 'psk.txt' });
    expect([...o.explicit].sort()).toEqual(['client-auth', 'psk-file', 'store-file', 'store-max-age', 'store-password64']);
  });

  it.each([
    [['--client-auth=wanted'], "Invalid value for option '--client-auth': 'wanted': expected one of NONE, WANTED, NEEDED (case-sensitive)"],
    [['--store-file=f', '--store-max-age=x'], "Invalid value for option '--store-max-age': 'x': expected a number of hours (integer >= 0)"],
    [['--store-file=f', '--store-max-age=1', '--store-password64=%%%'], "Invalid value for option '--store-password64': '%%%': not base64"],
    [['--psk-file='], "Invalid value for option '--psk-file': '': must not be empty"],
    [['--interfaces-pattern=(unclosed'], "Invalid value for option '--interfaces-pattern': '(unclosed': not a valid regular expression"],
    [['--k8s-monitor=8080'], "Invalid value for option '--k8s-monitor': '8080': not an address like :5684, host:5684 or [::1]:5684"],
    [['--k8s-monitor=:99999'], "Invalid value for option '--k8s-monitor': ':99999': invalid port"],
    [['--k8s-monitor=::1:80'], "Invalid value for option '--k8s-monitor': '::1:80': IPv6 literals need brackets, e.g. [::1]:5684"],
    [['--k8s-restore=[nope]:80'], "Invalid value for option '--k8s-restore': '[nope]:80': invalid IPv6 literal"],
    [['--local-restore=bad host:80', '--other-restore=h:1'], "Invalid value for option '--local-restore': 'bad host:80': invalid host name"],
    [['--dtls-cluster=:5784;:5884'], "Invalid value for option '--dtls-cluster': ':5784;:5884': a cluster definition must contain 3 parts, <dtls-intf>;<mgmt-intf>;nodeid"],
    [['--dtls-cluster=:5784;:5884;x'], "Invalid value for option '--dtls-cluster': ':5784;:5884;x': node-id 'x' is not an integer"],
    // a bad part is named as the part
    [['--dtls-cluster=:5784;5884;1'], "Invalid value for option '--dtls-cluster': ':5784;5884;1': '5884' is not an address like :5684, host:5684 or [::1]:5684"],
    [['--dtls-cluster-group=a:1,b'], "Invalid value for option '--dtls-cluster-group': 'b': not an address like :5684, host:5684 or [::1]:5684"],
    [['--k8s-dtls-cluster=:5784;:5884'], "Invalid value for option '--k8s-dtls-cluster': ':5784;:5884': a k8s cluster definition must contain 3 parts, <dtls-intf>;<mgmt-intf>;<external-mgmt-port>"],
    [['--k8s-dtls-cluster=:5784;:5884;x'], "Invalid value for option '--k8s-dtls-cluster': ':5784;:5884;x': invalid port 'x'"],
    [['--dtls-cluster=:5784;:5884;1', '--dtls-cluster-store=localhost:6379'], "Invalid value for option '--dtls-cluster-store': 'localhost:6379': expected redis://host:port"],
    [['--dtls-cluster-store=redis://127.0.0.1:6379'], 'Error: --dtls-cluster-store requires a cluster type (--dtls-cluster with --dtls-cluster-group and --dtls-cluster-group-security, or --k8s-dtls-cluster)'],
    [['--notify-interval=abc'], "Invalid value for option '--notify-interval': 'abc': not a time like 2[s] (units ns, ys, ms, s, min, h, d)"],
    [['--notify-interval=99999999999999999[d]'], "Invalid value for option '--notify-interval': '99999999999999999[d]': out of range"],
  ])('%j', (argv, message) => {
    expect(error(argv)).toBe(message);
  });

  it.each([
    ['--notify-interval=abc'],
    ['--notify-interval=2[x]'],
    ['--client-auth=wanted'],
    ['--interfaces-pattern=[z-a]'],
    ['--k8s-monitor=8080'],
    ['--k8s-monitor=:99999'],
    ['--k8s-monitor=::1:80'],
    ['--k8s-monitor=bad_host!:80'],
    ['--dtls-cluster=:5784;:5884'],
    ['--dtls-cluster=:5784;:5884;x'],
    ['--dtls-cluster-group=nope'],
    ['--k8s-dtls-cluster=:5784;:5884'],
    ['--k8s-dtls-cluster=:5784;:5884;99999'],
    ['--store-password64=%%%'],
    ['--restore-max-age=1.5'],
  ])('%s names the bad value once', (arg) => {
    const value = arg.slice(arg.indexOf('=') + 1);
    const message = error([arg]);
    expect(message.startsWith(`Invalid value for option '${arg.slice(0, arg.indexOf('='))}': '${value}': `), message).toBe(true);
    expect(message.split(value).length - 1, message).toBe(1);
  });

  it('accepts the address syntax forms', () => {
    const o = ok(['--k8s-monitor=:8080', '--local-restore=[::1]:5884', '--other-restore=host-2.example:5884']);
    expect(o).toMatchObject({ k8sMonitor: ':8080', localRestore: '[::1]:5884', otherRestore: 'host-2.example:5884' });
  });

  it('splits list options at top-level commas and accepts repeats', () => {
    const o = ok(['--interfaces-pattern=192\\.168\\..*,fe80::.*%eth0', '--interfaces-pattern', '10\\.\\d{1,3}\\..*']);
    expect(o.interfacesPattern!.map((r) => r.source)).toEqual([
      '^(?:192\\.168\\..*)$',
      '^(?:fe80::.*%eth0)$',
      '^(?:10\\.\\d{1,3}\\..*)$',
    ]);
    expect(o.interfacesPattern![0]!.test('192.168.1.2')).toBe(true);
    expect(o.interfacesPattern![0]!.test('x192.168.1.2')).toBe(false);
    const c = ok(['--dtls-cluster=:5784;:5884;1,---;node2:5884;2', '--dtls-cluster', '---;node3:5884;3', '--dtls-cluster-group=a:1,b:2']);
    expect(c.dtlsCluster).toEqual([':5784;:5884;1', '---;node2:5884;2', '---;node3:5884;3']);
    expect(c.dtlsClusterGroup).toEqual(['a:1', 'b:2']);
  });
});

describe('group rules', () => {
  it('store group needs --store-file and --store-max-age', () => {
    expect(error(['--store-file=f'])).toBe('Error: Missing required argument(s): --store-max-age=<hours> (required by the --store-* group)');
    expect(error(['--store-max-age=1'])).toBe('Error: Missing required argument(s): --store-file=<file> (required by the --store-* group)');
    expect(error(['--store-password64=YQ=='])).toBe(
      'Error: Missing required argument(s): --store-file=<file>, --store-max-age=<hours> (required by the --store-* group)',
    );
    expect(ok(['--store-file=f', '--store-max-age=1']).storeFile).toBe('f');
  });

  it('at most one cluster type', () => {
    expect(error(['--k8s-dtls-cluster=:5784;:5884;5884', '--dtls-cluster=:5784;:5884;1'])).toMatch(/mutually exclusive/);
    expect(error(['--k8s-dtls-cluster=:5784;:5884;5884', '--dtls-cluster-group=a:1'])).toMatch(/mutually exclusive/);
    expect(error(['--dtls-cluster-group=a:1'])).toMatch(/^Error: Missing required argument\(s\): --dtls-cluster=/);
    expect(error(['--dtls-cluster-group-security=s'])).toMatch(/^Error: Missing required argument\(s\): --dtls-cluster=/);
    expect(ok(['--k8s-dtls-cluster=:5784;:5884;5884']).k8sDtlsCluster).toBe(':5784;:5884;5884');
    expect(ok(['--dtls-cluster=:5784;:5884;1', '--dtls-cluster-group=a:1', '--dtls-cluster-group-security=s']).dtlsClusterGroupSecurity).toBe('s');
  });

  it('cluster flags need a cluster type, in both forms', () => {
    for (const f of ['--dtls-cluster-backward', '--no-dtls-cluster-backward', '--dtls-cluster-mac', '--no-dtls-cluster-mac']) {
      expect(error([f])).toMatch(/requires a cluster type/);
    }
    expect(ok(['--k8s-dtls-cluster=:5784;:5884;5884', '--dtls-cluster-mac']).dtlsClusterMac).toBe(true);
  });

  it('restore group: --k8s-restore or both --local-restore and --other-restore', () => {
    expect(error(['--local-restore=:5884'])).toMatch(/--other-restore=<address>/);
    expect(error(['--other-restore=:5884'])).toMatch(/--local-restore=<address>/);
    expect(error(['--k8s-restore=:5884', '--local-restore=:5884', '--other-restore=h:5884'])).toMatch(/mutually exclusive/);
    expect(ok(['--local-restore=:5884', '--other-restore=h:5884']).localRestore).toBe(':5884');
    expect(ok(['--k8s-restore=:5884']).k8sRestore).toBe(':5884');
  });

  it('--restore-max-age needs a restore source', () => {
    expect(error(['--restore-max-age=3'])).toBe(
      'Error: --restore-max-age requires a restore source (--k8s-restore, or --local-restore with --other-restore)',
    );
    expect(ok(['--k8s-restore=:5884', '--restore-max-age=3']).restoreMaxAge).toBe(3);
  });
});


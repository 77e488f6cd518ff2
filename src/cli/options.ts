// Server command line (cli.md §2.1, §2.2): strict parsing with yargs, group rules, refused features.
import yargs from 'yargs';
import { reasonFor, ValueError } from '../config/errors.js';
import { parseTime } from '../config/time.js';
import { fullMatchRegex } from '../server/interfaces.js';
import { parseAddress, parseClusterNode, parseK8sCluster } from './address.js';
import { productVersion } from '../server/version.js';
import { MAX_WORKERS } from '../workers/worker-count.js';

/** Certificate based client authentication modes of `--client-auth`. */
export type ClientAuthMode = 'NONE' | 'WANTED' | 'NEEDED';

/** The parsed command line; times in ms, ages in hours. */
export interface ServerOptions {
  loopback: boolean;
  external: boolean;
  ipv4: boolean;
  ipv6: boolean;
  tcp: boolean;
  dtlsOnly: boolean;
  trustAll: boolean;
  clientAuth?: ClientAuthMode;
  /** full-match regexes of --interfaces-pattern */
  interfacesPattern?: RegExp[];
  echoDelay: boolean;
  oscore: boolean;
  /** ms, at least 5 */
  notifyInterval: number;
  /** --log-format (server-main also reads LOG_FORMAT) */
  logFormat?: string;
  /** --log-level (server-main also reads LOG_LEVEL) */
  logLevel?: string;
  storeFile?: string;
  storePassword64?: string;
  /** hours */
  storeMaxAge?: number;
  pskFile?: string;
  plugtest: boolean;
  benchmark: boolean;
  diagnose: boolean;
  /** `<dtls-intf>;<mgmt-intf>;<node-id>` entries (syntax checked, see parseClusterNode) */
  dtlsCluster?: string[];
  /** management addresses (syntax checked, see parseAddress) */
  dtlsClusterGroup?: string[];
  dtlsClusterGroupSecurity?: string;
  /** `<dtls-intf>;<mgmt-intf>;<external-mgmt-port>` (syntax checked, see parseK8sCluster) */
  k8sDtlsCluster?: string;
  dtlsClusterBackward: boolean;
  /** undefined = on if the management channel is encrypted */
  dtlsClusterMac?: boolean;
  /** --dtls-cluster-store: `redis://host:port` of the shared connection store (issue 12) */
  dtlsClusterStore?: string;
  k8sMonitor?: string;
  k8sRestore?: string;
  localRestore?: string;
  otherRestore?: string;
  /** hours */
  restoreMaxAge: number;
  /** --workers: worker processes asked for; undefined: the properties' WORKERS (workers/worker-count.ts decides what runs) */
  workers?: number;
  /** long names (without dashes and `no-`) of the options given on the command line, e.g. `tcp`, `notify-interval` */
  explicit: Set<string>;
}

/** Outcome of parsing: print help (exit 0), print error + usage to stderr (exit 255), or run. */
export type CliResult =
  | { kind: 'help'; text: string }
  | { kind: 'error'; message: string; usage: string }
  | { kind: 'ok'; options: ServerOptions };

/** Product name printed where the reference prints its own. */
const PRODUCT_NAME = 'extplugtest';

/** Minimum of --notify-interval in ms (smaller values are raised). */
export const MIN_NOTIFY_INTERVAL = 5;

type Group = 'shared' | 'extended';

/** One command line option. */
interface OptionSpec {
  /** long name without dashes */
  name: string;
  /** flag = boolean; value = takes a parameter */
  kind: 'flag' | 'value';
  /** accepts the `--no-` form */
  negatable?: boolean;
  /** flag default (undefined = unset) */
  defaultOn?: boolean;
  /** may repeat; values are split at top-level commas */
  list?: boolean;
  /** parameter label for the usage */
  label?: string;
  /** default shown in the usage */
  shownDefault?: string;
  group: Group;
  help: string;
  /**
   * converts/validates one parameter; throws an Error with the reason (a ValueError for the whole
   * parameter, or an Error whose message does not repeat the parameter)
   */
  convert?: (text: string) => unknown;
}

const CLIENT_AUTH_MODES: readonly ClientAuthMode[] = ['NONE', 'WANTED', 'NEEDED'];

/** All options, in usage order. */
const OPTIONS: readonly OptionSpec[] = [
  { name: 'loopback', kind: 'flag', negatable: true, defaultOn: true, group: 'shared', help: 'create endpoints on loopback addresses (127.0.0.0/8, ::1), and with --external on link-local addresses (169.254.0.0/16, fe80::/10)' },
  { name: 'external', kind: 'flag', negatable: true, defaultOn: true, group: 'shared', help: 'create endpoints on all other (external) addresses, whatever interface they are on' },
  { name: 'ipv4', kind: 'flag', negatable: true, defaultOn: true, group: 'shared', help: 'create endpoints for IPv4 addresses' },
  { name: 'ipv6', kind: 'flag', negatable: true, defaultOn: true, group: 'shared', help: 'create endpoints for IPv6 addresses' },
  { name: 'tcp', kind: 'flag', negatable: true, defaultOn: true, group: 'shared', help: 'also create coap+tcp and coaps+tcp endpoints' },
  { name: 'dtls-only', kind: 'flag', defaultOn: false, group: 'shared', help: 'only DTLS endpoints (no coap/UDP, no TCP, no TLS)' },
  { name: 'trust-all', kind: 'flag', defaultOn: false, group: 'shared', help: 'accept any valid X.509 client certificate chain instead of requiring the demo trust anchors' },
  {
    name: 'client-auth', kind: 'value', label: 'NONE|WANTED|NEEDED', group: 'shared',
    help: 'certificate based client authentication for DTLS and TLS (default: DTLS NEEDED, TLS WANTED)',
    convert: (t) => {
      if (!(CLIENT_AUTH_MODES as readonly string[]).includes(t)) {
        throw new Error(`expected one of ${CLIENT_AUTH_MODES.join(', ')} (case-sensitive)`);
      }
      return t;
    },
  },
  {
    name: 'interfaces-pattern', kind: 'value', list: true, label: 'regex[,regex...]', group: 'shared',
    help: 'only addresses whose textual form fully matches one of the regular expressions get endpoints',
    convert: (t) => {
      try {
        return fullMatchRegex(t, 'interfaces-pattern');
      } catch {
        throw new ValueError(t, 'not a valid regular expression');
      }
    },
  },
  { name: 'echo-delay', kind: 'flag', negatable: true, defaultOn: false, group: 'shared', help: 'enable the delay query of /echo (otherwise accepted but ignored)' },
  { name: 'oscore', kind: 'flag', negatable: true, defaultOn: true, group: 'shared', help: 'plugtest server: OSCORE stack with /oscore and /oscoreInfo' },
  {
    name: 'notify-interval', kind: 'value', label: 'time', shownDefault: '5000 (ms)', group: 'shared',
    help: 'period of the plugtest observe resources and of /benchmark notifications; <n> (ms), <n>[unit] or <n>unit with unit ns, ys, ms, s, min, h, d; at least 5 ms',
    convert: (t) => {
      const ms = parseTime(t);
      if (ms < 0) throw new Error('must not be negative');
      return Math.max(MIN_NOTIFY_INTERVAL, ms);
    },
  },
  { name: 'log-format', kind: 'value', label: 'pretty|json', shownDefault: 'pretty on a terminal, json otherwise', group: 'shared', help: 'log lines: pretty (time of day, level, server tag, message) or json (pino JSON lines); also LOG_FORMAT', convert: oneOf(['pretty', 'json']) },
  { name: 'log-level', kind: 'value', label: 'level', shownDefault: 'info', group: 'shared', help: 'log level: fatal, error, warn, info, debug, trace or silent; also LOG_LEVEL', convert: oneOf(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']) },
  { name: 'store-file', kind: 'value', label: 'file', group: 'shared', help: 'file to keep the established DTLS connections across restarts: loaded (then deleted) before the servers start, written at shutdown', convert: nonEmpty },
  { name: 'store-password64', kind: 'value', label: 'base64', group: 'shared', help: 'password (base64 encoded bytes) to encrypt the store file (AES-128-CBC); without it the file is written unencrypted', convert: base64 },
  { name: 'store-max-age', kind: 'value', label: 'hours', group: 'shared', help: 'connections idle longer than this are not written to the store file', convert: hours },
  {
    name: 'workers', kind: 'value', label: 'n', shownDefault: 'WORKERS of the properties, 0 there: one per core', group: 'shared',
    help: 'worker processes serving the extended server on its shared ports, routed by CID (SO_REUSEPORT: Node.js 22.12 or later on Linux, else one); 1: a single process',
    convert: workerCount,
  },
  { name: 'psk-file', kind: 'value', label: 'file', group: 'shared', help: 'file with additional PSK credentials', convert: nonEmpty },
  { name: 'plugtest', kind: 'flag', negatable: true, defaultOn: true, group: 'extended', help: 'also run the plugtest server (not with a cluster option)' },
  { name: 'benchmark', kind: 'flag', negatable: true, defaultOn: false, group: 'extended', help: 'enable /benchmark (otherwise it answers 5.01)' },
  { name: 'diagnose', kind: 'flag', negatable: true, defaultOn: false, group: 'extended', help: 'add /diagnose' },
  {
    name: 'dtls-cluster', kind: 'value', list: true, label: '<dtls-intf>;<mgmt-intf>;<node-id>[,...]', group: 'extended',
    help: 'static/dynamic DTLS CID cluster nodes; --- as <dtls-intf> marks a remote node',
    convert: (t) => (parseClusterNode(t), t),
  },
  {
    name: 'dtls-cluster-group', kind: 'value', list: true, label: '<mgmt-intf>[,...]', group: 'extended',
    help: 'dynamic cluster: management addresses of the other nodes',
    convert: (t) => (parseAddress(t), t),
  },
  { name: 'dtls-cluster-group-security', kind: 'value', label: 'secret', group: 'extended', help: 'dynamic cluster: pre-shared secret to run the management channel over DTLS-PSK', convert: nonEmpty },
  {
    name: 'k8s-dtls-cluster', kind: 'value', label: '<dtls-intf>;<mgmt-intf>;<external-mgmt-port>', group: 'extended',
    help: 'k8s DTLS CID cluster (node-id and peers from k8s)',
    convert: (t) => (parseK8sCluster(t), t),
  },
  { name: 'dtls-cluster-backward', kind: 'flag', negatable: true, defaultOn: true, group: 'extended', help: 'send records of forwarded connections back through the receiving node (only with a cluster)' },
  { name: 'dtls-cluster-mac', kind: 'flag', negatable: true, shownDefault: 'on if the management channel is encrypted', group: 'extended', help: 'protect forwarding headers with a MAC (only with a cluster)' },
  {
    name: 'dtls-cluster-store', kind: 'value', label: 'redis://host:port', group: 'extended',
    help: 'shared DTLS connection store in Redis: another node takes over the connections of a node that is gone (dynamic/k8s cluster with its secret; docs/failover.md)',
    convert: redisUrl,
  },
  { name: 'k8s-monitor', kind: 'value', label: 'address', group: 'extended', help: 'HTTP monitor (/alive, /ready, /metrics) address', convert: address },
  { name: 'k8s-restore', kind: 'value', label: 'address', group: 'extended', help: 'k8s graceful restart: local HTTPS /restore service address', convert: address },
  { name: 'local-restore', kind: 'value', label: 'address', group: 'extended', help: 'graceful restart: local HTTPS /restore service address (with --other-restore)', convert: address },
  { name: 'other-restore', kind: 'value', label: 'address', group: 'extended', help: "graceful restart: the other instance's /restore service address (with --local-restore)", convert: address },
  { name: 'restore-max-age', kind: 'value', label: 'hours', shownDefault: '12', group: 'extended', help: 'connections idle longer than this are not transferred by /restore', convert: hours },
];

const BY_NAME: ReadonlyMap<string, OptionSpec> = new Map(OPTIONS.map((o) => [o.name, o]));

function nonEmpty(t: string): string {
  if (t === '') throw new Error('must not be empty');
  return t;
}

/** `redis://host:port[/db]` or `rediss://...` (the shared connection store, issue 12). */
function redisUrl(t: string): string {
  let u: URL;
  try {
    u = new URL(t);
  } catch {
    throw new Error('expected redis://host:port');
  }
  if ((u.protocol !== 'redis:' && u.protocol !== 'rediss:') || u.hostname === '') throw new Error('expected redis://host:port');
  return t;
}

function base64(t: string): string {
  if (t === '' || !/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=|[A-Za-z0-9+/]{2,3})?$/.test(t)) {
    throw new Error('not base64');
  }
  return t;
}

function hours(t: string): number {
  if (!/^\d+$/.test(t) || !Number.isSafeInteger(Number(t))) throw new Error('expected a number of hours (integer >= 0)');
  return Number(t);
}

/** --workers: an integer from 1 to MAX_WORKERS. */
function workerCount(t: string): number {
  const n = Number(t);
  if (!/^\d+$/.test(t) || n < 1 || n > MAX_WORKERS) throw new Error(`expected a number of workers from 1 to ${MAX_WORKERS}`);
  return n;
}

/** A converter accepting one of `values` (case-insensitive), returned in lower case. */
function oneOf(values: readonly string[]): (t: string) => string {
  return (t) => {
    const v = t.toLowerCase();
    if (!values.includes(v)) throw new Error(`expected one of ${values.join(', ')}`);
    return v;
  };
}

function address(t: string): string {
  parseAddress(t);
  return t;
}

/** `--interfaces-pattern=a,b{1,2}` → ['a', 'b{1,2}']: commas inside (), [], {} or escaped do not split. */
function splitList(text: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '\\' && i + 1 < text.length) {
      cur += c + text[++i];
      continue;
    }
    if ('([{'.includes(c)) depth++;
    else if (')]}'.includes(c)) depth = Math.max(0, depth - 1);
    if (c === ',' && depth === 0) {
      out.push(cur);
      cur = '';
    } else cur += c;
  }
  out.push(cur);
  return out;
}

function camel(name: string): string {
  return name.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

/** Result of checking the raw tokens the way the reference's parser does. */
type Scan = { error: string } | { help: boolean; explicit: Set<string>; normalized: string[] };

/**
 * Checks the tokens: unknown options (incl. `--no-` of options that are not negatable), positional
 * arguments, values given to flags, missing parameters, repeated single options. Produces a
 * normalized argv (`--name=value`, `--name`, `--no-name`) for yargs.
 */
function scan(argv: readonly string[]): Scan {
  const explicit = new Set<string>();
  const normalized: string[] = [];
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const tok = argv[i]!;
    if (tok === '-h' || tok === '--help') {
      help = true;
      continue;
    }
    if (tok === '--') {
      return i + 1 < argv.length
        ? { error: `Unmatched argument at index ${i + 1}: '${argv[i + 1]}'` }
        : { error: `Unmatched argument at index ${i}: '--'` };
    }
    if (!tok.startsWith('-') || tok === '-') return { error: `Unmatched argument at index ${i}: '${tok}'` };
    if (!tok.startsWith('--')) return { error: `Unknown option: '${tok}'` };
    const eq = tok.indexOf('=');
    const name = eq < 0 ? tok.slice(2) : tok.slice(2, eq);
    const inline = eq < 0 ? undefined : tok.slice(eq + 1);
    let spec = BY_NAME.get(name);
    let negated = false;
    if (!spec && name.startsWith('no-')) {
      const base = BY_NAME.get(name.slice(3));
      if (base?.negatable) {
        spec = base;
        negated = true;
      }
    }
    if (!spec || name === 'help') return { error: `Unknown option: '${eq < 0 ? tok : tok.slice(0, eq)}'` };
    if (explicit.has(spec.name) && !spec.list) return { error: `option '--${spec.name}' should be specified only once` };
    explicit.add(spec.name);
    if (spec.kind === 'flag') {
      if (inline !== undefined) return { error: `option '--${name}' takes no parameter (was '${tok}')` };
      normalized.push(negated ? `--no-${spec.name}` : `--${spec.name}`);
      continue;
    }
    let value = inline;
    if (value === undefined) {
      const next = argv[i + 1];
      if (next === undefined || isOptionToken(next)) {
        return { error: `Missing required parameter for option '--${spec.name}' (${paramLabel(spec)})` };
      }
      value = next;
      i++;
    }
    normalized.push(`--${spec.name}=${value}`);
  }
  return { help, explicit, normalized };
}

/** True if the token is a known option (so it cannot be the parameter of the option before it). */
function isOptionToken(tok: string): boolean {
  if (tok === '-h' || tok === '--help' || tok === '--') return true;
  if (!tok.startsWith('--')) return false;
  const name = tok.slice(2).split('=')[0]!;
  return BY_NAME.has(name) || (name.startsWith('no-') && BY_NAME.get(name.slice(3))?.negatable === true);
}

/** yargs configuration built from the option table. */
function yargsParse(args: string[]): Record<string, unknown> {
  const options: Record<string, { type: 'boolean' | 'string'; default?: boolean; array?: boolean; requiresArg?: boolean }> = {};
  for (const o of OPTIONS) {
    if (o.kind === 'flag') options[o.name] = { type: 'boolean', ...(o.defaultOn !== undefined ? { default: o.defaultOn } : {}) };
    else options[o.name] = { type: 'string', requiresArg: true, ...(o.list ? { array: true } : {}) };
  }
  let failure: string | undefined;
  const parsed = yargs(args)
    .parserConfiguration({
      'camel-case-expansion': false,
      'dot-notation': false,
      'duplicate-arguments-array': true,
      'greedy-arrays': false,
      'parse-numbers': false,
      'parse-positional-numbers': false,
      'short-option-groups': false,
    })
    .options(options)
    .strict()
    .help(false)
    .version(false)
    .exitProcess(false)
    .showHelpOnFail(false)
    .fail((msg, err) => {
      failure = msg || err?.message || 'invalid command line';
    })
    .parseSync() as Record<string, unknown>;
  if (failure !== undefined) throw new UsageError(failure);
  return parsed;
}

class UsageError extends Error {}

/** Parses the server command line (without node and script). Pure: no printing, no exit. */
export function parseServerArgs(argv: string[]): CliResult {
  const fail = (message: string): CliResult => ({ kind: 'error', message, usage: usage() });
  const scanned = scan(argv);
  if ('error' in scanned) return fail(scanned.error);
  if (scanned.help) return { kind: 'help', text: usage() };
  let raw: Record<string, unknown>;
  try {
    raw = yargsParse(scanned.normalized);
  } catch (err) {
    return fail((err as Error).message);
  }

  const values: Record<string, unknown> = {};
  for (const o of OPTIONS) {
    const v = raw[o.name];
    if (v === undefined) continue;
    if (o.kind === 'flag') {
      values[camel(o.name)] = v;
      continue;
    }
    const texts = (Array.isArray(v) ? v : [v]).map(String);
    const items = o.list ? texts.flatMap(splitList) : [texts[0]!];
    const converted: unknown[] = [];
    for (const t of items) {
      try {
        converted.push(o.convert ? o.convert(t) : t);
      } catch (err) {
        return fail(invalidValue(o.name, t, err));
      }
    }
    values[camel(o.name)] = o.list ? converted : converted[0];
  }
  const options = {
    notifyInterval: 5000,
    restoreMaxAge: 12,
    ...values,
    explicit: scanned.explicit,
  } as ServerOptions;
  const groupError = checkGroups(options);
  if (groupError) return fail(groupError);
  return { kind: 'ok', options };
}

/** `Invalid value for option '--<name>': '<value>': <reason>`, the value named once (the failing item of a list option). */
function invalidValue(name: string, value: string, err: unknown): string {
  return `Invalid value for option '--${name}': '${value}': ${reasonFor(err, value)}`;
}

/** The group rules of cli.md §2.1/§2.2; returns the violation or undefined. */
function checkGroups(o: ServerOptions): string | undefined {
  const given = (name: string): boolean => o.explicit.has(name);
  if (given('store-file') || given('store-password64') || given('store-max-age')) {
    const missing = ['store-file', 'store-max-age'].filter((n) => !given(n));
    if (missing.length) {
      return `Error: Missing required argument(s): ${missing.map((n) => `--${n}=${paramLabel(BY_NAME.get(n)!)}`).join(', ')} (required by the --store-* group)`;
    }
  }
  const simple = given('dtls-cluster') || given('dtls-cluster-group') || given('dtls-cluster-group-security');
  if (given('k8s-dtls-cluster') && simple) {
    return 'Error: --k8s-dtls-cluster and --dtls-cluster[-group[-security]] are mutually exclusive (specify only one cluster type)';
  }
  if (simple && !given('dtls-cluster')) {
    return 'Error: Missing required argument(s): --dtls-cluster=<dtls-intf>;<mgmt-intf>;<node-id> (required by --dtls-cluster-group and --dtls-cluster-group-security)';
  }
  const clusterType = given('k8s-dtls-cluster') || simple;
  for (const n of ['dtls-cluster-backward', 'dtls-cluster-mac']) {
    if (given(n) && !clusterType) {
      return `Error: --[no-]${n} requires a cluster type (--dtls-cluster or --k8s-dtls-cluster)`;
    }
  }
  if (given('dtls-cluster-store') && !clusterType) {
    return 'Error: --dtls-cluster-store requires a cluster type (--dtls-cluster with --dtls-cluster-group and --dtls-cluster-group-security, or --k8s-dtls-cluster)';
  }
  const local = given('local-restore');
  const other = given('other-restore');
  if (given('k8s-restore') && (local || other)) {
    return 'Error: --k8s-restore and --local-restore/--other-restore are mutually exclusive (specify only one restore source)';
  }
  if (local !== other) {
    return `Error: Missing required argument(s): --${local ? 'other' : 'local'}-restore=<address> (--local-restore and --other-restore are required together)`;
  }
  if (given('restore-max-age') && !given('k8s-restore') && !local) {
    return 'Error: --restore-max-age requires a restore source (--k8s-restore, or --local-restore with --other-restore)';
  }
  return undefined;
}

/** Usage line of one option, e.g. `--[no-]loopback` or `--notify-interval=<time>`. */
function synopsis(o: OptionSpec): string {
  if (o.kind === 'flag') return o.negatable ? `--[no-]${o.name}` : `--${o.name}`;
  return `--${o.name}=${paramLabel(o)}`;
}

/** `<file>`, or the label itself when it already has the `<...>` form. */
function paramLabel(o: OptionSpec): string {
  const label = o.label ?? 'value';
  return label.startsWith('<') ? label : `<${label}>`;
}

/** Word-wraps `text` to `width`, continuation lines indented by `indent`. */
function wrap(text: string, width: number, indent: string, first = ''): string[] {
  const lines: string[] = [];
  let line = first;
  for (const word of text.split(' ')) {
    if (line.trim() !== '' && line.length + 1 + word.length > width) {
      lines.push(line);
      line = indent + word;
    } else {
      line += line.length > 0 && !line.endsWith(' ') ? ' ' + word : word;
    }
  }
  lines.push(line);
  return lines;
}

/** The usage text printed by `-h`/`--help` and after command line errors (no trailing newline). */
export function usage(): string {
  const width = 100;
  const out: string[] = [];
  const syn = ['[-h]', ...OPTIONS.map((o) => `[${synopsis(o)}${o.list ? '...' : ''}]`)].join(' ');
  out.push(...wrap(syn, width, '       ', 'Usage: extended-test-server '));
  out.push('');
  out.push(`${PRODUCT_NAME} ${productVersion(process.cwd())} - Extended Plugtest Server: CoAP/DTLS plugtest and extended test server.`);
  const col = 36;
  const entry = (left: string, help: string): void => {
    const head = `  ${left}`;
    if (head.length + 1 < col) {
      out.push(...wrap(help, width, ' '.repeat(col), head.padEnd(col)));
    } else {
      out.push(head, ...wrap(help, width, ' '.repeat(col), ' '.repeat(col)));
    }
  };
  const section = (title: string, group: Group): void => {
    out.push('', title);
    if (group === 'shared') entry('-h, --help', 'print this usage and exit');
    for (const o of OPTIONS.filter((x) => x.group === group)) {
      let help = o.help;
      if (o.kind === 'flag' && o.defaultOn !== undefined) help += ` (default: ${o.defaultOn ? 'on' : 'off'})`;
      else if (o.shownDefault) help += ` (default: ${o.shownDefault})`;
      if (o.list) help += ' (may repeat)';
      entry(synopsis(o), help);
    }
  };
  section('Options (plugtest and extended server):', 'shared');
  section('Options (extended server):', 'extended');
  out.push('');
  out.push('Rules: --store-file and --store-max-age are required together with any --store-* option;');
  out.push('at most one cluster type (--dtls-cluster [--dtls-cluster-group [--dtls-cluster-group-security]]');
  out.push('or --k8s-dtls-cluster); --k8s-restore or --local-restore with --other-restore.');
  out.push('Address syntax: :<port>, <host>:<port>, [<ipv6>]:<port>.');
  out.push('Exit status: 0 help or console exit, 1 start-up failure, 255 command line error.');
  return out.join('\n');
}

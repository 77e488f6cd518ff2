// Local addresses that get endpoints (cli.md §3.2 steps 1-2): interface filters, scope, --interfaces-pattern.
import os from 'node:os';

/** One local IP address that passed the filters. */
export interface LocalAddress {
  /** textual address, IPv6 compressed and without `%scope` */
  address: string;
  family: 4 | 6;
  /** 127.0.0.0/8 or ::1, by the address alone (not by the interface it is on) */
  loopback: boolean;
  /** 169.254.0.0/16 or fe80::/10 */
  linkLocal: boolean;
  interfaceName: string;
  /** IPv6 scope id (link-local addresses need it to bind) */
  scopeId?: number;
}

/** Which addresses get endpoints (the --[no-]loopback/external/ipv4/ipv6 and --interfaces-pattern flags). */
export interface AddressFilter {
  loopback: boolean;
  external: boolean;
  ipv4: boolean;
  ipv6: boolean;
  /** an address is taken if one of them matches its whole textual form */
  patterns?: RegExp[];
}

/** The filter flags as the command line holds them (ServerOptions fits: `interfacesPattern` for `patterns`). */
export type FilterFlags = Omit<AddressFilter, 'patterns'> & { patterns?: RegExp[]; interfacesPattern?: RegExp[] };

/** Interface names skipped when neither COAP_NETWORK_INTERFACES nor COAP_NETWORK_INTERFACES_EXCLUDE is set. */
export const DEFAULT_INTERFACES_EXCLUDE =
  '(vxlan\\.calico|cali[0123456789abcdef]{10,}|cilium_\\w+|lxc[0123456789abcdef]{12,}|virbr\\d+|docker\\d+)';

/** Compiles a regex that must match the whole text; throws an Error naming `what` on bad syntax. */
export function fullMatchRegex(source: string, what: string): RegExp {
  try {
    return new RegExp(`^(?:${source})$`);
  } catch (err) {
    throw new Error(`${what}: invalid regular expression '${source}' (${(err as Error).message})`);
  }
}

/** What an address is, by the address alone (cli.md §3.2): the interface it sits on does not matter. */
export type AddressKind = 'loopback' | 'link-local' | 'external';

/** Classifies an address: 127.0.0.0/8 and ::1 loopback; 169.254.0.0/16 and fe80::/10 link-local; anything else external. */
export function addressKind(address: string, family: 4 | 6): AddressKind {
  if (isLoopback(address, family)) return 'loopback';
  if (isLinkLocal(address, family)) return 'link-local';
  return 'external';
}

/** The flag that drops an address. */
type Rejection = '--no-ipv4' | '--no-ipv6' | '--no-loopback' | '--no-external' | '--interfaces-pattern';

/**
 * Why `filter` drops `a`, or undefined if it keeps it: loopback addresses need --loopback, external
 * ones --external, link-local ones both (so that --no-external binds loopback addresses only).
 */
function rejection(a: LocalAddress, filter: AddressFilter): Rejection | undefined {
  if (a.family === 4 ? !filter.ipv4 : !filter.ipv6) return a.family === 4 ? '--no-ipv4' : '--no-ipv6';
  if ((a.loopback || a.linkLocal) && !filter.loopback) return '--no-loopback';
  if (!a.loopback && !filter.external) return '--no-external';
  if (filter.patterns?.length && !matchesAny(a, filter.patterns)) return '--interfaces-pattern';
  return undefined;
}

/** Addresses of the usable interfaces (step 1 of cli.md §3.2), and the interfaces with addresses that were skipped. */
interface Candidates {
  addresses: LocalAddress[];
  skipped: string[];
  include?: string;
  exclude?: string;
}

/** Step 1 of cli.md §3.2: the addresses of the interfaces the environment selects; throws on an invalid regex. */
function candidates(env: NodeJS.ProcessEnv, interfaces: ReturnType<typeof os.networkInterfaces>): Candidates {
  const include = nonEmpty(env['COAP_NETWORK_INTERFACES']);
  const excludeText = nonEmpty(env['COAP_NETWORK_INTERFACES_EXCLUDE']);
  const includeRe = include !== undefined ? fullMatchRegex(include, 'COAP_NETWORK_INTERFACES') : undefined;
  const excludeRe =
    excludeText !== undefined
      ? fullMatchRegex(excludeText, 'COAP_NETWORK_INTERFACES_EXCLUDE')
      : include === undefined
        ? fullMatchRegex(DEFAULT_INTERFACES_EXCLUDE, 'default interface exclude')
        : undefined;
  const addresses: LocalAddress[] = [];
  const skipped: string[] = [];
  for (const [name, infos] of Object.entries(interfaces)) {
    if (!infos?.length) continue;
    if ((includeRe && !includeRe.test(name)) || (excludeRe && excludeRe.test(name))) {
      skipped.push(name);
      continue;
    }
    for (const info of infos) {
      const family = familyOf(info.family);
      if (family === undefined) continue;
      const address = family === 6 ? info.address.replace(/%.*$/, '').toLowerCase() : info.address;
      const kind = addressKind(address, family);
      const local: LocalAddress = { address, family, loopback: kind === 'loopback', linkLocal: kind === 'link-local', interfaceName: name };
      if (family === 6 && 'scopeid' in info && info.scopeid) local.scopeId = info.scopeid;
      addresses.push(local);
    }
  }
  return {
    addresses,
    skipped,
    ...(include !== undefined ? { include } : {}),
    ...(excludeText !== undefined ? { exclude: excludeText } : {}),
  };
}

/** Keeps the first of equal addresses (link-local ones are equal only on the same interface). */
function unique(list: LocalAddress[]): LocalAddress[] {
  const seen = new Set<string>();
  return list.filter((a) => {
    const key = `${a.address}%${a.linkLocal ? a.interfaceName : ''}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/**
 * The local addresses to bind, in interface order. Each address is classified by itself
 * (addressKind), not by its interface: a service address like 10.0.0.7 on `lo` is external.
 * Throws an Error when the filter excludes everything by construction (`--no-loopback
 * --no-external`, `--no-ipv4 --no-ipv6`) or an environment regex is invalid. An empty result is
 * explained by noEndpointMessage.
 */
export function selectAddresses(
  filter: AddressFilter,
  env: NodeJS.ProcessEnv = process.env,
  interfaces: ReturnType<typeof os.networkInterfaces> = os.networkInterfaces(),
): LocalAddress[] {
  if (!filter.loopback && !filter.external) {
    throw new Error('--no-loopback together with --no-external leaves no address for endpoints');
  }
  if (!filter.ipv4 && !filter.ipv6) {
    throw new Error('--no-ipv4 together with --no-ipv6 leaves no address for endpoints');
  }
  return unique(candidates(env, interfaces).addresses.filter((a) => rejection(a, filter) === undefined));
}

/** Most addresses listed in an explanation. */
const LISTED = 4;

function listOf(addresses: LocalAddress[]): string {
  const texts = unique(addresses).map(bindAddressOf);
  const more = texts.length - LISTED;
  return more > 0 ? `${texts.slice(0, LISTED).join(', ')} and ${more} more` : texts.join(', ');
}

/** `loopback and link-local`: the kinds present, in a fixed order. */
function kindsOf(addresses: LocalAddress[], flag: Rejection): string {
  if (flag === '--no-ipv4') return 'IPv4';
  if (flag === '--no-ipv6') return 'IPv6';
  const kinds = new Set(addresses.map((a) => addressKind(a.address, a.family)));
  return (['loopback', 'link-local', 'external'] as const).filter((k) => kinds.has(k)).join(' and ');
}

/**
 * Why selectAddresses gives nothing for these flags, e.g. `--no-loopback: only loopback addresses
 * found: 127.0.0.1, ::1`; undefined if it gives addresses (or fails itself).
 */
export function explainEmptySelection(
  flags: FilterFlags,
  env: NodeJS.ProcessEnv = process.env,
  interfaces: ReturnType<typeof os.networkInterfaces> = os.networkInterfaces(),
): string | undefined {
  const filter = filterOf(flags);
  let found: Candidates;
  try {
    if (selectAddresses(filter, env, interfaces).length > 0) return undefined;
    found = candidates(env, interfaces);
  } catch {
    return undefined;
  }
  if (found.addresses.length === 0) {
    if (found.skipped.length === 0) return 'no network interface has an IP address';
    const by = [
      ...(found.include !== undefined ? [`COAP_NETWORK_INTERFACES='${found.include}'`] : []),
      ...(found.exclude !== undefined ? [`COAP_NETWORK_INTERFACES_EXCLUDE='${found.exclude}'`] : []),
    ];
    const rule = by.length > 0 ? by.join(' and ') : 'the default exclude of container and VM bridges';
    return `no network interface left by ${rule} (skipped: ${found.skipped.join(', ')})`;
  }
  const groups = new Map<Rejection, LocalAddress[]>();
  for (const a of found.addresses) {
    const flag = rejection(a, filter) ?? '--interfaces-pattern';
    groups.set(flag, [...(groups.get(flag) ?? []), a]);
  }
  const order: Rejection[] = ['--no-ipv4', '--no-ipv6', '--no-loopback', '--no-external', '--interfaces-pattern'];
  const entries = order.filter((f) => groups.has(f)).map((f) => [f, groups.get(f)!] as const);
  const only = entries.length === 1;
  return entries
    .map(([flag, list]) =>
      flag === '--interfaces-pattern'
        ? `--interfaces-pattern: matches none of ${listOf(list)}`
        : only
          ? `${flag}: only ${kindsOf(list, flag)} addresses found: ${listOf(list)}`
          : `${flag}: ${kindsOf(list, flag)} addresses excluded: ${listOf(list)}`,
    )
    .join('; ');
}

/**
 * The start-up error of a server without endpoints (cli.md §3.2 step 5): `no endpoint available!`,
 * with the cause when the address selection is empty, e.g.
 * `no endpoint available! (--no-loopback: only loopback addresses found: 127.0.0.1, ::1)`.
 */
export function noEndpointMessage(
  flags: FilterFlags,
  env: NodeJS.ProcessEnv = process.env,
  interfaces: ReturnType<typeof os.networkInterfaces> = os.networkInterfaces(),
): string {
  const why = explainEmptySelection(flags, env, interfaces);
  return why === undefined ? 'no endpoint available!' : `no endpoint available! (${why})`;
}

/** The AddressFilter of command line flags. */
export function filterOf(flags: FilterFlags): AddressFilter {
  const patterns = flags.patterns ?? flags.interfacesPattern;
  return {
    loopback: flags.loopback,
    external: flags.external,
    ipv4: flags.ipv4,
    ipv6: flags.ipv6,
    ...(patterns !== undefined ? { patterns } : {}),
  };
}

/** The host text to bind a socket to: link-local IPv6 addresses get `%<interface>`. */
export function bindAddressOf(a: LocalAddress): string {
  return a.family === 6 && a.linkLocal ? `${a.address}%${a.interfaceName}` : a.address;
}

/** Textual forms an --interfaces-pattern regex is matched against. */
export function addressForms(a: LocalAddress): string[] {
  if (a.family === 4) return [a.address];
  const forms = [a.address, `${a.address}%${a.interfaceName}`];
  if (a.scopeId !== undefined) forms.push(`${a.address}%${a.scopeId}`);
  // Java's InetAddress.getHostAddress() form (no :: compression), as used with the reference
  const java = expandIpv6(a.address);
  if (java !== a.address) forms.push(java, `${java}%${a.interfaceName}`);
  return forms;
}

function matchesAny(a: LocalAddress, patterns: RegExp[]): boolean {
  const forms = addressForms(a);
  return patterns.some((re) => forms.some((f) => fullMatch(re, f)));
}

/** Full match even for a RegExp not built by fullMatchRegex. */
function fullMatch(re: RegExp, text: string): boolean {
  const m = new RegExp(re.source, re.flags.replace(/[gy]/g, '')).exec(text);
  return m !== null && m.index === 0 && m[0].length === text.length;
}

function familyOf(f: string | number): 4 | 6 | undefined {
  if (f === 'IPv4' || f === 4) return 4;
  if (f === 'IPv6' || f === 6) return 6;
  return undefined;
}

function nonEmpty(v: string | undefined): string | undefined {
  return v === undefined || v === '' ? undefined : v;
}

function isLoopback(address: string, family: 4 | 6): boolean {
  return family === 4 ? address.startsWith('127.') : address === '::1';
}

function isLinkLocal(address: string, family: 4 | 6): boolean {
  if (family === 4) return address.startsWith('169.254.');
  return /^fe[89ab][0-9a-f]:/.test(address);
}

/** `fe80::1` → `fe80:0:0:0:0:0:0:1` (Java style: lower case, no leading zeros, no `::`). */
export function expandIpv6(address: string): string {
  const [head = '', tail] = address.split('::') as [string, string | undefined];
  const parse = (s: string): string[] => (s === '' ? [] : s.split(':'));
  let groups = parse(head);
  if (tail !== undefined) {
    const t = parse(tail);
    groups = [...groups, ...Array<string>(Math.max(0, 8 - groups.length - t.length)).fill('0'), ...t];
  }
  // an embedded IPv4 tail (::ffff:1.2.3.4) is kept as it is
  return groups.map((g) => (g.includes('.') ? g : (parseInt(g, 16) || 0).toString(16))).join(':');
}

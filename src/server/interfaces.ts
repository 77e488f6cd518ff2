// Local addresses that get endpoints (cli.md §3.2 steps 1-2): interface filters, scope, --interfaces-pattern.
import os from 'node:os';

/** One local IP address that passed the filters. */
export interface LocalAddress {
  /** textual address, IPv6 compressed and without `%scope` */
  address: string;
  family: 4 | 6;
  /** 127.0.0.0/8, ::1 or an interface flagged internal */
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

/**
 * The local addresses to bind, in interface order. Throws an Error when the filter excludes
 * everything by construction (`--no-loopback --no-external`, `--no-ipv4 --no-ipv6`) or an
 * environment regex is invalid.
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
  const include = nonEmpty(env['COAP_NETWORK_INTERFACES']);
  const excludeText = nonEmpty(env['COAP_NETWORK_INTERFACES_EXCLUDE']);
  const includeRe = include !== undefined ? fullMatchRegex(include, 'COAP_NETWORK_INTERFACES') : undefined;
  const excludeRe =
    excludeText !== undefined
      ? fullMatchRegex(excludeText, 'COAP_NETWORK_INTERFACES_EXCLUDE')
      : include === undefined
        ? fullMatchRegex(DEFAULT_INTERFACES_EXCLUDE, 'default interface exclude')
        : undefined;

  const out: LocalAddress[] = [];
  const seen = new Set<string>();
  for (const [name, infos] of Object.entries(interfaces)) {
    if (!infos) continue;
    if (includeRe && !includeRe.test(name)) continue;
    if (excludeRe && excludeRe.test(name)) continue;
    for (const info of infos) {
      const family = familyOf(info.family);
      if (family === undefined) continue;
      if (family === 4 ? !filter.ipv4 : !filter.ipv6) continue;
      const address = family === 6 ? info.address.replace(/%.*$/, '').toLowerCase() : info.address;
      const loopback = info.internal || isLoopback(address, family);
      const linkLocal = isLinkLocal(address, family);
      // loopback needs --loopback, other addresses --external; link-local needs both, so that
      // --no-external binds loopback addresses only (no link-local)
      if (loopback ? !filter.loopback : linkLocal ? !(filter.loopback && filter.external) : !filter.external) continue;
      const local: LocalAddress = { address, family, loopback, linkLocal, interfaceName: name };
      if (family === 6 && 'scopeid' in info && info.scopeid) local.scopeId = info.scopeid;
      if (filter.patterns?.length && !matchesAny(local, filter.patterns)) continue;
      const key = `${address}%${linkLocal ? name : ''}`;
      if (seen.has(key)) continue;
      seen.add(key);
      out.push(local);
    }
  }
  return out;
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

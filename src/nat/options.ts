// Command line of the `nat` executable (clients.md §7.1): parsing, confirmation lines and the usage text.
import { parseHostPort } from './address.js';

/** Default NAT entry timeout in ms (-tnat). */
export const NAT_TIMEOUT_MS = 30_000;
/** Default load-balancer destination timeout in ms (-tlb). */
export const LB_TIMEOUT_MS = 15_000;
/** Default maximum number of NAT entries (-n). */
export const MAX_NAT_ENTRIES = 10_000;

/** One `--cid` mapping: DTLS CID records whose node-id byte is `nodeId` go to `destination`. */
export interface CidRoute {
  nodeId: number;
  /** `host:port` */
  destination: string;
}

/** Settings of a NAT; addresses are `host:port` texts (`:port` = wildcard bind), resolved at start. */
export interface NatOptions {
  /** listening addresses: one `:port` (wildcard) or explicit `host:port` */
  binds: string[];
  /** load-balancer destinations `host:port` */
  destinations: string[];
  /** -r: reverse destination address update */
  reverse?: boolean;
  /** -x: forward only DTLS-looking datagrams */
  dtlsFilter?: boolean;
  /** -tnat: NAT entry timeout in ms, 0 = never */
  natTimeoutMs?: number;
  /** -tlb: destination answer timeout in ms, 0 = no health check */
  lbTimeoutMs?: number;
  /** -n: maximum NAT entries */
  maxEntries?: number;
  /** -d / -f: percent of forwarded datagrams to drop */
  dropForward?: number;
  /** -d / -b: percent of backwarded datagrams to drop */
  dropBackward?: number;
  /** -s: forwarded datagrams larger than this are dropped with `sizeLimitPercent` */
  sizeLimit?: number;
  /** -s: probability in percent, default 100 */
  sizeLimitPercent?: number;
  /** --cid: node-id → destination */
  cid?: CidRoute[];
}

/** Result of `parseNatArgs`: options plus confirmation lines, the usage text, or an error. */
export type NatArgsResult =
  | { kind: 'ok'; options: NatOptions; lines: string[] }
  | { kind: 'usage'; text: string }
  | { kind: 'error'; message: string; lines: string[] };

/** The usage text printed with fewer than 2 arguments. */
export function natUsage(): string {
  return [
    'usage: :port destination:port [destination2:port2 ...] <other arguments>',
    '  or : localinterface:port [localinterface2:port2 ...] -- destination:port [destination2:port2 ...] <other arguments>',
    '       <other arguments> := [-r] [-x] [-tnat=<millis>] [-tlb=<millis>] [-n=<maxNatEntries>]',
    '                            [-d=<messageDropping%>|[-f=<messageDropping%>][-b=<messageDropping%>]]',
    '                            [-s=<sizeLimit:probability%>] [--cid=<node-id>=<host:port>[,<node-id>=<host:port>...]]',
    '       -r                                           : enable reverse destination address update',
    '       -x                                           : enable DTLS filter.',
    `       -tnat=<milliseconds>                         : timeout for nat entries. Default ${NAT_TIMEOUT_MS}[ms]`,
    `       -tlb=<milliseconds>                          : timeout for destination entries. Default ${LB_TIMEOUT_MS}[ms]`,
    `       -n=<max-number-of-nat-entries>               : maximum number of NAT entries. Default ${MAX_NAT_ENTRIES}`,
    '       -d=<messageDropping%>                        : drops forward and backward messages with provided probability',
    '       -f=<messageDropping%>                        : drops forward messages with provided probability',
    '       -b=<messageDropping%>                        : drops backward messages with provided probability',
    '       -s=<sizeLimit:probability%>                  : limit message size to provided value',
    '       --cid=<node-id>=<host:port>[,...]            : CID load balancer: DTLS 1.2 CID records (content type 25) are sent',
    '                                                      to the destination mapped for their node-id (datagram byte 11).',
    '                                                      May be repeated; mapped destinations join the destination list.',
    '',
    '       use -f and/or -b, if you want to test with different probabilities.',
  ].join('\n');
}

class ArgError extends Error {}

/** Parses the command line (without `node` and the script); never exits the process. */
export function parseNatArgs(argv: string[]): NatArgsResult {
  if (argv.length < 2) return { kind: 'usage', text: natUsage() };
  const lines: string[] = [];
  try {
    return { kind: 'ok', options: parse(argv, lines), lines };
  } catch (err) {
    return { kind: 'error', message: (err as Error).message, lines };
  }
}

function parse(argv: string[], out: string[]): NatOptions {
  // address lines first, then the option confirmations (reference order), also when an error ends parsing
  const addressLines: string[] = [];
  const optionLines: string[] = [];
  try {
    return parseInto(argv, addressLines, optionLines);
  } finally {
    out.push(...addressLines, ...optionLines);
  }
}

function parseInto(argv: string[], addressLines: string[], lines: string[]): NatOptions {
  const options: NatOptions = { binds: [], destinations: [] };
  const before: string[] = [];
  const after: string[] = [];
  let separator = false;
  let droppingMode = '';
  const cid = new Map<number, string>();
  for (let i = 0; i < argv.length; ++i) {
    const arg = argv[i]!;
    if (arg === '--') {
      separator = true;
    } else if (arg === '--cid' || arg.startsWith('--cid=')) {
      const value = arg === '--cid' ? argv[++i] : arg.slice('--cid='.length);
      if (value === undefined || value === '') throw new ArgError(`option '${arg}' needs <node-id>=<host:port>[,...]`);
      lines.push(parseCid(value, cid));
    } else if (arg.length > 1 && arg.startsWith('-')) {
      droppingMode = parseOption(arg, options, droppingMode, lines);
    } else {
      (separator ? after : before).push(arg);
    }
  }
  parseAddresses(options, before, after, separator, addressLines);
  if (cid.size > 0) options.cid = [...cid].map(([nodeId, destination]) => ({ nodeId, destination }));
  if (options.destinations.length === 0 && cid.size === 0) throw new ArgError('Missing destination!');
  return options;
}

function parseAddresses(options: NatOptions, before: string[], after: string[], separator: boolean, lines: string[]): void {
  if (before.length === 0) throw new ArgError('Missing local address!');
  if (before[0]!.startsWith(':')) {
    options.binds.push(checkAddress(before[0]!));
    lines.push(`in : ${before[0]} => <any>:${parseHostPort(before[0]!).port}`);
    after.unshift(...before.slice(1));
  } else {
    if (!separator) throw new ArgError('Missing destination!');
    for (const b of before) {
      options.binds.push(checkAddress(b, false));
      lines.push(`in : ${b} => ${b}`);
    }
  }
  for (const d of after) {
    options.destinations.push(checkAddress(d, false));
    lines.push(`out: ${d} => ${d}`);
  }
}

/** Checks the `host:port` syntax; `:port` only where `any` is allowed. */
function checkAddress(text: string, any = true): string {
  let host: string | undefined;
  try {
    host = parseHostPort(text).host;
  } catch (err) {
    throw new ArgError((err as Error).message);
  }
  if (host === undefined && !any) throw new ArgError(`${text}, <any>: not allowed here!`);
  return text;
}

/** Parses one option; returns the (possibly updated) dropping mode. */
function parseOption(arg: string, o: NatOptions, droppingMode: string, lines: string[]): string {
  const option = arg[1];
  if (arg === '-r') {
    o.reverse = true;
    lines.push('enable NAT reverse update.');
  } else if (arg === '-x') {
    o.dtlsFilter = true;
    lines.push('enable DTLS filter.');
  } else if (option === 'd' || option === 'f' || option === 'b') {
    if (droppingMode === 'd' || (option === 'd' && droppingMode !== '')) {
      lines.push('dropping already provided!');
      return droppingMode;
    }
    const value = percent(arg, numbers(arg, 2, 1)[0]!, 'Message dropping');
    if (option !== 'b') o.dropForward = value;
    if (option !== 'f') o.dropBackward = value;
    lines.push(
      option === 'd'
        ? `dropping ${value}% of messages.`
        : option === 'f'
          ? `dropping ${value}% of forward messages.`
          : `dropping ${value}% of backwards messages.`,
    );
    return option;
  } else if (option === 's') {
    const [size, p = 100] = numbers(arg, 2, 2);
    o.sizeLimit = size!;
    o.sizeLimitPercent = percent(arg, p, 'Message size limit');
    lines.push(`size limit ${size} bytes, ${p} %.`);
  } else if (option === 'n') {
    const [n] = numbers(arg, 2, 1);
    if (n! < 1) throw new ArgError(`${arg}: the maximum number of NAT entries must be at least 1`);
    o.maxEntries = n!;
    lines.push(`NAT max. entries ${n}.`);
  } else if (arg.startsWith('-tnat')) {
    o.natTimeoutMs = numbers(arg, 5, 1)[0]!;
    lines.push(`NAT timeout ${o.natTimeoutMs}[ms].`);
  } else if (arg.startsWith('-tlb')) {
    o.lbTimeoutMs = numbers(arg, 4, 1)[0]!;
    lines.push(`LoadBalancer timeout ${o.lbTimeoutMs}[ms].`);
  } else {
    lines.push(`option '${arg}' unknown!`);
  }
  return droppingMode;
}

/** Parses `<n>[:<m>...]` after `pos` (an optional `=` is skipped); at most `max` values. */
function numbers(arg: string, pos: number, max: number): number[] {
  const text = arg[pos] === '=' ? arg.slice(pos + 1) : arg.slice(pos);
  const parts = text.split(':');
  if (parts.length > max) throw new ArgError(`${arg}: too many values`);
  return parts.map((p, index) => {
    if (!/^\d{1,9}$/.test(p)) throw new ArgError(`${arg}[${index}]: invalid number '${p}'`);
    return Number(p);
  });
}

function percent(arg: string, value: number, what: string): number {
  if (value > 100) throw new ArgError(`${arg}: ${what} ${value}% out of range [0...100]!`);
  return value;
}

/** Parses a `--cid` value into `map`; returns the confirmation line. */
function parseCid(value: string, map: Map<number, string>): string {
  const shown: string[] = [];
  for (const part of value.split(',')) {
    const eq = part.indexOf('=');
    const id = eq < 0 ? '' : part.slice(0, eq).trim();
    const address = eq < 0 ? '' : part.slice(eq + 1).trim();
    if (!/^\d{1,3}$/.test(id) || Number(id) > 255) {
      throw new ArgError(`--cid: '${part}' is not <node-id>=<host:port> with a node-id 0..255`);
    }
    checkAddress(address, false);
    const nodeId = Number(id);
    const known = map.get(nodeId);
    if (known !== undefined && known !== address) {
      throw new ArgError(`--cid: node-id ${nodeId} mapped twice (${known} and ${address})`);
    }
    map.set(nodeId, address);
    shown.push(`node-id ${nodeId} => ${address}`);
  }
  return `CID load balancer: ${shown.join(', ')}.`;
}

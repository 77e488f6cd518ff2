// Console commands of the NAT (clients.md §7.4): parsing a line and the texts it prints.
import { literalEndpoint, parseHostPort, resolveHostPort, type Endpoint, type HostPort } from './address.js';
import type { Balancer, Destination } from './balancer.js';
import { formatCounters, type NatCounters } from './stats.js';

/** What the console needs from a running NAT. */
export interface NatControl {
  balancer: Balancer;
  entryCount(): number;
  isReverse(): boolean;
  setReverse(on: boolean): void;
  counters(): NatCounters;
  /** current time in ms */
  now(): number;
  /** drops up to `n` entries (all if undefined); returns how many */
  clear(n?: number): number;
  /** new outgoing socket for every entry; returns how many */
  reassign(): number;
  /** re-activates stale destinations and assigns every entry a random destination */
  rebalance(): { reassigned: number; entries: number };
  add(endpoint: Endpoint): boolean;
  remove(endpoint: Endpoint): boolean;
  /** starts stopping the NAT */
  exit(): void;
  /** endpoints resolved before, by `host:port` text */
  names: Map<string, Endpoint>;
}

/** Bound of the name cache of resolved `add`/`remove` arguments. */
const MAX_NAMES = 1024;

/** The `help` text. */
export const HELP_TEXT = [
  'help or ? - print this help',
  'info or <empty line> - list number of NAT entries and destinations',
  'exit or quit - stop and exit',
  'clear [n] - drop all NAT entries, or drop n NAT entries',
  'reassign - reassign incoming addresses',
  'rebalance - reassign outgoing addresses',
  'add <host:port> - add new destination to load balancer',
  'remove <host:port> - remove destination from load balancer',
  'reverse (on|off) - enable/disable reverse address updates.',
].join('\n');

/** Seconds since the destination's timestamp, -1 while nothing is pending. */
function lastUsage(d: Destination, now: number): number {
  return d.since < 0 ? -1 : Math.floor((now - d.since) / 1000);
}

/** The `info` text: the reference lines plus one statistics line. */
export function infoText(ctl: NatControl): string {
  const b = ctl.balancer;
  const now = ctl.now();
  const lines = [`${ctl.entryCount()} NAT entries, reverse address update ${ctl.isReverse() ? 'enabled.' : 'disabled.'}`];
  lines.push(b.stale.length === 0 ? `${b.active.length} destinations.` : `${b.active.length} destinations, ${b.stale.length} stale destinations.`);
  for (const d of b.active) lines.push(`Destination: ${d.name}, usage: ${d.usage}`);
  const states: Array<[string, Destination[]]> = [
    ['Stale      : ', b.stale],
    ['Probing    : ', b.probing],
    ['Pending    : ', b.pending],
  ];
  for (const [title, list] of states) {
    for (const d of list) lines.push(`${title}${d.name}, usage: ${d.usage}, last usage: ${lastUsage(d, now)}[s] ${d.state}`);
  }
  lines.push(formatCounters(ctl.counters()));
  return lines.join('\n');
}

/** Argument of `add`/`remove`, or an error text. */
function commandAddress(ctl: NatControl, text: string): Endpoint | HostPort | string {
  let hp: HostPort;
  try {
    hp = parseHostPort(text);
  } catch (err) {
    return (err as Error).message;
  }
  if (hp.host === undefined) return `Address: ${text}, <any>: not allowed!`;
  return literalEndpoint(hp) ?? ctl.names.get(text) ?? hp;
}

function isEndpoint(x: Endpoint | HostPort | string): x is Endpoint {
  return typeof x === 'object' && 'key' in x;
}

/** Runs one console line and returns its output ('' for none); host names must be resolved before (see runCommandAsync). */
export function runCommand(ctl: NatControl, raw: string): string {
  const line = raw.trim();
  if (line === 'exit' || line === 'quit') {
    ctl.exit();
    return `>> ${line}`;
  }
  if (line === 'help' || line === '?') return HELP_TEXT;
  if (line === '' || line === 'info') return infoText(ctl);
  if (line === 'clear') return `${ctl.clear()} - NAT entries dropped.`;
  if (line.startsWith('clear ')) {
    const n = line.slice(6).trim();
    if (!/^\d{1,9}$/.test(n)) return `clear: '${n}' is not a number`;
    return `${ctl.clear(Number(n))} - NAT entries dropped.`;
  }
  if (line === 'reassign') {
    ctl.reassign();
    return '';
  }
  if (line === 'rebalance') {
    const r = ctl.rebalance();
    return `reassigned ${r.reassigned} destinations of ${r.entries}.`;
  }
  if (line.startsWith('add ') || line.startsWith('remove ')) {
    const add = line.startsWith('add ');
    const text = line.slice(add ? 4 : 7).trim();
    const target = commandAddress(ctl, text);
    if (typeof target === 'string') return target;
    if (!isEndpoint(target)) return `Address: ${text} is a host name, resolve it first (runCommandAsync)!`;
    if (add) return ctl.add(target) ? `${target.name} added` : '';
    return ctl.remove(target) ? `${target.name} removed` : '';
  }
  if (line === 'reverse on' || line === 'reverse off') {
    ctl.setReverse(line === 'reverse on');
    return infoText(ctl);
  }
  return `unknown command '${line}', use help or ?`;
}

/** Like runCommand, but first resolves the host name of `add`/`remove`. */
export async function runCommandAsync(ctl: NatControl, raw: string): Promise<string> {
  const line = raw.trim();
  const add = line.startsWith('add ');
  if (add || line.startsWith('remove ')) {
    const text = line.slice(add ? 4 : 7).trim();
    const target = commandAddress(ctl, text);
    if (typeof target === 'object' && !isEndpoint(target)) {
      try {
        const endpoint = await resolveHostPort(target);
        if (ctl.names.size >= MAX_NAMES) ctl.names.clear();
        ctl.names.set(text, endpoint);
      } catch (err) {
        return (err as Error).message;
      }
    }
  }
  return runCommand(ctl, line);
}

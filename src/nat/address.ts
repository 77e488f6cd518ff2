// Socket addresses of the NAT (clients.md §7.1): `host:port` parsing, resolution and the keys of the maps.
import dns from 'node:dns/promises';
import { isIP } from 'node:net';
import { parseAddress } from '../cli/address.js';

/** A resolved UDP endpoint with the name it was given by. */
export interface Endpoint {
  /** display name `host:port` as written (IPv6 in brackets) */
  name: string;
  /** numeric IP address, IPv6 in canonical compressed form */
  address: string;
  port: number;
  family: 4 | 6;
  /** map key `address|port` */
  key: string;
}

/** The map key of a numeric address and port. */
export function endpointKey(address: string, port: number): string {
  return `${address}|${port}`;
}

/** `host:port`, IPv6 hosts in brackets. */
export function formatHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** Canonical text of an IP literal (IPv6 compressed and lower case), so keys compare equal. */
export function normalizeIp(address: string): string {
  if (isIP(address) !== 6) return address;
  try {
    return new URL(`udp://[${address}]/`).hostname.slice(1, -1);
  } catch {
    return address.toLowerCase();
  }
}

/** Builds an endpoint from a numeric address. */
export function numericEndpoint(address: string, port: number, name?: string): Endpoint {
  const ip = normalizeIp(address);
  const family = isIP(ip) === 6 ? 6 : 4;
  return { name: name ?? formatHostPort(ip, port), address: ip, port, family, key: endpointKey(ip, port) };
}

/** Parsed but unresolved `host:port` (host undefined = wildcard `:port`). */
export interface HostPort {
  host?: string;
  port: number;
  /** the text as given */
  text: string;
}

/** Parses `host:port`, `[ipv6]:port` or `:port`; throws an Error with a reason. */
export function parseHostPort(text: string): HostPort {
  const parsed = parseAddress(text.trim());
  return parsed.host === undefined ? { port: parsed.port, text } : { host: parsed.host, port: parsed.port, text };
}

/** Resolves a host name or literal; rejects with `Address: <text> is unresolved!`. */
export async function resolveHostPort(hp: HostPort): Promise<Endpoint> {
  if (hp.host === undefined) throw new Error(`Address: ${hp.text}, <any>: not allowed!`);
  const name = formatHostPort(hp.host, hp.port);
  if (isIP(hp.host)) return numericEndpoint(hp.host, hp.port, name);
  try {
    const found = await dns.lookup(hp.host);
    return numericEndpoint(found.address, hp.port, name);
  } catch {
    throw new Error(`Address: ${hp.text} is unresolved!`);
  }
}

/** Resolves an IP literal synchronously; undefined for host names (they need `resolveHostPort`). */
export function literalEndpoint(hp: HostPort): Endpoint | undefined {
  if (hp.host === undefined || !isIP(hp.host)) return undefined;
  return numericEndpoint(hp.host, hp.port, formatHostPort(hp.host, hp.port));
}

// MTU of the bound interface (dtls.md §9): the interface carrying the bound address (wildcard binds: the
// smallest MTU of all interfaces), capped by DTLS.MAX_TRANSMISSION_UNIT_LIMIT, or the fixed
// DTLS.MAX_TRANSMISSION_UNIT. Linux exposes the MTU in /sys/class/net/<if>/mtu; elsewhere 1500 is assumed.
import { readFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';

/** MTU assumed when the interface MTU cannot be read. */
export const DEFAULT_MTU = 1500;

function interfaceMtu(name: string): number | undefined {
  try {
    const mtu = Number(readFileSync(`/sys/class/net/${name}/mtu`, 'utf8').trim());
    return Number.isInteger(mtu) && mtu > 0 ? mtu : undefined;
  } catch {
    return undefined;
  }
}

/** Effective MTU for a connector bound to `address`. */
export function detectMtu(address: string, fixed: number | undefined, limit: number): number {
  if (fixed !== undefined) return fixed;
  const bare = address.replace(/%.*$/, '');
  const wildcard = bare === '0.0.0.0' || bare === '::';
  let mtu: number | undefined;
  for (const [name, addrs] of Object.entries(networkInterfaces())) {
    if (!wildcard && !(addrs ?? []).some((a) => a.address === bare)) continue;
    const m = interfaceMtu(name);
    if (m !== undefined && (mtu === undefined || m < mtu)) mtu = m;
  }
  return Math.min(mtu ?? DEFAULT_MTU, limit);
}

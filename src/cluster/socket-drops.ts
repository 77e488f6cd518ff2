// OS receive drops of one UDP socket (Linux /proc/net/udp and /proc/net/udp6, column `drops`), for the
// `dropped internal udp` counter of the management socket (cluster.md §4.5).
import fs from 'node:fs';

/** Sums the drops of the sockets bound to `port` in the text of /proc/net/udp or /proc/net/udp6. */
export function parseSocketDrops(text: string, port: number): number {
  let drops = 0;
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  for (const line of text.split('\n')) {
    const cols = line.trim().split(/\s+/);
    // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode ref pointer drops
    if (cols.length < 13 || !cols[0]!.endsWith(':')) continue;
    const local = cols[1]!;
    if (local.slice(local.lastIndexOf(':') + 1) !== hexPort) continue;
    drops += Number(cols[12]) || 0;
  }
  return drops;
}

/** Current OS drop count of the UDP sockets on `port` (0 where /proc is not there). */
export function readSocketDrops(port: number): number {
  let drops = 0;
  for (const file of ['/proc/net/udp', '/proc/net/udp6']) {
    try {
      drops += parseSocketDrops(fs.readFileSync(file, 'utf8'), port);
    } catch {
      // not Linux, or no IPv6
    }
  }
  return drops;
}

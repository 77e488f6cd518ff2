// Datagram dropping of the NAT (-d, -f, -b, -s; clients.md §7.1).

/** True if a datagram is to be dropped with `percent` probability (0 never, 100 always). */
export function dropByChance(percent: number, random: () => number): boolean {
  if (percent <= 0) return false;
  if (percent >= 100) return true;
  return percent > Math.floor(random() * 100);
}

/** True if a forwarded datagram of `length` bytes exceeds the -s limit and is to be dropped. */
export function dropBySize(length: number, limit: number | undefined, percent: number, random: () => number): boolean {
  return limit !== undefined && length > limit && dropByChance(percent, random);
}

// The NAT entries by client address. A datagram's entry is found by its source port (an array slot) and address (a
// string compare along the few entries sharing that port), without building a key string per datagram; iteration is in
// insertion order (`clear <n>` drops the oldest entries first).
import type { NatEntry } from './entry.js';

/** Number of UDP ports. */
const PORTS = 65536;

/** NAT entries, at most one per client address and port. */
export class EntryTable {
  /** entries in insertion order */
  private order = new Set<NatEntry>();
  /** first entry by client port; more with that port follow along `samePort` */
  private readonly byPort: Array<NatEntry | undefined> = new Array<NatEntry | undefined>(PORTS).fill(undefined);

  get size(): number {
    return this.order.size;
  }

  /** The entry of a client address. */
  get(address: string, port: number): NatEntry | undefined {
    let e = this.byPort[port];
    while (e !== undefined && e.client !== address) e = e.samePort;
    return e;
  }

  /** Adds an entry (last in order); its client address has none. */
  add(entry: NatEntry): void {
    this.order.add(entry);
    this.link(entry);
  }

  /** Removes the entry; false if it is not (any more) in the table. */
  delete(entry: NatEntry): boolean {
    if (!this.order.delete(entry)) return false;
    this.unlink(entry);
    return true;
  }

  /** The entries, oldest first; deleting the current one while iterating is fine. */
  values(): IterableIterator<NatEntry> {
    return this.order.values();
  }

  /** Replaces every entry by `replace(entry)` (same client address), keeping the order; returns how many. */
  replaceAll(replace: (old: NatEntry) => NatEntry): number {
    const order = new Set<NatEntry>();
    for (const old of this.order) {
      const entry = replace(old);
      this.unlink(old);
      this.link(entry);
      order.add(entry);
    }
    this.order = order;
    return order.size;
  }

  private link(entry: NatEntry): void {
    entry.samePort = this.byPort[entry.clientPort];
    this.byPort[entry.clientPort] = entry;
  }

  private unlink(entry: NatEntry): void {
    const port = entry.clientPort;
    let e = this.byPort[port];
    if (e === entry) {
      this.byPort[port] = entry.samePort;
    } else {
      while (e !== undefined && e.samePort !== entry) e = e.samePort;
      if (e !== undefined) e.samePort = entry.samePort;
    }
    entry.samePort = undefined;
  }
}

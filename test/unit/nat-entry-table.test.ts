// The NAT entry table: lookup by client address and port, insertion order, replacing every entry in place.
import type dgram from 'node:dgram';
import { describe, expect, it } from 'vitest';
import { EntryTable } from '../../src/nat/entry-table.js';
import { createEntry, type NatEntry } from '../../src/nat/entry.js';

const listener = {} as dgram.Socket;
const entry = (address: string, port: number): NatEntry => createEntry(address, port, listener, 0);
const clients = (t: EntryTable): string[] => [...t.values()].map((e) => `${e.client}|${e.clientPort}`);

describe('NAT entry table', () => {
  it('finds entries by address and port, also when several addresses share a port', () => {
    const t = new EntryTable();
    const a = entry('127.0.0.1', 5000);
    const b = entry('127.0.0.2', 5000);
    const c = entry('::1', 5000);
    const d = entry('127.0.0.1', 5001);
    for (const e of [a, b, c, d]) t.add(e);
    expect(t.size).toBe(4);
    expect(t.get('127.0.0.1', 5000)).toBe(a);
    expect(t.get('127.0.0.2', 5000)).toBe(b);
    expect(t.get('::1', 5000)).toBe(c);
    expect(t.get('127.0.0.1', 5001)).toBe(d);
    expect(t.get('127.0.0.3', 5000)).toBeUndefined();
    expect(t.get('127.0.0.1', 5002)).toBeUndefined();
    // removing from the middle, the head and the end of a port's chain
    expect(t.delete(b)).toBe(true);
    expect(t.delete(b)).toBe(false);
    expect(t.get('127.0.0.2', 5000)).toBeUndefined();
    expect(t.get('127.0.0.1', 5000)).toBe(a);
    expect(t.get('::1', 5000)).toBe(c);
    expect(t.delete(c)).toBe(true);
    expect(t.get('127.0.0.1', 5000)).toBe(a);
    expect(t.delete(a)).toBe(true);
    expect(t.get('127.0.0.1', 5000)).toBeUndefined();
    expect(clients(t)).toEqual(['127.0.0.1|5001']);
  });

  it('iterates oldest first, also while deleting, and replaces every entry in place', () => {
    const t = new EntryTable();
    const all = [entry('127.0.0.1', 1), entry('127.0.0.1', 2), entry('127.0.0.2', 1), entry('127.0.0.1', 3)];
    for (const e of all) t.add(e);
    expect(clients(t)).toEqual(['127.0.0.1|1', '127.0.0.1|2', '127.0.0.2|1', '127.0.0.1|3']);
    const replaced: NatEntry[] = [];
    expect(
      t.replaceAll((old) => {
        const e = entry(old.client, old.clientPort);
        replaced.push(e);
        return e;
      }),
    ).toBe(4);
    expect([...t.values()]).toEqual(replaced);
    expect(t.get('127.0.0.2', 1)).toBe(replaced[2]);
    expect(t.get('127.0.0.1', 1)).toBe(replaced[0]);
    expect(t.delete(all[0]!)).toBe(false);
    let n = 0;
    for (const e of t.values()) {
      if (n++ >= 2) break;
      t.delete(e);
    }
    expect(clients(t)).toEqual(['127.0.0.2|1', '127.0.0.1|3']);
    expect(t.get('127.0.0.1', 1)).toBeUndefined();
    expect(t.get('127.0.0.2', 1)).toBe(replaced[2]);
  });
});

// /diagnose and the health log of a multi-worker server show one server (issue 13): the counter groups every
// worker reports are summed by tag and counter name (counts and gauges alike: connections of all workers are the
// server's connections). Groups and rows keep the order in which they first appear.
import type { CounterGroup, CounterRow } from '../resources/extended/diagnose.js';

/** Rows [key, cur, all] summed by key, in the order the keys first appear; the inputs are not changed. */
export function sumCounterRows(lists: readonly (readonly CounterRow[])[]): CounterRow[] {
  const sums = new Map<string, [cur: number, all: number]>();
  for (const rows of lists) {
    for (const [key, cur, all] of rows) {
      const sum = sums.get(key);
      if (sum === undefined) sums.set(key, [cur, all]);
      else {
        sum[0] += cur;
        sum[1] += all;
      }
    }
  }
  return [...sums].map(([key, [cur, all]]): CounterRow => [key, cur, all]);
}

/** The sum of the workers' counter groups (one list per worker); the inputs are not changed. */
export function sumCounterGroups(perWorker: readonly (readonly CounterGroup[])[]): CounterGroup[] {
  const byTag = new Map<string, CounterRow[][]>();
  for (const list of perWorker) {
    for (const g of list) {
      const lists = byTag.get(g.tag);
      if (lists === undefined) byTag.set(g.tag, [g.counters]);
      else lists.push(g.counters);
    }
  }
  return [...byTag].map(([tag, lists]) => ({ tag, counters: sumCounterRows(lists) }));
}

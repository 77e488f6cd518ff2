// /diagnose and the health log of a multi-worker server show one server (issue 13): the counter groups every
// worker reports are summed by tag and counter name (counts and gauges alike: connections of all workers are the
// server's connections). Groups and rows keep the order in which they first appear.
import type { CounterGroup, CounterRow } from '../resources/extended/diagnose.js';

/** The sum of the workers' counter groups (one list per worker); the inputs are not changed. */
export function sumCounterGroups(perWorker: readonly (readonly CounterGroup[])[]): CounterGroup[] {
  const groups = new Map<string, Map<string, [cur: number, all: number]>>();
  for (const list of perWorker) {
    for (const g of list) {
      let rows = groups.get(g.tag);
      if (rows === undefined) groups.set(g.tag, (rows = new Map()));
      for (const [key, cur, all] of g.counters) {
        const sum = rows.get(key);
        if (sum === undefined) rows.set(key, [cur, all]);
        else {
          sum[0] += cur;
          sum[1] += all;
        }
      }
    }
  }
  return [...groups].map(([tag, rows]) => ({ tag, counters: [...rows].map(([key, [cur, all]]): CounterRow => [key, cur, all]) }));
}

// Calls between the primary and a worker (issue 13): answered by the other side's handler, errors and timeouts
// reach the caller, a closed channel fails at once, a bad message crashes nobody.
import { describe, expect, it } from 'vitest';
import { createRpc } from '../../src/workers/rpc.js';
import type { IpcPort } from '../../src/workers/rpc.js';

/** Two linked ports (messages are copied through JSON as the IPC channel does); `open` false drops everything. */
function linkedPorts(): { a: IpcPort; b: IpcPort; link: { open: boolean } } {
  const link = { open: true };
  const handlers = { a: new Set<(m: unknown) => void>(), b: new Set<(m: unknown) => void>() };
  const port = (own: Set<(m: unknown) => void>, other: Set<(m: unknown) => void>): IpcPort => ({
    send(m) {
      if (!link.open) return false;
      const copy = JSON.parse(JSON.stringify(m)) as unknown;
      setImmediate(() => other.forEach((h) => h(copy)));
      return true;
    },
    onMessage(h) {
      own.add(h);
      return () => own.delete(h);
    },
  });
  return { a: port(handlers.a, handlers.b), b: port(handlers.b, handlers.a), link };
}

describe('worker rpc', () => {
  it('both sides call each other and get the value back', async () => {
    const { a, b } = linkedPorts();
    const primary = createRpc(a, { double: (x) => (x as number) * 2 });
    const worker = createRpc(b, { groups: async (name) => [[`tag:${String(name)}`, 1, 2]] });
    expect(await primary.call('groups', 'UDP:127.0.0.1:5783')).toEqual([['tag:UDP:127.0.0.1:5783', 1, 2]]);
    expect(await worker.call('double', 21)).toBe(42);
  });

  it("the other side's error, an unknown call and a missing answer reject the caller", async () => {
    const { a, b } = linkedPorts();
    const caller = createRpc(a, {});
    createRpc(b, {
      fail: () => {
        throw new Error('save failed: no connections');
      },
      never: () => new Promise(() => {}),
    });
    await expect(caller.call('fail')).rejects.toThrow('save failed: no connections');
    await expect(caller.call('nothing')).rejects.toThrow("unknown call 'nothing'");
    await expect(caller.call('never', undefined, 50)).rejects.toThrow("no answer to 'never' in 50 ms");
  });

  it('a closed channel fails the call at once; close() fails what is pending', async () => {
    const { a, b, link } = linkedPorts();
    const caller = createRpc(a, {});
    createRpc(b, { slow: () => new Promise((r) => setTimeout(() => r(1), 200)) });
    const pending = caller.call('slow');
    caller.close();
    await expect(pending).rejects.toThrow('channel closed');
    link.open = false;
    await expect(createRpc(a, {}).call('slow')).rejects.toThrow("cannot call 'slow': channel closed");
  });

  it('beyond the bound of unanswered calls a call fails at once', async () => {
    const { a, b } = linkedPorts();
    const caller = createRpc(a, {}, 5000, 2);
    createRpc(b, { slow: () => new Promise((r) => setTimeout(() => r('late'), 50)) });
    const first = [caller.call('slow'), caller.call('slow')];
    await expect(caller.call('slow')).rejects.toThrow("cannot call 'slow': 2 calls unanswered");
    expect(await Promise.all(first)).toEqual(['late', 'late']);
    expect(await caller.call('slow')).toBe('late');
  });

  it('messages that are not calls are ignored', async () => {
    const { a, b } = linkedPorts();
    const seen: unknown[] = [];
    b.onMessage((m) => seen.push(m));
    createRpc(b, { ok: () => 'ok' });
    for (const m of [null, 7, { type: 'rpc' }, { type: 'rpc', id: 'x', what: 'ok' }, { type: 'rpc.reply', id: 99 }]) a.send(m);
    await new Promise((r) => setTimeout(r, 10));
    expect(seen).toHaveLength(5);
    expect(await createRpc(a, {}).call('ok')).toBe('ok');
  });
});

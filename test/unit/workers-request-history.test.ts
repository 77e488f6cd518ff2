// `/requests` histories kept in the primary of a multi-worker server (issue 13): two workers' `/requests` record
// through IPC-like channels (JSON round trip, delivered on a later turn) into one store, so a device that reaches
// both sees one history; the answer equals the single-process one; no answer in time, a closed channel or too
// many pending records give 5.03, not a hang.
import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { Code, Format } from '../../src/coap/message.js';
import { addChild, createResource, type Resource } from '../../src/coap/resource.js';
import { createLocalRequestHistory, type RequestHistory } from '../../src/resources/extended/request-history.js';
import { createRequestsResource } from '../../src/resources/extended/requests.js';
import { remoteRequestHistory, requestHistoryHandlers } from '../../src/workers/request-history-channel.js';
import { createRpc, type IpcPort } from '../../src/workers/rpc.js';
import { dispatch, text, type FakeExchange } from '../helpers/fake-exchange.js';

const START = 1_512_577_466_765;
const NOW = 1_700_000_000_000;

/** Both ends of one channel; messages go through JSON as over a child process' IPC, on a later turn. */
function channel(): { primary: IpcPort & { open: boolean }; worker: IpcPort & { open: boolean } } {
  const a = new EventEmitter();
  const b = new EventEmitter();
  const end = (self: EventEmitter, other: EventEmitter) => {
    const port = {
      open: true,
      send(m: unknown) {
        if (!port.open) return false;
        const copy = JSON.parse(JSON.stringify(m)) as unknown;
        setImmediate(() => other.emit('message', copy));
        return true;
      },
      onMessage(h: (m: unknown) => void) {
        self.on('message', h);
        return () => self.off('message', h);
      },
    };
    return port;
  };
  return { primary: end(a, b), worker: end(b, a) };
}

/** The primary end of a channel answering from `store`. */
function serve(port: IpcPort, store: ReturnType<typeof createLocalRequestHistory>): void {
  createRpc(port, requestHistoryHandlers(store));
}

/** A worker's history over its end of a channel (a call channel with `maxPending` unanswered calls at most). */
function remote(port: IpcPort, timeoutMs?: number, maxPending?: number): RequestHistory {
  return remoteRequestHistory(createRpc(port, {}, 5000, maxPending), timeoutMs);
}

function worker(history: RequestHistory): Resource {
  const root = createResource('');
  addChild(root, createRequestsResource({ now: () => NOW, systemStart: START, history }).resource);
  return root;
}

async function answered(ex: FakeExchange): Promise<void> {
  const end = Date.now() + 3000;
  while (ex.responses.length === 0 && Date.now() < end) await new Promise((r) => setImmediate(r));
}

const post = (root: Resource, query: string[], accept?: number, context?: { address: string; port: number }) =>
  dispatch(root, { method: 'POST', path: '/requests', query, accept }, context ? { context } : {});

describe('/requests histories in the primary', () => {
  it('a device reaching two workers sees one history, as a single process would answer it', async () => {
    const store = createLocalRequestHistory(100, 24);
    const c1 = channel();
    const c2 = channel();
    serve(c1.primary, store);
    serve(c2.primary, store);
    const w1 = worker(remote(c1.worker));
    const w2 = worker(remote(c2.worker));
    const a = post(w1, ['dev=d1', 'rid=1', 'ep'], Format.JSON, { address: '10.0.0.7', port: 40163 });
    await answered(a);
    const b = post(w2, ['dev=d1', 'rid=2', 'ep'], Format.JSON, { address: '10.0.0.7', port: 40999 });
    await answered(b);
    expect(b.response.code).toBe(Code.CHANGED);
    const single = worker(createLocalRequestHistory(100, 24));
    post(single, ['dev=d1', 'rid=1', 'ep'], Format.JSON, { address: '10.0.0.7', port: 40163 });
    const expected = post(single, ['dev=d1', 'rid=2', 'ep'], Format.JSON, { address: '10.0.0.7', port: 40999 });
    expect(text(b.response)).toBe(text(expected.response));
    expect(text(b.response)).toContain('"rid":"1"');
    expect(store.deviceCount()).toBe(1);
    expect(store.history('d1')?.map((e) => e.rid)).toEqual(['2', '1']);
  });

  it('no answer in time, a closed channel and too many pending records: 5.03', async () => {
    const silent = channel(); // nobody serves the primary end
    const slow = worker(remote(silent.worker, 50));
    const late = post(slow, ['dev=d', 'rid=1']);
    expect(late.responses).toHaveLength(0);
    await new Promise((r) => setTimeout(r, 80));
    expect(late.response).toEqual({ code: Code.SERVICE_UNAVAILABLE, payload: 'request history not available!', format: Format.TEXT });

    const closed = channel();
    closed.worker.open = false;
    const c = post(worker(remote(closed.worker)), ['dev=d', 'rid=1']);
    await answered(c);
    expect(c.response.code).toBe(Code.SERVICE_UNAVAILABLE);

    const busy = worker(remote(channel().worker, 1000, 2));
    const first = [post(busy, ['dev=d', 'rid=1']), post(busy, ['dev=d', 'rid=2'])];
    const third = post(busy, ['dev=d', 'rid=3']);
    await answered(third);
    expect(third.response.code).toBe(Code.SERVICE_UNAVAILABLE);
    expect(first.every((ex) => ex.responses.length === 0)).toBe(true);
  });

  it('the primary refuses malformed records and records nothing of them', async () => {
    const store = createLocalRequestHistory(10, 24);
    const c = channel();
    serve(c.primary, store);
    const caller = createRpc(c.worker, {});
    for (const arg of [null, 7, 'x', {}, { dev: 'd' }, { dev: 'd', entry: { rid: 5, time: 1 } }, { dev: 'd', entry: { rid: '5', time: 1, ip: [300] } }]) {
      await expect(caller.call('requests.record', arg)).rejects.toThrow('malformed request history record');
    }
    for (const m of [null, 7, 'x', { type: 'rpc' }]) c.worker.send(m);
    await new Promise((r) => setTimeout(r, 20));
    expect(store.deviceCount()).toBe(0);
    // a well-formed record is answered with the device's history
    expect(await caller.call('requests.record', { dev: 'd', entry: { rid: '1', time: NOW } })).toEqual([{ rid: '1', time: NOW }]);
  });
});

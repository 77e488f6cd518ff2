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
import { remoteRequestHistory, serveRequestHistory, type IpcPort } from '../../src/workers/request-history-channel.js';
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
    serveRequestHistory(c1.primary, store);
    serveRequestHistory(c2.primary, store);
    const w1 = worker(remoteRequestHistory(c1.worker));
    const w2 = worker(remoteRequestHistory(c2.worker));
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
    const slow = worker(remoteRequestHistory(silent.worker, 50));
    const late = post(slow, ['dev=d', 'rid=1']);
    expect(late.responses).toHaveLength(0);
    await new Promise((r) => setTimeout(r, 80));
    expect(late.response).toEqual({ code: Code.SERVICE_UNAVAILABLE, payload: 'request history not available!', format: Format.TEXT });

    const closed = channel();
    closed.worker.open = false;
    const c = post(worker(remoteRequestHistory(closed.worker)), ['dev=d', 'rid=1']);
    await answered(c);
    expect(c.response.code).toBe(Code.SERVICE_UNAVAILABLE);

    const busy = worker(remoteRequestHistory(channel().worker, 1000, 2));
    const first = [post(busy, ['dev=d', 'rid=1']), post(busy, ['dev=d', 'rid=2'])];
    const third = post(busy, ['dev=d', 'rid=3']);
    await answered(third);
    expect(third.response.code).toBe(Code.SERVICE_UNAVAILABLE);
    expect(first.every((ex) => ex.responses.length === 0)).toBe(true);
  });

  it('the primary ignores malformed messages', async () => {
    const store = createLocalRequestHistory(10, 24);
    const c = channel();
    serveRequestHistory(c.primary, store);
    for (const m of [null, 7, 'x', { type: 'requests.record' }, { type: 'requests.record', id: 1, dev: 'd', entry: { rid: 5, time: 1 } }]) c.worker.send(m);
    await new Promise((r) => setTimeout(r, 20));
    expect(store.deviceCount()).toBe(0);
  });
});

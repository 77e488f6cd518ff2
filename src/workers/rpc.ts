// Calls between the primary and a worker over their IPC channel (issue 13): the counters /diagnose sums, the
// health log's collection, the console's save and load, the /requests histories. Either side may call the other:
//   { type: 'rpc', id, what, arg }   answered by   { type: 'rpc.reply', id, value } or { type: 'rpc.reply', id, error }
// A call unanswered in time fails; a handler's exception becomes the caller's error (never the answerer's crash).

/** The message side of one IPC channel (a forked worker as the primary sees it, or the primary as a worker sees it). */
export interface IpcPort {
  /** false when the channel is closed */
  send(message: unknown): boolean;
  /** subscribes to the channel's messages; returns the unsubscribe function */
  onMessage(handler: (message: unknown) => void): () => void;
}

/** The handlers one side answers: `what` → a value (or a promise of one), sent back as JSON. */
export type RpcHandlers = Record<string, (arg: unknown) => unknown>;

/** One side of a call channel. */
export interface Rpc {
  /** calls `what` on the other side; rejects on timeout, a closed channel or the other side's error */
  call(what: string, arg?: unknown, timeoutMs?: number): Promise<unknown>;
  /** stops answering and fails the calls still pending */
  close(): void;
}

interface CallMessage {
  type: 'rpc';
  id: number;
  what: string;
  arg?: unknown;
}

interface ReplyMessage {
  type: 'rpc.reply';
  id: number;
  value?: unknown;
  error?: string;
}

function isCall(m: unknown): m is CallMessage {
  const c = m as Partial<CallMessage> | null;
  return typeof m === 'object' && c !== null && c.type === 'rpc' && typeof c.id === 'number' && typeof c.what === 'string';
}

function isReply(m: unknown): m is ReplyMessage {
  const r = m as Partial<ReplyMessage> | null;
  return typeof m === 'object' && r !== null && r.type === 'rpc.reply' && typeof r.id === 'number';
}

/**
 * Answers the other side's calls from `handlers` and makes calls to it (default timeout `timeoutMs`); beyond
 * `maxPending` unanswered calls a call fails at once (a flood of /diagnose requests cannot pile them up).
 */
export function createRpc(port: IpcPort, handlers: RpcHandlers, timeoutMs = 5000, maxPending = 1024): Rpc {
  let nextId = 1;
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (err: Error) => void; timer: NodeJS.Timeout }>();
  const answer = (id: number, reply: Omit<ReplyMessage, 'type' | 'id'>): void => {
    port.send({ type: 'rpc.reply', id, ...reply });
  };
  const unsubscribe = port.onMessage((m) => {
    if (isReply(m)) {
      const p = pending.get(m.id);
      if (p === undefined) return; // timed out already
      pending.delete(m.id);
      clearTimeout(p.timer);
      if (m.error !== undefined) p.reject(new Error(m.error));
      else p.resolve(m.value);
      return;
    }
    if (!isCall(m)) return;
    const handler = Object.hasOwn(handlers, m.what) ? handlers[m.what] : undefined;
    if (handler === undefined) {
      answer(m.id, { error: `unknown call '${m.what}'` });
      return;
    }
    Promise.resolve()
      .then(() => handler(m.arg))
      .then(
        (value) => answer(m.id, { value }),
        (err: unknown) => answer(m.id, { error: err instanceof Error ? err.message : String(err) }),
      );
  });
  return {
    call(what, arg, timeout = timeoutMs) {
      if (pending.size >= maxPending) return Promise.reject(new Error(`cannot call '${what}': ${maxPending} calls unanswered`));
      const id = nextId++;
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          pending.delete(id);
          reject(new Error(`no answer to '${what}' in ${timeout} ms`));
        }, timeout);
        pending.set(id, { resolve, reject, timer });
        const message: CallMessage = { type: 'rpc', id, what, ...(arg !== undefined ? { arg } : {}) };
        if (!port.send(message)) {
          pending.delete(id);
          clearTimeout(timer);
          reject(new Error(`cannot call '${what}': channel closed`));
        }
      });
    },
    close() {
      unsubscribe();
      for (const p of pending.values()) {
        clearTimeout(p.timer);
        p.reject(new Error('channel closed'));
      }
      pending.clear();
    },
  };
}

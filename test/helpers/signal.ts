// Waiting in test peers: sleep until the next received message signals, or until a time limit; wait for a logged
// message (the raw UDP peer, the raw RFC 8323 peer and the DTLS test client keep the same kind of log).
import type { CoapMessage } from '../../src/coap/message.js';
import { Opt, TYPE_NAMES, codeText } from '../../src/coap/message.js';
import { getUint } from '../../src/coap/options.js';

/** Resolves when one of `waiters` is called (a datagram arrived) or after `ms`, whichever comes first. */
export function nextSignal(waiters: Array<() => void>, ms: number): Promise<void> {
  return new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    waiters.push(() => {
      clearTimeout(t);
      resolve();
    });
  });
}

/** Short text of a message for failure output. */
export function describe(m: CoapMessage): string {
  const obs = getUint(m, Opt.OBSERVE);
  return `${TYPE_NAMES[m.type]} ${codeText(m.code)} mid=${m.mid} tok=${m.token.toString('hex')}${obs !== undefined ? ` obs=${obs}` : ''} len=${m.payload.length}`;
}

/**
 * The first entry of `log` at index ≥ `from` whose message matches `pred`, re-checked whenever `waiters` signal.
 * `stop` may name a reason to give up at once (connection closed, a send error); on that or after `ms` it throws,
 * listing the messages received since `from`.
 */
export async function waitInLog<R extends { msg: CoapMessage }>(
  log: readonly R[],
  waiters: Array<() => void>,
  pred: (m: CoapMessage, r: R) => boolean,
  ms: number,
  from: number,
  what: string,
  stop: () => string | undefined = () => undefined,
): Promise<R> {
  const deadline = Date.now() + ms;
  for (;;) {
    for (let i = from; i < log.length; i++) if (pred(log[i]!.msg, log[i]!)) return log[i]!;
    const stopped = stop();
    const left = deadline - Date.now();
    if (stopped !== undefined || left <= 0) {
      throw new Error(`${stopped ?? `timeout (${ms} ms)`} waiting for ${what}; received: ${log.slice(from).map((r) => describe(r.msg)).join(' | ')}`);
    }
    await nextSignal(waiters, left);
  }
}

/** Waits until `cond()` holds, re-checked whenever `waiters` signal; throws after `ms`. */
export async function waitUntilSignalled(waiters: Array<() => void>, cond: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    const left = deadline - Date.now();
    if (left <= 0) throw new Error(`timeout (${ms} ms) waiting for ${what}`);
    await nextSignal(waiters, left);
  }
}

/** The messages of `log` at index ≥ `from` matching `pred`. */
export function messagesSince(log: ReadonlyArray<{ msg: CoapMessage }>, from: number, pred: (m: CoapMessage) => boolean = () => true): CoapMessage[] {
  return log.slice(from).map((r) => r.msg).filter(pred);
}

/** The 4-byte token a test peer's token counter stands for. */
export function counterToken(counter: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(counter >>> 0);
  return b;
}

// Waiting in test peers: sleep until the next received datagram signals, or until a time limit.

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

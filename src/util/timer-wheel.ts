// A hashed timer wheel: O(1) schedule and cancel, one Node timer for all entries.

/** A scheduled callback; cancel() makes it a no-op. */
export interface TimerHandle {
  cancel(): void;
}

class Entry implements TimerHandle {
  deadline: number;
  fn: (() => void) | undefined;
  /** the slot holding this entry (undefined once run or cancelled) and its index there */
  slot: Entry[] | undefined;
  index = 0;
  private readonly wheel: TimerWheel;
  constructor(wheel: TimerWheel, deadline: number, fn: () => void) {
    this.wheel = wheel;
    this.deadline = deadline;
    this.fn = fn;
  }
  cancel(): void {
    this.fn = undefined;
    const slot = this.slot;
    if (slot === undefined) return;
    // O(1) removal: the last entry of the slot takes this one's place, so nothing is retained until the slot runs
    const last = slot.pop()!;
    if (last !== this) {
      slot[this.index] = last;
      last.index = this.index;
    }
    this.slot = undefined;
    this.wheel.removed();
  }
}

/** Runs callbacks at (or shortly after) their deadline, with `resolution` ms granularity. */
export class TimerWheel {
  private readonly slots: Entry[][];
  private readonly resolution: number;
  private cursor: number;
  private count = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly now: () => number;

  constructor(resolution = 10, slots = 1024, now: () => number = Date.now) {
    this.resolution = resolution;
    this.slots = Array.from({ length: slots }, () => []);
    this.now = now;
    this.cursor = Math.floor(now() / resolution);
  }

  /** Calls fn after `delay` ms; returns a handle to cancel it. */
  schedule(delay: number, fn: () => void): TimerHandle {
    const deadline = this.now() + Math.max(0, delay);
    const entry = new Entry(this, deadline, fn);
    let tick = Math.ceil(deadline / this.resolution);
    if (tick <= this.cursor) tick = this.cursor + 1;
    const slot = this.slots[tick % this.slots.length]!;
    entry.slot = slot;
    entry.index = slot.length;
    slot.push(entry);
    this.count++;
    if (!this.timer) {
      this.cursor = Math.floor(this.now() / this.resolution);
      this.timer = setInterval(() => this.advance(), this.resolution);
      this.timer.unref();
    }
    return entry;
  }

  /** Number of scheduled entries. */
  get size(): number {
    return this.count;
  }

  /** Bookkeeping of a cancelled entry (called by the entry). */
  removed(): void {
    this.count--;
  }

  /** Stops the wheel and drops every entry. */
  clear(): void {
    for (const s of this.slots) {
      for (const e of s) e.slot = undefined;
      s.length = 0;
    }
    this.count = 0;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private advance(): void {
    const target = Math.floor(this.now() / this.resolution);
    const n = this.slots.length;
    // visit each slot at most once per advance, even after a long stall
    const steps = Math.min(target - this.cursor, n);
    for (let i = 0; i < steps; i++) {
      this.cursor++;
      this.runSlot(this.cursor % n);
    }
    if (target > this.cursor) this.cursor = target;
    if (this.count === 0 && this.timer) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }

  private runSlot(index: number): void {
    const slot = this.slots[index]!;
    if (slot.length === 0) return;
    const now = this.now();
    let keep = 0;
    const due: Entry[] = [];
    for (let i = 0; i < slot.length; i++) {
      const e = slot[i]!;
      if (e.deadline <= now + this.resolution) {
        due.push(e);
        e.slot = undefined;
        this.count--;
      } else {
        slot[keep] = e;
        e.index = keep++;
      }
    }
    slot.length = keep;
    for (const e of due) {
      const fn = e.fn;
      e.fn = undefined;
      if (fn) {
        try { fn(); } catch { /* callbacks must not break the wheel */ }
      }
    }
  }
}

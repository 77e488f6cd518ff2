// Per-source fair queue in front of a datagram handler (plain CoAP flood defence, issue 10). Without a
// backlog every datagram is handed on at once (one counter per datagram, one setImmediate per event-loop
// turn). When one turn delivers a full read batch of the socket (libuv reads up to 32 datagrams per
// readiness, so a full batch means more are waiting), the queue engages: datagrams are queued per source
// (address:port, bounded per source and in total; what does not fit is dropped, counted) and handed on
// round-robin over the sources, `batch` per turn, so that reading the socket stays fast (the kernel does
// not drop indiscriminately) and a few flooding sources cannot starve the others. It disengages when the
// queue is empty and a turn no longer fills a read batch; an episode (engagements until the queue stayed
// disengaged for 2 s) is logged once when it starts and once when it ends.
import type { Logger } from 'pino';

/** Datagrams per libuv read of a socket (uv__udp_io reads at most 32 before returning to the loop). */
export const READ_BATCH = 32;

/** An episode (logged once) ends after the queue stayed disengaged this long (ms). */
export const QUIET_MS = 2000;

/** Limits of a fair queue. */
export interface FairQueueOptions {
  /** datagrams handed on per event-loop turn while engaged (0: never engage) */
  batch: number;
  /** datagrams queued per source */
  sourceCapacity: number;
  /** datagrams queued in total (bounds the number of sources too) */
  capacity: number;
  /** datagrams per turn that engage the queue (default READ_BATCH) */
  engageAt?: number;
}

/** Receives one datagram. */
export type DeliverFn = (data: Buffer, address: string, port: number) => void;

/** One source's queued datagrams (its address and port are those of every datagram in it). */
interface Source {
  readonly key: string;
  readonly address: string;
  readonly port: number;
  readonly queue: Buffer[];
}

/** Counters of a fair queue (the connector's transportStats). */
export type FairQueueStats = {
  /** episodes in which the queue engaged */
  'fair queue episodes': number;
  /** datagrams that went through the queue */
  'fair queue delivered': number;
  /** datagrams dropped: their source's queue (or the whole queue) was full */
  'fair queue dropped': number;
  /** datagrams waiting now */
  'fair queue pending': number;
  /** sources with datagrams waiting now */
  'fair queue sources': number;
};

/** A fair queue in front of `deliver`; `offer` every received datagram. */
export class FairQueue {
  /** counters (numeric fields only: printed generically by /diagnose and the health log) */
  readonly stats: FairQueueStats = {
    'fair queue episodes': 0,
    'fair queue delivered': 0,
    'fair queue dropped': 0,
    'fair queue pending': 0,
    'fair queue sources': 0,
  };
  private readonly batch: number;
  private readonly sourceCapacity: number;
  private readonly capacity: number;
  private readonly engageAt: number;
  private readonly deliver: DeliverFn;
  private readonly logger: Logger | undefined;
  private readonly name: string;
  /** datagrams offered since the last check phase */
  private inTurn = 0;
  private turnScheduled = false;
  private engaged = false;
  private readonly sources = new Map<string, Source>();
  /** sources with queued datagrams, served round-robin from `cursor` */
  private readonly active: Source[] = [];
  private cursor = 0;
  private queued = 0;
  /** a logged episode: from the first engagement until the queue stayed disengaged for QUIET_MS */
  private episode = false;
  private episodeStart = 0;
  private episodeDelivered = 0;
  private episodeDropped = 0;
  private quietTimer: NodeJS.Timeout | undefined;
  private readonly onTurn = (): void => this.turn();
  private readonly onQuiet = (): void => this.endEpisode();

  constructor(opts: FairQueueOptions, deliver: DeliverFn, logger?: Logger, name = 'udp') {
    this.batch = opts.batch;
    this.sourceCapacity = Math.max(1, opts.sourceCapacity);
    this.capacity = Math.max(1, opts.capacity);
    this.engageAt = opts.engageAt ?? READ_BATCH;
    this.deliver = deliver;
    this.logger = logger;
    this.name = name;
  }

  /** True while datagrams are queued per source. */
  get isEngaged(): boolean {
    return this.engaged;
  }

  /** One received datagram: handed on at once, or queued while engaged. */
  offer(data: Buffer, address: string, port: number): void {
    if (this.batch === 0) {
      this.deliver(data, address, port);
      return;
    }
    if (!this.turnScheduled) {
      this.turnScheduled = true;
      setImmediate(this.onTurn);
    }
    if (!this.engaged) {
      if (++this.inTurn < this.engageAt) {
        this.deliver(data, address, port);
        return;
      }
      this.engage();
    } else {
      this.inTurn++;
    }
    this.enqueue(data, address, port);
  }

  /** Drops what is queued (the socket stopped); ends a logged episode. */
  clear(): void {
    for (const src of this.active) src.queue.length = 0;
    this.active.length = 0;
    this.sources.clear();
    this.queued = 0;
    this.cursor = 0;
    this.stats['fair queue pending'] = 0;
    this.stats['fair queue sources'] = 0;
    if (this.engaged) this.disengage();
    if (this.quietTimer !== undefined) clearTimeout(this.quietTimer);
    this.endEpisode();
  }

  private engage(): void {
    this.engaged = true;
    if (this.quietTimer !== undefined) {
      clearTimeout(this.quietTimer);
      this.quietTimer = undefined;
    }
    if (this.episode) return;
    this.episode = true;
    this.stats['fair queue episodes']++;
    this.episodeStart = Date.now();
    this.episodeDelivered = this.stats['fair queue delivered'];
    this.episodeDropped = this.stats['fair queue dropped'];
    this.logger?.warn(
      `${this.name}: receive backlog (${this.engageAt} datagrams in one turn): per-source fair queue engaged (${this.batch} datagrams per turn, ${this.sourceCapacity} per source, ${this.capacity} in total; UDP.FAIR_QUEUE_*)`,
    );
  }

  private disengage(): void {
    this.engaged = false;
    if (this.quietTimer === undefined && this.episode) {
      this.quietTimer = setTimeout(this.onQuiet, QUIET_MS);
      this.quietTimer.unref();
    }
  }

  /** The queue stayed disengaged for QUIET_MS: the episode ends (logged once). */
  private endEpisode(): void {
    this.quietTimer = undefined;
    if (!this.episode || this.engaged) return;
    this.episode = false;
    const delivered = this.stats['fair queue delivered'] - this.episodeDelivered;
    const dropped = this.stats['fair queue dropped'] - this.episodeDropped;
    this.logger?.info(`${this.name}: receive backlog gone (${((Date.now() - this.episodeStart) / 1000).toFixed(1)} s episode): fair queue delivered ${delivered}, dropped ${dropped}`);
  }

  private enqueue(data: Buffer, address: string, port: number): void {
    const key = address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
    let src = this.sources.get(key);
    if (src === undefined) {
      if (this.queued >= this.capacity) {
        this.stats['fair queue dropped']++;
        return;
      }
      src = { key, address, port, queue: [] };
      this.sources.set(key, src);
      this.active.push(src);
    } else if (src.queue.length >= this.sourceCapacity || this.queued >= this.capacity) {
      this.stats['fair queue dropped']++;
      return;
    }
    src.queue.push(data);
    this.queued++;
  }

  /** The check phase after a poll: serve `batch` datagrams round-robin, disengage when idle. */
  private turn(): void {
    this.turnScheduled = false;
    const readInTurn = this.inTurn;
    this.inTurn = 0;
    if (!this.engaged) return;
    let budget = this.batch;
    const active = this.active;
    while (budget > 0 && active.length > 0) {
      if (this.cursor >= active.length) this.cursor = 0;
      const src = active[this.cursor]!;
      const data = src.queue.shift()!;
      this.queued--;
      budget--;
      if (src.queue.length === 0) {
        active.splice(this.cursor, 1);
        this.sources.delete(src.key);
      } else {
        this.cursor++;
      }
      this.stats['fair queue delivered']++;
      this.deliver(data, src.address, src.port);
    }
    this.stats['fair queue pending'] = this.queued;
    this.stats['fair queue sources'] = active.length;
    if (active.length > 0) {
      // more to serve: come back after the next poll even if nothing arrives
      if (!this.turnScheduled) {
        this.turnScheduled = true;
        setImmediate(this.onTurn);
      }
      return;
    }
    if (readInTurn < this.engageAt) this.disengage();
    else if (!this.turnScheduled) {
      // the last turn still filled a read batch: look again after the next poll
      this.turnScheduled = true;
      setImmediate(this.onTurn);
    }
  }
}

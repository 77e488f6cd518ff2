// The store file of a multi-worker server (issue 13, restart.md §3): one file holds every worker's connections. At
// shutdown the primary gathers each worker's plain components stream (restart/stream.ts) and merges the components
// of the same label (the workers share their public addresses, so each label appears once per worker). At start-up
// it splits the file: a connection of the workers' labels goes to the worker whose index is in the CID it issued
// (byte 0, its node-id; byte 1 in a static cluster, whose byte 0 is the cluster node's), the worker that receives
// the client's records by CID. A connection without a CID goes to worker 0 (the kernel picks the worker by the
// client's address, which cannot be known here: such a client may need a new handshake); one whose CID names no
// current worker is left out; the other components (the primary's plugtest endpoints) stay with the primary.
import type { Logger } from 'pino';
import type { Connection } from '../dtls/connection.js';
import type { DtlsConnector } from '../dtls/connector.js';
import { loadStream, saveStream, WILDCARD_LABEL, type LoadOutcome, type SavedState } from '../restart/persist.js';
import { readStoreFile, saveStoreStream, type StoreFileOptions } from '../restart/store-file.js';
import { readStream, writeStream, type Component } from '../restart/stream.js';

/** Reads a plain stream into its components; throws the parse error. */
function componentsOf(plain: Buffer): Component[] {
  const out: Component[] = [];
  const result = readStream(plain, (c) => out.push(c));
  if (result.error !== undefined) throw new Error(`store file: ${result.error.where}: ${result.error.message}`);
  return out;
}

/** One stream with the components of all `streams`, those of the same label merged (in first-seen order). */
export function mergeStreams(streams: readonly Buffer[], onSkip?: (label: string, err: Error) => void): Buffer {
  const byLabel = new Map<string, Connection[]>();
  for (const s of streams) {
    for (const c of componentsOf(s)) {
      const list = byLabel.get(c.label);
      if (list === undefined) byLabel.set(c.label, [...c.connections]);
      else list.push(...c.connections);
    }
  }
  return writeStream([...byLabel].map(([label, connections]) => ({ label, connections })), undefined, onSkip);
}

/** A stream split for the workers: one stream per worker, the primary's own rest, and what could not be placed well. */
export interface SplitStream {
  workers: Buffer[];
  primary: Buffer;
  /** connections without a CID (given to worker 0) */
  withoutCid: number;
  /** connections whose CID names no current worker (left out) */
  unroutable: number;
}

/** Splits a plain stream: the components of the workers' endpoints (`isWorkerLabel`) by the CIDs' node-id byte over `count` workers. */
export function splitStream(plain: Buffer, count: number, isWorkerLabel: (label: string) => boolean, workerByte: 0 | 1 = 0): SplitStream {
  const parts: Component[][] = Array.from({ length: count }, () => []);
  const own: Component[] = [];
  let withoutCid = 0;
  let unroutable = 0;
  for (const c of componentsOf(plain)) {
    if (!isWorkerLabel(c.label)) {
      own.push(c);
      continue;
    }
    const byWorker: Connection[][] = Array.from({ length: count }, () => []);
    for (const conn of c.connections) {
      const cid = conn.readCid;
      const worker = cid === undefined || cid.length <= workerByte ? undefined : cid[workerByte]!;
      if (worker === undefined) {
        withoutCid++;
        byWorker[0]!.push(conn);
      } else if (worker < count) byWorker[worker]!.push(conn);
      // a node-id beyond the workers (fewer workers than at shutdown): no worker receives its records
      else unroutable++;
    }
    byWorker.forEach((connections, i) => parts[i]!.push({ label: c.label, connections }));
  }
  return { workers: parts.map((p) => writeStream(p)), primary: writeStream(own), withoutCid, unroutable };
}

/**
 * Reads the store file for `count` workers (components labelled `workerLabels` split by CID, the rest for the
 * primary); undefined without a file or when it cannot be read or opened (logged, the file is kept).
 */
export function readStoreForWorkers(
  store: StoreFileOptions,
  count: number,
  workerLabels: ReadonlySet<string>,
  workerByte: 0 | 1,
  logger: Logger,
): SplitStream | undefined {
  const plain = readStoreFile(store, logger);
  if (plain === undefined) return undefined;
  try {
    const split = splitStream(plain, count, (label) => WILDCARD_LABEL.test(label) || workerLabels.has(label), workerByte);
    if (split.withoutCid > 0) logger.warn(`store file ${store.file}: ${split.withoutCid} connection(s) without a CID loaded into worker 0 (their clients may need a new handshake)`);
    if (split.unroutable > 0) logger.warn(`store file ${store.file}: ${split.unroutable} connection(s) with the CID of no current worker (of ${count}) left out`);
    return split;
  } catch (err) {
    logger.warn(`load failed: ${(err as Error).message}`);
    logger.warn(`store file ${store.file} not (completely) loaded; kept`);
    return undefined;
  } finally {
    plain.fill(0);
  }
}

/** Writes the one store file at shutdown: the primary's connections (servers stopped) merged with the workers' streams. Never throws. */
export function saveWorkersStoreFile(store: StoreFileOptions, own: readonly DtlsConnector[], workers: readonly SavedState[], logger: Logger): void {
  let merged: SavedState;
  try {
    const mine = saveStream(own, store.maxAgeMs, logger);
    merged = {
      data: mergeStreams([mine.data, ...workers.map((w) => w.data)], (label, err) => logger.warn(`save: connection of ${label} skipped: ${err.message}`)),
      connections: workers.reduce((n, w) => n + w.connections, mine.connections),
    };
    mine.data.fill(0);
  } catch (err) {
    logger.warn(`cannot serialize the DTLS state: ${(err as Error).message}`);
    return;
  } finally {
    for (const w of workers) w.data.fill(0);
  }
  saveStoreStream(store, merged, logger);
}

/** What the restore of several workers needs of the worker pool. */
export interface WorkerStreams {
  /** every worker stops and hands over its connections */
  saveStreams(maxAgeMs: number): Promise<SavedState[]>;
  /** worker i loads parts[i] (wildcard components remapped, restore.md); the items each loaded, or an error */
  loadParts(parts: readonly Buffer[]): Promise<LoadOutcome>;
}

/** /restore of a multi-worker instance: this process' connections (servers stopped) and every worker's, one stream. */
export async function restoreStateOfWorkers(own: readonly DtlsConnector[], workers: WorkerStreams, maxAgeMs: number, logger: Logger): Promise<SavedState> {
  const theirs = await workers.saveStreams(maxAgeMs);
  const mine = saveStream(own, maxAgeMs, logger);
  try {
    const data = mergeStreams([mine.data, ...theirs.map((w) => w.data)], (label, err) => logger.warn(`save: connection of ${label} skipped: ${err.message}`));
    return { data, connections: theirs.reduce((n, w) => n + w.connections, mine.connections) };
  } finally {
    mine.data.fill(0);
    for (const w of theirs) w.data.fill(0);
  }
}

/**
 * The downloaded state of the old instance into a multi-worker one: the wildcard components (the restore mode's
 * coaps endpoint) and `workerLabels` split over the workers by CID, the rest into this process' connectors.
 */
export async function loadRestoredForWorkers(
  plain: Buffer,
  own: readonly DtlsConnector[],
  workers: WorkerStreams,
  count: number,
  workerLabels: ReadonlySet<string>,
  workerByte: 0 | 1,
  logger: Logger,
): Promise<LoadOutcome> {
  const split = splitStream(plain, count, (label) => WILDCARD_LABEL.test(label) || workerLabels.has(label), workerByte);
  if (split.withoutCid > 0) logger.warn(`restore: ${split.withoutCid} connection(s) without a CID loaded into worker 0 (their clients may need a new handshake)`);
  if (split.unroutable > 0) logger.warn(`restore: ${split.unroutable} connection(s) with the CID of no current worker (of ${count}) left out`);
  const mine = loadStream(own, split.primary, logger, { remapWildcard: true });
  split.primary.fill(0);
  const theirs = await workers.loadParts(split.workers);
  for (const p of split.workers) p.fill(0);
  return { ok: mine.ok && theirs.ok, items: mine.items + theirs.items };
}

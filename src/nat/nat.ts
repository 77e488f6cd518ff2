// The UDP NAT / load balancer engine (clients.md §7.2): source NAT per client, destination choice, health,
// DTLS filter, dropping and the optional CID-aware routing.
// Per datagram the path allocates nothing of its own: the entry is found by port and address (no key string), an
// answer's entry is the one its socket belongs to, sends are synchronous (socket.ts) and without a completion callback
// (a callback costs a tick per datagram; NatCounters.socketErrors). bench/nat-datagram.ts measures it.
import type dgram from 'node:dgram';
import { endpointKey, parseHostPort, resolveHostPort, type Endpoint } from './address.js';
import {
  addDestination,
  checkBalancer,
  chooseDestination,
  createBalancer,
  noteAnswer,
  noteSent,
  reactivateStale,
  removeDestination,
  usable,
  type Balancer,
  type Destination,
} from './balancer.js';
import { runCommand, runCommandAsync, type NatControl } from './console.js';
import { dropByChance, dropBySize } from './drops.js';
import { cidNodeId, isDtlsRecord } from './dtls-filter.js';
import { assignDestination, closeEntry, createEntry, entryPorts, entrySocket, type NatEntry } from './entry.js';
import { EntryTable } from './entry-table.js';
import { bindListeners, type Listener } from './listeners.js';
import { LB_TIMEOUT_MS, MAX_NAT_ENTRIES, NAT_TIMEOUT_MS, type NatOptions } from './options.js';
import { zeroCounters, type NatCounters, type NatStats } from './stats.js';

export { parseNatArgs, natUsage, type NatOptions, type NatArgsResult, type CidRoute } from './options.js';
export type { NatStats, NatCounters } from './stats.js';

/** Datagram buffer size; longer datagrams are cut like the reference's 2048-byte buffer does. */
export const DATAGRAM_SIZE = 2048;

/** Minimal logger (pino-compatible); the NAT never logs per datagram above debug. */
export interface NatLogger {
  info(msg: string): void;
  warn(msg: string): void;
  debug(msg: string): void;
}

/** Injectable parts of a NAT's environment (tests). */
export interface NatRuntime {
  logger?: NatLogger;
  /** returns a number in [0, 1); destination choice and dropping */
  random?: () => number;
  /** current time in ms */
  now?: () => number;
}

/** A running NAT. */
export interface Nat {
  /** runs one console command (clients.md §7.4) and returns its output text ('' for none) */
  command(line: string): string;
  /** like `command`, resolving host names of `add`/`remove` first */
  commandAsync(line: string): Promise<string>;
  /** counters, entry count and process CPU time */
  stats(): NatStats;
  /** bound listening ports, in the order of the binds */
  readonly localPorts: number[];
  /** bound listening addresses `address`/`port` */
  readonly listeners: ReadonlyArray<{ address: string; port: number }>;
  /** local ports of the outgoing sockets of a client's entry (empty if none) */
  entryPorts(clientAddress: string, clientPort: number): number[];
  /** true once stopping started (`exit`/`quit` or `stop()`) */
  readonly stopping: boolean;
  /** resolves when the NAT is stopped */
  readonly stopped: Promise<void>;
  stop(): Promise<void>;
}

const SILENT: NatLogger = { info() {}, warn() {}, debug() {} };

/** Starts a NAT: resolves the destinations, binds the listeners; rejects with a clear message on failure. */
export async function startNat(options: NatOptions, runtime: NatRuntime = {}): Promise<Nat> {
  const log = runtime.logger ?? SILENT;
  const random = runtime.random ?? Math.random;
  const now = runtime.now ?? Date.now;
  const natTimeout = options.natTimeoutMs ?? NAT_TIMEOUT_MS;
  const lbTimeout = options.lbTimeoutMs ?? LB_TIMEOUT_MS;
  const maxEntries = options.maxEntries ?? MAX_NAT_ENTRIES;
  const dropForward = options.dropForward ?? 0;
  const dropBackward = options.dropBackward ?? 0;
  const sizeLimit = options.sizeLimit;
  const sizePercent = options.sizeLimitPercent ?? 100;
  const filter = options.dtlsFilter ?? false;
  let reverse = options.reverse ?? false;

  const balancer: Balancer = createBalancer(random);
  const names = new Map<string, Endpoint>();
  const resolve = async (text: string): Promise<Endpoint> => {
    const ep = await resolveHostPort(parseHostPort(text));
    names.set(text, ep);
    return ep;
  };
  const destinations = await Promise.all(options.destinations.map(resolve));
  for (const ep of destinations) addDestination(balancer, ep);
  /** node-id → destination key (--cid) */
  const cidKeys: Array<string | undefined> | undefined = options.cid && options.cid.length > 0 ? new Array(256) : undefined;
  if (cidKeys) {
    for (const route of options.cid!) {
      const ep = await resolve(route.destination);
      addDestination(balancer, ep);
      cidKeys[route.nodeId & 0xff] = ep.key;
    }
  }
  if (balancer.byKey.size === 0) throw new Error('Missing destination!');

  const counters: NatCounters = zeroCounters();
  let stopping = false;
  const entries = new EntryTable();
  const onSocketError = (err: Error): void => {
    counters.socketErrors++;
    log.debug(`NAT socket error: ${err.message}`);
  };
  /** a failing outgoing socket (e.g. no file descriptors left) ends its entry; the next datagram starts a new one */
  const onEntryError = (entry: NatEntry, err: Error): void => {
    onSocketError(err);
    entries.delete(entry);
    closeEntry(entry);
  };

  /**
   * The known destination an answer came from, if any. Cached on the entry: with --cid several nodes answer one entry,
   * and a destination still known (not removed) is the one its key maps to.
   */
  const knownSource = (entry: NatEntry, from: dgram.RemoteInfo): Destination | undefined => {
    const last = entry.otherSource;
    if (last !== undefined && last.port === from.port && last.address === from.address && last.state !== 'REMOVED') return last;
    const known = balancer.byKey.get(endpointKey(from.address, from.port));
    if (known) entry.otherSource = known;
    return known;
  };

  const backward = (entry: NatEntry, msg: Buffer, from: dgram.RemoteInfo): void => {
    if (entry.closed) return;
    try {
      let data = msg;
      if (data.length > DATAGRAM_SIZE) {
        data = data.subarray(0, DATAGRAM_SIZE);
        counters.truncated++;
      }
      entry.lastUsed = now();
      const dest = entry.destination;
      if (dest && from.port === dest.port && from.address === dest.address) {
        if (noteAnswer(balancer, dest)) log.warn(`revived ${dest.name}`);
      } else {
        const known = knownSource(entry, from);
        if (cidKeys && known) {
          // CID-aware balancing: every known destination may answer
          if (noteAnswer(balancer, known)) log.warn(`revived ${known.name}`);
        } else {
          counters.wronglyRouted++;
          if (!reverse) {
            counters.droppedWrong++;
            return;
          }
          if (known) {
            assignDestination(entry, known);
            entry.first = false;
            if (noteAnswer(balancer, known)) log.warn(`revived ${known.name}`);
          }
        }
      }
      if (dropByChance(dropBackward, random)) {
        counters.droppedBackward++;
        return;
      }
      entry.listener.send(data, entry.clientPort, entry.client);
      counters.backwarded++;
    } catch (err) {
      onSocketError(err as Error);
    }
  };

  const cidDestination = (data: Buffer): Destination | undefined => {
    if (!cidKeys) return undefined;
    const nodeId = cidNodeId(data);
    if (nodeId === undefined) return undefined;
    const key = cidKeys[nodeId];
    return key === undefined ? undefined : balancer.byKey.get(key);
  };

  const forward = (listener: dgram.Socket, msg: Buffer, from: dgram.RemoteInfo): void => {
    if (stopping) return;
    try {
      let data = msg;
      if (data.length > DATAGRAM_SIZE) {
        data = data.subarray(0, DATAGRAM_SIZE);
        counters.truncated++;
      }
      if (filter && !isDtlsRecord(data)) {
        counters.droppedFilter++;
        return;
      }
      const t = now();
      const cidDest = cidDestination(data);
      let entry = entries.get(from.address, from.port);
      if (!entry) {
        if (entries.size >= maxEntries) {
          counters.refused++;
          return;
        }
        const dest = cidDest ?? chooseDestination(balancer);
        if (!dest) {
          counters.noDestination++;
          return;
        }
        entry = createEntry(from.address, from.port, listener, t);
        assignDestination(entry, dest);
        entries.add(entry);
      }
      entry.lastUsed = t;
      let dest = cidDest;
      if (!dest) {
        dest = entry.destination;
        if (!entry.first && (!dest || !usable(dest))) {
          dest = chooseDestination(balancer);
          assignDestination(entry, dest);
        }
        entry.first = false;
        if (!dest) {
          counters.noDestination++;
          return;
        }
      }
      if (dropByChance(dropForward, random)) {
        counters.droppedForward++;
        return;
      }
      if (dropBySize(data.length, sizeLimit, sizePercent, random)) {
        counters.droppedSize++;
        return;
      }
      entrySocket(entry, dest, backward, onEntryError).send(data, dest.port, dest.address);
      noteSent(dest, t);
      counters.forwarded++;
      if (cidDest) counters.cidRouted++;
    } catch (err) {
      onSocketError(err as Error);
    }
  };

  const listeners: Listener[] = await bindListeners(options.binds, forward, onSocketError);

  const clear = (n = entries.size): number => {
    let count = 0;
    for (const entry of entries.values()) {
      if (count >= n) break;
      entries.delete(entry);
      closeEntry(entry);
      ++count;
    }
    return count;
  };

  const reassign = (): number => {
    const t = now();
    const count = entries.replaceAll((old) => {
      const entry = createEntry(old.client, old.clientPort, old.listener, t);
      assignDestination(entry, chooseDestination(balancer) ?? old.destination);
      closeEntry(old);
      return entry;
    });
    if (count > 0) log.info(`reassigned ${count} NAT entries to new local ports`);
    return count;
  };

  const rebalance = (): { reassigned: number; entries: number } => {
    reactivateStale(balancer);
    let reassigned = 0;
    if (balancer.active.length > 1) {
      for (const entry of entries.values()) {
        const dest = chooseDestination(balancer);
        if (dest && assignDestination(entry, dest)) ++reassigned;
      }
    }
    return { reassigned, entries: entries.size };
  };

  const expireEntries = (): void => {
    const limit = now() - natTimeout;
    let expired = 0;
    for (const entry of entries.values()) {
      if (entry.lastUsed < limit) {
        entries.delete(entry);
        closeEntry(entry);
        ++expired;
      }
    }
    if (expired > 0) {
      counters.expired += expired;
      log.info(`expired ${expired} NAT entries, ${entries.size} left`);
    }
  };

  const checkDestinations = (): void => {
    for (const change of checkBalancer(balancer, now(), lbTimeout)) {
      log.warn(`destination ${change.destination.name}: ${change.from} -> ${change.to}`);
    }
  };

  const timers: NodeJS.Timeout[] = [];
  if (natTimeout > 0) timers.push(setInterval(expireEntries, Math.max(1, Math.floor(natTimeout / 4))));
  if (lbTimeout > 0) timers.push(setInterval(checkDestinations, Math.max(1, Math.floor(lbTimeout / 4))));
  for (const t of timers) t.unref();

  let resolveStopped!: () => void;
  const stopped = new Promise<void>((r) => (resolveStopped = r));
  const stop = async (): Promise<void> => {
    if (stopping) return stopped;
    stopping = true;
    for (const t of timers) clearInterval(t);
    clear();
    await Promise.all(
      listeners.map(
        (l) =>
          new Promise<void>((r) => {
            try {
              l.socket.close(() => r());
            } catch {
              r();
            }
          }),
      ),
    );
    log.info(`NAT stopped. ${counters.forwarded} forwarded messages, ${counters.backwarded} backwarded`);
    resolveStopped();
  };

  const control: NatControl = {
    balancer,
    entryCount: () => entries.size,
    isReverse: () => reverse,
    setReverse: (on) => {
      reverse = on;
    },
    counters: () => counters,
    now,
    clear,
    reassign,
    rebalance,
    add: (ep) => addDestination(balancer, ep) !== undefined,
    remove: (ep) => removeDestination(balancer, ep.key) !== undefined,
    exit: () => void stop(),
    names,
  };

  log.info(`NAT started on ${listeners.map((l) => `${l.address}:${l.port}`).join(', ')}`);
  return {
    command: (line) => runCommand(control, line),
    commandAsync: (line) => runCommandAsync(control, line),
    stats: () => ({ ...counters, entries: entries.size, cpu: process.cpuUsage() }),
    localPorts: listeners.map((l) => l.port),
    listeners: listeners.map((l) => ({ address: l.address, port: l.port })),
    entryPorts: (address, port) => {
      const e = entries.get(address, port);
      return e ? entryPorts(e) : [];
    },
    get stopping() {
      return stopping;
    },
    stopped,
    stop,
  };
}

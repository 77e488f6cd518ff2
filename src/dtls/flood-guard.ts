// Flood defence of a DTLS server (issue 10): budgets of ClientHellos and bounds of handshakes in progress.
// Plain data and functions, no I/O but the episode log lines.
//  * Per peer (address:port), ClientHellos are counted per 1 s window: a peer below
//    DTLS.CLIENT_HELLO_PEER_RATE_LIMIT is light, and so is one with an established connection (decided in
//    receive-guard.ts). The table of counts is bounded (untracked peers are heavy).
//  * Two budgets per 100 ms slice: ClientHellos without a valid cookie that get an answer (the stateless
//    HelloVerifyRequest, RFC 6347 §4.2.1) and handshakes started from cookie-verified ClientHellos. Up to
//    half of a budget everyone is served; above half only light peers; above the budget nobody. So a
//    few flooding sources cannot starve a legitimate client, and proven handshakes (cookie verified) have
//    a budget of their own that unproven ClientHellos cannot use up.
//  * Server handshakes in progress: at most DTLS.MAX_PENDING_HANDSHAKES (and per IP address); at the
//    limit the oldest is abandoned for the new one (a legitimate handshake completes in a few round trips,
//    one that never answers our flight is what a flood leaves behind).
//  * A limit that engages starts an episode: logged once (warn) when it starts and once (info) when it has
//    been quiet for 2 s, with the count of drops; never per datagram.
import type { Logger } from 'pino';
import type { DtlsConfig } from './config.js';
import type { Connection } from './connection.js';
import type { DtlsDetailStats } from './dtls-stats.js';

/** Length of a budget slice (ms). */
export const SLICE_MS = 100;
/** Length of the per-peer counting window (ms). */
export const PEER_WINDOW_MS = 1000;
/** An episode ends after this long without a drop (ms). */
export const EPISODE_QUIET_MS = 2000;

/** One limit's flood episode. */
export interface FloodEpisode {
  /** what engaged, for the log lines */
  readonly what: string;
  active: boolean;
  since: number;
  last: number;
  drops: number;
}

/** A budget per 100 ms slice (0 = unlimited). */
export interface SliceBudget {
  /** per slice */
  readonly limit: number;
  /** above this, only light peers are served */
  readonly soft: number;
  used: number;
  readonly episode: FloodEpisode;
}

/** A tracked server handshake and the IP address it counts for (the connection's address may change later). */
export interface PendingHandshake {
  readonly conn: Connection;
  readonly address: string;
}

/** The flood defence state of one DTLS connector. */
export interface FloodGuard {
  /** ClientHellos per second below which a peer is light (0: every peer is light) */
  readonly peerLimit: number;
  readonly trackedPeers: number;
  windowStart: number;
  /** ClientHellos per peer key in the current window */
  readonly peers: Map<string, number>;
  sliceStart: number;
  /** ClientHellos without a valid cookie answered (HelloVerifyRequest or unverified start) */
  readonly hello: SliceBudget;
  /** handshakes started from cookie-verified ClientHellos */
  readonly start: SliceBudget;
  /** whether the peer of the ClientHello being processed is light (set by the receive path per datagram) */
  light: boolean;
  readonly maxPending: number;
  readonly maxPendingPerAddress: number;
  /** server handshakes in progress by connection id, oldest first (entries of completed ones are swept lazily) */
  readonly pending: Map<number, PendingHandshake>;
  /** entries of `pending` per IP address */
  readonly pendingPerAddress: Map<string, number>;
  readonly pendingEpisode: FloodEpisode;
  readonly stats: DtlsDetailStats;
  readonly logger: Logger | undefined;
  /** checks for the end of active episodes while one is active */
  timer: NodeJS.Timeout | undefined;
  readonly now: () => number;
}

function episode(what: string): FloodEpisode {
  return { what, active: false, since: 0, last: 0, drops: 0 };
}

function budget(perSecond: number, what: string): SliceBudget {
  const limit = perSecond > 0 ? Math.max(2, Math.round((perSecond * SLICE_MS) / 1000)) : 0;
  return { limit, soft: Math.floor(limit / 2), used: 0, episode: episode(what) };
}

/** A fresh guard with the limits of `config`. */
export function createFloodGuard(config: DtlsConfig, stats: DtlsDetailStats, logger: Logger | undefined, now: () => number): FloodGuard {
  const t = now();
  return {
    peerLimit: config.clientHelloPeerRateLimit,
    trackedPeers: config.clientHelloTrackedPeers,
    windowStart: t,
    peers: new Map(),
    sliceStart: t,
    hello: budget(config.clientHelloRateLimit, `ClientHellos without cookie over DTLS.CLIENT_HELLO_RATE_LIMIT ${config.clientHelloRateLimit}/s (peers above DTLS.CLIENT_HELLO_PEER_RATE_LIMIT ${config.clientHelloPeerRateLimit}/s from half of it)`),
    start: budget(config.handshakeStartRateLimit, `handshake starts over DTLS.HANDSHAKE_START_RATE_LIMIT ${config.handshakeStartRateLimit}/s (peers above DTLS.CLIENT_HELLO_PEER_RATE_LIMIT ${config.clientHelloPeerRateLimit}/s from half of it)`),
    light: true,
    maxPending: config.maxPendingHandshakes,
    maxPendingPerAddress: config.maxPendingHandshakesPerAddress,
    pending: new Map(),
    pendingPerAddress: new Map(),
    pendingEpisode: episode(`handshakes in progress over DTLS.MAX_PENDING_HANDSHAKES ${config.maxPendingHandshakes} / _PER_ADDRESS ${config.maxPendingHandshakesPerAddress}`),
    stats,
    logger,
    timer: undefined,
    now,
  };
}

/**
 * Counts a ClientHello of peer `key` in the current 1 s window; true when the peer is light (fewer than
 * peerLimit before this one). The table holds at most trackedPeers peers; untracked peers are heavy.
 */
export function countPeerHello(guard: FloodGuard, key: string, now: number): boolean {
  if (guard.peerLimit === 0) return true;
  if (now - guard.windowStart >= PEER_WINDOW_MS || now < guard.windowStart) {
    guard.windowStart = now;
    guard.peers.clear();
  }
  const peers = guard.peers;
  const n = peers.get(key);
  if (n === undefined) {
    if (peers.size >= guard.trackedPeers) return false;
    peers.set(key, 1);
    return true;
  }
  peers.set(key, n + 1);
  return n < guard.peerLimit;
}

function turnSlice(guard: FloodGuard, now: number): void {
  if (now - guard.sliceStart < SLICE_MS && now >= guard.sliceStart) return;
  guard.sliceStart = now;
  guard.hello.used = 0;
  guard.start.used = 0;
  endQuietEpisodes(guard, now);
}

/** Takes one unit of `b` (guard.hello or guard.start) for a peer that is `light`; false = drop it (counted, episode). */
export function takeBudget(guard: FloodGuard, b: SliceBudget, light: boolean, now: number): boolean {
  if (b.limit === 0) return true;
  turnSlice(guard, now);
  if (b.used < b.soft || (light && b.used < b.limit)) {
    b.used++;
    return true;
  }
  if (b === guard.hello) guard.stats.droppedClientHellos++;
  else guard.stats.droppedVerifiedClientHellos++;
  noteDrop(guard, b.episode, now);
  return false;
}

/** Records a drop of an episode's limit; the first one of an episode is logged. */
export function noteDrop(guard: FloodGuard, ep: FloodEpisode, now: number): void {
  ep.drops++;
  ep.last = now;
  if (ep.active) return;
  ep.active = true;
  ep.since = now;
  ep.drops = 1;
  guard.stats.floodEpisodes++;
  guard.logger?.warn(`dtls flood defence engaged: ${ep.what}; dropping (counted in /diagnose), logged again when it ends`);
  if (guard.timer === undefined) {
    guard.timer = setInterval(() => endQuietEpisodes(guard, guard.now()), 1000);
    guard.timer.unref();
  }
}

/** Ends (and logs) every episode quiet for EPISODE_QUIET_MS; stops the timer when none is left. */
export function endQuietEpisodes(guard: FloodGuard, now: number): void {
  let active = false;
  for (const ep of [guard.hello.episode, guard.start.episode, guard.pendingEpisode]) {
    if (!ep.active) continue;
    if (now - ep.last < EPISODE_QUIET_MS) {
      active = true;
      continue;
    }
    ep.active = false;
    guard.logger?.info(`dtls flood defence: episode ended (${ep.what}): ${ep.drops} dropped in ${((ep.last - ep.since) / 1000).toFixed(1)} s`);
  }
  if (!active) stopFloodGuard(guard);
}

/** Stops the episode timer (connector stop). */
export function stopFloodGuard(guard: FloodGuard): void {
  if (guard.timer !== undefined) clearInterval(guard.timer);
  guard.timer = undefined;
}

/** Still a server handshake in progress? */
function live(conn: Connection): boolean {
  return conn.handshake !== undefined && !conn.closed;
}

/** Adds a server handshake that started (after the store took it). */
export function trackHandshake(guard: FloodGuard, conn: Connection): void {
  if (guard.pending.has(conn.id)) return;
  const address = conn.address;
  guard.pending.set(conn.id, { conn, address });
  guard.pendingPerAddress.set(address, (guard.pendingPerAddress.get(address) ?? 0) + 1);
}

/** Forgets a connection (the store removed it, or its handshake ended). */
export function releaseHandshake(guard: FloodGuard, conn: Connection): void {
  const entry = guard.pending.get(conn.id);
  if (entry === undefined) return;
  guard.pending.delete(conn.id);
  const n = (guard.pendingPerAddress.get(entry.address) ?? 1) - 1;
  if (n <= 0) guard.pendingPerAddress.delete(entry.address);
  else guard.pendingPerAddress.set(entry.address, n);
}

/** Removes the entries of handshakes that ended (completed: their connection stays in the store). */
function sweep(guard: FloodGuard): void {
  for (const { conn } of guard.pending.values()) if (!live(conn)) releaseHandshake(guard, conn);
}

/** Server handshakes in progress (sweeps completed ones first). */
export function pendingHandshakes(guard: FloodGuard): number {
  sweep(guard);
  return guard.pending.size;
}

/**
 * Before a new server handshake from `address`: the handshake in progress to abandon to stay within
 * DTLS.MAX_PENDING_HANDSHAKES(_PER_ADDRESS) — the oldest of that address at the per-address limit, else
 * the oldest of all at the global limit — or undefined when there is room. The caller ends it and asks
 * again (the entry is released by the store's removal hook).
 */
export function handshakeToAbandon(guard: FloodGuard, address: string, now: number): Connection | undefined {
  const perAddress = guard.maxPendingPerAddress;
  const atAddressLimit = (): boolean => perAddress > 0 && (guard.pendingPerAddress.get(address) ?? 0) >= perAddress;
  if (guard.pending.size < guard.maxPending && !atAddressLimit()) return undefined;
  sweep(guard); // at a limit: count only what is still running (O(limit), once per handshake start at most)
  let victim: Connection | undefined;
  if (atAddressLimit()) {
    for (const entry of guard.pending.values()) {
      if (entry.address === address) {
        victim = entry.conn;
        break;
      }
    }
  } else if (guard.pending.size >= guard.maxPending) {
    victim = (guard.pending.values().next().value as PendingHandshake | undefined)?.conn;
  }
  if (victim === undefined) return undefined;
  guard.stats.abandonedHandshakes++;
  noteDrop(guard, guard.pendingEpisode, now);
  // the caller's failHandshake removes it from the store; released here too in case it is not there any more
  releaseHandshake(guard, victim);
  return victim;
}

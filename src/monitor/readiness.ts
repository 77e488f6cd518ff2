// Readiness and liveness of the process as the monitor reports them (cluster.md §9): registered servers
// must run and registered components must be ready; ready→not-ready and the stop after a /restore
// download are both delayed by a grace period so that the load balancer can drain.
/** Grace period of /ready (ready → not ready) and of /alive after a /restore download. */
export const MONITOR_GRACE_MS = 4_000;

/** What the monitor watches, and its memory of the last answers. */
export interface MonitorState {
  /** Registered CoAP servers (the extended server): each reports whether it runs. */
  servers: Array<{ readonly running: boolean }>;
  /** Registered components (the restore client): each reports whether it is ready. */
  components: Array<{ readonly ready: boolean }>;
  /** When a /restore download was served (epoch ms). */
  restoredAt?: number;
  /** The last /ready evaluation was ready (or still in grace). */
  wasReady: boolean;
  /** End of the running ready→not-ready grace period (epoch ms). */
  graceUntil?: number;
}

/** A state with nothing registered (not ready until a server is registered). */
export function createMonitorState(): MonitorState {
  return { servers: [], components: [], wasReady: false };
}

/** Ready: at least one server registered, all servers running, all components ready. */
export function isReadyNow(state: MonitorState): boolean {
  return state.servers.length > 0 && state.servers.every((s) => s.running) && state.components.every((c) => c.ready);
}

/**
 * The /ready answer at `now`: switching to ready is immediate; the first not-ready evaluation after
 * being ready starts the grace period during which ready is still reported.
 */
export function evaluateReady(state: MonitorState, now: number): boolean {
  if (isReadyNow(state)) {
    state.wasReady = true;
    state.graceUntil = undefined;
    return true;
  }
  if (!state.wasReady) return false;
  state.graceUntil ??= now + MONITOR_GRACE_MS;
  if (now < state.graceUntil) return true;
  state.wasReady = false;
  state.graceUntil = undefined;
  return false;
}

/** The /alive answer at `now`: alive until a /restore download happened plus the grace period. */
export function evaluateAlive(state: MonitorState, now: number): boolean {
  return state.restoredAt === undefined || now < state.restoredAt + MONITOR_GRACE_MS;
}

// Options and result shape shared by the plugtest and extended resource-tree factories.
import type { Resource } from '../coap/resource.js';
import type { TreeTimers } from './timers.js';
import type { DiagnosticsSource } from './extended/diagnose.js';
import type { RequestHistory } from './extended/request-history.js';
import type { OscoreContextStore } from '../oscore/store.js';

/** Name printed where the reference prints `Cf` (root banner, `/mycontext` `server`). */
export const PRODUCT_NAME = 'extplugtest';

/** Settings the resource trees are built with. */
export interface ResourceOptions {
  /** period of the observe resources' timers in ms */
  notifyInterval: number;
  /** `--echo-delay`: honour the `delay` query of `/echo` */
  echoDelay: boolean;
  /** product version printed by `/` and `/mycontext` */
  version: string;
  /** ends the whole process (called 500 ms after POST `/shutdown` `sesame`) */
  shutdown: () => void;
  /** wall clock in ms (default Date.now) */
  nowMs?: () => number;
  /** `--benchmark`: `/benchmark` answers (otherwise 5.01); default off */
  benchmark?: boolean;
  /** `--diagnose`: the extended tree lists `/diagnose`; default off */
  diagnose?: boolean;
  /** counters and endpoints shown by `/diagnose` (filled by the composition) */
  diagnostics?: DiagnosticsSource;
  /** where `/requests` keeps the device histories (default: in this process; a worker: in the primary) */
  requestHistory?: RequestHistory;
  /** `--oscore`: the plugtest tree adds `/oscore` and `/oscoreInfo` over this store (resources.md §3.22) */
  oscore?: OscoreContextStore;
}

/** A resource tree plus the start/stop of its timers. */
export interface ResourceTree {
  root: Resource;
  start(): void;
  stop(): void;
  /** lists what changed since start (the extended tree: /diagnose's endpoint children) */
  refresh?(): void;
}

/** Context handed to resource factories: the clock and the tree's timers. */
export interface ResourceEnv {
  now: () => number;
  timers: TreeTimers;
}

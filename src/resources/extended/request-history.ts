// The device histories of `/requests` (resources.md §2.1) behind one interface, so that where they live can change:
// in the process (createLocalRequestHistory), or in the primary of a multi-worker server, reached over IPC
// (workers/request-history-channel.ts), so that a device seen by several workers keeps one history.
import type { RequestEntry } from './requests.js';

/** Where `/requests` records and reads device histories. */
export interface RequestHistory {
  /** Records `entry` for `dev`; the device's history afterwards, newest first (a promise when it lives elsewhere). */
  record(dev: string, entry: RequestEntry): readonly RequestEntry[] | Promise<readonly RequestEntry[]>;
}

/** A history kept in this process, with its read access (tests, diagnostics). */
export interface LocalRequestHistory extends RequestHistory {
  record(dev: string, entry: RequestEntry): readonly RequestEntry[];
  /** devices currently kept */
  deviceCount(): number;
  /** history of a device, newest first */
  history(dev: string): readonly RequestEntry[] | undefined;
}

/** Histories of at most `maxDevices` devices (least recently updated evicted), `maxHistory` entries each. */
export function createLocalRequestHistory(maxDevices: number, maxHistory: number): LocalRequestHistory {
  /** device → history; Map order = least recently updated first */
  const devices = new Map<string, RequestEntry[]>();
  return {
    record(dev, entry) {
      let history = devices.get(dev);
      if (history) {
        devices.delete(dev);
      } else {
        history = [];
        // bounded: evict the least recently updated device(s)
        while (devices.size >= maxDevices) {
          const oldest = devices.keys().next();
          if (oldest.done) break;
          devices.delete(oldest.value);
        }
      }
      devices.set(dev, history);
      history.unshift(entry);
      if (history.length > maxHistory) history.length = maxHistory;
      return history;
    },
    deviceCount: () => devices.size,
    history: (dev) => devices.get(dev),
  };
}

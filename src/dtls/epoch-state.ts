// Serializable state of one protected epoch of a connection: key data, read replay window, next write
// sequence number (graceful restart). Cipher objects are rebuilt from it with createRecordProtection.
import { epochKeysFromJson, epochKeysToJson, type EpochKeys, type EpochKeysJson } from './keys.js';
import { MAX_SEQUENCE_NUMBER } from './record.js';
import { createReplayWindow, replayWindowFromJson, type ReplayWindow } from './replay-window.js';

/** Plain-data state of one epoch (keys as Buffers). */
export interface EpochState {
  keys: EpochKeys;
  /** anti-replay window for records read in this epoch */
  window: ReplayWindow;
  /** sequence number of the next record written in this epoch (RFC 6347 §4.1: starts at 0 per epoch) */
  nextSeq: number;
}

/** JSON shape of EpochState. */
export interface EpochStateJson {
  keys: EpochKeysJson;
  window: ReplayWindow;
  nextSeq: number;
}

/** Fresh state for newly derived keys. */
export function createEpochState(keys: EpochKeys): EpochState {
  return { keys, window: createReplayWindow(), nextSeq: 0 };
}

/**
 * Takes the next write sequence number of the epoch; undefined when the 48-bit space is exhausted
 * (the connection must then be closed, RFC 6347 §4.1).
 */
export function takeSequenceNumber(state: EpochState): number | undefined {
  if (state.nextSeq > MAX_SEQUENCE_NUMBER) return undefined;
  return state.nextSeq++;
}

/** Serializes the epoch state (hex keys, window numbers). */
export function epochStateToJson(state: EpochState): EpochStateJson {
  const w = state.window;
  return { keys: epochKeysToJson(state.keys), window: { maxSeq: w.maxSeq, lo: w.lo, hi: w.hi }, nextSeq: state.nextSeq };
}

/** Restores an epoch state from JSON; undefined if the window or sequence number is malformed. */
export function epochStateFromJson(json: EpochStateJson): EpochState | undefined {
  const window = replayWindowFromJson(json.window);
  if (window === undefined || !Number.isSafeInteger(json.nextSeq) || json.nextSeq < 0) return undefined;
  return { keys: epochKeysFromJson(json.keys), window, nextSeq: json.nextSeq };
}

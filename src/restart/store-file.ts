// The --store-file (restart.md §3): loaded before the servers start (then deleted), written at shutdown.
import fs from 'node:fs';
import type { Logger } from 'pino';
import type { DtlsConnector } from '../dtls/connector.js';
import { loadConnectors, saveConnectors, type SavedState } from './persist.js';
import { EnvelopeError, openEnvelope, sealEnvelope } from './envelope.js';

/** Store-file settings from the command line. */
export interface StoreFileOptions {
  file: string;
  /** base64-decoded --store-password64; undefined = unencrypted */
  password: Buffer | undefined;
  /** --store-max-age in ms */
  maxAgeMs: number;
}

/** The store-file settings of the options; undefined without --store-file. */
export function storeFileOptions(opts: { storeFile?: string; storePassword64?: string; storeMaxAge?: number }): StoreFileOptions | undefined {
  if (opts.storeFile === undefined) return undefined;
  const password = opts.storePassword64 === undefined ? undefined : Buffer.from(opts.storePassword64, 'base64');
  return { file: opts.storeFile, password, maxAgeMs: (opts.storeMaxAge ?? 0) * 3_600_000 };
}

/** The file's bytes, undefined when there is none or it cannot be read (logged). */
function readStoreBytes(store: StoreFileOptions, logger: Logger): Buffer | undefined {
  try {
    if (!fs.existsSync(store.file)) return undefined;
    return fs.readFileSync(store.file);
  } catch (err) {
    logger.warn(`cannot read store file ${store.file}: ${(err as Error).message}`);
    return undefined;
  }
}

/**
 * The file's plain components stream (envelope opened), undefined when there is no file or it cannot be read or
 * opened (logged; the file is kept). The caller wipes the result.
 */
export function readStoreFile(store: StoreFileOptions, logger: Logger): Buffer | undefined {
  const data = readStoreBytes(store, logger);
  if (data === undefined) return undefined;
  try {
    return openEnvelope(data, store.password);
  } catch (err) {
    logger.warn(`load failed: ${err instanceof EnvelopeError ? err.message : `cannot open the saved state: ${(err as Error).message}`}`);
    logger.warn(`store file ${store.file} not (completely) loaded; kept`);
    return undefined;
  } finally {
    data.fill(0);
  }
}

/** Loads the file into the connectors if it exists; deletes it after a successful load. Never throws. */
export function loadStoreFile(store: StoreFileOptions, connectors: readonly DtlsConnector[], logger: Logger): void {
  const data = readStoreBytes(store, logger);
  if (data === undefined) return;
  const outcome = loadConnectors(connectors, data, store.password, logger);
  data.fill(0);
  if (!outcome.ok) {
    logger.warn(`store file ${store.file} not (completely) loaded; kept`);
    return;
  }
  logger.info(`store file ${store.file}: ${outcome.items} connections loaded`);
  deleteStoreFile(store.file, logger);
}

/** Deletes the file if it exists (errors logged). */
export function deleteStoreFile(file: string, logger: Logger): void {
  try {
    fs.rmSync(file, { force: true });
  } catch (err) {
    logger.warn(`cannot delete store file ${file}: ${(err as Error).message}`);
  }
}

/** Writes the connectors' state (servers already stopped); a partial file is removed on an I/O error. Never throws. */
export function saveStoreFile(store: StoreFileOptions, connectors: readonly DtlsConnector[], logger: Logger): void {
  let state;
  try {
    state = saveConnectors(connectors, store.password, store.maxAgeMs, logger);
  } catch (err) {
    logger.warn(`cannot serialize the DTLS state: ${(err as Error).message}`);
    return;
  }
  writeStoreFile(store, state, logger);
}

/** Seals a plain components stream (several workers' connections, merged) and writes it; the plain bytes are wiped. Never throws. */
export function saveStoreStream(store: StoreFileOptions, plain: SavedState, logger: Logger): void {
  let data: Buffer;
  try {
    data = sealEnvelope(plain.data, store.password);
  } catch (err) {
    logger.warn(`cannot serialize the DTLS state: ${(err as Error).message}`);
    return;
  } finally {
    plain.data.fill(0);
  }
  writeStoreFile(store, { data, connections: plain.connections }, logger);
}

/** Writes sealed state to the file; a partial file is removed on an I/O error; the bytes are wiped. */
function writeStoreFile(store: StoreFileOptions, state: SavedState, logger: Logger): void {
  try {
    fs.writeFileSync(store.file, state.data, { mode: 0o600 });
    logger.info(`store file ${store.file}: ${state.data.length} bytes, ${state.connections} connections saved`);
  } catch (err) {
    logger.warn(`cannot write store file ${store.file}: ${(err as Error).message}`);
    deleteStoreFile(store.file, logger);
  } finally {
    state.data.fill(0);
  }
}

// The --store-file (restart.md §3): loaded before the servers start (then deleted), written at shutdown.
import fs from 'node:fs';
import type { Logger } from 'pino';
import type { DtlsConnector } from '../dtls/connector.js';
import { loadConnectors, saveConnectors } from './persist.js';

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

/** Loads the file into the connectors if it exists; deletes it after a successful load. Never throws. */
export function loadStoreFile(store: StoreFileOptions, connectors: readonly DtlsConnector[], logger: Logger): void {
  let data: Buffer;
  try {
    if (!fs.existsSync(store.file)) return;
    data = fs.readFileSync(store.file);
  } catch (err) {
    logger.warn(`cannot read store file ${store.file}: ${(err as Error).message}`);
    return;
  }
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

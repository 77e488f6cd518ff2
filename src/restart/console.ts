// The console commands `save[<password>]` and `load[<password>]` (restart.md §3, cli.md §5): the state
// is kept in memory between them; save stops the servers, load restores and starts them.
import type { Logger } from 'pino';
import type { DtlsConnector } from '../dtls/connector.js';
import { loadConnectors, saveConnectors } from './persist.js';

/** Idle connections older than this are not saved by the console (10 min). */
export const CONSOLE_MAX_AGE_MS = 600_000;

/** What the console commands need from the running process. */
export interface ServerControl {
  connectors(): DtlsConnector[];
  stopServers(): Promise<void>;
  startServers(): Promise<void>;
}

/** The console's save/load pair; `rest` is the line after the 4 command characters (the password text). */
export interface ConsoleRestart {
  save(rest: string): Promise<void>;
  load(rest: string): Promise<void>;
}

/** Password bytes of the typed text; empty text = no password. */
export function consolePassword(rest: string): Buffer | undefined {
  return rest.length === 0 ? undefined : Buffer.from(rest, 'utf8');
}

/** Creates the console save/load handlers over the process' servers. */
export function createConsoleRestart(control: ServerControl, logger: Logger): ConsoleRestart {
  let saved: Buffer | undefined;
  const pwText = (rest: string): string => (rest.length > 0 ? ` (pw: ${rest})` : '');
  return {
    async save(rest) {
      await control.stopServers();
      const state = saveConnectors(control.connectors(), consolePassword(rest), CONSOLE_MAX_AGE_MS, logger);
      saved?.fill(0);
      saved = state.data;
      logger.info(`Saved: ${state.data.length} Bytes${pwText(rest)}`);
    },
    async load(rest) {
      if (saved === undefined) {
        logger.info('no data to load!');
        return;
      }
      const outcome = loadConnectors(control.connectors(), saved, consolePassword(rest), logger);
      if (!outcome.ok && outcome.items === 0) {
        logger.warn('load failed: the saved state is kept and the servers stay stopped (retry load<password>)');
        return;
      }
      const size = saved.length;
      saved.fill(0);
      saved = undefined;
      await control.startServers();
      logger.info(`Loaded: ${size} Bytes${pwText(rest)}`);
    },
  };
}

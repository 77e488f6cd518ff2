// The server's logger: pino writing synchronously to stdout, as readable lines (`pretty`) or as JSON
// lines (`json`); see settings.ts for how format and level are chosen.
import pino, { type DestinationStream, type Logger } from 'pino';
import { PrettyStream, type LineSink } from './pretty.js';
import type { LogSettings } from './settings.js';

export { extractLogArgs, resolveLogSettings, logUsage, LOG_FORMATS, LOG_LEVELS, DEFAULT_LOG_LEVEL } from './settings.js';
export type { LogArgs, LogEnv, LogFormat, LogLevel, LogSettings } from './settings.js';
export { formatLine, formatRecord, timeOfDay, PrettyStream, JSON_ONLY_KEYS } from './pretty.js';

/**
 * Creates the logger. `sink` defaults to a synchronous writer on fd 1 (no worker thread, no buffer:
 * the lines logged right before process.exit are written). JSON records carry no pid/hostname.
 */
export function createLogger(settings: LogSettings, sink?: LineSink & DestinationStream): Logger {
  const out = sink ?? pino.destination({ dest: 1, sync: true });
  const options: pino.LoggerOptions = { level: settings.level, base: undefined };
  if (settings.format === 'json') return pino(options, out);
  return pino(options, new PrettyStream(out, { colorize: settings.colorize }));
}

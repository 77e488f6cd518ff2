// Log format and level of the server process: `--log-format` / `--log-level` on the command line,
// `LOG_FORMAT` / `LOG_LEVEL` in the environment, defaults by whether stdout is a terminal.

/** `pretty`: one readable line per entry; `json`: pino's JSON lines. */
export type LogFormat = 'pretty' | 'json';

/** The formats, in usage order. */
export const LOG_FORMATS: readonly LogFormat[] = ['pretty', 'json'];

/** pino's levels, most severe first (`silent` logs nothing). */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** One level name. */
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Level when neither the command line nor the environment names one. */
export const DEFAULT_LOG_LEVEL: LogLevel = 'info';

/** What the logger is built from. */
export interface LogSettings {
  format: LogFormat;
  level: LogLevel;
  /** ANSI colours for the level (pretty format on a terminal, NO_COLOR unset) */
  colorize: boolean;
}

/** The log options taken out of the command line, before the remaining tokens go to the option parser. */
export interface LogArgs {
  /** the command line without the log options */
  argv: string[];
  format?: LogFormat;
  level?: LogLevel;
  /** a command line error (exit status 255), in the option parser's wording */
  error?: string;
}

/** The log options: name → accepted values and the usage label. */
const LOG_OPTIONS = {
  'log-format': { values: LOG_FORMATS as readonly string[], label: '<pretty|json>' },
  'log-level': { values: LOG_LEVELS as readonly string[], label: '<level>' },
} as const;

type LogOptionName = keyof typeof LOG_OPTIONS;

/**
 * Removes `--log-format[=| ]<pretty|json>` and `--log-level[=| ]<level>` from the command line (the
 * server's option table does not know them). Values are case-insensitive; each option at most once.
 */
export function extractLogArgs(argv: readonly string[]): LogArgs {
  const rest: string[] = [];
  const found: Partial<Record<LogOptionName, string>> = {};
  for (let i = 0; i < argv.length; i++) {
    const tok = argv[i]!;
    const eq = tok.indexOf('=');
    const name = (eq < 0 ? tok : tok.slice(0, eq)).slice(2);
    if (!tok.startsWith('--') || !(name in LOG_OPTIONS)) {
      rest.push(tok);
      continue;
    }
    const option = name as LogOptionName;
    const spec = LOG_OPTIONS[option];
    if (found[option] !== undefined) return { argv: rest, error: `option '--${option}' should be specified only once` };
    let value: string | undefined = eq < 0 ? undefined : tok.slice(eq + 1);
    if (value === undefined) {
      const next = argv[i + 1];
      if (next === undefined || next.startsWith('-')) {
        return { argv: rest, error: `Missing required parameter for option '--${option}' (${spec.label})` };
      }
      value = next;
      i++;
    }
    const normalized = value.toLowerCase();
    if (!spec.values.includes(normalized)) {
      return { argv: rest, error: `Invalid value for option '--${option}': '${value}' expected one of ${spec.values.join(', ')}` };
    }
    found[option] = normalized;
  }
  return { argv: rest, format: found['log-format'] as LogFormat | undefined, level: found['log-level'] as LogLevel | undefined };
}

/** The environment variables read here. */
export interface LogEnv {
  LOG_FORMAT?: string;
  LOG_LEVEL?: string;
  NO_COLOR?: string;
}

/**
 * Settings by precedence: command line, environment (`LOG_FORMAT`, `LOG_LEVEL`), default. The default
 * format is `pretty` when stdout is a terminal and `json` otherwise (pipes, files, process managers,
 * containers). An unknown environment value is ignored with a warning (returned, to be logged).
 */
export function resolveLogSettings(args: Pick<LogArgs, 'format' | 'level'>, env: LogEnv, stdoutIsTty: boolean): { settings: LogSettings; warnings: string[] } {
  const warnings: string[] = [];
  const fromEnv = <T extends string>(name: 'LOG_FORMAT' | 'LOG_LEVEL', values: readonly T[]): T | undefined => {
    const raw = env[name]?.trim();
    if (raw === undefined || raw === '') return undefined;
    const value = raw.toLowerCase() as T;
    if (values.includes(value)) return value;
    warnings.push(`${name}=${raw} ignored: expected one of ${values.join(', ')}`);
    return undefined;
  };
  const format = args.format ?? fromEnv('LOG_FORMAT', LOG_FORMATS) ?? (stdoutIsTty ? 'pretty' : 'json');
  const level = args.level ?? fromEnv('LOG_LEVEL', LOG_LEVELS) ?? DEFAULT_LOG_LEVEL;
  // https://no-color.org: any non-empty value switches colours off
  const colorize = format === 'pretty' && stdoutIsTty && !(env.NO_COLOR !== undefined && env.NO_COLOR !== '');
  return { settings: { format, level, colorize }, warnings };
}

/**
 * The usage section of the log options, in the layout of the server's usage (two-blank indent, help
 * column 36, width 100); appended to `--help` while the option table does not list them itself.
 */
export function logUsage(): string {
  const col = 36;
  const width = 100;
  const entry = (left: string, help: string): string[] => {
    const lines: string[] = [];
    let line = `  ${left}`;
    if (line.length + 1 >= col) {
      lines.push(line);
      line = '';
    }
    line = line.padEnd(col);
    let empty = true;
    for (const word of help.split(' ')) {
      if (!empty && line.length + 1 + word.length > width) {
        lines.push(line);
        line = ' '.repeat(col) + word;
      } else {
        line += empty ? word : ' ' + word;
      }
      empty = false;
    }
    lines.push(line);
    return lines;
  };
  return [
    'Logging (also LOG_FORMAT and LOG_LEVEL in the environment; the command line wins):',
    ...entry(
      `--log-format=${LOG_OPTIONS['log-format'].label}`,
      'pretty: one line per entry with time of day, level, server tag and message; json: one pino JSON object per line (default: pretty when stdout is a terminal, json otherwise)',
    ),
    ...entry(`--log-level=${LOG_OPTIONS['log-level'].label}`, `${LOG_LEVELS.join(', ')} (default: ${DEFAULT_LOG_LEVEL})`),
  ].join('\n');
}

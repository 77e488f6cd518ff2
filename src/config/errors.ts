// Error types for bad input: configuration values (properties file) and single values (command line, time syntax).

/** Invalid configuration input; the message names the key and the offending value. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/**
 * A text that does not parse. `reason` says why without repeating the text, so that a caller that
 * names the value itself (e.g. `Invalid value for option '--x': '<value>': <reason>`) shows it once;
 * the message (for callers that do not) names both.
 */
export class ValueError extends Error {
  override readonly name = 'ValueError';
  constructor(
    /** the text that failed */
    readonly value: string,
    /** why, without the text, e.g. `not a time like 2[s]` */
    readonly reason: string,
    message = `'${value}': ${reason}`,
  ) {
    super(message);
  }
}

/** The reason of `err` for a caller that names `value` itself: without `value` if the error allows, else its message. */
export function reasonFor(err: unknown, value: string): string {
  if (err instanceof ValueError && err.value === value) return err.reason;
  return err instanceof Error ? err.message : String(err);
}

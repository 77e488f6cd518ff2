// The error type for bad configuration input (properties file values); start-up stops on it.

/** Invalid configuration input; the message names the key and the offending value. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

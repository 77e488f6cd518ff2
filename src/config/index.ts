// Public API of the configuration: properties file, key registry, time syntax, per-server views.
export { ConfigError, ValueError, reasonFor } from './errors.js';
export { formatTime, parseTime } from './time.js';
export {
  type ConfigValue,
  type KeyDef,
  type KeySpec,
  type KeyType,
  type ValueOf,
  PLUGTEST_PREFIX,
  defineKey,
  expectation,
  formatValue,
  hasPlugtestVariant,
  parseValue,
  serverDefault,
} from './registry.js';
export { KEYS, KEY_GROUPS, buildIndex } from './keys.js';
export * from './keys-server.js';
export * from './keys-coap.js';
export * from './keys-udp.js';
export * from './keys-tcp.js';
export * from './keys-sys.js';
export {
  type KeyRef,
  type ParseOptions,
  type Properties,
  type ServerKind,
  PROPERTIES_FILE,
  PROPERTIES_HEADER,
  loadProperties,
  parseProperties,
  renderProperties,
} from './properties.js';
export { portsFor, stackConfigFor } from './stack.js';

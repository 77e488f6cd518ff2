// Typed configuration key definitions: value types, defaults per server, text conversion.
import { ConfigError } from './errors.js';
import { formatTime, parseTime } from './time.js';

/** Value types a key can have. `time` values are milliseconds; `enumList` is a list of enum names. */
export type KeyType = 'int' | 'bool' | 'time' | 'float' | 'enum' | 'enumList' | 'string';

/** The JavaScript value of a key of that type. */
export type ValueOf<K extends KeyType> = K extends 'bool'
  ? boolean
  : K extends 'string' | 'enum'
    ? string
    : K extends 'enumList'
      ? readonly string[]
      : number;

/** Any configuration value. */
export type ConfigValue = number | boolean | string | readonly string[];

/** Definition of one key of Californium3.properties. */
export interface KeyDef<T extends ConfigValue = ConfigValue> {
  /** full key, e.g. `COAP.ACK_TIMEOUT` (module prefix incl. dot) or `UDP_DROPS_READ_INTERVAL` */
  readonly name: string;
  readonly type: KeyType;
  /** text of the `# ` comment lines (word-wrapped; `\n` starts a new line) */
  readonly description: string;
  /** module default (the `# Default:` line, and the value an empty entry falls back to); undefined = none */
  readonly default: T | undefined;
  /** extended server value when it differs from the module default (config.md EXT column) */
  readonly ext: T | undefined;
  /** plugtest server value when it differs from the module default (config.md PLUG column) */
  readonly plug: T | undefined;
  /** inclusive numeric bounds (int, float, time in ms) */
  readonly min?: number;
  readonly max?: number;
  /** allowed names (enum, enumList) */
  readonly values?: readonly string[];
}

/** What `defineKey` takes; `ext`/`plug` left out mean "module default applies". */
export interface KeySpec<K extends KeyType> {
  name: string;
  type: K;
  description: string;
  default?: ValueOf<K>;
  ext?: ValueOf<K>;
  plug?: ValueOf<K>;
  min?: number;
  max?: number;
  values?: readonly string[];
}

/** Prefix of the keys that hold the plugtest server's value of a key. */
export const PLUGTEST_PREFIX = 'PLUGTEST.';

/** Java `int` range, used as the bounds of `int` keys unless narrower ones are given. */
const INT_MIN = -2147483648;
const INT_MAX = 2147483647;

/** Defines a key (validating its own defaults, so a bad definition fails at import time). */
export function defineKey<K extends KeyType>(spec: KeySpec<K>): KeyDef<ValueOf<K>> {
  const def: KeyDef<ValueOf<K>> = {
    name: spec.name,
    type: spec.type,
    description: spec.description,
    default: spec.default,
    ext: spec.ext,
    plug: spec.plug,
    ...(spec.min !== undefined ? { min: spec.min } : {}),
    ...(spec.max !== undefined ? { max: spec.max } : {}),
    ...(spec.values !== undefined ? { values: spec.values } : {}),
  };
  if ((spec.type === 'enum' || spec.type === 'enumList') && !spec.values?.length) {
    throw new Error(`key ${spec.name}: enum keys need a list of values`);
  }
  for (const v of [spec.default, spec.ext, spec.plug]) {
    if (v !== undefined) parseValue(def, formatValue(def, v));
  }
  return def;
}

/** Value of a key for one server before the file is applied (server override or module default). */
export function serverDefault<T extends ConfigValue>(def: KeyDef<T>, server: 'plugtest' | 'extended'): T | undefined {
  const v = server === 'extended' ? def.ext : def.plug;
  return v !== undefined ? v : def.default;
}

/** True if the two servers have different built-in values, i.e. a `PLUGTEST.` key is written. */
export function hasPlugtestVariant(def: KeyDef): boolean {
  const e = serverDefault(def, 'extended');
  const p = serverDefault(def, 'plugtest');
  const text = (v: ConfigValue | undefined): string => (v === undefined ? '' : formatValue(def, v));
  return text(e) !== text(p);
}

/** Human hint of the expected syntax, for error messages. */
export function expectation(def: KeyDef): string {
  const range = boundsText(def);
  switch (def.type) {
    case 'int':
      return `expected an integer${range}`;
    case 'float':
      return `expected a number like 1.5${range}`;
    case 'bool':
      return 'expected true or false';
    case 'time':
      return `expected a time like 2[s]${range}`;
    case 'enum':
      return `expected one of ${def.values!.join(', ')}`;
    case 'enumList':
      return `expected a comma separated list of ${def.values!.join(', ')}`;
    case 'string':
      return 'expected a text';
  }
}

function boundsText(def: KeyDef): string {
  const show = (n: number): string => (def.type === 'time' ? formatTime(n) : String(n));
  if (def.min !== undefined && def.max !== undefined) return `, ${show(def.min)} to ${show(def.max)}`;
  if (def.min !== undefined) return `, at least ${show(def.min)}`;
  if (def.max !== undefined) return `, at most ${show(def.max)}`;
  return '';
}

const INT_RE = /^[+-]?\d+$/;
const FLOAT_RE = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/**
 * Converts the (trimmed, non-empty) text of a key; throws ConfigError
 * `<source>: <key>=<text>: <expectation>` (`source` e.g. `Californium3.properties:12`).
 */
export function parseValue<T extends ConfigValue>(def: KeyDef<T>, text: string, source = 'Californium3.properties'): T {
  const fail = (): never => {
    throw new ConfigError(`${source}: ${def.name}=${text}: ${expectation(def)}`);
  };
  let value: ConfigValue;
  switch (def.type) {
    case 'int': {
      if (!INT_RE.test(text)) fail();
      value = Number(text);
      if (value < (def.min ?? INT_MIN) || value > (def.max ?? INT_MAX)) fail();
      break;
    }
    case 'float': {
      if (!FLOAT_RE.test(text)) fail();
      value = Number(text);
      if (!Number.isFinite(value)) fail();
      if (def.min !== undefined && value < def.min) fail();
      if (def.max !== undefined && value > def.max) fail();
      break;
    }
    case 'time': {
      try {
        value = parseTime(text);
      } catch {
        return fail();
      }
      if (value < (def.min ?? 0)) fail();
      if (def.max !== undefined && value > def.max) fail();
      break;
    }
    case 'bool': {
      const lower = text.toLowerCase();
      if (lower !== 'true' && lower !== 'false') fail();
      value = lower === 'true';
      break;
    }
    case 'enum': {
      if (!def.values!.includes(text)) fail();
      value = text;
      break;
    }
    case 'enumList': {
      const items = text.split(',').map((s) => s.trim());
      if (items.some((s) => !def.values!.includes(s))) fail();
      value = items;
      break;
    }
    case 'string':
      value = text;
      break;
  }
  return value as T;
}

/** Writes a value in file syntax (`247[s]`, `1.5`, `2.0`, `A, B`). */
export function formatValue<T extends ConfigValue>(def: KeyDef<T>, value: T): string {
  switch (def.type) {
    case 'time':
      return formatTime(value as number);
    case 'float': {
      const n = value as number;
      return Number.isInteger(n) ? n.toFixed(1) : String(n);
    }
    case 'enumList':
      return (value as readonly string[]).join(', ');
    default:
      return String(value);
  }
}

// Californium3.properties: one file for both servers, created with defaults, read at start-up (cli.md §7).
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { Logger } from 'pino';
import { ConfigError } from './errors.js';
import { KEYS } from './keys.js';
import { commentLines, escapeProperty, readPropertiesText } from './properties-text.js';
import {
  type ConfigValue,
  type KeyDef,
  PLUGTEST_PREFIX,
  formatValue,
  hasPlugtestVariant,
  parseValue,
  serverDefault,
} from './registry.js';

/** The two logical CoAP servers of the process. */
export type ServerKind = 'plugtest' | 'extended';

/** File name of the properties file in the working directory. */
export const PROPERTIES_FILE = 'Californium3.properties';

/** First comment line of the file. */
export const PROPERTIES_HEADER = 'Californium CoAP Properties file for extplugtest (Plugtest and Extended Test Server)';

/** A key given by name or by definition. */
export type KeyRef = string | KeyDef;

/**
 * The loaded configuration. Value of a key: the file's value if the file has the key; for an
 * empty value ("not set") the module default (undefined if the key has none); for a key missing
 * from the file the built-in server value. `PLUGTEST.<key>` holds the plugtest server's value.
 */
export interface Properties {
  /** value of exactly this key (`COAP.COAP_PORT` is the extended server's, `PLUGTEST.COAP.COAP_PORT` the plugtest's) */
  get<T = ConfigValue>(key: KeyRef): T | undefined;
  /** value of a key for one server (the plugtest server reads `PLUGTEST.<key>` where that applies) */
  getFor<T = ConfigValue>(server: ServerKind, key: KeyRef): T | undefined;
  /** numeric (int, float, time in ms) value for a server; throws ConfigError if not set */
  number(key: KeyRef, server?: ServerKind): number;
  /** boolean value for a server; throws ConfigError if not set */
  boolean(key: KeyRef, server?: ServerKind): boolean;
  /** text (string, enum) value for a server; throws ConfigError if not set */
  string(key: KeyRef, server?: ServerKind): string;
  /** true if the file contains the key (even with an empty value) */
  inFile(key: KeyRef): boolean;
  /** path of the properties file */
  readonly file: string;
  /** true if the file was missing and has been written with the defaults */
  readonly created: boolean;
  /** one line per ignored unknown key */
  readonly warnings: readonly string[];
}

/** Options of `parseProperties` (tests and tools; `loadProperties` uses the defaults). */
export interface ParseOptions {
  /** name used in messages; default `Californium3.properties` */
  file?: string;
  created?: boolean;
  /** key registry; default the registered keys */
  keys?: ReadonlyMap<string, KeyDef>;
  logger?: Logger;
}

/** Reads `dir/Californium3.properties`, or writes it with all defaults when missing. Throws ConfigError on a bad value. */
export function loadProperties(dir: string, logger?: Logger): Properties {
  const file = join(dir, PROPERTIES_FILE);
  if (!existsSync(file)) {
    try {
      writeFileSync(file, renderProperties(), { flag: 'wx' });
      logger?.info({ file }, 'created properties file with defaults');
      return parseProperties('', { file, created: true, ...(logger ? { logger } : {}) });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'EEXIST') {
        logger?.warn({ file, err: (err as Error).message }, 'cannot write properties file, using defaults');
        return parseProperties('', { file, created: false, ...(logger ? { logger } : {}) });
      }
      // created concurrently: read it
    }
  }
  let text: string;
  try {
    text = decodeText(readFileSync(file));
  } catch (err) {
    throw new ConfigError(`${PROPERTIES_FILE}: cannot read ${file}: ${(err as Error).message}`);
  }
  logger?.info({ file }, 'loaded properties file');
  return parseProperties(text, { file, created: false, ...(logger ? { logger } : {}) });
}

/** UTF-8 if the bytes are valid UTF-8, else ISO-8859-1 (what Java's Properties.load reads). */
function decodeText(bytes: Buffer): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return bytes.toString('latin1');
  }
}

/** Splits `PLUGTEST.<key>` into the base definition; undefined for unknown keys. */
function lookup(keys: ReadonlyMap<string, KeyDef>, name: string): { def: KeyDef; plugtest: boolean } | undefined {
  const def = keys.get(name);
  if (def) return { def, plugtest: false };
  if (name.startsWith(PLUGTEST_PREFIX)) {
    const base = keys.get(name.slice(PLUGTEST_PREFIX.length));
    if (base) return { def: base, plugtest: true };
  }
  return undefined;
}

/** Builds the configuration from a properties text (empty text = all defaults). Throws ConfigError on a bad value. */
export function parseProperties(text: string, options: ParseOptions = {}): Properties {
  const keys = options.keys ?? KEYS;
  // messages name the file as it is in the working directory, with the line: `Californium3.properties:12: ...`
  const source = basename(options.file ?? PROPERTIES_FILE);
  /** parsed file values; null = present but empty */
  const values = new Map<string, ConfigValue | null>();
  /** line of each key in the file (the last one wins, as for the value) */
  const lines = new Map<string, number>();
  const warnings: string[] = [];
  for (const entry of readPropertiesText(text)) {
    const found = lookup(keys, entry.key);
    if (!found) {
      const msg = `${source}: ignoring unknown key ${entry.key} (line ${entry.line})`;
      warnings.push(msg);
      options.logger?.warn({ key: entry.key, line: entry.line }, msg);
      continue;
    }
    // a PLUGTEST. key is validated with its base definition but reported under its own name
    const def = found.plugtest ? { ...found.def, name: entry.key } : found.def;
    values.set(entry.key, entry.value === '' ? null : parseValue(def, entry.value, `${source}:${entry.line}`));
    lines.set(entry.key, entry.line);
  }

  const resolve = (name: string): { def: KeyDef; value: ConfigValue | undefined } => {
    const found = lookup(keys, name);
    if (!found) throw new Error(`unknown configuration key ${name}`);
    const { def, plugtest } = found;
    const base = def.name;
    const fromFile = (k: string): ConfigValue | undefined => {
      const v = values.get(k);
      return v === null ? def.default : v;
    };
    if (plugtest) {
      const plugKey = PLUGTEST_PREFIX + base;
      if (values.has(plugKey)) return { def, value: fromFile(plugKey) };
      // a key with its own plugtest value keeps it; otherwise the plugtest server shares the key
      if (hasPlugtestVariant(def)) return { def, value: serverDefault(def, 'plugtest') };
    }
    if (values.has(base)) return { def, value: fromFile(base) };
    return { def, value: serverDefault(def, 'extended') };
  };
  const nameOf = (key: KeyRef): string => (typeof key === 'string' ? key : key.name);
  const forServer = (server: ServerKind, key: KeyRef): string =>
    server === 'plugtest' ? PLUGTEST_PREFIX + nameOf(key) : nameOf(key);
  const required = (server: ServerKind, key: KeyRef): { def: KeyDef; value: ConfigValue } => {
    const name = forServer(server, key);
    const { def, value } = resolve(name);
    if (value === undefined) {
      const line = lines.get(name);
      throw new ConfigError(
        line !== undefined ? `${source}:${line}: ${name}=: must not be empty` : `${source}: ${name} is not set (it must not be empty)`,
      );
    }
    return { def, value };
  };
  const typed = <V>(server: ServerKind, key: KeyRef, check: (v: ConfigValue) => v is V & ConfigValue, what: string): V => {
    const { def, value } = required(server, key);
    if (!check(value)) throw new Error(`configuration key ${def.name} is not ${what}`);
    return value;
  };

  return {
    file: options.file ?? source,
    created: options.created ?? false,
    warnings,
    get: <T>(key: KeyRef) => resolve(nameOf(key)).value as T | undefined,
    getFor: <T>(server: ServerKind, key: KeyRef) => resolve(forServer(server, key)).value as T | undefined,
    number: (key, server = 'extended') =>
      typed(server, key, (v): v is number => typeof v === 'number', 'a number'),
    boolean: (key, server = 'extended') =>
      typed(server, key, (v): v is boolean => typeof v === 'boolean', 'a boolean'),
    string: (key, server = 'extended') =>
      typed(server, key, (v): v is string => typeof v === 'string', 'a text'),
    inFile: (key) => values.has(nameOf(key)),
  };
}

/** One key as written to the file. */
interface WrittenKey {
  name: string;
  def: KeyDef;
  value: ConfigValue | undefined;
  plugtest: boolean;
}

/** The keys the file holds: every key with its extended value, plus `PLUGTEST.` keys where the servers differ. */
function writtenKeys(keys: ReadonlyMap<string, KeyDef>): WrittenKey[] {
  const out: WrittenKey[] = [];
  for (const def of keys.values()) {
    out.push({ name: def.name, def, value: serverDefault(def, 'extended'), plugtest: false });
    if (hasPlugtestVariant(def)) {
      out.push({ name: PLUGTEST_PREFIX + def.name, def, value: serverDefault(def, 'plugtest'), plugtest: true });
    }
  }
  const general = out.filter((k) => !k.name.includes('.')).sort(byName);
  const modules = out.filter((k) => k.name.includes('.')).sort(byName);
  return [...general, ...modules];
}

function byName(a: WrittenKey, b: WrittenKey): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/** Renders the default file: header, date, `#`, then per key its comments and `KEY=value`. */
export function renderProperties(date: Date = new Date(), keys: ReadonlyMap<string, KeyDef> = KEYS): string {
  const lines = [`# ${PROPERTIES_HEADER}`, `# ${date.toISOString()}`, '#'];
  for (const k of writtenKeys(keys)) {
    let doc = k.def.description;
    if (k.plugtest) {
      doc += `\nPlugtest server value; ${k.def.name} (without the ${PLUGTEST_PREFIX} prefix) is the extended server's value.`;
    } else if (hasPlugtestVariant(k.def)) {
      doc += `\nExtended server value; the plugtest server uses ${PLUGTEST_PREFIX}${k.def.name}.`;
    }
    if (k.def.default !== undefined) doc += `\nDefault: ${formatValue(k.def, k.def.default)}`;
    lines.push(...commentLines(doc));
    const value = k.value === undefined ? '' : escapeProperty(formatValue(k.def, k.value), false);
    lines.push(`${escapeProperty(k.name, true)}=${value}`);
  }
  return lines.join('\n') + '\n';
}

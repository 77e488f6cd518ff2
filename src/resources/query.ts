// Strict URI-query parsing (resources.md §1.1) with Californium's exact error texts.
import { Code, Format, type CoapMessage } from '../coap/message.js';
import { uriQuery } from '../coap/options.js';
import type { ResponseSpec } from '../coap/resource.js';

/** A flag parameter (`name`, value ignored). */
export interface FlagParam {
  kind: 'flag';
}

/** An integer parameter; `name` without `=` or absent uses `def`. */
export interface IntParam {
  kind: 'int';
  def: number;
  min?: number;
  max?: number;
  /** absent or value-less → 4.02 `Missing ...` */
  required?: boolean;
}

/** A text parameter; `name` without `=` or absent uses `def`. */
export interface StringParam {
  kind: 'string';
  def?: string;
  /** absent or value-less → 4.02 `Missing ...` */
  required?: boolean;
}

/** Declaration of one supported query parameter. */
export type QueryParam = FlagParam | IntParam | StringParam;

/** Supported parameters by name; values are validated in declaration order. */
export type QuerySpec = Record<string, QueryParam>;

type ValueOf<P> = P extends FlagParam ? boolean : P extends IntParam ? number : string | undefined;

/** Parsed values typed by the spec: flags boolean, ints number, strings string | undefined. */
export type QueryValues<S extends QuerySpec> = { [K in keyof S]: ValueOf<S[K]> };

/** Successful parse: typed values, the raw name→value map and the collected unsupported options. */
export interface ParsedQuery<S extends QuerySpec> {
  ok: true;
  values: QueryValues<S>;
  /** supported names given; value undefined when written without `=` */
  raw: Map<string, string | undefined>;
  /** unsupported options verbatim (only in collect mode) */
  unsupported: string[];
}

/** Failed parse: the 4.02 response to send. */
export interface QueryFailure {
  ok: false;
  response: ResponseSpec;
}

/** Options of parseQuery. */
export interface ParseOptions {
  /** collect unsupported options instead of failing (reverse resources) */
  collectUnsupported?: boolean;
  /** Content-Format of error responses; default text/plain, `null` = no Content-Format */
  errorFormat?: number | null;
}

/** A 4.02 BAD_OPTION response with a text payload. */
export function badOption(text: string, format: number | null = Format.TEXT): ResponseSpec {
  return format === null ? { code: Code.BAD_OPTION, payload: text } : { code: Code.BAD_OPTION, payload: text, format };
}

/** Java `Integer.parseInt` semantics: optional sign, decimal digits, 32-bit range. */
export function parseJavaInt(text: string): number | undefined {
  if (!/^[+-]?[0-9]+$/.test(text)) return undefined;
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < -2147483648 || n > 2147483647) return undefined;
  return n === 0 ? 0 : n;
}

/** Splits `name=value` / `name` / `name=` into name and value (undefined without `=`). */
export function splitQuery(option: string): [string, string | undefined] {
  const i = option.indexOf('=');
  return i < 0 ? [option, undefined] : [option.substring(0, i), option.substring(i + 1)];
}

/** Parses the query options against a spec; later duplicates overwrite earlier ones. */
export function parseQueryOptions<S extends QuerySpec>(
  queries: readonly string[],
  spec: S,
  opts: ParseOptions = {},
): ParsedQuery<S> | QueryFailure {
  const fail = (text: string): QueryFailure => ({
    ok: false,
    response: badOption(text, opts.errorFormat === undefined ? Format.TEXT : opts.errorFormat),
  });
  const raw = new Map<string, string | undefined>();
  const unsupported: string[] = [];
  for (const option of queries) {
    const [name, value] = splitQuery(option);
    if (!Object.prototype.hasOwnProperty.call(spec, name)) {
      if (opts.collectUnsupported) unsupported.push(option);
      else return fail(`URI-query-option '${option}' is not supported!`);
    } else {
      raw.set(name, value);
    }
  }
  const values: Record<string, boolean | number | string | undefined> = {};
  for (const [name, param] of Object.entries(spec)) {
    const given = raw.has(name);
    const value = raw.get(name);
    if (param.kind === 'flag') {
      values[name] = given;
      continue;
    }
    if (param.required) {
      if (!given) return fail(`Missing parameter '${name}' in URI-query-options!`);
      if (value === undefined) return fail(`Missing argument for URI-query-option '${name}'!`);
    }
    if (param.kind === 'string') {
      values[name] = value ?? param.def;
      continue;
    }
    let n = param.def;
    if (value !== undefined) {
      const parsed = parseJavaInt(value);
      if (parsed === undefined) return fail(`URI-query-option '${name}=${value}' is no number!`);
      n = parsed;
    }
    if (param.min !== undefined && n < param.min) {
      return fail(`URI-query-option '${name}=${n}' is less than ${param.min}!`);
    }
    if (param.max !== undefined && n > param.max) {
      return fail(`URI-query-option '${name}=${n}' is more than ${param.max}!`);
    }
    values[name] = n;
  }
  return { ok: true, values: values as QueryValues<S>, raw, unsupported };
}

/** Parses the Uri-Query options of a request against a spec (see parseQueryOptions). */
export function parseQuery<S extends QuerySpec>(
  request: CoapMessage,
  spec: S,
  opts: ParseOptions = {},
): ParsedQuery<S> | QueryFailure {
  return parseQueryOptions(uriQuery(request), spec, opts);
}

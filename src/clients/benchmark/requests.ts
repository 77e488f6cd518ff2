// Request construction of the benchmark (clients.md §3.3), built once and shared by all clients.
import { CON, NON, Code, Format, Opt, type CoapOption } from '../../coap/message.js';
import { encodeUint, sortOptions } from '../../coap/options.js';
import type { RequestSpec } from '../../coap/client-layer.js';
import type { ClientOptions } from '../common-options.js';
import type { BenchmarkSettings } from './options.js';
import { BENCHMARK_RESPONSE_TIMEOUT } from './defaults.js';

/** Hono payload used when no payload option is given (sent as is; `--payload-format` is not supported). */
export const HONO_PAYLOAD = '{"temp": %1$d }';

/** The prebuilt requests: the benchmark request, and for observe mode the registration and the cancel. */
export interface RequestSpecs {
  request: RequestSpec;
  observe: RequestSpec;
  cancel: RequestSpec;
}

/** Uri-Path segments and Uri-Query options of a URI. */
export function uriOptions(uri: URL): { path: string[]; query: string[] } {
  const path = decodeURIComponent(uri.pathname)
    .split('/')
    .filter((s) => s.length > 0);
  const query = uri.search.length > 1 ? uri.search.slice(1).split('&').filter((q) => q.length > 0).map(decodeURIComponent) : [];
  return { path, query };
}

/**
 * Builds the requests: POST (hono: PUT for coap, POST for coaps; observe mode: GET with Observe=0) to the URI incl. its
 * query, Accept 0 or the content type option (hono without payload: 50), Content-Format = Accept with a payload, CON
 * unless --non, the response timeout, and an early Block2 option with --blocksize.
 */
export function buildRequestSpecs(opts: ClientOptions, settings: BenchmarkSettings, nonLifetime: number): RequestSpecs {
  const secure = opts.uri.protocol === 'coaps:' || opts.uri.protocol === 'coaps+tcp:';
  let payload = opts.payload;
  let accept: number = Format.TEXT;
  let method: number = Code.POST;
  if (settings.hono) {
    method = secure ? Code.POST : Code.PUT;
    if (payload === undefined) {
      accept = Format.JSON;
      payload = Buffer.from(HONO_PAYLOAD, 'utf8');
    }
  } else if (settings.observe) {
    method = Code.GET;
  }
  if (opts.contentType !== undefined) accept = opts.contentType;
  const { path, query } = uriOptions(opts.uri);
  const base: CoapOption[] = [];
  for (const p of path) base.push({ number: Opt.URI_PATH, value: Buffer.from(p, 'utf8') });
  for (const q of query) base.push({ number: Opt.URI_QUERY, value: Buffer.from(q, 'utf8') });
  base.push({ number: Opt.ACCEPT, value: encodeUint(accept) });
  const withBody = method !== Code.GET && payload !== undefined && payload.length > 0;
  if (withBody) base.push({ number: Opt.CONTENT_FORMAT, value: encodeUint(accept) });
  const type = opts.con ? CON : NON;
  // NON requests live at most NON_LIFETIME (--timeout)
  const timeout = opts.con ? BENCHMARK_RESPONSE_TIMEOUT : Math.min(BENCHMARK_RESPONSE_TIMEOUT, nonLifetime);
  const blockSize = settings.blocksize;
  const spec = (m: number, extra: CoapOption[], body: Buffer | undefined): RequestSpec => ({
    method: m,
    type,
    options: sortOptions([...base, ...extra]),
    ...(body !== undefined ? { payload: body } : {}),
    ...(blockSize !== undefined ? { blockSize } : {}),
    timeout,
  });
  const getOptions = base.filter((o) => o.number !== Opt.CONTENT_FORMAT);
  const observeSpec = (value: number): RequestSpec => ({
    method: Code.GET,
    type,
    options: sortOptions([...getOptions, { number: Opt.OBSERVE, value: encodeUint(value) }]),
    ...(blockSize !== undefined ? { blockSize } : {}),
    timeout,
  });
  return {
    request: spec(method, [], withBody ? payload : undefined),
    observe: observeSpec(0),
    cancel: observeSpec(1),
  };
}

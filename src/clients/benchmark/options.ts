// Command line of the benchmark client (clients.md §3.2) on top of the common client options (§2).
import { clientParser, commonOptionDefinitions, toClientOptions, UsageError, type ClientOptions } from '../common-options.js';
import { MAX_BULK_BLOCKS } from '../../coap/bert.js';
import { isTcpScheme } from '../tcp-client.js';
import { DEFAULT_CLIENTS, DEFAULT_FEED_INTERVAL, DEFAULT_REQUESTS } from './defaults.js';

/** Reverse mode: n reverse responses per client sent by the feed resources, change interval min..max ms. */
export interface ReverseSettings {
  responses: number;
  min: number;
  max: number;
}

/** Observe mode: n notifications per client; re-register every r, cancel and register again every g. */
export interface ObserveSettings {
  notifies: number;
  reregister: number;
  register: number;
  proactive: boolean;
}

/** The benchmark settings besides the common client options. */
export interface BenchmarkSettings {
  clients: number;
  /** requests per client (≥ 1; 1 in observe mode) */
  requests: number;
  /** `--blocksize`: max message size, preferred block size and an early Block2 option */
  blocksize: number | undefined;
  /** `--bertblocks`: 1024-byte blocks per BERT message over coap+tcp/coaps+tcp (RFC 8323 §6); 1 = no BERT */
  bertBlocks: number | undefined;
  /** `--timeout`: COAP.NON_LIFETIME in ms */
  timeout: number | undefined;
  /** stop a client on errors (`--no-stop` = false) */
  stop: boolean;
  hono: boolean;
  /** pause between a response and the next request (ms) */
  interval: number;
  handshakesFull: number;
  handshakesClose: number;
  handshakesBurst: number;
  /** concurrent requests per client */
  nstart: number | undefined;
  reverse: ReverseSettings | undefined;
  observe: ObserveSettings | undefined;
  /** prefix of the per-client tags */
  tag: string;
}

/** Options of the benchmark client (numbers are read as text to report bad values exactly). */
export function benchmarkOptionDefinitions() {
  return {
    clients: { type: 'string', describe: `number of clients. Default ${DEFAULT_CLIENTS}.` },
    requests: { type: 'string', describe: `number of requests per client. Default ${DEFAULT_REQUESTS}.` },
    blocksize: { type: 'string', describe: 'use blocksize [16, 32, ..., 1024]. Default 1024.' },
    bertblocks: { type: 'string', describe: `TCP BERT (RFC 8323): max message size and block size 1024, n blocks per message (1..${MAX_BULK_BLOCKS}; coap+tcp and coaps+tcp only).` },
    timeout: { type: 'string', describe: 'timeout of NON requests in milliseconds (COAP.NON_LIFETIME).' },
    stop: { type: 'boolean', default: true, describe: 'stop a client on errors; --no-stop continues and counts them.' },
    hono: { type: 'boolean', describe: 'send hono requests. Default env COAP_HONO.' },
    interval: { type: 'string', describe: 'interval in milliseconds between a response and the next request. Default env COAP_REQUEST_INTERVAL, else 0.' },
    'handshakes-full': { type: 'string', describe: 'every n-th response forces a full handshake (coaps: DTLS; coaps+tcp: a new TLS connection without resumption). Default env COAPS_HANDSHAKES_FULL.' },
    'handshakes-close': { type: 'string', describe: 'every n-th response closes the connection (coaps: DTLS close_notify; coaps+tcp: TCP Release, the next TLS handshake resumes the session). Default env COAPS_HANDSHAKES_CLOSE.' },
    'handshakes-burst': { type: 'string', describe: 'number of closes or full handshakes in sequence. Default env COAPS_HANDSHAKES_BURST.' },
    nstart: { type: 'string', describe: 'number of concurrent requests per client.' },
    reverse: { type: 'string', describe: 'reverse mode: number of reverse responses per client.' },
    min: { alias: 'mininterval', type: 'string', describe: 'minimal interval of reverse responses (ms).' },
    max: { alias: 'maxinterval', type: 'string', describe: 'maximal interval of reverse responses (ms).' },
    notifies: { type: 'string', describe: 'observe mode: number of notifies per client.' },
    reregister: { type: 'string', describe: 'number of notifies to re-register the observation.' },
    register: { type: 'string', describe: 'number of notifies to cancel and register the observation again.' },
    'cancel-proactive': { type: 'boolean', describe: 'cancel the observation proactive (GET Observe=1). Default reactive (RST).' },
  } as const;
}

const EXAMPLES = [
  'Examples:',
  '  $0 coap://localhost:5783/benchmark?rlen=200 --clients 500 --requests 2000',
  '  (500 clients each sending about 2000 requests; the responses have 200 bytes payload.)',
  '  $0 coap://localhost:5783/reverse-observe?obs=25&res=feed-CON&timeout=10&rlen=400 \\',
  '     --clients 50 --requests 2 --reverse 500 --min 2000',
  '  (50 clients each sending 2 requests and waiting for about 500 notifies each.)',
].join('\n');

/** Parses an option value like picocli does for `int` options. */
export function intOption(name: string, raw: unknown): number | undefined {
  if (raw === undefined) return undefined;
  const text = String(Array.isArray(raw) ? raw[raw.length - 1] : raw);
  if (!/^[+-]?\d+$/.test(text.trim())) throw new UsageError(`Invalid value for option '--${name}': '${text}' is not an int`);
  const n = Number(text.trim());
  if (!Number.isSafeInteger(n) || n < -2147483648 || n > 2147483647) throw new UsageError(`Invalid value for option '--${name}': '${text}' is not an int`);
  return n;
}

/** `--blocksize`: a power of two in 16..1024, with the reference's error text. */
export function blocksizeOption(raw: unknown): number | undefined {
  const n = intOption('blocksize', raw);
  if (n === undefined) return undefined;
  if (n < 16 || n > 1024 || (n & (n - 1)) !== 0) {
    throw new UsageError(`Invalid value '${n}' for option '--blocksize': value is not [16, 32, ..., 1024].`);
  }
  return n;
}

/** `--bertblocks`: 1..MAX_BULK_BLOCKS 1024-byte blocks per BERT message. */
export function bertblocksOption(raw: unknown): number | undefined {
  const n = intOption('bertblocks', raw);
  if (n === undefined) return undefined;
  if (n < 1 || n > MAX_BULK_BLOCKS) throw new UsageError(`Invalid value '${n}' for option '--bertblocks': value is not [1, ..., ${MAX_BULK_BLOCKS}].`);
  return n;
}

/** Integer from the environment (ignored when absent or not a number). */
export function envInt(env: NodeJS.ProcessEnv, name: string): number | undefined {
  const text = env[name]?.trim();
  if (text === undefined || !/^[+-]?\d+$/.test(text)) return undefined;
  return Number(text);
}

/** Min/max defaults of reverse mode: none → 100/100, one → both, swapped if max < min. */
export function reverseInterval(min: number | undefined, max: number | undefined): { min: number; max: number } {
  if (min === undefined && max === undefined) return { min: DEFAULT_FEED_INTERVAL, max: DEFAULT_FEED_INTERVAL };
  if (max === undefined) return { min: min!, max: min! };
  if (min === undefined) return { min: max, max };
  return max < min ? { min: max, max: min } : { min, max };
}

/** Builds the benchmark settings from parsed arguments and the environment. */
export function toBenchmarkSettings(argv: Record<string, unknown>, env: NodeJS.ProcessEnv): BenchmarkSettings {
  const blocksize = blocksizeOption(argv.blocksize);
  const bertBlocks = bertblocksOption(argv.bertblocks);
  if (blocksize !== undefined && bertBlocks !== undefined) {
    throw new UsageError('--blocksize and --bertblocks are mutually exclusive (--bertblocks uses blocks of 1024 bytes)');
  }
  const reverseCount = intOption('reverse', argv.reverse);
  const notifies = intOption('notifies', argv.notifies);
  if (reverseCount !== undefined && notifies !== undefined) {
    throw new UsageError('--reverse and --notifies are mutually exclusive (specify only one)');
  }
  const min = intOption('min', argv.min);
  const max = intOption('max', argv.max);
  if (reverseCount === undefined && (min !== undefined || max !== undefined)) throw new UsageError('--min and --max need --reverse');
  const reregister = intOption('reregister', argv.reregister);
  const register = intOption('register', argv.register);
  const proactive = argv['cancel-proactive'] === true;
  if (notifies === undefined && (reregister !== undefined || register !== undefined || proactive)) {
    throw new UsageError('--reregister, --register and --cancel-proactive need --notifies');
  }
  const clients = intOption('clients', argv.clients) ?? DEFAULT_CLIENTS;
  if (clients < 1) throw new UsageError(`Invalid value for option '--clients': ${clients} is less than 1`);
  let requests = intOption('requests', argv.requests) ?? DEFAULT_REQUESTS;
  if (requests < 1) requests = 1;
  const observe = notifies !== undefined ? { notifies, reregister: reregister ?? 0, register: register ?? 0, proactive } : undefined;
  // observe mode: one registration per client, the rest are notifications (as the reference)
  if (observe) requests = 1;
  const nstart = intOption('nstart', argv.nstart);
  if (nstart !== undefined && nstart < 1) throw new UsageError(`Invalid value for option '--nstart': ${nstart} is less than 1`);
  const timeout = intOption('timeout', argv.timeout);
  if (timeout !== undefined && timeout < 0) throw new UsageError(`Invalid value for option '--timeout': ${timeout} is negative`);
  const hono = argv.hono !== undefined ? argv.hono === true : (env.COAP_HONO ?? '').trim().toLowerCase() === 'true';
  return {
    clients,
    requests,
    blocksize,
    bertBlocks,
    timeout,
    stop: argv.stop !== false,
    hono,
    interval: Math.max(0, intOption('interval', argv.interval) ?? envInt(env, 'COAP_REQUEST_INTERVAL') ?? 0),
    handshakesFull: Math.max(0, intOption('handshakes-full', argv['handshakes-full']) ?? envInt(env, 'COAPS_HANDSHAKES_FULL') ?? 0),
    handshakesClose: Math.max(0, intOption('handshakes-close', argv['handshakes-close']) ?? envInt(env, 'COAPS_HANDSHAKES_CLOSE') ?? 0),
    handshakesBurst: Math.max(0, intOption('handshakes-burst', argv['handshakes-burst']) ?? envInt(env, 'COAPS_HANDSHAKES_BURST') ?? 0),
    nstart,
    reverse: reverseCount !== undefined ? { responses: Math.max(0, reverseCount), ...reverseInterval(min, max) } : undefined,
    observe,
    tag: typeof argv.tag === 'string' ? argv.tag : 'client-',
  };
}

/** Parsed command line: the common client options and the benchmark settings; undefined after --help/--version. */
export interface BenchmarkCommandLine {
  client: ClientOptions;
  settings: BenchmarkSettings;
}

/** The benchmark was started without a destination: a load tool never falls back to a default (public) host. */
export class MissingUriError extends UsageError {
  /** the usage text to print with the message */
  readonly usage: string;

  constructor(usage: string) {
    super('Missing destination URI: the benchmark client needs the server to load, e.g. coap://localhost:5783/benchmark?rlen=40');
    this.usage = usage;
  }
}

/** The request method the benchmark sends (§3.3), for `--help`: `-m/--method` does not change it. */
export const METHOD_HELP =
  'not used by the benchmark: it sends POST (GET with Observe in --notifies mode; PUT for coap and POST for coaps in --hono mode)';

/** Parses the command line (throws UsageError for bad options, MissingUriError without a destination URI). */
export function parseBenchmarkArgs(args: string[], env: NodeJS.ProcessEnv, version: string, print: (text: string) => void): BenchmarkCommandLine | undefined {
  let output = '';
  // -m/--method is redefined below with the method the benchmark really sends
  const { method: _method, ...definitions } = commonOptionDefinitions();
  const parser = clientParser(
    args,
    'benchmark-client',
    'Usage: $0 [options] <uri>\n\nStarts many CoAP clients sending requests in parallel to the destination <uri> (required, there is no ' +
      'default server) and prints statistics (POST requests by default, observe or reverse modes).',
    version,
    definitions,
  )
    .options(benchmarkOptionDefinitions())
    .option('method', { alias: 'm', type: 'string', default: undefined, defaultDescription: 'POST', describe: METHOD_HELP })
    .epilogue(EXAMPLES);
  const argv = parser.parseSync(args, {}, (_err, _argv, out) => {
    output = out;
  }) as Record<string, unknown>;
  if (argv.help || argv.version) {
    if (output) print(output + '\n');
    return undefined;
  }
  const positional = (argv._ as unknown[] | undefined) ?? [];
  if (positional.length === 0) {
    let usage = '';
    parser.showHelp((text) => {
      usage = text;
    });
    throw new MissingUriError(usage);
  }
  const client = toClientOptions(argv);
  const settings = toBenchmarkSettings(argv, env);
  if (settings.bertBlocks !== undefined && !isTcpScheme(client.uri)) {
    throw new UsageError(`--bertblocks: BERT (RFC 8323 §6) needs a coap+tcp or coaps+tcp URI, not ${client.uri.protocol.slice(0, -1)}`);
  }
  const scheme = client.uri.protocol.slice(0, -1);
  if (scheme !== 'coaps' && scheme !== 'coaps+tcp') {
    // the COAPS_HANDSHAKES_* environment defaults apply to secure runs only; a flag on a plain URI is a mistake
    for (const flag of ['handshakes-full', 'handshakes-close', 'handshakes-burst']) {
      if (argv[flag] !== undefined) throw new UsageError(`--${flag}: forced handshakes need a coaps or coaps+tcp URI, not ${scheme}`);
    }
  }
  return { client, settings };
}

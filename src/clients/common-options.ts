// The options every client shares (clients.md §2): destination, DTLS credentials, payload and content type.
import fs from 'node:fs';
import yargs, { type Argv } from 'yargs';
import { randomBytes } from 'node:crypto';
import { Code, Format } from '../coap/message.js';
import { parseTime } from '../config/time.js';
import { cipherSuiteByName } from '../dtls/cipher-suites.js';

/** Authentication modes of `-a/--auth`. */
export type AuthMode = 'NONE' | 'PSK' | 'RPK' | 'X509' | 'ECDHE_PSK';

/** Parsed common client options. */
export interface ClientOptions {
  uri: URL;
  method: number;
  con: boolean;
  verbose: boolean;
  localPort: number;
  /** Content-Format / Accept for --json etc. */
  contentType: number | undefined;
  payload: Buffer | undefined;
  payloadFormat: boolean;
  auth: AuthMode[];
  identity: string | undefined;
  secret: Buffer | undefined;
  pskStore: string | undefined;
  pskIndex: number;
  cipherSuites: string[] | undefined;
  cidLength: number | undefined;
  recordSize: number | undefined;
  mtu: number | undefined;
  extendedMasterSecret: 'NONE' | 'OPTIONAL' | 'ENABLED' | 'REQUIRED' | undefined;
  cert: string | undefined;
  privateKey: string | undefined;
  anonymous: boolean;
  trusts: string | undefined;
  trustAll: boolean;
  subjectVerification: boolean;
}

const METHODS: Record<string, number> = { GET: Code.GET, POST: Code.POST, PUT: Code.PUT, DELETE: Code.DELETE, FETCH: Code.FETCH, PATCH: Code.PATCH, IPATCH: Code.IPATCH };
const CTYPES: Record<string, number> = { TEXT: Format.TEXT, XML: Format.XML, JSON: Format.JSON, CBOR: Format.CBOR, OCTETS: Format.OCTETS, LINK: Format.LINK };

/** Options refused with a reason until their feature exists. */
export const REFUSED_CLIENT_OPTIONS: Record<string, string> = {
  proxy: 'sending through a CoAP proxy is not supported by this client',
  'dtls-auto-handshake': 'automatic re-handshakes are not supported by this client',
  sni: 'server name indication is not supported by this client',
  config: 'client properties files are not supported by this client; use the command line options',
  'payload-format': 'payload formatting is not supported by this client',
};

/** yargs option definitions of the common client options. */
export function commonOptionDefinitions() {
  return {
    method: { alias: 'm', type: 'string', default: 'GET', describe: 'request method (GET, POST, PUT, DELETE, FETCH, PATCH, IPATCH)' },
    con: { type: 'boolean', describe: 'send a CON request (default)' },
    non: { type: 'boolean', describe: 'send a NON request' },
    verbose: { alias: 'v', type: 'boolean', default: false, describe: 'trace the messages' },
    'local-port': { type: 'number', default: 0, describe: 'local port (default ephemeral)' },
    json: { type: 'boolean', describe: 'content type application/json' },
    cbor: { type: 'boolean', describe: 'content type application/cbor' },
    xml: { type: 'boolean', describe: 'content type application/xml' },
    text: { type: 'boolean', describe: 'content type text/plain' },
    octets: { type: 'boolean', describe: 'content type application/octet-stream' },
    ctype: { type: 'string', describe: 'content type: TEXT, XML, JSON, CBOR, OCTETS, LINK or a number' },
    payload: { type: 'string', describe: 'payload text' },
    payloadhex: { type: 'string', describe: 'payload in hex' },
    payload64: { type: 'string', describe: 'payload in base64' },
    'payload-random': { type: 'number', describe: 'payload of n random printable characters' },
    'payload-file': { type: 'string', describe: 'payload from a file' },
    'payload-format': { type: 'boolean', describe: 'apply %1$d (counter) and %2$d (epoch seconds) to the payload' },
    auth: { alias: 'a', type: 'string', describe: 'authentication: NONE, PSK, RPK, X509, ECDHE_PSK (":" separated)' },
    identity: { alias: 'i', type: 'string', describe: 'PSK identity' },
    secret: { alias: 's', type: 'string', describe: 'PSK secret (UTF-8)' },
    secrethex: { type: 'string', describe: 'PSK secret (hex)' },
    secret64: { type: 'string', describe: 'PSK secret (base64)' },
    'psk-store': { type: 'string', describe: 'PSK credentials file, lines identity=base64secret' },
    'psk-index': { type: 'number', default: 0, describe: 'index of the identity in the PSK store' },
    cipher: { type: 'string', describe: 'cipher suites, ":" separated' },
    'cid-length': { type: 'number', describe: 'DTLS connection id length (0: support CID without using it)' },
    'record-size': { type: 'number', describe: 'DTLS record size limit' },
    mtu: { type: 'number', describe: 'MTU (record size + 64 + 20 + 13 + CID length)' },
    'extended-master-secret': { type: 'string', describe: 'NONE, OPTIONAL, ENABLED or REQUIRED' },
    cert: { alias: 'c', type: 'string', describe: 'client certificate chain (PEM)' },
    'private-key': { type: 'string', describe: 'client private key (PEM)' },
    anonymous: { type: 'boolean', default: false, describe: 'no client certificate' },
    trusts: { alias: 't', type: 'string', describe: 'trust anchors (PEM)' },
    'trust-all': { type: 'boolean', default: false, describe: 'trust all valid server certificates' },
    'subject-verification': { type: 'boolean', default: false, describe: 'verify the server certificate subject' },
    proxy: { type: 'string', describe: 'send via a CoAP proxy (not supported)' },
    'dtls-auto-handshake': { type: 'string', describe: 'automatic re-handshake after idle time (not supported)' },
    sni: { type: 'boolean', describe: 'server name indication (not supported)' },
    config: { alias: 'C', type: 'string', describe: 'properties file (not supported)' },
    tag: { type: 'string', describe: 'logging tag' },
  } as const;
}

/** Raised for a bad option value (exit status 255). */
export class UsageError extends Error {}

/** A yargs parser with the common options and the settings every client shares (strict options, UsageError). */
export function clientParser(
  argv: readonly string[],
  name: string,
  usage: string,
  version: string,
  definitions: Partial<ReturnType<typeof commonOptionDefinitions>> = commonOptionDefinitions(),
): Argv {
  return yargs([...argv])
    .scriptName(name)
    .usage(usage)
    .options(definitions)
    .version(version)
    .alias('V', 'version')
    .alias('h', 'help')
    .strictOptions()
    .exitProcess(false)
    .fail((msg, err) => {
      throw new UsageError(msg ?? err?.message ?? 'invalid arguments');
    })
    .wrap(Math.min(110, process.stdout.columns ?? 110));
}

/** Builds ClientOptions from parsed yargs arguments. */
export function toClientOptions(argv: Record<string, unknown>, defaultUri = 'californium.eclipseprojects.io'): ClientOptions {
  for (const [name, reason] of Object.entries(REFUSED_CLIENT_OPTIONS)) {
    if (argv[name] !== undefined && argv[name] !== false) throw new UsageError(`--${name}: ${reason}`);
  }
  const auth = (argv.auth ? String(argv.auth).toUpperCase().split(':') : []) as AuthMode[];
  for (const a of auth) {
    if (!['NONE', 'PSK', 'RPK', 'X509', 'ECDHE_PSK'].includes(a)) throw new UsageError(`--auth: unknown mode '${a}'`);
  }
  const positional = (argv._ as unknown[] | undefined)?.map(String) ?? [];
  if (positional.length > 1) throw new UsageError(`only one destination URI expected, got ${positional.join(' ')}`);
  let text = positional[0] ?? defaultUri;
  if (!/^[a-z+]+:\/\//i.test(text)) text = (auth.length > 0 && !auth.includes('NONE') ? 'coaps://' : 'coap://') + text;
  let uri: URL;
  try {
    uri = new URL(text);
  } catch {
    throw new UsageError(`invalid destination URI '${text}'`);
  }
  if (!['coap:', 'coaps:', 'coap+tcp:', 'coaps+tcp:'].includes(uri.protocol)) {
    throw new UsageError(`scheme '${uri.protocol.slice(0, -1)}' is not supported (coap, coaps, coap+tcp and coaps+tcp are)`);
  }
  const methodName = String(argv.method ?? 'GET').toUpperCase();
  const method = METHODS[methodName];
  if (method === undefined) throw new UsageError(`--method: unknown method '${argv.method}'`);
  if (argv.con && argv.non) throw new UsageError('--con and --non exclude each other');
  return {
    uri,
    method,
    con: !argv.non,
    verbose: Boolean(argv.verbose),
    localPort: Number(argv['local-port'] ?? 0),
    contentType: contentTypeOf(argv),
    payload: payloadOf(argv),
    payloadFormat: Boolean(argv['payload-format']),
    auth,
    identity: argv.identity as string | undefined,
    secret: secretOf(argv),
    pskStore: argv['psk-store'] as string | undefined,
    pskIndex: Number(argv['psk-index'] ?? 0),
    cipherSuites: ciphersOf(argv.cipher as string | undefined),
    cidLength: argv['cid-length'] as number | undefined,
    recordSize: argv['record-size'] as number | undefined,
    mtu: argv.mtu as number | undefined,
    extendedMasterSecret: emsOf(argv['extended-master-secret'] as string | undefined),
    cert: argv.cert as string | undefined,
    privateKey: argv['private-key'] as string | undefined,
    anonymous: Boolean(argv.anonymous),
    trusts: argv.trusts as string | undefined,
    trustAll: Boolean(argv['trust-all']),
    subjectVerification: Boolean(argv['subject-verification']),
  };
}

function contentTypeOf(argv: Record<string, unknown>): number | undefined {
  const flags = (['json', 'cbor', 'xml', 'text', 'octets'] as const).filter((f) => argv[f]);
  if (flags.length + (argv.ctype !== undefined ? 1 : 0) > 1) throw new UsageError('only one content type option may be given');
  if (flags.length === 1) return CTYPES[flags[0]!.toUpperCase()];
  if (argv.ctype === undefined) return undefined;
  const t = String(argv.ctype).toUpperCase();
  if (CTYPES[t] !== undefined) return CTYPES[t];
  if (/^\d+$/.test(t) && Number(t) <= 0xffff) return Number(t);
  throw new UsageError(`--ctype: unknown content type '${argv.ctype}'`);
}

function payloadOf(argv: Record<string, unknown>): Buffer | undefined {
  const given = ['payload', 'payloadhex', 'payload64', 'payload-random', 'payload-file'].filter((k) => argv[k] !== undefined);
  if (given.length > 1) throw new UsageError(`only one payload option may be given (${given.map((g) => '--' + g).join(', ')})`);
  if (argv.payload !== undefined) return Buffer.from(String(argv.payload), 'utf8');
  if (argv.payloadhex !== undefined) {
    const hex = String(argv.payloadhex);
    if (!/^([0-9a-f]{2})*$/i.test(hex)) throw new UsageError(`--payloadhex: '${hex}' is no hex string`);
    return Buffer.from(hex, 'hex');
  }
  if (argv.payload64 !== undefined) return Buffer.from(String(argv.payload64), 'base64');
  if (argv['payload-random'] !== undefined) return randomPrintable(Number(argv['payload-random']));
  if (argv['payload-file'] !== undefined) {
    try {
      return fs.readFileSync(String(argv['payload-file']));
    } catch (err) {
      throw new UsageError(`--payload-file: ${(err as Error).message}`);
    }
  }
  return undefined;
}

/** n random printable ASCII characters (0x20-0x7E). */
export function randomPrintable(n: number): Buffer {
  const b = randomBytes(n);
  for (let i = 0; i < n; i++) b[i] = 0x20 + (b[i]! % 95);
  return b;
}

function secretOf(argv: Record<string, unknown>): Buffer | undefined {
  if (argv.secret !== undefined) return Buffer.from(String(argv.secret), 'utf8');
  if (argv.secrethex !== undefined) {
    const hex = String(argv.secrethex).replace(/^0x/i, '');
    if (!/^([0-9a-f]{2})+$/i.test(hex)) throw new UsageError(`--secrethex: '${argv.secrethex}' is no hex string`);
    return Buffer.from(hex, 'hex');
  }
  if (argv.secret64 !== undefined) return Buffer.from(String(argv.secret64), 'base64');
  return undefined;
}

function ciphersOf(text: string | undefined): string[] | undefined {
  if (text === undefined) return undefined;
  const names = text.split(/[:,]/).filter((s) => s.length > 0);
  for (const n of names) if (!cipherSuiteByName(n)) throw new UsageError(`--cipher: unknown cipher suite '${n}'`);
  return names;
}

function emsOf(text: string | undefined): ClientOptions['extendedMasterSecret'] {
  if (text === undefined) return undefined;
  const t = text.toUpperCase();
  if (t === 'NONE' || t === 'OPTIONAL' || t === 'ENABLED' || t === 'REQUIRED') return t;
  throw new UsageError(`--extended-master-secret: unknown mode '${text}'`);
}

/** Parses a time option like `30[s]`. */
export function timeOption(name: string, text: string): number {
  try {
    return parseTime(text);
  } catch {
    throw new UsageError(`--${name}: invalid time '${text}'`);
  }
}

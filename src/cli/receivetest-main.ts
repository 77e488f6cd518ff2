#!/usr/bin/env node
// The `receivetest-client` executable: one POST to `/requests` and the device's request history printed (clients.md §6).
import { CoapEndpoint } from '../coap/endpoint.js';
import { DEFAULT_STACK_CONFIG, type CoapStackConfig } from '../coap/stack-config.js';
import { request } from '../coap/client-layer.js';
import { CON, Code, NON, type CoapMessage } from '../coap/message.js';
import { clientParser, commonOptionDefinitions, toClientOptions, UsageError, type ClientOptions } from '../clients/common-options.js';
import { createClientTransport } from '../clients/transport.js';
import { UUID_FILE, loadDeviceId } from '../clients/receivetest/device-id.js';
import { DEFAULT_HOST, REQUESTS_PATH, receivetestTarget } from '../clients/receivetest/target.js';
import { NO_RESPONSE, responseOutput } from '../clients/receivetest/output.js';
import { packageVersion } from '../server/version.js';

const EXIT_USAGE = 255;
/** Response timeout of NON requests when --timeout is not given (CON requests end with their retransmissions). */
const NON_TIMEOUT_MS = 30_000;

/** Stack settings of the receive test client (clients.md §6). */
const RECEIVETEST_STACK_CONFIG: CoapStackConfig = {
  ...DEFAULT_STACK_CONFIG,
  maxResourceBodySize: 8192,
  maxMessageSize: 1024,
  preferredBlockSize: 1024,
  maxActivePeers: 10,
};

interface Args {
  resetUuid: boolean;
  timeout: number | undefined;
}

function parse(argv: string[]): { opts: ClientOptions; extra: Args } | undefined {
  const { method: _method, ...definitions } = commonOptionDefinitions();
  const parser = clientParser(
    argv,
    'receivetest-client',
    'Usage: $0 [options] [<uri>]\n\n' +
      'Sends one POST to /requests of the (extended) test server and prints the request history of this device.\n' +
      `Example: $0 coap://${DEFAULT_HOST}:5783`,
    packageVersion(),
    definitions,
  )
    .option('verbose', { ...definitions.verbose, describe: 'list the history decoded (JSON and CBOR responses)' })
    .option('reset-uuid', { type: 'boolean', default: false, describe: `create a new device id (${UUID_FILE})` })
    .option('timeout', { type: 'number', describe: 'response timeout in ms (default: CON until the retransmissions end, NON 30000)' });
  const args = parser.parseSync() as Record<string, unknown>;
  if (args.help || args.version) return undefined;
  const timeout = args.timeout === undefined ? undefined : Number(args.timeout);
  if (timeout !== undefined && !(timeout > 0)) throw new UsageError(`--timeout: invalid time '${String(args.timeout)}'`);
  return { opts: toClientOptions(args), extra: { resetUuid: Boolean(args['reset-uuid']), timeout } };
}

async function main(): Promise<number> {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n(see --help)\n`);
    return EXIT_USAGE;
  }
  if (!parsed) return 0;
  const { opts, extra } = parsed;
  const device = loadDeviceId(process.cwd(), extra.resetUuid);
  const preview = receivetestTarget(opts.uri, device.id, Date.now());
  if (preview.extra !== undefined) process.stdout.write(`extra: ${preview.extra}\n`);
  const transport = await createClientTransport({ ...opts, uri: preview.base });
  const ep = new CoapEndpoint({ connector: transport.connector, config: RECEIVETEST_STACK_CONFIG });
  await ep.start();
  const ctx = await transport.resolve();
  const started = performance.now();
  // the request id carries the send time
  const target = receivetestTarget(opts.uri, device.id, Date.now());
  const output = await new Promise<string>((resolve) => {
    request(
      ep,
      {
        method: Code.POST,
        type: opts.con ? CON : NON,
        path: [REQUESTS_PATH],
        query: target.query,
        payload: opts.payload,
        format: opts.payload !== undefined ? opts.contentType : undefined,
        accept: opts.contentType,
        timeout: extra.timeout ?? (opts.con ? undefined : NON_TIMEOUT_MS),
      },
      ctx,
      {
        onResponse: (m: CoapMessage) => resolve(responseOutput(m, Math.floor(performance.now() - started), opts.verbose)),
        onError: () => resolve(NO_RESPONSE + '\n'),
      },
    );
  });
  process.stdout.write(output);
  await ep.stop();
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`${(err as Error).message}\n`);
    process.exit(1);
  },
);

#!/usr/bin/env node
// The `receivetest-client` executable: one POST to `/requests` and the device's request history printed (clients.md §6).
import { CoapEndpoint } from '../coap/endpoint.js';
import { DEFAULT_STACK_CONFIG, type CoapStackConfig } from '../coap/stack-config.js';
import { request, type ClientExchange } from '../coap/client-layer.js';
import { CON, Code, NON, type CoapMessage } from '../coap/message.js';
import { clientParser, commonOptionDefinitions, toClientOptions, UsageError, type ClientOptions } from '../clients/common-options.js';
import type { ConnectionRefusedError } from '../clients/connected-transport.js';
import { createClientTransport } from '../clients/transport.js';
import { UUID_FILE, loadDeviceId } from '../clients/receivetest/device-id.js';
import { DEFAULT_HOST, REQUESTS_PATH, receivetestTarget } from '../clients/receivetest/target.js';
import { NO_RESPONSE, responseOutput } from '../clients/receivetest/output.js';
import { packageVersion } from '../server/version.js';

const EXIT_USAGE = 255;
/** Exit status when no response arrived (timeout, reset, refused destination). */
const EXIT_NO_RESPONSE = 1;
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
  // the receive test always POSTs (no --method); -v is defined once below with its own meaning
  const { method: _method, verbose, ...definitions } = commonOptionDefinitions();
  const parser = clientParser(
    argv,
    'receivetest-client',
    'Usage: $0 [options] [<uri>]\n\n' +
      'Sends one POST to /requests of the (extended) test server and prints the request history of this device.\n' +
      `Example: $0 coap://${DEFAULT_HOST}:5783`,
    packageVersion(),
    definitions,
  )
    .option('verbose', { ...verbose, describe: 'list the history decoded (JSON and CBOR responses)' })
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
  let refused: ConnectionRefusedError | undefined;
  let finish: ((output: string | undefined) => void) | undefined;
  const transport = await createClientTransport(
    { ...opts, uri: preview.base },
    {
      onRefused: (err) => {
        if (refused !== undefined || finish === undefined) return;
        refused = err;
        finish(undefined);
      },
    },
  );
  const ep = new CoapEndpoint({ connector: transport.connector, config: RECEIVETEST_STACK_CONFIG });
  try {
    await ep.start();
  } catch (err) {
    // coap+tcp, coaps+tcp: the connection failed (refused, TLS handshake, connect timeout)
    process.stdout.write(NO_RESPONSE + '\n');
    process.stderr.write(`${preview.text}: ${(err as Error).message}\n`);
    return EXIT_NO_RESPONSE;
  }
  const started = performance.now();
  // the request id carries the send time
  const target = receivetestTarget(opts.uri, device.id, Date.now());
  let ex: ClientExchange | undefined;
  const output = await new Promise<string | undefined>((resolve) => {
    finish = resolve;
    ex = request(
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
      transport.destination,
      {
        onResponse: (m: CoapMessage) => resolve(responseOutput(m, Math.floor(performance.now() - started), opts.verbose)),
        onError: () => resolve(undefined),
      },
    );
  });
  finish = undefined;
  ex?.cancel();
  await ep.stop();
  if (output !== undefined) {
    process.stdout.write(output);
    return 0;
  }
  process.stdout.write(NO_RESPONSE + '\n');
  if (refused) process.stderr.write(`${target.text}: ${refused.message}\n`);
  return EXIT_NO_RESPONSE;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`${(err as Error).message}\n`);
    process.exit(1);
  },
);

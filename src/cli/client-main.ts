#!/usr/bin/env node
// The `extplugtest-client` executable: one CoAP request (or an observation) and its response printed.
import { CoapEndpoint } from '../coap/endpoint.js';
import { DEFAULT_STACK_CONFIG } from '../coap/stack-config.js';
import { request } from '../coap/client-layer.js';
import { Code, type CoapMessage } from '../coap/message.js';
import type { EndpointContext } from '../transport/connector.js';
import { clientParser, toClientOptions, UsageError, type ClientOptions } from '../clients/common-options.js';
import { messageLines } from '../clients/print.js';
import { createClientTransport, describeSession } from '../clients/transport.js';
import { packageVersion } from '../server/version.js';

const EXIT_USAGE = 255;

interface Args {
  observe?: number;
  timeout: number;
}

function parse(argv: string[]): { opts: ClientOptions; extra: Args } | undefined {
  const parser = clientParser(
    argv,
    'extplugtest-client',
    'Usage: $0 [options] <uri>\n\nSends one CoAP request and prints the response. Example:\n  $0 -m GET -i Client_identity -s secretPSK --cid-length 6 coaps://127.0.0.1:5784/mycontext',
    packageVersion(),
  )
    .option('observe', { type: 'number', describe: 'observe the resource and print this many notifications (then cancel)' })
    .option('timeout', { type: 'number', default: 30_000, describe: 'response timeout in ms' });
  const args = parser.parseSync() as Record<string, unknown>;
  if (args.help || args.version) return undefined;
  return { opts: toClientOptions(args), extra: { observe: args.observe as number | undefined, timeout: Number(args.timeout) } };
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
  const transport = await createClientTransport(opts);
  const ep = new CoapEndpoint({ connector: transport.connector, config: { ...DEFAULT_STACK_CONFIG, maxMessageSize: 1024, preferredBlockSize: 1024 } });
  await ep.start();
  const ctx: EndpointContext = await transport.resolve();
  const path = decodeURIComponent(opts.uri.pathname).split('/').filter((s) => s.length > 0);
  const query = opts.uri.search.length > 1 ? opts.uri.search.slice(1).split('&').map(decodeURIComponent) : [];
  const withBody = opts.method === Code.POST || opts.method === Code.PUT || opts.method === Code.FETCH || opts.method === Code.PATCH || opts.method === Code.IPATCH;
  const print = (prefix: string, m: CoapMessage) => {
    process.stdout.write(`${prefix}\n${messageLines(m).join('\n')}\n`);
  };
  let status = 0;
  await new Promise<void>((resolve) => {
    let notifications = 0;
    const ex = request(
      ep,
      {
        method: opts.method,
        type: opts.con ? 0 : 1,
        path,
        query,
        payload: opts.payload,
        format: opts.payload !== undefined || withBody ? opts.contentType : undefined,
        accept: opts.contentType,
        observe: extra.observe !== undefined ? 0 : undefined,
        timeout: extra.timeout,
      },
      ctx,
      {
        onResponse: (m, rctx) => {
          const session = describeSession(rctx);
          if (session) process.stdout.write(session + '\n');
          print('Response:', m);
          if (extra.observe === undefined || !ex.isObserving || extra.observe <= 0) resolve();
        },
        onNotification: (m) => {
          notifications++;
          print(`Notification ${notifications}:`, m);
          if (notifications >= (extra.observe ?? 0) || !ex.isObserving) {
            ex.cancel();
            resolve();
          }
        },
        onError: (err) => {
          process.stdout.write(`No response received (${err.message}).\n`);
          status = 1;
          resolve();
        },
      },
    );
  });
  await ep.stop();
  return status;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`${(err as Error).message}\n`);
    process.exit(1);
  },
);

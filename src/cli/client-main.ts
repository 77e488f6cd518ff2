#!/usr/bin/env node
// The `extplugtest-client` executable: one CoAP request (or an observation) and its response printed in the layout of
// Californium's clients (request block, `>>> DTLS(...)` session lines, response block); `-v` traces every message.
import { CoapEndpoint } from '../coap/endpoint.js';
import { DEFAULT_STACK_CONFIG } from '../coap/stack-config.js';
import { request, requestAsync, type ClientExchange } from '../coap/client-layer.js';
import { CON, NON, Code, type CoapMessage } from '../coap/message.js';
import type { SecurityContext } from '../oscore/context.js';
import { oscoreClientHooks, PROTECT_MARKER } from '../oscore/hooks.js';
import { contextFromInfo, parseOscoreInfo } from '../oscore/info-parse.js';
import { plugtestClientContext } from '../oscore/store.js';
import { clientParser, toClientOptions, type ClientOptions } from '../clients/common-options.js';
import type { ConnectionRefusedError } from '../clients/connected-transport.js';
import { MessageTap } from '../clients/message-tap.js';
import { requestLines, responseLines, sessionLines, traceLine } from '../clients/print.js';
import { createClientTransport, uriHostOptions } from '../clients/transport.js';
import { CLIENT_CONNECT_TIMEOUT } from '../clients/tcp-client.js';
import { packageVersion } from '../server/version.js';

const EXIT_USAGE = 255;
/** Exit status when no (complete) response arrived: timeout, reset, refused destination. */
const EXIT_NO_RESPONSE = 1;

interface Args {
  observe?: number;
  timeout: number;
  oscore: boolean;
}

function parse(argv: string[]): { opts: ClientOptions; extra: Args } | undefined {
  const parser = clientParser(
    argv,
    'extplugtest-client',
    'Usage: $0 [options] <uri>\n\nSends one CoAP request (coap, coaps, coap+tcp, coaps+tcp) and prints the request, the DTLS or TLS session (coaps, coaps+tcp) and the response. Example:\n' +
      '  $0 -m GET -i Client_identity -s secretPSK --cid-length 6 coaps://127.0.0.1:5784/mycontext',
    packageVersion(),
  )
    .option('observe', { type: 'number', describe: 'observe the resource and print this many notifications (then cancel)' })
    .option('timeout', { type: 'number', default: 30_000, describe: 'response timeout in ms' })
    .option('oscore', {
      type: 'boolean',
      default: false,
      describe: 'protect the request with OSCORE (RFC 8613), the plugtest client context (sender 01, recipient 02); ID Context and sequence number from the server\'s /oscoreInfo when it has one',
    });
  const args = parser.parseSync() as Record<string, unknown>;
  if (args.help || args.version) return undefined;
  return { opts: toClientOptions(args), extra: { observe: args.observe as number | undefined, timeout: Number(args.timeout), oscore: args.oscore === true } };
}

function out(text: string): void {
  process.stdout.write(text);
}

/**
 * --oscore: the plugtest client context continued where the server's plain /oscoreInfo says (its ID Context,
 * the next sequence number), so that a new client run is not refused as a replay (RFC 8613 §7.4); without an
 * answer the context as configured, from sequence number 0.
 */
async function oscoreContextOf(ep: CoapEndpoint, destination: Parameters<typeof requestAsync>[2], timeout: number): Promise<SecurityContext> {
  const config = plugtestClientContext();
  try {
    const res = await requestAsync(ep, { method: Code.GET, path: 'oscoreInfo', timeout }, destination);
    if (res.code === Code.CONTENT) return contextFromInfo(config, parseOscoreInfo(res.payload.toString('utf8')));
  } catch {
    // no /oscoreInfo: the configured context
  }
  return contextFromInfo(config, { idContext: undefined, sequenceNumber: undefined });
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
  let refused: ConnectionRefusedError | undefined;
  let finish: (() => void) | undefined;
  const transport = await createClientTransport(opts, {
    tcp: { connectTimeout: Math.min(extra.timeout, CLIENT_CONNECT_TIMEOUT) },
    onRefused: (err) => {
      if (refused !== undefined || finish === undefined) return;
      refused = err;
      finish();
    },
  });
  const tap = new MessageTap(transport.connector);
  let requestPrinted = false;
  let sentAt = 0;
  /** --oscore: the request block shows the plain request (the wire form is in the -v trace), printed once protected */
  const printRequest = (m: CoapMessage): void => {
    if (requestPrinted) return;
    requestPrinted = true;
    sentAt = performance.now();
    out(requestLines(m).join('\n') + '\n\n');
  };
  let security: SecurityContext | undefined;
  let ex: ClientExchange | undefined;
  const messageHooks = extra.oscore
    ? oscoreClientHooks(() => security!, {
        onProtected: printRequest,
        onFailure: (slot, message) => {
          if (slot === ex) ex.fail(new Error(message));
        },
      })
    : undefined;
  const ep = new CoapEndpoint({ connector: tap, config: { ...DEFAULT_STACK_CONFIG, maxMessageSize: 1024, preferredBlockSize: 1024 }, messageHooks });
  tap.onSend = (m, ctx) => {
    if (!extra.oscore && m.code > 0 && m.code < 32) printRequest(m);
    if (opts.verbose) out(traceLine('send', m, ctx) + '\n');
  };
  if (opts.verbose) tap.onReceive = (m, ctx) => out(traceLine('receive', m, ctx) + '\n');
  try {
    await ep.start();
  } catch (err) {
    // coap+tcp, coaps+tcp: the connection failed (refused, TLS handshake, connect timeout)
    process.stderr.write(`${opts.uri.href}: ${(err as Error).message}\n`);
    return EXIT_NO_RESPONSE;
  }
  if (extra.oscore) {
    security = await oscoreContextOf(ep, transport.destination, Math.min(extra.timeout, 5000));
  }
  const path = decodeURIComponent(opts.uri.pathname).split('/').filter((s) => s.length > 0);
  const query = opts.uri.search.length > 1 ? opts.uri.search.slice(1).split('&').map(decodeURIComponent) : [];
  const withBody = opts.method === Code.POST || opts.method === Code.PUT || opts.method === Code.FETCH || opts.method === Code.PATCH || opts.method === Code.IPATCH;
  let status = 0;
  await new Promise<void>((resolve) => {
    let notifications = 0;
    let done = false;
    finish = () => {
      if (done) return;
      done = true;
      resolve();
    };
    ex = request(
      ep,
      {
        method: opts.method,
        type: opts.con ? CON : NON,
        options: extra.oscore ? [...uriHostOptions(opts.uri), PROTECT_MARKER] : uriHostOptions(opts.uri),
        path,
        query,
        payload: opts.payload,
        format: opts.payload !== undefined || withBody ? opts.contentType : undefined,
        accept: opts.contentType,
        observe: extra.observe !== undefined ? 0 : undefined,
        timeout: extra.timeout,
      },
      transport.destination,
      {
        onResponse: (m: CoapMessage, rctx) => {
          const rtt = performance.now() - sentAt;
          const session = sessionLines(rctx);
          if (session) out(session.join('\n') + '\n\n');
          out(`Time elapsed (ms): ${Math.round(rtt)}\n${responseLines(m, { rttMs: rtt }).join('\n')}\n`);
          if (extra.observe === undefined || !ex?.isObserving || extra.observe <= 0) finish!();
        },
        onNotification: (m: CoapMessage) => {
          notifications++;
          out(`\nNotification ${notifications}:\n${responseLines(m).join('\n')}\n`);
          if (notifications >= (extra.observe ?? 0) || !ex?.isObserving) finish!();
        },
        onError: (err) => {
          if (refused) return;
          out(`No response received (${err.message}).\n`);
          status = EXIT_NO_RESPONSE;
          finish!();
        },
      },
    );
  });
  finish = undefined;
  if (refused) {
    process.stderr.write(`${opts.uri.href}: ${refused.message}\n`);
    status = EXIT_NO_RESPONSE;
  }
  ex?.cancel();
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

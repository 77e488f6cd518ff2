// The HTTPS /restore service of the old instance (cluster.md §9-10): mutual TLS; any method on a path
// starting with /restore stops the CoAP servers and streams the DTLS state in the plain components
// format (restart.md §2, no envelope: TLS protects it), skipping connections idle longer than the
// restore max age. Requests are served one after the other.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer } from 'node:https';
import type { TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import type { DtlsConnector } from '../dtls/connector.js';
import { listenService, type RunningService } from '../monitor/monitor-server.js';
import type { HttpsCredentials } from './https-certs.js';
import { saveStream, type SavedState } from './persist.js';

/** What the service needs from the process. */
export interface RestoreServiceOptions {
  host?: string;
  port: number;
  credentials: HttpsCredentials;
  /** --restore-max-age in ms */
  maxAgeMs: number;
  connectors(): DtlsConnector[];
  /** the state to hand out, servers stopped (default: saveStream of connectors(); a multi-worker primary: every worker's) */
  state?: (maxAgeMs: number) => Promise<SavedState>;
  stopServers(): Promise<void>;
  /** Called once the state was handed out (the monitor's /alive and /ready go down after their grace). */
  onRestored(): void;
  logger: Logger;
}

/** Starts the HTTPS service (TLS 1.2 or 1.3, client certificate required); rejects if it cannot listen. */
export function startRestoreService(options: RestoreServiceOptions): Promise<RunningService> {
  const { credentials, logger } = options;
  let queue = Promise.resolve();
  const server = createServer(
    { key: credentials.key, cert: credentials.cert, ca: credentials.ca, requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.2' },
    (req, res) => {
      queue = queue.then(() => serve(req, res, options)).catch((err: unknown) => {
        logger.warn(`restore: ${(err as Error).message}`);
        res.destroy();
      });
    },
  );
  server.on('tlsClientError', (err, socket) => logger.warn(`restore: TLS handshake with ${socket.remoteAddress ?? '?'} failed: ${err.message}`));
  return listenService(server, options.host, options.port, 'restore service (https)', logger);
}

async function serve(req: IncomingMessage, res: ServerResponse, options: RestoreServiceOptions): Promise<void> {
  const url = req.url ?? '/';
  if (!url.startsWith('/restore')) {
    res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' });
    res.end('Not Found\n');
    return;
  }
  const peer = `${req.socket.remoteAddress ?? '?'}:${req.socket.remotePort ?? 0}`;
  const subject = (req.socket as TLSSocket).getPeerCertificate?.()?.subject?.CN ?? '?';
  const start = performance.now();
  await options.stopServers();
  const state = options.state !== undefined ? await options.state(options.maxAgeMs) : saveStream(options.connectors(), options.maxAgeMs, options.logger);
  options.onRestored();
  await new Promise<void>((resolve) => {
    res.writeHead(200, { 'content-type': 'application/octet-stream' });
    res.on('close', resolve);
    res.end(state.data);
  });
  state.data.fill(0);
  options.logger.info(`restore: ${state.connections} connections (${state.data.length} bytes) sent to ${peer} (CN=${subject}) in ${Math.round(performance.now() - start)} ms`);
}

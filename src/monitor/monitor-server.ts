// The HTTP monitor of --k8s-monitor (cluster.md §9): /ready, /alive and, beyond the reference, /metrics
// in the Prometheus text format. Any method; paths matched by prefix; backlog 10.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { Metrics } from './metrics.js';
import { evaluateAlive, evaluateReady, type MonitorState } from './readiness.js';

/** Listen backlog of the monitor services (cluster.md §9). */
export const MONITOR_BACKLOG = 10;

/** Where the monitor listens and what it reports. */
export interface MonitorServerOptions {
  /** Bind address; undefined = any. */
  host?: string;
  port: number;
  state: MonitorState;
  metrics?: Metrics;
  logger: Logger;
  now?: () => number;
}

/** A listening HTTP(S) service. */
export interface RunningService {
  /** The bound port (useful with port 0). */
  port: number;
  close(): Promise<void>;
}

/** Starts the HTTP monitor; rejects when the address cannot be bound. */
export function startMonitorServer(options: MonitorServerOptions): Promise<RunningService> {
  const now = options.now ?? Date.now;
  const server = createServer((req, res) => {
    void answer(req, res, options, now()).catch((err: unknown) => {
      options.logger.warn(`monitor: ${req.url ?? ''}: ${(err as Error).message}`);
      if (!res.headersSent) text(res, 500, 'ERROR\n');
      else res.destroy();
    });
  });
  return listenService(server, options.host, options.port, 'monitor', options.logger);
}

async function answer(req: IncomingMessage, res: ServerResponse, options: MonitorServerOptions, now: number): Promise<void> {
  const url = req.url ?? '/';
  if (url.startsWith('/ready')) {
    const ready = evaluateReady(options.state, now);
    text(res, ready ? 200 : 503, ready ? 'OK\n' : 'DOWN\n');
  } else if (url.startsWith('/alive')) {
    const alive = evaluateAlive(options.state, now);
    text(res, alive ? 200 : 503, alive ? 'OK\n' : 'STOPPED\n');
  } else if (url.startsWith('/metrics') && options.metrics !== undefined) {
    const body = await options.metrics.render();
    res.writeHead(200, { 'content-type': options.metrics.contentType });
    res.end(body);
  } else {
    text(res, 404, 'Not Found\n');
  }
}

function text(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

/** Listens with the monitor backlog; resolves with the bound port and a close() that drops open connections. */
export function listenService(server: Server | HttpsServer, host: string | undefined, port: number, name: string, logger: Logger): Promise<RunningService> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => reject(new Error(`${name}: cannot listen on ${host ?? '*'}:${port}: ${err.message}`));
    server.once('error', onError);
    server.listen({ host, port, backlog: MONITOR_BACKLOG }, () => {
      server.removeListener('error', onError);
      server.on('error', (err) => logger.warn(`${name}: ${err.message}`));
      const bound = (server.address() as AddressInfo).port;
      logger.info(`${name} listening on ${host ?? '*'}:${bound}`);
      resolve({
        port: bound,
        close: () =>
          new Promise<void>((done) => {
            server.closeAllConnections();
            server.close(() => done());
          }),
      });
    });
  });
}

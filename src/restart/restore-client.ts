// The new instance's download from the old instance's /restore (cluster.md §10 step 3): mutual TLS with
// the private trust anchors (host name verification disabled), 5 s connect and 15 s read timeout, up to
// 3 attempts while the answer is 503 or an I/O error occurs; a TLS/security error ends the download.
import { request } from 'node:https';
import type { Logger } from 'pino';
import type { HttpsCredentials } from './https-certs.js';

/** Connect timeout of the download. */
export const RESTORE_CONNECT_TIMEOUT_MS = 5_000;
/** Read (idle) timeout of the download. */
export const RESTORE_READ_TIMEOUT_MS = 15_000;
/** Attempts while the old instance answers 503 or the connection fails. */
export const RESTORE_DOWNLOAD_ATTEMPTS = 3;
/** Upper bound of a restore stream (far above 100,000 connections of about 200 bytes). */
export const RESTORE_MAX_BYTES = 256 * 1024 * 1024;

/** Where to download from and how. */
export interface RestoreDownloadOptions {
  host: string;
  port: number;
  credentials: HttpsCredentials;
  logger: Logger;
  connectTimeoutMs?: number;
  readTimeoutMs?: number;
  attempts?: number;
  maxBytes?: number;
  sleep?: (ms: number) => Promise<void>;
}

/** A failed download; `retry` tells whether another attempt may help (503, I/O). */
export class RestoreDownloadError extends Error {
  override name = 'RestoreDownloadError';
  constructor(
    message: string,
    readonly retry: boolean,
  ) {
    super(message);
  }
}

/** Downloads the plain components stream; rejects with RestoreDownloadError after the last attempt. */
export async function downloadRestoreState(options: RestoreDownloadOptions): Promise<Buffer> {
  const attempts = options.attempts ?? RESTORE_DOWNLOAD_ATTEMPTS;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  for (let attempt = 1; ; attempt++) {
    try {
      return await downloadOnce(options);
    } catch (err) {
      const error = err instanceof RestoreDownloadError ? err : new RestoreDownloadError((err as Error).message, true);
      if (!error.retry || attempt >= attempts) throw error;
      options.logger.warn(`restore: attempt ${attempt} from ${hostPort(options)} failed: ${error.message}; retrying`);
      await sleep(200 + Math.floor(Math.random() * 200));
    }
  }
}

/** `host:port` with IPv6 brackets. */
export function hostPort(o: { host: string; port: number }): string {
  return o.host.includes(':') ? `[${o.host}]:${o.port}` : `${o.host}:${o.port}`;
}

function downloadOnce(options: RestoreDownloadOptions): Promise<Buffer> {
  const { credentials } = options;
  const connectTimeout = options.connectTimeoutMs ?? RESTORE_CONNECT_TIMEOUT_MS;
  const readTimeout = options.readTimeoutMs ?? RESTORE_READ_TIMEOUT_MS;
  const maxBytes = options.maxBytes ?? RESTORE_MAX_BYTES;
  return new Promise((resolve, reject) => {
    let settled = false;
    const finish = (err: RestoreDownloadError | undefined, data?: Buffer): void => {
      if (settled) return;
      settled = true;
      clearTimeout(connectTimer);
      if (err !== undefined) {
        req.destroy();
        reject(err);
      } else resolve(data!);
    };
    const req = request({
      host: options.host,
      port: options.port,
      path: '/restore',
      method: 'GET',
      key: credentials.key,
      cert: credentials.cert,
      ca: credentials.ca,
      rejectUnauthorized: true,
      // private trust anchors only: the chain is checked, the host name is not (cluster.md §10)
      checkServerIdentity: () => undefined,
      agent: false,
    });
    const connectTimer = setTimeout(() => finish(new RestoreDownloadError(`connect timeout after ${connectTimeout} ms`, true)), connectTimeout);
    req.on('socket', (socket) => {
      socket.once('connect', () => {
        clearTimeout(connectTimer);
        req.setTimeout(readTimeout, () => finish(new RestoreDownloadError(`read timeout after ${readTimeout} ms`, true)));
      });
    });
    req.on('error', (err: NodeJS.ErrnoException) => finish(new RestoreDownloadError(describeError(err), !isSecurityError(err))));
    req.on('response', (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        finish(new RestoreDownloadError(`HTTP ${res.statusCode ?? '?'} ${res.statusMessage ?? ''}`.trim(), res.statusCode === 503));
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > maxBytes) finish(new RestoreDownloadError(`answer larger than ${maxBytes} bytes`, false));
        else chunks.push(chunk);
      });
      res.on('end', () => finish(undefined, Buffer.concat(chunks, size)));
      res.on('aborted', () => finish(new RestoreDownloadError('answer aborted', true)));
      res.on('error', (err) => finish(new RestoreDownloadError(err.message, true)));
    });
    req.end();
  });
}

// Certificate verification (CERT_HAS_EXPIRED, INVALID_PURPOSE, ...) and TLS errors (ERR_SSL_*, ERR_TLS_*)
// end the download; system I/O errors (ECONNREFUSED, ECONNRESET, EAI_AGAIN, ...) are retried.
function isSecurityError(err: NodeJS.ErrnoException): boolean {
  const code = err.code;
  return code !== undefined && !/^E(?!RR_)[A-Z_]+$/.test(code);
}

function describeError(err: NodeJS.ErrnoException): string {
  return err.code !== undefined && !err.message.includes(err.code) ? `${err.message} (${err.code})` : err.message;
}

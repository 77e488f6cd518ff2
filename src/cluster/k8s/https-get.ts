// One HTTPS GET with the connection rules of the k8s API client (cluster.md §8): connect timeout, read
// (idle) timeout, the chosen trust anchors or "trust all", and host name verification in both cases.
// node:tls + node:http rather than https.request: the TLS session is checked completely (also the host
// name under "trust all") before the request, and with it the bearer token, is written.
import { request, type IncomingMessage } from 'node:http';
import { isIP } from 'node:net';
import { checkServerIdentity, connect, type TLSSocket } from 'node:tls';
import { asError, K8sApiError } from './errors.js';

/** A GET to send; `ca` undefined means any certificate chain is accepted (the host name is still checked). */
export interface HttpsGetRequest {
  /** Origin, e.g. `https://kubernetes.default.svc` or `https://127.0.0.1:6443`. */
  origin: string;
  /** Path and query, sent as given (already URL-encoded). */
  path: string;
  headers: Record<string, string>;
  ca?: string;
  connectTimeoutMs: number;
  readTimeoutMs: number;
  maxBodyBytes: number;
}

/** The answer: status and body text (any status; the caller decides). */
export interface HttpsGetResponse {
  status: number;
  statusMessage: string;
  body: string;
}

/** Sends the GET; rejects on connect/TLS/read failures and timeouts, never throws synchronously. */
export async function httpsGet(req: HttpsGetRequest): Promise<HttpsGetResponse> {
  const url = new URL(req.origin);
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  const socket = await connectTls(host, Number(url.port || 443), req);
  return exchange(socket, url.host, req);
}

// TCP connect (bounded by the connect timeout), then the TLS handshake (bounded by the read timeout).
function connectTls(host: string, port: number, req: HttpsGetRequest): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = connect({
      host,
      port,
      servername: isIP(host) ? undefined : host,
      ca: req.ca,
      rejectUnauthorized: req.ca !== undefined,
    });
    const fail = (err: Error) => {
      clearTimeout(connectTimer);
      socket.destroy();
      reject(err);
    };
    const onHandshakeTimeout = () => fail(new Error(`TLS handshake timeout after ${req.readTimeoutMs} ms`));
    const connectTimer = setTimeout(() => fail(new Error(`connect timeout after ${req.connectTimeoutMs} ms`)), req.connectTimeoutMs);
    socket.once('connect', () => {
      clearTimeout(connectTimer);
      socket.setTimeout(req.readTimeoutMs, onHandshakeTimeout);
    });
    // stays attached: an error after the handshake only destroys the socket (the exchange reports it)
    socket.on('error', fail);
    socket.once('secureConnect', () => {
      socket.setTimeout(0);
      socket.removeListener('timeout', onHandshakeTimeout);
      // With trust anchors Node has verified chain and host name already; "trust all" skips the chain only.
      const mismatch = req.ca === undefined ? checkServerIdentity(host, socket.getPeerCertificate()) : undefined;
      if (mismatch) fail(mismatch);
      else resolve(socket);
    });
  });
}

// HTTP/1.1 over the established TLS socket; the socket is closed afterwards.
function exchange(socket: TLSSocket, hostHeader: string, req: HttpsGetRequest): Promise<HttpsGetResponse> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const settle = (err: Error | undefined, response?: HttpsGetResponse) => {
      if (settled) return;
      settled = true;
      socket.destroy();
      if (err) reject(err);
      else resolve(response!);
    };
    socket.on('error', (err) => settle(err));
    socket.setTimeout(req.readTimeoutMs, () => settle(new Error(`read timeout after ${req.readTimeoutMs} ms`)));
    try {
      const client = request({
        method: 'GET',
        path: req.path,
        headers: { Host: hostHeader, Accept: 'application/json', Connection: 'close', ...req.headers },
        createConnection: () => socket,
      });
      client.on('error', (err) => settle(err));
      client.on('response', (res) => readBody(res, req.maxBodyBytes, settle));
      client.end();
    } catch (err) {
      // e.g. a path with characters HTTP does not allow, or an invalid header value
      settle(asError(err));
    }
  });
}

function readBody(res: IncomingMessage, max: number, settle: (err: Error | undefined, response?: HttpsGetResponse) => void): void {
  const chunks: Buffer[] = [];
  let size = 0;
  res.on('data', (chunk: Buffer) => {
    size += chunk.length;
    if (size > max) settle(new K8sApiError(`answer larger than ${max} bytes`));
    else chunks.push(chunk);
  });
  res.on('end', () =>
    settle(undefined, { status: res.statusCode ?? 0, statusMessage: res.statusMessage ?? '', body: Buffer.concat(chunks).toString('utf8') }),
  );
  res.on('error', (err) => settle(err));
  res.on('close', () => {
    if (!res.complete) settle(new Error('connection closed before the answer was complete'));
  });
}

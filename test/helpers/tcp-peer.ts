// A CoAP-over-TCP test peer (RFC 8323) on node:net or node:tls: writes frames, reads and queues the
// frames it receives, and reports the close. Every wait has a time limit.
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions, type TLSSocket } from 'node:tls';
import { createTcpFrameReader, encodeTcp, TcpFrameError } from '../../src/coap/tcp-codec.js';
import type { CoapMessage } from '../../src/coap/message.js';

/** One connection of a test client. */
export interface TcpPeer {
  readonly socket: Socket;
  /** frames received and not taken by next() yet */
  readonly queue: CoapMessage[];
  /** true once the socket closed */
  readonly closed: boolean;
  /** writes one message as a frame */
  send(msg: CoapMessage): void;
  /** writes raw bytes */
  sendRaw(bytes: Buffer): void;
  /** the next received message; rejects after `ms` or when the connection closes first */
  next(ms?: number): Promise<CoapMessage>;
  /** resolves true when the socket closed within `ms`, false otherwise */
  waitClosed(ms?: number): Promise<boolean>;
  /** resolves false if no message arrived within `ms` (true as soon as one is queued) */
  anyWithin(ms: number): Promise<boolean>;
  /** destroys the socket */
  destroy(): void;
}

function peerOf(socket: Socket): TcpPeer {
  const reader = createTcpFrameReader({ maxMessageSize: 16 * 1024 * 1024 });
  const queue: CoapMessage[] = [];
  let closed = false;
  const waiters = new Set<() => void>();
  const wake = (): void => {
    for (const w of [...waiters]) w();
  };
  socket.on('data', (chunk: Buffer) => {
    try {
      queue.push(...reader.push(chunk));
    } catch (err) {
      if (!(err instanceof TcpFrameError)) throw err;
      socket.destroy(err);
    }
    wake();
  });
  socket.on('error', () => undefined);
  socket.on('close', () => {
    closed = true;
    wake();
  });
  function waitFor(cond: () => boolean, ms: number): Promise<boolean> {
    if (cond()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const check = (): void => {
        if (!cond()) return;
        done(true);
      };
      const timer = setTimeout(() => done(false), ms);
      function done(v: boolean): void {
        clearTimeout(timer);
        waiters.delete(check);
        resolve(v);
      }
      waiters.add(check);
    });
  }
  return {
    socket,
    queue,
    get closed() {
      return closed;
    },
    send: (msg) => void socket.write(encodeTcp(msg)),
    sendRaw: (bytes) => void socket.write(bytes),
    async next(ms = 2000) {
      const ok = await waitFor(() => queue.length > 0 || closed, ms);
      const msg = queue.shift();
      if (msg) return msg;
      throw new Error(ok ? 'connection closed before a message' : `no message within ${ms} ms`);
    },
    waitClosed: (ms = 2000) => waitFor(() => closed, ms),
    anyWithin: (ms) => waitFor(() => queue.length > 0, ms),
    destroy: () => void socket.destroy(),
  };
}

/** Opens a coap+tcp connection (no CSM is sent). */
export function connectTcp(port: number, host = '127.0.0.1'): Promise<TcpPeer> {
  return new Promise((resolve, reject) => {
    const socket = netConnect({ port, host });
    socket.once('connect', () => {
      socket.off('error', reject);
      resolve(peerOf(socket));
    });
    socket.once('error', reject);
  });
}

/** Opens a coaps+tcp connection; resolves after the handshake (TLS 1.3: before the server checked a client certificate). */
export function connectTls(port: number, opts: ConnectionOptions & { host?: string }): Promise<TcpPeer & { socket: TLSSocket }> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ port, host: opts.host ?? '127.0.0.1', ...opts });
    socket.once('secureConnect', () => {
      socket.off('error', reject);
      resolve(peerOf(socket) as TcpPeer & { socket: TLSSocket });
    });
    socket.once('error', reject);
  });
}

// A test CoAP client on our own client endpoint, plus a raw socket for byte-level cases.
import dgram from 'node:dgram';
import { CoapEndpoint } from '../../src/coap/endpoint.js';
import { UdpConnector } from '../../src/transport/udp-connector.js';
import { TcpClientConnector } from '../../src/tcp/client-connector.js';
import type { Resource } from '../../src/coap/resource.js';
import { demoTlsOptions, type Transport } from './stream-peer.js';
import { DEFAULT_STACK_CONFIG, type CoapStackConfig } from '../../src/coap/stack-config.js';
import { request, requestAsync, type ClientExchange, type RequestSpec } from '../../src/coap/client-layer.js';
import { decode, encode } from '../../src/coap/codec.js';
import type { CoapMessage } from '../../src/coap/message.js';
import { nextSignal } from './signal.js';

/** A client endpoint bound to an ephemeral port, talking to one server address. */
export interface TestClient {
  ep: CoapEndpoint;
  /** one request, resolved with the (block-wise assembled) response */
  send(spec: RequestSpec): Promise<CoapMessage>;
  /** observe: resolves with the first response; notifications go to onNotify */
  observe(spec: RequestSpec, onNotify: (m: CoapMessage) => void): Promise<{ first: CoapMessage; exchange: ClientExchange }>;
  close(): Promise<void>;
}

/** Creates a client for host:port (host 127.0.0.1 or ::1). */
export async function createClient(host: string, port: number, config: Partial<CoapStackConfig> = {}): Promise<TestClient> {
  return createTransportClient('udp', host, port, { config });
}

/** Options of createTransportClient. */
export interface TransportClientOptions {
  config?: Partial<CoapStackConfig>;
  /** resources the client serves (the server's reverse requests and observes reach them on the same socket or connection) */
  root?: Resource;
  serverTag?: string;
}

/**
 * Creates a client of our own stack for host:port over coap (UDP), coap+tcp or coaps+tcp (RFC 8323: one connection,
 * our CSM with the base Max-Message-Size 1152 and without BERT; TLS with the demo trust and client certificate).
 */
export async function createTransportClient(transport: Transport, host: string, port: number, o: TransportClientOptions = {}): Promise<TestClient> {
  const local = host.includes(':') ? '::1' : '127.0.0.1';
  const tls = demoTlsOptions();
  const connector =
    transport === 'udp'
      ? new UdpConnector({ address: local, port: 0 })
      : new TcpClientConnector({
          destination: { address: host, port },
          localAddress: local,
          connectTimeout: 10_000,
          maxMessageSize: 1152,
          // no Block-Wise-Transfer in our CSM: no BERT (RFC 8323 §6), block-wise in the normal block sizes
          blockWiseTransfer: false,
          ...(transport === 'tls' ? { tls: { ca: [tls.ca], cert: tls.cert, key: tls.key, trustAll: false, verifySubject: false } } : {}),
        });
  const ep = new CoapEndpoint({
    connector,
    config: { ...DEFAULT_STACK_CONFIG, ackTimeout: 1000, ...o.config },
    ...(o.root !== undefined ? { root: o.root } : {}),
    ...(o.serverTag !== undefined ? { serverTag: o.serverTag } : {}),
  });
  await ep.start();
  const ctx = { address: host, port };
  return {
    ep,
    send: (spec) => requestAsync(ep, { timeout: 10_000, ...spec }, ctx),
    observe: (spec, onNotify) =>
      new Promise((resolve, reject) => {
        const exchange: ClientExchange = request(ep, { ...spec, observe: 0 }, ctx, {
          onResponse: (first) => resolve({ first, exchange }),
          onError: reject,
          onNotification: onNotify,
        });
      }),
    close: () => ep.stop(),
  };
}

/** A raw UDP socket that records every decoded datagram it receives. */
export interface RawSocket {
  received: CoapMessage[];
  send(msg: CoapMessage | Buffer): void;
  /** waits until `pred` matches a received message (or times out) */
  waitFor(pred: (m: CoapMessage) => boolean, ms?: number): Promise<CoapMessage>;
  close(): void;
}

/** Opens a raw socket towards host:port. */
export async function rawSocket(host: string, port: number): Promise<RawSocket> {
  const sock = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
  const received: CoapMessage[] = [];
  const waiters: Array<() => void> = [];
  sock.on('message', (m) => {
    try {
      received.push(decode(m));
    } catch {
      // malformed answers are ignored here; tests check what they expect
    }
    for (const w of waiters.splice(0)) w();
  });
  await new Promise<void>((r) => sock.bind(0, host.includes(':') ? '::1' : '127.0.0.1', () => r()));
  return {
    received,
    send: (msg) => sock.send(Buffer.isBuffer(msg) ? msg : encode(msg), port, host),
    async waitFor(pred, ms = 5000) {
      const deadline = Date.now() + ms;
      for (;;) {
        const hit = received.find(pred);
        if (hit) return hit;
        const left = deadline - Date.now();
        if (left <= 0) throw new Error('timeout waiting for message');
        await nextSignal(waiters, left);
      }
    },
    close: () => sock.close(),
  };
}

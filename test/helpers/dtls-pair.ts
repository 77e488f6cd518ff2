// Test helpers for DTLS connector pairs on loopback: echo servers, clients, received-datagram queues.
import type { EndpointContext } from '../../src/transport/connector.js';
import { DtlsConnector, type DtlsConnectorOptions } from '../../src/dtls/connector.js';
import type { DtlsConfig } from '../../src/dtls/config.js';
import { loadDemoCredentials, type DemoCredentials } from '../../src/dtls/credentials/demo-pki.js';
import { loadServerIdentity } from '../../src/dtls/credentials/demo-pki.js';
import { defaultPkiDir } from '../../src/dtls/credentials/demo-pki.js';
import { join } from 'node:path';

/** Short timers so that retransmission tests run fast. */
export const FAST: Partial<DtlsConfig> = {
  retransmissionTimeout: 150,
  additionalEccTimeout: 0,
  maxRetransmissionTimeout: 1000,
  maxRetransmissions: 3,
};

let demo: DemoCredentials | undefined;
/** The demo PKI (cached). */
export function demoPki(): DemoCredentials {
  demo ??= loadDemoCredentials();
  return demo;
}

/** cf-client (EC) or cf-client-rsa identity from resources/pki. */
export function clientIdentity(name: 'cf-client' | 'cf-client-rsa' = 'cf-client') {
  const dir = defaultPkiDir();
  return loadServerIdentity(name, join(dir, `${name}-chain.pem`), join(dir, `${name}-key.pem`));
}

/** A received application datagram. */
export interface Received {
  data: Buffer;
  ctx: EndpointContext;
}

/** Collects received datagrams; `next()` waits (bounded) for the next one. */
export class Inbox {
  readonly items: Received[] = [];
  private waiter: ((r: Received) => void) | undefined;
  push = (data: Buffer, ctx: EndpointContext): void => {
    const r = { data: Buffer.from(data), ctx };
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = undefined;
      w(r);
    } else this.items.push(r);
  };
  next(timeoutMs = 3000): Promise<Received> {
    const item = this.items.shift();
    if (item) return Promise.resolve(item);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        this.waiter = undefined;
        reject(new Error('no datagram within ' + timeoutMs + ' ms'));
      }, timeoutMs);
      this.waiter = (r) => {
        clearTimeout(t);
        resolve(r);
      };
    });
  }
}

/** A started server connector whose onDatagram echoes (prefix `echo:`) and records into `inbox`. */
export async function echoServer(opts: Partial<DtlsConnectorOptions> = {}): Promise<{ server: DtlsConnector; inbox: Inbox }> {
  const server = new DtlsConnector({ address: '127.0.0.1', port: 0, role: 'server', ...opts });
  const inbox = new Inbox();
  server.onDatagram = (data, ctx) => {
    inbox.push(data, ctx);
    server.send(Buffer.concat([Buffer.from('echo:'), data]), ctx);
  };
  await server.start();
  return { server, inbox };
}

/** A started client connector recording into `inbox`. */
export async function client(opts: Partial<DtlsConnectorOptions> = {}): Promise<{ client: DtlsConnector; inbox: Inbox }> {
  const c = new DtlsConnector({ address: '127.0.0.1', port: 0, role: 'client', ...opts });
  const inbox = new Inbox();
  c.onDatagram = inbox.push;
  await c.start();
  return { client: c, inbox };
}

/** Sends `text` from the client and waits for the echo; returns the server- and client-side contexts. */
export async function roundTrip(c: { client: DtlsConnector; inbox: Inbox }, server: { server: DtlsConnector; inbox: Inbox }, text: string) {
  c.client.send(Buffer.from(text), { address: '127.0.0.1', port: server.server.localPort });
  const atServer = await server.inbox.next();
  const atClient = await c.inbox.next();
  return { atServer, atClient };
}

/** Polls `cond` every 5 ms for at most `timeoutMs`; resolves true when it held. */
export async function waitFor(cond: () => boolean, timeoutMs = 2000): Promise<boolean> {
  for (let waited = 0; waited < timeoutMs; waited += 5) {
    if (cond()) return true;
    await new Promise((r) => setTimeout(r, 5));
  }
  return cond();
}

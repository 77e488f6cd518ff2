// One request/observe API for the plugtest and extended suites over every transport they run on: the raw UDP peer
// of plugtest-checks (coap) and a raw RFC 8323 peer over TCP (coap+tcp) or TLS (coaps+tcp). Over a stream there
// are no message types, MIDs, ACKs or RSTs (RFC 8323 §3): requests go out as frames (the codec reads them as CON
// with MID 0, so that is what `build` returns and what the server's payloads show), an answer is the next
// non-signaling message with the request's token, and signaling messages (7.xx) are kept apart.
import path from 'node:path';
import fs from 'node:fs';
import type { ConnectionOptions } from 'node:tls';
import { isSignalingCode, buildCsm, buildPong, SignalCode } from '../../src/coap/tcp-signaling.js';
import { CON, type CoapMessage } from '../../src/coap/message.js';
import { RawPeer, describe as describeMsg, type RawRequest, type Received } from './plugtest-checks.js';
import { buildRequest } from './dtls-client.js';
import { connectTcp, connectTls, type TcpPeer } from './tcp-peer.js';
import { counterToken, messagesSince, waitInLog, waitUntilSignalled } from './signal.js';
import { REPO } from './server-process.js';

/** The transports the suites run on: coap, coap+tcp, coaps+tcp. */
export type Transport = 'udp' | 'tcp' | 'tls';

/** What the suites use of a peer, whatever the transport (RawPeer has all of it). */
export interface CoapPeer {
  readonly transport: Transport;
  readonly log: Received[];
  nextMid(): number;
  nextToken(): Buffer;
  build(r: RawRequest): CoapMessage;
  send(msg: CoapMessage): void;
  mark(): number;
  waitFor(pred: (m: CoapMessage) => boolean, ms?: number, from?: number, what?: string): Promise<CoapMessage>;
  waitUntil(cond: () => boolean, ms: number, what: string): Promise<void>;
  since(from: number, pred?: (m: CoapMessage) => boolean): CoapMessage[];
  call(msg: CoapMessage, ms?: number): Promise<CoapMessage>;
  request(r: RawRequest, ms?: number): Promise<CoapMessage>;
  close(): void;
}

/** The demo PKI (resources/pki): the CA that signed the server certificates, and the demo client certificate. */
const PKI = path.join(REPO, 'resources', 'pki');

/** TLS options of a coaps+tcp peer: the demo trust anchors, the demo client certificate, no host name check (the server certificate names cf-server). */
export function demoTlsOptions(): { ca: string; cert: string; key: string; checkServerIdentity: () => undefined } {
  return {
    ca: fs.readFileSync(path.join(PKI, 'trust.pem'), 'utf8'),
    cert: fs.readFileSync(path.join(PKI, 'cf-client-chain.pem'), 'utf8'),
    key: fs.readFileSync(path.join(PKI, 'cf-client-key.pem'), 'utf8'),
    checkServerIdentity: () => undefined,
  };
}

/**
 * A raw CoAP peer on one coap+tcp or coaps+tcp connection. The server's CSM is awaited and ours (no options: the
 * base Max-Message-Size of 1152 bytes, no BERT) sent before the first request; Pings are answered with Pongs.
 */
export class StreamPeer implements CoapPeer {
  readonly log: Received[] = [];
  /** signaling messages received (CSM, Ping, Pong, Release, Abort) */
  readonly signals: CoapMessage[] = [];
  private tokenCounter = Math.floor(Math.random() * 0xffffff);
  private readonly waiters: Array<() => void> = [];
  private pumping = true;

  private constructor(
    readonly transport: Transport,
    readonly conn: TcpPeer,
  ) {}

  /** Connects, exchanges CSMs and starts reading; `tls`: options over demoTlsOptions (e.g. the TLS version). */
  static async open(transport: 'tcp' | 'tls', host: string, port: number, tls: ConnectionOptions = {}): Promise<StreamPeer> {
    const conn = transport === 'tcp' ? await connectTcp(port, host) : await connectTls(port, { host, ...demoTlsOptions(), ...tls });
    const peer = new StreamPeer(transport, conn);
    const csm = await conn.next(5000);
    if (csm.code !== SignalCode.CSM) {
      conn.destroy();
      throw new Error(`the server's first message is ${describeMsg(csm)}, not a CSM (RFC 8323 §5.3)`);
    }
    peer.signals.push(csm);
    conn.send(buildCsm());
    void peer.pump();
    return peer;
  }

  private async pump(): Promise<void> {
    while (this.pumping) {
      let msg: CoapMessage;
      try {
        msg = await this.conn.next(60_000);
      } catch {
        if (this.conn.closed) break;
        continue;
      }
      if (isSignalingCode(msg.code)) {
        this.signals.push(msg);
        if (msg.code === SignalCode.PING) this.conn.send(buildPong({ token: msg.token }));
      } else {
        this.log.push({ msg, at: Date.now() });
      }
      for (const w of this.waiters.splice(0)) w();
    }
    for (const w of this.waiters.splice(0)) w();
  }

  /** true once the connection closed */
  get closed(): boolean {
    return this.conn.closed;
  }

  /** MIDs do not exist on a stream: always 0. */
  nextMid(): number {
    return 0;
  }

  nextToken(): Buffer {
    this.tokenCounter = (this.tokenCounter + 1) & 0xffffffff;
    return counterToken(this.tokenCounter);
  }

  /** As RawPeer.build, but type CON and MID 0 whatever `r` says: the fields TCP does not carry, as the server reads them. */
  build(r: RawRequest): CoapMessage {
    return { ...buildRequest(r, () => 0, () => this.nextToken()), type: CON, mid: 0 };
  }

  send(msg: CoapMessage): void {
    this.conn.send(msg);
  }

  mark(): number {
    return this.log.length;
  }

  async waitFor(pred: (m: CoapMessage) => boolean, ms = 6000, from = 0, what = 'message'): Promise<CoapMessage> {
    const closed = (): string | undefined => (this.conn.closed ? 'connection closed' : undefined);
    return (await waitInLog(this.log, this.waiters, pred, ms, from, what, closed)).msg;
  }

  waitUntil(cond: () => boolean, ms: number, what: string): Promise<void> {
    return waitUntilSignalled(this.waiters, cond, ms, what);
  }

  since(from: number, pred: (m: CoapMessage) => boolean = () => true): CoapMessage[] {
    return messagesSince(this.log, from, pred);
  }

  /** Sends a request and waits for the first message with its token (RFC 8323 §3: no ACK, the response is matched by token). */
  call(msg: CoapMessage, ms = 6000): Promise<CoapMessage> {
    const from = this.mark();
    this.send(msg);
    const tok = msg.token.toString('hex');
    return this.waitFor((m) => m.code !== 0 && m.token.toString('hex') === tok, ms, from, `answer to ${describeMsg(msg)}`);
  }

  request(r: RawRequest, ms?: number): Promise<CoapMessage> {
    return this.call(this.build(r), ms);
  }

  close(): void {
    this.pumping = false;
    this.conn.destroy();
  }
}

/** Opens a peer of `transport` towards host:port (coap: the UDP port, coap+tcp/coaps+tcp: the TCP port of that number). */
export async function openPeer(transport: Transport, host: string, port: number): Promise<CoapPeer> {
  if (transport === 'udp') return RawPeer.open(host, port);
  return StreamPeer.open(transport, host, port);
}

/** A transport and a host to run a suite's cases on. */
export interface TransportCase {
  transport: Transport;
  host: string;
  /** `coap over 127.0.0.1`, `coap+tcp over 127.0.0.1`, ... */
  name: string;
}

/** The URI scheme of a transport. */
export function schemeOf(transport: Transport, secure = false): string {
  if (transport === 'udp') return secure ? 'coaps' : 'coap';
  return transport === 'tcp' ? 'coap+tcp' : 'coaps+tcp';
}

/**
 * The cases of a suite: coap, coap+tcp and coaps+tcp on every given host (127.0.0.1 and, when configured, ::1). Which
 * server port to use is the suite's: plain for udp and tcp, secure for tls.
 */
export function transportCases(hosts: readonly string[]): TransportCase[] {
  return (['udp', 'tcp', 'tls'] as const).flatMap((transport) => hosts.map((host) => ({ transport, host, name: `${schemeOf(transport)} over ${host}` })));
}

/** True on coap+tcp and coaps+tcp. */
export function isStream(peer: { transport: Transport }): boolean {
  return peer.transport !== 'udp';
}

// A raw CoAP peer over our own client DTLS connector (coaps), for system tests against the real server
// process: full control of CoAP type/MID/token (like plugtest-checks' RawPeer, but every datagram is a
// DTLS application record), the DTLS session attributes of each received record, CID and address
// changes (rebind), and a few parsers for /mycontext and /diagnose.
import dgram from 'node:dgram';
import fs from 'node:fs';
import { expect } from 'vitest';
import { decode, encode } from '../../src/coap/codec.js';
import type { DtlsSessionInfo, EndpointContext } from '../../src/transport/connector.js';
import { ACK, CON, NON, RST, Opt, codeText, type CoapMessage, type CoapOption, type MessageType } from '../../src/coap/message.js';
import { decodeBlock, encodeBlock, encodeUint, getOption, sortOptions } from '../../src/coap/options.js';
import { toClientOptions } from '../../src/clients/common-options.js';
import { createDtlsClient } from '../../src/clients/dtls-client.js';
import { DtlsConnector } from '../../src/dtls/connector.js';
import type { DtlsConfig } from '../../src/dtls/config.js';
import { cipherSuiteByName } from '../../src/dtls/cipher-suites.js';
import type { RawRequest } from './plugtest-checks.js';
import { counterToken, describe, messagesSince, waitInLog, waitUntilSignalled } from './signal.js';

export { ACK, CON, NON, RST };

/** One received CoAP message with the DTLS context of the record that carried it. */
export interface DtlsReceived {
  msg: CoapMessage;
  ctx: EndpointContext;
  at: number;
}

/** How a DtlsPeer's client connector is made. */
export interface DtlsPeerOptions {
  /** PSK identity (default `Client_identity`) */
  identity?: string;
  /** PSK secret text (default `secretPSK`) */
  secret?: string;
  /** `--cid-length`; undefined: the client offers no connection_id extension */
  cidLength?: number;
  /** `--cipher` suite names */
  ciphers?: readonly string[];
  /** `--auth` (e.g. `X509`, `PSK`) */
  auth?: string;
  /** further command line style options for toClientOptions (e.g. `{ 'extended-master-secret': 'NONE' }`) */
  argv?: Record<string, unknown>;
  /** overrides of the client connector's DTLS settings */
  config?: Partial<DtlsConfig>;
  /**
   * Test aid: sees (and may modify in place) every datagram the connector sends; false drops it.
   * With a filter the connector is built directly (PSK only) instead of through createDtlsClient.
   */
  outboundFilter?: (datagram: Buffer, address: string, port: number) => boolean;
}

/** How a received CON is answered automatically. */
export type ConReaction = 'ack' | 'rst' | 'ignore';

/** Local loopback address matching a destination. */
export function localFor(host: string): string {
  return host.includes(':') ? '::1' : '127.0.0.1';
}

/** Builds a client DTLS connector for `coaps://host:port` the way the command line clients do. */
export function buildClientConnector(host: string, port: number, o: DtlsPeerOptions = {}): DtlsConnector {
  const identity = o.identity ?? 'Client_identity';
  const secret = o.secret ?? 'secretPSK';
  if (o.outboundFilter) {
    return new DtlsConnector({
      address: localFor(host),
      port: 0,
      role: 'client',
      config: { cidLength: o.cidLength, ...o.config },
      pskIdentity: identity,
      pskSecret: Buffer.from(secret),
      offeredCipherSuites: (o.ciphers ?? ['TLS_PSK_WITH_AES_128_CCM_8']).map((n) => cipherSuiteByName(n)!),
      outboundFilter: o.outboundFilter,
    });
  }
  const uriHost = host.includes(':') ? `[${host}]` : host;
  const argv: Record<string, unknown> = {
    _: [`coaps://${uriHost}:${port}/`],
    identity,
    secret,
    ...(o.cidLength !== undefined ? { 'cid-length': o.cidLength } : {}),
    ...(o.ciphers ? { cipher: o.ciphers.join(':') } : {}),
    ...(o.auth ? { auth: o.auth } : {}),
    ...o.argv,
  };
  const opts = toClientOptions(argv);
  return createDtlsClient(opts, { localAddress: localFor(host), config: o.config }).connector;
}

/**
 * A raw CoAP peer over a client DTLS connector. Received CON messages are acknowledged with an empty
 * ACK (or rejected/ignored, see `onCon`); every received message is logged with its DTLS context.
 */
export class DtlsPeer {
  readonly log: DtlsReceived[] = [];
  /** reaction to a received CON (default: ACK) */
  onCon: (m: CoapMessage) => ConReaction = () => 'ack';
  /** datagrams that did not decode as CoAP */
  undecodable = 0;
  /** errors the connector reported for sent messages (handshake failure, no connection, ...) */
  readonly sendErrors: Error[] = [];
  /** empty ACK/RST messages this peer sent, by MID */
  readonly sentReplies: Array<{ type: MessageType; mid: number }> = [];
  private midCounter = Math.floor(Math.random() * 0xffff);
  private tokenCounter = Math.floor(Math.random() * 0xffffff);
  private readonly waiters: Array<() => void> = [];
  /** context of the last record received from the server (keeps the connection) */
  private lastCtx: EndpointContext | undefined;

  private constructor(
    readonly connector: DtlsConnector,
    readonly host: string,
    readonly port: number,
  ) {
    connector.onDatagram = (data, ctx) => {
      let msg: CoapMessage;
      try {
        msg = decode(data);
      } catch {
        this.undecodable++;
        return;
      }
      this.lastCtx = ctx;
      this.log.push({ msg, ctx, at: Date.now() });
      if (msg.type === CON) {
        const reaction = this.onCon(msg);
        if (reaction !== 'ignore') this.reply(reaction === 'ack' ? ACK : RST, msg.mid);
      }
      for (const w of this.waiters.splice(0)) w();
    };
  }

  /** Starts a peer (its connector bound to an ephemeral loopback port) towards coaps://host:port. */
  static async open(host: string, port: number, o: DtlsPeerOptions = {}): Promise<DtlsPeer> {
    const connector = buildClientConnector(host, port, o);
    await connector.start();
    return new DtlsPeer(connector, host, port);
  }

  /** Handshakes now; resolves with the client's view of the session. */
  connect(opts: { full?: boolean } = {}): Promise<DtlsSessionInfo> {
    return this.connector.connect(this.host, this.port, opts);
  }

  /** The local port the connector currently uses. */
  get localPort(): number {
    return this.connector.localPort;
  }

  /** Client-side `handshakes succeeded` of the connector. */
  get handshakes(): number {
    return this.connector.stats['handshakes succeeded'];
  }

  nextMid(): number {
    this.midCounter = (this.midCounter + 1) & 0xffff;
    return this.midCounter;
  }

  nextToken(): Buffer {
    this.tokenCounter = (this.tokenCounter + 1) & 0xffffffff;
    return counterToken(this.tokenCounter);
  }

  /** Builds a request (fresh MID and token unless given). */
  build(r: RawRequest): CoapMessage {
    return buildRequest(r, () => this.nextMid(), () => this.nextToken());
  }

  /** Sends a message as one DTLS application record (handshakes first if needed). */
  send(msg: CoapMessage): void {
    this.sendBytes(encode(msg));
  }

  /** Sends raw application bytes. */
  sendBytes(data: Buffer): void {
    const ctx: EndpointContext = { address: this.host, port: this.port };
    this.connector.send(data, ctx, (err) => {
      this.sendErrors.push(err);
      for (const w of this.waiters.splice(0)) w();
    });
  }

  /** Sends an empty ACK or RST. */
  reply(type: MessageType, mid: number): void {
    this.sentReplies.push({ type, mid });
    this.send({ type, code: 0, mid, token: Buffer.alloc(0), options: [], payload: Buffer.alloc(0) });
  }

  mark(): number {
    return this.log.length;
  }

  /** Waits for the first logged message at index ≥ from matching pred. */
  waitFor(pred: (m: CoapMessage, r: DtlsReceived) => boolean, ms = 6000, from = 0, what = 'message'): Promise<DtlsReceived> {
    const errors = this.sendErrors.length;
    const failed = (): string | undefined => (this.sendErrors.length > errors ? `send error ${this.sendErrors[errors]!.message}` : undefined);
    return waitInLog(this.log, this.waiters, pred, ms, from, what, failed);
  }

  /** Waits until cond() holds (re-checked on every received message). */
  waitUntil(cond: () => boolean, ms: number, what: string): Promise<void> {
    return waitUntilSignalled(this.waiters, cond, ms, what);
  }

  /** Messages at index ≥ from matching pred. */
  since(from: number, pred: (m: CoapMessage) => boolean = () => true): CoapMessage[] {
    return messagesSince(this.log, from, pred);
  }

  /**
   * Sends a request and waits for its first answer: for CON the ACK/RST with the same MID, for NON the
   * first non-empty message with the token. With `retries` the same message (same MID) is re-sent
   * every `ms / (retries + 1)` ms until answered (the server deduplicates).
   */
  async callFull(msg: CoapMessage, ms = 6000, retries = 0): Promise<DtlsReceived> {
    const from = this.mark();
    const tok = msg.token.toString('hex');
    const pred = (m: CoapMessage): boolean =>
      msg.type === CON ? (m.type === ACK || m.type === RST) && m.mid === msg.mid : m.type !== ACK && m.code !== 0 && m.token.toString('hex') === tok;
    const slice = Math.floor(ms / (retries + 1));
    for (let attempt = 0; ; attempt++) {
      this.send(msg);
      try {
        return await this.waitFor(pred, attempt < retries ? slice : ms - slice * retries, from, `answer to ${describe(msg)}`);
      } catch (err) {
        if (attempt >= retries) throw err;
      }
    }
  }

  /** callFull, returning only the message. */
  async call(msg: CoapMessage, ms = 6000, retries = 0): Promise<CoapMessage> {
    return (await this.callFull(msg, ms, retries)).msg;
  }

  /** Shorthand: build + call. */
  request(r: RawRequest, ms?: number): Promise<CoapMessage> {
    return this.call(this.build(r), ms);
  }

  /** GET a path (CON); the answer with its DTLS context. */
  get(path: string, ms = 6000, retries = 0): Promise<DtlsReceived> {
    return this.callFull(this.build({ code: 1, path }), ms, retries);
  }

  /**
   * GET /mycontext: the fields of the text answer (resources.md §2.7). Block-wise when the server sends
   * Block2 (the plugtest endpoints use 64-byte blocks); `rx` is the first answer.
   */
  async context(ms = 6000, retries = 0): Promise<{ fields: Map<string, string>; text: string; rx: DtlsReceived }> {
    const rx = await this.get('mycontext', ms, retries);
    expect(codeText(rx.msg.code), describe(rx.msg)).toBe('2.05');
    let payload = rx.msg.payload;
    const b2 = getOption(rx.msg, Opt.BLOCK2);
    const first = b2 ? decodeBlock(b2) : undefined;
    if (first?.more) {
      const chunks = [payload];
      let num = first.num + 1;
      for (let i = 0; i < 100; i++) {
        const res = await this.call(this.build({ code: 1, path: 'mycontext', token: rx.msg.token, block2: { num, more: false, szx: first.szx } }), ms, retries);
        chunks.push(res.payload);
        const b = decodeBlock(getOption(res, Opt.BLOCK2) ?? Buffer.alloc(0));
        if (!b?.more) break;
        num = b.num + 1;
      }
      payload = Buffer.concat(chunks);
    }
    const text = payload.toString('utf8');
    return { fields: parseContext(text), text, rx };
  }

  /** Test aid: move to a new local port keeping the session (NAT rebinding). */
  rebind(): Promise<void> {
    return this.connector.rebind();
  }

  /** Sends close_notify and stops the connector. */
  async close(): Promise<void> {
    try {
      this.connector.close(this.host, this.port);
    } catch {
      // already gone
    }
    await this.connector.stop();
  }

  /** Last DTLS context received (undefined before the first answer). */
  get lastContext(): EndpointContext | undefined {
    return this.lastCtx;
  }
}

/** Builds a CoAP request message from a RawRequest. */
export function buildRequest(r: RawRequest, nextMid: () => number, nextToken: () => Buffer): CoapMessage {
  const options: CoapOption[] = [...(r.options ?? [])];
  for (const v of r.ifMatch ?? []) options.push({ number: Opt.IF_MATCH, value: v });
  if (r.etag) options.push({ number: Opt.ETAG, value: r.etag });
  if (r.ifNoneMatch) options.push({ number: Opt.IF_NONE_MATCH, value: Buffer.alloc(0) });
  if (r.observe !== undefined) options.push({ number: Opt.OBSERVE, value: encodeUint(r.observe) });
  for (const p of (r.path ?? '').split('/').filter((s) => s.length > 0)) options.push({ number: Opt.URI_PATH, value: Buffer.from(p) });
  if (r.format !== undefined) options.push({ number: Opt.CONTENT_FORMAT, value: encodeUint(r.format) });
  for (const q of r.query ?? []) options.push({ number: Opt.URI_QUERY, value: Buffer.from(q) });
  if (r.accept !== undefined) options.push({ number: Opt.ACCEPT, value: encodeUint(r.accept) });
  if (r.block2) options.push({ number: Opt.BLOCK2, value: encodeBlock(r.block2) });
  if (r.block1) options.push({ number: Opt.BLOCK1, value: encodeBlock(r.block1) });
  if (r.size1 !== undefined) options.push({ number: Opt.SIZE1, value: encodeUint(r.size1) });
  const payload = r.payload === undefined ? Buffer.alloc(0) : typeof r.payload === 'string' ? Buffer.from(r.payload) : r.payload;
  return { type: r.type ?? CON, code: r.code, mid: r.mid ?? nextMid(), token: r.token ?? nextToken(), options: sortOptions(options), payload };
}

export { describe };

/** `name: value` lines of /mycontext (text form) in order; a field without value maps to ''. */
export function parseContext(text: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const line of text.split('\n')) {
    const i = line.indexOf(': ');
    if (i < 0) {
      // `write-cid: ` keeps its blank; a line `name:` alone would be malformed output
      if (line.endsWith(':')) fields.set(line.slice(0, -1), '');
      else throw new Error(`/mycontext line without ': ': ${JSON.stringify(line)}`);
      continue;
    }
    fields.set(line.slice(0, i), line.slice(i + 2));
  }
  return fields;
}

/** Counter groups of a /diagnose text answer: tag → key → [cur, all]. */
export function parseDiagnose(text: string): Map<string, Map<string, [number, number]>> {
  const groups = new Map<string, Map<string, [number, number]>>();
  let current: Map<string, [number, number]> | undefined;
  for (const line of text.split('\n')) {
    if (line.startsWith('   ')) {
      const m = /^ {3}(.+),(\d+),(\d+)$/.exec(line);
      if (m && current) current.set(m[1]!, [Number(m[2]), Number(m[3])]);
    } else if (line.length > 0 && !/^(systemstart|node-id|max\. connnections|since)[: ]/.test(line)) {
      current = new Map();
      groups.set(line, current);
    }
  }
  return groups;
}

/** The `handshakes succeeded` counter (cur, all) of the DTLS group `dtls:<addr>:<port>` in /diagnose. */
export async function serverHandshakes(peer: DtlsPeer, ms = 6000): Promise<{ cur: number; all: number; tag: string }> {
  const rx = await peer.get('diagnose', ms, 2);
  expect(codeText(rx.msg.code), `/diagnose needs --diagnose: ${describe(rx.msg)}`).toBe('2.05');
  const groups = parseDiagnose(rx.msg.payload.toString('utf8'));
  const tag = [...groups.keys()].find((t) => t.startsWith('dtls:'));
  expect(tag, `no dtls:<addr> group in /diagnose: ${[...groups.keys()].join(', ')}`).toBeDefined();
  const v = groups.get(tag!)!.get('handshakes succeeded');
  expect(v, `no 'handshakes succeeded' in ${tag}`).toBeDefined();
  return { cur: v![0], all: v![1], tag: tag! };
}

/** Result of a block-wise transfer over a DtlsPeer. */
export interface DtlsBlockTransfer {
  requests: CoapMessage[];
  answers: CoapMessage[];
  payload: Buffer;
}

/** Block2 download (RFC 7959 §2.4) block by block with fresh MIDs and the same token; at most maxBlocks. */
export async function getBlockwise(peer: DtlsPeer, r: RawRequest, szx?: number, maxBlocks = 200): Promise<DtlsBlockTransfer> {
  const token = r.token ?? peer.nextToken();
  const requests: CoapMessage[] = [];
  const answers: CoapMessage[] = [];
  const chunks: Buffer[] = [];
  let block = szx === undefined ? undefined : { num: 0, more: false, szx };
  for (let i = 0; i < maxBlocks; i++) {
    const req = peer.build({ ...r, token, block2: block, payload: i === 0 ? r.payload : undefined });
    requests.push(req);
    const res = await peer.call(req);
    answers.push(res);
    chunks.push(res.payload);
    const v = getOption(res, Opt.BLOCK2);
    const b = v ? decodeBlock(v) : undefined;
    if (!b || !b.more) return { requests, answers, payload: Buffer.concat(chunks) };
    block = { num: b.num + 1, more: false, szx: b.szx };
  }
  throw new Error(`more than ${maxBlocks} blocks`);
}

/** Block1 upload (RFC 7959 §2.5) in 2^(szx+4)-byte blocks, Size1 on block 0; stops on an answer other than 2.31. */
export async function sendBlockwise(peer: DtlsPeer, r: RawRequest, body: Buffer, szx: number): Promise<DtlsBlockTransfer> {
  const token = r.token ?? peer.nextToken();
  const size = 1 << (szx + 4);
  const count = Math.ceil(body.length / size);
  const requests: CoapMessage[] = [];
  const answers: CoapMessage[] = [];
  for (let num = 0; num < count; num++) {
    const more = num < count - 1;
    const req = peer.build({ ...r, token, block1: { num, more, szx }, size1: num === 0 ? body.length : undefined, payload: body.subarray(num * size, Math.min(body.length, (num + 1) * size)) });
    requests.push(req);
    const res = await peer.call(req);
    answers.push(res);
    if (more && res.code !== ((2 << 5) | 31)) break;
  }
  return { requests, answers, payload: Buffer.concat(answers.map((a) => a.payload)) };
}

/** Datagrams the kernel dropped at the sockets bound to `port` (/proc/net/udp, last column: receive buffer full). */
export function udpDrops(port: number): number {
  let drops = 0;
  const hex = port.toString(16).toUpperCase().padStart(4, '0');
  for (const file of ['/proc/net/udp', '/proc/net/udp6']) {
    let text = '';
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols.length > 12 && cols[1]!.endsWith(`:${hex}`)) drops += Number(cols[cols.length - 1]);
    }
  }
  return drops;
}

/** Resident set size of a process in kB (Linux /proc). */
export function vmRssKb(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error('no VmRSS in /proc status');
  return Number(m[1]);
}

/** A plain UDP socket bound on loopback that counts (and optionally keeps) what it receives. */
export async function udpSocket(host: string, keep = false): Promise<{ sock: dgram.Socket; received: Buffer[]; count: () => number; close: () => Promise<void> }> {
  const sock = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
  const received: Buffer[] = [];
  let n = 0;
  sock.on('message', (m) => {
    n++;
    if (keep) received.push(m);
  });
  sock.on('error', () => {});
  await new Promise<void>((r) => sock.bind(0, localFor(host), () => r()));
  return { sock, received, count: () => n, close: () => new Promise<void>((r) => sock.close(() => r())) };
}

/** Deterministic PRNG, re-exported for the DTLS system tests. */
export { mulberry32 } from './random.js';

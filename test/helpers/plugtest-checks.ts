// Helpers of the ETSI plugtest system tests (plugtest.md §1-4): a raw CoAP peer with full control
// of type/MID/token that auto-acknowledges CON messages, expected payload builders, link-format parsing.
import dgram from 'node:dgram';
import { expect } from 'vitest';
import { decode, encode } from '../../src/coap/codec.js';
import { ACK, CON, NON, RST, Opt, TYPE_NAMES, codeName, codeText, type CoapMessage, type CoapOption, type MessageType } from '../../src/coap/message.js';
import { decodeBlock, encodeBlock, encodeUint, getOption, getOptions, getUint, sortOptions, type Block } from '../../src/coap/options.js';
import { counterToken, describe, messagesSince, waitInLog, waitUntilSignalled } from './signal.js';

/** One received datagram. */
export interface Received {
  msg: CoapMessage;
  at: number;
}

/** What a request message is built from. */
export interface RawRequest {
  type?: MessageType;
  code: number;
  path?: string;
  query?: readonly string[];
  token?: Buffer;
  mid?: number;
  payload?: Buffer | string;
  format?: number;
  accept?: number;
  observe?: number;
  block1?: Block;
  block2?: Block;
  size1?: number;
  etag?: Buffer;
  ifMatch?: readonly Buffer[];
  ifNoneMatch?: boolean;
  options?: readonly CoapOption[];
}

/** How a received CON message is answered automatically. */
export type ConReaction = 'ack' | 'rst' | 'ignore';

/**
 * A raw CoAP peer on its own UDP socket. Every received datagram is logged; CON messages are
 * acknowledged with an empty ACK (or rejected / ignored, see `onCon`).
 */
export class RawPeer {
  /** the transport (test/helpers/stream-peer.ts has the coap+tcp / coaps+tcp peer of the same API) */
  readonly transport = 'udp' as const;
  readonly log: Received[] = [];
  /** decides the reaction to a received CON message (default: ACK) */
  onCon: (m: CoapMessage) => ConReaction = () => 'ack';
  /** tokens (hex) whose NON messages are rejected with RST (reactive cancel of NON notifications) */
  readonly rejectNonTokens = new Set<string>();
  /** empty ACK/RST messages this peer sent, by MID */
  readonly sentReplies: Array<{ type: MessageType; mid: number }> = [];
  private midCounter = Math.floor(Math.random() * 0xffff);
  private tokenCounter = Math.floor(Math.random() * 0xffffff);
  private readonly waiters: Array<() => void> = [];

  private constructor(
    private readonly sock: dgram.Socket,
    readonly host: string,
    readonly port: number,
  ) {
    sock.on('message', (data) => {
      let msg: CoapMessage;
      try {
        msg = decode(data);
      } catch {
        return;
      }
      this.log.push({ msg, at: Date.now() });
      if (msg.type === CON) {
        const reaction = this.onCon(msg);
        if (reaction !== 'ignore') this.reply(reaction === 'ack' ? ACK : RST, msg.mid);
      } else if (msg.type === NON && this.rejectNonTokens.has(msg.token.toString('hex'))) {
        this.reply(RST, msg.mid);
      }
      for (const w of this.waiters.splice(0)) w();
    });
  }

  /** Opens a peer towards host:port (host `127.0.0.1` or `::1`). */
  static async open(host: string, port: number): Promise<RawPeer> {
    const v6 = host.includes(':');
    const sock = dgram.createSocket(v6 ? 'udp6' : 'udp4');
    await new Promise<void>((r) => sock.bind(0, v6 ? '::1' : '127.0.0.1', () => r()));
    return new RawPeer(sock, host, port);
  }

  /** Next message id (sequential from a random start). */
  nextMid(): number {
    this.midCounter = (this.midCounter + 1) & 0xffff;
    return this.midCounter;
  }

  /** A fresh 4-byte token. */
  nextToken(): Buffer {
    this.tokenCounter = (this.tokenCounter + 1) & 0xffffffff;
    return counterToken(this.tokenCounter);
  }

  /** Builds a request message (fresh MID and token unless given). */
  build(r: RawRequest): CoapMessage {
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
    return {
      type: r.type ?? CON,
      code: r.code,
      mid: r.mid ?? this.nextMid(),
      token: r.token ?? this.nextToken(),
      options: sortOptions(options),
      payload,
    };
  }

  /** Sends a message. */
  send(msg: CoapMessage): void {
    this.sock.send(encode(msg), this.port, this.host);
  }

  /** Sends an empty ACK or RST. */
  reply(type: MessageType, mid: number): void {
    this.sentReplies.push({ type, mid });
    this.sock.send(encode({ type, code: 0, mid, token: Buffer.alloc(0), options: [], payload: Buffer.alloc(0) }), this.port, this.host);
  }

  /** Current log position (for waitFor's `from`). */
  mark(): number {
    return this.log.length;
  }

  /** Waits for the first message at log index ≥ from matching pred. */
  async waitFor(pred: (m: CoapMessage) => boolean, ms = 6000, from = 0, what = 'message'): Promise<CoapMessage> {
    return (await waitInLog(this.log, this.waiters, pred, ms, from, what)).msg;
  }

  /** Waits until cond() holds (re-checked on every received datagram). */
  waitUntil(cond: () => boolean, ms: number, what: string): Promise<void> {
    return waitUntilSignalled(this.waiters, cond, ms, what);
  }

  /** Messages at log index ≥ from matching pred. */
  since(from: number, pred: (m: CoapMessage) => boolean = () => true): CoapMessage[] {
    return messagesSince(this.log, from, pred);
  }

  /**
   * Sends a request and waits for its first answer: for CON the ACK with the same MID
   * (piggy-backed or empty) or a RST; for NON the first non-ACK message with the token.
   */
  async call(msg: CoapMessage, ms = 6000): Promise<CoapMessage> {
    const from = this.mark();
    this.send(msg);
    const tok = msg.token.toString('hex');
    return this.waitFor(
      (m) =>
        msg.type === CON
          ? (m.type === ACK || m.type === RST) && m.mid === msg.mid
          : m.type !== ACK && m.code !== 0 && m.token.toString('hex') === tok,
      ms,
      from,
      `answer to ${describe(msg)}`,
    );
  }

  /** Shorthand: build + call. */
  request(r: RawRequest, ms?: number): Promise<CoapMessage> {
    return this.call(this.build(r), ms);
  }

  /** Waits `ms` milliseconds (for "nothing must arrive" checks). */
  static sleep(ms: number): Promise<void> {
    return new Promise((r) => setTimeout(r, ms));
  }

  close(): void {
    this.sock.close();
  }
}

export { describe };

/** True if the message carries this token. */
export function hasToken(token: Buffer): (m: CoapMessage) => boolean {
  const hex = token.toString('hex');
  return (m) => m.token.toString('hex') === hex;
}

/** Block2 option of a message (asserted present and valid). */
export function block2Of(m: CoapMessage): Block {
  const v = getOption(m, Opt.BLOCK2);
  expect(v, 'Block2 option').toBeDefined();
  const b = decodeBlock(v!);
  expect(b, 'valid Block2').toBeDefined();
  return b!;
}

/** Block1 option of a message (asserted present and valid). */
export function block1Of(m: CoapMessage): Block {
  const v = getOption(m, Opt.BLOCK1);
  expect(v, 'Block1 option').toBeDefined();
  const b = decodeBlock(v!);
  expect(b, 'valid Block1').toBeDefined();
  return b!;
}

/** Location-Path segments as text. */
export function locationPath(m: CoapMessage): string[] {
  return getOptions(m, Opt.LOCATION_PATH).map((v) => v.toString('utf8'));
}

/** Location-Query values as text. */
export function locationQuery(m: CoapMessage): string[] {
  return getOptions(m, Opt.LOCATION_QUERY).map((v) => v.toString('utf8'));
}

/** Content-Format or undefined. */
export function cf(m: CoapMessage): number | undefined {
  return getUint(m, Opt.CONTENT_FORMAT);
}

/** Observe value or undefined. */
export function observeOf(m: CoapMessage): number | undefined {
  return getUint(m, Opt.OBSERVE);
}

/** Asserts type and code of a message (readable failure output); type undefined: not checked (coap+tcp has none, RFC 8323 §3). */
export function expectMsg(m: CoapMessage, type: MessageType | undefined, code: number | readonly number[]): void {
  const codes = typeof code === 'number' ? [code] : code;
  if (type !== undefined) expect(TYPE_NAMES[m.type], `type of ${describe(m)}`).toBe(TYPE_NAMES[type]);
  expect(codes.map(codeText), `code of ${describe(m)}`).toContain(codeText(m.code));
}

/** The checker's "has Content-Format": option present, or empty payload, or non-2.xx code. */
export function checkerHasContentFormat(m: CoapMessage): boolean {
  return cf(m) !== undefined || m.payload.length === 0 || m.code >> 5 !== 2;
}

/** `Type: T (TN)\nCode: C (CN)\nMID: MID` of a request (resources.md §3). */
export function summary(req: CoapMessage): string {
  return `Type: ${req.type} (${TYPE_NAMES[req.type]})\nCode: ${req.code} (${codeName(req.code)})\nMID: ${req.mid}`;
}

/** If longer than `limit` characters: the first `keep` characters + `»`. */
export function truncate(text: string, limit: number, keep: number): string {
  return text.length > limit ? text.slice(0, keep) + '\u00bb' : text;
}

/** Expected `/test` GET payload (resources.md §3.1). */
export function expectedTestPayload(req: CoapMessage): string {
  return truncate(`${summary(req)}\nToken: ${req.token.toString('hex').toUpperCase()}`, 64, 62);
}

/** The `/large` text (resources.md §3.5): 20 lines of 64 bytes, 5 blocks of 4 lines. */
export function largeText(): string {
  let s = '';
  for (let n = 1; n <= 5; n++) {
    s += '/' + '-'.repeat(61) + '\\\n';
    s += '|' + ' '.repeat(17) + `RESOURCE BLOCK NO. ${n} OF 5` + ' '.repeat(19) + '|\n';
    s += '|' + ' '.repeat(15) + '[each line contains 64 bytes]' + ' '.repeat(17) + '|\n';
    s += '\\' + '-'.repeat(61) + '/\n';
  }
  return s;
}

/** The checker's 1280-byte request body for BLOCK_03/04/05: 5 blocks of 4 lines ("Request BLOCK NO. n OF 5"). */
export function requestBlockText(): string {
  let s = '';
  for (let n = 1; n <= 5; n++) {
    s += '/' + '-'.repeat(61) + '\\\n';
    s += ('|' + ' '.repeat(17) + `Request BLOCK NO. ${n} OF 5`).padEnd(62, ' ') + '|\n';
    s += ('|' + ' '.repeat(15) + '[each line contains 64 bytes]').padEnd(62, ' ') + '|\n';
    s += '\\' + '-'.repeat(61) + '/\n';
  }
  return s;
}

/** One web link of a link-format document. */
export interface ParsedLink {
  uri: string;
  attrs: Map<string, string[]>;
}

/** Parses RFC 6690 link-format (quoted values may contain `,` and `;`). */
export function parseLinkFormat(text: string): ParsedLink[] {
  const links: ParsedLink[] = [];
  let i = 0;
  const n = text.length;
  while (i < n) {
    if (text[i] !== '<') throw new Error(`link-format: '<' expected at ${i}: ${text.slice(i, i + 30)}`);
    const end = text.indexOf('>', i);
    if (end < 0) throw new Error('link-format: unterminated <');
    const link: ParsedLink = { uri: text.slice(i + 1, end), attrs: new Map() };
    i = end + 1;
    while (i < n && text[i] === ';') {
      i++;
      let name = '';
      while (i < n && /[^=;,]/.test(text[i]!)) name += text[i++];
      let value = '';
      if (text[i] === '=') {
        i++;
        if (text[i] === '"') {
          const close = text.indexOf('"', i + 1);
          if (close < 0) throw new Error('link-format: unterminated quote');
          value = text.slice(i + 1, close);
          i = close + 1;
        } else {
          while (i < n && text[i] !== ';' && text[i] !== ',') value += text[i++];
        }
      }
      link.attrs.set(name, value === '' ? [] : value.split(' '));
    }
    links.push(link);
    if (i < n) {
      if (text[i] !== ',') throw new Error(`link-format: ',' expected at ${i}: ${text.slice(i, i + 30)}`);
      i++;
    }
  }
  return links;
}

/** The hosts to run CORE/LINK on: 127.0.0.1 and, when configured, ::1. */
export function loopbackHosts(ipv6: boolean): string[] {
  return ipv6 ? ['127.0.0.1', '::1'] : ['127.0.0.1'];
}

export { ACK, CON, NON, RST };

/** What a block-wise transfer needs of a peer (RawPeer, or StreamPeer over coap+tcp / coaps+tcp). */
export interface BlockPeer {
  nextToken(): Buffer;
  build(r: RawRequest): CoapMessage;
  call(msg: CoapMessage, ms?: number): Promise<CoapMessage>;
}

/** Result of a raw block-wise transfer. */
export interface BlockTransfer {
  requests: CoapMessage[];
  answers: CoapMessage[];
  payload: Buffer;
}

/**
 * Block2 download block by block (RFC 7959 §2.4): the first request as given (with an early
 * Block2 if `szx` is set), then requests for the following blocks in the server's SZX until M=0.
 * Every request is CON with a fresh MID (none over TCP) and the same token; at most `maxBlocks` blocks.
 */
export async function getBlockwise(peer: BlockPeer, r: RawRequest, szx?: number, maxBlocks = 200): Promise<BlockTransfer> {
  const token = r.token ?? peer.nextToken();
  const requests: CoapMessage[] = [];
  const answers: CoapMessage[] = [];
  const chunks: Buffer[] = [];
  let block: Block | undefined = szx === undefined ? undefined : { num: 0, more: false, szx };
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

/**
 * Block1 upload (RFC 7959 §2.5): `body` in blocks of 2^(szx+4) bytes, Size1 on block 0, one CON
 * request per block with a fresh MID and the same token. Stops early on an answer that is not 2.31.
 */
export async function sendBlockwise(peer: BlockPeer, r: RawRequest, body: Buffer, szx: number): Promise<BlockTransfer> {
  const token = r.token ?? peer.nextToken();
  const size = 1 << (szx + 4);
  const count = Math.ceil(body.length / size);
  const requests: CoapMessage[] = [];
  const answers: CoapMessage[] = [];
  for (let num = 0; num < count; num++) {
    const more = num < count - 1;
    const req = peer.build({
      ...r,
      token,
      block1: { num, more, szx },
      size1: num === 0 ? body.length : undefined,
      payload: body.subarray(num * size, Math.min(body.length, (num + 1) * size)),
    });
    requests.push(req);
    const res = await peer.call(req);
    answers.push(res);
    if (more && res.code !== (2 << 5 | 31)) break;
  }
  return { requests, answers, payload: Buffer.concat(answers.map((a) => a.payload)) };
}

/** Java's Arrays.hashCode(byte[]) as 4 big-endian bytes (the /validate ETag, resources.md §3.19). */
export function validateEtag(data: Buffer): Buffer {
  let h = 1;
  for (const b of data) h = (Math.imul(31, h) + ((b << 24) >> 24)) | 0;
  const out = Buffer.alloc(4);
  out.writeInt32BE(h);
  return out;
}

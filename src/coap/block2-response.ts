// Server-side Block2 decisions shared by responses (server-layer.ts) and notifications (observe.ts): whether a
// body goes out block-wise and the transfer kept for the later blocks (RFC 7959 §2.2, §2.4, §3.4), with BERT
// over coap+tcp/coaps+tcp when the connection negotiated it (RFC 8323 §6).
import { Opt, type CoapMessage, type CoapOption } from './message.js';
import { blockSize, getOption, sizeToSzx } from './options.js';
import { BERT_BLOCK_SIZE, BERT_SZX, decodeBlockOption } from './bert.js';
import type { Block2Transfer, TransferStore } from './blockwise.js';
import type { CoapStackConfig } from './stack-config.js';

/** What a Block2 decision needs of an endpoint: its settings and its Block2 transfers. */
export interface Block2Owner {
  readonly config: CoapStackConfig;
  readonly block2: TransferStore<Block2Transfer>;
}

/** Key of a block-wise transfer: peer, method and request URI (path and query). */
export function transferKey(peer: string, msg: CoapMessage): string {
  let key = peer + '|' + msg.code;
  for (const o of msg.options) {
    if (o.number === Opt.URI_PATH) key += '/' + o.value.toString('utf8');
    else if (o.number === Opt.URI_QUERY) key += '?' + o.value.toString('utf8');
    else if (o.number > Opt.URI_QUERY) break;
  }
  return key;
}

/**
 * Decides whether a response body goes out block-wise; stores the transfer for the later blocks. With `bert` > 0
 * (BERT blocks per message on the request's connection) a Block2 with SZX 7 is understood, and a server-initiated
 * transfer uses BERT too (RFC 8323 §6).
 */
export function blockwiseResponse(
  ep: Block2Owner,
  req: CoapMessage,
  peer: string,
  payload: Buffer,
  options: CoapOption[],
  code: number,
  bert = 0,
): { num: number; szx: number; key: string; options: CoapOption[] } | undefined {
  const cfg = ep.config;
  const requested = getOption(req, Opt.BLOCK2);
  const b2 = requested ? decodeBlockOption(requested, bert > 0) : undefined;
  const preferred = sizeToSzx(cfg.preferredBlockSize);
  let szx: number;
  if (b2) szx = b2.szx === BERT_SZX ? BERT_SZX : Math.min(b2.szx, preferred);
  else szx = bert > 0 ? BERT_SZX : preferred;
  // bytes of the first message: with BERT up to `bert` blocks of 1024 bytes
  const first = szx === BERT_SZX ? bert * BERT_BLOCK_SIZE : blockSize(szx);
  const needed = b2 ? payload.length > first || b2.num > 0 || cfg.blockwiseStrictBlock2Option : payload.length > cfg.maxMessageSize;
  if (!needed) return undefined;
  const num = b2 ? b2.num : 0;
  const key = transferKey(peer, req);
  const stored = options.filter((o) => o.number !== Opt.BLOCK2 && o.number !== Opt.SIZE2 && o.number !== Opt.OBSERVE && o.number !== Opt.BLOCK1);
  if (payload.length > first) ep.block2.set(key, { code, payload, options: stored, time: Date.now() });
  return { num, szx, key, options };
}

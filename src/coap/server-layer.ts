// The server role of the exchange layer: option checks, Block1/Block2 (RFC 7959), observe registration
// (RFC 7641 §3.1), resource dispatch and building responses; the message layer sends them (message-layer.ts).
import { NON, Code, Opt, type CoapMessage, type CoapOption, EMPTY, isSuccess } from './message.js';
import { isMessageConnector, type EndpointContext } from '../transport/connector.js';
import type { Exchange, Resource, ResponseSpec } from './resource.js';
import { METHODS, findResource } from './resource.js';
import {
  addOption,
  decodeUint,
  encodeBlock,
  encodeUint,
  getOption,
  getUint,
  isCritical,
  isKnownOption,
  sizeToSzx,
  sortOptions,
  type Block,
} from './options.js';
import type { CoapEndpoint } from './endpoint.js';
import type { ServedRequest } from './message-layer.js';
import { assemble } from './blockwise.js';
import { BERT_SZX, bertBlocksFor, blockSizeError, blockSpan, decodeBlockOption, unitSize } from './bert.js';
import { blockwiseResponse, transferKey } from './block2-response.js';
import { registerRelation, cancelRelation } from './observe.js';

/** Allowed value lengths of known options (§5.10 table; RFC 7641, 7959). */
const OPTION_LENGTHS: Record<number, [number, number]> = {
  [Opt.IF_MATCH]: [0, 8],
  [Opt.URI_HOST]: [1, 255],
  [Opt.ETAG]: [1, 8],
  [Opt.IF_NONE_MATCH]: [0, 0],
  [Opt.OBSERVE]: [0, 3],
  [Opt.URI_PORT]: [0, 2],
  [Opt.LOCATION_PATH]: [0, 255],
  [Opt.URI_PATH]: [0, 255],
  [Opt.CONTENT_FORMAT]: [0, 2],
  [Opt.MAX_AGE]: [0, 4],
  [Opt.URI_QUERY]: [0, 255],
  [Opt.ACCEPT]: [0, 2],
  [Opt.LOCATION_QUERY]: [0, 255],
  [Opt.BLOCK2]: [0, 3],
  [Opt.BLOCK1]: [0, 3],
  [Opt.SIZE2]: [0, 4],
  [Opt.PROXY_URI]: [1, 1034],
  [Opt.PROXY_SCHEME]: [1, 255],
  [Opt.SIZE1]: [0, 4],
  [Opt.NO_RESPONSE]: [0, 1],
};

/** Options that must not repeat in a request (§5.4.5). */
const SINGLE = new Set<number>([
  Opt.URI_HOST, Opt.IF_NONE_MATCH, Opt.OBSERVE, Opt.URI_PORT, Opt.CONTENT_FORMAT, Opt.ACCEPT,
  Opt.BLOCK2, Opt.BLOCK1, Opt.SIZE2, Opt.SIZE1, Opt.PROXY_URI, Opt.PROXY_SCHEME, Opt.MAX_AGE,
]);

/** First bad critical option of a request, or undefined (§5.4.1, §5.4.3, §5.4.5). */
function badCriticalOption(msg: CoapMessage): CoapOption | undefined {
  let prev = -1;
  for (const o of msg.options) {
    const known = isKnownOption(o.number);
    let bad = !known;
    if (known) {
      const range = OPTION_LENGTHS[o.number];
      if (range && (o.value.length < range[0] || o.value.length > range[1])) bad = true;
      if (o.number === prev && SINGLE.has(o.number)) bad = true;
    }
    prev = o.number;
    if (bad && isCritical(o.number)) return o;
  }
  return undefined;
}

/** A request being served; implements the handler-facing Exchange API and the message layer's ServedRequest. */
export class ServerExchange implements Exchange, ServedRequest {
  readonly request: CoapMessage;
  readonly context: EndpointContext;
  readonly ep: CoapEndpoint;
  readonly peer: string;
  resource!: Resource;
  readonly notification = false;
  accepted = false;
  responded = false;
  /** the message layer's state of the request (UDP: its deduplication handle) */
  layerState: unknown;
  /** the message hooks' state of the exchange (e.g. OSCORE's request binding) */
  hookState: unknown = undefined;
  /** final Block1 of a reassembled body, echoed in the response */
  block1: Block | undefined;
  /** Observe=0 on an observable resource */
  observe = false;
  /** BERT blocks per message on this request's connection; 0: no BERT (RFC 8323 §6) */
  bert = 0;

  constructor(ep: CoapEndpoint, request: CoapMessage, context: EndpointContext, peer: string, layerState: unknown) {
    this.ep = ep;
    this.request = request;
    this.context = context;
    this.peer = peer;
    this.layerState = layerState;
  }

  get endpoint() {
    return this.ep.info;
  }

  accept(): void {
    if (this.responded || this.accepted) return;
    this.accepted = true;
    this.ep.layer.accept(this);
  }

  respond(res: ResponseSpec): void {
    if (this.responded) return;
    this.responded = true;
    sendResponse(this, res);
  }
}

/** Serves one request the message layer accepted (no duplicate); `layerState` is the message layer's. */
export function handleRequest(ep: CoapEndpoint, msg: CoapMessage, ctx: EndpointContext, peer: string, layerState: unknown): void {
  const now = Date.now();
  const ex = new ServerExchange(ep, msg, ctx, peer, layerState);
  try {
    const hooks = ep.messageHooks;
    if (hooks !== undefined) {
      const verdict = hooks.inbound(msg, ctx, ex);
      if (verdict === undefined) return;
      if ('reply' in verdict) {
        ex.responded = true;
        const reply = verdict.reply;
        sendResponseMessage(ex, reply.code, { options: reply.options, payload: reply.payload });
        return;
      }
      (ex as { request: CoapMessage }).request = verdict;
    }
    process(ex, now);
  } catch (err) {
    ep.logger?.warn({ err }, 'request handler failed');
    if (!ex.responded) ex.respond({ code: Code.INTERNAL_SERVER_ERROR });
  }
}

function process(ex: ServerExchange, now: number): void {
  const ep = ex.ep;
  let msg = ex.request;
  const bad = badCriticalOption(msg);
  if (bad) {
    ex.respond({ code: Code.BAD_OPTION, payload: `option ${bad.number} not supported!`, format: 0 });
    return;
  }
  if (getOption(msg, Opt.PROXY_URI) || getOption(msg, Opt.PROXY_SCHEME)) {
    ex.respond({ code: Code.PROXY_NOT_SUPPORTED });
    return;
  }
  const method = METHODS[msg.code];
  ex.bert = bertBlocksFor(ep.connector, ex.context, ep.config.tcpNumberOfBulkBlocks);
  const block1Value = getOption(msg, Opt.BLOCK1);
  if (block1Value !== undefined && method !== 'GET' && method !== 'DELETE') {
    const assembled = receiveBlock1(ex, block1Value, now);
    if (!assembled) return;
    msg = assembled;
    (ex as { request: CoapMessage }).request = msg;
  }
  const block2Value = getOption(msg, Opt.BLOCK2);
  if (block2Value !== undefined) {
    const b2 = decodeBlockOption(block2Value, ex.bert > 0);
    if (!b2) {
      invalidBlock(ex, 'Block2', block2Value);
      return;
    }
    if (b2.num > 0 && serveBlock2(ex, b2, now)) return;
  }
  const path: string[] = [];
  for (const o of msg.options) {
    if (o.number === Opt.URI_PATH) path.push(o.value.toString('utf8'));
    else if (o.number > Opt.URI_PATH) break;
  }
  const resource = ep.root ? findResource(ep.root, path) : undefined;
  if (!resource) {
    ex.respond({ code: Code.NOT_FOUND });
    return;
  }
  ex.resource = resource;
  const handler = method ? resource.handlers[method] : undefined;
  if (!handler) {
    ex.respond({ code: Code.METHOD_NOT_ALLOWED });
    return;
  }
  if (method === 'GET' || method === 'FETCH') {
    const obs = getOption(msg, Opt.OBSERVE);
    if (obs !== undefined) {
      const v = decodeUint(obs);
      if (v === 1) {
        ep.observeHooks?.cancelRequest();
        cancelRelation(ep, ex.peer, msg.token);
      } else if (v === 0 && resource.observable) {
        ep.observeHooks?.observeRequest();
        ex.observe = true;
      }
    }
  }
  handler(ex);
}

/**
 * 4.02 for a malformed block option, or one with SZX 7 where BERT is not negotiated: reserved over UDP
 * (RFC 7959 §2.2); over TCP it is BERT (RFC 8323 §6), which needs Block-Wise-Transfer in both CSMs with a
 * Max-Message-Size above 1152 (§5.3.2): this server offers it only with COAP.TCP_NUMBER_OF_BULK_BLOCKS > 1.
 */
function invalidBlock(ex: ServerExchange, name: 'Block1' | 'Block2', value: Buffer): void {
  let text = `invalid ${name} option`;
  if (value.length <= 3 && isMessageConnector(ex.ep.connector) && value.length > 0 && (value[value.length - 1]! & 7) === BERT_SZX) {
    text =
      ex.ep.config.tcpNumberOfBulkBlocks > 1
        ? `${name}: BERT (SZX 7) needs Block-Wise-Transfer and a Max-Message-Size above 1152 in the peer's CSM`
        : `${name}: BERT (SZX 7) is not supported by this server`;
  }
  ex.respond({ code: Code.BAD_OPTION, payload: text, format: 0 });
}

/** Block1 reassembly (RFC 7959 §2.5); returns the complete request or undefined when answered. */
function receiveBlock1(ex: ServerExchange, value: Buffer, now: number): CoapMessage | undefined {
  const ep = ex.ep;
  const msg = ex.request;
  const max = ep.config.maxResourceBodySize;
  const b1 = decodeBlockOption(value, ex.bert > 0);
  if (!b1) {
    invalidBlock(ex, 'Block1', value);
    return undefined;
  }
  const size1 = getUint(msg, Opt.SIZE1);
  if (size1 !== undefined && size1 > max) {
    tooLarge(ex, max);
    return undefined;
  }
  const key = transferKey(ex.peer, msg);
  const format = getUint(msg, Opt.CONTENT_FORMAT);
  // NUM counts blocks of the SZX's size, 1024-byte units with BERT (RFC 8323 §6)
  const size = unitSize(b1.szx);
  let t = ep.block1.get(key, now);
  if (b1.num === 0) {
    t = { chunks: [], length: 0, format, time: now };
    if (b1.more) ep.block1.set(key, t);
  } else {
    if (!t || b1.num * size !== t.length) {
      if (t) ep.block1.delete(key);
      ex.respond({ code: Code.REQUEST_ENTITY_INCOMPLETE, payload: 'missing blocks', format: 0 });
      return undefined;
    }
    if (t.format !== format) {
      ep.block1.delete(key);
      ex.respond({ code: Code.REQUEST_ENTITY_INCOMPLETE, payload: 'unexpected Content-Format', format: 0 });
      return undefined;
    }
  }
  // RFC 7959 §2.3: a block with M=1 carries exactly the block size; RFC 8323 §6: a non-final BERT block a multiple of 1024
  const sizeError = blockSizeError(b1, msg.payload.length);
  if (sizeError !== undefined) {
    ep.block1.delete(key);
    ex.respond({ code: Code.BAD_REQUEST, payload: sizeError, format: 0 });
    return undefined;
  }
  if (t.length + msg.payload.length > max) {
    ep.block1.delete(key);
    tooLarge(ex, max);
    return undefined;
  }
  t.chunks.push(msg.payload);
  t.length += msg.payload.length;
  if (b1.more) {
    ep.block1.touch(key, t, now);
    const options: CoapOption[] = [{ number: Opt.BLOCK1, value: encodeBlock({ num: b1.num, more: true, szx: b1.szx }) }];
    ex.respond({ code: Code.CONTINUE, options });
    return undefined;
  }
  ep.block1.delete(key);
  ex.block1 = { num: b1.num, more: false, szx: b1.szx };
  const options = msg.options.filter((o) => o.number !== Opt.BLOCK1 && o.number !== Opt.SIZE1);
  return { ...msg, options, payload: assemble(t) };
}

function tooLarge(ex: ServerExchange, max: number): void {
  ex.respond({
    code: Code.REQUEST_ENTITY_TOO_LARGE,
    payload: `body too large, max. ${max} bytes`,
    format: 0,
    options: [{ number: Opt.SIZE1, value: encodeUint(max) }],
  });
}

/** Serves a later Block2 from a stored response body; false when no transfer is known. */
function serveBlock2(ex: ServerExchange, b2: Block, now: number): boolean {
  const ep = ex.ep;
  const key = transferKey(ex.peer, ex.request);
  const t = ep.block2.get(key, now);
  if (!t) return false;
  const szx = b2.szx === BERT_SZX ? BERT_SZX : Math.min(b2.szx, sizeToSzx(ep.config.preferredBlockSize));
  ep.block2.touch(key, t, now);
  const { payload, options, code } = t;
  const sliced = sliceBlock(ex, payload, [...options], b2.num, szx, key);
  sendResponseMessage(ex, sliced.code ?? code, sliced);
  return true;
}

/**
 * Adds Block2 (and Size2 for block 0) to options and returns the block's payload: one block, or with BERT up to
 * ex.bert 1024-byte blocks (RFC 8323 §6); 4.02 if out of range.
 */
function sliceBlock(ex: ServerExchange, payload: Buffer, options: CoapOption[], num: number, szx: number, key: string): { options: CoapOption[]; payload: Buffer; code?: number } {
  const span = blockSpan(num, szx, ex.bert, payload.length);
  if (span === undefined) {
    // a bigger block size negotiated later: RFC 7959 §2.4 allows the client to switch, stay in range
    ex.ep.block2.delete(key);
    return { options: [], payload: Buffer.from('block out of range'), code: Code.BAD_OPTION };
  }
  addOption(options, Opt.BLOCK2, encodeBlock({ num, more: span.more, szx }));
  if (num === 0) addOption(options, Opt.SIZE2, encodeUint(payload.length));
  if (!span.more) ex.ep.block2.delete(key);
  return { options, payload: payload.subarray(span.start, span.end) };
}

/** Builds and sends the response for a handler's ResponseSpec (block-wise and observe applied). */
function sendResponse(ex: ServerExchange, res: ResponseSpec): void {
  const ep = ex.ep;
  const req = ex.request;
  const payload = res.payload === undefined ? EMPTY : typeof res.payload === 'string' ? Buffer.from(res.payload, 'utf8') : res.payload;
  const options: CoapOption[] = res.options ? sortOptions([...res.options]) : [];
  if (res.format !== undefined) addOption(options, Opt.CONTENT_FORMAT, encodeUint(res.format));
  if (ex.block1) addOption(options, Opt.BLOCK1, encodeBlock(ex.block1));
  if (ex.observe) {
    if (isSuccess(res.code)) {
      const seq = registerRelation(ep, ex);
      if (seq !== undefined) addOption(options, Opt.OBSERVE, encodeUint(seq));
    } else {
      cancelRelation(ep, ex.peer, req.token);
    }
  }
  const block2 = blockwiseResponse(ep, req, ex.peer, payload, options, res.code, ex.bert);
  if (block2) {
    const sliced = sliceBlock(ex, payload, block2.options, block2.num, block2.szx, block2.key);
    sendResponseMessage(ex, sliced.code ?? res.code, sliced);
    return;
  }
  sendResponseMessage(ex, res.code, { options, payload });
}

/** Hands a response to the message layer, which picks type and MID (piggy-backed, separate CON, or NON). */
function sendResponseMessage(ex: ServerExchange, code: number, body: { options: CoapOption[]; payload: Buffer }): void {
  const ep = ex.ep;
  const req = ex.request;
  ep.stats.inc('send-responses');
  const msg: CoapMessage = { type: NON, code, mid: 0, token: req.token, options: body.options, payload: body.payload };
  ep.layer.sendResponse(ex, msg);
}

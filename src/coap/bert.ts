// BERT, the block-wise extension for reliable transports (RFC 8323 §6): block options with SZX 7 over
// coap+tcp/coaps+tcp, whose NUM counts 1024-byte units and whose payload may carry several such blocks.
// Pure arithmetic plus the per-connection decision whether BERT may be used (both CSMs, §5.3.2).
import { blockSize, decodeUint, type Block } from './options.js';
import { BASE_MAX_MESSAGE_SIZE, bertEnabled, type CsmState } from './tcp-signaling.js';
import { isMessageConnector, type Connector, type EndpointContext } from '../transport/connector.js';

/** SZX of a BERT option (RFC 8323 §6; reserved in RFC 7959 §2.2). */
export const BERT_SZX = 7;

/** Size of one BERT block and the unit of a BERT option's NUM (RFC 8323 §6). */
export const BERT_BLOCK_SIZE = 1024;

/** Room for header, token and options next to the BERT payload in one frame (RFC 8323 §3.2). */
export const BERT_HEADER_ROOM = 256;

/** Largest bulk-block count (COAP.TCP_NUMBER_OF_BULK_BLOCKS maximum). */
export const MAX_BULK_BLOCKS = 64;

/**
 * Max-Message-Size a TCP endpoint announces in its CSM (RFC 8323 §5.3.1): room for a payload of `payloadLimit`
 * bytes, and with BERT (`bulkBlocks` > 1) for that many 1024-byte blocks, never below the base 1152.
 */
export function tcpMaxMessageSize(payloadLimit: number, bulkBlocks: number): number {
  const bert = bulkBlocks > 1 ? bulkBlocks * BERT_BLOCK_SIZE : 0;
  return Math.max(BASE_MAX_MESSAGE_SIZE, Math.max(payloadLimit, bert) + BERT_HEADER_ROOM);
}

/** Bytes one NUM step stands for: 1024 for BERT, else the block size of the SZX. */
export function unitSize(szx: number): number {
  return szx === BERT_SZX ? BERT_BLOCK_SIZE : blockSize(szx);
}

/**
 * Decodes a Block1/Block2 value; SZX 7 only when `bert` (the connection negotiated BERT). Undefined for a
 * value of more than 3 bytes or a SZX 7 without BERT (RFC 7959 §2.2: reserved).
 */
export function decodeBlockOption(value: Buffer, bert: boolean): Block | undefined {
  if (value.length > 3) return undefined;
  const v = decodeUint(value);
  const szx = v & 7;
  if (szx === BERT_SZX && !bert) return undefined;
  return { num: v >> 4, more: (v & 8) !== 0, szx };
}

/** The bytes of a body one message carries: start, end (exclusive) and whether more follow. */
export interface BlockSpan {
  start: number;
  end: number;
  more: boolean;
}

/**
 * The part of a `total`-byte body a message with block NUM `num` and SZX `szx` carries: one block, or with
 * BERT up to `bulk` 1024-byte blocks from NUM × 1024 (RFC 8323 §6). Undefined when NUM lies beyond the body
 * (block 0 of an empty body is the empty span).
 */
export function blockSpan(num: number, szx: number, bulk: number, total: number): BlockSpan | undefined {
  const unit = unitSize(szx);
  const start = num * unit;
  if (start > total || (start === total && num > 0)) return undefined;
  const length = szx === BERT_SZX ? Math.max(1, bulk) * BERT_BLOCK_SIZE : unit;
  const end = Math.min(start + length, total);
  return { start, end, more: end < total };
}

/** NUM of the message after one that carried `length` payload bytes at block `num` with `szx` (RFC 8323 §6). */
export function nextNum(num: number, szx: number, length: number): number {
  return num + Math.ceil(length / unitSize(szx));
}

/**
 * Why a received block's payload size is wrong, or undefined when it is right: a block with M=1 carries exactly
 * the block size (RFC 7959 §2.3), a non-final BERT block a non-zero multiple of 1024 bytes (RFC 8323 §6).
 */
export function blockSizeError(block: Block, length: number): string | undefined {
  if (!block.more) return undefined;
  if (block.szx === BERT_SZX) {
    return length > 0 && length % BERT_BLOCK_SIZE === 0 ? undefined : `non-final BERT block of ${length} bytes (not a multiple of 1024)`;
  }
  return length === blockSize(block.szx) ? undefined : 'wrong block size';
}

/** BERT blocks per message towards a peer with this CSM state: 0 without BERT, else `configured` as far as the peer's Max-Message-Size allows (at least 1). */
export function bertBlocks(state: CsmState, configured: number): number {
  if (configured < 2 || !bertEnabled(state)) return 0;
  const fit = Math.floor((state.sendLimit - BERT_HEADER_ROOM) / BERT_BLOCK_SIZE);
  return Math.max(1, Math.min(configured, fit));
}

/** The CSM state of a stream connection handle (EndpointContext.connection of coap+tcp/coaps+tcp), if it is one. */
function csmOf(connection: unknown): CsmState | undefined {
  if (connection === null || typeof connection !== 'object') return undefined;
  const csm = (connection as { csm?: unknown }).csm;
  if (csm === null || typeof csm !== 'object') return undefined;
  const s = csm as Partial<CsmState>;
  return typeof s.sendLimit === 'number' && typeof s.peerBlockWise === 'boolean' && typeof s.local === 'object' ? (csm as CsmState) : undefined;
}

/** A client connector with one connection at a time (TcpClientConnector, and wrappers of it): its current context. */
interface ConnectionHolder {
  readonly context?: EndpointContext | undefined;
}

/**
 * BERT blocks per message for an exchange with the peer of `ctx` on `connector`: 0 unless it is a stream
 * connector, `configured` (COAP.TCP_NUMBER_OF_BULK_BLOCKS) is above 1 and both CSMs announced BERT. The
 * connection comes from `ctx` (server side) or from the connector's current context (client side).
 */
export function bertBlocksFor(connector: Connector, ctx: EndpointContext, configured: number): number {
  if (configured < 2 || !isMessageConnector(connector)) return 0;
  const state = csmOf(ctx.connection) ?? csmOf((connector as ConnectionHolder).context?.connection);
  return state === undefined ? 0 : bertBlocks(state, configured);
}

// BERT (RFC 8323 §6): NUM/offset arithmetic, the size rules of non-final blocks, decoding SZX 7 only where
// BERT is negotiated, the CSM a BERT endpoint announces (§5.3.2) and the per-connection block count.
import { describe, expect, it } from 'vitest';
import {
  BERT_SZX,
  bertBlocks,
  bertBlocksFor,
  blockSizeError,
  blockSpan,
  decodeBlockOption,
  nextNum,
  tcpMaxMessageSize,
  unitSize,
} from '../../src/coap/bert.js';
import { encodeTcp } from '../../src/coap/tcp-codec.js';
import { buildCsm, createCsmState, localCsm, parseSignal, receiveMessage, type CsmState } from '../../src/coap/tcp-signaling.js';
import type { Connector, EndpointContext } from '../../src/transport/connector.js';

/** Our state after the peer's CSM with these values. */
function negotiated(peer: { maxMessageSize?: number; blockWiseTransfer?: boolean }, local = { maxMessageSize: tcpMaxMessageSize(1024, 4), blockWiseTransfer: true }): CsmState {
  const r = receiveMessage(createCsmState(local), buildCsm(peer));
  expect(r.action.kind).toBe('none');
  return r.state;
}

describe('BERT block arithmetic (RFC 8323 §6)', () => {
  it('NUM counts 1024-byte units with SZX 7, the block size otherwise', () => {
    expect(unitSize(BERT_SZX)).toBe(1024);
    expect(unitSize(6)).toBe(1024);
    expect(unitSize(2)).toBe(64);
    expect(unitSize(0)).toBe(16);
  });

  it.each([
    // num, szx, bulk, total → span
    [0, 7, 4, 8000, { start: 0, end: 4096, more: true }],
    [4, 7, 4, 8000, { start: 4096, end: 8000, more: false }],
    [0, 7, 4, 4096, { start: 0, end: 4096, more: false }], // exactly 4 blocks: one final message
    [0, 7, 4, 3000, { start: 0, end: 3000, more: false }], // a final BERT block may exceed 1024
    [2, 7, 4, 8000, { start: 2048, end: 6144, more: true }], // any NUM is a byte position (× 1024)
    [0, 7, 0, 3000, { start: 0, end: 1024, more: true }], // bulk below 1 counts as 1
    [0, 7, 4, 0, { start: 0, end: 0, more: false }], // an empty body: block 0, empty
    [1, 6, 4, 3000, { start: 1024, end: 2048, more: true }], // SZX 6: one block, bulk ignored
    [2, 2, 4, 150, { start: 128, end: 150, more: false }],
  ])('blockSpan(num %i, szx %i, bulk %i, %i bytes)', (num, szx, bulk, total, span) => {
    expect(blockSpan(num, szx, bulk, total)).toEqual(span);
  });

  it('a NUM at or beyond the end of the body has no span', () => {
    expect(blockSpan(8, 7, 4, 8000)).toBeUndefined();
    expect(blockSpan(8, 7, 4, 8192)).toBeUndefined();
    expect(blockSpan(100, 7, 4, 8000)).toBeUndefined();
    expect(blockSpan(3, 6, 1, 3072)).toBeUndefined();
  });

  it('the next NUM advances by the 1024-byte blocks a BERT message carried', () => {
    expect(nextNum(0, 7, 4096)).toBe(4);
    expect(nextNum(4, 7, 2048)).toBe(6);
    expect(nextNum(0, 6, 1024)).toBe(1);
    expect(nextNum(3, 4, 256)).toBe(4);
  });

  it('a non-final BERT block carries a non-zero multiple of 1024 bytes; a non-final plain block exactly its size', () => {
    expect(blockSizeError({ num: 0, more: true, szx: 7 }, 4096)).toBeUndefined();
    expect(blockSizeError({ num: 0, more: true, szx: 7 }, 1024)).toBeUndefined();
    expect(blockSizeError({ num: 0, more: true, szx: 7 }, 1500)).toBe('non-final BERT block of 1500 bytes (not a multiple of 1024)');
    expect(blockSizeError({ num: 0, more: true, szx: 7 }, 0)).toBe('non-final BERT block of 0 bytes (not a multiple of 1024)');
    expect(blockSizeError({ num: 4, more: false, szx: 7 }, 1500)).toBeUndefined();
    expect(blockSizeError({ num: 4, more: false, szx: 7 }, 0)).toBeUndefined();
    expect(blockSizeError({ num: 1, more: true, szx: 6 }, 1024)).toBeUndefined();
    expect(blockSizeError({ num: 1, more: true, szx: 6 }, 2048)).toBe('wrong block size');
    expect(blockSizeError({ num: 1, more: true, szx: 2 }, 63)).toBe('wrong block size');
  });
});

describe('decoding block options with SZX 7', () => {
  it('SZX 7 is BERT only where negotiated; reserved (undefined) otherwise', () => {
    expect(decodeBlockOption(Buffer.from([0x47]), true)).toEqual({ num: 4, more: false, szx: 7 });
    expect(decodeBlockOption(Buffer.from([0x0f]), true)).toEqual({ num: 0, more: true, szx: 7 });
    expect(decodeBlockOption(Buffer.from([0x47]), false)).toBeUndefined();
    expect(decodeBlockOption(Buffer.from([0x46]), false)).toEqual({ num: 4, more: false, szx: 6 });
    expect(decodeBlockOption(Buffer.alloc(0), false)).toEqual({ num: 0, more: false, szx: 0 });
    expect(decodeBlockOption(Buffer.from([0x01, 0x00, 0x0f]), true)).toEqual({ num: 0x1000, more: true, szx: 7 });
    expect(decodeBlockOption(Buffer.from([1, 2, 3, 4]), true)).toBeUndefined();
  });
});

describe('the CSM of a BERT endpoint (RFC 8323 §5.3.2)', () => {
  it('Max-Message-Size has room for the blocks and the header; never below 1152', () => {
    expect(tcpMaxMessageSize(1024, 4)).toBe(4 * 1024 + 256);
    expect(tcpMaxMessageSize(1024, 1)).toBe(1280);
    expect(tcpMaxMessageSize(64, 1)).toBe(1152);
    expect(tcpMaxMessageSize(8192, 4)).toBe(8192 + 256);
  });

  it('announces Block-Wise-Transfer (option 4, empty) with Max-Message-Size 4352 (option 2): bytes as on the wire', () => {
    const csm = localCsm(createCsmState({ maxMessageSize: tcpMaxMessageSize(1024, 4), blockWiseTransfer: true }));
    // Len 4 (options), TKL 0 | code 7.01 | option 2 (delta 2, length 2) 0x1100 | option 4 (delta 2, length 0)
    expect(encodeTcp(csm).toString('hex')).toBe('40e122110020');
    expect(parseSignal(csm)).toMatchObject({ kind: 'csm', maxMessageSize: 4352, blockWiseTransfer: true });
  });
});

describe('BERT blocks per message on a connection', () => {
  it('both sides announced BERT: the configured count, as far as the peer Max-Message-Size allows', () => {
    expect(bertBlocks(negotiated({ maxMessageSize: 65536, blockWiseTransfer: true }), 4)).toBe(4);
    expect(bertBlocks(negotiated({ maxMessageSize: 2400, blockWiseTransfer: true }), 4)).toBe(2);
    // above 1152 but no room for one block with the header reserve: still 1 (a 1024-byte block fits the peer's limit)
    expect(bertBlocks(negotiated({ maxMessageSize: 1200, blockWiseTransfer: true }), 4)).toBe(1);
  });

  it('no BERT: configured 1, a peer without Block-Wise-Transfer, a peer Max-Message-Size of 1152, our own CSM without it', () => {
    expect(bertBlocks(negotiated({ maxMessageSize: 65536, blockWiseTransfer: true }), 1)).toBe(0);
    expect(bertBlocks(negotiated({ maxMessageSize: 65536 }), 4)).toBe(0);
    expect(bertBlocks(negotiated({ maxMessageSize: 1152, blockWiseTransfer: true }), 4)).toBe(0);
    expect(bertBlocks(negotiated({ maxMessageSize: 65536, blockWiseTransfer: true }, { maxMessageSize: 1152, blockWiseTransfer: true }), 4)).toBe(0);
  });

  const tcp = { protocol: 'TCP' } as unknown as Connector;
  const udp = { protocol: 'UDP' } as unknown as Connector;
  const csm = negotiated({ maxMessageSize: 65536, blockWiseTransfer: true });

  it('server side: the connection comes with the request context', () => {
    const ctx: EndpointContext = { address: '127.0.0.1', port: 1, connection: { id: 'tcp#1', csm } };
    expect(bertBlocksFor(tcp, ctx, 4)).toBe(4);
    expect(bertBlocksFor(tcp, ctx, 1)).toBe(0);
    // not a stream connector (a DTLS connection handle is no CSM state)
    expect(bertBlocksFor(udp, ctx, 4)).toBe(0);
    expect(bertBlocksFor(tcp, { address: '127.0.0.1', port: 1, connection: { id: 'dtls', csm: 'x' } }, 4)).toBe(0);
  });

  it('client side: the connector current connection when the context has none', () => {
    const dest: EndpointContext = { address: '127.0.0.1', port: 5683 };
    const client = { protocol: 'TCP', context: { address: '127.0.0.1', port: 5683, connection: { csm } } } as unknown as Connector;
    expect(bertBlocksFor(client, dest, 4)).toBe(4);
    const notConnected = { protocol: 'TCP', context: undefined } as unknown as Connector;
    expect(bertBlocksFor(notConnected, dest, 4)).toBe(0);
  });
});

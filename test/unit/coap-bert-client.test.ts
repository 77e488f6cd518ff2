// The client side of BERT (RFC 8323 §6) over a recording stream connector whose connection negotiated BERT (or not):
// Block1 uploads in n-block messages with NUM in 1024-byte units, a server that answers 2.31 with a smaller SZX,
// Block2 downloads of BERT messages, and malformed BERT responses.
import { describe, expect, it } from 'vitest';
import { CoapEndpoint } from '../../src/coap/endpoint.js';
import { DEFAULT_STACK_CONFIG } from '../../src/coap/stack-config.js';
import { Code, Opt, type CoapMessage } from '../../src/coap/message.js';
import { decodeUint, encodeBlock, getOption } from '../../src/coap/options.js';
import { request } from '../../src/coap/client-layer.js';
import { tcpMaxMessageSize } from '../../src/coap/bert.js';
import { buildCsm, createCsmState, receiveMessage, type CsmState } from '../../src/coap/tcp-signaling.js';
import type { EndpointContext, MessageConnector } from '../../src/transport/connector.js';

const DEST: EndpointContext = { address: '127.0.0.1', port: 5683 };

function csm(peerBert: boolean): CsmState {
  const local = { maxMessageSize: tcpMaxMessageSize(1024, 4), blockWiseTransfer: true };
  return receiveMessage(createCsmState(local), buildCsm({ maxMessageSize: 65536, blockWiseTransfer: peerBert })).state;
}

/** A client stream connector with one connection in the given CSM state; keeps what is sent. */
function streamConnector(state: CsmState): MessageConnector & { sent: CoapMessage[]; context: EndpointContext } {
  const context: EndpointContext = { address: DEST.address, port: DEST.port, connection: { id: 'tcp#1', csm: state } };
  return {
    protocol: 'TCP',
    scheme: 'coap+tcp',
    localAddress: '127.0.0.1',
    localPort: 40000,
    onDatagram: () => {},
    onMessage: () => {},
    onConnectionClosed: () => {},
    start: () => Promise.resolve(),
    stop: () => Promise.resolve(),
    send: () => {},
    sent: [] as CoapMessage[],
    context,
    sendMessage(msg: CoapMessage) {
      this.sent.push(msg);
    },
    peerOf: () => 'tcp#1',
  };
}

function setup(peerBert = true, bulk = 4) {
  const c = streamConnector(csm(peerBert));
  const ep = new CoapEndpoint({ connector: c, config: { ...DEFAULT_STACK_CONFIG, maxMessageSize: 1024, preferredBlockSize: 1024, tcpNumberOfBulkBlocks: bulk } });
  const result: { res?: CoapMessage; err?: Error } = {};
  const handlers = { onResponse: (m: CoapMessage) => (result.res = m), onError: (e: Error) => (result.err = e) };
  const reply = (req: CoapMessage, code: number, options: Array<[number, Buffer]>, payload = Buffer.alloc(0)): void =>
    c.onMessage({ type: 0, code, mid: 0, token: req.token, options: options.map(([number, value]) => ({ number, value })), payload }, c.context);
  return { c, ep, result, handlers, reply };
}

function block(msg: CoapMessage, number: number): string | undefined {
  const v = getOption(msg, number);
  if (v === undefined) return undefined;
  const n = decodeUint(v);
  return `${n >> 4}/${(n >> 3) & 1}/${n & 7}`;
}

const body = Buffer.from(Array.from({ length: 9000 }, (_, i) => i % 251));

describe('BERT Block1 uploads of the client', () => {
  it('4 blocks of 1024 bytes per message, NUM advancing by 4, the last message shorter', () => {
    const { c, ep, result, handlers, reply } = setup();
    request(ep, { method: Code.POST, path: 'echo', payload: body }, DEST, handlers);
    const m0 = c.sent[0]!;
    expect(block(m0, Opt.BLOCK1)).toBe('0/1/7');
    expect(m0.payload.equals(body.subarray(0, 4096))).toBe(true);
    reply(m0, Code.CONTINUE, [[Opt.BLOCK1, encodeBlock({ num: 0, more: true, szx: 7 })]]);
    const m1 = c.sent[1]!;
    expect(block(m1, Opt.BLOCK1)).toBe('4/1/7');
    expect(m1.payload.equals(body.subarray(4096, 8192))).toBe(true);
    reply(m1, Code.CONTINUE, [[Opt.BLOCK1, encodeBlock({ num: 4, more: true, szx: 7 })]]);
    const m2 = c.sent[2]!;
    expect(block(m2, Opt.BLOCK1)).toBe('8/0/7');
    expect(m2.payload.equals(body.subarray(8192))).toBe(true);
    reply(m2, Code.CHANGED, [[Opt.BLOCK1, encodeBlock({ num: 8, more: false, szx: 7 })]]);
    expect(result.res?.code).toBe(Code.CHANGED);
    expect(result.err).toBeUndefined();
  });

  it('a 2.31 with SZX 6 after a BERT block: the rest goes in plain 1024-byte blocks from the right NUM (RFC 7959 §2.5)', () => {
    const { c, ep, handlers, reply } = setup();
    request(ep, { method: Code.POST, path: 'echo', payload: body }, DEST, handlers);
    reply(c.sent[0]!, Code.CONTINUE, [[Opt.BLOCK1, encodeBlock({ num: 0, more: true, szx: 6 })]]);
    expect(block(c.sent[1]!, Opt.BLOCK1)).toBe('4/1/6');
    expect(c.sent[1]!.payload.equals(body.subarray(4096, 5120))).toBe(true);
  });

  it('no BERT when the server CSM lacks Block-Wise-Transfer, or with bulk blocks 1: plain 1024-byte blocks', () => {
    for (const [peerBert, bulk] of [[false, 4], [true, 1]] as const) {
      const { c, ep, handlers } = setup(peerBert, bulk);
      request(ep, { method: Code.POST, path: 'echo', payload: body }, DEST, handlers);
      expect(block(c.sent[0]!, Opt.BLOCK1)).toBe('0/1/6');
      expect(c.sent[0]!.payload.length).toBe(1024);
    }
  });
});

describe('BERT Block2 downloads of the client', () => {
  it('follows BERT messages: the next NUM is the 1024-byte blocks received so far, the body assembled in order', () => {
    const { c, ep, result, handlers, reply } = setup();
    request(ep, { method: Code.GET, path: 'big' }, DEST, handlers);
    reply(c.sent[0]!, Code.CONTENT, [[Opt.BLOCK2, encodeBlock({ num: 0, more: true, szx: 7 })]], body.subarray(0, 3072));
    expect(block(c.sent[1]!, Opt.BLOCK2)).toBe('3/0/7');
    reply(c.sent[1]!, Code.CONTENT, [[Opt.BLOCK2, encodeBlock({ num: 3, more: true, szx: 7 })]], body.subarray(3072, 8192));
    expect(block(c.sent[2]!, Opt.BLOCK2)).toBe('8/0/7');
    reply(c.sent[2]!, Code.CONTENT, [[Opt.BLOCK2, encodeBlock({ num: 8, more: false, szx: 7 })]], body.subarray(8192));
    expect(result.err).toBeUndefined();
    expect(result.res?.payload.equals(body)).toBe(true);
    expect(getOption(result.res!, Opt.BLOCK2)).toBeUndefined();
  });

  it('fails on a non-final BERT block that is not a multiple of 1024 bytes, and on a wrong offset', () => {
    const a = setup();
    request(a.ep, { method: Code.GET, path: 'big' }, DEST, a.handlers);
    a.reply(a.c.sent[0]!, Code.CONTENT, [[Opt.BLOCK2, encodeBlock({ num: 0, more: true, szx: 7 })]], body.subarray(0, 1500));
    expect(a.result.err?.message).toBe('non-final BERT block of 1500 bytes');
    const b = setup();
    request(b.ep, { method: Code.GET, path: 'big' }, DEST, b.handlers);
    b.reply(b.c.sent[0]!, Code.CONTENT, [[Opt.BLOCK2, encodeBlock({ num: 0, more: true, szx: 7 })]], body.subarray(0, 2048));
    b.reply(b.c.sent[1]!, Code.CONTENT, [[Opt.BLOCK2, encodeBlock({ num: 3, more: false, szx: 7 })]], body.subarray(3072, 4000));
    expect(b.result.err?.message).toBe('unexpected Block2 offset');
  });
});

// RFC 8613 Appendix C test vectors, byte for byte: key derivation (C.1-C.3), requests (C.4-C.6), responses (C.7, C.8).
// Expected bytes are the RFC's (Appendix C text), never computed by the implementation under test.
import { describe, expect, it } from 'vitest';
import { decode, encode } from '../../src/coap/codec.js';
import { Code, Opt, type CoapMessage } from '../../src/coap/message.js';
import { getOption } from '../../src/coap/options.js';
import { deriveContext, kdfInfo, type ContextParams } from '../../src/oscore/context.js';
import { AES_CCM_16_64_128, buildAad, computeNonce, encodePartialIv } from '../../src/oscore/cose.js';
import { decodeOscoreOption } from '../../src/oscore/option.js';
import {
  decodePlaintext,
  encodePlaintext,
  outerCode,
  protectRequest,
  protectResponse,
  unprotectRequest,
  unprotectResponse,
  type InnerMessage,
} from '../../src/oscore/protect.js';

const h = (hex: string): Buffer => Buffer.from(hex, 'hex');
const hex = (b: Buffer): string => b.toString('hex');

const MASTER_SECRET = h('0102030405060708090a0b0c0d0e0f10');
const MASTER_SALT = h('9e7ca92223786340');
const ID_CONTEXT = h('37cbf3210017a2d3');

/** One Appendix C.1-C.3 endpoint: inputs and the RFC's outputs. */
interface KdfVector {
  name: string;
  params: ContextParams;
  infoSenderKey: string;
  infoRecipientKey: string;
  infoCommonIv: string;
  senderKey: string;
  recipientKey: string;
  commonIv: string;
  senderNonce: string;
  recipientNonce: string;
}

const C1_CLIENT: ContextParams = { masterSecret: MASTER_SECRET, masterSalt: MASTER_SALT, senderId: h(''), recipientId: h('01') };
const C1_SERVER: ContextParams = { masterSecret: MASTER_SECRET, masterSalt: MASTER_SALT, senderId: h('01'), recipientId: h('') };
const C2_CLIENT: ContextParams = { masterSecret: MASTER_SECRET, senderId: h('00'), recipientId: h('01') };
const C2_SERVER: ContextParams = { masterSecret: MASTER_SECRET, senderId: h('01'), recipientId: h('00') };
const C3_CLIENT: ContextParams = { ...C1_CLIENT, idContext: ID_CONTEXT };
const C3_SERVER: ContextParams = { ...C1_SERVER, idContext: ID_CONTEXT };

const KDF_VECTORS: KdfVector[] = [
  {
    name: 'C.1.1 client, with Master Salt',
    params: C1_CLIENT,
    infoSenderKey: '8540f60a634b657910',
    infoRecipientKey: '854101f60a634b657910',
    infoCommonIv: '8540f60a6249560d',
    senderKey: 'f0910ed7295e6ad4b54fc793154302ff',
    recipientKey: 'ffb14e093c94c9cac9471648b4f98710',
    commonIv: '4622d4dd6d944168eefb54987c',
    senderNonce: '4622d4dd6d944168eefb54987c',
    recipientNonce: '4722d4dd6d944169eefb54987c',
  },
  {
    name: 'C.1.2 server, with Master Salt',
    params: C1_SERVER,
    infoSenderKey: '854101f60a634b657910',
    infoRecipientKey: '8540f60a634b657910',
    infoCommonIv: '8540f60a6249560d',
    senderKey: 'ffb14e093c94c9cac9471648b4f98710',
    recipientKey: 'f0910ed7295e6ad4b54fc793154302ff',
    commonIv: '4622d4dd6d944168eefb54987c',
    senderNonce: '4722d4dd6d944169eefb54987c',
    recipientNonce: '4622d4dd6d944168eefb54987c',
  },
  {
    name: 'C.2.1 client, without Master Salt',
    params: C2_CLIENT,
    infoSenderKey: '854100f60a634b657910',
    infoRecipientKey: '854101f60a634b657910',
    infoCommonIv: '8540f60a6249560d',
    senderKey: '321b26943253c7ffb6003b0b64d74041',
    recipientKey: 'e57b5635815177cd679ab4bcec9d7dda',
    commonIv: 'be35ae297d2dace910c52e99f9',
    senderNonce: 'bf35ae297d2dace910c52e99f9',
    recipientNonce: 'bf35ae297d2dace810c52e99f9',
  },
  {
    name: 'C.2.2 server, without Master Salt',
    params: C2_SERVER,
    infoSenderKey: '854101f60a634b657910',
    infoRecipientKey: '854100f60a634b657910',
    infoCommonIv: '8540f60a6249560d',
    senderKey: 'e57b5635815177cd679ab4bcec9d7dda',
    recipientKey: '321b26943253c7ffb6003b0b64d74041',
    commonIv: 'be35ae297d2dace910c52e99f9',
    senderNonce: 'bf35ae297d2dace810c52e99f9',
    recipientNonce: 'bf35ae297d2dace910c52e99f9',
  },
  {
    name: 'C.3.1 client, with ID Context',
    params: C3_CLIENT,
    infoSenderKey: '85404837cbf3210017a2d30a634b657910',
    infoRecipientKey: '8541014837cbf3210017a2d30a634b657910',
    infoCommonIv: '85404837cbf3210017a2d30a6249560d',
    senderKey: 'af2a1300a5e95788b356336eeecd2b92',
    recipientKey: 'e39a0c7c77b43f03b4b39ab9a268699f',
    commonIv: '2ca58fb85ff1b81c0b7181b85e',
    senderNonce: '2ca58fb85ff1b81c0b7181b85e',
    recipientNonce: '2da58fb85ff1b81d0b7181b85e',
  },
  {
    name: 'C.3.2 server, with ID Context',
    params: C3_SERVER,
    infoSenderKey: '8541014837cbf3210017a2d30a634b657910',
    infoRecipientKey: '85404837cbf3210017a2d30a634b657910',
    infoCommonIv: '85404837cbf3210017a2d30a6249560d',
    senderKey: 'e39a0c7c77b43f03b4b39ab9a268699f',
    recipientKey: 'af2a1300a5e95788b356336eeecd2b92',
    commonIv: '2ca58fb85ff1b81c0b7181b85e',
    senderNonce: '2da58fb85ff1b81d0b7181b85e',
    recipientNonce: '2ca58fb85ff1b81c0b7181b85e',
  },
];

describe('RFC 8613 C.1-C.3 key derivation', () => {
  for (const v of KDF_VECTORS) {
    it(v.name, () => {
      const p = v.params;
      // §3.2.1 info arrays, as printed in the RFC
      expect(hex(kdfInfo(p.senderId, p.idContext, AES_CCM_16_64_128, 'Key', 16))).toBe(v.infoSenderKey);
      expect(hex(kdfInfo(p.recipientId, p.idContext, AES_CCM_16_64_128, 'Key', 16))).toBe(v.infoRecipientKey);
      expect(hex(kdfInfo(h(''), p.idContext, AES_CCM_16_64_128, 'IV', 13))).toBe(v.infoCommonIv);
      const ctx = deriveContext(p);
      expect(hex(ctx.sender.key)).toBe(v.senderKey);
      expect(hex(ctx.recipient.key)).toBe(v.recipientKey);
      expect(hex(ctx.commonIv)).toBe(v.commonIv);
      // the RFC's sender / recipient nonces are for Partial IV 0
      expect(hex(computeNonce(ctx.commonIv, ctx.sender.id, encodePartialIv(0)))).toBe(v.senderNonce);
      expect(hex(computeNonce(ctx.commonIv, ctx.recipient.id, encodePartialIv(0)))).toBe(v.recipientNonce);
    });
  }
});

/** One Appendix C.4-C.6 request: client / server contexts and the RFC's bytes. */
interface RequestVector {
  name: string;
  client: ContextParams;
  server: ContextParams;
  unprotected: string;
  aad: string;
  plaintext: string;
  nonce: string;
  option: string;
  ciphertext: string;
  protected: string;
}

const REQUEST_VECTORS: RequestVector[] = [
  {
    name: 'C.4 request, client (C.1 context, kid empty)',
    client: C1_CLIENT,
    server: C1_SERVER,
    unprotected: '44015d1f00003974396c6f63616c686f737483747631',
    aad: '8368456e63727970743040488501810a40411440',
    plaintext: '01b3747631',
    nonce: '4622d4dd6d944168eefb549868',
    option: '0914',
    ciphertext: '612f1092f1776f1c1668b3825e',
    protected: '44025d1f00003974396c6f63616c686f7374620914ff612f1092f1776f1c1668b3825e',
  },
  {
    name: 'C.5 request, client (C.2 context, kid 0x00)',
    client: C2_CLIENT,
    server: C2_SERVER,
    unprotected: '440171c30000b932396c6f63616c686f737483747631',
    aad: '8368456e63727970743040498501810a4100411440',
    plaintext: '01b3747631',
    nonce: 'bf35ae297d2dace910c52e99ed',
    option: '091400',
    ciphertext: '4ed339a5a379b0b8bc731fffb0',
    protected: '440271c30000b932396c6f63616c686f737463091400ff4ed339a5a379b0b8bc731fffb0',
  },
  {
    name: 'C.6 request, client (C.3 context, kid context 0x37cbf3210017a2d3)',
    client: C3_CLIENT,
    server: C3_SERVER,
    unprotected: '44012f8eef9bbf7a396c6f63616c686f737483747631',
    aad: '8368456e63727970743040488501810a40411440',
    plaintext: '01b3747631',
    nonce: '2ca58fb85ff1b81c0b7181b84a',
    option: '19140837cbf3210017a2d3',
    ciphertext: '72cd7273fd331ac45cffbe55c3',
    protected: '44022f8eef9bbf7a396c6f63616c686f73746b19140837cbf3210017a2d3ff72cd7273fd331ac45cffbe55c3',
  },
];

// The vectors' messages carry Uri-Host (Class U, outer) and Uri-Path (Class E, inner), RFC 8613 §4.1.
const OUTER_ONLY = new Set<number>([Opt.URI_HOST, Opt.URI_PORT, Opt.OSCORE, Opt.PROXY_URI, Opt.PROXY_SCHEME]);

function innerOf(m: CoapMessage): InnerMessage {
  return { code: m.code, options: m.options.filter((o) => !OUTER_ONLY.has(o.number)), payload: m.payload };
}

/** The outer message: header and Class U options of the original, the outer code, the OSCORE option and the ciphertext. */
function outerOf(m: CoapMessage, code: number, option: Buffer, ciphertext: Buffer): CoapMessage {
  const options = [...m.options.filter((o) => OUTER_ONLY.has(o.number)), { number: Opt.OSCORE, value: option }];
  options.sort((a, b) => a.number - b.number);
  return { ...m, code, options, payload: ciphertext };
}

/** The unprotected message back from the outer message and the inner message (§8.2 step 8, §8.4). */
function restoredOf(outer: CoapMessage, inner: InnerMessage): CoapMessage {
  const options = [...outer.options.filter((o) => o.number !== Opt.OSCORE), ...inner.options];
  options.sort((a, b) => a.number - b.number);
  return { ...outer, code: inner.code, options, payload: inner.payload };
}

describe('RFC 8613 C.4-C.6 requests', () => {
  for (const v of REQUEST_VECTORS) {
    it(`${v.name}: protect`, () => {
      const client = deriveContext({ ...v.client, senderSequenceNumber: 20 });
      const request = decode(h(v.unprotected));
      const inner = innerOf(request);
      expect(hex(encodePlaintext(inner))).toBe(v.plaintext);
      expect(hex(buildAad(client.sender.id, encodePartialIv(20)))).toBe(v.aad);
      const p = protectRequest(client, inner);
      expect(hex(p.request.nonce)).toBe(v.nonce);
      expect(hex(p.option)).toBe(v.option);
      expect(hex(p.ciphertext)).toBe(v.ciphertext);
      expect(client.sender.sequenceNumber).toBe(21);
      // whole OSCORE message, assembled with the project's CoAP encoder
      expect(hex(encode(outerOf(request, outerCode(true), p.option, p.ciphertext)))).toBe(v.protected);
    });

    it(`${v.name}: unprotect`, () => {
      const server = deriveContext(v.server);
      const outer = decode(h(v.protected));
      expect(outer.code).toBe(Code.POST);
      const option = getOption(outer, Opt.OSCORE)!;
      expect(hex(option)).toBe(v.option);
      const r = unprotectRequest(server, option, outer.payload);
      expect(r.sequenceNumber).toBe(20);
      expect(hex(r.request.nonce)).toBe(v.nonce);
      expect(hex(encodePlaintext(r.inner))).toBe(v.plaintext);
      expect(hex(encode(restoredOf(outer, r.inner)))).toBe(v.unprotected);
    });
  }

  it('C.6 option value decodes to Partial IV 0x14, kid context 0x37cbf3210017a2d3, empty kid', () => {
    const o = decodeOscoreOption(h('19140837cbf3210017a2d3'));
    expect(hex(o.partialIv!)).toBe('14');
    expect(hex(o.kidContext!)).toBe('37cbf3210017a2d3');
    expect(o.kid).toEqual(h(''));
  });
});

/** One Appendix C.7 / C.8 response to the C.4 request. */
interface ResponseVector {
  name: string;
  partialIv: boolean;
  nonce: string;
  option: string;
  ciphertext: string;
  protected: string;
}

const C4_UNPROTECTED = '44015d1f00003974396c6f63616c686f737483747631';
const C4_PROTECTED = '44025d1f00003974396c6f63616c686f7374620914ff612f1092f1776f1c1668b3825e';
const RESPONSE_UNPROTECTED = '64455d1f00003974ff48656c6c6f20576f726c6421';
const RESPONSE_AAD = '8368456e63727970743040488501810a40411440';
const RESPONSE_PLAINTEXT = '45ff48656c6c6f20576f726c6421';

const RESPONSE_VECTORS: ResponseVector[] = [
  {
    name: 'C.7 response without Partial IV (request nonce reused)',
    partialIv: false,
    nonce: '4622d4dd6d944168eefb549868',
    option: '',
    ciphertext: 'dbaad1e9a7e7b2a813d3c31524378303cdafae119106',
    protected: '64445d1f0000397490ffdbaad1e9a7e7b2a813d3c31524378303cdafae119106',
  },
  {
    name: 'C.8 response with Partial IV 0 (server Sender Sequence Number 0)',
    partialIv: true,
    nonce: '4722d4dd6d944169eefb54987c',
    option: '0100',
    ciphertext: '4d4c13669384b67354b2b6175ff4b8658c666a6cf88e',
    protected: '64445d1f00003974920100ff4d4c13669384b67354b2b6175ff4b8658c666a6cf88e',
  },
];

describe('RFC 8613 C.7-C.8 responses to the C.4 request', () => {
  for (const v of RESPONSE_VECTORS) {
    it(`${v.name}: protect (server)`, () => {
      const server = deriveContext({ ...C1_SERVER, senderSequenceNumber: 0 });
      const outerRequest = decode(h(C4_PROTECTED));
      const { request } = unprotectRequest(server, getOption(outerRequest, Opt.OSCORE)!, outerRequest.payload);
      expect(hex(buildAad(request.kid, request.partialIv))).toBe(RESPONSE_AAD);
      const response = decode(h(RESPONSE_UNPROTECTED));
      const inner = innerOf(response);
      expect(hex(encodePlaintext(inner))).toBe(RESPONSE_PLAINTEXT);
      if (v.partialIv) expect(hex(computeNonce(server.commonIv, server.sender.id, encodePartialIv(0)))).toBe(v.nonce);
      else expect(hex(request.nonce)).toBe(v.nonce);
      const p = protectResponse(server, inner, request, { partialIv: v.partialIv });
      expect(hex(p.option)).toBe(v.option);
      expect(hex(p.ciphertext)).toBe(v.ciphertext);
      expect(server.sender.sequenceNumber).toBe(v.partialIv ? 1 : 0);
      expect(hex(encode(outerOf(response, outerCode(false), p.option, p.ciphertext)))).toBe(v.protected);
    });

    it(`${v.name}: unprotect (client)`, () => {
      const client = deriveContext({ ...C1_CLIENT, senderSequenceNumber: 20 });
      const { request } = protectRequest(client, innerOf(decode(h(C4_UNPROTECTED))));
      const outer = decode(h(v.protected));
      expect(outer.code).toBe(Code.CHANGED);
      const option = getOption(outer, Opt.OSCORE)!;
      expect(hex(option)).toBe(v.option);
      const inner = unprotectResponse(client, option, outer.payload, request);
      expect(hex(encodePlaintext(inner))).toBe(RESPONSE_PLAINTEXT);
      expect(inner.code).toBe(Code.CONTENT);
      expect(inner.payload.toString()).toBe('Hello World!');
      expect(hex(encode(restoredOf(outer, inner)))).toBe(RESPONSE_UNPROTECTED);
    });
  }

  it('plaintext round trip keeps code, options and payload', () => {
    const inner = decodePlaintext(h('01b3747631'));
    expect(inner.code).toBe(Code.GET);
    expect(inner.options).toEqual([{ number: Opt.URI_PATH, value: Buffer.from('tv1') }]);
    expect(inner.payload.length).toBe(0);
  });
});

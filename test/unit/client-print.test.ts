// Client output in the layout of Californium's Utils.prettyPrint and message tracing (clients.md §2, §3.3): request and
// response blocks, the options as JSON, the `>>> DTLS(...)` session lines naming the client's own PSK identity.
import { describe, expect, it } from 'vitest';
import { ACK, CON, Code, Format, NON, Opt, type CoapMessage, type CoapOption } from '../../src/coap/message.js';
import { encodeBlock, encodeUint } from '../../src/coap/options.js';
import type { DtlsSessionInfo, EndpointContext } from '../../src/transport/connector.js';
import {
  BLOCK_END,
  optionsText,
  payloadText,
  principalText,
  requestLines,
  responseLines,
  sessionLines,
  traceLine,
  tracePayload,
  traceText,
} from '../../src/clients/print.js';
import { uriHostOptions } from '../../src/clients/transport.js';

const text = (number: number, value: string): CoapOption => ({ number, value: Buffer.from(value, 'utf8') });
const uint = (number: number, value: number): CoapOption => ({ number, value: encodeUint(value) });

function message(over: Partial<CoapMessage>): CoapMessage {
  return { type: CON, code: Code.GET, mid: 12635, token: Buffer.from('E042D951531E7FDB', 'hex'), options: [], payload: Buffer.alloc(0), ...over };
}

function dtls(over: Partial<DtlsSessionInfo>): DtlsSessionInfo {
  return {
    cipherSuite: 'TLS_PSK_WITH_AES_128_CCM_8',
    sessionId: Buffer.from('3559881395AABBCCDDEEFF', 'hex'),
    sessionTime: 0,
    secureRenegotiation: true,
    extendedMasterSecret: true,
    newestRecord: true,
    messageSizeLimit: 1400,
    epoch: 1,
    readSequence: 1,
    handshakeTime: 0,
    ...over,
  };
}

describe('options as JSON (OptionSet.toString)', () => {
  it('names, quoting, repeated options as list, formats as MIME names, blocks decoded, opaque as hex', () => {
    const options = [
      text(Opt.URI_HOST, 'localhost'),
      { number: Opt.ETAG, value: Buffer.from([0x01, 0xab]) },
      uint(Opt.OBSERVE, 0),
      text(Opt.URI_PATH, 'a'),
      text(Opt.URI_PATH, 'b'),
      uint(Opt.CONTENT_FORMAT, Format.JSON),
      uint(Opt.MAX_AGE, 30),
      text(Opt.URI_QUERY, 'rlen=40'),
      uint(Opt.ACCEPT, Format.TEXT),
      { number: Opt.BLOCK2, value: encodeBlock({ num: 2, more: true, szx: 6 }) },
      uint(Opt.SIZE1, 5000),
      { number: 65000, value: Buffer.from([0xff]) },
    ];
    expect(optionsText(options)).toBe(
      '{"Uri-Host":"localhost", "ETag":0x01ab, "Observe":0, "Uri-Path":["a","b"], "Content-Format":"application/json", "Max-Age":30, ' +
        '"Uri-Query":"rlen=40", "Accept":"text/plain", "Block2":"(szx=6/1024, m=true, num=2)", "Size1":5000, "Unknown (65000)":0xff}',
    );
    expect(optionsText([])).toBe('{}');
    // BERT (RFC 8323 §6): SZX 7 in 1024-byte units
    expect(optionsText([{ number: Opt.BLOCK1, value: encodeBlock({ num: 4, more: false, szx: 7 }) }])).toBe('{"Block1":"(szx=7/1024, m=false, num=4)"}');
    // sorted by number, repeats keep their order
    expect(optionsText([text(Opt.URI_QUERY, 'x=1'), text(Opt.URI_PATH, 'p'), text(Opt.URI_QUERY, 'y=2')])).toBe('{"Uri-Path":"p", "Uri-Query":["x=1","y=2"]}');
    expect(optionsText([uint(Opt.ACCEPT, 4711)])).toBe('{"Accept":"unknown/4711"}');
  });
});

describe('request and response blocks (Utils.prettyPrint)', () => {
  it('a coap GET: MID, token, type, method, options, payload size', () => {
    const lines = requestLines(message({ options: [text(Opt.URI_PATH, 'mycontext')] }));
    expect(lines).toEqual([
      '==[ CoAP Request ]=============================================',
      'MID    : 12635',
      'Token  : E042D951531E7FDB',
      'Type   : CON',
      'Method : 0.01 - GET',
      'Options: {"Uri-Path":"mycontext"}',
      'Payload: 0 Bytes',
      '===============================================================',
    ]);
    expect(lines[0]!.length).toBe(BLOCK_END.length);
  });

  it('a POST with payload: separator line and the text', () => {
    const lines = requestLines(message({ type: NON, code: Code.POST, options: [uint(Opt.CONTENT_FORMAT, 0)], payload: Buffer.from('hello') }));
    expect(lines.slice(3)).toEqual([
      'Type   : NON',
      'Method : 0.02 - POST',
      'Options: {"Content-Format":"text/plain"}',
      'Payload: 5 Bytes',
      '---------------------------------------------------------------',
      'hello',
      BLOCK_END,
    ]);
  });

  it('the response: status with name, RTT, payload with its size', () => {
    const payload = 'ip: 127.0.0.1\nport: 40163\npeer: cali.30FC0A725D79F82C';
    const lines = responseLines(message({ type: ACK, code: Code.CONTENT, options: [uint(Opt.CONTENT_FORMAT, 0)], payload: Buffer.from(payload) }), { rttMs: 580.4 });
    expect(lines).toEqual([
      '==[ CoAP Response ]============================================',
      'MID    : 12635',
      'Token  : E042D951531E7FDB',
      'Type   : ACK',
      'Status : 2.05 - CONTENT',
      'Options: {"Content-Format":"text/plain"}',
      'RTT    : 580 ms',
      `Payload: ${payload.length} Bytes`,
      '---------------------------------------------------------------',
      payload,
      '===============================================================',
    ]);
    // without RTT (notifications, receive test) the line is left out; error codes by name
    const nf = responseLines(message({ type: ACK, code: Code.NOT_FOUND }));
    expect(nf).toContain('Status : 4.04 - NOT_FOUND');
    expect(nf.some((l) => l.startsWith('RTT'))).toBe(false);
  });

  it('long payloads can be cut (benchmark trace)', () => {
    const lines = requestLines(message({ code: Code.POST, payload: Buffer.alloc(600, 'x') }), { maxPayload: 256 });
    expect(lines).toContain('Payload: 600 Bytes');
    expect(lines).toContain('x'.repeat(256) + '\u00bb');
  });

  it('payloads: JSON and link-format as text, CBOR in diagnostic notation, binary as hex lines', () => {
    const json = message({ options: [uint(Opt.CONTENT_FORMAT, Format.JSON)], payload: Buffer.from('{"a": 1}') });
    expect(payloadText(json)).toBe('{"a": 1}');
    const cbor = message({ options: [uint(Opt.CONTENT_FORMAT, Format.CBOR)], payload: Buffer.from([0xa1, 0x61, 0x61, 0x01]) });
    expect(payloadText(cbor)).toBe('{"a": 1}');
    const octets = message({ options: [uint(Opt.CONTENT_FORMAT, Format.OCTETS)], payload: Buffer.from([1, 2, 0xff]) });
    expect(payloadText(octets)).toBe('01 02 ff');
    const long = message({ options: [uint(Opt.CONTENT_FORMAT, Format.OCTETS)], payload: Buffer.alloc(40, 0xab) });
    expect(payloadText(long)).toBe('\n' + Array(32).fill('ab').join(' ') + '\n' + Array(8).fill('ab').join(' '));
    // text with control characters is shown as hex
    expect(payloadText(message({ payload: Buffer.from([0x41, 0x00]) }))).toBe('41 00');
  });
});

describe('DTLS session lines (Utils.prettyPrint(EndpointContext))', () => {
  const ctx = (d: Partial<DtlsSessionInfo>, address = '127.0.0.1'): EndpointContext => ({ address, port: 5784, dtls: dtls(d) });

  it('coaps PSK: peer, session id (10 characters), cipher suite, the client`s own PSK identity', () => {
    expect(sessionLines(ctx({ peerIdentity: 'Client_identity' }))).toEqual([
      '>>> DTLS(127.0.0.1:5784,ID:3559881395)',
      '>>> TLS_PSK_WITH_AES_128_CCM_8',
      '>>> PreSharedKey Identity [identity: Client_identity]',
    ]);
    // the identity is the client's own: no "server" wording
    expect(sessionLines(ctx({ peerIdentity: 'cali.30FC0A725D79F82C' }))!.join('\n')).not.toMatch(/server/i);
    expect(principalText('TLS_ECDHE_PSK_WITH_AES_128_CBC_SHA256', 'me')).toBe('PreSharedKey Identity [identity: me]');
  });

  it('CIDs when the session has them (empty read CID of a client that supports CID without using it)', () => {
    expect(sessionLines(ctx({ peerIdentity: 'id', readCid: Buffer.alloc(0), writeCid: Buffer.from('02f9cf39de39', 'hex') }))!.slice(3)).toEqual([
      '>>> read-cid : ',
      '>>> write-cid: 02F9CF39DE39',
    ]);
  });

  it('IPv6 peers in brackets; certificate suites name the server (RPK ni: URI, X.509 subject)', () => {
    const rpk = sessionLines(ctx({ cipherSuite: 'TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8', peerIdentity: 'ni:///sha-256;abc' }, '::1'))!;
    expect(rpk[0]).toBe('>>> DTLS([::1]:5784,ID:3559881395)');
    expect(rpk[2]).toBe('>>> RawPublicKey Identity [ni:///sha-256;abc]');
    expect(principalText('TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256', 'CN=cf-server')).toBe('x509 [CN=cf-server]');
  });

  it('plain coap: no session lines', () => {
    expect(sessionLines({ address: '127.0.0.1', port: 5683 })).toBeUndefined();
  });
});

describe('-v trace lines (Message.toString)', () => {
  it('requests, responses and empty messages with direction and peer', () => {
    const req = message({ options: [text(Opt.URI_PATH, 'mycontext')] });
    expect(traceText(req)).toBe('CON-GET    MID=12635, Token=E042D951531E7FDB, OptionSet={"Uri-Path":"mycontext"}, no payload');
    expect(traceLine('send', req, { address: '127.0.0.1', port: 5683 })).toBe(`127.0.0.1:5683 <== req ${traceText(req)}`);
    const res = message({ type: ACK, code: Code.CONTENT, mid: 7, payload: Buffer.from('hello\nworld') });
    expect(traceLine('receive', res, { address: '::1', port: 5683 })).toBe(
      '[::1]:5683 ==> res ACK-2.05   MID=    7, Token=E042D951531E7FDB, OptionSet={}, "hello\\nworld"',
    );
    const ack = message({ type: ACK, code: 0, mid: 42, token: Buffer.alloc(0) });
    expect(traceLine('send', ack, { address: '127.0.0.1', port: 1 })).toBe('127.0.0.1:1 <== emp ACK        MID=   42');
  });

  it('payloads: cut after 32 bytes, binary as hex', () => {
    expect(tracePayload(Buffer.alloc(40, 'a'))).toBe(`"${'a'.repeat(32)}".. 40 bytes`);
    expect(tracePayload(Buffer.from([0, 1, 2]))).toBe('000102');
  });
});

describe('Uri-Host (Request.setURI)', () => {
  it('for host names only, not for IP literals', () => {
    expect(uriHostOptions(new URL('coap://localhost:5683/x'))).toEqual([text(Opt.URI_HOST, 'localhost')]);
    expect(uriHostOptions(new URL('coap://127.0.0.1:5683/x'))).toEqual([]);
    expect(uriHostOptions(new URL('coap://[::1]:5683/x'))).toEqual([]);
  });
});

// Receive test client: output for /requests responses (clients.md §6), with payloads built by the server's code.
import { describe, expect, it } from 'vitest';
import { ACK, Code, Format, Opt, type CoapMessage } from '../../src/coap/message.js';
import { encodeUint } from '../../src/coap/options.js';
import { encode } from '../../src/coap/codec.js';
import { requestsCbor, requestsJson, requestsText, type RequestEntry } from '../../src/resources/extended/requests.js';
import { ipToBytes } from '../../src/transport/address-bytes.js';
import { encodeCbor } from '../../src/resources/cbor.js';
import { decodeCbor } from '../../src/clients/receivetest/cbor-diag.js';
import {
  MAX_DIFF_TIME_IN_MILLIS,
  formatRequestTime,
  formatTime,
  historyLines,
  ipBytesText,
  requestTimeOf,
} from '../../src/clients/receivetest/history.js';
import { NO_RESPONSE, headLines, processCbor, processJson, responseOutput } from '../../src/clients/receivetest/output.js';

// local times, so the expectations hold in every time zone
const START = new Date(2024, 0, 2, 3, 4, 5, 678).getTime();
const T1 = new Date(2024, 4, 6, 7, 8, 9, 12).getTime();
const START_TEXT = '03:04:05 02.01.2024';
const T1_REQUEST_TEXT = '07:08:09.012 06.05.2024';

const ip = (text: string) => ipToBytes(text)!;

function response(code: number, format: number | undefined, payload: Buffer | string): CoapMessage {
  return {
    type: ACK,
    code,
    mid: 0x1234,
    token: Buffer.from('0102', 'hex'),
    options: format === undefined ? [] : [{ number: Opt.CONTENT_FORMAT, value: encodeUint(format) }],
    payload: Buffer.isBuffer(payload) ? payload : Buffer.from(payload, 'utf8'),
  };
}

describe('time formats (local time)', () => {
  it('HH:mm:ss dd.MM.yyyy and HH:mm:ss.SSS dd.MM.yyyy', () => {
    expect(formatTime(START)).toBe(START_TEXT);
    expect(formatTime(T1)).toBe('07:08:09 06.05.2024');
    expect(formatRequestTime(T1)).toBe(T1_REQUEST_TEXT);
    expect(formatRequestTime(new Date(1999, 11, 31, 23, 59, 59, 999).getTime())).toBe('23:59:59.999 31.12.1999');
  });
  it('request time of a RID', () => {
    expect(requestTimeOf('RID1700000000000')).toBe(1_700_000_000_000);
    expect(requestTimeOf('other')).toBeUndefined();
    expect(() => requestTimeOf('RIDx')).toThrow();
    expect(() => requestTimeOf('RID')).toThrow();
    expect(() => requestTimeOf('RID99999999999999999999')).toThrow();
  });
  it('IP bytes as Java prints them', () => {
    expect(ipBytesText(Buffer.from([10, 0, 0, 1]))).toBe('10.0.0.1');
    expect(ipBytesText(ip('::1'))).toBe('0:0:0:0:0:0:0:1');
    expect(ipBytesText(ip('2001:db8::ff00:42:8329'))).toBe('2001:db8:0:0:0:ff00:42:8329');
    expect(ipBytesText(Buffer.from('00000000000000000000ffff7f000001', 'hex'))).toBe('127.0.0.1');
    expect(() => ipBytesText(Buffer.from([1, 2, 3]))).toThrow();
  });
});

describe('historyLines: the 30-second rule', () => {
  const lineFor = (diff: number) => historyLines([{ rid: `RID${T1}`, time: T1 + diff }])[0];
  it('|diff| < 30000 ms: the difference in ms', () => {
    expect(MAX_DIFF_TIME_IN_MILLIS).toBe(30_000);
    expect(lineFor(0)).toBe(`Request: ${T1_REQUEST_TEXT}, received: 0 ms`);
    expect(lineFor(29_999)).toBe(`Request: ${T1_REQUEST_TEXT}, received: 29999 ms`);
    expect(lineFor(-29_999)).toBe(`Request: ${T1_REQUEST_TEXT}, received: -29999 ms`);
  });
  it('|diff| >= 30000 ms: the absolute receive time', () => {
    expect(lineFor(30_000)).toBe(`Request: ${T1_REQUEST_TEXT}, received: ${formatTime(T1 + 30_000)}`);
    expect(lineFor(30_000)).toBe(`Request: ${T1_REQUEST_TEXT}, received: 07:08:39 06.05.2024`);
    expect(lineFor(-30_000)).toBe(`Request: ${T1_REQUEST_TEXT}, received: 07:07:39 06.05.2024`);
    expect(lineFor(3_600_000)).toBe(`Request: ${T1_REQUEST_TEXT}, received: 08:08:09 06.05.2024`);
  });
  it('other request ids: the id and the receive time', () => {
    expect(historyLines([{ rid: 'manual-7', time: T1 }])).toEqual(['Request: manual-7, received: 07:08:09 06.05.2024']);
  });
});

// a history as the server records it: newest first
const HISTORY: RequestEntry[] = [
  { rid: `RID${T1 + 120_000}`, time: T1 + 120_000 + 15, ip: ip('::1'), port: 65000 },
  { rid: `RID${T1 + 60_000}`, time: T1 + 60_000 + 45_000, ip: ip('192.168.1.20'), port: 5683 },
  { rid: 'manual', time: T1 + 1000 },
  { rid: `RID${T1}`, time: T1 - 7, ip: ip('2001:db8::1'), port: 40000 },
];
const EXPECTED_LIST = [
  `Server's system start: ${START_TEXT}`,
  'Request: 07:10:09.012 06.05.2024, received: 15 ms',
  '    ([0:0:0:0:0:0:0:1]:65000)',
  'Request: 07:09:09.012 06.05.2024, received: 07:09:54 06.05.2024',
  '    (192.168.1.20:5683)',
  'Request: manual, received: 07:08:10 06.05.2024',
  `Request: ${T1_REQUEST_TEXT}, received: -7 ms`,
  '    ([2001:db8:0:0:0:0:0:1]:40000)',
].join('\n') + '\n';

describe('processJson', () => {
  const payload = Buffer.from(requestsJson(START, HISTORY, 1023));
  it('-v: the decoded list', () => {
    expect(processJson(payload, true)).toBe(EXPECTED_LIST);
  });
  it('without -v: pretty printed JSON', () => {
    const short = Buffer.from(requestsJson(START, HISTORY.slice(2, 3), 1023));
    expect(processJson(short, false)).toBe(`[\n  {\n    "systemstart": ${START}\n  },\n  {\n    "rid": "manual",\n    "time": ${T1 + 1000}\n  }\n]`);
    expect(processJson(payload, false)).toBe(JSON.stringify(JSON.parse(payload.toString()), null, 2));
  });
  it('other layouts fall back to pretty JSON; invalid JSON is printed as is', () => {
    expect(processJson(Buffer.from('[1,2]'), true)).toBe('[\n  1,\n  2\n]');
    expect(processJson(Buffer.from('{"a":1}'), true)).toBe('{\n  "a": 1\n}');
    expect(processJson(Buffer.from('[{"rid":"RID1"}]'), true)).toBe('[\n  {\n    "rid": "RID1"\n  }\n]');
    expect(processJson(Buffer.from('[{"rid":"RIDx","time":1}]'), true)).toBe('[\n  {\n    "rid": "RIDx",\n    "time": 1\n  }\n]');
    expect(processJson(Buffer.from('[]'), true)).toBe('[]');
    expect(processJson(Buffer.from('not json'), true)).toBe('not json');
  });
});

describe('processCbor', () => {
  const payload = requestsCbor(START, HISTORY, 1023);
  it('the server sends ports above 32767 as negative integers', () => {
    const root = decodeCbor(payload);
    expect(root.kind === 'array' && root.items[1]!.kind === 'map' && root.items[1]!.entries.at(-1)).toEqual([
      { kind: 'text', value: 'port' },
      { kind: 'int', value: BigInt(65000 - 65536) },
    ]);
  });
  it('-v: the decoded list, ports masked with 0xFFFF, IPv6 in brackets', () => {
    expect(processCbor(payload, true)).toBe(EXPECTED_LIST);
  });
  it('without -v: diagnostic notation with masked ports', () => {
    const short = requestsCbor(START, HISTORY.slice(0, 1), 1023);
    expect(processCbor(short, false)).toBe(
      `[{"systemstart": ${START}}, {"rid": "RID${T1 + 120_000}", "time": ${T1 + 120_015}, "ep": h'00000000000000000000000000000001', "port": 65000}]`,
    );
  });
  it('other layouts fall back to diagnostic notation; invalid CBOR is printed as hex', () => {
    expect(processCbor(Buffer.from('8201a0', 'hex'), true)).toBe('[1, {}]');
    // a 3-byte address is no IP address
    const odd = encodeCbor([{ rid: 'RID1', time: 1, ep: Buffer.from([1, 2, 3]), port: -1 }]);
    expect(processCbor(odd, true)).toBe(`[{"rid": "RID1", "time": 1, "ep": h'010203', "port": 65535}]`);
    expect(processCbor(Buffer.from('ff00', 'hex'), true)).toBe('FF00');
    expect(processCbor(Buffer.from('0000', 'hex'), false)).toBe('0000');
  });
});

describe('responseOutput', () => {
  it('2.04 JSON: blank line, sizes, RTT, blank line, then the body', () => {
    const msg = response(Code.CHANGED, Format.JSON, requestsJson(START, HISTORY, 1023));
    const raw = encode(msg).length;
    expect(headLines(raw, msg.payload.length, 12)).toEqual(['', `Response: ${raw} bytes, Payload: ${msg.payload.length} bytes`, 'RTT: 12ms', '']);
    expect(responseOutput(msg, 12, true)).toBe(`\nResponse: ${raw} bytes, Payload: ${msg.payload.length} bytes\nRTT: 12ms\n\n${EXPECTED_LIST}\n`);
    // the encoded message is header (4) + token (2) + Content-Format (2) + marker (1) + payload
    expect(raw).toBe(4 + 2 + 2 + 1 + msg.payload.length);
    expect(responseOutput(msg, 3, false, 999)).toBe(`\nResponse: 999 bytes, Payload: ${msg.payload.length} bytes\nRTT: 3ms\n\n${processJson(msg.payload, false)}\n`);
  });
  it('2.05 CBOR is treated like 2.04', () => {
    const msg = response(Code.CONTENT, Format.CBOR, requestsCbor(START, HISTORY, 1023));
    expect(responseOutput(msg, 5, true, 100)).toBe(`\nResponse: 100 bytes, Payload: ${msg.payload.length} bytes\nRTT: 5ms\n\n${EXPECTED_LIST}\n`);
  });
  it('text responses: the text', () => {
    const text = requestsText(START, HISTORY, 500);
    expect(responseOutput(response(Code.CHANGED, Format.TEXT, text), 5, true)).toBe(text);
    expect(responseOutput(response(Code.CHANGED, Format.TEXT, 'no newline'), 5, false)).toBe('no newline\n');
  });
  it('other responses: code, options (JSON), ADVANCED and the full response block with the RTT', () => {
    const out = responseOutput(response(Code.BAD_OPTION, Format.TEXT, "missing URI-query-option for 'rid'!"), 5, true);
    expect(out).toBe(
      [
        '4.02 BAD_OPTION',
        '{"Content-Format":"text/plain"}',
        '',
        'ADVANCED',
        '',
        '==[ CoAP Response ]============================================',
        'MID    : 4660',
        'Token  : 0102',
        'Type   : ACK',
        'Status : 4.02 - BAD_OPTION',
        'Options: {"Content-Format":"text/plain"}',
        'RTT    : 5 ms',
        'Payload: 35 Bytes',
        '---------------------------------------------------------------',
        "missing URI-query-option for 'rid'!",
        '===============================================================',
      ].join('\n') + '\n',
    );
    expect(responseOutput(response(Code.NOT_ACCEPTABLE, undefined, ''), 5, true).split('\n').slice(0, 2)).toEqual(['4.06 NOT_ACCEPTABLE', '{}']);
    // a success with another format is no history either
    expect(responseOutput(response(Code.CHANGED, Format.XML, '<a/>'), 5, true).startsWith('2.04 CHANGED\n{"Content-Format":"application/xml"}\n')).toBe(true);
  });
  it('no response', () => {
    expect(NO_RESPONSE).toBe('No response received.');
  });
});

// OSCORE error answers at message level (RFC 8613 §8.2, §7.4) and hostile input that must never throw.
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ACK, CON, Code, NON, Opt, type CoapMessage } from '../../src/coap/message.js';
import { getOption, getUint } from '../../src/coap/options.js';
import { protectOutgoingRequest, unprotectIncomingResponse } from '../../src/oscore/client.js';
import { deriveContext } from '../../src/oscore/context.js';
import { encodeOscoreOption } from '../../src/oscore/option.js';
import { protectOutgoingResponse, unprotectIncomingRequest, type UnprotectRequestResult } from '../../src/oscore/server.js';
import { createOscoreContextStore, plugtestClientContext, plugtestServerContext } from '../../src/oscore/store.js';
import { msg, plugtestPair } from '../helpers/oscore-messages.js';

const h = (hex: string): Buffer => Buffer.from(hex, 'hex');

function withOscore(m: CoapMessage, value: Buffer, payload = m.payload): CoapMessage {
  const options = m.options.filter((o) => o.number !== Opt.OSCORE);
  options.push({ number: Opt.OSCORE, value });
  return { ...m, options: options.sort((a, b) => a.number - b.number), payload };
}

/** Asserts an unprotected error answer of that code and diagnostic, shaped like Californium's. */
function expectError(r: UnprotectRequestResult, request: CoapMessage, code: number, diagnostic: string): void {
  expect(r.kind).toBe('error');
  if (r.kind !== 'error') return;
  const resp = r.response;
  expect(resp.code).toBe(code);
  expect(resp.payload.toString('utf8')).toBe(diagnostic);
  expect(resp.type).toBe(request.type === CON ? ACK : NON);
  expect(resp.mid).toBe(request.mid);
  expect(resp.token).toEqual(request.token);
  expect(getOption(resp, Opt.OSCORE)).toBeUndefined();
  // §4.1.3.1 outer Max-Age 0 on OSCORE errors; diagnostic as text/plain
  expect(getUint(resp, Opt.MAX_AGE)).toBe(0);
  expect(getUint(resp, Opt.CONTENT_FORMAT)).toBe(0);
}

function protectedGet(): { store: ReturnType<typeof plugtestPair>['store']; message: CoapMessage; client: ReturnType<typeof plugtestPair>['client'] } {
  const { store, client } = plugtestPair();
  const { message } = protectOutgoingRequest(client, msg({ code: Code.GET, mid: 0x4242, path: ['oscore'] }));
  return { store, message, client };
}

describe('plain messages', () => {
  it('a request without OSCORE option is plain', () => {
    const { store } = plugtestPair();
    expect(unprotectIncomingRequest(store, msg({ code: Code.GET, path: ['oscore'] }))).toEqual({ kind: 'plain' });
  });
});

describe('4.02 Bad Option, "Failed to decode COSE" (§8.2 step 3)', () => {
  it.each([
    ['reserved flag bits', '8900'],
    ['Partial IV length 6', '06010203040506'],
    ['truncated Partial IV', '03aa'],
    ['kid context length missing', '1900'],
    ['kid context longer than the option', '19001001'],
    ['trailing bytes without kid', '010001'],
    ['no kid', '0100'],
    ['no Partial IV', '0801'],
    ['empty option (a request needs kid and Partial IV)', ''],
  ])('%s', (_name, hexValue) => {
    const { store, message } = protectedGet();
    const bad = withOscore(message, h(hexValue));
    expectError(unprotectIncomingRequest(store, bad), bad, Code.BAD_OPTION, 'Failed to decode COSE');
  });

  it('a repeated OSCORE option', () => {
    const { store, message } = protectedGet();
    const bad = { ...message, options: [...message.options, { number: Opt.OSCORE, value: h('090001') }].sort((a, b) => a.number - b.number) };
    expectError(unprotectIncomingRequest(store, bad), bad, Code.BAD_OPTION, 'Failed to decode COSE');
  });

  it('no ciphertext', () => {
    const { store, message } = protectedGet();
    const bad = { ...message, payload: Buffer.alloc(0) };
    expectError(unprotectIncomingRequest(store, bad), bad, Code.BAD_OPTION, 'Failed to decode COSE');
  });
});

describe('4.01 "Security context not found" (§8.2 step 3)', () => {
  it('unknown kid', () => {
    const { store, message } = protectedGet();
    const bad = withOscore(message, encodeOscoreOption({ partialIv: h('00'), kid: h('07') }));
    expectError(unprotectIncomingRequest(store, bad), bad, Code.UNAUTHORIZED, 'Security context not found');
  });

  it('a huge kid (250 bytes)', () => {
    const { store, message } = protectedGet();
    const bad = withOscore(message, Buffer.concat([h('0900'), Buffer.alloc(250, 0x01)]));
    expectError(unprotectIncomingRequest(store, bad), bad, Code.UNAUTHORIZED, 'Security context not found');
  });

  it('unknown kid context when re-derivation is disabled', () => {
    const store = createOscoreContextStore([{ ...plugtestServerContext(), rederivation: false }]);
    const client = deriveContext({ ...plugtestClientContext(), idContext: h('0102030405060708') });
    const { message } = protectOutgoingRequest(client, msg({ code: Code.GET, path: ['oscore'] }));
    expectError(unprotectIncomingRequest(store, message), message, Code.UNAUTHORIZED, 'Security context not found');
  });

  it('a NON request gets a NON answer', () => {
    const { store, client } = plugtestPair();
    const { message } = protectOutgoingRequest(client, msg({ type: NON, code: Code.GET, path: ['oscore'] }));
    const bad = withOscore(message, encodeOscoreOption({ partialIv: h('00'), kid: h('07') }));
    expectError(unprotectIncomingRequest(store, bad), bad, Code.UNAUTHORIZED, 'Security context not found');
  });
});

describe('4.00 "Decryption failed" (§8.2 step 7)', () => {
  it('every flipped byte of the ciphertext, and the genuine request still passes afterwards', () => {
    const { store, message } = protectedGet();
    for (let i = 0; i < message.payload.length; i++) {
      const p = Buffer.from(message.payload);
      p[i] = p[i]! ^ 0x40;
      const bad = { ...message, payload: p };
      expectError(unprotectIncomingRequest(store, bad), bad, Code.BAD_REQUEST, 'Decryption failed');
    }
    // failed requests did not enter the replay window (§7.4)
    expect(unprotectIncomingRequest(store, message).kind).toBe('ok');
  });

  it('a changed Partial IV, a truncated or a random payload', () => {
    const { store, message } = protectedGet();
    for (const bad of [
      withOscore(message, encodeOscoreOption({ partialIv: h('05'), kid: h('01'), kidContext: h('37cbf3210017a2d3') })),
      { ...message, payload: message.payload.subarray(0, 5) },
      { ...message, payload: randomBytes(40) },
    ]) {
      expectError(unprotectIncomingRequest(store, bad), bad, Code.BAD_REQUEST, 'Decryption failed');
    }
  });

  it('a verified plaintext whose inner code is no method', () => {
    const { store, client } = plugtestPair();
    const { message } = protectOutgoingRequest(client, msg({ code: Code.CONTENT, path: ['oscore'] }));
    expectError(unprotectIncomingRequest(store, message), message, Code.BAD_REQUEST, 'Decryption failed');
  });

  it('a ciphertext over MAX_UNFRAGMENTED_SIZE is refused before decryption (4.13)', () => {
    const { store, client } = plugtestPair();
    const { message } = protectOutgoingRequest(client, msg({ code: Code.PUT, path: ['oscore'], payload: Buffer.alloc(8200) }));
    const r = unprotectIncomingRequest(store, message);
    expect(r.kind === 'error' && r.response.code).toBe(Code.REQUEST_ENTITY_TOO_LARGE);
  });
});

describe('4.01 "Replay detected" (§7.4)', () => {
  it('a replayed request is refused and no protected response can be produced for it', () => {
    const { store, message, client } = protectedGet();
    const first = unprotectIncomingRequest(store, message);
    expect(first.kind).toBe('ok');
    const again = unprotectIncomingRequest(store, message);
    expectError(again, message, Code.UNAUTHORIZED, 'Replay detected');
    // the answer to the replay is the unprotected error only: nothing the client could take as a response
    if (again.kind === 'error') {
      const fake = protectOutgoingRequest(client, msg({ code: Code.GET, path: ['x'] })).binding;
      expect(unprotectIncomingResponse(client, again.response, fake).kind).toBe('plain');
    }
  });

  it('a request older than the window (32) is refused, one inside it is accepted once', () => {
    const { store, client } = plugtestPair();
    const early = protectOutgoingRequest(client, msg({ code: Code.GET, path: ['a'] })).message; // 0
    const inside = [] as CoapMessage[];
    for (let i = 1; i < 40; i++) inside.push(protectOutgoingRequest(client, msg({ code: Code.GET, path: ['a'] })).message);
    const latest = protectOutgoingRequest(client, msg({ code: Code.GET, path: ['a'] })).message; // 40
    expect(unprotectIncomingRequest(store, latest).kind).toBe('ok');
    expectError(unprotectIncomingRequest(store, early), early, Code.UNAUTHORIZED, 'Replay detected');
    const recent = inside[30]!; // 31, within 40 - 32 < 31
    expect(unprotectIncomingRequest(store, recent).kind).toBe('ok');
    expectError(unprotectIncomingRequest(store, recent), recent, Code.UNAUTHORIZED, 'Replay detected');
  });
});

describe('sender sequence number exhausted (§7.2.1)', () => {
  it('the response becomes an unprotected 5.00 instead of a throw', () => {
    const { store, message } = protectedGet();
    const r = unprotectIncomingRequest(store, message);
    if (r.kind !== 'ok') throw new Error('setup');
    r.state.ctx.sender.sequenceNumber = 2 ** 40;
    protectOutgoingResponse(r.state, msg({ type: ACK, code: Code.CONTENT })); // first: request nonce, no number needed
    const out = protectOutgoingResponse(r.state, msg({ type: ACK, code: Code.CONTENT }), { notification: true });
    expect(out.code).toBe(Code.INTERNAL_SERVER_ERROR);
    expect(getOption(out, Opt.OSCORE)).toBeUndefined();
  });
});

describe('hostile input never throws out of the API', () => {
  it('random OSCORE option values and payloads', () => {
    const { store } = plugtestPair();
    const base = msg({ code: Code.POST });
    for (let i = 0; i < 3000; i++) {
      const len = i % 7 === 0 ? 255 : i % 23;
      const m = withOscore(base, randomBytes(len), randomBytes(i % 50));
      const r = unprotectIncomingRequest(store, m);
      expect(['plain', 'error']).toContain(r.kind);
    }
  });

  it('every truncation of a valid option, and random bytes after a valid kid', () => {
    const { store, message } = protectedGet();
    const value = getOption(message, Opt.OSCORE)!;
    for (let n = 0; n < value.length; n++) {
      const r = unprotectIncomingRequest(store, withOscore(message, value.subarray(0, n)));
      expect(r.kind).toBe('error');
    }
    for (let i = 0; i < 200; i++) {
      const r = unprotectIncomingRequest(store, withOscore(message, encodeOscoreOption({ partialIv: randomBytes(1 + (i % 5)), kid: h('01') }), randomBytes(i)));
      expect(r.kind).toBe('error');
    }
  });

  it('random responses to the client', () => {
    const { client } = plugtestPair();
    const { binding } = protectOutgoingRequest(client, msg({ code: Code.GET, path: ['x'] }));
    for (let i = 0; i < 1000; i++) {
      const r = unprotectIncomingResponse(client, withOscore(msg({ type: ACK, code: Code.CHANGED }), randomBytes(i % 12), randomBytes(i % 40)), binding);
      expect(r.kind).toBe('error');
    }
  });
});

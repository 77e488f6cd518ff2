// OSCORE robustness: replay window (RFC 8613 §7.4), malformed OSCORE options (§6.1 → 4.02), failed verification (§8.2, §8.4).
import { describe, expect, it } from 'vitest';
import { Code, Opt } from '../../src/coap/message.js';
import {
  DEFAULT_REPLAY_WINDOW,
  MAX_SEQUENCE_NUMBER,
  createReplayWindow,
  deriveContext,
  nextSequenceNumber,
  replayAccept,
  replayCheck,
  type ContextParams,
} from '../../src/oscore/context.js';
import { aeadDecrypt, computeNonce, decodePartialIv, encodePartialIv } from '../../src/oscore/cose.js';
import { OscoreError, decodeOscoreOption, encodeOscoreOption, isOscoreError, type OscoreFailure } from '../../src/oscore/option.js';
import { decodePlaintext, protectRequest, protectResponse, unprotectRequest, unprotectResponse, type InnerMessage } from '../../src/oscore/protect.js';

const h = (hex: string): Buffer => Buffer.from(hex, 'hex');

const SECRET = h('0102030405060708090a0b0c0d0e0f10');
const SALT = h('9e7ca92223786340');
const CLIENT: ContextParams = { masterSecret: SECRET, masterSalt: SALT, senderId: h(''), recipientId: h('01') };
const SERVER: ContextParams = { masterSecret: SECRET, masterSalt: SALT, senderId: h('01'), recipientId: h('') };
const GET_TV1: InnerMessage = { code: Code.GET, options: [{ number: Opt.URI_PATH, value: Buffer.from('tv1') }], payload: Buffer.alloc(0) };

/** Runs fn and returns the OscoreError it throws (fails the test if it returns or throws anything else). */
function oscoreError(fn: () => unknown): OscoreError {
  try {
    fn();
  } catch (e) {
    if (e instanceof OscoreError) return e;
    throw e;
  }
  throw new Error('expected an OscoreError');
}

function expectFailure(fn: () => unknown, failure: OscoreFailure, code: number): void {
  const e = oscoreError(fn);
  expect(e.failure).toBe(failure);
  expect(e.responseCode).toBe(code);
}

describe('replay window (§7.4)', () => {
  it('has the default size 32 and bounded memory', () => {
    const w = createReplayWindow();
    expect(w.size).toBe(DEFAULT_REPLAY_WINDOW);
    expect(w.seen.length).toBe(32);
    expect(() => createReplayWindow(0)).toThrow(RangeError);
    expect(() => createReplayWindow(1_000_000)).toThrow(RangeError);
  });

  it('accepts new numbers, rejects duplicates', () => {
    const w = createReplayWindow(32);
    expect(replayCheck(w, 0)).toBe('ok');
    replayAccept(w, 0);
    expect(replayCheck(w, 0)).toBe('duplicate');
    replayAccept(w, 5);
    expect(replayCheck(w, 5)).toBe('duplicate');
    // out of order within the window: not yet seen → ok, then duplicate
    expect(replayCheck(w, 3)).toBe('ok');
    replayAccept(w, 3);
    expect(replayCheck(w, 3)).toBe('duplicate');
    expect(replayCheck(w, 4)).toBe('ok');
  });

  it('rejects numbers older than the window and slides with the highest number', () => {
    const w = createReplayWindow(32);
    replayAccept(w, 10);
    replayAccept(w, 50);
    // 50 - 32 = 18 is the oldest number out of the window; 19..50 are in it
    expect(replayCheck(w, 18)).toBe('too-old');
    expect(replayCheck(w, 10)).toBe('too-old');
    expect(replayCheck(w, 19)).toBe('ok');
    expect(replayCheck(w, 49)).toBe('ok');
    expect(replayCheck(w, 50)).toBe('duplicate');
    replayAccept(w, 30);
    replayAccept(w, 60);
    // 30 still inside (60 - 30 < 32) and remembered; 28 now too old
    expect(replayCheck(w, 30)).toBe('duplicate');
    expect(replayCheck(w, 28)).toBe('too-old');
    expect(replayCheck(w, 29)).toBe('ok');
    // numbers skipped by the slide are not marked: 51..59 unseen
    for (let s = 51; s < 60; s++) expect(replayCheck(w, s)).toBe('ok');
    // a jump far beyond the window clears everything older
    replayAccept(w, 1000);
    expect(replayCheck(w, 1000)).toBe('duplicate');
    expect(replayCheck(w, 999)).toBe('ok');
    expect(replayCheck(w, 968)).toBe('too-old');
    expect(replayCheck(w, 969)).toBe('ok');
  });

  it('slot reuse does not confuse numbers a window apart', () => {
    const w = createReplayWindow(4);
    replayAccept(w, 1);
    replayAccept(w, 5); // same slot as 1
    expect(replayCheck(w, 1)).toBe('too-old');
    expect(replayCheck(w, 2)).toBe('ok');
    expect(replayCheck(w, 5)).toBe('duplicate');
  });

  it('a replayed request is rejected with 4.01 and leaves the window as it was', () => {
    const client = deriveContext({ ...CLIENT, senderSequenceNumber: 7 });
    const server = deriveContext(SERVER);
    const p = protectRequest(client, GET_TV1);
    expect(unprotectRequest(server, p.option, p.ciphertext).sequenceNumber).toBe(7);
    expectFailure(() => unprotectRequest(server, p.option, p.ciphertext), 'replay', Code.UNAUTHORIZED);
    // a later request still passes
    const q = protectRequest(client, GET_TV1);
    expect(unprotectRequest(server, q.option, q.ciphertext).sequenceNumber).toBe(8);
  });

  it('a request older than the window is rejected', () => {
    const client = deriveContext(CLIENT);
    const server = deriveContext(SERVER);
    const old = protectRequest(client, GET_TV1); // sequence number 0
    client.sender.sequenceNumber = 100;
    const recent = protectRequest(client, GET_TV1);
    unprotectRequest(server, recent.option, recent.ciphertext);
    expectFailure(() => unprotectRequest(server, old.option, old.ciphertext), 'replay', Code.UNAUTHORIZED);
  });

  it('a request that fails verification does not enter the window', () => {
    const client = deriveContext(CLIENT);
    const server = deriveContext(SERVER);
    const p = protectRequest(client, GET_TV1);
    const bad = Buffer.from(p.ciphertext);
    bad[0] = bad[0]! ^ 1;
    expectFailure(() => unprotectRequest(server, p.option, bad), 'decryption-failed', Code.BAD_REQUEST);
    expect(unprotectRequest(server, p.option, p.ciphertext).sequenceNumber).toBe(0);
  });
});

describe('sender sequence number (§7.2.1)', () => {
  it('counts up and stops after 2^40 - 1', () => {
    const ctx = deriveContext({ ...CLIENT, senderSequenceNumber: MAX_SEQUENCE_NUMBER });
    expect(nextSequenceNumber(ctx.sender)).toBe(MAX_SEQUENCE_NUMBER);
    expectFailure(() => nextSequenceNumber(ctx.sender), 'sequence-exhausted', Code.INTERNAL_SERVER_ERROR);
    expectFailure(() => protectRequest(ctx, GET_TV1), 'sequence-exhausted', Code.INTERNAL_SERVER_ERROR);
  });

  it('Partial IV encoding: no leading zeros, 0 as 0x00, at most 5 bytes', () => {
    expect(encodePartialIv(0)).toEqual(h('00'));
    expect(encodePartialIv(20)).toEqual(h('14'));
    expect(encodePartialIv(256)).toEqual(h('0100'));
    expect(encodePartialIv(MAX_SEQUENCE_NUMBER)).toEqual(h('ffffffffff'));
    expect(() => encodePartialIv(MAX_SEQUENCE_NUMBER + 1)).toThrow(RangeError);
    expect(decodePartialIv(h('ffffffffff'))).toBe(MAX_SEQUENCE_NUMBER);
  });
});

describe('security context inputs (§3.2, §3.3)', () => {
  it('rejects unsupported algorithms, long or equal IDs', () => {
    expect(() => deriveContext({ ...CLIENT, aeadAlg: 24 })).toThrow(RangeError);
    expect(() => deriveContext({ ...CLIENT, senderId: h('0102030405060708') })).toThrow(RangeError);
    expect(() => deriveContext({ ...CLIENT, senderId: h('01') })).toThrow(RangeError);
    expect(() => computeNonce(h('00'.repeat(13)), h('0102030405060708'), h('00'))).toThrow(RangeError);
  });
});

describe('OSCORE option value (§6.1)', () => {
  it('round-trips all field combinations', () => {
    const cases = [
      {},
      { partialIv: h('14') },
      { partialIv: h('0102030405'), kid: h('') },
      { partialIv: h('14'), kid: h('00'), kidContext: h('37cbf3210017a2d3') },
      { kid: h('abcdef') },
      { kidContext: h('') },
    ];
    for (const c of cases) expect(decodeOscoreOption(encodeOscoreOption(c))).toEqual(c);
    expect(encodeOscoreOption({})).toEqual(h(''));
  });

  it.each([
    ['reserved bit 7 set', '8914'],
    ['reserved bit 6 set', '4914'],
    ['reserved bit 5 set', '2914'],
    ['Partial IV length 6 (reserved)', '06010203040506'],
    ['Partial IV length 7 (reserved)', '0701020304050607'],
    ['Partial IV longer than the value', '0314'],
    ['kid context length missing', '1114'],
    ['kid context longer than the value', '11140837cb'],
    ['bytes after the fields without kid flag', '011400'],
    ['all-zero flag byte in a non-empty value', '00'],
  ])('rejects %s with 4.02 Bad Option', (_name, value) => {
    expectFailure(() => decodeOscoreOption(h(value)), 'bad-option', Code.BAD_OPTION);
  });

  it('rejects an option value over 255 bytes', () => {
    const value = Buffer.concat([h('08'), Buffer.alloc(300)]);
    expectFailure(() => decodeOscoreOption(value), 'bad-option', Code.BAD_OPTION);
  });

  it('a request option without Partial IV or kid is a bad option', () => {
    const server = deriveContext(SERVER);
    const ct = Buffer.alloc(13);
    expectFailure(() => unprotectRequest(server, encodeOscoreOption({ kid: h('') }), ct), 'bad-option', Code.BAD_OPTION);
    expectFailure(() => unprotectRequest(server, encodeOscoreOption({ partialIv: h('01') }), ct), 'bad-option', Code.BAD_OPTION);
    expectFailure(() => unprotectRequest(server, h(''), ct), 'bad-option', Code.BAD_OPTION);
    expectFailure(() => unprotectRequest(server, h('e914'), ct), 'bad-option', Code.BAD_OPTION);
  });
});

describe('failed verification is an error, not a crash (§8.2, §8.4)', () => {
  function setup(): { client: ReturnType<typeof deriveContext>; server: ReturnType<typeof deriveContext>; option: Buffer; ciphertext: Buffer } {
    const client = deriveContext({ ...CLIENT, senderSequenceNumber: 20 });
    const server = deriveContext(SERVER);
    const p = protectRequest(client, GET_TV1);
    return { client, server, option: p.option, ciphertext: p.ciphertext };
  }

  it('every single flipped ciphertext or tag bit fails with 4.00', () => {
    const { option, ciphertext } = setup();
    for (let i = 0; i < ciphertext.length; i++) {
      for (const bit of [0x01, 0x80]) {
        const server = deriveContext(SERVER);
        const bad = Buffer.from(ciphertext);
        bad[i] = bad[i]! ^ bit;
        expectFailure(() => unprotectRequest(server, option, bad), 'decryption-failed', Code.BAD_REQUEST);
      }
    }
  });

  it('truncated, empty or extended ciphertext fails with 4.00', () => {
    const { server, option, ciphertext } = setup();
    for (const bad of [Buffer.alloc(0), ciphertext.subarray(0, 7), ciphertext.subarray(0, 8), ciphertext.subarray(0, ciphertext.length - 1), Buffer.concat([ciphertext, h('00')])]) {
      expectFailure(() => unprotectRequest(server, option, bad), 'decryption-failed', Code.BAD_REQUEST);
    }
  });

  it('a changed Partial IV (AAD and nonce) fails with 4.00', () => {
    const { server, ciphertext } = setup();
    expectFailure(() => unprotectRequest(server, encodeOscoreOption({ partialIv: h('15'), kid: h('') }), ciphertext), 'decryption-failed', Code.BAD_REQUEST);
  });

  it('an unknown kid or kid context fails with 4.01 (no security context)', () => {
    const { server, ciphertext } = setup();
    expectFailure(() => unprotectRequest(server, encodeOscoreOption({ partialIv: h('14'), kid: h('02') }), ciphertext), 'context-not-found', Code.UNAUTHORIZED);
    expectFailure(
      () => unprotectRequest(server, encodeOscoreOption({ partialIv: h('14'), kid: h(''), kidContext: h('37cbf3210017a2d3') }), ciphertext),
      'context-not-found',
      Code.UNAUTHORIZED,
    );
  });

  it('the wrong key (another context) fails with 4.00', () => {
    const { option, ciphertext } = setup();
    const other = deriveContext({ ...SERVER, masterSalt: undefined });
    expectFailure(() => unprotectRequest(other, option, ciphertext), 'decryption-failed', Code.BAD_REQUEST);
  });

  it('a tampered or misbound response fails cleanly', () => {
    const client = deriveContext(CLIENT);
    const server = deriveContext(SERVER);
    const req = protectRequest(client, GET_TV1);
    const { request } = unprotectRequest(server, req.option, req.ciphertext);
    const ok: InnerMessage = { code: Code.CONTENT, options: [], payload: Buffer.from('hi') };
    for (const partialIv of [false, true]) {
      const resp = protectResponse(server, ok, request, { partialIv });
      expect(unprotectResponse(client, resp.option, resp.ciphertext, req.request)).toEqual(ok);
      const bad = Buffer.from(resp.ciphertext);
      bad[bad.length - 1] = bad[bad.length - 1]! ^ 0xff;
      expectFailure(() => unprotectResponse(client, resp.option, bad, req.request), 'decryption-failed', Code.BAD_REQUEST);
      // bound to another request (other Partial IV): AAD differs
      const other = { ...req.request, partialIv: h('63'), nonce: computeNonce(client.commonIv, client.sender.id, h('63')) };
      expectFailure(() => unprotectResponse(client, resp.option, resp.ciphertext, other), 'decryption-failed', Code.BAD_REQUEST);
    }
    expectFailure(() => unprotectResponse(client, h('07'), h('00'.repeat(10)), req.request), 'bad-option', Code.BAD_OPTION);
  });

  it('aeadDecrypt returns undefined instead of throwing', () => {
    expect(aeadDecrypt(Buffer.alloc(16), Buffer.alloc(13), Buffer.alloc(0), Buffer.alloc(3))).toBeUndefined();
    expect(aeadDecrypt(Buffer.alloc(16), Buffer.alloc(13), Buffer.alloc(0), Buffer.alloc(20))).toBeUndefined();
  });

  it('a malformed inner plaintext is a typed error', () => {
    expectFailure(() => decodePlaintext(h('')), 'bad-plaintext', Code.BAD_REQUEST);
    expectFailure(() => decodePlaintext(h('00')), 'bad-plaintext', Code.BAD_REQUEST);
    expectFailure(() => decodePlaintext(h('01ff')), 'bad-plaintext', Code.BAD_REQUEST);
    expectFailure(() => decodePlaintext(h('01f1')), 'bad-plaintext', Code.BAD_REQUEST);
    expectFailure(() => decodePlaintext(h('01b574')), 'bad-plaintext', Code.BAD_REQUEST);
    expect(isOscoreError(oscoreError(() => decodePlaintext(h(''))), 'bad-plaintext')).toBe(true);
  });
});

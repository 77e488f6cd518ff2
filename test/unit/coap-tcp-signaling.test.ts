// CoAP signaling over reliable transports (RFC 8323 §5): builders and parser against hand-derived
// bytes, and the server side's CSM state (§5.3) with Ping/Pong (§5.4), Release (§5.5), Abort (§5.6).
import { describe, expect, it } from 'vitest';
import { TcpFrameError, createTcpFrameReader, decodeTcp, encodeTcp } from '../../src/coap/tcp-codec.js';
import {
  BASE_MAX_MESSAGE_SIZE,
  MAX_PEER_MAX_MESSAGE_SIZE,
  MIN_PEER_MAX_MESSAGE_SIZE,
  SignalCode,
  abortForFrameError,
  bertEnabled,
  buildAbort,
  buildCsm,
  buildPing,
  buildPong,
  buildRelease,
  createCsmState,
  localCsm,
  parseSignal,
  receiveMessage,
  type CsmState,
  type TcpAction,
} from '../../src/coap/tcp-signaling.js';
import { CON, Code, type CoapMessage } from '../../src/coap/message.js';

function hex(s: string): Buffer {
  return Buffer.from(s.replace(/\s+/g, ''), 'hex');
}

/** Decodes hand-written frame bytes into a message. */
function frame(s: string): CoapMessage {
  return decodeTcp(hex(s));
}

function request(): CoapMessage {
  return { type: CON, code: Code.GET, mid: 0, token: hex('01'), options: [], payload: Buffer.alloc(0) };
}

/** Feeds messages in order, returning the final state and each action. */
function run(state: CsmState, ...msgs: CoapMessage[]): { state: CsmState; actions: TcpAction[] } {
  const actions: TcpAction[] = [];
  for (const m of msgs) {
    const r = receiveMessage(state, m);
    state = r.state;
    actions.push(r.action);
  }
  return { state, actions };
}

/** The Abort an action sends, parsed back from its wire bytes. */
function sentAbort(action: TcpAction): { badCsmOption?: number; diagnostic: string } {
  expect(action.kind).toBe('abort');
  if (action.kind !== 'abort') throw new Error('not an abort');
  const sig = parseSignal(decodeTcp(encodeTcp(action.message)));
  if (sig?.kind !== 'abort') throw new Error('not an Abort message');
  return sig.badCsmOption === undefined ? { diagnostic: sig.diagnostic } : { badCsmOption: sig.badCsmOption, diagnostic: sig.diagnostic };
}

const LOCAL = { maxMessageSize: 8192, blockWiseTransfer: true };
const csm1152 = '40 e1 22 04 80 20'; // CSM, Max-Message-Size 1152 (0x0480), Block-Wise-Transfer

describe('signaling messages (RFC 8323 §5)', () => {
  it('codes are 7.01-7.05 (0xe1-0xe5)', () => {
    expect(SignalCode).toEqual({ CSM: 0xe1, PING: 0xe2, PONG: 0xe3, RELEASE: 0xe4, ABORT: 0xe5 });
  });

  it('RFC 8323 §5.7 examples: Ping and Pong with token 0x42', () => {
    expect(encodeTcp(buildPing({ token: hex('42') }))).toEqual(hex('01 e2 42'));
    expect(encodeTcp(buildPong({ token: hex('42') }))).toEqual(hex('01 e3 42'));
    expect(parseSignal(frame('01 e2 42'))).toEqual({ kind: 'ping', token: hex('42'), custody: false, unknownCritical: [] });
    expect(parseSignal(frame('01 e3 42'))).toEqual({ kind: 'pong', token: hex('42'), custody: false, unknownCritical: [] });
  });

  it('Ping and Pong with Custody (option 2, empty: 0x20)', () => {
    expect(encodeTcp(buildPing({ custody: true, token: hex('42') }))).toEqual(hex('11 e2 42 20'));
    expect(encodeTcp(buildPong({ custody: true, token: hex('42') }))).toEqual(hex('11 e3 42 20'));
    expect(parseSignal(frame('11 e2 42 20'))).toMatchObject({ kind: 'ping', custody: true });
    // a Custody option with a value is malformed and ignored (RFC 7252 §5.4.3)
    expect(parseSignal(frame('21 e2 42 21 00'))).toMatchObject({ kind: 'ping', custody: false, unknownCritical: [] });
  });

  it('CSM with Max-Message-Size and Block-Wise-Transfer', () => {
    expect(encodeTcp(buildCsm({ maxMessageSize: 1152, blockWiseTransfer: true }))).toEqual(hex(csm1152));
    expect(encodeTcp(buildCsm({ maxMessageSize: 0xffffffff }))).toEqual(hex('50 e1 24 ff ff ff ff'));
    expect(encodeTcp(buildCsm())).toEqual(hex('00 e1'));
    expect(parseSignal(frame(csm1152))).toEqual({ kind: 'csm', token: Buffer.alloc(0), maxMessageSize: 1152, blockWiseTransfer: true, unknownCritical: [] });
    expect(parseSignal(frame('00 e1'))).toEqual({ kind: 'csm', token: Buffer.alloc(0), blockWiseTransfer: false, unknownCritical: [] });
    // an empty uint is 0
    expect(parseSignal(frame('10 e1 20'))).toMatchObject({ kind: 'csm', maxMessageSize: 0 });
  });

  it('CSM: unknown elective options are ignored, an unknown critical one is reported for Bad-CSM-Option', () => {
    // option 6 (elective, delta 4, "zz") after Max-Message-Size 1152
    expect(parseSignal(frame('60 e1 22 04 80 42 7a 7a'))).toEqual({ kind: 'csm', token: Buffer.alloc(0), maxMessageSize: 1152, blockWiseTransfer: false, unknownCritical: [] });
    // option 9 (critical, delta 7, empty) after Max-Message-Size 128
    expect(parseSignal(frame('30 e1 21 80 70'))).toMatchObject({ kind: 'csm', maxMessageSize: 128, badCsmOption: 9, unknownCritical: [9] });
    // option 1 before option 2
    expect(parseSignal(frame('30 e1 10 11 80'))).toMatchObject({ badCsmOption: 1, unknownCritical: [1] });
  });

  it('CSM: a known option with an invalid value is reported for Bad-CSM-Option', () => {
    // Max-Message-Size of 5 bytes (uint 0-4)
    expect(parseSignal(frame('60 e1 25 00 00 00 04 80'))).toMatchObject({ kind: 'csm', badCsmOption: 2 });
    expect(parseSignal(frame('60 e1 25 00 00 00 04 80'))).not.toHaveProperty('maxMessageSize');
    // Block-Wise-Transfer with a value (empty)
    expect(parseSignal(frame('20 e1 41 01'))).toMatchObject({ kind: 'csm', badCsmOption: 4, blockWiseTransfer: false });
  });

  it('CSM: a repeated Max-Message-Size counts once, the first (RFC 7252 §5.4.5)', () => {
    // 4096 (0x1000), then delta 0 with 1152
    expect(parseSignal(frame('60 e1 22 10 00 02 04 80'))).toMatchObject({ maxMessageSize: 4096 });
  });

  it('Release with Alternative-Address and Hold-Off', () => {
    // Alternative-Address "h:1" (option 2, 3 bytes), Hold-Off 60 s (option 4, delta 2, 1 byte)
    const bytes = hex('60 e4 23 68 3a 31 21 3c');
    expect(encodeTcp(buildRelease({ alternativeAddresses: ['h:1'], holdOff: 60 }))).toEqual(bytes);
    expect(parseSignal(decodeTcp(bytes))).toEqual({
      kind: 'release',
      token: Buffer.alloc(0),
      alternativeAddresses: ['h:1'],
      holdOff: 60,
      diagnostic: '',
      unknownCritical: [],
    });
    // Hold-Off 0 is the empty uint (option 4, delta 4: 0x40)
    expect(encodeTcp(buildRelease({ holdOff: 0 }))).toEqual(hex('10 e4 40'));
    expect(parseSignal(frame('10 e4 40'))).toMatchObject({ kind: 'release', holdOff: 0 });
    // two addresses, a diagnostic payload
    const two = parseSignal(decodeTcp(encodeTcp(buildRelease({ alternativeAddresses: ['a.example', '[::1]:5683'], diagnostic: 'bye' }))));
    expect(two).toMatchObject({ alternativeAddresses: ['a.example', '[::1]:5683'], diagnostic: 'bye' });
    expect(two).not.toHaveProperty('holdOff');
    // Hold-Off of 4 bytes (uint 0-3) is ignored
    expect(parseSignal(frame('50 e4 44 00 00 00 3c'))).not.toHaveProperty('holdOff');
  });

  it('Abort with Bad-CSM-Option and a diagnostic payload', () => {
    // Bad-CSM-Option 4 (option 2, 1 byte), payload "x"
    expect(encodeTcp(buildAbort({ badCsmOption: 4, diagnostic: 'x' }))).toEqual(hex('40 e5 21 04 ff 78'));
    expect(parseSignal(frame('40 e5 21 04 ff 78'))).toEqual({ kind: 'abort', token: Buffer.alloc(0), badCsmOption: 4, diagnostic: 'x', unknownCritical: [] });
    expect(encodeTcp(buildAbort())).toEqual(hex('00 e5'));
  });

  it('parses an undefined 7.xx code as unknown and other codes not at all', () => {
    expect(parseSignal(frame('00 e6'))).toEqual({ kind: 'unknown', code: 0xe6, token: Buffer.alloc(0), unknownCritical: [] });
    expect(parseSignal(frame('00 e0'))).toMatchObject({ kind: 'unknown', code: 0xe0 });
    expect(parseSignal(request())).toBeUndefined();
  });

  it('builders refuse values outside the option formats', () => {
    expect(() => buildCsm({ maxMessageSize: 2 ** 32 })).toThrow(RangeError);
    expect(() => buildCsm({ maxMessageSize: -1 })).toThrow(RangeError);
    expect(() => buildRelease({ holdOff: 2 ** 24 })).toThrow(RangeError);
    expect(() => buildRelease({ alternativeAddresses: [''] })).toThrow(RangeError);
    expect(() => buildRelease({ alternativeAddresses: ['a'.repeat(256)] })).toThrow(RangeError);
    expect(() => buildAbort({ badCsmOption: 65536 })).toThrow(RangeError);
    expect(() => buildPing({ token: Buffer.alloc(9) })).toThrow(RangeError);
    expect(buildRelease({ alternativeAddresses: ['a'.repeat(255)] }).options[0]!.value.length).toBe(255);
  });
});

describe('server-side CSM state (RFC 8323 §5.3)', () => {
  it('starts at the base values and sends our own CSM first', () => {
    const s = createCsmState(LOCAL);
    expect(s).toMatchObject({ peerCsm: false, sendLimit: BASE_MAX_MESSAGE_SIZE, peerBlockWise: false });
    expect(BASE_MAX_MESSAGE_SIZE).toBe(1152);
    // Max-Message-Size 8192 (0x2000), Block-Wise-Transfer
    expect(encodeTcp(localCsm(s))).toEqual(hex('40 e1 22 20 00 20'));
    expect(encodeTcp(localCsm(createCsmState({ maxMessageSize: 1152, blockWiseTransfer: false })))).toEqual(hex('30 e1 22 04 80'));
  });

  it('refuses a local maxMessageSize outside 64..2^32-1', () => {
    for (const bad of [0, 63, 2 ** 32, 100.5]) expect(() => createCsmState({ maxMessageSize: bad, blockWiseTransfer: false })).toThrow(RangeError);
  });

  it.each([
    ['a request', request()],
    ['a Ping', buildPing({ token: hex('42') })],
    ['a Pong', buildPong()],
    ['a Release', buildRelease()],
    ['an undefined 7.xx code', frame('00 e6')],
  ])('aborts when %s comes before the peer CSM', (_name, first) => {
    const s = createCsmState(LOCAL);
    const r = receiveMessage(s, first);
    expect(sentAbort(r.action).badCsmOption).toBeUndefined();
    expect(sentAbort(r.action).diagnostic).toMatch(/expected CSM/);
    expect(r.state).toBe(s);
  });

  it('ignores Empty messages at any time, even before the CSM (§3.4)', () => {
    const empty = frame('00 00');
    const { state, actions } = run(createCsmState(LOCAL), empty, frame(csm1152), empty, request());
    expect(actions.map((a) => a.kind)).toEqual(['none', 'none', 'none', 'deliver']);
    expect(state.peerCsm).toBe(true);
  });

  it('delivers requests and responses once the CSM arrived', () => {
    const response: CoapMessage = { ...request(), code: Code.CONTENT, payload: Buffer.from('x') };
    const { actions } = run(createCsmState(LOCAL), frame('00 e1'), request(), response);
    expect(actions.map((a) => a.kind)).toEqual(['none', 'deliver', 'deliver']);
  });

  it("the peer's Max-Message-Size limits what we send; later CSMs replace it, omitting it keeps it", () => {
    const s0 = createCsmState(LOCAL);
    const { state: s1 } = run(s0, buildCsm({ maxMessageSize: 4096 }));
    expect(s1.sendLimit).toBe(4096);
    expect(s0.sendLimit).toBe(1152); // pure: the old state is unchanged
    expect(run(s1, buildCsm({ blockWiseTransfer: true })).state.sendLimit).toBe(4096);
    expect(run(s1, buildCsm({ maxMessageSize: 1000 })).state.sendLimit).toBe(1000);
    // a CSM without the option keeps the base value
    expect(run(s0, buildCsm()).state.sendLimit).toBe(1152);
  });

  it('clamps an absurdly large Max-Message-Size (2^32-1) to MAX_PEER_MAX_MESSAGE_SIZE', () => {
    const { state, actions } = run(createCsmState(LOCAL), frame('50 e1 24 ff ff ff ff'));
    expect(actions[0]!.kind).toBe('none');
    expect(state.sendLimit).toBe(MAX_PEER_MAX_MESSAGE_SIZE);
    expect(MAX_PEER_MAX_MESSAGE_SIZE).toBe(16 * 1024 * 1024);
    expect(run(createCsmState(LOCAL), buildCsm({ maxMessageSize: MAX_PEER_MAX_MESSAGE_SIZE + 1 })).state.sendLimit).toBe(MAX_PEER_MAX_MESSAGE_SIZE);
  });

  it('aborts with Bad-CSM-Option 2 on a Max-Message-Size below 64 (0 included), accepts 64', () => {
    expect(MIN_PEER_MAX_MESSAGE_SIZE).toBe(64);
    for (const tiny of ['10 e1 20', '20 e1 21 00', '20 e1 21 3f']) {
      const s = createCsmState(LOCAL);
      const r = receiveMessage(s, frame(tiny));
      expect(sentAbort(r.action)).toMatchObject({ badCsmOption: 2 });
      expect(sentAbort(r.action).diagnostic).toMatch(/Max-Message-Size \d+ below 64/);
      expect(r.state).toBe(s);
    }
    const ok = receiveMessage(createCsmState(LOCAL), frame('20 e1 21 40'));
    expect(ok.action.kind).toBe('none');
    expect(ok.state.sendLimit).toBe(64);
    // a later CSM with 0 aborts too and leaves the limit alone
    const later = run(createCsmState(LOCAL), buildCsm({ maxMessageSize: 2000 }), frame('10 e1 20'));
    expect(later.actions[1]!.kind).toBe('abort');
    expect(later.state.sendLimit).toBe(2000);
  });

  it('aborts with Bad-CSM-Option naming an unknown critical CSM option', () => {
    const r = receiveMessage(createCsmState(LOCAL), frame('30 e1 21 80 70'));
    expect(sentAbort(r.action)).toEqual({ badCsmOption: 9, diagnostic: 'bad CSM option 9' });
    expect(r.state.peerCsm).toBe(false);
    // also in a CSM after the first
    const later = run(createCsmState(LOCAL), frame(csm1152), frame('10 e1 b0')); // option 11, critical
    expect(sentAbort(later.actions[1]!)).toMatchObject({ badCsmOption: 11 });
  });

  it('aborts with Bad-CSM-Option naming a CSM option with an invalid value', () => {
    expect(sentAbort(receiveMessage(createCsmState(LOCAL), frame('60 e1 25 00 00 00 04 80')).action)).toMatchObject({ badCsmOption: 2 });
    expect(sentAbort(receiveMessage(createCsmState(LOCAL), frame('20 e1 41 01')).action)).toMatchObject({ badCsmOption: 4 });
  });

  it('accepts a CSM with an unknown elective option', () => {
    const r = receiveMessage(createCsmState(LOCAL), frame('60 e1 22 04 80 42 7a 7a'));
    expect(r.action.kind).toBe('none');
    expect(r.state).toMatchObject({ peerCsm: true, sendLimit: 1152 });
  });

  it.each([
    // local BWT, local MMS, peer CSM, BERT
    [true, 8192, '40 e1 22 20 00 20', true], // both: BWT and 8192
    [true, 8192, '40 e1 22 04 81 20', true], // peer 1153: just above 1152
    [true, 8192, csm1152, false], // peer 1152: block-wise, no BERT
    [true, 8192, '30 e1 22 20 00', false], // peer without Block-Wise-Transfer
    [false, 8192, '40 e1 22 20 00 20', false], // we did not announce it
    [true, 1152, '40 e1 22 20 00 20', false], // our own Max-Message-Size is 1152
  ])('BERT (local BWT %s, local size %i, peer %s) → %s (§5.3.2)', (bwt, size, peer, bert) => {
    const s = createCsmState({ maxMessageSize: size, blockWiseTransfer: bwt });
    expect(bertEnabled(s)).toBe(false);
    expect(bertEnabled(run(s, frame(peer)).state)).toBe(bert);
  });

  it('BERT: Block-Wise-Transfer is cumulative, Max-Message-Size ≤ 1152 later withdraws BERT', () => {
    const s = createCsmState(LOCAL);
    const a = run(s, buildCsm({ blockWiseTransfer: true }), buildCsm({ maxMessageSize: 4096 }));
    expect(a.state.peerBlockWise).toBe(true);
    expect(bertEnabled(a.state)).toBe(true);
    expect(bertEnabled(run(a.state, buildCsm({ maxMessageSize: 1152 })).state)).toBe(false);
  });
});

describe('Ping, Pong, Release, Abort on a connection (RFC 8323 §5.4-5.6)', () => {
  const open = (): CsmState => run(createCsmState(LOCAL), frame(csm1152)).state;

  it('answers Ping with a Pong carrying the same token (RFC 8323 §5.7 bytes)', () => {
    const r = receiveMessage(open(), frame('01 e2 42'));
    expect(r.action.kind).toBe('reply');
    if (r.action.kind !== 'reply') return;
    expect(encodeTcp(r.action.message)).toEqual(hex('01 e3 42'));
    expect(r.action.afterPendingRequests).toBe(false);
  });

  it('echoes Custody and asks to wait for the requests received before the Ping (§5.4.1)', () => {
    const r = receiveMessage(open(), frame('18 e2 0102030405060708 20'));
    if (r.action.kind !== 'reply') throw new Error(r.action.kind);
    expect(encodeTcp(r.action.message)).toEqual(hex('18 e3 0102030405060708 20'));
    expect(r.action.afterPendingRequests).toBe(true);
  });

  it('ignores an unknown elective option in a Ping, aborts on an unknown critical one (§5.2)', () => {
    // option 4 (elective, delta 4, empty)
    expect(receiveMessage(open(), frame('11 e2 42 40')).action.kind).toBe('reply');
    // option 1 (critical)
    const r = receiveMessage(open(), frame('11 e2 42 10'));
    expect(sentAbort(r.action)).toEqual({ diagnostic: 'unknown critical option 1 in 7.02' });
  });

  it('reports a Pong to the caller', () => {
    expect(receiveMessage(open(), frame('11 e3 42 20')).action).toEqual({ kind: 'pong', token: hex('42'), custody: true });
  });

  it('turns a Release with Hold-Off into a release action', () => {
    const r = receiveMessage(open(), frame('60 e4 23 68 3a 31 21 3c'));
    expect(r.action).toEqual({ kind: 'release', alternativeAddresses: ['h:1'], holdOff: 60, diagnostic: '' });
  });

  it('closes without answering on an Abort, with or without a CSM before it', () => {
    expect(receiveMessage(open(), frame('40 e5 21 04 ff 78')).action).toEqual({ kind: 'closed', badCsmOption: 4, diagnostic: 'x' });
    expect(receiveMessage(createCsmState(LOCAL), frame('00 e5')).action).toEqual({ kind: 'closed', diagnostic: '' });
  });

  it('ignores undefined 7.xx codes after the CSM, unless they carry a critical option (§5.2)', () => {
    expect(receiveMessage(open(), frame('00 e6')).action.kind).toBe('none');
    // option 2 (elective, empty)
    expect(receiveMessage(open(), frame('10 e6 20')).action.kind).toBe('none');
    // option 1 (critical, empty)
    expect(sentAbort(receiveMessage(open(), frame('10 e6 10')).action)).toEqual({ diagnostic: 'unknown critical option 1 in 7.06' });
  });

  it('answers a framing error with an Abort carrying its diagnostic', () => {
    const reader = createTcpFrameReader({ maxMessageSize: 1152 });
    let err: TcpFrameError | undefined;
    try {
      reader.push(hex('e0 ff ff'));
    } catch (e) {
      err = e as TcpFrameError;
    }
    expect(err).toBeInstanceOf(TcpFrameError);
    const abort = abortForFrameError(err!);
    expect(parseSignal(decodeTcp(encodeTcp(abort)))).toEqual({
      kind: 'abort',
      token: Buffer.alloc(0),
      diagnostic: 'message size 65808 exceeds 1152',
      unknownCritical: [],
    });
  });
});

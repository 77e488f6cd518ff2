// CoAP signaling messages over reliable transports (RFC 8323 §5): codes 7.01 CSM, 7.02 Ping, 7.03 Pong,
// 7.04 Release, 7.05 Abort, their code-specific options (§5.2), and the server side's per-connection
// CSM state (§5.3, §5.4) as pure functions.
import { type CoapMessage, type CoapOption, CON, EMPTY, codeOf, codeText } from './message.js';
import { decodeUint, encodeUint } from './options.js';
import type { TcpFrameError } from './tcp-codec.js';

/** Signaling codes (RFC 8323 §5.1, §11.1). */
export const SignalCode = {
  CSM: codeOf(7, 1),
  PING: codeOf(7, 2),
  PONG: codeOf(7, 3),
  RELEASE: codeOf(7, 4),
  ABORT: codeOf(7, 5),
} as const;

/** Signaling option numbers; each code has its own number space (RFC 8323 §5.2). */
export const SignalOpt = {
  /** CSM, uint 0-4 bytes (§5.3.1) */
  MAX_MESSAGE_SIZE: 2,
  /** CSM, empty (§5.3.2; with Max-Message-Size > 1152 it also announces BERT) */
  BLOCK_WISE_TRANSFER: 4,
  /** Ping and Pong, empty (§5.4.1) */
  CUSTODY: 2,
  /** Release, string 1-255 bytes, repeatable (§5.5) */
  ALTERNATIVE_ADDRESS: 2,
  /** Release, uint 0-3 bytes, seconds (§5.5) */
  HOLD_OFF: 4,
  /** Abort, uint 0-2 bytes (§5.6) */
  BAD_CSM_OPTION: 2,
} as const;

/** Max-Message-Size before any CSM, and when a CSM omits it (RFC 8323 §5.3.1, RFC 7252 §4.6). */
export const BASE_MAX_MESSAGE_SIZE = 1152;

/**
 * Smallest peer Max-Message-Size accepted. Below it no useful exchange fits (a 16-byte Block2 response
 * with an 8-byte token and its options needs about 40 bytes), so such a CSM is refused with Abort and
 * Bad-CSM-Option 2, which §5.6 names for "a parameter problem with the value of an elective option".
 */
export const MIN_PEER_MAX_MESSAGE_SIZE = 64;

/**
 * Largest peer Max-Message-Size used as our send limit; larger announcements (up to 2^32-1) are clamped
 * to it. This server never builds messages of that size, so the clamp only keeps peer-chosen numbers
 * out of buffer sizing.
 */
export const MAX_PEER_MAX_MESSAGE_SIZE = 16 * 1024 * 1024;

/** True for the signaling code class 7.00-7.31 (RFC 8323 §5.1). */
export function isSignalingCode(code: number): boolean {
  return code >> 5 === 7;
}

/** A parsed 7.01 CSM (RFC 8323 §5.3). */
export interface CsmSignal {
  kind: 'csm';
  token: Buffer;
  /** announced Max-Message-Size, unclamped; undefined when absent */
  maxMessageSize?: number;
  blockWiseTransfer: boolean;
  /** option number to report in Abort's Bad-CSM-Option: an unknown critical option, or a known one with an invalid value */
  badCsmOption?: number;
  unknownCritical: number[];
}

/** A parsed 7.02 Ping or 7.03 Pong (RFC 8323 §5.4). */
export interface PingPongSignal {
  kind: 'ping' | 'pong';
  token: Buffer;
  custody: boolean;
  unknownCritical: number[];
}

/** A parsed 7.04 Release (RFC 8323 §5.5). */
export interface ReleaseSignal {
  kind: 'release';
  token: Buffer;
  alternativeAddresses: string[];
  /** seconds the peer asks not to reconnect */
  holdOff?: number;
  diagnostic: string;
  unknownCritical: number[];
}

/** A parsed 7.05 Abort (RFC 8323 §5.6). */
export interface AbortSignal {
  kind: 'abort';
  token: Buffer;
  badCsmOption?: number;
  diagnostic: string;
  unknownCritical: number[];
}

/** A 7.xx code without a defined meaning (7.00, 7.06-7.31). */
export interface UnknownSignal {
  kind: 'unknown';
  code: number;
  token: Buffer;
  unknownCritical: number[];
}

/** A parsed signaling message. */
export type Signal = CsmSignal | PingPongSignal | ReleaseSignal | AbortSignal | UnknownSignal;

// §5.2: every option defined for a signaling code is elective (even), so any odd number is unknown and critical
function unknownCritical(msg: CoapMessage): number[] {
  const out: number[] = [];
  for (const o of msg.options) if ((o.number & 1) === 1 && !out.includes(o.number)) out.push(o.number);
  return out;
}

/** First value of a non-repeatable option (RFC 7252 §5.4.5: later ones are unrecognized, hence ignored when elective). */
function first(msg: CoapMessage, number: number): Buffer | undefined {
  for (const o of msg.options) if (o.number === number) return o.value;
  return undefined;
}

/**
 * Parses a signaling message (RFC 8323 §5); undefined for other codes. Unknown elective options are
 * ignored; unknown critical ones are listed in `unknownCritical` (the receiver must Abort, §5.2). An
 * elective option value of the wrong length is ignored (RFC 7252 §5.4.3), except in a CSM, where it
 * makes `badCsmOption` (§5.6: a parameter problem; §3.3: an invalid CSM aborts the connection).
 */
export function parseSignal(msg: CoapMessage): Signal | undefined {
  if (!isSignalingCode(msg.code)) return undefined;
  const token = msg.token;
  const critical = unknownCritical(msg);
  const diagnostic = msg.payload.toString('utf8');
  switch (msg.code) {
    case SignalCode.CSM: {
      let badCsmOption = critical[0];
      const mms = first(msg, SignalOpt.MAX_MESSAGE_SIZE);
      let maxMessageSize: number | undefined;
      if (mms !== undefined) {
        if (mms.length <= 4) maxMessageSize = decodeUint(mms);
        else badCsmOption ??= SignalOpt.MAX_MESSAGE_SIZE;
      }
      const bwt = first(msg, SignalOpt.BLOCK_WISE_TRANSFER);
      if (bwt !== undefined && bwt.length > 0) badCsmOption ??= SignalOpt.BLOCK_WISE_TRANSFER;
      const csm: CsmSignal = { kind: 'csm', token, blockWiseTransfer: bwt !== undefined && bwt.length === 0, unknownCritical: critical };
      if (maxMessageSize !== undefined) csm.maxMessageSize = maxMessageSize;
      if (badCsmOption !== undefined) csm.badCsmOption = badCsmOption;
      return csm;
    }
    case SignalCode.PING:
    case SignalCode.PONG: {
      const custody = first(msg, SignalOpt.CUSTODY);
      return {
        kind: msg.code === SignalCode.PING ? 'ping' : 'pong',
        token,
        custody: custody !== undefined && custody.length === 0,
        unknownCritical: critical,
      };
    }
    case SignalCode.RELEASE: {
      const alternativeAddresses: string[] = [];
      for (const o of msg.options) {
        if (o.number === SignalOpt.ALTERNATIVE_ADDRESS && o.value.length >= 1 && o.value.length <= 255) {
          alternativeAddresses.push(o.value.toString('utf8'));
        }
      }
      const release: ReleaseSignal = { kind: 'release', token, alternativeAddresses, diagnostic, unknownCritical: critical };
      const holdOff = first(msg, SignalOpt.HOLD_OFF);
      if (holdOff !== undefined && holdOff.length <= 3) release.holdOff = decodeUint(holdOff);
      return release;
    }
    case SignalCode.ABORT: {
      const abort: AbortSignal = { kind: 'abort', token, diagnostic, unknownCritical: critical };
      const bad = first(msg, SignalOpt.BAD_CSM_OPTION);
      if (bad !== undefined && bad.length <= 2) abort.badCsmOption = decodeUint(bad);
      return abort;
    }
    default:
      return { kind: 'unknown', code: msg.code, token, unknownCritical: critical };
  }
}

function signal(code: number, options: CoapOption[], payload: Buffer, token: Buffer | undefined): CoapMessage {
  const t = token ?? EMPTY;
  if (t.length > 8) throw new RangeError(`token length ${t.length}`);
  // type and MID are not sent over reliable transports (RFC 8323 §3.2)
  return { type: CON, code, mid: 0, token: t, options, payload };
}

function uintOption(number: number, value: number, maxBytes: number, name: string): CoapOption {
  if (!Number.isInteger(value) || value < 0 || value >= 2 ** (8 * maxBytes)) throw new RangeError(`${name} ${value}`);
  return { number, value: encodeUint(value) };
}

function text(diagnostic: string | undefined): Buffer {
  return diagnostic ? Buffer.from(diagnostic, 'utf8') : EMPTY;
}

/** Builds a 7.01 CSM (RFC 8323 §5.3); an option is only sent when given. */
export function buildCsm(opts: { maxMessageSize?: number; blockWiseTransfer?: boolean; token?: Buffer } = {}): CoapMessage {
  const options: CoapOption[] = [];
  if (opts.maxMessageSize !== undefined) options.push(uintOption(SignalOpt.MAX_MESSAGE_SIZE, opts.maxMessageSize, 4, 'Max-Message-Size'));
  if (opts.blockWiseTransfer) options.push({ number: SignalOpt.BLOCK_WISE_TRANSFER, value: EMPTY });
  return signal(SignalCode.CSM, options, EMPTY, opts.token);
}

function pingPong(code: number, opts: { custody?: boolean; token?: Buffer }): CoapMessage {
  const options: CoapOption[] = opts.custody ? [{ number: SignalOpt.CUSTODY, value: EMPTY }] : [];
  return signal(code, options, EMPTY, opts.token);
}

/** Builds a 7.02 Ping, optionally asking for Custody (RFC 8323 §5.4, §5.4.1). */
export function buildPing(opts: { custody?: boolean; token?: Buffer } = {}): CoapMessage {
  return pingPong(SignalCode.PING, opts);
}

/** Builds a 7.03 Pong; it carries the Ping's token (RFC 8323 §5.4). */
export function buildPong(opts: { custody?: boolean; token?: Buffer } = {}): CoapMessage {
  return pingPong(SignalCode.PONG, opts);
}

/** Builds a 7.04 Release with Alternative-Address, Hold-Off (seconds) and a diagnostic payload (RFC 8323 §5.5). */
export function buildRelease(
  opts: { alternativeAddresses?: readonly string[]; holdOff?: number; diagnostic?: string; token?: Buffer } = {},
): CoapMessage {
  const options: CoapOption[] = [];
  for (const a of opts.alternativeAddresses ?? []) {
    const value = Buffer.from(a, 'utf8');
    if (value.length < 1 || value.length > 255) throw new RangeError(`Alternative-Address of ${value.length} bytes`);
    options.push({ number: SignalOpt.ALTERNATIVE_ADDRESS, value });
  }
  if (opts.holdOff !== undefined) options.push(uintOption(SignalOpt.HOLD_OFF, opts.holdOff, 3, 'Hold-Off'));
  return signal(SignalCode.RELEASE, options, text(opts.diagnostic), opts.token);
}

/** Builds a 7.05 Abort with Bad-CSM-Option and a diagnostic payload (RFC 8323 §5.6). */
export function buildAbort(opts: { badCsmOption?: number; diagnostic?: string; token?: Buffer } = {}): CoapMessage {
  const options: CoapOption[] = [];
  if (opts.badCsmOption !== undefined) options.push(uintOption(SignalOpt.BAD_CSM_OPTION, opts.badCsmOption, 2, 'Bad-CSM-Option'));
  return signal(SignalCode.ABORT, options, text(opts.diagnostic), opts.token);
}

/** The Abort answering a framing error of the connection's byte stream (RFC 8323 §5.6, diagnostic payload only). */
export function abortForFrameError(err: TcpFrameError): CoapMessage {
  return buildAbort({ diagnostic: err.message });
}

/** What this endpoint announces in its own CSM. */
export interface LocalCapabilities {
  /** largest frame we accept (the frame reader's maxMessageSize) */
  maxMessageSize: number;
  blockWiseTransfer: boolean;
}

/** Per-connection signaling state of the server side (RFC 8323 §5.3); immutable, each step returns a new one. */
export interface CsmState {
  readonly local: LocalCapabilities;
  /** the peer's first CSM has arrived */
  readonly peerCsm: boolean;
  /** largest frame we may send: the peer's Max-Message-Size, clamped; 1152 until announced */
  readonly sendLimit: number;
  /** the peer announced Block-Wise-Transfer (capabilities are cumulative: a later CSM without it keeps it) */
  readonly peerBlockWise: boolean;
}

/** Initial state of a new connection (peer values at their base, RFC 8323 §5.3.1). */
export function createCsmState(local: LocalCapabilities): CsmState {
  const m = local.maxMessageSize;
  if (!Number.isInteger(m) || m < MIN_PEER_MAX_MESSAGE_SIZE || m > 0xffffffff) throw new RangeError(`maxMessageSize ${m}`);
  return { local: { ...local }, peerCsm: false, sendLimit: BASE_MAX_MESSAGE_SIZE, peerBlockWise: false };
}

/** Our CSM, the first message we send on the connection (RFC 8323 §3.3, §5.3). */
export function localCsm(state: CsmState): CoapMessage {
  return buildCsm({ maxMessageSize: state.local.maxMessageSize, blockWiseTransfer: state.local.blockWiseTransfer });
}

/** BERT may be used: both sides announced Block-Wise-Transfer with a Max-Message-Size above 1152 (RFC 8323 §5.3.2, §6). */
export function bertEnabled(state: CsmState): boolean {
  return (
    state.local.blockWiseTransfer &&
    state.local.maxMessageSize > BASE_MAX_MESSAGE_SIZE &&
    state.peerBlockWise &&
    state.sendLimit > BASE_MAX_MESSAGE_SIZE
  );
}

/** What the connection does with one received message. */
export type TcpAction =
  /** a request or response: hand it to the CoAP layer */
  | { kind: 'deliver' }
  /** nothing to do (an Empty message, an accepted CSM, an undefined 7.xx code) */
  | { kind: 'none' }
  /** send `message` (a Pong); when `afterPendingRequests`, once the requests received before the Ping are answered (§5.4.1) */
  | { kind: 'reply'; message: CoapMessage; afterPendingRequests: boolean }
  /** the peer answered one of our Pings */
  | { kind: 'pong'; token: Buffer; custody: boolean }
  /** the peer asks us to close: answer the requests received so far, then close (§5.5) */
  | { kind: 'release'; alternativeAddresses: string[]; holdOff?: number; diagnostic: string }
  /** send `message` (an Abort), then close this connection (§5.6) */
  | { kind: 'abort'; message: CoapMessage; reason: string }
  /** the peer aborted: close now without answering (§5.6) */
  | { kind: 'closed'; badCsmOption?: number; diagnostic: string };

function abort(state: CsmState, reason: string, badCsmOption?: number): { state: CsmState; action: TcpAction } {
  const opts: { diagnostic: string; badCsmOption?: number } = { diagnostic: reason };
  if (badCsmOption !== undefined) opts.badCsmOption = badCsmOption;
  return { state, action: { kind: 'abort', message: buildAbort(opts), reason } };
}

/**
 * One received message through the server side's signaling rules: the peer's CSM must come first
 * (§3.3; only Empty messages may precede it, §3.4), CSM values update the send limit and BERT (§5.3),
 * a Ping is answered with a Pong echoing token and Custody (§5.4), unknown critical signaling options
 * abort (§5.2), with Bad-CSM-Option in a CSM (§5.6).
 */
export function receiveMessage(state: CsmState, msg: CoapMessage): { state: CsmState; action: TcpAction } {
  // §3.4: Empty messages can always be sent and are ignored
  if (msg.code === 0) return { state, action: { kind: 'none' } };
  const sig = parseSignal(msg);
  if (sig?.kind === 'abort') {
    const action: TcpAction = { kind: 'closed', diagnostic: sig.diagnostic };
    if (sig.badCsmOption !== undefined) action.badCsmOption = sig.badCsmOption;
    return { state, action };
  }
  if (!state.peerCsm && sig?.kind !== 'csm') return abort(state, `expected CSM, got ${codeText(msg.code)}`);
  if (sig === undefined) return { state, action: { kind: 'deliver' } };
  switch (sig.kind) {
    case 'csm': {
      if (sig.badCsmOption !== undefined) return abort(state, `bad CSM option ${sig.badCsmOption}`, sig.badCsmOption);
      let sendLimit = state.sendLimit;
      if (sig.maxMessageSize !== undefined) {
        if (sig.maxMessageSize < MIN_PEER_MAX_MESSAGE_SIZE) {
          return abort(state, `Max-Message-Size ${sig.maxMessageSize} below ${MIN_PEER_MAX_MESSAGE_SIZE}`, SignalOpt.MAX_MESSAGE_SIZE);
        }
        sendLimit = Math.min(sig.maxMessageSize, MAX_PEER_MAX_MESSAGE_SIZE);
      }
      const next: CsmState = { ...state, peerCsm: true, sendLimit, peerBlockWise: state.peerBlockWise || sig.blockWiseTransfer };
      return { state: next, action: { kind: 'none' } };
    }
    default:
      break;
  }
  // §5.2: a critical option the receiver does not know aborts, also in a signaling code it does not know
  if (sig.unknownCritical.length > 0) {
    return abort(state, `unknown critical option ${sig.unknownCritical[0]} in ${codeText(msg.code)}`);
  }
  switch (sig.kind) {
    case 'unknown':
      return { state, action: { kind: 'none' } };
    case 'ping':
      return {
        state,
        action: { kind: 'reply', message: buildPong({ custody: sig.custody, token: sig.token }), afterPendingRequests: sig.custody },
      };
    case 'pong':
      return { state, action: { kind: 'pong', token: sig.token, custody: sig.custody } };
    case 'release': {
      const action: TcpAction = { kind: 'release', alternativeAddresses: sig.alternativeAddresses, diagnostic: sig.diagnostic };
      if (sig.holdOff !== undefined) action.holdOff = sig.holdOff;
      return { state, action };
    }
  }
}

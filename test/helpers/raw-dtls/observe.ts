// What the raw DTLS test client observes: one decoded record received from the server (alerts,
// handshake fragments, CoAP, the server Finished check), predicates over them, and a one-line summary
// per datagram for failure messages. Independent of src/.
import type { CoapMessage } from './coap.js';
import { HandshakeType, type HandshakeFragment } from './handshake.js';
import type { WireRecord } from './record.js';

/** An alert (RFC 5246 §7.2). */
export interface Alert {
  level: number;
  description: number;
}

/** One record received from the server, decoded as far as possible. */
export interface Received {
  /** ms since the client was opened */
  at: number;
  /** index of the datagram that carried it */
  datagram: number;
  record: WireRecord;
  /** content type (the real type of a decrypted tls12_cid record) */
  type: number;
  /** plaintext: the fragment of an epoch-0 record, the decrypted content of a protected one */
  content?: Buffer;
  /** protected record that authenticated with the server write key */
  decrypted: boolean;
  /** protected record that did not authenticate (or no keys yet) */
  undecryptable: boolean;
  alert?: Alert;
  handshake?: HandshakeFragment[];
  coap?: CoapMessage;
  /** set on a record holding the server Finished: its verify_data matched ours */
  finishedOk?: boolean;
}

/** Alert descriptions used by the tests (RFC 5246 §7.2.2, RFC 4279 §6). */
export const AlertCode = {
  CLOSE_NOTIFY: 0,
  UNEXPECTED_MESSAGE: 10,
  BAD_RECORD_MAC: 20,
  HANDSHAKE_FAILURE: 40,
  ILLEGAL_PARAMETER: 47,
  DECODE_ERROR: 50,
  DECRYPT_ERROR: 51,
  INTERNAL_ERROR: 80,
  UNKNOWN_PSK_IDENTITY: 115,
} as const;

/** Alert level fatal (RFC 5246 §7.2). */
export const FATAL = 2;

/** True if the record carries a handshake fragment of `msgType`. */
export function hasMessage(r: Received, msgType: number): boolean {
  return r.handshake?.some((f) => f.msgType === msgType) ?? false;
}

/** True for the server's Finished (epoch ≥ 1, decrypted). */
export function isServerFinished(r: Received): boolean {
  return r.decrypted && r.record.epoch > 0 && hasMessage(r, HandshakeType.FINISHED);
}

const TYPE_NAMES: Record<number, string> = { 20: 'CCS', 21: 'alert', 22: 'handshake', 23: 'appdata', 25: 'tls12_cid' };
const HS_NAMES: Record<number, string> = { 2: 'ServerHello', 3: 'HelloVerifyRequest', 14: 'ServerHelloDone', 20: 'Finished' };

/** One line per datagram, for failure messages and reports: "[e0#3 CCS, e1#0 Finished(ok)] [..]". */
export function summarize(records: readonly Received[]): string {
  if (records.length === 0) return 'silence';
  const byDatagram = new Map<number, string[]>();
  for (const r of records) {
    let what = TYPE_NAMES[r.type] ?? `type${r.type}`;
    if (r.alert) what = `alert(${r.alert.level === FATAL ? 'fatal' : 'warning'} ${r.alert.description})`;
    else if (r.handshake) what = r.handshake.map((f) => HS_NAMES[f.msgType] ?? `hs${f.msgType}`).join('+') + (r.finishedOk !== undefined ? `(${r.finishedOk ? 'ok' : 'BAD'})` : '');
    else if (r.coap) what = `coap ${r.coap.code}`;
    else if (r.undecryptable) what = `${what}(undecryptable)`;
    const list = byDatagram.get(r.datagram) ?? [];
    list.push(`e${r.record.epoch}#${r.record.seq} ${what}`);
    byDatagram.set(r.datagram, list);
  }
  return [...byDatagram.values()].map((l) => `[${l.join(', ')}]`).join(' ');
}

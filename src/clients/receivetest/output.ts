// What the receive test client prints for a response (clients.md §6).
import { Code, Format, Opt, codeName, codeText, type CoapMessage } from '../../coap/message.js';
import { decodeUint, getOption } from '../../coap/options.js';
import { encode } from '../../coap/codec.js';
import { optionsText, responseLines } from '../print.js';
import { CborError, cborDiagnostic, decodeCbor } from './cbor-diag.js';
import { HistoryFormatError, cborHistory, historyLines, jsonHistory, type HistoryItem } from './history.js';

/** Printed when no response arrived (timeout or reset). */
export const NO_RESPONSE = 'No response received.';

/** Head of a JSON/CBOR result: blank line, sizes, RTT, blank line. */
export function headLines(rawBytes: number, payloadBytes: number, rttMs: number): string[] {
  return ['', `Response: ${rawBytes} bytes, Payload: ${payloadBytes} bytes`, `RTT: ${rttMs}ms`, ''];
}

/** Lists the history if `verbose` and the layout fits (else undefined). */
function listing(decode: () => HistoryItem[]): string | undefined {
  try {
    const lines = historyLines(decode());
    return lines.length > 0 ? lines.join('\n') + '\n' : undefined;
  } catch (err) {
    if (err instanceof HistoryFormatError) return undefined;
    throw err;
  }
}

/** JSON payload: the history listing (verbose), else pretty printed JSON; invalid JSON as text. */
export function processJson(payload: Buffer, verbose: boolean): string {
  const text = payload.toString('utf8');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return text;
  }
  return (verbose ? listing(() => jsonHistory(value)) : undefined) ?? JSON.stringify(value, null, 2);
}

/** CBOR payload: the history listing (verbose), else diagnostic notation (ports masked); invalid CBOR as hex. */
export function processCbor(payload: Buffer, verbose: boolean): string {
  let item;
  try {
    item = decodeCbor(payload);
  } catch (err) {
    if (err instanceof CborError) return payload.toString('hex').toUpperCase();
    throw err;
  }
  const root = item;
  return (verbose ? listing(() => cborHistory(root)) : undefined) ?? cborDiagnostic(root, { maskPorts: true });
}

/** Code, options (Californium's JSON form) and the full response block of a response that is no JSON/CBOR/text result. */
export function otherResponseLines(msg: CoapMessage, rttMs?: number): string[] {
  return [`${codeText(msg.code)} ${codeName(msg.code)}`, optionsText(msg.options), '', 'ADVANCED', '', ...responseLines(msg, { rttMs })];
}

/** The complete output for a response that took `rttMs`; `rawBytes` defaults to the encoded message size. */
export function responseOutput(msg: CoapMessage, rttMs: number, verbose: boolean, rawBytes = encode(msg).length): string {
  const formatValue = getOption(msg, Opt.CONTENT_FORMAT);
  const format = formatValue ? decodeUint(formatValue) : undefined;
  const success = msg.code === Code.CHANGED || msg.code === Code.CONTENT;
  if (success && (format === Format.JSON || format === Format.CBOR)) {
    const body = format === Format.JSON ? processJson(msg.payload, verbose) : processCbor(msg.payload, verbose);
    return [...headLines(rawBytes, msg.payload.length, rttMs), body].join('\n') + '\n';
  }
  if (success && format === Format.TEXT) {
    const text = msg.payload.toString('utf8');
    return text.endsWith('\n') ? text : text + '\n';
  }
  return otherResponseLines(msg, rttMs).join('\n') + '\n';
}

// Shared helpers of the OSCORE message-level tests: plain CoAP messages and a client/server pair on the plugtest contexts.
import { CON, EMPTY, Opt, type CoapMessage, type CoapOption, type MessageType } from '../../src/coap/message.js';
import { getOption, getOptions } from '../../src/coap/options.js';
import { deriveContext, type SecurityContext } from '../../src/oscore/context.js';
import { createOscoreContextStore, plugtestClientContext, plugtestServerContext, type OscoreContextStore } from '../../src/oscore/store.js';

/** A plain request or response with Uri-Path segments and extra options (sorted). */
export function msg(p: { type?: MessageType; code: number; mid?: number; token?: Buffer; path?: string[]; options?: CoapOption[]; payload?: Buffer | string }): CoapMessage {
  const options: CoapOption[] = [...(p.options ?? [])];
  for (const seg of p.path ?? []) options.push({ number: Opt.URI_PATH, value: Buffer.from(seg, 'utf8') });
  const payload = typeof p.payload === 'string' ? Buffer.from(p.payload, 'utf8') : (p.payload ?? EMPTY);
  return { type: p.type ?? CON, code: p.code, mid: p.mid ?? 0x1234, token: p.token ?? Buffer.from('a1b2', 'hex'), options: options.sort((a, b) => a.number - b.number), payload };
}

/** A fresh server store with the plugtest context and the matching client context. */
export function plugtestPair(): { store: OscoreContextStore; client: SecurityContext } {
  return { store: createOscoreContextStore([plugtestServerContext()]), client: deriveContext(plugtestClientContext()) };
}

/** Option numbers of a message, in order. */
export function numbers(m: CoapMessage): number[] {
  return m.options.map((o) => o.number);
}

/** Text of an option value, or undefined. */
export function text(m: CoapMessage, number: number): string | undefined {
  return getOption(m, number)?.toString('utf8');
}

/** Uri-Path of a message as a string. */
export function path(m: CoapMessage): string {
  return getOptions(m, Opt.URI_PATH)
    .map((v) => v.toString('utf8'))
    .join('/');
}

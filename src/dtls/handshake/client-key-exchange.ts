// ClientKeyExchange forms: PSK identity (RFC 4279 §2), ECDHE public point (RFC 8422 §5.7,
// explicit form) and ECDHE_PSK = identity ‖ point (RFC 5489 §2).
import { type KeyExchangeForm } from './constants.js';
import { Reader, decodeWith } from './reader.js';
import { type DecodeResult } from './result.js';
import { vector16, vector8 } from './writer.js';

/** PSK: psk_identity<0..2^16-1>. */
export interface PskClientKeyExchange {
  form: 'psk';
  identity: Buffer;
}

/** ECDHE (certificate suites): ClientECDiffieHellmanPublic ecdh_Yc point<1..2^8-1>. */
export interface EcdheClientKeyExchange {
  form: 'ecdhe';
  publicKey: Buffer;
}

/** ECDHE_PSK: psk_identity<0..2^16-1> ‖ ecdh_Yc point<1..2^8-1>. */
export interface EcdhePskClientKeyExchange {
  form: 'ecdhe_psk';
  identity: Buffer;
  publicKey: Buffer;
}

/** Any ClientKeyExchange form. */
export type ClientKeyExchange = PskClientKeyExchange | EcdheClientKeyExchange | EcdhePskClientKeyExchange;

/** Encodes a ClientKeyExchange body. */
export function encodeClientKeyExchange(ckx: ClientKeyExchange): Buffer {
  switch (ckx.form) {
    case 'psk':
      return vector16(ckx.identity, 'psk_identity');
    case 'ecdhe':
      return vector8(ckx.publicKey, 'ecdh_Yc', 1);
    case 'ecdhe_psk':
      return Buffer.concat([vector16(ckx.identity, 'psk_identity'), vector8(ckx.publicKey, 'ecdh_Yc', 1)]);
  }
}

/** Decodes a ClientKeyExchange body in the form of the negotiated suite's key exchange. */
export function decodeClientKeyExchange(body: Buffer, form: KeyExchangeForm): DecodeResult<ClientKeyExchange> {
  return decodeWith((): ClientKeyExchange => {
    const r = new Reader(body);
    let ckx: ClientKeyExchange;
    switch (form) {
      case 'psk':
        ckx = { form, identity: r.vector16('psk_identity') };
        break;
      case 'ecdhe':
        ckx = { form, publicKey: r.vector8('ecdh_Yc', 1) };
        break;
      case 'ecdhe_psk': {
        const identity = r.vector16('psk_identity');
        ckx = { form, identity, publicKey: r.vector8('ecdh_Yc', 1) };
        break;
      }
    }
    r.end('ClientKeyExchange');
    return ckx;
  });
}

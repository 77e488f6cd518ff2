// ServerKeyExchange forms: signed ECDHE params (RFC 8422 §5.4), PSK identity hint (RFC 4279 §2)
// and ECDHE_PSK = hint ‖ ECDHE params (RFC 5489 §2).
import { type KeyExchangeForm } from './constants.js';
import { type EcdheParams, encodeEcdheParams, readEcdheParams } from './ecdhe-params.js';
import { Reader, decodeWith } from './reader.js';
import { type DecodeResult } from './result.js';
import { type DigitallySigned, encodeDigitallySigned, readDigitallySigned } from './signature-and-hash.js';
import { vector16 } from './writer.js';

/** ECDHE_ECDSA / ECDHE_RSA: params ‖ digitally-signed(client_random ‖ server_random ‖ params) (RFC 8422 §5.4). */
export interface EcdheServerKeyExchange {
  form: 'ecdhe';
  params: EcdheParams;
  signed: DigitallySigned;
}

/** PSK: psk_identity_hint<0..2^16-1> (RFC 4279 §2). */
export interface PskServerKeyExchange {
  form: 'psk';
  identityHint: Buffer;
}

/** ECDHE_PSK: psk_identity_hint<0..2^16-1> ‖ ServerECDHParams, unsigned (RFC 5489 §2). */
export interface EcdhePskServerKeyExchange {
  form: 'ecdhe_psk';
  identityHint: Buffer;
  params: EcdheParams;
}

/** Any ServerKeyExchange form. */
export type ServerKeyExchange = EcdheServerKeyExchange | PskServerKeyExchange | EcdhePskServerKeyExchange;

/** Encodes a ServerKeyExchange body. */
export function encodeServerKeyExchange(skx: ServerKeyExchange): Buffer {
  switch (skx.form) {
    case 'ecdhe':
      return Buffer.concat([encodeEcdheParams(skx.params), encodeDigitallySigned(skx.signed)]);
    case 'psk':
      return vector16(skx.identityHint, 'psk_identity_hint');
    case 'ecdhe_psk':
      return Buffer.concat([vector16(skx.identityHint, 'psk_identity_hint'), encodeEcdheParams(skx.params)]);
  }
}

/**
 * The bytes an ECDHE ServerKeyExchange signature covers: client_random ‖ server_random ‖ ServerECDHParams
 * (RFC 8422 §5.4).
 */
export function serverKeyExchangeSignedData(clientRandom: Buffer, serverRandom: Buffer, params: EcdheParams): Buffer {
  return Buffer.concat([clientRandom, serverRandom, encodeEcdheParams(params)]);
}

/** Decodes a ServerKeyExchange body in the form of the negotiated suite's key exchange. */
export function decodeServerKeyExchange(body: Buffer, form: KeyExchangeForm): DecodeResult<ServerKeyExchange> {
  return decodeWith((): ServerKeyExchange => {
    const r = new Reader(body);
    let skx: ServerKeyExchange;
    switch (form) {
      case 'ecdhe': {
        const params = readEcdheParams(r);
        skx = { form, params, signed: readDigitallySigned(r, 'signed_params') };
        break;
      }
      case 'psk':
        skx = { form, identityHint: r.vector16('psk_identity_hint') };
        break;
      case 'ecdhe_psk': {
        const identityHint = r.vector16('psk_identity_hint');
        skx = { form, identityHint, params: readEcdheParams(r) };
        break;
      }
    }
    r.end('ServerKeyExchange');
    return skx;
  });
}

// ServerECDHParams and ECPoint (RFC 8422 §5.4; RFC 4492 §5.4). Only named curves are accepted.
import { AlertDescription } from './alert.js';
import { EcCurveType } from './constants.js';
import { type Reader, failWith } from './reader.js';
import { u16, u8, vector8 } from './writer.js';

/** ServerECDHParams: named_curve ‖ ECPoint public (point<1..2^8-1>). */
export interface EcdheParams {
  /** named group code (NamedGroup) */
  namedGroup: number;
  /** public point / X25519/X448 key as sent on the wire */
  publicKey: Buffer;
}

/** Encodes ServerECDHParams: curve_type(3) ‖ namedcurve(2) ‖ point<1..2^8-1>; also the signed part of a ServerKeyExchange. */
export function encodeEcdheParams(params: EcdheParams): Buffer {
  return Buffer.concat([u8(EcCurveType.NAMED_CURVE), u16(params.namedGroup), vector8(params.publicKey, 'ECPoint', 1)]);
}

/** Reads ServerECDHParams; a curve type other than named_curve fails with illegal_parameter. */
export function readEcdheParams(r: Reader): EcdheParams {
  const curveType = r.u8('ECParameters.curve_type');
  if (curveType !== EcCurveType.NAMED_CURVE) {
    failWith(AlertDescription.ILLEGAL_PARAMETER, `ECParameters.curve_type ${curveType} is not named_curve`);
  }
  const namedGroup = r.u16('ECParameters.namedcurve');
  return { namedGroup, publicKey: r.vector8('ECPoint', 1) };
}

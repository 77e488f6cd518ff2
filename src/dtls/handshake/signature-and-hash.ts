// SignatureAndHashAlgorithm and digitally-signed structs (RFC 5246 §7.4.1.4.1, §4.7; RFC 8422 §5.1.3).
import { type Reader, malformed } from './reader.js';
import { u8, vector16 } from './writer.js';
import { HashAlgorithm, SignatureAlgorithm } from './constants.js';

/** One SignatureAndHashAlgorithm pair: hash(1) ‖ signature(1) on the wire. */
export interface SignatureAndHashAlgorithm {
  hash: number;
  signature: number;
}

/** A digitally-signed element: algorithm ‖ signature<0..2^16-1> (RFC 5246 §4.7, §7.4.1.4.1). */
export interface DigitallySigned {
  algorithm: SignatureAndHashAlgorithm;
  signature: Buffer;
}

/** ecdsa_secp256r1_sha256 (0x0403). */
export const ECDSA_SHA256: SignatureAndHashAlgorithm = { hash: HashAlgorithm.SHA256, signature: SignatureAlgorithm.ECDSA };
/** rsa_pkcs1_sha256 (0x0401). */
export const RSA_SHA256: SignatureAndHashAlgorithm = { hash: HashAlgorithm.SHA256, signature: SignatureAlgorithm.RSA };
/** ed25519 (0x0807, RFC 8422 §5.1.3). */
export const ED25519: SignatureAndHashAlgorithm = { hash: HashAlgorithm.INTRINSIC, signature: SignatureAlgorithm.ED25519 };

/** The pair as its uint16 code point (hash << 8 | signature). */
export function signatureAndHashCode(alg: SignatureAndHashAlgorithm): number {
  return (alg.hash << 8) | alg.signature;
}

/** Encodes one pair (2 bytes). */
export function encodeSignatureAndHash(alg: SignatureAndHashAlgorithm): Buffer {
  return Buffer.concat([u8(alg.hash), u8(alg.signature)]);
}

/** Encodes supported_signature_algorithms<2..2^16-2> (RFC 5246 §7.4.1.4.1). */
export function encodeSignatureAndHashList(algs: readonly SignatureAndHashAlgorithm[]): Buffer {
  return vector16(Buffer.concat(algs.map(encodeSignatureAndHash)), 'supported_signature_algorithms', 2, 0xfffe);
}

/** Encodes a digitally-signed element. */
export function encodeDigitallySigned(ds: DigitallySigned): Buffer {
  return Buffer.concat([encodeSignatureAndHash(ds.algorithm), vector16(ds.signature, 'signature')]);
}

/** Reads one pair. */
export function readSignatureAndHash(r: Reader, field: string): SignatureAndHashAlgorithm {
  const hash = r.u8(`${field}.hash`);
  return { hash, signature: r.u8(`${field}.signature`) };
}

/** Reads supported_signature_algorithms<2..2^16-2>; an odd length is a decode_error. */
export function readSignatureAndHashList(r: Reader, field: string): SignatureAndHashAlgorithm[] {
  const data = r.vector16(field, 2, 0xfffe);
  return parseSignatureAndHashList(data, field);
}

/** Parses the content of a supported_signature_algorithms vector (without the length prefix). */
export function parseSignatureAndHashList(data: Buffer, field: string): SignatureAndHashAlgorithm[] {
  if (data.length === 0 || data.length % 2 !== 0) malformed(`${field} length ${data.length} not a positive even number`);
  const out: SignatureAndHashAlgorithm[] = [];
  for (let i = 0; i < data.length; i += 2) out.push({ hash: data[i]!, signature: data[i + 1]! });
  return out;
}

/** Reads a digitally-signed element. */
export function readDigitallySigned(r: Reader, field: string): DigitallySigned {
  const algorithm = readSignatureAndHash(r, `${field}.algorithm`);
  return { algorithm, signature: r.vector16(`${field}.signature`) };
}

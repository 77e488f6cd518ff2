// CertificateVerify (RFC 5246 §7.4.8): digitally-signed over the handshake messages so far.
import { Reader, decodeWith } from './reader.js';
import { type DecodeResult } from './result.js';
import { type DigitallySigned, encodeDigitallySigned, readDigitallySigned } from './signature-and-hash.js';

/** CertificateVerify body: algorithm ‖ signature<0..2^16-1>. */
export type CertificateVerify = DigitallySigned;

/** Encodes a CertificateVerify body. */
export function encodeCertificateVerify(cv: CertificateVerify): Buffer {
  return encodeDigitallySigned(cv);
}

/** Decodes a CertificateVerify body. */
export function decodeCertificateVerify(body: Buffer): DecodeResult<CertificateVerify> {
  return decodeWith(() => {
    const r = new Reader(body);
    const cv = readDigitallySigned(r, 'CertificateVerify');
    r.end('CertificateVerify');
    return cv;
  });
}

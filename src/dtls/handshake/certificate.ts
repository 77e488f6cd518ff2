// Certificate message (RFC 5246 §7.4.2) in X.509 form and in the RFC 7250 §3 RawPublicKey form
// (one DER SubjectPublicKeyInfo). The negotiated certificate type selects the form.
import { AlertDescription } from './alert.js';
import { CertificateType } from './constants.js';
import { Reader, decodeWith, failWith } from './reader.js';
import { type DecodeResult } from './result.js';
import { u24, vector24 } from './writer.js';

/** X.509 form: certificate_list<0..2^24-1> of ASN.1Cert<1..2^24-1>, sender's certificate first. */
export interface X509CertificateMessage {
  certificateType: typeof CertificateType.X509;
  /** DER certificates; empty = no certificate (client without one) */
  chain: Buffer[];
}

/** RawPublicKey form: ASN.1_subjectPublicKeyInfo<1..2^24-1>; a zero length (as sent by a client without key) is `undefined`. */
export interface RawPublicKeyCertificateMessage {
  certificateType: typeof CertificateType.RAW_PUBLIC_KEY;
  /** DER SubjectPublicKeyInfo, or undefined for an empty Certificate */
  subjectPublicKeyInfo?: Buffer;
}

/** A Certificate message in either form. */
export type CertificateMessage = X509CertificateMessage | RawPublicKeyCertificateMessage;

/** Certificate type codes this codec understands. */
export type SupportedCertificateType = CertificateMessage['certificateType'];

/** Encodes a Certificate body. */
export function encodeCertificate(msg: CertificateMessage): Buffer {
  if (msg.certificateType === CertificateType.RAW_PUBLIC_KEY) {
    if (msg.subjectPublicKeyInfo === undefined) return u24(0);
    return vector24(msg.subjectPublicKeyInfo, 'ASN.1_subjectPublicKeyInfo', 1);
  }
  const list = Buffer.concat(msg.chain.map((c) => vector24(c, 'ASN.1Cert', 1)));
  return vector24(list, 'certificate_list');
}

/** Decodes a Certificate body of the negotiated certificate type (X.509 0 or RawPublicKey 2). */
export function decodeCertificate(body: Buffer, certificateType: number): DecodeResult<CertificateMessage> {
  return decodeWith((): CertificateMessage => {
    const r = new Reader(body);
    if (certificateType === CertificateType.RAW_PUBLIC_KEY) {
      const spki = r.vector24('ASN.1_subjectPublicKeyInfo');
      r.end('Certificate');
      return spki.length === 0
        ? { certificateType: CertificateType.RAW_PUBLIC_KEY }
        : { certificateType: CertificateType.RAW_PUBLIC_KEY, subjectPublicKeyInfo: spki };
    }
    if (certificateType !== CertificateType.X509) {
      failWith(AlertDescription.UNSUPPORTED_CERTIFICATE, `certificate type ${certificateType}`);
    }
    const list = new Reader(r.vector24('certificate_list'));
    r.end('Certificate');
    const chain: Buffer[] = [];
    while (list.remaining > 0) chain.push(list.vector24('ASN.1Cert', 1));
    return { certificateType: CertificateType.X509, chain };
  });
}

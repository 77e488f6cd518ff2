// CertificateRequest (RFC 5246 §7.4.4; certificate types from RFC 8422 §5.5).
import { Reader, decodeWith } from './reader.js';
import { type DecodeResult } from './result.js';
import {
  type SignatureAndHashAlgorithm,
  encodeSignatureAndHashList,
  readSignatureAndHashList,
} from './signature-and-hash.js';
import { u8List, vector16, vector8 } from './writer.js';

/** CertificateRequest fields. */
export interface CertificateRequest {
  /** ClientCertificateType codes, certificate_types<1..2^8-1> */
  certificateTypes: number[];
  /** supported_signature_algorithms<2..2^16-2> */
  supportedSignatureAlgorithms: SignatureAndHashAlgorithm[];
  /** DER DistinguishedNames, certificate_authorities<0..2^16-1> of DistinguishedName<1..2^16-1> */
  certificateAuthorities: Buffer[];
}

/** Encodes a CertificateRequest body. */
export function encodeCertificateRequest(cr: CertificateRequest): Buffer {
  return Buffer.concat([
    vector8(u8List(cr.certificateTypes, 'certificate_type'), 'certificate_types', 1),
    encodeSignatureAndHashList(cr.supportedSignatureAlgorithms),
    vector16(
      Buffer.concat(cr.certificateAuthorities.map((dn) => vector16(dn, 'DistinguishedName', 1))),
      'certificate_authorities',
    ),
  ]);
}

/** Decodes a CertificateRequest body. */
export function decodeCertificateRequest(body: Buffer): DecodeResult<CertificateRequest> {
  return decodeWith(() => {
    const r = new Reader(body);
    const certificateTypes = [...r.vector8('certificate_types', 1)];
    const supportedSignatureAlgorithms = readSignatureAndHashList(r, 'supported_signature_algorithms');
    const cas = r.sub16('certificate_authorities');
    r.end('CertificateRequest');
    const certificateAuthorities: Buffer[] = [];
    while (cas.remaining > 0) certificateAuthorities.push(cas.vector16('DistinguishedName', 1));
    return { certificateTypes, supportedSignatureAlgorithms, certificateAuthorities };
  });
}

// DTLS 1.2 / TLS 1.2 code points used by the handshake wire formats
// (RFC 5246 §6.2.1, §7.4, §A.4; RFC 6347 §4.1, §4.3.2; RFC 8422; RFC 7250; RFC 9146).

/** Record content types (RFC 5246 §6.2.1, RFC 9146 §4 for tls12_cid): one table, kept with the record codec. */
export { ContentType } from '../record.js';

/** Protocol versions as uint16 (RFC 6347 §4.1: DTLS 1.0 = {254,255}, DTLS 1.2 = {254,253}). */
export const ProtocolVersion = {
  DTLS_1_0: 0xfeff,
  DTLS_1_2: 0xfefd,
} as const;

/** Handshake message types (RFC 5246 §7.4, RFC 6347 §4.3.2 hello_verify_request). */
export const HandshakeType = {
  HELLO_REQUEST: 0,
  CLIENT_HELLO: 1,
  SERVER_HELLO: 2,
  HELLO_VERIFY_REQUEST: 3,
  CERTIFICATE: 11,
  SERVER_KEY_EXCHANGE: 12,
  CERTIFICATE_REQUEST: 13,
  SERVER_HELLO_DONE: 14,
  CERTIFICATE_VERIFY: 15,
  CLIENT_KEY_EXCHANGE: 16,
  FINISHED: 20,
} as const;

/** A handshake type code as defined in {@link HandshakeType}. */
export type HandshakeTypeCode = (typeof HandshakeType)[keyof typeof HandshakeType];

const HANDSHAKE_TYPE_NAMES = new Map<number, string>(
  Object.entries(HandshakeType).map(([name, code]) => [code, name.toLowerCase()]),
);

/** RFC name of a handshake type (`client_hello`, ...), or `unknown(<n>)`. */
export function handshakeTypeName(type: number): string {
  return HANDSHAKE_TYPE_NAMES.get(type) ?? `unknown(${type})`;
}

/** Hello extension types (RFC 6066, RFC 8422, RFC 5246 §7.4.1.4.1, RFC 7250, RFC 7627, RFC 8449, RFC 9146, RFC 5746). */
export const ExtensionType = {
  SERVER_NAME: 0,
  MAX_FRAGMENT_LENGTH: 1,
  SUPPORTED_GROUPS: 10,
  EC_POINT_FORMATS: 11,
  SIGNATURE_ALGORITHMS: 13,
  CLIENT_CERTIFICATE_TYPE: 19,
  SERVER_CERTIFICATE_TYPE: 20,
  EXTENDED_MASTER_SECRET: 23,
  RECORD_SIZE_LIMIT: 28,
  /** draft code point of connection_id; not accepted (kept as unknown extension) */
  CONNECTION_ID_DEPRECATED: 53,
  CONNECTION_ID: 54,
  RENEGOTIATION_INFO: 0xff01,
} as const;

/** Named groups (RFC 8422 §5.1.1, RFC 7919); the server's preference order is secp256r1, x25519, x448, secp384r1. */
export const NamedGroup = {
  SECP256R1: 23,
  SECP384R1: 24,
  SECP521R1: 25,
  X25519: 29,
  X448: 30,
} as const;

/** ECCurveType (RFC 8422 §5.4); only named_curve is allowed. */
export const EcCurveType = {
  NAMED_CURVE: 3,
} as const;

/** EC point formats (RFC 8422 §5.1.2); only uncompressed is used. */
export const EcPointFormat = {
  UNCOMPRESSED: 0,
} as const;

/** HashAlgorithm codes of SignatureAndHashAlgorithm (RFC 5246 §7.4.1.4.1, RFC 8422 §5.1.3 intrinsic). */
export const HashAlgorithm = {
  NONE: 0,
  MD5: 1,
  SHA1: 2,
  SHA224: 3,
  SHA256: 4,
  SHA384: 5,
  SHA512: 6,
  INTRINSIC: 8,
} as const;

/** SignatureAlgorithm codes of SignatureAndHashAlgorithm (RFC 5246 §7.4.1.4.1, RFC 8422 §5.1.3 ed25519/ed448). */
export const SignatureAlgorithm = {
  ANONYMOUS: 0,
  RSA: 1,
  DSA: 2,
  ECDSA: 3,
  ED25519: 7,
  ED448: 8,
} as const;

/** Certificate types of the client/server_certificate_type extensions (RFC 7250 §3, IANA TLS Certificate Types). */
export const CertificateType = {
  X509: 0,
  OPEN_PGP: 1,
  RAW_PUBLIC_KEY: 2,
} as const;

/** ClientCertificateType codes of CertificateRequest.certificate_types (RFC 5246 §7.4.4, RFC 8422 §5.5). */
export const ClientCertificateType = {
  RSA_SIGN: 1,
  DSS_SIGN: 2,
  RSA_FIXED_DH: 3,
  DSS_FIXED_DH: 4,
  ECDSA_SIGN: 64,
  RSA_FIXED_ECDH: 65,
  ECDSA_FIXED_ECDH: 66,
} as const;

/** Compression methods (RFC 5246 §7.4.1.2); only null is supported. */
export const CompressionMethod = {
  NULL: 0,
} as const;

/** TLS_EMPTY_RENEGOTIATION_INFO_SCSV signalling cipher suite value (RFC 5746 §3.3). */
export const TLS_EMPTY_RENEGOTIATION_INFO_SCSV = 0x00ff;

/** max_fragment_length codes → bytes (RFC 6066 §4): 1 → 512, 2 → 1024, 3 → 2048, 4 → 4096. */
export const MAX_FRAGMENT_LENGTH_BYTES: Readonly<Record<number, number>> = { 1: 512, 2: 1024, 3: 2048, 4: 4096 };

/** Length of Random (RFC 5246 §7.4.1.2). */
export const RANDOM_LENGTH = 32;
/** Maximum length of a session id (RFC 5246 §7.4.1.2: SessionID <0..32>). */
export const MAX_SESSION_ID_LENGTH = 32;
/** Maximum length of a cookie (RFC 6347 §4.2.1: opaque cookie<0..2^8-1>). */
export const MAX_COOKIE_LENGTH = 255;
/** Length of Finished.verify_data for every TLS 1.2 suite we use (RFC 5246 §7.4.9). */
export const VERIFY_DATA_LENGTH = 12;
/** Smallest record_size_limit value a peer may send (RFC 8449 §4). */
export const MIN_RECORD_SIZE_LIMIT = 64;
/** Default cap on a reassembled fragmented handshake message (DTLS.MAX_FRAGMENTED_HANDSHAKE_MESSAGE_LENGTH). */
export const DEFAULT_MAX_FRAGMENTED_HANDSHAKE_MESSAGE_LENGTH = 8192;

/**
 * Wire form of ServerKeyExchange / ClientKeyExchange for a cipher suite's key exchange:
 * `psk` (RFC 4279 §2), `ecdhe` (ECDHE_ECDSA / ECDHE_RSA, RFC 8422 §5.4, §5.7), `ecdhe_psk` (RFC 5489 §2).
 */
export type KeyExchangeForm = 'psk' | 'ecdhe' | 'ecdhe_psk';

// A DTLS session (RFC 5246 §7.3 "session state"): what a resumption reuses and what /mycontext shows.
// Plain data; serializable to JSON for the graceful restart (restart.md §1).
import { cipherSuiteByCode, type CipherSuite } from './cipher-suites.js';

/** Negotiated session parameters shared by all connections resumed from it. */
export interface Session {
  /** session id (32 bytes when the server issues ids, may be empty) */
  id: Buffer;
  cipherSuite: CipherSuite;
  /** 48-byte master secret */
  masterSecret: Buffer;
  /** PSK identity, X.509 subject DN (RFC 2253) or RPK `ni:///sha-256;…`; undefined = anonymous client */
  peerIdentity: string | undefined;
  /** RFC 7627 extended master secret was used */
  extendedMasterSecret: boolean;
  /** RFC 5746 indication negotiated */
  secureRenegotiation: boolean;
  /** creation time, ms (wall clock) */
  creationTime: number;
  /** peer's RFC 8449 record_size_limit (upper bound of record plaintext we send) */
  recordSizeLimit: number | undefined;
  /** negotiated RFC 6066 max_fragment_length in bytes */
  maxFragmentLength: number | undefined;
  /** certificate type codes (RFC 7250) we sent / received, certificate suites only */
  sendCertificateType: number | undefined;
  receiveCertificateType: number | undefined;
  /** ECDHE named group of the full handshake */
  namedGroup: number | undefined;
}

/** JSON form of a Session. */
export interface SessionJson {
  id: string;
  cipherSuite: number;
  masterSecret: string;
  peerIdentity: string | null;
  extendedMasterSecret: boolean;
  secureRenegotiation: boolean;
  creationTime: number;
  recordSizeLimit: number | null;
  maxFragmentLength: number | null;
  sendCertificateType: number | null;
  receiveCertificateType: number | null;
  namedGroup: number | null;
}

/**
 * A plain-object copy of a session (every field an own property): a connection's session may read its id and master
 * secret from its packed bytes through accessors, which an object spread would not copy.
 */
export function copySession(s: Session): Session {
  return {
    id: s.id,
    cipherSuite: s.cipherSuite,
    masterSecret: s.masterSecret,
    peerIdentity: s.peerIdentity,
    extendedMasterSecret: s.extendedMasterSecret,
    secureRenegotiation: s.secureRenegotiation,
    creationTime: s.creationTime,
    recordSizeLimit: s.recordSizeLimit,
    maxFragmentLength: s.maxFragmentLength,
    sendCertificateType: s.sendCertificateType,
    receiveCertificateType: s.receiveCertificateType,
    namedGroup: s.namedGroup,
  };
}

/** Upper bound of the plaintext per record we may send in this session (RFC 6066 §4, RFC 8449 §4). */
export function sessionRecordPlaintextLimit(session: Session): number {
  let limit = 16384;
  if (session.maxFragmentLength !== undefined && session.maxFragmentLength < limit) limit = session.maxFragmentLength;
  if (session.recordSizeLimit !== undefined && session.recordSizeLimit < limit) limit = session.recordSizeLimit;
  return limit;
}

/** Serializes a session (secrets as hex). */
export function sessionToJson(s: Session): SessionJson {
  return {
    id: s.id.toString('hex'),
    cipherSuite: s.cipherSuite.code,
    masterSecret: s.masterSecret.toString('hex'),
    peerIdentity: s.peerIdentity ?? null,
    extendedMasterSecret: s.extendedMasterSecret,
    secureRenegotiation: s.secureRenegotiation,
    creationTime: s.creationTime,
    recordSizeLimit: s.recordSizeLimit ?? null,
    maxFragmentLength: s.maxFragmentLength ?? null,
    sendCertificateType: s.sendCertificateType ?? null,
    receiveCertificateType: s.receiveCertificateType ?? null,
    namedGroup: s.namedGroup ?? null,
  };
}

/** Restores a session; throws on an unknown suite or malformed secret. */
export function sessionFromJson(j: SessionJson): Session {
  const suite = cipherSuiteByCode(j.cipherSuite);
  if (suite === undefined) throw new Error(`unknown cipher suite ${j.cipherSuite}`);
  const masterSecret = Buffer.from(j.masterSecret, 'hex');
  if (masterSecret.length !== 48) throw new Error('master secret must be 48 bytes');
  return {
    id: Buffer.from(j.id, 'hex'),
    cipherSuite: suite,
    masterSecret,
    peerIdentity: j.peerIdentity ?? undefined,
    extendedMasterSecret: j.extendedMasterSecret === true,
    secureRenegotiation: j.secureRenegotiation === true,
    creationTime: j.creationTime,
    recordSizeLimit: j.recordSizeLimit ?? undefined,
    maxFragmentLength: j.maxFragmentLength ?? undefined,
    sendCertificateType: j.sendCertificateType ?? undefined,
    receiveCertificateType: j.receiveCertificateType ?? undefined,
    namedGroup: j.namedGroup ?? undefined,
  };
}

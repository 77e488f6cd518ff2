// TLS of coaps+tcp (RFC 8323 §9): node:tls server options from the demo PKI, client certificate
// checks with the same rules as DTLS (--client-auth, --trust-all, dtls.md §4), and the session
// attributes shown by /mycontext.
import type { X509Certificate } from 'node:crypto';
import type { TlsOptions, TLSSocket } from 'node:tls';
import type { ClientAuthMode } from '../dtls/config.js';
import { validateCertificateChain, type ServerIdentity } from '../dtls/credentials/index.js';
import { readDer } from '../dtls/credentials/der.js';
import type { TlsSessionInfo } from '../transport/connector.js';

/** Longest client certificate chain looked at (leaf included). */
export const MAX_PEER_CHAIN_LENGTH = 10;

/** TLS settings of a coaps+tcp endpoint. */
export interface TlsServerSettings {
  /** server keys and chains (demo PKI); the first EC and the first RSA one are offered */
  identities: readonly ServerIdentity[];
  /** trusted certificates for client certificates (trust.pem); ignored with trustAll */
  trustAnchors: readonly X509Certificate[];
  /** NONE: no certificate asked; WANTED: asked, optional; NEEDED: required (TCP.CLIENT_AUTHENTICATION_MODE, --client-auth) */
  clientAuth: ClientAuthMode;
  /** accept any consistent client certificate chain instead of one to the trust anchors (--trust-all) */
  trustAll: boolean;
  /** ms for the TLS handshake (TCP.HANDSHAKE_TIMEOUT) */
  handshakeTimeout: number;
  /** ms a session can be resumed (TCP.SESSION_TIMEOUT) */
  sessionTimeout: number;
}

/**
 * node:tls server options: TLS 1.2 and 1.3, one EC and one RSA server chain, a certificate request
 * unless NONE. Only NEEDED without trust-all lets OpenSSL refuse in the handshake, and only a missing
 * certificate (SSL_VERIFY_FAIL_IF_NO_PEER_CERT: alert handshake_failure in TLS 1.2, certificate_required
 * in TLS 1.3). A certificate that does not verify is never refused by OpenSSL: Node's verify callback
 * accepts every chain and reports the result after the handshake, and node:tls cannot send an alert on an
 * established connection; so checkClientCertificate decides after the handshake, with the DTLS rules, and
 * a refused connection is closed without an alert.
 */
export function tlsServerOptions(s: TlsServerSettings): TlsOptions {
  const chosen: ServerIdentity[] = [];
  for (const alg of ['ec', 'rsa'] as const) {
    const id = s.identities.find((i) => i.keyAlgorithm === alg);
    if (id) chosen.push(id);
  }
  if (chosen.length === 0) throw new Error('TLS: no server identity (EC or RSA key with certificate chain)');
  const requestCert = s.clientAuth !== 'NONE';
  return {
    minVersion: 'TLSv1.2',
    maxVersion: 'TLSv1.3',
    key: chosen.map((i) => i.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string),
    cert: chosen.map((i) => i.chain.map((c) => c.toString()).join('')),
    ...(s.trustAnchors.length > 0 ? { ca: s.trustAnchors.map((c) => c.toString()) } : {}),
    requestCert,
    rejectUnauthorized: requestCert && s.clientAuth === 'NEEDED' && !s.trustAll,
    handshakeTimeout: s.handshakeTimeout,
    sessionTimeout: Math.max(1, Math.round(s.sessionTimeout / 1000)),
  };
}

/** The client's certificate chain, leaf first, as DER (empty without a certificate). */
export function peerCertificateChain(socket: TLSSocket): Buffer[] {
  const out: Buffer[] = [];
  let cert = socket.getPeerCertificate(true);
  while (cert && cert.raw !== undefined && out.length < MAX_PEER_CHAIN_LENGTH) {
    out.push(cert.raw);
    const issuer = cert.issuerCertificate;
    // the root refers to itself
    if (issuer === undefined || issuer === cert || issuer.raw === undefined || issuer.raw.equals(cert.raw)) break;
    cert = issuer;
  }
  return out;
}

/** Outcome of the client certificate check: the peer identity (RFC 2253 subject) or why it is refused. */
export type ClientCertificateCheck = { ok: true; peerIdentity?: string } | { ok: false; reason: string };

/**
 * Checks a handshaken socket's client certificate as DTLS does (dtls.md §4): none is fine unless
 * NEEDED; one that is present must validate (to the trust anchors, or consistently with trust-all).
 */
export function checkClientCertificate(socket: TLSSocket, s: TlsServerSettings): ClientCertificateCheck {
  if (s.clientAuth === 'NONE') return { ok: true };
  const chain = peerCertificateChain(socket);
  if (chain.length === 0) return s.clientAuth === 'NEEDED' ? { ok: false, reason: 'no client certificate' } : { ok: true };
  const result = validateCertificateChain(chain, { trustAnchors: s.trustAnchors, trustAll: s.trustAll, usage: 'client' });
  return result.ok ? { ok: true, peerIdentity: result.subject } : { ok: false, reason: result.message };
}

/** Session id from the DER SSL_SESSION (OpenSSL ssl_asn1.c: version, ssl_version, cipher, session_id, ...); empty if unreadable. */
export function sessionIdOf(session: Buffer | undefined): Buffer {
  if (session === undefined) return Buffer.alloc(0);
  try {
    const seq = readDer(session);
    if (seq.tag !== 0x30) return Buffer.alloc(0);
    let offset = 0;
    let el = readDer(seq.value, offset);
    for (let i = 0; i < 3; i++) {
      offset = el.end;
      el = readDer(seq.value, offset);
    }
    return el.tag === 0x04 ? Buffer.from(el.value) : Buffer.alloc(0);
  } catch {
    return Buffer.alloc(0);
  }
}

/**
 * Session attributes of a handshaken socket for EndpointContext.tls, read once when the handshake completed: a fresh
 * session with tickets (TLS 1.2) or of TLS 1.3 has an empty id; /mycontext then shows `TIME:<sessionTime>` as DTLS
 * does (resources.md §2.7), stable for the connection.
 */
export function tlsSessionInfo(socket: TLSSocket, peerIdentity: string | undefined, now = Date.now()): TlsSessionInfo {
  const cipher = socket.getCipher();
  const info: TlsSessionInfo = {
    cipherSuite: cipher.standardName ?? cipher.name,
    protocol: socket.getProtocol() ?? cipher.version,
    sessionId: sessionIdOf(socket.getSession()),
    sessionTime: now,
    resumed: socket.isSessionReused(),
  };
  if (peerIdentity !== undefined) info.peerIdentity = peerIdentity;
  return info;
}

// Validation of a peer's X.509 certificate chain (dtls.md §4; RFC 5246 §7.4.2/§7.4.6, RFC 5280 §6
// simplified): truncate at the first certificate issued by a trust anchor, then check names,
// signatures, CA flags, key usage, path length and validity dates.
import { X509Certificate, type KeyObject } from 'node:crypto';
import { EKU_CLIENT_AUTH, EKU_SERVER_AUTH, parseCertificateInfo, type CertificateInfo } from './x509-info.js';

/** Why a chain was rejected. */
export type ChainFailureReason =
  | 'empty-chain'
  | 'malformed'
  | 'broken-chain'
  | 'bad-signature'
  | 'issuer-not-ca'
  | 'path-length'
  | 'key-usage'
  | 'unsupported-critical-extension'
  | 'expired'
  | 'not-yet-valid'
  | 'untrusted';

/** Fatal alert the handshake should send for a failure (RFC 5246 §7.2.2). */
export type CertificateAlert = 'bad_certificate' | 'unknown_ca' | 'certificate_expired';

/** Outcome of validateCertificateChain. */
export type ChainValidationResult =
  | {
      ok: true;
      /** RFC 2253 subject of the leaf: the peer identity shown by /mycontext */
      subject: string;
      leaf: X509Certificate;
      publicKey: KeyObject;
      /** the validated (possibly truncated) path, leaf first */
      path: X509Certificate[];
      /** the trust anchor used (the chain's last certificate with trustAll) */
      anchor?: X509Certificate;
    }
  | { ok: false; reason: ChainFailureReason; alert: CertificateAlert; message: string };

/** Inputs besides the chain. */
export interface ChainValidationOptions {
  /** trusted certificates (roots and CAs); ignored with trustAll */
  trustAnchors: readonly X509Certificate[];
  /** accept any chain whose signatures, CA flags and dates are consistent (`--trust-all`) */
  trustAll?: boolean;
  /** intended use of the leaf: checks KU digitalSignature and EKU client/serverAuth when present */
  usage?: 'client' | 'server';
  /** validation time, default now */
  now?: Date | number;
}

interface Parsed {
  cert: X509Certificate;
  info: CertificateInfo;
}

const ALERTS: Record<ChainFailureReason, CertificateAlert> = {
  'empty-chain': 'bad_certificate',
  malformed: 'bad_certificate',
  'broken-chain': 'bad_certificate',
  'bad-signature': 'bad_certificate',
  'issuer-not-ca': 'bad_certificate',
  'path-length': 'bad_certificate',
  'key-usage': 'bad_certificate',
  'unsupported-critical-extension': 'bad_certificate',
  expired: 'certificate_expired',
  'not-yet-valid': 'certificate_expired',
  untrusted: 'unknown_ca',
};

function failure(reason: ChainFailureReason, message: string): ChainValidationResult {
  return { ok: false, reason, alert: ALERTS[reason], message };
}

const parseCache = new WeakMap<X509Certificate, CertificateInfo>();

/** Parsed extra fields of a certificate (cached per X509Certificate object). */
export function certificateInfo(cert: X509Certificate): CertificateInfo {
  let info = parseCache.get(cert);
  if (!info) {
    info = parseCertificateInfo(cert.raw);
    parseCache.set(cert, info);
  }
  return info;
}

function isSelfIssued(p: Parsed): boolean {
  return p.info.subjectDer.equals(p.info.issuerDer);
}

/** Validates a peer chain (leaf first, as received in a Certificate message). */
export function validateCertificateChain(
  chain: readonly (Buffer | X509Certificate)[],
  options: ChainValidationOptions,
): ChainValidationResult {
  if (chain.length === 0) return failure('empty-chain', 'empty certificate chain');
  const now = options.now === undefined ? Date.now() : +options.now;
  let parsed: Parsed[];
  try {
    parsed = chain.map((c) => {
      const cert = c instanceof X509Certificate ? c : new X509Certificate(c);
      return { cert, info: certificateInfo(cert) };
    });
  } catch (err) {
    return failure('malformed', `certificate not parseable: ${(err as Error).message}`);
  }
  const leaf = parsed[0]!;

  if (options.usage !== undefined) {
    const usageError = checkLeafUsage(leaf.info, options.usage);
    if (usageError) return failure('key-usage', usageError);
  }

  // shape: each certificate must be issued by the next; a self-signed one only at the end
  for (let i = 0; i < parsed.length; i++) {
    const p = parsed[i]!;
    const next = parsed[i + 1];
    if (next && !p.info.issuerDer.equals(next.info.subjectDer)) {
      return failure('broken-chain', `${p.info.subject} is not issued by ${next.info.subject}`);
    }
    if (next && isSelfIssued(p)) {
      return failure('broken-chain', `self-signed ${p.info.subject} is not the last certificate`);
    }
  }

  let path: Parsed[];
  let anchor: Parsed | undefined;
  if (options.trustAll) {
    // as Californium: the chain's last certificate acts as trust anchor
    const last = parsed[parsed.length - 1]!;
    if (parsed.length === 1 && !isSelfIssued(last)) {
      const dateError = checkDates(parsed, now);
      if (dateError) return dateError;
      return success(parsed, undefined);
    }
    anchor = last;
    path = parsed.length === 1 ? parsed : parsed.slice(0, -1);
    const dateError = checkDates([anchor], now); // the anchor is part of what the peer sent
    if (dateError) return dateError;
  } else {
    // truncate at the first certificate whose issuer is a trust anchor (dtls.md §4)
    let cut = -1;
    let candidates: Parsed[] = [];
    for (let i = 0; i < parsed.length && cut < 0; i++) {
      const issuerDer = parsed[i]!.info.issuerDer;
      candidates = [];
      for (const t of options.trustAnchors) {
        const info = certificateInfo(t);
        if (info.subjectDer.equals(issuerDer)) candidates.push({ cert: t, info });
      }
      if (candidates.length > 0) cut = i;
    }
    if (cut < 0) return failure('untrusted', `no trust anchor for ${parsed[parsed.length - 1]!.info.issuer}`);
    path = parsed.slice(0, cut + 1);
    const issued = path[path.length - 1]!;
    anchor = candidates.find((c) => safeVerify(issued.cert, c.cert.publicKey)) ?? candidates[0]!;
  }

  const pathError = checkPath(path, anchor, now);
  if (pathError) return pathError;
  return success(path, anchor);
}

function success(path: Parsed[], anchor: Parsed | undefined): ChainValidationResult {
  const leaf = path[0]!;
  return {
    ok: true,
    subject: leaf.info.subject,
    leaf: leaf.cert,
    publicKey: leaf.cert.publicKey,
    path: path.map((p) => p.cert),
    ...(anchor ? { anchor: anchor.cert } : {}),
  };
}

function safeVerify(cert: X509Certificate, key: KeyObject): boolean {
  try {
    return cert.verify(key);
  } catch {
    return false;
  }
}

// CertPathUtil.canBeUsedForAuthentication: KU must allow digitalSignature, EKU (if any) the role.
function checkLeafUsage(info: CertificateInfo, usage: 'client' | 'server'): string | undefined {
  if (info.keyUsage && !info.keyUsage.has('digitalSignature')) {
    return `${info.subject}: key usage lacks digitalSignature`;
  }
  const wanted = usage === 'client' ? EKU_CLIENT_AUTH : EKU_SERVER_AUTH;
  if (info.extendedKeyUsage && info.extendedKeyUsage.length > 0 && !info.extendedKeyUsage.includes(wanted)) {
    return `${info.subject}: extended key usage lacks ${usage}Auth`;
  }
  return undefined;
}

function checkDates(certs: readonly Parsed[], now: number): ChainValidationResult | undefined {
  for (const p of certs) {
    if (now < p.info.notBefore.getTime()) {
      return failure('not-yet-valid', `${p.info.subject} not valid before ${p.info.notBefore.toISOString()}`);
    }
    if (now > p.info.notAfter.getTime()) {
      return failure('expired', `${p.info.subject} expired ${p.info.notAfter.toISOString()}`);
    }
  }
  return undefined;
}

// RFC 5280 §6.1.3/§6.1.4 essentials for path[0..n-1] with `anchor` issuing path[n-1].
function checkPath(path: readonly Parsed[], anchor: Parsed, now: number): ChainValidationResult | undefined {
  for (const p of path) {
    if (p.info.unknownCriticalExtensions.length > 0) {
      return failure(
        'unsupported-critical-extension',
        `${p.info.subject}: unsupported critical extension ${p.info.unknownCriticalExtensions.join(', ')}`,
      );
    }
  }
  const dateError = checkDates(path, now);
  if (dateError) return dateError;
  for (let i = 0; i < path.length; i++) {
    const subject = path[i]!;
    const issuer = path[i + 1] ?? anchor;
    const selfSigned = issuer === subject;
    if (!selfSigned) {
      if (!issuer.info.basicConstraints?.ca) {
        return failure('issuer-not-ca', `issuer ${issuer.info.subject} is not a CA`);
      }
      if (issuer.info.keyUsage && !issuer.info.keyUsage.has('keyCertSign')) {
        return failure('key-usage', `issuer ${issuer.info.subject} lacks keyCertSign`);
      }
      // intermediates between this issuer and the leaf (self-issued ones do not count)
      const below = path.slice(1, i + 1).filter((p) => !isSelfIssued(p)).length;
      const limit = issuer.info.basicConstraints.pathLength;
      if (issuer !== anchor && limit !== undefined && below > limit) {
        return failure('path-length', `${issuer.info.subject}: path length ${below} exceeds ${limit}`);
      }
    }
    if (!safeVerify(subject.cert, issuer.cert.publicKey)) {
      return failure('bad-signature', `signature of ${subject.info.subject} does not verify with ${issuer.info.subject}`);
    }
    if (!selfSigned && !subject.cert.checkIssued(issuer.cert)) {
      return failure('broken-chain', `${subject.info.subject} is not issued by ${issuer.info.subject}`);
    }
  }
  return undefined;
}

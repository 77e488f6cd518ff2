// ECDHE key agreement for the ECDHE_ECDSA / ECDHE_RSA / ECDHE_PSK suites (RFC 8422 §5.4, §5.7, §5.10;
// RFC 7748 §6 for X25519/X448).
import {
  createECDH,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  type ECDH,
  type KeyObject,
} from 'node:crypto';

/** NamedGroup code points supported (RFC 8422 §5.1.1, IANA TLS Supported Groups). */
export const NamedGroup = { secp256r1: 23, secp384r1: 24, x25519: 29, x448: 30 } as const;

/** One of the supported NamedGroup values. */
export type NamedGroupId = (typeof NamedGroup)[keyof typeof NamedGroup];

/** Server preference order (dtls.md §2). */
export const SUPPORTED_GROUPS_PREFERENCE: readonly NamedGroupId[] = [
  NamedGroup.secp256r1,
  NamedGroup.x25519,
  NamedGroup.x448,
  NamedGroup.secp384r1,
];

/** An ephemeral key pair; `publicPoint` is the ECPoint/key exchange value as sent on the wire. */
export interface EcdheKeyPair {
  group: NamedGroupId;
  /** NIST curves: uncompressed point 0x04‖X‖Y; X25519/X448: the raw 32/56-byte u-coordinate */
  publicPoint: Buffer;
  /** opaque private part: ECDH object (NIST curves) or KeyObject (X25519/X448) */
  privateKey: ECDH | KeyObject;
}

/** Outcome of a key agreement: the premaster secret (RFC 8422 §5.10) or why the peer value is bad. */
export type EcdheResult = { ok: true; premasterSecret: Buffer } | { ok: false; reason: string };

interface GroupInfo {
  kind: 'nist' | 'ecx';
  /** OpenSSL curve name (createECDH) or key type (generateKeyPair) */
  name: string;
  /** JWK crv for X25519/X448 */
  crv: string;
  /** byte length of the public value on the wire */
  publicLength: number;
}

const GROUPS: Record<NamedGroupId, GroupInfo> = {
  23: { kind: 'nist', name: 'prime256v1', crv: 'P-256', publicLength: 65 },
  24: { kind: 'nist', name: 'secp384r1', crv: 'P-384', publicLength: 97 },
  29: { kind: 'ecx', name: 'x25519', crv: 'X25519', publicLength: 32 },
  30: { kind: 'ecx', name: 'x448', crv: 'X448', publicLength: 56 },
};

/** True for the four groups above. */
export function isSupportedGroup(group: number): group is NamedGroupId {
  return Object.prototype.hasOwnProperty.call(GROUPS, group);
}

/** First group of the server preference the client offered; secp256r1 if the client sent no list. */
export function selectGroup(clientGroups: readonly number[] | undefined): NamedGroupId | undefined {
  if (clientGroups === undefined) return NamedGroup.secp256r1;
  return SUPPORTED_GROUPS_PREFERENCE.find((g) => clientGroups.includes(g));
}

/** NamedGroup of an EC KeyObject's curve (certificate keys), undefined if not supported. */
export function namedGroupOfKey(key: KeyObject): NamedGroupId | undefined {
  switch (key.asymmetricKeyDetails?.namedCurve) {
    case 'prime256v1':
      return NamedGroup.secp256r1;
    case 'secp384r1':
      return NamedGroup.secp384r1;
    default:
      return undefined;
  }
}

/** Generates an ephemeral key pair; throws for an unsupported group. */
export function generateEcdheKeyPair(group: NamedGroupId): EcdheKeyPair {
  const info = GROUPS[group];
  if (!info) throw new Error(`unsupported named group ${group}`);
  if (info.kind === 'nist') {
    const ecdh = createECDH(info.name);
    const publicPoint = ecdh.generateKeys(); // uncompressed by default
    return { group, publicPoint, privateKey: ecdh };
  }
  const { privateKey, publicKey } = generateKeyPairSync(info.name as 'x25519');
  const x = publicKey.export({ format: 'jwk' }).x;
  return { group, publicPoint: Buffer.from(x ?? '', 'base64url'), privateKey };
}

/** Checks the peer's public value (format and curve membership) and computes the premaster secret. */
export function computePremasterSecret(pair: EcdheKeyPair, peerPoint: Buffer): EcdheResult {
  const info = GROUPS[pair.group];
  if (peerPoint.length !== info.publicLength) {
    return { ok: false, reason: `public value length ${peerPoint.length}, expected ${info.publicLength}` };
  }
  try {
    let secret: Buffer;
    if (info.kind === 'nist') {
      // RFC 8422 §5.4.1: only the uncompressed format (not compressed, not hybrid) is allowed
      if (peerPoint[0] !== 0x04) return { ok: false, reason: 'point not in uncompressed format' };
      secret = (pair.privateKey as ECDH).computeSecret(peerPoint); // rejects points not on the curve
    } else {
      const peerKey = createPublicKey({
        key: { kty: 'OKP', crv: info.crv, x: peerPoint.toString('base64url') },
        format: 'jwk',
      });
      secret = diffieHellman({ privateKey: pair.privateKey as KeyObject, publicKey: peerKey });
    }
    // RFC 7748 §6.1 / RFC 8422 §5.11: an all-zero result means a low-order point (OpenSSL already
    // refuses to derive it; kept as a guard independent of the provider)
    let bits = 0;
    for (let i = 0; i < secret.length; i++) bits |= secret[i]!;
    if (bits === 0) return { ok: false, reason: 'all-zero shared secret' };
    return { ok: true, premasterSecret: secret };
  } catch (err) {
    return { ok: false, reason: `invalid public value: ${(err as Error).message}` };
  }
}

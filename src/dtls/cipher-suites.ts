// DTLS 1.2 cipher suite table (dtls.md §2; RFC 6655, RFC 7251, RFC 5487, RFC 5489, RFC 8442, RFC 5289).

/** Key exchange algorithm of a cipher suite. */
export type KeyExchange = 'PSK' | 'ECDHE_PSK' | 'ECDHE_ECDSA' | 'ECDHE_RSA';

/** Record protection kind: AEAD AES-CCM with 8- or 16-byte tag, AES-GCM, or AES-CBC + HMAC-SHA256. */
export type CipherKind = 'CCM_8' | 'CCM' | 'GCM' | 'CBC_SHA256';

/** Static parameters of one cipher suite; all use the TLS 1.2 PRF with SHA-256. */
export interface CipherSuite {
  /** IANA code point */
  readonly code: number;
  /** IANA name, e.g. TLS_PSK_WITH_AES_128_CCM_8 */
  readonly name: string;
  readonly keyExchange: KeyExchange;
  readonly cipher: CipherKind;
  /** true for AEAD kinds (CCM_8, CCM, GCM) */
  readonly aead: boolean;
  /** true when the key exchange uses a PSK (PSK, ECDHE_PSK) */
  readonly psk: boolean;
  /** true when the server authenticates with a certificate/RPK (ECDHE_ECDSA, ECDHE_RSA) */
  readonly certificate: boolean;
  /** node:crypto cipher name */
  readonly algorithm: 'aes-128-ccm' | 'aes-128-gcm' | 'aes-128-cbc';
  /** write key length (RFC 5246 §6.3 enc_key_length) */
  readonly encKeyLength: number;
  /** fixed (implicit) IV length from the key block: 4 for AEAD, 0 for CBC (RFC 5246 §6.3) */
  readonly fixedIvLength: number;
  /** explicit per-record IV/nonce length: 8 for AEAD, 16 for CBC */
  readonly recordIvLength: number;
  /** MAC key length (32 for CBC_SHA256, 0 for AEAD) */
  readonly macKeyLength: number;
  /** MAC output length (32 for CBC_SHA256, 0 for AEAD) */
  readonly macLength: number;
  /** AEAD tag length (8 for CCM_8, 16 for CCM/GCM, 0 for CBC) */
  readonly tagLength: number;
  /** maximum ciphertext expansion per record for the message-size limit (dtls.md §2/§9) */
  readonly maxExpansion: number;
  /** true for the ten suites of dtls.md §2 (false for the extra CCM suites) */
  readonly preselected: boolean;
}

function suite(code: number, name: string, keyExchange: KeyExchange, cipher: CipherKind, preselected: boolean): CipherSuite {
  const aead = cipher !== 'CBC_SHA256';
  const tagLength = cipher === 'CCM_8' ? 8 : aead ? 16 : 0;
  return Object.freeze({
    code,
    name,
    keyExchange,
    cipher,
    aead,
    psk: keyExchange === 'PSK' || keyExchange === 'ECDHE_PSK',
    certificate: keyExchange === 'ECDHE_ECDSA' || keyExchange === 'ECDHE_RSA',
    algorithm: cipher === 'GCM' ? 'aes-128-gcm' : aead ? 'aes-128-ccm' : 'aes-128-cbc',
    encKeyLength: 16,
    fixedIvLength: aead ? 4 : 0,
    recordIvLength: aead ? 8 : 16,
    macKeyLength: aead ? 0 : 32,
    macLength: aead ? 0 : 32,
    tagLength,
    // AEAD: explicit nonce + tag; CBC: IV + MAC + max padding (16) + padding length byte
    maxExpansion: aead ? 8 + tagLength : 16 + 32 + 16 + 1,
    preselected,
  } as const);
}

/** The ten suites of dtls.md §2 in the configured (DTLS.PRESELECTED_CIPHER_SUITES) order. */
export const PRESELECTED_CIPHER_SUITES: readonly CipherSuite[] = Object.freeze([
  suite(0xc0a8, 'TLS_PSK_WITH_AES_128_CCM_8', 'PSK', 'CCM_8', true),
  suite(0xd003, 'TLS_ECDHE_PSK_WITH_AES_128_CCM_8_SHA256', 'ECDHE_PSK', 'CCM_8', true),
  suite(0xc0ae, 'TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8', 'ECDHE_ECDSA', 'CCM_8', true),
  suite(0x00ae, 'TLS_PSK_WITH_AES_128_CBC_SHA256', 'PSK', 'CBC_SHA256', true),
  suite(0xc037, 'TLS_ECDHE_PSK_WITH_AES_128_CBC_SHA256', 'ECDHE_PSK', 'CBC_SHA256', true),
  suite(0xc023, 'TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256', 'ECDHE_ECDSA', 'CBC_SHA256', true),
  suite(0x00a8, 'TLS_PSK_WITH_AES_128_GCM_SHA256', 'PSK', 'GCM', true),
  suite(0xc02b, 'TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256', 'ECDHE_ECDSA', 'GCM', true),
  suite(0xc02f, 'TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256', 'ECDHE_RSA', 'GCM', true),
  suite(0xc027, 'TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256', 'ECDHE_RSA', 'CBC_SHA256', true),
]);

/** Extra suites with 16-byte CCM tags (offered by node-dtls-client), appended after the preselected ones. */
export const EXTRA_CIPHER_SUITES: readonly CipherSuite[] = Object.freeze([
  suite(0xc0a4, 'TLS_PSK_WITH_AES_128_CCM', 'PSK', 'CCM', false),
  suite(0xc0ac, 'TLS_ECDHE_ECDSA_WITH_AES_128_CCM', 'ECDHE_ECDSA', 'CCM', false),
]);

/** Every suite the record layer supports (preselected first, then the extras). */
export const ALL_CIPHER_SUITES: readonly CipherSuite[] = Object.freeze([
  ...PRESELECTED_CIPHER_SUITES,
  ...EXTRA_CIPHER_SUITES,
]);

const BY_CODE = new Map<number, CipherSuite>(ALL_CIPHER_SUITES.map((s) => [s.code, s]));
const BY_NAME = new Map<string, CipherSuite>(ALL_CIPHER_SUITES.map((s) => [s.name, s]));

/** Suite for an IANA code point, undefined if unsupported. */
export function cipherSuiteByCode(code: number): CipherSuite | undefined {
  return BY_CODE.get(code);
}

/** Suite for an IANA name (exact, case-sensitive), undefined if unsupported. */
export function cipherSuiteByName(name: string): CipherSuite | undefined {
  return BY_NAME.get(name);
}

// PSK credential lookup (dtls.md §3): --psk-file entries, built-ins, wildcard rules, in that order.

/** Resolves a PSK identity to its secret. */
export interface PskStore {
  /** Secret for an identity (exact, case-sensitive match), undefined if unknown. */
  lookup(identity: string): Buffer | undefined;
}

/** Identity the server would present as PSK client (not used in normal operation). */
export const PSK_CLIENT_IDENTITY = 'cali.sandbox';

/** Built-in entries: ETSI plugtest and OpenSSL default identities. */
export const BUILTIN_PSK_ENTRIES: ReadonlyMap<string, string> = new Map([
  ['password', 'sesame'],
  ['Client_identity', 'secretPSK'],
]);

/** Prefix of the benchmark / receive-test identities, secret `.fornium`. */
export const CALI_PREFIX = 'cali.';

// Hono style `device@tenant`, both parts at least 8 characters. `.` excludes the line terminators
// java.util.regex excludes, so Java's Pattern.matches and this agree.
const HONO_PATTERN = /^[^@]{8,}@[^\n\r\u0085\u2028\u2029]{8,}$/;

const CALI_SECRET = Buffer.from('.fornium', 'ascii');
const HONO_SECRET = Buffer.from('secret', 'ascii');

/** Creates the store; `entries` are the --psk-file entries (checked first). */
export function createPskStore(entries?: ReadonlyMap<string, Buffer>): PskStore {
  const builtins = new Map([...BUILTIN_PSK_ENTRIES].map(([id, secret]) => [id, Buffer.from(secret, 'utf8')]));
  return {
    lookup(identity: string): Buffer | undefined {
      const secret =
        entries?.get(identity) ??
        builtins.get(identity) ??
        (identity.startsWith(CALI_PREFIX) ? CALI_SECRET : HONO_PATTERN.test(identity) ? HONO_SECRET : undefined);
      // callers get their own copy: secrets must not be modified through the store
      return secret === undefined ? undefined : Buffer.from(secret);
    },
  };
}

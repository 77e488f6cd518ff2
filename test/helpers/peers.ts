// Finding third-party peers (libcoap's coap-client, tshark, openssl, redis-server) for interop and store tests.
// Locally a missing tool skips the test with a visible reason; in CI (CI=true) it is a failure.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

/** Third-party tools the interop tests use. */
export type PeerName = 'coap-client-notls' | 'coap-client-openssl' | 'coap-client-gnutls' | 'tshark' | 'openssl' | 'redis-server';

/** Debian package that provides each tool (for the messages). */
const PACKAGE_OF: Record<PeerName, string> = {
  'coap-client-notls': 'libcoap3-bin',
  'coap-client-openssl': 'libcoap3-bin',
  'coap-client-gnutls': 'libcoap3-bin',
  tshark: 'tshark',
  openssl: 'openssl',
  'redis-server': 'redis-server',
};

/** True when running in CI (missing peers fail instead of skipping). */
export function inCi(): boolean {
  const v = process.env.CI;
  return v !== undefined && v !== '' && v !== '0' && v.toLowerCase() !== 'false';
}

const cache = new Map<string, string | undefined>();

/** Absolute path of an executable on PATH, or undefined. */
export function findPeer(name: string): string | undefined {
  if (cache.has(name)) return cache.get(name);
  let found: string | undefined;
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (dir === '') continue;
    const candidate = path.join(dir, name);
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      if (fs.statSync(candidate).isFile()) {
        found = candidate;
        break;
      }
    } catch {
      // not here
    }
  }
  cache.set(name, found);
  return found;
}

/** The version line of libcoap's coap-client (e.g. `4.3.1`), or undefined. */
export function libcoapVersion(exe: string): string | undefined {
  try {
    // coap-client prints its banner on stderr for -h without an argument and exits non-zero
    execFileSync(exe, ['-h'], { stdio: ['ignore', 'pipe', 'pipe'], timeout: 5000 });
  } catch (err) {
    const e = err as { stdout?: Buffer; stderr?: Buffer };
    const text = `${e.stdout?.toString() ?? ''}${e.stderr?.toString() ?? ''}`;
    return /\bv(\d+\.\d+\.\d+)/.exec(text)?.[1];
  }
  return undefined;
}

/** Outcome of requirePeer: the executable path, or why the tests are skipped. */
export interface PeerCheck {
  path: string | undefined;
  /** reason shown in the skipped test's name; undefined when the peer exists */
  skipReason: string | undefined;
}

/**
 * Looks up a third-party tool. In CI (env CI=true) a missing tool throws, so the
 * test file fails. Otherwise it returns a skip reason that the caller passes to
 * `describe.skipIf(...)` and prints, so the skip is visible.
 */
export function requirePeer(name: PeerName): PeerCheck {
  const p = findPeer(name);
  if (p) return { path: p, skipReason: undefined };
  const reason = `${name} not found on PATH (install the Debian package ${PACKAGE_OF[name]})`;
  if (inCi()) throw new Error(`required third-party peer missing in CI: ${reason}`);
  process.stderr.write(`SKIP: ${reason}\n`);
  return { path: undefined, skipReason: reason };
}

// Stateless HelloVerifyRequest cookies (RFC 6347 §4.2.1, dtls.md §7): HMAC-SHA256 keyed by a 32-byte
// random secret over client IP bytes ‖ client port (uint16 BE) ‖ ClientHello body without the cookie.
// The secret is renewed every 60 s (lazily, on use); cookies of the previous secret stay valid.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';
import { HmacSha256Key } from './hmac-sha256.js';

/** Cookie length in bytes (HMAC-SHA256 output). */
export const COOKIE_LENGTH = 32;

/** Default secret lifetime. */
export const COOKIE_SECRET_PERIOD_MS = 60_000;

/** Creates and checks cookies for one endpoint. */
export interface CookieGenerator {
  /** Cookie for the HelloVerifyRequest. `clientHelloBody`: ClientHello body without the cookie field. */
  generate(address: string, port: number, clientHelloBody: Buffer): Buffer;
  /** True if `cookie` was generated (with the current or previous secret) for exactly these inputs. */
  verify(address: string, port: number, clientHelloBody: Buffer, cookie: Buffer): boolean;
  /**
   * Optional: the cookie of generate() for the body `head ‖ tail`, without concatenating them (the flood
   * path's HelloVerifyRequest: one HMAC over the received bytes).
   */
  generateParts?(address: string, port: number, head: Buffer, tail: Buffer): Buffer;
  /** Optional: verify() for the body `head ‖ tail`, without concatenating them. */
  verifyParts?(address: string, port: number, head: Buffer, tail: Buffer, cookie: Buffer): boolean;
}

/** Injection points for tests. */
export interface CookieGeneratorOptions {
  /** clock in ms, default Date.now */
  now?: () => number;
  /** secret lifetime, default 60 s */
  periodMs?: number;
  /** secret source, default 32 random bytes */
  newSecret?: () => Buffer;
}

/** Creates a cookie generator with its own secrets. */
export function createCookieGenerator(options: CookieGeneratorOptions = {}): CookieGenerator {
  const now = options.now ?? Date.now;
  const period = options.periodMs ?? COOKIE_SECRET_PERIOD_MS;
  const newSecret = options.newSecret ?? (() => randomBytes(32));
  // the secrets' HMAC pad states, computed once per secret (RFC 2104 §2), not once per cookie
  let current = new HmacSha256Key(newSecret());
  let previous: HmacSha256Key | undefined;
  let since = now();

  // rotate as a 60 s timer would have done since the last use
  function rotate(): void {
    const elapsed = now() - since;
    if (elapsed < period) return;
    const rotations = Math.floor(elapsed / period);
    if (rotations !== 1) current.wipe();
    previous?.wipe();
    previous = rotations === 1 ? current : undefined;
    current = new HmacSha256Key(newSecret());
    since += rotations * period;
  }

  function mac(key: HmacSha256Key, address: string, port: number, body: Buffer, tail?: Buffer): Buffer {
    return key.mac(cookieInput(peerBytes(address, port), body, tail));
  }

  function check(address: string, port: number, body: Buffer, tail: Buffer | undefined, cookie: Buffer): boolean {
    rotate();
    if (cookie.length !== COOKIE_LENGTH) return false;
    if (timingSafeEqual(mac(current, address, port, body, tail), cookie)) return true;
    return previous !== undefined && timingSafeEqual(mac(previous, address, port, body, tail), cookie);
  }

  return {
    generate(address, port, clientHelloBody) {
      rotate();
      return mac(current, address, port, clientHelloBody);
    },
    generateParts(address, port, head, tail) {
      rotate();
      return mac(current, address, port, head, tail);
    },
    verify(address, port, clientHelloBody, cookie) {
      return check(address, port, clientHelloBody, undefined, cookie);
    },
    verifyParts(address, port, head, tail, cookie) {
      return check(address, port, head, tail, cookie);
    },
  };
}

/** Scratch of the cookie's HMAC input (grown as needed; the MAC is computed before the next use). */
let inputScratch = Buffer.alloc(512);

/** peer ‖ body ‖ tail laid out in the scratch (a view of it, valid until the next call). */
function cookieInput(peer: Buffer, body: Buffer, tail: Buffer | undefined): Buffer {
  const n = peer.length + body.length + (tail?.length ?? 0);
  if (inputScratch.length < n) inputScratch = Buffer.alloc(Math.max(n, inputScratch.length * 2));
  let p = peer.copy(inputScratch, 0);
  p += body.copy(inputScratch, p);
  if (tail !== undefined) tail.copy(inputScratch, p);
  return inputScratch.subarray(0, n);
}

/** Scratch of peerBytes for IPv4 peers (HMAC update copies its input at once, so one buffer serves all calls). */
const V4_PEER = Buffer.alloc(6);

/**
 * IP address bytes ‖ port (uint16 BE), the HMAC prefix of a cookie. IPv4 text is parsed by hand into a
 * shared scratch buffer (no regular expression, no allocation: the HelloVerifyRequest flood path).
 */
export function peerBytes(address: string, port: number): Buffer {
  let octet = 0;
  let digits = 0;
  let k = 0;
  for (let i = 0; i < address.length; i++) {
    const c = address.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      octet = octet * 10 + (c - 48);
      if (++digits > 3 || octet > 255) return slowPeerBytes(address, port);
    } else if (c === 46 && digits > 0 && k < 3) {
      V4_PEER[k++] = octet;
      octet = 0;
      digits = 0;
    } else {
      return slowPeerBytes(address, port);
    }
  }
  if (k !== 3 || digits === 0) return slowPeerBytes(address, port);
  V4_PEER[3] = octet;
  V4_PEER.writeUInt16BE(port, 4);
  return V4_PEER;
}

function slowPeerBytes(address: string, port: number): Buffer {
  const ip = ipAddressBytes(address);
  const out = Buffer.alloc(ip.length + 2);
  ip.copy(out);
  out.writeUInt16BE(port, ip.length);
  return out;
}

/**
 * Address bytes as Java's InetAddress.getAddress() gives them: 4 bytes for IPv4 (also for
 * IPv4-mapped IPv6 `::ffff:a.b.c.d`, which Java turns into Inet4Address), 16 for IPv6.
 * A zone suffix (`%eth0`) is ignored. Throws for text that is not an IP address.
 */
export function ipAddressBytes(address: string): Buffer {
  const text = address.replace(/%.*$/, '');
  const kind = isIP(text);
  if (kind === 4) return Buffer.from(text.split('.').map(Number));
  if (kind !== 6) throw new Error(`not an IP address: ${address}`);
  let head = text;
  let tailV4: number[] = [];
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    tailV4 = v4[1]!.split('.').map(Number);
    head = text.slice(0, -v4[1]!.length) + '0:0'; // placeholder groups, replaced below
  }
  const [left, right] = head.includes('::') ? head.split('::') : [head, undefined];
  const leftGroups = left ? left.split(':') : [];
  const rightGroups = right === undefined ? [] : right ? right.split(':') : [];
  const fill = right === undefined ? 0 : 8 - leftGroups.length - rightGroups.length;
  const groups = [...leftGroups, ...Array<string>(fill).fill('0'), ...rightGroups];
  const bytes = Buffer.alloc(16);
  groups.forEach((g, i) => bytes.writeUInt16BE(parseInt(g, 16), i * 2));
  if (tailV4.length === 4) Buffer.from(tailV4).copy(bytes, 12);
  const mapped = bytes.subarray(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff;
  return mapped ? Buffer.from(bytes.subarray(12)) : bytes;
}

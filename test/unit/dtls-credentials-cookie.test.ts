import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createCookieGenerator, ipAddressBytes } from '../../src/dtls/cookie.js';

const body = Buffer.from('fefd' + '11'.repeat(32) + '00' + '0004c0a800ff' + '0100', 'hex');

function setup() {
  let time = 1_000_000;
  let counter = 0;
  const secrets: Buffer[] = [];
  const gen = createCookieGenerator({
    now: () => time,
    newSecret: () => {
      const s = Buffer.alloc(32, ++counter);
      secrets.push(s);
      return s;
    },
  });
  return { gen, secrets, advance: (ms: number) => (time += ms) };
}

describe('HelloVerifyRequest cookie (dtls.md §7)', () => {
  it('is the HMAC-SHA256 over IP bytes, port (BE) and ClientHello body', () => {
    const { gen, secrets } = setup();
    const cookie = gen.generate('192.0.2.7', 5684, body);
    const expected = createHmac('sha256', secrets[0]!)
      .update(Buffer.from([192, 0, 2, 7, 0x16, 0x34]))
      .update(body)
      .digest();
    expect(cookie).toEqual(expected);
    expect(cookie).toHaveLength(32);
  });

  it('verifies a valid cookie and rejects other port, address or body', () => {
    const { gen } = setup();
    const cookie = gen.generate('192.0.2.7', 5684, body);
    expect(gen.verify('192.0.2.7', 5684, body, cookie)).toBe(true);
    expect(gen.verify('192.0.2.7', 5685, body, cookie)).toBe(false);
    expect(gen.verify('192.0.2.8', 5684, body, cookie)).toBe(false);
    const otherBody = Buffer.from(body);
    otherBody[5]! ^= 1;
    expect(gen.verify('192.0.2.7', 5684, otherBody, cookie)).toBe(false);
    expect(gen.verify('192.0.2.7', 5684, body, cookie.subarray(0, 31))).toBe(false);
    expect(gen.verify('192.0.2.7', 5684, body, Buffer.alloc(0))).toBe(false);
    const flipped = Buffer.from(cookie);
    flipped[31]! ^= 1;
    expect(gen.verify('192.0.2.7', 5684, body, flipped)).toBe(false);
  });

  it('keeps cookies of the previous secret valid for one rotation only', () => {
    const { gen, advance } = setup();
    const cookie = gen.generate('2001:db8::1', 40000, body);
    advance(59_999);
    expect(gen.verify('2001:db8::1', 40000, body, cookie)).toBe(true); // same secret
    advance(1);
    const newer = gen.generate('2001:db8::1', 40000, body); // first rotation
    expect(newer).not.toEqual(cookie);
    expect(gen.verify('2001:db8::1', 40000, body, cookie)).toBe(true); // previous secret
    expect(gen.verify('2001:db8::1', 40000, body, newer)).toBe(true);
    advance(60_000); // second rotation
    expect(gen.verify('2001:db8::1', 40000, body, cookie)).toBe(false);
    expect(gen.verify('2001:db8::1', 40000, body, newer)).toBe(true);
  });

  it('drops both secrets after two periods without use', () => {
    const { gen, advance, secrets } = setup();
    const cookie = gen.generate('10.0.0.1', 1, body);
    advance(120_000);
    expect(gen.verify('10.0.0.1', 1, body, cookie)).toBe(false);
    expect(secrets).toHaveLength(2); // rotated lazily, once, on use
    const fresh = gen.generate('10.0.0.1', 1, body);
    advance(30_000);
    expect(gen.verify('10.0.0.1', 1, body, fresh)).toBe(true);
    advance(30_000); // schedule stays aligned to 60 s steps: rotation at +60 s after the catch-up
    expect(gen.verify('10.0.0.1', 1, body, fresh)).toBe(true);
    expect(secrets).toHaveLength(3);
    advance(60_000);
    expect(gen.verify('10.0.0.1', 1, body, fresh)).toBe(false);
  });

  it('uses independent random secrets per generator by default', () => {
    const a = createCookieGenerator();
    const b = createCookieGenerator();
    expect(a.generate('127.0.0.1', 1, body)).not.toEqual(b.generate('127.0.0.1', 1, body));
    expect(a.verify('127.0.0.1', 1, body, a.generate('127.0.0.1', 1, body))).toBe(true);
  });

  it('encodes addresses like Java InetAddress.getAddress()', () => {
    expect(ipAddressBytes('127.0.0.1')).toEqual(Buffer.from([127, 0, 0, 1]));
    expect(ipAddressBytes('::1')).toEqual(Buffer.from('00000000000000000000000000000001', 'hex'));
    expect(ipAddressBytes('2001:db8::a:1')).toEqual(Buffer.from('20010db80000000000000000000a0001', 'hex'));
    expect(ipAddressBytes('fe80::1%eth0')).toEqual(Buffer.from('fe800000000000000000000000000001', 'hex'));
    expect(ipAddressBytes('::ffff:192.0.2.1')).toEqual(Buffer.from([192, 0, 2, 1]));
    expect(ipAddressBytes('64:ff9b::192.0.2.1')).toEqual(Buffer.from('0064ff9b0000000000000000c0000201', 'hex'));
    expect(ipAddressBytes('1:2:3:4:5:6:7:8')).toEqual(Buffer.from('00010002000300040005000600070008', 'hex'));
    expect(ipAddressBytes('::')).toEqual(Buffer.alloc(16));
    expect(() => ipAddressBytes('localhost')).toThrow();
    // mapped and plain IPv4 give the same cookie
    const { gen } = setup();
    expect(gen.generate('::ffff:10.1.2.3', 9, body)).toEqual(gen.generate('10.1.2.3', 9, body));
  });
});

import { describe, expect, it } from 'vitest';
import {
  ALL_CIPHER_SUITES,
  cipherSuiteByCode,
  cipherSuiteByName,
  EXTRA_CIPHER_SUITES,
  PRESELECTED_CIPHER_SUITES,
} from '../../src/dtls/cipher-suites.js';
import { keyBlockLength } from '../../src/dtls/keys.js';
import { messageSizeLimit } from '../../src/dtls/message-size.js';

describe('cipher suite table (dtls.md §2)', () => {
  it('lists the ten preselected suites in configured order', () => {
    expect(PRESELECTED_CIPHER_SUITES.map((s) => [s.code, s.name, s.keyExchange, s.cipher, s.maxExpansion])).toEqual([
      [0xc0a8, 'TLS_PSK_WITH_AES_128_CCM_8', 'PSK', 'CCM_8', 16],
      [0xd003, 'TLS_ECDHE_PSK_WITH_AES_128_CCM_8_SHA256', 'ECDHE_PSK', 'CCM_8', 16],
      [0xc0ae, 'TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8', 'ECDHE_ECDSA', 'CCM_8', 16],
      [0x00ae, 'TLS_PSK_WITH_AES_128_CBC_SHA256', 'PSK', 'CBC_SHA256', 65],
      [0xc037, 'TLS_ECDHE_PSK_WITH_AES_128_CBC_SHA256', 'ECDHE_PSK', 'CBC_SHA256', 65],
      [0xc023, 'TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256', 'ECDHE_ECDSA', 'CBC_SHA256', 65],
      [0x00a8, 'TLS_PSK_WITH_AES_128_GCM_SHA256', 'PSK', 'GCM', 24],
      [0xc02b, 'TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256', 'ECDHE_ECDSA', 'GCM', 24],
      [0xc02f, 'TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256', 'ECDHE_RSA', 'GCM', 24],
      [0xc027, 'TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256', 'ECDHE_RSA', 'CBC_SHA256', 65],
    ]);
  });

  it('has the 16-byte-tag CCM extras', () => {
    expect(EXTRA_CIPHER_SUITES.map((s) => [s.code, s.name, s.cipher, s.tagLength, s.maxExpansion])).toEqual([
      [0xc0a4, 'TLS_PSK_WITH_AES_128_CCM', 'CCM', 16, 24],
      [0xc0ac, 'TLS_ECDHE_ECDSA_WITH_AES_128_CCM', 'CCM', 16, 24],
    ]);
    expect(ALL_CIPHER_SUITES).toHaveLength(12);
  });

  it('looks up by code and name', () => {
    for (const s of ALL_CIPHER_SUITES) {
      expect(cipherSuiteByCode(s.code)).toBe(s);
      expect(cipherSuiteByName(s.name)).toBe(s);
    }
    expect(cipherSuiteByCode(0x00ff)).toBeUndefined();
    expect(cipherSuiteByName('tls_psk_with_aes_128_ccm_8')).toBeUndefined();
  });

  it('has consistent key/iv/mac lengths', () => {
    for (const s of ALL_CIPHER_SUITES) {
      expect(s.encKeyLength).toBe(16);
      if (s.aead) {
        expect([s.fixedIvLength, s.recordIvLength, s.macKeyLength, s.macLength]).toEqual([4, 8, 0, 0]);
        expect(keyBlockLength(s)).toBe(40);
      } else {
        expect([s.fixedIvLength, s.recordIvLength, s.macKeyLength, s.macLength, s.tagLength]).toEqual([0, 16, 32, 32, 0]);
        expect(keyBlockLength(s)).toBe(96);
      }
      expect(s.psk).toBe(s.keyExchange.endsWith('PSK'));
      expect(s.certificate).toBe(!s.psk);
    }
  });
});

describe('message-size limit (dtls.md §9)', () => {
  const ccm8 = cipherSuiteByName('TLS_PSK_WITH_AES_128_CCM_8')!;
  const gcm = cipherSuiteByName('TLS_PSK_WITH_AES_128_GCM_SHA256')!;
  const cbc = cipherSuiteByName('TLS_PSK_WITH_AES_128_CBC_SHA256')!;

  it('reproduces the spec examples', () => {
    expect(messageSizeLimit({ mtu: 1500, ipv6: false, suite: ccm8, writeCidLength: 0 })).toBe(1407);
    expect(messageSizeLimit({ mtu: 1492, ipv6: false, suite: ccm8, writeCidLength: 0 })).toBe(1399);
    expect(messageSizeLimit({ mtu: 1460, ipv6: false, suite: ccm8, writeCidLength: 0 })).toBe(1367);
  });

  it('reproduces the values Californium reported in the captures', () => {
    expect(messageSizeLimit({ mtu: 1500, ipv6: false, suite: ccm8, writeCidLength: 6 })).toBe(1400);
    expect(messageSizeLimit({ mtu: 1500, ipv6: false, suite: gcm, writeCidLength: 6 })).toBe(1392);
    expect(messageSizeLimit({ mtu: 1500, ipv6: false, suite: cbc, writeCidLength: 6 })).toBe(1351);
  });

  it('applies IPv6 overhead and a negotiated fragment limit', () => {
    expect(messageSizeLimit({ mtu: 1500, ipv6: true, suite: ccm8, writeCidLength: 0 })).toBe(1343);
    expect(messageSizeLimit({ mtu: 1500, ipv6: false, suite: ccm8, writeCidLength: 0, maxFragmentLength: 512 })).toBe(496);
  });
});

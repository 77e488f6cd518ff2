import { describe, expect, it } from 'vitest';
import { cipherSuiteByCode, cipherSuiteByName, type CipherSuite } from '../../src/dtls/cipher-suites.js';
import { deriveKeyBlock, epochKeysForRole, epochKeysFromJson, type EpochKeys } from '../../src/dtls/keys.js';
import { DTLS_1_2, parseDatagram, parseRecord, type DtlsRecord } from '../../src/dtls/record.js';
import {
  additionalDataLength,
  createRecordProtection,
  parseInnerPlaintext,
  writeAdditionalData,
  type RecordProtection,
} from '../../src/dtls/record-protection.js';
import { capturesAvailable, hex, loadCapture, PSK_CAPTURES, suiteCode } from '../helpers/captures.js';

function keysFor(suite: CipherSuite, role: 'client' | 'server', seed = 1): EpochKeys {
  const kb = deriveKeyBlock(Buffer.alloc(48, seed), Buffer.alloc(32, 1), Buffer.alloc(32, 2), suite);
  return epochKeysForRole(kb, suite, role);
}

function aad(type: number, epoch: number, seq: number, cid: Buffer | undefined, length: number): string {
  const out = Buffer.alloc(300);
  return out.subarray(0, writeAdditionalData(out, type, DTLS_1_2, epoch, seq, cid, length)).toString('hex');
}

describe.skipIf(!capturesAvailable())('record protection against the Californium captures', () => {
  for (const name of PSK_CAPTURES) {
    it(`${name}: decrypts every encrypted record and re-encrypts byte-identically`, () => {
      const capture = loadCapture(name);
      const session = capture.sessions[0]!;
      const suite = cipherSuiteByCode(suiteCode(session))!;
      const kb = deriveKeyBlock(hex(session.master_secret), hex(session.client_random), hex(session.server_random), suite);
      const server = createRecordProtection(epochKeysForRole(kb, suite, 'server'));
      const client = createRecordProtection(epochKeysForRole(kb, suite, 'client'));
      let decrypted = 0;
      let application = 0;
      for (const datagram of capture.datagrams) {
        const bytes = hex(datagram.udp_payload);
        for (const want of datagram.records) {
          const d = want.decryption;
          if (d === undefined) continue;
          const toServer = d.direction === 'client->server';
          const receiver = toServer ? server : client;
          const readCid = toServer ? session.server_cid : session.client_cid;
          const record = parseDatagram(bytes, readCid.length / 2).find((r) => r.offset === want.offset)!;
          expect(record).toBeDefined();
          const realType = d.real_type ?? want.content_type;
          const innerLength = d.decrypted.length / 2;

          // additional data / MAC input prefix (RFC 6347 §4.1.2.1, RFC 9146 §5)
          const expectedAad = suite.aead ? d.aad : d.mac_input_prefix;
          expect(aad(record.type, record.epoch, record.seq, record.cid, innerLength)).toBe(expectedAad);

          const result = receiver.decrypt(record);
          expect(result, `frame ${datagram.frame}`).toBeDefined();
          expect(result!.type).toBe(realType);
          expect(result!.plaintext.toString('hex')).toBe(d.content);
          decrypted++;
          if (realType === 23) application++;

          // re-encrypt with the sender's protection, same epoch/seq (CBC: with the captured IV)
          const cid = want.cid === null ? undefined : hex(want.cid);
          const sender = suite.aead
            ? toServer ? client : server
            : createRecordProtection((toServer ? client : server).keys, { cbcIv: (iv) => hex(d.record_iv!).copy(iv) });
          const again = sender.encryptRecord(realType, want.epoch, want.sequence_number, hex(d.content), cid, d.zero_padding ?? 0);
          expect(again.toString('hex')).toBe(want.header + want.fragment);
          expect(sender.recordLength(d.content.length / 2, cid?.length ?? 0)).toBe(again.length);
          const fragment = sender.encrypt(realType, want.epoch, want.sequence_number, hex(d.content), cid);
          if (suite.aead) expect(fragment.toString('hex')).toBe(want.fragment);
          else expect(fragment.length).toBe(want.length);
        }
      }
      expect(decrypted).toBeGreaterThanOrEqual(4);
      expect(application).toBeGreaterThanOrEqual(2);
    });
  }

  it('rejects a captured record with a tampered tag, ciphertext, header or CID', () => {
    const capture = loadCapture('dtls-psk-ccm8-cid');
    const session = capture.sessions[0]!;
    const suite = cipherSuiteByCode(suiteCode(session))!;
    const kb = deriveKeyBlock(hex(session.master_secret), hex(session.client_random), hex(session.server_random), suite);
    const server = createRecordProtection(epochKeysForRole(kb, suite, 'server'));
    const frame7 = hex(capture.datagrams.find((d) => d.frame === 7)!.udp_payload);
    expect(server.decrypt(parseRecord(frame7, 0, 6)!)).toBeDefined();
    for (const index of [13, 19, 20, 30, frame7.length - 1]) {
      const bad = Buffer.from(frame7);
      bad[index]! ^= 0x01;
      const rec = parseRecord(bad, 0, 6);
      expect(rec && server.decrypt(rec), `byte ${index}`).toBeUndefined();
    }
  });
});

const SUITES = [
  'TLS_PSK_WITH_AES_128_CCM_8',
  'TLS_PSK_WITH_AES_128_CCM',
  'TLS_PSK_WITH_AES_128_GCM_SHA256',
  'TLS_PSK_WITH_AES_128_CBC_SHA256',
  'TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8',
  'TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256',
];

describe('record protection', () => {
  const cid = Buffer.from('a1a2a3a4a5a6', 'hex');

  function pair(name: string): { suite: CipherSuite; client: RecordProtection; server: RecordProtection } {
    const suite = cipherSuiteByName(name)!;
    return {
      suite,
      client: createRecordProtection(keysFor(suite, 'client')),
      server: createRecordProtection(keysFor(suite, 'server')),
    };
  }

  function roundTrip(sender: RecordProtection, receiver: RecordProtection, plaintext: Buffer, c?: Buffer, padding = 0) {
    const bytes = sender.encryptRecord(23, 1, 42, plaintext, c, padding);
    const record = parseRecord(bytes, 0, c?.length ?? 0) as DtlsRecord;
    return { bytes, record, result: receiver.decrypt(record) };
  }

  for (const name of SUITES) {
    describe(name, () => {
      const { suite, client, server } = pair(name);

      it('round-trips with and without CID, empty and large payloads', () => {
        for (const size of [0, 1, 15, 16, 100, 1400]) {
          const plaintext = Buffer.alloc(size, 0x5a);
          for (const c of [undefined, cid]) {
            const { bytes, record, result } = roundTrip(client, server, plaintext, c);
            expect(record.type).toBe(c ? 25 : 23);
            expect(result).toEqual({ type: 23, plaintext });
            expect(bytes.length).toBe(client.recordLength(size, c?.length ?? 0));
            expect(bytes.length - size - 13 - (c?.length ?? 0)).toBeLessThanOrEqual(suite.maxExpansion + (c ? 1 : 0));
          }
        }
      });

      it('rejects a tampered tag/MAC and tampered ciphertext', () => {
        for (const c of [undefined, cid]) {
          const { bytes } = roundTrip(client, server, Buffer.from('hello world'), c);
          for (const index of [bytes.length - 1, bytes.length - 20, 13 + (c?.length ?? 0) + 2]) {
            const bad = Buffer.from(bytes);
            bad[index]! ^= 0x80;
            expect(server.decrypt(parseRecord(bad, 0, c?.length ?? 0)!)).toBeUndefined();
          }
        }
      });

      it('rejects a record with a wrong CID, header fields or direction', () => {
        const { record } = roundTrip(client, server, Buffer.from('payload'), cid);
        expect(server.decrypt({ ...record, cid: Buffer.from('a1a2a3a4a5a7', 'hex') })).toBeUndefined();
        expect(server.decrypt({ ...record, seq: 43 })).toBeUndefined();
        expect(server.decrypt({ ...record, epoch: 2 })).toBeUndefined();
        expect(server.decrypt({ ...record, version: 0xfeff })).toBeUndefined();
        expect(server.decrypt({ ...record, type: 23, cid: undefined })).toBeUndefined();
        expect(server.decrypt({ ...record, cid: undefined })).toBeUndefined();
        expect(client.decrypt(record)).toBeUndefined(); // own direction
        const plain = roundTrip(client, server, Buffer.from('payload')).record;
        expect(server.decrypt({ ...plain, type: 22 })).toBeUndefined();
        expect(server.decrypt({ ...plain, fragment: plain.fragment.subarray(0, 3) })).toBeUndefined();
        expect(server.decrypt({ ...plain, fragment: Buffer.alloc(0) })).toBeUndefined();
      });

      it('strips zero padding of the DTLSInnerPlaintext', () => {
        const { bytes, result } = roundTrip(client, server, Buffer.from('padded'), cid, 10);
        expect(result).toEqual({ type: 23, plaintext: Buffer.from('padded') });
        expect(bytes.length).toBe(client.recordLength(6, 6, 10));
      });

      it('rejects an all-zero DTLSInnerPlaintext and an inner type tls12_cid', () => {
        // content type 0 + padding: the inner plaintext is all zeros
        const zero = client.encryptRecord(0, 1, 7, Buffer.alloc(0), cid, 4);
        expect(server.decrypt(parseRecord(zero, 0, 6)!)).toBeUndefined();
        const nested = client.encryptRecord(25, 1, 8, Buffer.from('x'), cid);
        expect(server.decrypt(parseRecord(nested, 0, 6)!)).toBeUndefined();
      });

      it('rebuilds from JSON key data', () => {
        const restored = createRecordProtection(epochKeysFromJson(JSON.parse(JSON.stringify(server))));
        const { record } = roundTrip(client, server, Buffer.from('restart'), cid);
        expect(restored.decrypt(record)).toEqual({ type: 23, plaintext: Buffer.from('restart') });
      });
    });
  }

  it('uses a fresh random IV per CBC record', () => {
    const { client } = pair('TLS_PSK_WITH_AES_128_CBC_SHA256');
    const a = client.encrypt(23, 1, 1, Buffer.from('same'));
    const b = client.encrypt(23, 1, 1, Buffer.from('same'));
    expect(a.subarray(0, 16).equals(b.subarray(0, 16))).toBe(false);
  });

  it('rejects CBC records with bad padding even when the MAC region is intact', () => {
    const suite = cipherSuiteByName('TLS_PSK_WITH_AES_128_CBC_SHA256')!;
    const client = createRecordProtection(keysFor(suite, 'client'));
    const server = createRecordProtection(keysFor(suite, 'server'));
    const bytes = client.encryptRecord(23, 1, 1, Buffer.alloc(15, 1));
    // fragment: IV(16) + 3 blocks; flipping a bit in the second-to-last block corrupts the last block (padding)
    const bad = Buffer.from(bytes);
    bad[bad.length - 17]! ^= 0x01;
    expect(server.decrypt(parseRecord(bad, 0, 0)!)).toBeUndefined();
    // not a multiple of the block size / too short
    const rec = parseRecord(bytes, 0, 0)!;
    expect(server.decrypt({ ...rec, fragment: rec.fragment.subarray(0, rec.fragment.length - 1) })).toBeUndefined();
    expect(server.decrypt({ ...rec, fragment: rec.fragment.subarray(0, 48) })).toBeUndefined();
  });

  it('refuses inconsistent local key material', () => {
    const ccm = cipherSuiteByName('TLS_PSK_WITH_AES_128_CCM_8')!;
    const cbc = cipherSuiteByName('TLS_PSK_WITH_AES_128_CBC_SHA256')!;
    expect(() => createRecordProtection({ ...keysFor(cbc, 'server'), cipherSuite: ccm.code })).toThrow();
    expect(() => createRecordProtection({ ...keysFor(ccm, 'server'), cipherSuite: 0x1234 })).toThrow();
  });

  it('parses DTLSInnerPlaintext and sizes the additional data', () => {
    expect(parseInnerPlaintext(Buffer.from('6869170000', 'hex'))).toEqual({ type: 23, plaintext: Buffer.from('hi') });
    expect(parseInnerPlaintext(Buffer.from('16', 'hex'))).toEqual({ type: 22, plaintext: Buffer.alloc(0) });
    expect(parseInnerPlaintext(Buffer.alloc(3))).toBeUndefined();
    expect(parseInnerPlaintext(Buffer.alloc(0))).toBeUndefined();
    expect(additionalDataLength(0)).toBe(13);
    expect(additionalDataLength(6)).toBe(29);
    expect(aad(23, 1, 1, undefined, 0x148)).toBe('000100000000000117fefd0148');
    expect(aad(25, 1, 1, Buffer.from('b724636c9c35', 'hex'), 0x17)).toBe(
      'ffffffffffffffff190619fefd0001000000000001b724636c9c350017',
    );
  });
});

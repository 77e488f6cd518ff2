import { describe, expect, it } from 'vitest';
import { cipherSuiteByCode, cipherSuiteByName } from '../../src/dtls/cipher-suites.js';
import {
  deriveKeyBlock,
  ecdhePskPreMasterSecret,
  epochKeysForRole,
  epochKeysFromJson,
  epochKeysToJson,
  extendedMasterSecret,
  handshakeHash,
  keyBlockLength,
  masterSecret,
  pskPreMasterSecret,
  verifyData,
} from '../../src/dtls/keys.js';
import { prf } from '../../src/dtls/prf.js';
import {
  capturesAvailable,
  hex,
  loadCapture,
  PSK_CAPTURES,
  splitHandshakeMessages,
  suiteCode,
  suiteName,
  type Capture,
} from '../helpers/captures.js';

/** Handshake messages hashed for EMS/Finished: epoch-0 messages from the second ClientHello on (RFC 6347 §4.2.6). */
function transcript(capture: Capture): Buffer[] {
  const messages: Buffer[] = [];
  for (const d of capture.datagrams) {
    // the rebind capture holds both sides of a NAT: use the server side only
    if (d.src_role !== 'server' && d.dst_role !== 'server') continue;
    for (const r of d.records) {
      if (r.content_type === 22 && r.epoch === 0) messages.push(...splitHandshakeMessages(hex(r.fragment)));
    }
  }
  const firstClientHello = messages.findIndex((m) => m[0] === 1);
  messages.splice(firstClientHello, 1);
  return messages.filter((m) => m[0] !== 3); // hello_verify_request
}

describe.skipIf(!capturesAvailable())('key schedule against the Californium captures', () => {
  for (const name of PSK_CAPTURES) {
    describe(name, () => {
      const capture = loadCapture(name);
      const session = capture.sessions[0]!;
      const suite = cipherSuiteByCode(suiteCode(session))!;
      const clientRandom = hex(session.client_random);
      const serverRandom = hex(session.server_random);

      it('knows the suite', () => {
        expect(suite).toBeDefined();
        expect(suite.name).toBe(suiteName(session));
      });

      it('derives pre-master, EMS master secret and key block', () => {
        const pre = pskPreMasterSecret(hex(capture.psk[0]!.secret_hex));
        expect(pre.toString('hex')).toBe(session.pre_master_secret);
        expect(session.extended_master_secret).toBe(true);
        const master = extendedMasterSecret(pre, hex(session.session_hash));
        expect(master.toString('hex')).toBe(session.master_secret);
        const raw = prf(master, 'key expansion', Buffer.concat([serverRandom, clientRandom]), keyBlockLength(suite));
        expect(raw.toString('hex')).toBe(session.key_block);
        const kb = deriveKeyBlock(master, clientRandom, serverRandom, suite);
        expect(kb.clientWriteKey.toString('hex')).toBe(session.client_write_key);
        expect(kb.serverWriteKey.toString('hex')).toBe(session.server_write_key);
        expect(kb.clientWriteIv.toString('hex')).toBe(session.client_write_iv ?? '');
        expect(kb.serverWriteIv.toString('hex')).toBe(session.server_write_iv ?? '');
        expect(kb.clientWriteMacKey.toString('hex')).toBe(session.client_write_mac_key ?? '');
        expect(kb.serverWriteMacKey.toString('hex')).toBe(session.server_write_mac_key ?? '');
      });

      it('recomputes session hash and both Finished hashes from the handshake messages', () => {
        const messages = transcript(capture);
        expect(messages.map((m) => m[0])).toEqual([1, 2, 14, 16]); // ClientHello, ServerHello, ServerHelloDone, CKE
        expect(handshakeHash(messages).toString('hex')).toBe(session.session_hash);
        expect(handshakeHash(messages).toString('hex')).toBe(session.client_finished_handshake_hash);
        const clientFinished = capture.datagrams
          .flatMap((d) => d.records)
          .find((r) => r.decryption?.direction === 'client->server' && r.epoch === 1 && r.sequence_number === 0)!;
        const withFinished = [...messages, hex(clientFinished.decryption!.content)];
        expect(handshakeHash(withFinished).toString('hex')).toBe(session.server_finished_handshake_hash);
      });

      it('computes both Finished verify_data values', () => {
        const master = hex(session.master_secret);
        expect(verifyData(master, 'client', hex(session.client_finished_handshake_hash)).toString('hex')).toBe(
          session.client_finished_verify_data,
        );
        expect(verifyData(master, 'server', hex(session.server_finished_handshake_hash)).toString('hex')).toBe(
          session.server_finished_verify_data,
        );
      });
    });
  }
});

describe('pre-master secrets and master secret', () => {
  it('PSK pre-master secret (RFC 4279 §2)', () => {
    expect(pskPreMasterSecret(Buffer.from('secretPSK')).toString('hex')).toBe('0009000000000000000000000973656372657450534b');
    expect(pskPreMasterSecret(Buffer.from('sesame')).toString('hex')).toBe('0006000000000000000673657361' + '6d65');
  });

  it('ECDHE_PSK pre-master secret (RFC 5489 §2)', () => {
    const z = Buffer.alloc(32, 0xab);
    const psk = Buffer.from('.fornium');
    const pre = ecdhePskPreMasterSecret(z, psk);
    expect(pre.length).toBe(2 + 32 + 2 + 8);
    expect(pre.readUInt16BE(0)).toBe(32);
    expect(pre.subarray(2, 34).equals(z)).toBe(true);
    expect(pre.readUInt16BE(34)).toBe(8);
    expect(pre.subarray(36).toString()).toBe('.fornium');
  });

  it('classic master secret = PRF(pre, "master secret", client_random ‖ server_random) (RFC 5246 §8.1)', () => {
    const pre = pskPreMasterSecret(Buffer.from('secretPSK'));
    const cr = Buffer.alloc(32, 1);
    const sr = Buffer.alloc(32, 2);
    const ms = masterSecret(pre, cr, sr);
    expect(ms.length).toBe(48);
    expect(ms.equals(prf(pre, 'master secret', Buffer.concat([cr, sr]), 48))).toBe(true);
    expect(ms.equals(masterSecret(pre, sr, cr))).toBe(false);
  });
});

describe('epoch keys', () => {
  const suite = cipherSuiteByName('TLS_PSK_WITH_AES_128_CBC_SHA256')!;
  const kb = deriveKeyBlock(Buffer.alloc(48, 7), Buffer.alloc(32, 1), Buffer.alloc(32, 2), suite);

  it('assigns client_write keys to the server read side', () => {
    const server = epochKeysForRole(kb, suite, 'server');
    const client = epochKeysForRole(kb, suite, 'client');
    expect(server.read.key.equals(kb.clientWriteKey)).toBe(true);
    expect(server.write.macKey.equals(kb.serverWriteMacKey)).toBe(true);
    expect(client.read.key.equals(kb.serverWriteKey)).toBe(true);
    expect(client.write.macKey.equals(kb.clientWriteMacKey)).toBe(true);
    expect(server.epoch).toBe(1);
    expect(server.cipherSuite).toBe(0x00ae);
  });

  it('round-trips through JSON', () => {
    const keys = epochKeysForRole(kb, suite, 'server', 3);
    const json = JSON.parse(JSON.stringify(epochKeysToJson(keys)));
    expect(epochKeysFromJson(json)).toEqual(keys);
  });
});

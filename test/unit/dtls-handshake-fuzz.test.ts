// 10,000 random mutations of real handshake messages: decoders never throw, failures carry a
// proper alert, and whatever still decodes re-encodes to exactly the mutated bytes.
import { createECDH, generateKeyPairSync, randomBytes } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  AlertDescription,
  CertificateType,
  ECDSA_SHA256,
  HandshakeType,
  NamedGroup,
  RSA_SHA256,
  createReassembler,
  decodeAlert,
  decodeChangeCipherSpec,
  decodeHandshakeFragments,
  decodeHandshakeMessage,
  encodeCertificate,
  encodeCertificateRequest,
  encodeCertificateVerify,
  encodeClientHello,
  encodeClientKeyExchange,
  encodeFullHandshakeMessage,
  encodeHandshakeBody,
  encodeServerHello,
  encodeServerKeyExchange,
  type DecodeResult,
  type HandshakeDecodeContext,
  type HandshakeMessage,
} from '../../src/dtls/handshake/index.js';
import { mulberry32 } from '../helpers/random.js';
import { CAPTURE_DIR } from '../helpers/captures.js';

const DIR = CAPTURE_DIR;
const KNOWN_ALERTS = new Set<number>(Object.values(AlertDescription));

const rng = mulberry32;

interface Sample {
  name: string;
  msg: HandshakeMessage;
  ctx: HandshakeDecodeContext;
}

/** Every distinct handshake message of the captures, plaintext and decrypted. */
function captureSamples(): Sample[] {
  const out = new Map<string, Sample>();
  for (const file of readdirSync(DIR).filter((f) => f.endsWith('.json'))) {
    const cap = JSON.parse(readFileSync(join(DIR, file), 'utf8')) as {
      datagrams: Array<{ records: Array<{ content_type: number; epoch: number; fragment: string; handshake_messages?: unknown[]; decryption?: { content?: string } }> }>;
    };
    for (const dg of cap.datagrams) {
      for (const rec of dg.records) {
        if (!rec.handshake_messages) continue;
        const content = rec.epoch === 0 ? rec.fragment : rec.decryption?.content;
        if (content === undefined) continue;
        const frags = decodeHandshakeFragments(Buffer.from(content, 'hex'));
        if (!frags.ok) throw new Error(frags.reason);
        for (const f of frags.value) {
          const key = f.fragment.toString('hex') + f.header.msgType;
          out.set(key, {
            name: `${file}:${f.header.msgType}`,
            msg: { msgType: f.header.msgType, messageSeq: f.header.messageSeq, body: Buffer.from(f.fragment) },
            ctx: { keyExchange: 'psk' },
          });
        }
      }
    }
  }
  return [...out.values()];
}

/** Messages of the certificate and ECDHE flights, which the PSK captures do not contain. */
function syntheticSamples(): Sample[] {
  const spki = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'der' });
  const point = createECDH('prime256v1').generateKeys();
  const params = { namedGroup: NamedGroup.SECP256R1, publicKey: point };
  const s = (name: string, msgType: number, body: Buffer, ctx: HandshakeDecodeContext = {}): Sample => ({
    name,
    msg: { msgType, messageSeq: 1, body },
    ctx,
  });
  return [
    s('client_hello full', HandshakeType.CLIENT_HELLO, encodeClientHello({
      clientVersion: 0xfefd,
      random: randomBytes(32),
      sessionId: randomBytes(32),
      cookie: randomBytes(32),
      cipherSuites: [0xc0ae, 0xc02b, 0xd003, 0x00ff],
      compressionMethods: [0],
      extensions: {
        serverName: [{ nameType: 0, name: Buffer.from('my.test.server') }],
        maxFragmentLength: 3,
        supportedGroups: [23, 29, 30, 24],
        ecPointFormats: [0],
        signatureAlgorithms: [ECDSA_SHA256, RSA_SHA256],
        clientCertificateTypes: [2, 0],
        serverCertificateTypes: [2, 0],
        extendedMasterSecret: true,
        recordSizeLimit: 1400,
        connectionId: randomBytes(6),
        renegotiationInfo: Buffer.alloc(0),
        unknown: [{ type: 0x4444, data: randomBytes(3) }],
      },
    })),
    s('server_hello full', HandshakeType.SERVER_HELLO, encodeServerHello({
      serverVersion: 0xfefd,
      random: randomBytes(32),
      sessionId: randomBytes(32),
      cipherSuite: 0xc0ae,
      compressionMethod: 0,
      extensions: {
        serverName: [],
        ecPointFormats: [0],
        clientCertificateTypes: [0],
        serverCertificateTypes: [2],
        extendedMasterSecret: true,
        recordSizeLimit: 512,
        renegotiationInfo: Buffer.alloc(0),
        connectionId: randomBytes(6),
      },
    })),
    s('certificate x509', HandshakeType.CERTIFICATE, encodeCertificate({ certificateType: 0, chain: [randomBytes(40), randomBytes(30)] }), { certificateType: CertificateType.X509 }),
    s('certificate rpk', HandshakeType.CERTIFICATE, encodeCertificate({ certificateType: 2, subjectPublicKeyInfo: spki }), { certificateType: CertificateType.RAW_PUBLIC_KEY }),
    s('ske ecdhe', HandshakeType.SERVER_KEY_EXCHANGE, encodeServerKeyExchange({ form: 'ecdhe', params, signed: { algorithm: ECDSA_SHA256, signature: randomBytes(71) } }), { keyExchange: 'ecdhe' }),
    s('ske psk', HandshakeType.SERVER_KEY_EXCHANGE, encodeServerKeyExchange({ form: 'psk', identityHint: Buffer.from('hint') }), { keyExchange: 'psk' }),
    s('ske ecdhe_psk', HandshakeType.SERVER_KEY_EXCHANGE, encodeServerKeyExchange({ form: 'ecdhe_psk', identityHint: Buffer.from('h'), params }), { keyExchange: 'ecdhe_psk' }),
    s('certificate_request', HandshakeType.CERTIFICATE_REQUEST, encodeCertificateRequest({ certificateTypes: [64, 1], supportedSignatureAlgorithms: [ECDSA_SHA256, RSA_SHA256], certificateAuthorities: [randomBytes(20)] })),
    s('certificate_verify', HandshakeType.CERTIFICATE_VERIFY, encodeCertificateVerify({ algorithm: ECDSA_SHA256, signature: randomBytes(70) })),
    s('cke ecdhe', HandshakeType.CLIENT_KEY_EXCHANGE, encodeClientKeyExchange({ form: 'ecdhe', publicKey: point }), { keyExchange: 'ecdhe' }),
    s('cke ecdhe_psk', HandshakeType.CLIENT_KEY_EXCHANGE, encodeClientKeyExchange({ form: 'ecdhe_psk', identity: Buffer.from('Client_identity'), publicKey: point }), { keyExchange: 'ecdhe_psk' }),
  ];
}

/** One random mutation: bit flip, byte set, length-ish tweak, truncation, extension, insertion, deletion, chunk duplication. */
function mutate(src: Buffer, rand: () => number): Buffer {
  const b = Buffer.from(src);
  const pos = (n = b.length): number => Math.floor(rand() * Math.max(n, 1));
  const rounds = 1 + Math.floor(rand() * 3);
  let out = b;
  for (let i = 0; i < rounds; i++) {
    const op = Math.floor(rand() * 9);
    if (out.length === 0 && op < 5) {
      out = Buffer.from([Math.floor(rand() * 256)]);
      continue;
    }
    switch (op) {
      case 0:
        out[pos(out.length)]! ^= 1 << Math.floor(rand() * 8);
        break;
      case 1:
        out[pos(out.length)] = Math.floor(rand() * 256);
        break;
      case 2:
        out[pos(out.length)] = [0, 1, 0xff, 0x7f, 0x80][Math.floor(rand() * 5)]!;
        break;
      case 3: {
        const p = pos(out.length);
        out[p] = (out[p]! + (rand() < 0.5 ? 1 : 255)) & 0xff;
        break;
      }
      case 4:
        out = out.subarray(0, pos(out.length));
        break;
      case 5:
        out = Buffer.concat([out, randomBytesFrom(rand, 1 + pos(8))]);
        break;
      case 6: {
        const p = pos(out.length + 1);
        out = Buffer.concat([out.subarray(0, p), randomBytesFrom(rand, 1), out.subarray(p)]);
        break;
      }
      case 7: {
        const p = pos(out.length);
        out = Buffer.concat([out.subarray(0, p), out.subarray(p + 1)]);
        break;
      }
      default: {
        const p = pos(out.length);
        const n = 1 + pos(Math.min(12, out.length - p));
        out = Buffer.concat([out.subarray(0, p + n), out.subarray(p, p + n), out.subarray(p + n)]);
      }
    }
  }
  return Buffer.from(out);
}

function randomBytesFrom(rand: () => number, n: number): Buffer {
  return Buffer.from(Array.from({ length: n }, () => Math.floor(rand() * 256)));
}

function checkResult<T>(r: DecodeResult<T>): boolean {
  if (r.ok) return true;
  expect(KNOWN_ALERTS.has(r.alert)).toBe(true);
  expect(r.reason.startsWith('internal'), r.reason).toBe(false);
  return false;
}

describe('random mutations of real messages', () => {
  const samples = [...captureSamples(), ...syntheticSamples()];

  it('has samples of every message type', () => {
    expect(new Set(samples.map((s) => s.msg.msgType))).toEqual(new Set([1, 2, 3, 11, 12, 13, 14, 15, 16, 20]));
    for (const s of samples) {
      const d = decodeHandshakeMessage(s.msg, s.ctx);
      expect(d.ok, s.name).toBe(true);
      if (d.ok) expect(encodeHandshakeBody(d.value).equals(s.msg.body), s.name).toBe(true);
    }
  });

  it('10,000 mutated bodies never throw; failures name an alert; successes round-trip exactly', () => {
    const rand = rng(20261121);
    let failed = 0;
    let decoded = 0;
    for (let i = 0; i < 10_000; i++) {
      const s = samples[i % samples.length]!;
      const body = mutate(s.msg.body, rand);
      const r = decodeHandshakeMessage({ ...s.msg, body }, s.ctx);
      if (checkResult(r)) {
        decoded++;
        if (r.ok) expect(encodeHandshakeBody(r.value).toString('hex'), s.name).toBe(body.toString('hex'));
      } else {
        failed++;
      }
    }
    expect(failed + decoded).toBe(10_000);
    // most mutations break a length or a bound; those that do not must still be exact round trips
    expect(failed).toBeGreaterThan(5_000);
  });

  it('mutated records never throw in the fragment decoder and reassembler', () => {
    const rand = rng(7);
    const reassembler = createReassembler({ maxMessageLength: 1024 });
    for (let i = 0; i < 5_000; i++) {
      const s = samples[i % samples.length]!;
      const record = encodeFullHandshakeMessage({ ...s.msg, messageSeq: i % 5 });
      const frags = decodeHandshakeFragments(mutate(record, rand));
      if (!checkResult(frags) || !frags.ok) continue;
      for (const f of frags.value) {
        reassembler.push(f);
        for (let m = reassembler.next(); m; m = reassembler.next()) checkResult(decodeHandshakeMessage(m, s.ctx));
      }
    }
  });

  it('alert and ChangeCipherSpec decoders never throw on random bodies', () => {
    const rand = rng(3);
    for (let i = 0; i < 2_000; i++) {
      const body = randomBytesFrom(rand, Math.floor(rand() * 4));
      checkResult(decodeAlert(body));
      checkResult(decodeChangeCipherSpec(body));
    }
  });
});

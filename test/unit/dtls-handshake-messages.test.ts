// Encode/decode of every handshake message, the extensions and the alert/CCS bodies, and the
// decode errors for hostile bodies (RFC 5246 §7.2.2 decode_error / illegal_parameter).
import { createECDH, createSign, createVerify, generateKeyPairSync, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  AlertDescription,
  AlertLevel,
  CertificateType,
  ClientCertificateType,
  ECDSA_SHA256,
  ED25519,
  ExtensionType,
  HandshakeType,
  NamedGroup,
  RSA_SHA256,
  TLS_EMPTY_RENEGOTIATION_INFO_SCSV,
  alertDescriptionName,
  alertLevelName,
  clientHelloBodyWithoutCookie,
  decodeAlert,
  decodeCertificate,
  decodeCertificateRequest,
  decodeCertificateVerify,
  decodeChangeCipherSpec,
  decodeClientHello,
  decodeClientKeyExchange,
  decodeFinished,
  decodeHandshakeMessage,
  decodeHelloExtensions,
  decodeHelloVerifyRequest,
  decodeServerHello,
  decodeServerHelloDone,
  decodeServerKeyExchange,
  encodeAlert,
  encodeCertificate,
  encodeCertificateRequest,
  encodeCertificateVerify,
  encodeClientHello,
  encodeClientKeyExchange,
  encodeEcdheParams,
  encodeFinished,
  encodeHelloExtensions,
  encodeServerHello,
  encodeServerKeyExchange,
  handshakeTypeName,
  hasRenegotiationScsv,
  offersSecureRenegotiation,
  serverKeyExchangeSignedData,
  signatureAndHashCode,
  type ClientHello,
  type DecodeResult,
  type HelloExtensions,
  type ServerHello,
} from '../../src/dtls/handshake/index.js';

function value<T>(r: DecodeResult<T>): T {
  if (!r.ok) throw new Error(`decode failed: ${r.alert} ${r.reason}`);
  return r.value;
}

function expectFail<T>(r: DecodeResult<T>, alert: number = AlertDescription.DECODE_ERROR): void {
  expect(r.ok).toBe(false);
  if (!r.ok) {
    expect(r.alert, r.reason).toBe(alert);
    expect(r.reason.startsWith('internal')).toBe(false);
  }
}

const h = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

const FULL_CLIENT_EXTENSIONS: HelloExtensions = {
  serverName: [{ nameType: 0, name: Buffer.from('localhost') }],
  maxFragmentLength: 2,
  supportedGroups: [NamedGroup.SECP256R1, NamedGroup.X25519, NamedGroup.X448, NamedGroup.SECP384R1],
  ecPointFormats: [0],
  signatureAlgorithms: [ECDSA_SHA256, RSA_SHA256, ED25519],
  clientCertificateTypes: [CertificateType.RAW_PUBLIC_KEY, CertificateType.X509],
  serverCertificateTypes: [CertificateType.RAW_PUBLIC_KEY, CertificateType.X509],
  extendedMasterSecret: true,
  recordSizeLimit: 1024,
  connectionId: h('0102030405'),
  renegotiationInfo: Buffer.alloc(0),
  unknown: [{ type: 0x1234, data: h('cafe') }],
};

const CLIENT_HELLO: ClientHello = {
  clientVersion: 0xfefd,
  random: Buffer.alloc(32, 0xab),
  sessionId: Buffer.alloc(32, 0x11),
  cookie: Buffer.alloc(32, 0x22),
  cipherSuites: [0xc0a8, 0xd003, 0xc0ae, 0x00ae, 0xc037, 0xc023, 0x00a8, 0xc02b, 0xc02f, 0xc027, TLS_EMPTY_RENEGOTIATION_INFO_SCSV],
  compressionMethods: [0],
  extensions: FULL_CLIENT_EXTENSIONS,
};

const SERVER_HELLO: ServerHello = {
  serverVersion: 0xfefd,
  random: Buffer.alloc(32, 0x5a),
  sessionId: Buffer.alloc(32, 0x33),
  cipherSuite: 0xc0ae,
  compressionMethod: 0,
  extensions: {
    serverName: [],
    maxFragmentLength: 2,
    ecPointFormats: [0],
    clientCertificateTypes: [CertificateType.X509],
    serverCertificateTypes: [CertificateType.RAW_PUBLIC_KEY],
    extendedMasterSecret: true,
    recordSizeLimit: 512,
    renegotiationInfo: Buffer.alloc(0),
    connectionId: h('a1a2a3a4a5a6'),
  },
};

describe('ClientHello (RFC 6347 §4.2.1)', () => {
  it('round-trips every extension with the expected typed values', () => {
    const body = encodeClientHello(CLIENT_HELLO);
    const d = value(decodeClientHello(body));
    expect(d.raw.equals(body)).toBe(true);
    expect(d.cipherSuites).toEqual(CLIENT_HELLO.cipherSuites);
    const e = d.extensions!;
    expect(e.order).toEqual([0, 1, 10, 11, 13, 19, 20, 28, 23, 0xff01, 54, 0x1234]);
    expect(e.serverName).toEqual([{ nameType: 0, name: Buffer.from('localhost') }]);
    expect(e.maxFragmentLength).toBe(2);
    expect(e.supportedGroups).toEqual([23, 29, 30, 24]);
    expect(e.signatureAlgorithms!.map(signatureAndHashCode)).toEqual([0x0403, 0x0401, 0x0807]);
    expect(e.clientCertificateTypes).toEqual([2, 0]);
    expect(e.serverCertificateTypes).toEqual([2, 0]);
    expect(e.recordSizeLimit).toBe(1024);
    expect(e.connectionId!.toString('hex')).toBe('0102030405');
    expect(e.unknown).toEqual([{ type: 0x1234, data: h('cafe') }]);
    expect(encodeClientHello(d).equals(body)).toBe(true);
  });

  it('keeps the wire order of decoded extensions on re-encode', () => {
    const ext = encodeHelloExtensions({ ...FULL_CLIENT_EXTENSIONS, order: [54, 0x1234, 23, 0] }, 'client');
    const d = value(decodeHelloExtensions(ext.subarray(2), 'client'));
    expect(d.order!.slice(0, 4)).toEqual([54, 0x1234, 23, 0]);
    expect(encodeHelloExtensions(d, 'client').equals(ext)).toBe(true);
  });

  it('encodes the cookie-less body for the cookie HMAC', () => {
    const d = value(decodeClientHello(encodeClientHello(CLIENT_HELLO)));
    const without = clientHelloBodyWithoutCookie(d);
    const noCookie = encodeClientHello({ ...CLIENT_HELLO, cookie: Buffer.alloc(0) });
    // removing the cookie field = the hello with an empty cookie minus its length byte
    expect(without.equals(Buffer.concat([noCookie.subarray(0, 2 + 32 + 33), noCookie.subarray(2 + 32 + 33 + 1)]))).toBe(true);
  });

  it('detects the SCSV and renegotiation_info', () => {
    expect(hasRenegotiationScsv(CLIENT_HELLO)).toBe(true);
    const plain = { ...CLIENT_HELLO, cipherSuites: [0xc0a8], extensions: {} };
    expect(hasRenegotiationScsv(plain)).toBe(false);
    expect(offersSecureRenegotiation(plain)).toBe(false);
    expect(offersSecureRenegotiation({ ...plain, extensions: { renegotiationInfo: Buffer.alloc(0) } })).toBe(true);
  });

  it('without extensions block: no extensions; with an empty block: empty extensions', () => {
    const none = encodeClientHello({ ...CLIENT_HELLO, extensions: undefined });
    expect(value(decodeClientHello(none)).extensions).toBeUndefined();
    const empty = encodeClientHello({ ...CLIENT_HELLO, extensions: {} });
    expect(empty.length).toBe(none.length + 2);
    expect(value(decodeClientHello(empty)).extensions).toEqual({ order: [], unknown: [] });
  });

  // offsets in the encoded CLIENT_HELLO: version 0, random 2, session_id 34, cookie 67, suites 100
  const body = encodeClientHello(CLIENT_HELLO);
  const patched = (at: number, bytes: number[]): Buffer => {
    const b = Buffer.from(body);
    Buffer.from(bytes).copy(b, at);
    return b;
  };
  const hostile: Array<[string, Buffer, number?]> = [
    ['empty body', Buffer.alloc(0)],
    ['random truncated', body.subarray(0, 20)],
    ['session_id 33 bytes', patched(34, [33])],
    ['cookie length beyond body', patched(67, [255])],
    ['cipher_suites zero length', Buffer.concat([body.subarray(0, 100), h('0000 01 00')])],
    ['cipher_suites odd length', Buffer.concat([body.subarray(0, 100), h('0003 c0a8ff 0100')])],
    ['compression_methods zero length', Buffer.concat([body.subarray(0, 100), h('0002 c0a8 00')])],
    ['compression_methods missing', Buffer.concat([body.subarray(0, 100), h('0002 c0a8')])],
    ['extensions length short by one', Buffer.concat([body.subarray(0, 100), h('0002 c0a8 0100 0001 00')])],
    ['one stray byte after compression', Buffer.concat([body.subarray(0, 100), h('0002 c0a8 0100 00')])],
    ['trailing bytes after extensions', Buffer.concat([body.subarray(0, 100), h('0002 c0a8 0100 0000 00')])],
    ['extension data beyond block', Buffer.concat([body.subarray(0, 100), h('0002 c0a8 0100 0004 0017 0001')])],
  ];
  for (const [name, b] of hostile) {
    it(`hostile: ${name} → decode_error`, () => expectFail(decodeClientHello(b)));
  }

  it('every truncation of a real ClientHello fails, except exactly before the extensions block', () => {
    const noExt = encodeClientHello({ ...CLIENT_HELLO, extensions: undefined }).length;
    for (let n = 0; n < body.length; n++) {
      const r = decodeClientHello(body.subarray(0, n));
      if (n === noExt) expect(r.ok).toBe(true);
      else expectFail(r);
    }
  });
});

describe('hello extensions (RFC 6066, 8422, 5246, 7250, 7627, 8449, 9146, 5746)', () => {
  const block = (...exts: string[]): Buffer => h(exts.join(''));
  const cases: Array<[string, Buffer, 'client' | 'server', number]> = [
    ['duplicate extension', block('0017 0000', '0017 0000'), 'client', AlertDescription.DECODE_ERROR],
    ['duplicate known-later extension', block('0036 0001 00', '0017 0000', '0036 0001 00'), 'client', AlertDescription.DECODE_ERROR],
    ['duplicate unknown extension', block('7777 0000', '7777 0000'), 'client', AlertDescription.DECODE_ERROR],
    ['extended_master_secret with data', block('0017 0001 00'), 'client', AlertDescription.DECODE_ERROR],
    ['max_fragment_length 5', block('0001 0001 05'), 'client', AlertDescription.ILLEGAL_PARAMETER],
    ['max_fragment_length 0', block('0001 0001 00'), 'client', AlertDescription.ILLEGAL_PARAMETER],
    ['max_fragment_length empty', block('0001 0000'), 'client', AlertDescription.DECODE_ERROR],
    ['supported_groups zero length', block('000a 0002 0000'), 'client', AlertDescription.DECODE_ERROR],
    ['supported_groups odd length', block('000a 0005 0003 001700'), 'client', AlertDescription.DECODE_ERROR],
    ['supported_groups list beyond data', block('000a 0004 0004 0017'), 'client', AlertDescription.DECODE_ERROR],
    ['ec_point_formats zero length', block('000b 0001 00'), 'client', AlertDescription.DECODE_ERROR],
    ['signature_algorithms zero length', block('000d 0002 0000'), 'client', AlertDescription.DECODE_ERROR],
    ['signature_algorithms odd length', block('000d 0005 0003 040301'), 'client', AlertDescription.DECODE_ERROR],
    ['client_certificate_type empty list', block('0013 0001 00'), 'client', AlertDescription.DECODE_ERROR],
    ['server answers two certificate types', block('0014 0002 0200'), 'server', AlertDescription.DECODE_ERROR],
    ['server answers empty certificate type', block('0013 0000'), 'server', AlertDescription.DECODE_ERROR],
    ['record_size_limit 63', block('001c 0002 003f'), 'client', AlertDescription.ILLEGAL_PARAMETER],
    ['record_size_limit 3 bytes', block('001c 0003 004000'), 'client', AlertDescription.DECODE_ERROR],
    ['connection_id length beyond data', block('0036 0003 0501 02'), 'client', AlertDescription.DECODE_ERROR],
    ['connection_id trailing byte', block('0036 0003 0101 02'), 'client', AlertDescription.DECODE_ERROR],
    ['connection_id empty data', block('0036 0000'), 'client', AlertDescription.DECODE_ERROR],
    ['renegotiation_info trailing', block('ff01 0002 0000'), 'server', AlertDescription.DECODE_ERROR],
    ['server_name empty list (client)', block('0000 0002 0000'), 'client', AlertDescription.DECODE_ERROR],
    ['server_name empty host name', block('0000 0005 0003 00 0000'), 'client', AlertDescription.DECODE_ERROR],
    ['server_name duplicate type', block('0000 000a 0008 00 0001 61 00 0001 62'), 'client', AlertDescription.ILLEGAL_PARAMETER],
    ['server_name with data from server', block('0000 0001 00'), 'server', AlertDescription.DECODE_ERROR],
    ['truncated extension header', block('00'), 'client', AlertDescription.DECODE_ERROR],
    ['extension length beyond block', block('0017 0004 00'), 'client', AlertDescription.DECODE_ERROR],
  ];
  for (const [name, data, side, alert] of cases) {
    it(`${name} → ${alertDescriptionName(alert)}`, () => expectFail(decodeHelloExtensions(data, side), alert));
  }

  it('keeps unknown extensions (and the draft CID code point 53) raw', () => {
    const d = value(decodeHelloExtensions(block('0035 0002 0142', '0017 0000', 'fe00 0003 010203'), 'client'));
    expect(d.connectionId).toBeUndefined();
    expect(d.unknown).toEqual([
      { type: 53, data: h('0142') },
      { type: 0xfe00, data: h('010203') },
    ]);
    expect(d.order).toEqual([53, 23, 0xfe00]);
  });

  it('an empty CID is allowed (client supports CID but uses none)', () => {
    expect(value(decodeHelloExtensions(block('0036 0001 00'), 'client')).connectionId!.length).toBe(0);
  });
});

describe('ServerHello and HelloVerifyRequest', () => {
  it('ServerHello round-trips with the one-byte certificate types and the empty server_name', () => {
    const body = encodeServerHello(SERVER_HELLO);
    const d = value(decodeServerHello(body));
    expect(d.extensions!.serverName).toEqual([]);
    expect(d.extensions!.clientCertificateTypes).toEqual([0]);
    expect(d.extensions!.serverCertificateTypes).toEqual([2]);
    expect(d.extensions!.order).toEqual([0, 1, 11, 19, 20, 28, 23, 0xff01, 54]);
    expect(encodeServerHello(d).equals(body)).toBe(true);
    // the server-side extensions encode certificate types as a single byte
    const ext = encodeHelloExtensions({ serverCertificateTypes: [2] }, 'server');
    expect(ext.toString('hex')).toBe('0005' + '0014000102');
    expect(() => encodeHelloExtensions({ serverCertificateTypes: [2, 0] }, 'server')).toThrow(RangeError);
  });

  it('ServerHello hostile bodies', () => {
    const body = encodeServerHello(SERVER_HELLO);
    expectFail(decodeServerHello(body.subarray(0, 69))); // 70 bytes = valid hello without extensions
    expect(decodeServerHello(body.subarray(0, 70)).ok).toBe(true);
    expectFail(decodeServerHello(Buffer.concat([body.subarray(0, 34), h('21'), Buffer.alloc(33)])));
    const dup = encodeServerHello({ ...SERVER_HELLO, extensions: undefined });
    expectFail(decodeServerHello(Buffer.concat([dup, h('0008 0017 0000 0017 0000')])));
  });

  it('HelloVerifyRequest round-trips and rejects bad lengths', () => {
    const hvr = h('fefd 20') ;
    const body = Buffer.concat([hvr, Buffer.alloc(32, 9)]);
    const d = value(decodeHelloVerifyRequest(body));
    expect(d.serverVersion).toBe(0xfefd);
    expect(d.cookie.length).toBe(32);
    expectFail(decodeHelloVerifyRequest(body.subarray(0, 20)));
    expectFail(decodeHelloVerifyRequest(Buffer.concat([body, h('00')])));
    expectFail(decodeHelloVerifyRequest(h('fe')));
  });
});

describe('Certificate (RFC 5246 §7.4.2, RFC 7250 §3)', () => {
  const spki = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'der' });

  it('RawPublicKey form carries one SubjectPublicKeyInfo', () => {
    const body = encodeCertificate({ certificateType: CertificateType.RAW_PUBLIC_KEY, subjectPublicKeyInfo: spki });
    expect(body.readUIntBE(0, 3)).toBe(spki.length);
    const d = value(decodeCertificate(body, CertificateType.RAW_PUBLIC_KEY));
    expect(d).toEqual({ certificateType: 2, subjectPublicKeyInfo: spki });
    expect(encodeCertificate(d).equals(body)).toBe(true);
    expect(value(decodeCertificate(h('000000'), CertificateType.RAW_PUBLIC_KEY))).toEqual({ certificateType: 2 });
    expectFail(decodeCertificate(body.subarray(0, body.length - 1), CertificateType.RAW_PUBLIC_KEY));
    expectFail(decodeCertificate(Buffer.concat([body, h('00')]), CertificateType.RAW_PUBLIC_KEY));
  });

  it('X.509 form carries a chain; an empty list is the empty certificate', () => {
    const chain = [randomBytes(300), randomBytes(200)];
    const body = encodeCertificate({ certificateType: CertificateType.X509, chain });
    expect(body.length).toBe(3 + 3 + 300 + 3 + 200);
    const d = value(decodeCertificate(body, CertificateType.X509));
    expect(d).toEqual({ certificateType: 0, chain });
    expect(encodeCertificate(d).equals(body)).toBe(true);
    expect(value(decodeCertificate(h('000000'), CertificateType.X509))).toEqual({ certificateType: 0, chain: [] });
    expectFail(decodeCertificate(h('000003 000000'), CertificateType.X509)); // zero-length ASN.1Cert
    expectFail(decodeCertificate(h('000005 000003 0102'), CertificateType.X509)); // cert beyond list
    expectFail(decodeCertificate(h('0000ff 000001 01'), CertificateType.X509)); // list beyond body
    expectFail(decodeCertificate(h('000000'), CertificateType.OPEN_PGP), AlertDescription.UNSUPPORTED_CERTIFICATE);
  });
});

describe('ServerKeyExchange (RFC 8422 §5.4, RFC 4279 §2, RFC 5489 §2)', () => {
  it('signed ECDHE params verify against the documented signed data', () => {
    const ecdh = createECDH('prime256v1');
    ecdh.generateKeys();
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const clientRandom = randomBytes(32);
    const serverRandom = randomBytes(32);
    const params = { namedGroup: NamedGroup.SECP256R1, publicKey: ecdh.getPublicKey() };
    const sig = createSign('sha256').update(serverKeyExchangeSignedData(clientRandom, serverRandom, params)).sign(privateKey);
    const body = encodeServerKeyExchange({ form: 'ecdhe', params, signed: { algorithm: ECDSA_SHA256, signature: sig } });
    expect(body.subarray(0, 4).toString('hex')).toBe('03001741');
    const d = value(decodeServerKeyExchange(body, 'ecdhe'));
    if (d.form !== 'ecdhe') throw new Error('form');
    expect(d.params.namedGroup).toBe(23);
    expect(d.signed.algorithm).toEqual(ECDSA_SHA256);
    const ok = createVerify('sha256')
      .update(Buffer.concat([clientRandom, serverRandom, encodeEcdheParams(d.params)]))
      .verify(publicKey, d.signed.signature);
    expect(ok).toBe(true);
    expect(encodeServerKeyExchange(d).equals(body)).toBe(true);
    // explicit curves are not supported
    const explicit = Buffer.from(body);
    explicit[0] = 1;
    expectFail(decodeServerKeyExchange(explicit, 'ecdhe'), AlertDescription.ILLEGAL_PARAMETER);
    expectFail(decodeServerKeyExchange(h('030017 00 0403 0000'), 'ecdhe')); // zero-length point
    expectFail(decodeServerKeyExchange(body.subarray(0, body.length - 1), 'ecdhe'));
  });

  it('PSK hint and ECDHE_PSK forms', () => {
    const psk = encodeServerKeyExchange({ form: 'psk', identityHint: Buffer.from('hint') });
    expect(psk.toString('hex')).toBe('000468696e74');
    expect(value(decodeServerKeyExchange(psk, 'psk'))).toEqual({ form: 'psk', identityHint: Buffer.from('hint') });
    expect(value(decodeServerKeyExchange(h('0000'), 'psk'))).toEqual({ form: 'psk', identityHint: Buffer.alloc(0) });
    const x = createECDH('prime256v1');
    x.generateKeys();
    const params = { namedGroup: NamedGroup.X25519, publicKey: randomBytes(32) };
    const body = encodeServerKeyExchange({ form: 'ecdhe_psk', identityHint: Buffer.alloc(0), params });
    expect(body.toString('hex')).toBe('0000' + '03001d20' + params.publicKey.toString('hex'));
    expect(value(decodeServerKeyExchange(body, 'ecdhe_psk'))).toEqual({ form: 'ecdhe_psk', identityHint: Buffer.alloc(0), params });
    expectFail(decodeServerKeyExchange(body, 'psk'));
    expectFail(decodeServerKeyExchange(h('0005 6869'), 'psk'));
  });
});

describe('CertificateRequest, ClientKeyExchange, CertificateVerify, Finished, ServerHelloDone', () => {
  it('CertificateRequest round-trips and rejects empty vectors', () => {
    const cr = {
      certificateTypes: [ClientCertificateType.ECDSA_SIGN, ClientCertificateType.RSA_SIGN],
      supportedSignatureAlgorithms: [ECDSA_SHA256, RSA_SHA256],
      certificateAuthorities: [randomBytes(60), randomBytes(70)],
    };
    const body = encodeCertificateRequest(cr);
    expect(value(decodeCertificateRequest(body))).toEqual(cr);
    const noCas = encodeCertificateRequest({ ...cr, certificateAuthorities: [] });
    expect(noCas.toString('hex')).toBe('024001' + '000404030401' + '0000');
    expectFail(decodeCertificateRequest(h('00 0002 0403 0000'))); // no certificate types
    expectFail(decodeCertificateRequest(h('0140 0000 0000'))); // no signature algorithms
    expectFail(decodeCertificateRequest(h('0140 0002 0403 0002 0000'))); // empty DistinguishedName
    expectFail(decodeCertificateRequest(h('0140 0002 0403 0000 00'))); // trailing
  });

  it('ClientKeyExchange forms', () => {
    const id = Buffer.from('Client_identity');
    const point = createECDH('prime256v1').generateKeys();
    const forms = [
      { form: 'psk' as const, identity: id },
      { form: 'ecdhe' as const, publicKey: point },
      { form: 'ecdhe_psk' as const, identity: id, publicKey: point },
    ];
    for (const f of forms) {
      const body = encodeClientKeyExchange(f);
      expect(value(decodeClientKeyExchange(body, f.form))).toEqual(f);
    }
    expect(encodeClientKeyExchange(forms[0]!).toString('hex')).toBe('000f436c69656e745f6964656e74697479');
    expectFail(decodeClientKeyExchange(h('00'), 'ecdhe')); // zero-length point
    expectFail(decodeClientKeyExchange(h('0000 00'), 'ecdhe_psk'));
    expectFail(decodeClientKeyExchange(h('0010 436c69656e745f6964656e74697479'), 'psk')); // identity beyond body
    expectFail(decodeClientKeyExchange(h('0000 00'), 'psk')); // trailing
  });

  it('CertificateVerify round-trips', () => {
    const cv = { algorithm: ED25519, signature: randomBytes(64) };
    const body = encodeCertificateVerify(cv);
    expect(body.subarray(0, 4).toString('hex')).toBe('08070040');
    expect(value(decodeCertificateVerify(body))).toEqual(cv);
    expectFail(decodeCertificateVerify(body.subarray(0, 3)));
    expectFail(decodeCertificateVerify(Buffer.concat([body, h('00')])));
  });

  it('Finished has exactly 12 bytes; ServerHelloDone none', () => {
    const vd = randomBytes(12);
    expect(value(decodeFinished(encodeFinished({ verifyData: vd }))).verifyData).toEqual(vd);
    expectFail(decodeFinished(randomBytes(11)));
    expectFail(decodeFinished(randomBytes(13)));
    expect(() => encodeFinished({ verifyData: randomBytes(11) })).toThrow(RangeError);
    expect(decodeServerHelloDone(Buffer.alloc(0)).ok).toBe(true);
    expectFail(decodeServerHelloDone(h('00')));
  });

  it('decodeHandshakeMessage dispatches and needs the negotiated context', () => {
    const ckx = { msgType: HandshakeType.CLIENT_KEY_EXCHANGE, messageSeq: 2, body: h('0000') };
    expectFail(decodeHandshakeMessage(ckx), AlertDescription.UNEXPECTED_MESSAGE);
    expect(value(decodeHandshakeMessage(ckx, { keyExchange: 'psk' }))).toEqual({
      msgType: 16,
      message: { form: 'psk', identity: Buffer.alloc(0) },
    });
    expectFail(decodeHandshakeMessage({ msgType: 0, messageSeq: 0, body: Buffer.alloc(0) }), AlertDescription.UNEXPECTED_MESSAGE);
    expectFail(decodeHandshakeMessage({ msgType: 99, messageSeq: 0, body: Buffer.alloc(0) }), AlertDescription.UNEXPECTED_MESSAGE);
    expectFail(decodeHandshakeMessage({ msgType: 11, messageSeq: 0, body: h('000000') }), AlertDescription.UNEXPECTED_MESSAGE);
    expect(value(decodeHandshakeMessage({ msgType: 11, messageSeq: 0, body: h('000000') }, { certificateType: 0 })).msgType).toBe(11);
    expect(value(decodeHandshakeMessage({ msgType: 14, messageSeq: 0, body: Buffer.alloc(0) })).msgType).toBe(14);
    expect(handshakeTypeName(3)).toBe('hello_verify_request');
    expect(handshakeTypeName(77)).toBe('unknown(77)');
  });
});

describe('Alert and ChangeCipherSpec (RFC 5246 §7.2, §7.1)', () => {
  it('has every RFC 5246 alert description with its name', () => {
    const rfc5246: Array<[number, string]> = [
      [0, 'close_notify'], [10, 'unexpected_message'], [20, 'bad_record_mac'], [21, 'decryption_failed_reserved'],
      [22, 'record_overflow'], [30, 'decompression_failure'], [40, 'handshake_failure'], [41, 'no_certificate_reserved'],
      [42, 'bad_certificate'], [43, 'unsupported_certificate'], [44, 'certificate_revoked'], [45, 'certificate_expired'],
      [46, 'certificate_unknown'], [47, 'illegal_parameter'], [48, 'unknown_ca'], [49, 'access_denied'],
      [50, 'decode_error'], [51, 'decrypt_error'], [60, 'export_restriction_reserved'], [70, 'protocol_version'],
      [71, 'insufficient_security'], [80, 'internal_error'], [90, 'user_canceled'], [100, 'no_renegotiation'],
      [110, 'unsupported_extension'],
    ];
    for (const [code, name] of rfc5246) expect(alertDescriptionName(code)).toBe(name);
    expect(alertDescriptionName(AlertDescription.UNKNOWN_PSK_IDENTITY)).toBe('unknown_psk_identity');
    expect(alertDescriptionName(200)).toBe('unknown(200)');
    expect(alertLevelName(2)).toBe('fatal');
  });

  it('encodes and decodes alert bodies', () => {
    const body = encodeAlert({ level: AlertLevel.FATAL, description: AlertDescription.HANDSHAKE_FAILURE });
    expect(body.toString('hex')).toBe('0228');
    expect(value(decodeAlert(body))).toEqual({ level: 2, description: 40 });
    expect(value(decodeAlert(h('0100')))).toEqual({ level: 1, description: 0 });
    expectFail(decodeAlert(h('02')));
    expectFail(decodeAlert(h('022800')));
    expectFail(decodeAlert(h('0328')), AlertDescription.ILLEGAL_PARAMETER);
  });

  it('checks ChangeCipherSpec bodies', () => {
    expectFail(decodeChangeCipherSpec(h('')));
    expectFail(decodeChangeCipherSpec(h('0101')));
    expectFail(decodeChangeCipherSpec(h('02')), AlertDescription.ILLEGAL_PARAMETER);
  });

  it('extension type constants match the IANA registry', () => {
    expect(ExtensionType).toMatchObject({
      SERVER_NAME: 0, MAX_FRAGMENT_LENGTH: 1, SUPPORTED_GROUPS: 10, EC_POINT_FORMATS: 11, SIGNATURE_ALGORITHMS: 13,
      CLIENT_CERTIFICATE_TYPE: 19, SERVER_CERTIFICATE_TYPE: 20, EXTENDED_MASTER_SECRET: 23, RECORD_SIZE_LIMIT: 28,
      CONNECTION_ID: 54, RENEGOTIATION_INFO: 0xff01,
    });
    expect(NamedGroup).toMatchObject({ SECP256R1: 23, SECP384R1: 24, X25519: 29, X448: 30 });
  });
});

// Server handshake (RFC 6347 §4.2.4 flights 4 and 6; RFC 5246 §7.3; abbreviated handshake RFC 5246 §7.3
// figure 2): built from the verified ClientHello, then driven by the client's messages. No I/O here: every
// step returns a HandshakeOutcome the connector executes.
import type { KeyObject } from 'node:crypto';
import { AlertDescription } from './handshake/alert.js';
import {
  CertificateType,
  ClientCertificateType,
  HandshakeType,
  ProtocolVersion,
  decodeHandshakeMessage,
  encodeCertificate,
  encodeCertificateRequest,
  encodeFinished,
  encodeServerHello,
  encodeServerHelloDone,
  encodeServerKeyExchange,
  offersSecureRenegotiation,
  serverKeyExchangeSignedData,
  MAX_FRAGMENT_LENGTH_BYTES,
  type DecodedClientHello,
  type HandshakeMessage,
  type HelloExtensions,
  type KeyExchangeForm,
  type ServerKeyExchange,
} from './handshake/index.js';
import { createReassembler } from './handshake/reassembler.js';
import { certificateChainForSending } from './credentials/server-identity.js';
import type { ServerIdentity } from './credentials/demo-pki.js';
import { signData, SUPPORTED_SIGNATURE_ALGORITHMS, verifySignature } from './credentials/signature.js';
import { computePremasterSecret, generateEcdheKeyPair, type EcdheKeyPair } from './ecdhe.js';
import type { FlightEntry } from './flight.js';
import {
  WAIT,
  addToTranscript,
  computeMasterSecret,
  createTranscript,
  deriveEpoch,
  expectedVerifyData,
  fail,
  ownMessage,
  transcriptBytes,
  verifyDataMatches,
  type HandshakeBase,
  type HandshakeEnv,
  type HandshakeOutcome,
} from './handshake-common.js';
import { HmacSha256Key } from './hmac-sha256.js';
import { ecdhePskPreMasterSecret, pskPreMasterSecret } from './keys.js';
import { selectServerParameters, type ServerSelection } from './negotiation.js';
import { copySession, type Session } from './session.js';
import type { CipherSuite } from './cipher-suites.js';

/** What the server waits for next. */
export type ServerExpect = 'certificate' | 'client-key-exchange' | 'certificate-verify' | 'finished' | 'done';

/** State of a server handshake. */
export interface ServerHandshake extends HandshakeBase {
  readonly role: 'server';
  clientHello: DecodedClientHello;
  expect: ServerExpect;
  /** the client's PSK identity was unknown: a random secret stands in (the log says so if the handshake fails) */
  unknownIdentity?: string;
  ems: boolean;
  secureRenegotiation: boolean;
  selection: ServerSelection | undefined;
  ecdhe: EcdheKeyPair | undefined;
  certificateRequested: boolean;
  clientPublicKey: KeyObject | undefined;
  peerIdentity: string | undefined;
  /** client's record_size_limit / negotiated max_fragment_length (bytes) */
  peerRecordSizeLimit: number | undefined;
  maxFragmentLength: number | undefined;
  sessionId: Buffer;
  /** resumption without cookie exchange (counts against verifyPeersOnResumptionThreshold) */
  unverifiedResumption: boolean;
}

/** Inputs of a server handshake besides the environment. */
export interface ServerStart {
  /** the verified ClientHello and its message (message_seq, raw body) */
  hello: DecodedClientHello;
  helloMessage: HandshakeMessage;
  /** own CID for this connection (called only if a CID is negotiated) */
  newCid: () => Buffer;
  /** session of a session id still in the store */
  findSession: (id: Buffer) => Session | undefined;
  unverifiedResumption: boolean;
}

/** Key exchange form of a suite's ClientKeyExchange / ServerKeyExchange. */
export function keyExchangeForm(suite: CipherSuite): KeyExchangeForm {
  return suite.keyExchange === 'PSK' ? 'psk' : suite.keyExchange === 'ECDHE_PSK' ? 'ecdhe_psk' : 'ecdhe';
}

/** Creates the handshake state and processes the ClientHello: the first server flight or a failure. */
export function startServerHandshake(env: HandshakeEnv, start: ServerStart): { hs: ServerHandshake; outcome: HandshakeOutcome } {
  const { hello, helloMessage } = start;
  const hs: ServerHandshake = {
    role: 'server',
    state: 'preparing',
    reassembler: createReassembler({ nextSeq: helloMessage.messageSeq + 1, maxMessageLength: env.config.maxFragmentedHandshakeMessageLength }),
    transcript: createTranscript(),
    // the server's first message takes the ClientHello's message_seq (Californium, OpenSSL after a cookie exchange)
    sendSeq: helloMessage.messageSeq,
    clientRandom: hello.random,
    serverRandom: env.random('random', 32),
    suite: undefined,
    master: undefined,
    pending: undefined,
    session: undefined,
    readCid: undefined,
    writeCid: undefined,
    flight: undefined,
    deferred: [],
    peerCcs: false,
    ccsSerial: -1,
    earlyData: [],
    macErrors: 0,
    resumed: false,
    peerRetransmitSerial: -1,
    startTime: env.now(),
    clientHello: hello,
    expect: 'client-key-exchange',
    ems: false,
    secureRenegotiation: false,
    selection: undefined,
    ecdhe: undefined,
    certificateRequested: false,
    clientPublicKey: undefined,
    peerIdentity: undefined,
    peerRecordSizeLimit: undefined,
    maxFragmentLength: undefined,
    sessionId: Buffer.alloc(0),
    unverifiedResumption: start.unverifiedResumption,
  };
  addToTranscript(hs.transcript, helloMessage);
  return { hs, outcome: processClientHello(env, hs, start) };
}

function processClientHello(env: HandshakeEnv, hs: ServerHandshake, start: ServerStart): HandshakeOutcome {
  const { config } = env;
  const hello = hs.clientHello;
  const ext = hello.extensions;
  // RFC 6347 §4.1: DTLS 1.2 only (a higher uint16 is an older version)
  if (hello.clientVersion > ProtocolVersion.DTLS_1_2) return fail(AlertDescription.PROTOCOL_VERSION, `client version ${hello.clientVersion.toString(16)}`);
  if (!hello.compressionMethods.includes(0)) return fail(AlertDescription.HANDSHAKE_FAILURE, 'no null compression');
  // RFC 5746 §3.6: an initial handshake carries an empty renegotiation_info
  if (ext?.renegotiationInfo !== undefined && ext.renegotiationInfo.length > 0) {
    return fail(AlertDescription.HANDSHAKE_FAILURE, 'renegotiation_info not empty');
  }
  hs.secureRenegotiation = offersSecureRenegotiation(hello);
  // RFC 7627 §5.2 per DTLS.EXTENDED_MASTER_SECRET_MODE
  const offeredEms = ext?.extendedMasterSecret === true;
  if (config.extendedMasterSecretMode === 'REQUIRED' && !offeredEms) return fail(AlertDescription.HANDSHAKE_FAILURE, 'extended master secret required');
  hs.ems = config.extendedMasterSecretMode !== 'NONE' && offeredEms;
  if (ext?.maxFragmentLength !== undefined) hs.maxFragmentLength = MAX_FRAGMENT_LENGTH_BYTES[ext.maxFragmentLength];
  if (ext?.recordSizeLimit !== undefined) hs.peerRecordSizeLimit = ext.recordSizeLimit;

  const sx: HelloExtensions = {};
  if (hs.ems) sx.extendedMasterSecret = true;
  if (hs.secureRenegotiation) sx.renegotiationInfo = Buffer.alloc(0);
  if (config.cidLength !== undefined && ext?.connectionId !== undefined) {
    // RFC 9146 §3: the client's CID is what we write; ours (possibly empty) is what it writes
    hs.writeCid = Buffer.from(ext.connectionId);
    hs.readCid = config.cidLength > 0 ? start.newCid() : Buffer.alloc(0);
    sx.connectionId = hs.readCid;
  }
  if (ext?.maxFragmentLength !== undefined) sx.maxFragmentLength = ext.maxFragmentLength;
  if (ext?.recordSizeLimit !== undefined) sx.recordSizeLimit = config.recordSizeLimit ?? 16384;

  // resumption (dtls.md §7): known, unexpired session, its suite offered, same EMS usage (RFC 7627 §5.3)
  if (hello.sessionId.length > 0 && config.serverUseSessionId) {
    const session = start.findSession(hello.sessionId);
    if (
      session !== undefined &&
      env.now() - session.creationTime < config.sessionTimeout &&
      hello.cipherSuites.includes(session.cipherSuite.code) &&
      config.cipherSuites.some((s) => s.code === session.cipherSuite.code) &&
      session.extendedMasterSecret === hs.ems
    ) {
      return resume(env, hs, session, sx);
    }
  }
  hs.unverifiedResumption = false;

  const selection = selectServerParameters(config, hello, env.credentials.pskStore !== undefined, env.credentials.identities);
  if (selection === undefined) return fail(AlertDescription.HANDSHAKE_FAILURE, 'no common cipher suite');
  hs.selection = selection;
  const suite = selection.suite;
  hs.suite = suite;
  hs.sessionId = config.serverUseSessionId ? env.random('session-id', 32) : Buffer.alloc(0);
  const ecc = suite.keyExchange !== 'PSK';
  if (ecc && ext?.ecPointFormats !== undefined) sx.ecPointFormats = [0];
  if (suite.certificate) {
    if (ext?.serverCertificateTypes !== undefined) sx.serverCertificateTypes = [selection.serverCertificateType!];
    hs.certificateRequested = selection.clientCertificateType !== undefined;
    if (hs.certificateRequested && ext?.clientCertificateTypes !== undefined) sx.clientCertificateTypes = [selection.clientCertificateType!];
  }

  const entries: FlightEntry[] = [];
  entries.push(ownMessage(hs, HandshakeType.SERVER_HELLO, serverHelloBody(hs, suite, sx)));
  if (suite.certificate) {
    entries.push(ownMessage(hs, HandshakeType.CERTIFICATE, certificateBody(selection.identity!, selection.serverCertificateType === CertificateType.RAW_PUBLIC_KEY)));
  }
  if (ecc) {
    hs.ecdhe = generateEcdheKeyPair(selection.group!);
    const params = { namedGroup: selection.group!, publicKey: hs.ecdhe.publicPoint };
    let skx: ServerKeyExchange;
    if (suite.keyExchange === 'ECDHE_PSK') {
      skx = { form: 'ecdhe_psk', identityHint: Buffer.alloc(0), params };
    } else {
      const alg = selection.signatureAlgorithm!;
      const signature = signData(alg, selection.identity!.privateKey, serverKeyExchangeSignedData(hs.clientRandom, hs.serverRandom, params));
      skx = { form: 'ecdhe', params, signed: { algorithm: alg, signature } };
    }
    entries.push(ownMessage(hs, HandshakeType.SERVER_KEY_EXCHANGE, encodeServerKeyExchange(skx)));
  }
  if (hs.certificateRequested) entries.push(ownMessage(hs, HandshakeType.CERTIFICATE_REQUEST, certificateRequestBody()));
  entries.push(ownMessage(hs, HandshakeType.SERVER_HELLO_DONE, encodeServerHelloDone()));
  hs.expect = hs.certificateRequested ? 'certificate' : 'client-key-exchange';
  return { kind: 'flight', entries, ecc };
}

/** Certificate bodies (RFC 5246 §7.4.2; RFC 7250 §3) per identity, encoded once: the same bytes for every handshake. */
const certificateBodies = new WeakMap<ServerIdentity, { x509?: Buffer; rpk?: Buffer }>();

/** Our Certificate message body for an identity: its X.509 chain as sent, or its raw public key. */
function certificateBody(identity: ServerIdentity, rawPublicKey: boolean): Buffer {
  let bodies = certificateBodies.get(identity);
  if (bodies === undefined) certificateBodies.set(identity, (bodies = {}));
  if (rawPublicKey) return (bodies.rpk ??= encodeCertificate({ certificateType: CertificateType.RAW_PUBLIC_KEY, subjectPublicKeyInfo: identity.spki }));
  return (bodies.x509 ??= encodeCertificate({ certificateType: CertificateType.X509, chain: certificateChainForSending(identity.chain).map((c) => c.raw) }));
}

let certificateRequest: Buffer | undefined;

/** Our CertificateRequest body (RFC 5246 §7.4.4), the same for every handshake: encoded once. */
function certificateRequestBody(): Buffer {
  return (certificateRequest ??= encodeCertificateRequest({
    certificateTypes: [ClientCertificateType.ECDSA_SIGN, ClientCertificateType.RSA_SIGN],
    supportedSignatureAlgorithms: [...SUPPORTED_SIGNATURE_ALGORITHMS],
    certificateAuthorities: [],
  }));
}

function serverHelloBody(hs: ServerHandshake, suite: CipherSuite, sx: HelloExtensions): Buffer {
  return encodeServerHello({
    serverVersion: ProtocolVersion.DTLS_1_2,
    random: hs.serverRandom,
    sessionId: hs.sessionId,
    cipherSuite: suite.code,
    compressionMethod: 0,
    // RFC 5246 §7.4.1.4: no extensions block at all when there is no extension to send
    extensions: Object.keys(sx).length > 0 ? sx : undefined,
  });
}

/** Abbreviated handshake (RFC 5246 §7.3): ServerHello, ChangeCipherSpec, Finished. */
function resume(env: HandshakeEnv, hs: ServerHandshake, session: Session, sx: HelloExtensions): HandshakeOutcome {
  const suite = session.cipherSuite;
  hs.resumed = true;
  hs.suite = suite;
  hs.sessionId = session.id;
  hs.peerIdentity = session.peerIdentity;
  hs.master = session.masterSecret;
  hs.masterKey = new HmacSha256Key(hs.master);
  hs.session = {
    ...copySession(session),
    secureRenegotiation: hs.secureRenegotiation,
    recordSizeLimit: hs.peerRecordSizeLimit,
    maxFragmentLength: hs.maxFragmentLength,
  };
  hs.pending = deriveEpoch(hs.masterKey, hs.clientRandom, hs.serverRandom, suite, 'server');
  const entries: FlightEntry[] = [ownMessage(hs, HandshakeType.SERVER_HELLO, serverHelloBody(hs, suite, sx))];
  entries.push({ kind: 'ccs', epoch: 0 });
  entries.push(ownMessage(hs, HandshakeType.FINISHED, encodeFinished({ verifyData: expectedVerifyData(hs, 'server') }), 1));
  hs.expect = 'finished';
  env.logger?.debug({ suite: suite.name }, 'dtls server: resuming session');
  return { kind: 'flight', entries, ecc: false };
}

/** Processes one complete message of the client's flight (in message_seq order). */
export function serverReceive(env: HandshakeEnv, hs: ServerHandshake, msg: HandshakeMessage): HandshakeOutcome {
  const suite = hs.suite!;
  if (msg.msgType === HandshakeType.CLIENT_HELLO) return WAIT; // retransmissions are handled by the connector
  const decoded = decodeHandshakeMessage(msg, {
    keyExchange: keyExchangeForm(suite),
    certificateType: hs.selection?.clientCertificateType ?? CertificateType.X509,
  });
  if (!decoded.ok) return fail(decoded.alert, decoded.reason);
  const d = decoded.value;
  switch (d.msgType) {
    case HandshakeType.CERTIFICATE: {
      if (hs.expect !== 'certificate') return unexpected(msg);
      const cert = d.message;
      let empty = true;
      if (cert.certificateType === CertificateType.X509 && cert.chain.length > 0) {
        empty = false;
        const result = env.validateChain(cert.chain, 'client');
        if (!result.ok) return fail(alertOf(result.alert), `client certificate: ${result.message}`);
        hs.clientPublicKey = result.publicKey;
        hs.peerIdentity = result.subject;
      } else if (cert.certificateType === CertificateType.RAW_PUBLIC_KEY && cert.subjectPublicKeyInfo !== undefined) {
        empty = false;
        const rpk = env.parseRawPublicKey(cert.subjectPublicKeyInfo);
        if (!rpk.ok) return fail(AlertDescription.BAD_CERTIFICATE, rpk.reason);
        hs.clientPublicKey = rpk.publicKey;
        hs.peerIdentity = rpk.identity;
      }
      if (empty && env.config.clientAuthentication === 'NEEDED') return fail(AlertDescription.HANDSHAKE_FAILURE, 'client certificate required');
      addToTranscript(hs.transcript, msg);
      hs.expect = 'client-key-exchange';
      return WAIT;
    }
    case HandshakeType.CLIENT_KEY_EXCHANGE: {
      if (hs.expect === 'certificate') {
        // a client must answer a CertificateRequest with a (possibly empty) Certificate; tolerate its absence
        if (env.config.clientAuthentication === 'NEEDED') return fail(AlertDescription.HANDSHAKE_FAILURE, 'client certificate required');
      } else if (hs.expect !== 'client-key-exchange') {
        return unexpected(msg);
      }
      const ckx = d.message;
      let preMaster: Buffer;
      if (ckx.form === 'psk' || ckx.form === 'ecdhe_psk') {
        const identity = ckx.identity.toString('utf8');
        let secret = env.credentials.pskStore?.lookup(identity);
        if (secret === undefined) {
          // RFC 4279 §2: to hide which identities exist, go on as if the identity were known with a wrong
          // key: the client's Finished then fails exactly as with a wrong secret (no identity oracle)
          if (env.credentials.pskStore === undefined) return fail(AlertDescription.UNKNOWN_PSK_IDENTITY, `unknown PSK identity '${identity}'`);
          hs.unknownIdentity = identity;
          secret = env.random('random', 16);
        }
        hs.peerIdentity = identity;
        if (ckx.form === 'psk') {
          preMaster = pskPreMasterSecret(secret);
        } else {
          const shared = computePremasterSecret(hs.ecdhe!, ckx.publicKey);
          if (!shared.ok) return fail(AlertDescription.ILLEGAL_PARAMETER, shared.reason);
          preMaster = ecdhePskPreMasterSecret(shared.premasterSecret, secret);
        }
      } else {
        const shared = computePremasterSecret(hs.ecdhe!, ckx.publicKey);
        if (!shared.ok) return fail(AlertDescription.ILLEGAL_PARAMETER, shared.reason);
        preMaster = shared.premasterSecret;
      }
      addToTranscript(hs.transcript, msg);
      hs.master = computeMasterSecret(hs, preMaster, hs.ems);
      // prepared once for the key block and both Finished (RFC 5246 §6.3, §7.4.9)
      hs.masterKey = new HmacSha256Key(hs.master);
      hs.pending = deriveEpoch(hs.masterKey, hs.clientRandom, hs.serverRandom, suite, 'server');
      hs.expect = hs.clientPublicKey !== undefined ? 'certificate-verify' : 'finished';
      return WAIT;
    }
    case HandshakeType.CERTIFICATE_VERIFY: {
      if (hs.expect !== 'certificate-verify') return unexpected(msg);
      const cv = d.message;
      const allowed = SUPPORTED_SIGNATURE_ALGORITHMS.some((a) => a.hash === cv.algorithm.hash && a.signature === cv.algorithm.signature);
      // RFC 5246 §7.4.8: signature over all handshake messages so far
      if (!allowed || !verifySignature(cv.algorithm, hs.clientPublicKey!, transcriptBytes(hs.transcript), cv.signature)) {
        return fail(AlertDescription.DECRYPT_ERROR, 'CertificateVerify signature invalid');
      }
      addToTranscript(hs.transcript, msg);
      hs.expect = 'finished';
      return WAIT;
    }
    case HandshakeType.FINISHED: {
      if (hs.expect !== 'finished') return unexpected(msg);
      if (!verifyDataMatches(expectedVerifyData(hs, 'client'), d.message.verifyData)) {
        return fail(AlertDescription.DECRYPT_ERROR, 'client Finished verify_data mismatch');
      }
      addToTranscript(hs.transcript, msg);
      hs.expect = 'done';
      if (hs.resumed) {
        hs.masterKey?.wipe();
        return { kind: 'complete', finalFlight: undefined };
      }
      const finished = ownMessage(hs, HandshakeType.FINISHED, encodeFinished({ verifyData: expectedVerifyData(hs, 'server') }), 1);
      hs.masterKey?.wipe(); // its last use
      hs.session = {
        id: hs.sessionId,
        cipherSuite: suite,
        masterSecret: hs.master!,
        peerIdentity: hs.peerIdentity,
        extendedMasterSecret: hs.ems,
        secureRenegotiation: hs.secureRenegotiation,
        creationTime: env.now(),
        recordSizeLimit: hs.peerRecordSizeLimit,
        maxFragmentLength: hs.maxFragmentLength,
        sendCertificateType: hs.selection?.serverCertificateType,
        receiveCertificateType: hs.clientPublicKey !== undefined ? hs.selection?.clientCertificateType : undefined,
        namedGroup: hs.selection?.group,
      };
      return { kind: 'complete', finalFlight: [{ kind: 'ccs', epoch: 0 }, finished] };
    }
    default:
      return unexpected(msg);
  }
}

function unexpected(msg: HandshakeMessage): HandshakeOutcome {
  return fail(AlertDescription.UNEXPECTED_MESSAGE, `unexpected message type ${msg.msgType}`);
}

/** Alert code of a chain validation failure name. */
export function alertOf(name: 'bad_certificate' | 'unknown_ca' | 'certificate_expired'): number {
  return name === 'unknown_ca' ? AlertDescription.UNKNOWN_CA : name === 'certificate_expired' ? AlertDescription.CERTIFICATE_EXPIRED : AlertDescription.BAD_CERTIFICATE;
}

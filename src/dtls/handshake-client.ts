// Client handshake (RFC 6347 §4.2.4 flights 1, 3, 5; RFC 5246 §7.3; abbreviated handshake with the
// previous session id). No I/O: every step returns a HandshakeOutcome the connector executes.
import type { KeyObject, X509Certificate } from 'node:crypto';
import type { CipherSuite } from './cipher-suites.js';
import { certificateInfo } from './credentials/chain-validation.js';
import type { ServerIdentity } from './credentials/demo-pki.js';
import { certificateChainForSending } from './credentials/server-identity.js';
import {
  signData,
  signatureAlgorithmFitsKey,
  SUPPORTED_SIGNATURE_ALGORITHMS,
  verifySignature,
  type SignatureAndHashAlgorithm,
} from './credentials/signature.js';
import { computePremasterSecret, generateEcdheKeyPair, isSupportedGroup, type NamedGroupId } from './ecdhe.js';
import type { FlightEntry } from './flight.js';
import { AlertDescription } from './handshake/alert.js';
import {
  CertificateType,
  ExtensionType,
  HandshakeType,
  MAX_FRAGMENT_LENGTH_BYTES,
  ProtocolVersion,
  TLS_EMPTY_RENEGOTIATION_INFO_SCSV,
  decodeHandshakeMessage,
  encodeCertificate,
  encodeCertificateVerify,
  encodeClientHello,
  encodeClientKeyExchange,
  encodeFinished,
  serverKeyExchangeSignedData,
  type CertificateRequest,
  type ClientHello,
  type ClientKeyExchange,
  type EcdheParams,
  type HandshakeMessage,
  type HelloExtensions,
  type ServerHello,
} from './handshake/index.js';
import { createReassembler } from './handshake/reassembler.js';
import {
  WAIT,
  addToTranscript,
  computeMasterSecret,
  configuredCertificateTypes,
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
import { alertOf, keyExchangeForm } from './handshake-server.js';
import { ecdhePskPreMasterSecret, pskPreMasterSecret } from './keys.js';
import { copySession, type Session } from './session.js';

/** What the client waits for next. */
export type ClientExpect = 'server-hello' | 'certificate' | 'server-key-exchange' | 'certificate-request' | 'server-hello-done' | 'finished' | 'done';

/** State of a client handshake. */
export interface ClientHandshake extends HandshakeBase {
  readonly role: 'client';
  hello: ClientHello;
  /** destination (server certificate subject check) */
  serverAddress: string;
  offeredSuites: CipherSuite[];
  offeredSession: Session | undefined;
  /** own CID offered in the ClientHello (undefined = no CID extension) */
  offeredCid: Buffer | undefined;
  expect: ClientExpect;
  helloVerifyRequests: number;
  ems: boolean;
  secureRenegotiation: boolean;
  serverCertificateType: number;
  clientCertificateType: number;
  serverPublicKey: KeyObject | undefined;
  peerIdentity: string | undefined;
  ecdheParams: EcdheParams | undefined;
  certificateRequest: CertificateRequest | undefined;
  peerRecordSizeLimit: number | undefined;
  maxFragmentLength: number | undefined;
  sessionId: Buffer;
}

/** Inputs of a client handshake besides the environment. */
export interface ClientStart {
  serverAddress: string;
  /** suites to offer in this order (filtered by the available credentials) */
  suites: readonly CipherSuite[];
  /** session to resume (its id is offered) */
  session: Session | undefined;
  /** own CID to offer (undefined = no connection_id extension) */
  cid: Buffer | undefined;
}

/** Most HelloVerifyRequests answered in one handshake. */
const MAX_HELLO_VERIFY_REQUESTS = 4;

/** The suites of `suites` the client can use with its credentials. */
export function usableClientSuites(env: HandshakeEnv, suites: readonly CipherSuite[]): CipherSuite[] {
  const hasPsk = env.credentials.pskIdentity !== undefined && env.credentials.pskSecret !== undefined;
  return suites.filter((s) => (s.psk ? hasPsk : true));
}

/** Creates the client handshake and its first flight (ClientHello, RFC 6347 §4.2.1). */
export function startClientHandshake(env: HandshakeEnv, start: ClientStart): { hs: ClientHandshake; outcome: HandshakeOutcome } {
  const { config } = env;
  const suites = usableClientSuites(env, start.suites);
  const ecc = suites.some((s) => s.keyExchange !== 'PSK');
  const certificate = suites.some((s) => s.certificate);
  const ext: HelloExtensions = {};
  if (ecc) {
    ext.supportedGroups = config.curves.filter(isSupportedGroup);
    ext.ecPointFormats = [0];
  }
  if (certificate) {
    ext.signatureAlgorithms = [...SUPPORTED_SIGNATURE_ALGORITHMS];
    if (env.credentials.identities.length > 0) ext.clientCertificateTypes = configuredCertificateTypes(config);
    ext.serverCertificateTypes = configuredCertificateTypes(config);
  }
  if (config.maxFragmentSize !== undefined) {
    const code = Object.entries(MAX_FRAGMENT_LENGTH_BYTES).find(([, bytes]) => bytes === config.maxFragmentSize)?.[0];
    if (code !== undefined) ext.maxFragmentLength = Number(code);
  }
  if (config.recordSizeLimit !== undefined) ext.recordSizeLimit = config.recordSizeLimit;
  if (config.extendedMasterSecretMode !== 'NONE') ext.extendedMasterSecret = true;
  if (start.cid !== undefined) ext.connectionId = start.cid;
  const session = start.session !== undefined && suites.some((s) => s.code === start.session!.cipherSuite.code) ? start.session : undefined;
  const hello: ClientHello = {
    clientVersion: ProtocolVersion.DTLS_1_2,
    random: env.random('random', 32),
    sessionId: session?.id ?? Buffer.alloc(0),
    cookie: Buffer.alloc(0),
    cipherSuites: [...suites.map((s) => s.code), TLS_EMPTY_RENEGOTIATION_INFO_SCSV],
    compressionMethods: [0],
    extensions: ext,
  };
  const hs: ClientHandshake = {
    role: 'client',
    state: 'preparing',
    reassembler: createReassembler({ nextSeq: 0, maxMessageLength: config.maxFragmentedHandshakeMessageLength }),
    transcript: createTranscript(),
    sendSeq: 0,
    clientRandom: hello.random,
    serverRandom: Buffer.alloc(0),
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
    hello,
    serverAddress: start.serverAddress,
    offeredSuites: suites,
    offeredSession: session,
    offeredCid: start.cid,
    expect: 'server-hello',
    helloVerifyRequests: 0,
    ems: false,
    secureRenegotiation: false,
    serverCertificateType: CertificateType.X509,
    clientCertificateType: CertificateType.X509,
    serverPublicKey: undefined,
    peerIdentity: undefined,
    ecdheParams: undefined,
    certificateRequest: undefined,
    peerRecordSizeLimit: undefined,
    maxFragmentLength: undefined,
    sessionId: Buffer.alloc(0),
  };
  if (suites.length === 0) return { hs, outcome: fail(AlertDescription.HANDSHAKE_FAILURE, 'no usable cipher suite (credentials missing?)') };
  const entry = ownMessage(hs, HandshakeType.CLIENT_HELLO, encodeClientHello(hello));
  return { hs, outcome: { kind: 'flight', entries: [entry], ecc: false } };
}

/** Processes one complete message from the server (in message_seq order). */
export function clientReceive(env: HandshakeEnv, hs: ClientHandshake, msg: HandshakeMessage): HandshakeOutcome {
  const decoded = decodeHandshakeMessage(msg, {
    ...(hs.suite !== undefined ? { keyExchange: keyExchangeForm(hs.suite) } : {}),
    certificateType: hs.serverCertificateType,
  });
  if (!decoded.ok) return fail(decoded.alert, decoded.reason);
  const d = decoded.value;
  switch (d.msgType) {
    case HandshakeType.HELLO_VERIFY_REQUEST: {
      if (hs.expect !== 'server-hello') return unexpected(msg);
      if (++hs.helloVerifyRequests > MAX_HELLO_VERIFY_REQUESTS) return fail(AlertDescription.HANDSHAKE_FAILURE, 'too many HelloVerifyRequests');
      // RFC 6347 §4.2.1: same ClientHello with the cookie; HVR and the first ClientHello are not hashed (§4.2.6)
      hs.hello.cookie = Buffer.from(d.message.cookie);
      hs.transcript = createTranscript();
      const entry = ownMessage(hs, HandshakeType.CLIENT_HELLO, encodeClientHello(hs.hello));
      return { kind: 'flight', entries: [entry], ecc: false };
    }
    case HandshakeType.SERVER_HELLO:
      if (hs.expect !== 'server-hello') return unexpected(msg);
      addToTranscript(hs.transcript, msg);
      return processServerHello(env, hs, d.message);
    case HandshakeType.CERTIFICATE: {
      if (hs.expect !== 'certificate') return unexpected(msg);
      const cert = d.message;
      if (cert.certificateType === CertificateType.X509) {
        if (cert.chain.length === 0) return fail(AlertDescription.BAD_CERTIFICATE, 'empty server certificate');
        const result = env.validateChain(cert.chain, 'server');
        if (!result.ok) return fail(alertOf(result.alert), `server certificate: ${result.message}`);
        if (env.credentials.verifyServerSubject && !env.credentials.trustAll && !subjectMatches(result.leaf, hs.serverAddress)) {
          return fail(AlertDescription.BAD_CERTIFICATE, `server certificate does not name ${hs.serverAddress}`);
        }
        hs.serverPublicKey = result.publicKey;
        hs.peerIdentity = result.subject;
      } else {
        if (cert.subjectPublicKeyInfo === undefined) return fail(AlertDescription.BAD_CERTIFICATE, 'empty server raw public key');
        const rpk = env.parseRawPublicKey(cert.subjectPublicKeyInfo);
        if (!rpk.ok) return fail(AlertDescription.BAD_CERTIFICATE, rpk.reason);
        hs.serverPublicKey = rpk.publicKey;
        hs.peerIdentity = rpk.identity;
      }
      addToTranscript(hs.transcript, msg);
      hs.expect = 'server-key-exchange';
      return WAIT;
    }
    case HandshakeType.SERVER_KEY_EXCHANGE: {
      const suite = hs.suite!;
      if (hs.expect !== 'server-key-exchange' && !(hs.expect === 'certificate-request' && suite.keyExchange === 'PSK')) return unexpected(msg);
      const skx = d.message;
      if (skx.form === 'ecdhe') {
        const params = skx.params;
        if (!hs.hello.extensions?.supportedGroups?.includes(params.namedGroup) || !isSupportedGroup(params.namedGroup)) {
          return fail(AlertDescription.ILLEGAL_PARAMETER, `server chose group ${params.namedGroup}`);
        }
        const alg = skx.signed.algorithm;
        const offered = SUPPORTED_SIGNATURE_ALGORITHMS.some((a) => a.hash === alg.hash && a.signature === alg.signature);
        const data = serverKeyExchangeSignedData(hs.clientRandom, hs.serverRandom, params);
        if (!offered || !verifySignature(alg, hs.serverPublicKey!, data, skx.signed.signature)) {
          return fail(AlertDescription.DECRYPT_ERROR, 'ServerKeyExchange signature invalid');
        }
        hs.ecdheParams = params;
      } else if (skx.form === 'ecdhe_psk') {
        if (!isSupportedGroup(skx.params.namedGroup)) return fail(AlertDescription.ILLEGAL_PARAMETER, `server chose group ${skx.params.namedGroup}`);
        hs.ecdheParams = skx.params;
      }
      addToTranscript(hs.transcript, msg);
      hs.expect = 'certificate-request';
      return WAIT;
    }
    case HandshakeType.CERTIFICATE_REQUEST: {
      if (hs.expect !== 'certificate-request' || !hs.suite!.certificate) return unexpected(msg);
      hs.certificateRequest = d.message;
      addToTranscript(hs.transcript, msg);
      hs.expect = 'server-hello-done';
      return WAIT;
    }
    case HandshakeType.SERVER_HELLO_DONE: {
      if (hs.expect !== 'certificate-request' && hs.expect !== 'server-hello-done') return unexpected(msg);
      if (hs.suite!.keyExchange !== 'PSK' && hs.ecdheParams === undefined) return unexpected(msg);
      addToTranscript(hs.transcript, msg);
      return buildClientKeyFlight(env, hs);
    }
    case HandshakeType.FINISHED: {
      if (hs.expect !== 'finished') return unexpected(msg);
      if (!verifyDataMatches(expectedVerifyData(hs, 'server'), d.message.verifyData)) {
        return fail(AlertDescription.DECRYPT_ERROR, 'server Finished verify_data mismatch');
      }
      addToTranscript(hs.transcript, msg);
      hs.expect = 'done';
      if (!hs.resumed) return { kind: 'complete', finalFlight: undefined };
      const finished = ownMessage(hs, HandshakeType.FINISHED, encodeFinished({ verifyData: expectedVerifyData(hs, 'client') }), 1);
      return { kind: 'complete', finalFlight: [{ kind: 'ccs', epoch: 0 }, finished] };
    }
    default:
      return unexpected(msg);
  }
}

function processServerHello(env: HandshakeEnv, hs: ClientHandshake, sh: ServerHello): HandshakeOutcome {
  const { config } = env;
  if (sh.serverVersion !== ProtocolVersion.DTLS_1_2) return fail(AlertDescription.PROTOCOL_VERSION, `server version ${sh.serverVersion.toString(16)}`);
  const suite = hs.offeredSuites.find((s) => s.code === sh.cipherSuite);
  if (suite === undefined) return fail(AlertDescription.ILLEGAL_PARAMETER, `server chose suite ${sh.cipherSuite.toString(16)} not offered`);
  if (sh.compressionMethod !== 0) return fail(AlertDescription.ILLEGAL_PARAMETER, 'compression');
  const ext = sh.extensions;
  const offered = hs.hello.extensions;
  // RFC 5246 §7.4.1.4: only extensions the client offered may appear
  for (const type of ext?.order ?? []) {
    if (type !== ExtensionType.RENEGOTIATION_INFO && !(offered?.order ?? offeredTypes(offered)).includes(type)) {
      return fail(AlertDescription.UNSUPPORTED_EXTENSION, `server sent extension ${type} not offered`);
    }
  }
  hs.suite = suite;
  hs.serverRandom = sh.random;
  hs.sessionId = sh.sessionId;
  hs.ems = ext?.extendedMasterSecret === true && offered?.extendedMasterSecret === true;
  if (config.extendedMasterSecretMode === 'REQUIRED' && !hs.ems) return fail(AlertDescription.HANDSHAKE_FAILURE, 'extended master secret required');
  hs.secureRenegotiation = ext?.renegotiationInfo !== undefined;
  if (hs.secureRenegotiation && ext!.renegotiationInfo!.length > 0) return fail(AlertDescription.HANDSHAKE_FAILURE, 'renegotiation_info not empty');
  if (ext?.connectionId !== undefined) {
    hs.writeCid = Buffer.from(ext.connectionId);
    hs.readCid = hs.offeredCid ?? Buffer.alloc(0);
  }
  if (ext?.maxFragmentLength !== undefined) hs.maxFragmentLength = MAX_FRAGMENT_LENGTH_BYTES[ext.maxFragmentLength];
  if (ext?.recordSizeLimit !== undefined) hs.peerRecordSizeLimit = ext.recordSizeLimit;
  if (ext?.serverCertificateTypes !== undefined) hs.serverCertificateType = ext.serverCertificateTypes[0]!;
  if (ext?.clientCertificateTypes !== undefined) hs.clientCertificateType = ext.clientCertificateTypes[0]!;

  const session = hs.offeredSession;
  if (session !== undefined && sh.sessionId.length > 0 && sh.sessionId.equals(session.id)) {
    // abbreviated handshake: the session's suite and EMS usage must be kept (RFC 7627 §5.3)
    if (suite.code !== session.cipherSuite.code) return fail(AlertDescription.ILLEGAL_PARAMETER, 'resumed session with another suite');
    if (hs.ems !== session.extendedMasterSecret) return fail(AlertDescription.HANDSHAKE_FAILURE, 'resumed session with other EMS usage');
    hs.resumed = true;
    hs.master = session.masterSecret;
    hs.peerIdentity = session.peerIdentity;
    hs.pending = deriveEpoch(hs.master, hs.clientRandom, hs.serverRandom, suite, 'client');
    hs.session = { ...copySession(session), secureRenegotiation: hs.secureRenegotiation, recordSizeLimit: hs.peerRecordSizeLimit, maxFragmentLength: hs.maxFragmentLength };
    hs.expect = 'finished';
    return WAIT;
  }
  hs.expect = suite.certificate ? 'certificate' : suite.keyExchange === 'ECDHE_PSK' ? 'server-key-exchange' : 'certificate-request';
  return WAIT;
}

function offeredTypes(ext: HelloExtensions | undefined): number[] {
  if (ext === undefined) return [];
  const types: number[] = [];
  if (ext.maxFragmentLength !== undefined) types.push(ExtensionType.MAX_FRAGMENT_LENGTH);
  if (ext.supportedGroups !== undefined) types.push(ExtensionType.SUPPORTED_GROUPS);
  if (ext.ecPointFormats !== undefined) types.push(ExtensionType.EC_POINT_FORMATS);
  if (ext.signatureAlgorithms !== undefined) types.push(ExtensionType.SIGNATURE_ALGORITHMS);
  if (ext.clientCertificateTypes !== undefined) types.push(ExtensionType.CLIENT_CERTIFICATE_TYPE);
  if (ext.serverCertificateTypes !== undefined) types.push(ExtensionType.SERVER_CERTIFICATE_TYPE);
  if (ext.extendedMasterSecret) types.push(ExtensionType.EXTENDED_MASTER_SECRET);
  if (ext.recordSizeLimit !== undefined) types.push(ExtensionType.RECORD_SIZE_LIMIT);
  if (ext.connectionId !== undefined) types.push(ExtensionType.CONNECTION_ID);
  return types;
}

/** Flight 5: [Certificate] ClientKeyExchange [CertificateVerify] ChangeCipherSpec Finished. */
function buildClientKeyFlight(env: HandshakeEnv, hs: ClientHandshake): HandshakeOutcome {
  const suite = hs.suite!;
  const creds = env.credentials;
  const entries: FlightEntry[] = [];
  let signer: { identity: ServerIdentity; alg: SignatureAndHashAlgorithm } | undefined;
  if (hs.certificateRequest !== undefined) {
    signer = chooseClientSigner(creds.identities, hs.certificateRequest);
    let body: Buffer;
    if (hs.clientCertificateType === CertificateType.RAW_PUBLIC_KEY) {
      body = encodeCertificate(
        signer === undefined
          ? { certificateType: CertificateType.RAW_PUBLIC_KEY }
          : { certificateType: CertificateType.RAW_PUBLIC_KEY, subjectPublicKeyInfo: signer.identity.spki },
      );
    } else {
      if (signer !== undefined && signer.identity.chain.length === 0) signer = undefined;
      const chain = signer === undefined ? [] : certificateChainForSending(signer.identity.chain, hs.certificateRequest.certificateAuthorities).map((c) => c.raw);
      body = encodeCertificate({ certificateType: CertificateType.X509, chain });
    }
    entries.push(ownMessage(hs, HandshakeType.CERTIFICATE, body));
  }
  let ckx: ClientKeyExchange;
  let preMaster: Buffer;
  const identity = Buffer.from(creds.pskIdentity ?? '', 'utf8');
  if (suite.keyExchange === 'PSK') {
    ckx = { form: 'psk', identity };
    preMaster = pskPreMasterSecret(creds.pskSecret!);
  } else {
    const params = hs.ecdheParams!;
    const pair = generateEcdheKeyPair(params.namedGroup as NamedGroupId);
    const shared = computePremasterSecret(pair, params.publicKey);
    if (!shared.ok) return fail(AlertDescription.ILLEGAL_PARAMETER, shared.reason);
    if (suite.keyExchange === 'ECDHE_PSK') {
      ckx = { form: 'ecdhe_psk', identity, publicKey: pair.publicPoint };
      preMaster = ecdhePskPreMasterSecret(shared.premasterSecret, creds.pskSecret!);
    } else {
      ckx = { form: 'ecdhe', publicKey: pair.publicPoint };
      preMaster = shared.premasterSecret;
    }
  }
  if (suite.psk) hs.peerIdentity = creds.pskIdentity;
  entries.push(ownMessage(hs, HandshakeType.CLIENT_KEY_EXCHANGE, encodeClientKeyExchange(ckx)));
  hs.master = computeMasterSecret(hs, preMaster, hs.ems);
  if (signer !== undefined) {
    const signature = signData(signer.alg, signer.identity.privateKey, transcriptBytes(hs.transcript));
    entries.push(ownMessage(hs, HandshakeType.CERTIFICATE_VERIFY, encodeCertificateVerify({ algorithm: signer.alg, signature })));
  }
  hs.pending = deriveEpoch(hs.master, hs.clientRandom, hs.serverRandom, suite, 'client');
  entries.push({ kind: 'ccs', epoch: 0 });
  entries.push(ownMessage(hs, HandshakeType.FINISHED, encodeFinished({ verifyData: expectedVerifyData(hs, 'client') }), 1));
  hs.session = {
    id: hs.sessionId,
    cipherSuite: suite,
    masterSecret: hs.master,
    peerIdentity: hs.peerIdentity,
    extendedMasterSecret: hs.ems,
    secureRenegotiation: hs.secureRenegotiation,
    creationTime: env.now(),
    recordSizeLimit: hs.peerRecordSizeLimit,
    maxFragmentLength: hs.maxFragmentLength,
    sendCertificateType: signer !== undefined ? hs.clientCertificateType : undefined,
    receiveCertificateType: suite.certificate ? hs.serverCertificateType : undefined,
    namedGroup: hs.ecdheParams?.namedGroup,
  };
  hs.expect = 'finished';
  return { kind: 'flight', entries, ecc: suite.keyExchange !== 'PSK' };
}

/** Own identity and signature algorithm fitting a CertificateRequest (RFC 5246 §7.4.4, §7.4.6). */
function chooseClientSigner(identities: readonly ServerIdentity[], cr: CertificateRequest): { identity: ServerIdentity; alg: SignatureAndHashAlgorithm } | undefined {
  for (const identity of identities) {
    const type = identity.keyAlgorithm === 'ec' ? 64 : 1;
    if (!cr.certificateTypes.includes(type)) continue;
    const alg = cr.supportedSignatureAlgorithms.find(
      (a) => SUPPORTED_SIGNATURE_ALGORITHMS.some((s) => s.hash === a.hash && s.signature === a.signature) && signatureAlgorithmFitsKey(a, identity.privateKey),
    );
    if (alg !== undefined) return { identity, alg };
  }
  return undefined;
}

/** True if the certificate's subjectAltName (or CN without SANs) names the destination address or host. */
function subjectMatches(leaf: X509Certificate, destination: string): boolean {
  const info = certificateInfo(leaf);
  const host = destination.replace(/^\[|\]$/g, '').replace(/^::ffff:/, '');
  const sans = info.subjectAltNames;
  if (sans.length === 0) return info.subject.includes(`CN=${host}`);
  return sans.some((s) => (s.type === 'ip' || s.type === 'dns') && s.value.toLowerCase() === host.toLowerCase());
}

function unexpected(msg: HandshakeMessage): HandshakeOutcome {
  return fail(AlertDescription.UNEXPECTED_MESSAGE, `unexpected message type ${msg.msgType}`);
}

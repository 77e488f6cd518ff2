// Per-server view of the DTLS keys: the DtlsConfig a connector runs with (config.md §3, dtls.md §2).
import { cipherSuiteByName, type CipherSuite } from '../dtls/cipher-suites.js';
import type { ClientAuthMode, CertificateTypeName, DtlsConfig, EmsMode } from '../dtls/config.js';
import * as D from './keys-dtls.js';
import type { Properties, ServerKind } from './properties.js';

const GROUP_CODES: Record<string, number> = { secp256r1: 23, x25519: 29, x448: 30, secp384r1: 24 };

/** Cipher suites per DTLS.CIPHER_SUITES / PRESELECTED_CIPHER_SUITES and RECOMMENDED_CIPHER_SUITES_ONLY. */
export function cipherSuitesFor(props: Properties, server: ServerKind): CipherSuite[] {
  const explicit = props.getFor<readonly string[]>(server, D.CIPHER_SUITES);
  const names = explicit && explicit.length > 0 ? explicit : props.getFor<readonly string[]>(server, D.PRESELECTED_CIPHER_SUITES) ?? [];
  const recommendedOnly = props.boolean(D.RECOMMENDED_CIPHER_SUITES_ONLY, server);
  const suites: CipherSuite[] = [];
  for (const n of names) {
    const s = cipherSuiteByName(n);
    if (s && !(recommendedOnly && s.cipher === 'CBC_SHA256') && !suites.includes(s)) suites.push(s);
  }
  return suites;
}

/** The DTLS settings of a server's coaps endpoints; `clientAuth` is the --client-auth override. */
export function dtlsConfigFor(props: Properties, server: ServerKind, clientAuth?: ClientAuthMode): DtlsConfig {
  const n = (key: Parameters<Properties['number']>[0]): number => props.number(key, server);
  const opt = (key: Parameters<Properties['getFor']>[1]): number | undefined => props.getFor<number>(server, key);
  const b = (key: Parameters<Properties['boolean']>[0]): boolean => props.boolean(key, server);
  const curves = props.getFor<readonly string[]>(server, D.CURVES);
  return {
    cidLength: opt(D.CONNECTION_ID_LENGTH),
    nodeId: opt(D.CONNECTION_ID_NODE_ID),
    cipherSuites: cipherSuitesFor(props, server),
    curves: curves && curves.length > 0 ? curves.map((c) => GROUP_CODES[c]!) : [23, 29, 30, 24],
    certificateTypes: (props.getFor<readonly string[]>(server, D.CERTIFICATE_TYPES) ?? ['RAW_PUBLIC_KEY', 'X_509']) as CertificateTypeName[],
    clientAuthentication: clientAuth ?? (props.string(D.CLIENT_AUTHENTICATION_MODE, server) as ClientAuthMode),
    extendedMasterSecretMode: props.string(D.EXTENDED_MASTER_SECRET_MODE, server) as EmsMode,
    retransmissionTimeout: n(D.RETRANSMISSION_TIMEOUT),
    maxRetransmissionTimeout: n(D.MAX_RETRANSMISSION_TIMEOUT),
    additionalEccTimeout: n(D.ADDITIONAL_ECC_TIMEOUT),
    maxRetransmissions: n(D.MAX_RETRANSMISSIONS),
    retransmissionInitRandom: n(D.RETRANSMISSION_INIT_RANDOM),
    retransmissionTimeoutScale: n(D.RETRANSMISSION_TIMEOUT_SCALE),
    maxConnections: n(D.MAX_CONNECTIONS),
    staleConnectionThreshold: n(D.STALE_CONNECTION_THRESHOLD),
    useHelloVerifyRequest: b(D.USE_HELLO_VERIFY_REQUEST),
    useHelloVerifyRequestForPsk: b(D.USE_HELLO_VERIFY_REQUEST_FOR_PSK),
    verifyPeersOnResumptionThreshold: n(D.VERIFY_PEERS_ON_RESUMPTION_THRESHOLD),
    serverUseSessionId: b(D.SERVER_USE_SESSION_ID),
    sessionTimeout: n(D.SESSION_TIMEOUT),
    maxFragmentedHandshakeMessageLength: n(D.MAX_FRAGMENTED_HANDSHAKE_MESSAGE_LENGTH),
    recordSizeLimit: opt(D.RECORD_SIZE_LIMIT),
    maxFragmentSize: opt(D.MAX_FRAGMENT_SIZE),
    maxTransmissionUnit: opt(D.MAX_TRANSMISSION_UNIT),
    maxTransmissionUnitLimit: n(D.MAX_TRANSMISSION_UNIT_LIMIT),
    useAntiReplayFilter: b(D.USE_ANTI_REPLAY_FILTER),
    updateAddressUsingCidOnNewerRecords: b(D.UPDATE_ADDRESS_USING_CID_ON_NEWER_RECORDS),
    useNewerFilter: b(D.USE_NEWER_FILTER),
    removeStaleDoublePrincipals: b(D.REMOVE_STALE_DOUBLE_PRINCIPALS),
    macErrorFilterThreshold: n(D.MAC_ERROR_FILTER_THRESHOLD),
    macErrorFilterQuietTime: n(D.MAC_ERROR_FILTER_QUIET_TIME),
    maxDeferredInboundRecords: n(D.MAX_DEFERRED_INBOUND_RECORDS),
    maxDeferredOutboundApplicationMessages: n(D.MAX_DEFERRED_OUTBOUND_APPLICATION_MESSAGES),
    receiveBufferSize: opt(D.RECEIVE_BUFFER_SIZE),
    sendBufferSize: opt(D.SEND_BUFFER_SIZE),
    handshakeResultDelay: props.getFor<number>(server, D.DTLS_HANDSHAKE_RESULT_DELAY) ?? 0,
    pskFailureAlert: props.string(D.PSK_FAILURE_ALERT, server) as DtlsConfig['pskFailureAlert'],
    clientHelloRateLimit: n(D.CLIENT_HELLO_RATE_LIMIT),
    handshakeStartRateLimit: n(D.HANDSHAKE_START_RATE_LIMIT),
    clientHelloPeerRateLimit: n(D.CLIENT_HELLO_PEER_RATE_LIMIT),
    clientHelloTrackedPeers: n(D.CLIENT_HELLO_TRACKED_PEERS),
    maxPendingHandshakes: n(D.MAX_PENDING_HANDSHAKES),
    maxPendingHandshakesPerAddress: n(D.MAX_PENDING_HANDSHAKES_PER_ADDRESS),
  };
}

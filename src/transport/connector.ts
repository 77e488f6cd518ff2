// The transport contract below CoAP and DTLS: datagrams in and out, each with an EndpointContext (or, for a
// stream transport, whole messages: MessageConnector).
import type { CoapMessage } from '../coap/message.js';

/** A UDP peer address. */
export interface PeerAddress {
  /** IP address text (IPv6 without brackets) */
  address: string;
  port: number;
}

/** DTLS session attributes of a datagram (dtls.md §10); absent for plain UDP. */
export interface DtlsSessionInfo {
  /** authenticated peer identity (PSK identity, X.509 subject DN, RPK ni:///sha-256;...) */
  peerIdentity?: string;
  /** IANA cipher suite name */
  cipherSuite: string;
  /** session id bytes (may be empty) */
  sessionId: Buffer;
  /** session creation time in ms (for session ids of length 0) */
  sessionTime: number;
  /** CID the server expects from the peer (only with CID) */
  readCid?: Buffer;
  /** CID the server writes to the peer (only with CID) */
  writeCid?: Buffer;
  /** `dtls-cid-router` when the record was forwarded by a cluster node */
  via?: string;
  secureRenegotiation: boolean;
  extendedMasterSecret: boolean;
  /** record carried the highest sequence number so far */
  newestRecord: boolean;
  /** application payload limit per record */
  messageSizeLimit: number;
  /** previous peer address when this record moved the connection */
  prevAddress?: string;
  prevPort?: number;
  epoch: number;
  readSequence: number;
  handshakeTime: number;
  /** node id of the receiving connector (cluster modes) */
  nodeId?: number;
  /** node-id of the cluster node the connection was taken over from (shared connection store, issue 12) */
  takeoverFrom?: number;
}

/** TLS session attributes of a coaps+tcp connection (RFC 8323 §9); absent for plain TCP. */
export interface TlsSessionInfo {
  /** X.509 subject DN of the client certificate in RFC 2253 form (as on the DTLS side); undefined without one */
  peerIdentity?: string;
  /** IANA cipher suite name, e.g. `TLS_AES_128_GCM_SHA256` */
  cipherSuite: string;
  /** negotiated protocol version: `TLSv1.2` or `TLSv1.3` */
  protocol: string;
  /** session id bytes as OpenSSL holds them (empty with session tickets and with TLS 1.3) */
  sessionId: Buffer;
  /** ms when the handshake of this connection completed (the `TIME:` stand-in of /mycontext for an empty session id) */
  sessionTime?: number;
  /** the session was resumed */
  resumed: boolean;
}

/** Where a datagram came from / goes to, plus the security context. */
export interface EndpointContext {
  /** peer IP address text (IPv6 without brackets) */
  address: string;
  port: number;
  /** DTLS attributes, undefined on plain UDP */
  dtls?: DtlsSessionInfo;
  /** TLS attributes of a coaps+tcp connection, undefined otherwise */
  tls?: TlsSessionInfo;
  /** opaque connection handle of the secure connector (keeps the session across address changes) */
  connection?: unknown;
  /** cluster node (management address) the record came through (cluster.md §4.3); undefined when received directly */
  router?: PeerAddress;
}

/** A datagram transport (UDP or DTLS) an endpoint runs on. */
export interface Connector {
  /** `UDP`, `DTLS`, `TCP` or `TLS` (used in names such as `UDP:127.0.0.1:5683`) */
  readonly protocol: 'UDP' | 'DTLS' | 'TCP' | 'TLS';
  /** URI scheme: coap, coaps, coap+tcp or coaps+tcp */
  readonly scheme: 'coap' | 'coaps' | 'coap+tcp' | 'coaps+tcp';
  /** bound local address text (IPv6 without brackets) */
  readonly localAddress: string;
  /** bound local port (valid after start) */
  readonly localPort: number;
  /** called for every received datagram; set by the endpoint before start */
  onDatagram: (data: Buffer, ctx: EndpointContext) => void;
  /** binds and starts receiving */
  start(): Promise<void>;
  /** stops receiving and releases the socket */
  stop(): Promise<void>;
  /** sends one datagram; errors are reported through onError, never thrown */
  send(data: Buffer, ctx: EndpointContext, onError?: (err: Error) => void): void;
}

/** `addr:port` key of a peer (IPv6 in brackets). */
export function peerKey(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}

/**
 * A stream transport (TCP, TLS: RFC 8323) frames, decodes and encodes messages per connection itself (its
 * signaling messages never reach the endpoint); the endpoint exchanges whole messages with it instead of
 * datagrams. `onDatagram` and `send` of such a connector are not used.
 */
export interface MessageConnector extends Connector {
  readonly protocol: 'TCP' | 'TLS';
  /** called for every received non-signaling message; set by the endpoint before start */
  onMessage: (msg: CoapMessage, ctx: EndpointContext) => void;
  /** called when a connection closed (its observe relations and client exchanges end); set by the endpoint */
  onConnectionClosed: (ctx: EndpointContext, reason: string) => void;
  /** frames and sends one message on the connection of `ctx`; errors go to onError, never thrown */
  sendMessage(msg: CoapMessage, ctx: EndpointContext, onError?: (err: Error) => void): void;
  /** the connection key of a context (the peer identity of exchanges and relations) */
  peerOf(ctx: EndpointContext): string;
}

/** True for a stream transport's connector. */
export function isMessageConnector(c: Connector): c is MessageConnector {
  return c.protocol === 'TCP' || c.protocol === 'TLS';
}

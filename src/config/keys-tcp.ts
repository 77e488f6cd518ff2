// TCP/TLS module keys (config.md §5) of the coap+tcp and coaps+tcp endpoints (RFC 8323), plus the bounds
// of this implementation (connections, write buffer) in the module's style.
import { defineKey, type KeyDef } from './registry.js';

/** Worker threads of the TCP connector (Californium); Node.js serves TCP on the event loop, the value is kept for compatibility. */
export const TCP_WORKER_THREADS = defineKey({
  name: 'TCP.WORKER_THREADS',
  type: 'int',
  description: 'Number of TCP worker threads (0: as many as cores). Kept for compatibility: connections are served on the event loop of each process.',
  default: 0,
  min: 0,
});

/** A connection without a complete message in either direction for this long is closed. */
export const TCP_CONNECTION_IDLE_TIMEOUT = defineKey({
  name: 'TCP.CONNECTION_IDLE_TIMEOUT',
  type: 'time',
  description:
    'Idle timeout of TCP and TLS connections: a connection that neither received nor sent a complete message for this long is closed (bytes of an unfinished frame do not count). 0 disables it.',
  default: 10_000,
  ext: 3_600_000,
  plug: 3_600_000,
  min: 0,
});

/** Connect timeout of outgoing TCP connections (clients). */
export const TCP_CONNECT_TIMEOUT = defineKey({
  name: 'TCP.CONNECT_TIMEOUT',
  type: 'time',
  description: 'Timeout to establish outgoing TCP connections (clients).',
  default: 10_000,
  ext: 15_000,
  plug: 15_000,
  min: 1,
});

/** Time for the TLS handshake and the peer's CSM (RFC 8323 §5.3) of a new connection. */
export const TCP_HANDSHAKE_TIMEOUT = defineKey({
  name: 'TCP.HANDSHAKE_TIMEOUT',
  type: 'time',
  description:
    'Timeout of the TLS handshake. It also bounds the wait for the peer\'s first message, its CSM (RFC 8323 §5.3), on coap+tcp and coaps+tcp connections: without one in time the connection is closed.',
  default: 10_000,
  ext: 60_000,
  plug: 60_000,
  min: 1,
});

/** Lifetime of a TLS session for resumption. */
export const TCP_SESSION_TIMEOUT = defineKey({
  name: 'TCP.SESSION_TIMEOUT',
  type: 'time',
  description: 'Lifetime of a TLS session (and session ticket) for resumption.',
  default: 3_600_000,
  min: 1_000,
});

/** Certificate based client authentication of TLS: NONE, WANTED or NEEDED. */
export const TCP_CLIENT_AUTHENTICATION_MODE = defineKey({
  name: 'TCP.CLIENT_AUTHENTICATION_MODE',
  type: 'enum',
  description: 'Certificate based client authentication of TLS (coaps+tcp): NONE, WANTED or NEEDED. The --client-auth flag overrides it.',
  default: 'WANTED',
  values: ['NONE', 'WANTED', 'NEEDED'],
});

/** Clients check the server certificate's subject against the host they connect to. */
export const TCP_VERIFY_SERVER_CERTIFICATES_SUBJECT = defineKey({
  name: 'TCP.VERIFY_SERVER_CERTIFICATES_SUBJECT',
  type: 'bool',
  description: 'TLS clients verify that the server certificate (subject alternative names) matches the host they connect to.',
  default: true,
});

/** Bound of concurrent connections per endpoint. */
export const TCP_MAX_CONNECTIONS = defineKey({
  name: 'TCP.MAX_CONNECTIONS',
  type: 'int',
  description:
    'Maximum number of concurrent connections of one coap+tcp or coaps+tcp endpoint (TLS handshakes in progress included). Further connections are closed at once (counted).',
  default: 50_000,
  min: 1,
});

/** Bound of bytes queued for sending on one connection. */
export const TCP_MAX_WRITE_BUFFER_SIZE = defineKey({
  name: 'TCP.MAX_WRITE_BUFFER_SIZE',
  type: 'int',
  description:
    'Bytes that may wait for sending on one connection (a peer that does not read). When a message would exceed it, the send fails and the connection is closed (counted).',
  default: 262_144,
  min: 1024,
});

/** All keys of this group. */
export const TCP_KEYS: readonly KeyDef[] = [
  TCP_WORKER_THREADS,
  TCP_CONNECTION_IDLE_TIMEOUT,
  TCP_CONNECT_TIMEOUT,
  TCP_HANDSHAKE_TIMEOUT,
  TCP_SESSION_TIMEOUT,
  TCP_CLIENT_AUTHENTICATION_MODE,
  TCP_VERIFY_SERVER_CERTIFICATES_SUBJECT,
  TCP_MAX_CONNECTIONS,
  TCP_MAX_WRITE_BUFFER_SIZE,
];

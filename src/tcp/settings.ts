// The TCP. keys of one server (config.md §5) as the numbers and modes the TCP/TLS endpoints take.
import type { ClientAuthMode } from '../dtls/config.js';
import {
  TCP_CLIENT_AUTHENTICATION_MODE,
  TCP_CONNECTION_IDLE_TIMEOUT,
  TCP_HANDSHAKE_TIMEOUT,
  TCP_MAX_CONNECTIONS,
  TCP_MAX_WRITE_BUFFER_SIZE,
  TCP_SESSION_TIMEOUT,
} from '../config/keys-tcp.js';
import type { Properties, ServerKind } from '../config/properties.js';

/** TCP and TLS endpoint settings of one server (times in ms). */
export interface TcpSettings {
  maxConnections: number;
  /** 0: no idle timeout */
  idleTimeout: number;
  /** TLS handshake, and the wait for the peer's CSM on either transport */
  handshakeTimeout: number;
  sessionTimeout: number;
  maxWriteBuffer: number;
  clientAuth: ClientAuthMode;
}

/** Reads the TCP. keys of a server; `clientAuth` is the --client-auth override. */
export function tcpSettingsFor(props: Properties, server: ServerKind, clientAuth?: ClientAuthMode): TcpSettings {
  return {
    maxConnections: props.number(TCP_MAX_CONNECTIONS, server),
    idleTimeout: props.number(TCP_CONNECTION_IDLE_TIMEOUT, server),
    handshakeTimeout: props.number(TCP_HANDSHAKE_TIMEOUT, server),
    sessionTimeout: props.number(TCP_SESSION_TIMEOUT, server),
    maxWriteBuffer: props.number(TCP_MAX_WRITE_BUFFER_SIZE, server),
    clientAuth: clientAuth ?? (props.string(TCP_CLIENT_AUTHENTICATION_MODE, server) as ClientAuthMode),
  };
}

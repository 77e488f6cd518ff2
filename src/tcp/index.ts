// Public API of the coap+tcp / coaps+tcp connection layer (RFC 8323): the endpoint server, its TLS settings, counters and configuration.
export { DEFAULT_CLOSE_GRACE, createTcpServer, tcpConnectionId, type TcpServer, type TcpServerOptions } from './server.js';
export { type TlsServerSettings, checkClientCertificate, tlsServerOptions, tlsSessionInfo } from './tls-options.js';
export { type TcpStats, createTcpStats } from './stats.js';
export { type TcpSettings, tcpSettingsFor } from './settings.js';
export { TcpConnector } from './connector.js';

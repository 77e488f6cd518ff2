// coap+tcp and coaps+tcp connectors of the command line clients (RFC 8323): the TLS trust and client certificate
// from the client options (clients.md §2: demo trust store and demo client `cf-client` by default, --trusts,
// --cert/--private-key, --anonymous, --trust-all, --subject-verification).
import fs from 'node:fs';
import path from 'node:path';
import { isIP } from 'node:net';
import { defaultPkiDir } from '../dtls/credentials/index.js';
import type { PeerAddress } from '../transport/connector.js';
import { TcpClientConnector, type TlsClientSettings } from '../tcp/client-connector.js';
import { UsageError, type ClientOptions } from './common-options.js';

/** TCP.CONNECT_TIMEOUT of the clients (clients.md §3.1: `30[s]`). */
export const CLIENT_CONNECT_TIMEOUT = 30_000;

/** True for the stream schemes coap+tcp and coaps+tcp. */
export function isTcpScheme(uri: URL): boolean {
  return uri.protocol === 'coap+tcp:' || uri.protocol === 'coaps+tcp:';
}

function readFile(file: string, option: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new UsageError(`${option}: ${(err as Error).message}`);
  }
}

/** The TLS client settings of the options: trust anchors, client certificate (unless --anonymous), trust-all, SNI for host names. */
export function tlsClientSettings(opts: ClientOptions): TlsClientSettings {
  const dir = defaultPkiDir();
  const settings: TlsClientSettings = {
    ca: opts.trustAll ? [] : [readFile(opts.trusts ?? path.join(dir, 'trust.pem'), '--trusts')],
    trustAll: opts.trustAll,
    verifySubject: opts.subjectVerification,
  };
  if (!opts.anonymous) {
    if (opts.cert !== undefined && opts.privateKey === undefined) throw new UsageError('--cert needs --private-key');
    settings.cert = readFile(opts.cert ?? path.join(dir, 'cf-client-chain.pem'), '--cert');
    settings.key = readFile(opts.privateKey ?? path.join(dir, 'cf-client-key.pem'), '--private-key');
  }
  const host = opts.uri.hostname.replace(/^\[|\]$/g, '');
  if (isIP(host) === 0) settings.servername = host;
  return settings;
}

/** Settings of createTcpClient beyond the options. */
export interface TcpClientCreateOptions {
  localAddress: string;
  localPort?: number;
  /** ms for connect, TLS handshake and the server's CSM; default CLIENT_CONNECT_TIMEOUT */
  connectTimeout?: number;
  /** our Max-Message-Size (CSM); default 1152 */
  maxMessageSize?: number;
  /** announce Block-Wise-Transfer; default true */
  blockWiseTransfer?: boolean;
  /** TLS settings to share among many connectors (benchmark); default from the options */
  tls?: TlsClientSettings;
}

/** A client connector for a coap+tcp or coaps+tcp URI. */
export function createTcpClient(opts: ClientOptions, destination: PeerAddress, c: TcpClientCreateOptions): TcpClientConnector {
  const secure = opts.uri.protocol === 'coaps+tcp:';
  return new TcpClientConnector({
    destination,
    localAddress: c.localAddress,
    ...(c.localPort ? { localPort: c.localPort } : {}),
    ...(secure ? { tls: c.tls ?? tlsClientSettings(opts) } : {}),
    connectTimeout: c.connectTimeout ?? CLIENT_CONNECT_TIMEOUT,
    maxMessageSize: c.maxMessageSize ?? 1152,
    blockWiseTransfer: c.blockWiseTransfer ?? true,
  });
}

// DTLS (coaps) connectors of the servers: credentials from the demo PKI and PSK rules, settings per server.
import type { Logger } from 'pino';
import { DtlsConnector } from '../dtls/connector.js';
import type { DtlsConfig } from '../dtls/config.js';
import { createPskStore, loadDemoCredentials, loadPskFile, PSK_FILE_FORMAT, PskFileError, type DemoCredentials, type PskStore } from '../dtls/credentials/index.js';
import type { EndpointContext } from '../transport/connector.js';
import type { DatagramTransport } from '../transport/datagram.js';
import { dtlsConfigFor } from '../config/dtls.js';
import type { Properties, ServerKind } from '../config/index.js';
import type { ServerOptions } from '../cli/options.js';

/** Credentials shared by all DTLS endpoints of the process. */
export interface ServerCredentials {
  psk: PskStore;
  demo: DemoCredentials;
  trustAll: boolean;
}

/**
 * Loads the PSK rules (with --psk-file entries first) and the demo PKI; throws with a clear message
 * (a missing --psk-file names the file and what to do). Skipped psk-file lines are warned about once.
 */
export function loadServerCredentials(opts: ServerOptions, logger: Logger): ServerCredentials {
  let entries: Map<string, Buffer> | undefined;
  if (opts.pskFile) {
    let content;
    try {
      // loadPskFile logs each warning itself
      content = loadPskFile(opts.pskFile, logger);
    } catch (err) {
      if (!(err instanceof PskFileError)) throw err;
      const todo = err.reason === 'not found' ? 'create it or correct the path' : 'make it a readable file';
      throw new Error(`--psk-file: ${err.message}; ${todo} (lines ${PSK_FILE_FORMAT}), or leave out --psk-file`);
    }
    entries = content.entries;
    if (entries.size === 0) logger.warn(`--psk-file: no PSK credentials in '${opts.pskFile}' (lines ${PSK_FILE_FORMAT})`);
    logger.info({ file: opts.pskFile, identities: entries.size }, 'PSK credentials loaded');
  }
  return { psk: createPskStore(entries), demo: loadDemoCredentials(), trustAll: opts.trustAll };
}

/** The DTLS settings of one server's coaps endpoints (--client-auth overrides the properties). */
export function serverDtlsConfig(props: Properties, kind: ServerKind, opts: ServerOptions): DtlsConfig {
  const config = dtlsConfigFor(props, kind, opts.clientAuth);
  if (config.handshakeResultDelay !== 0) {
    throw new Error(`DTLS_HANDSHAKE_RESULT_DELAY=${config.handshakeResultDelay}: delayed credential lookups are not supported by this version`);
  }
  if (config.cipherSuites.length === 0) throw new Error('DTLS.PRESELECTED_CIPHER_SUITES / DTLS.CIPHER_SUITES: no usable cipher suite left');
  return config;
}

/** Creates a server-side DTLS connector bound to address:port (or running on the given transport). */
export function createServerDtlsConnector(address: string, port: number, config: DtlsConfig, creds: ServerCredentials, logger: Logger, transport?: DatagramTransport): DtlsConnector {
  return new DtlsConnector({
    address,
    port,
    ...(transport !== undefined ? { transport } : {}),
    role: 'server',
    config,
    pskStore: creds.psk,
    identities: creds.demo.identities,
    trustAnchors: creds.demo.trustAnchors,
    trustAll: creds.trustAll,
    logger,
    onError: (err) => logger.warn({ err, address }, 'dtls socket error'),
  });
}

const connectionIds = new WeakMap<object, string>();
let nextConnectionId = 0;

/** Peer key for DTLS endpoints: the connection, so that deduplication and matching survive address changes. */
export function dtlsPeerOf(ctx: EndpointContext): string {
  const conn = ctx.connection;
  if (conn && typeof conn === 'object') {
    let id = connectionIds.get(conn);
    if (id === undefined) {
      id = 'dtls#' + nextConnectionId++;
      connectionIds.set(conn, id);
    }
    return id;
  }
  return ctx.address + ':' + ctx.port;
}

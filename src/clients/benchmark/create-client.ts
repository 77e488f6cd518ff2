// Creation of the simulated clients: socket, optional DTLS connector with per-client credentials (clients.md §4); for
// coap+tcp and coaps+tcp one TCP (TLS) connection per client.
import type { Connector, EndpointContext } from '../../transport/connector.js';
import { UdpConnector } from '../../transport/udp-connector.js';
import type { DtlsConnector } from '../../dtls/connector.js';
import { loadPskFile } from '../../dtls/credentials/index.js';
import { UsageError, type AuthMode, type ClientOptions } from '../common-options.js';
import { CALI_SECRET, createDtlsClient } from '../dtls-client.js';
import { ConnectedUdpTransport } from '../connected-transport.js';
import { localAddressFor } from '../transport.js';
import { CLIENT_CONNECT_TIMEOUT, createTcpClient, tlsClientSettings } from '../tcp-client.js';
import { tcpMaxMessageSize } from '../../coap/bert.js';
import { BenchmarkClient, dtlsHandshakeControl, type ClientShared } from './client.js';
import { ConnectorTap } from './connector-tap.js';
import { benchmarkDtlsConfig, UDP_BUFFER_SIZE } from './defaults.js';

/** Creates the clients of one run. */
export interface ClientFactory {
  /** the effective authentication modes (coaps) */
  auth: AuthMode[];
  /** the PSK modes are in use */
  psk: boolean;
  create(index: number): { client: BenchmarkClient; identity?: string; secret?: Buffer };
}

/** The console line naming the authentication (first mode). */
export function authLine(auth: readonly AuthMode[]): string {
  switch (auth[0]) {
    case 'NONE':
      return 'No authentication.';
    case 'RPK':
      return 'Use RPK.';
    case 'X509':
      return 'Use X509.';
    case 'ECDHE_PSK':
      return 'Use PSK/ECDHE.';
    default:
      return 'Use PSK.';
  }
}

/** Prepares client creation: loads a PSK store once; client i uses entry (psk-index + i) mod size. */
export function clientFactory(opts: ClientOptions, shared: ClientShared, dest: EndpointContext): ClientFactory {
  const auth: AuthMode[] = opts.auth.length > 0 ? opts.auth : ['PSK'];
  const psk = auth.includes('PSK') || auth.includes('ECDHE_PSK');
  let store: Array<[string, Buffer]> | undefined;
  if (shared.secure && !shared.tcp && psk && opts.pskStore) {
    try {
      store = [...loadPskFile(opts.pskStore).entries];
    } catch (err) {
      throw new UsageError(`--psk-store: ${(err as Error).message}`);
    }
    if (store.length === 0) throw new UsageError(`--psk-store: no credentials in ${opts.pskStore}`);
  }
  const localAddress = localAddressFor(dest);
  if (shared.tcp) return tcpClientFactory(opts, shared, dest, localAddress);
  return {
    auth,
    psk,
    create(index) {
      const localPort = index === 0 ? opts.localPort : 0;
      let connector: Connector;
      let dtls: DtlsConnector | undefined;
      // a socket connected to the destination: an ICMP port unreachable fails the connectivity test at once
      let client: BenchmarkClient | undefined;
      const transport = new ConnectedUdpTransport({
        address: localAddress,
        port: localPort,
        destination: dest,
        receiveBufferSize: UDP_BUFFER_SIZE,
        sendBufferSize: UDP_BUFFER_SIZE,
        onRefused: (err) => client?.refused(err),
      });
      let identity: string | undefined;
      let secret: Buffer | undefined;
      if (shared.secure) {
        let clientOpts = opts;
        let credentialIndex = index;
        if (store) {
          const [id, key] = store[(opts.pskIndex + index) % store.length]!;
          clientOpts = { ...opts, pskStore: undefined, identity: id, secret: key };
          credentialIndex = 0;
        }
        const created = createDtlsClient(clientOpts, {
          index: credentialIndex,
          localAddress,
          localPort,
          config: benchmarkDtlsConfig(opts.cidLength),
          wheel: shared.wheel,
          transport,
        });
        dtls = created.connector;
        connector = dtls;
        identity = created.identity;
        if (identity !== undefined) secret = store ? clientOpts.secret : index === 0 && opts.identity !== undefined ? (opts.secret ?? CALI_SECRET) : CALI_SECRET;
      } else {
        connector = new UdpConnector({ address: localAddress, port: localPort, transport });
      }
      client = new BenchmarkClient(index, shared, new ConnectorTap(connector), dtls && dtlsHandshakeControl(dtls, dest), dest);
      return { client, identity, secret };
    },
  };
}

/**
 * coap+tcp, coaps+tcp: every client opens its own connection (RFC 8323); TLS with the demo client certificate (X509) unless
 * --anonymous. With --bertblocks n > 1 the CSM announces Block-Wise-Transfer with a Max-Message-Size for n 1024-byte blocks
 * (BERT, §5.3.2, §6); otherwise block-wise without BERT (Max-Message-Size 1152).
 */
function tcpClientFactory(opts: ClientOptions, shared: ClientShared, dest: EndpointContext, localAddress: string): ClientFactory {
  // the PEM files are read once for all clients
  const tls = shared.secure ? tlsClientSettings(opts) : undefined;
  const bulk = shared.config.tcpNumberOfBulkBlocks;
  const bert = bulk > 1 ? { maxMessageSize: tcpMaxMessageSize(shared.config.maxMessageSize, bulk), blockWiseTransfer: true } : {};
  return {
    auth: shared.secure ? ['X509'] : ['NONE'],
    psk: false,
    create(index) {
      const connector = createTcpClient(opts, dest, {
        localAddress,
        localPort: index === 0 ? opts.localPort : 0,
        connectTimeout: CLIENT_CONNECT_TIMEOUT,
        ...bert,
        ...(tls ? { tls } : {}),
      });
      const handshakes = shared.secure ? { close: () => connector.reconnect(), closeFull: () => connector.reconnect(true) } : undefined;
      return { client: new BenchmarkClient(index, shared, new ConnectorTap(connector), handshakes, dest) };
    },
  };
}

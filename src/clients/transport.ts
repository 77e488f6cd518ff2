// Chooses and creates the client's transport (UDP or DTLS) for a destination URI.
import dns from 'node:dns/promises';
import type { Connector, EndpointContext } from '../transport/connector.js';
import { UdpConnector } from '../transport/udp-connector.js';
import type { ClientOptions } from './common-options.js';
import { createDtlsClient } from './dtls-client.js';

/** A client transport: the connector and the resolved destination. */
export interface ClientTransport {
  connector: Connector;
  /** resolves the URI host to the destination context */
  resolve(): Promise<EndpointContext>;
}

/** Default ports of the schemes (RFC 7252 §6.1, §6.2). */
export const DEFAULT_PORTS: Record<string, number> = { 'coap:': 5683, 'coaps:': 5684 };

/** Resolves the URI host (IPv6 literals without brackets). */
export async function resolveDestination(uri: URL): Promise<EndpointContext> {
  const host = uri.hostname.replace(/^\[|\]$/g, '');
  const port = uri.port ? Number(uri.port) : DEFAULT_PORTS[uri.protocol]!;
  const { address } = await dns.lookup(host);
  return { address, port };
}

/** Creates the transport for the options' URI. */
export async function createClientTransport(opts: ClientOptions): Promise<ClientTransport> {
  const dest = await resolveDestination(opts.uri);
  const local = dest.address.includes(':') ? '::' : '0.0.0.0';
  if (opts.uri.protocol === 'coaps:') {
    const { connector } = createDtlsClient(opts, { localAddress: local, localPort: opts.localPort });
    return { connector, resolve: async () => dest };
  }
  return { connector: new UdpConnector({ address: local, port: opts.localPort }), resolve: async () => dest };
}

/** Lines describing the DTLS session a response arrived on (undefined for plain UDP). */
export function describeSession(ctx: EndpointContext): string | undefined {
  const d = ctx.dtls;
  if (!d) return undefined;
  const cid = (c: Buffer | undefined) => (c === undefined ? '(no CID)' : c.length === 0 ? '(empty)' : c.toString('hex').toUpperCase());
  return [
    `DTLS session: ${d.cipherSuite}${d.peerIdentity ? `, server ${d.peerIdentity}` : ''}`,
    `  read-cid: ${cid(d.readCid)}, write-cid: ${cid(d.writeCid)}, ext-master-secret: ${d.extendedMasterSecret}, message-size-limit: ${d.messageSizeLimit}`,
  ].join('\n');
}

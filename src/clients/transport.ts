// Chooses and creates the client's transport for a destination URI: for coap and coaps one UDP socket connected to
// the destination, so an ICMP port unreachable ends the client at once (connected-transport.ts), with DTLS on top
// for coaps; for coap+tcp and coaps+tcp one TCP (TLS) connection (RFC 8323, tcp-client.ts).
import dns from 'node:dns/promises';
import { isIP } from 'node:net';
import { Opt, type CoapOption } from '../coap/message.js';
import type { Connector, EndpointContext } from '../transport/connector.js';
import { UdpConnector } from '../transport/udp-connector.js';
import type { ClientOptions } from './common-options.js';
import { ConnectedUdpTransport, type ConnectionRefusedError } from './connected-transport.js';
import { createDtlsClient } from './dtls-client.js';
import { sessionLines } from './print.js';
import { createTcpClient, isTcpScheme } from './tcp-client.js';

/** A client transport: the connector and the resolved destination. */
export interface ClientTransport {
  connector: Connector;
  /** the resolved destination */
  destination: EndpointContext;
  /** the client's PSK identity (coaps with a PSK suite) */
  identity?: string;
}

/** Options of createClientTransport. */
export interface ClientTransportOptions {
  /** the destination answered with ICMP port unreachable */
  onRefused?: (err: ConnectionRefusedError) => void;
  /** other socket level errors */
  onError?: (err: Error) => void;
  /** coap+tcp, coaps+tcp: the connect timeout and our CSM values */
  tcp?: { connectTimeout?: number; maxMessageSize?: number; blockWiseTransfer?: boolean };
}

/** Default ports of the schemes (RFC 7252 §6.1, §6.2; RFC 8323 §8.1, §8.2). */
export const DEFAULT_PORTS: Record<string, number> = { 'coap:': 5683, 'coaps:': 5684, 'coap+tcp:': 5683, 'coaps+tcp:': 5684 };

/** Resolves the URI host (IPv6 literals without brackets). */
export async function resolveDestination(uri: URL): Promise<EndpointContext> {
  const host = uri.hostname.replace(/^\[|\]$/g, '');
  const port = uri.port ? Number(uri.port) : DEFAULT_PORTS[uri.protocol]!;
  const { address } = await dns.lookup(host);
  return { address, port };
}

/** Local bind address for a destination: loopback stays on loopback, else the wildcard of its family. */
export function localAddressFor(dest: { address: string }): string {
  const v6 = dest.address.includes(':');
  if (dest.address === '::1' || dest.address.startsWith('127.')) return v6 ? '::1' : '127.0.0.1';
  return v6 ? '::' : '0.0.0.0';
}

/** Creates the transport for the options' URI: a connected UDP socket, with DTLS on top for coaps; a TCP (TLS) connector for coap+tcp (coaps+tcp). */
export async function createClientTransport(opts: ClientOptions, t: ClientTransportOptions = {}): Promise<ClientTransport> {
  const destination = await resolveDestination(opts.uri);
  if (isTcpScheme(opts.uri)) {
    const connector = createTcpClient(opts, destination, { localAddress: localAddressFor(destination), localPort: opts.localPort, ...t.tcp });
    return { connector, destination };
  }
  const transport = new ConnectedUdpTransport({
    address: localAddressFor(destination),
    port: opts.localPort,
    destination,
    onRefused: t.onRefused,
    onError: t.onError,
  });
  if (opts.uri.protocol === 'coaps:') {
    const { connector, identity } = createDtlsClient(opts, { localAddress: transport.localAddress, localPort: opts.localPort, transport });
    return { connector, destination, identity };
  }
  return { connector: new UdpConnector({ address: transport.localAddress, port: opts.localPort, transport }), destination };
}

/** Lines describing the DTLS session a response arrived on (undefined for plain UDP). */
export function describeSession(ctx: EndpointContext): string | undefined {
  return sessionLines(ctx)?.join('\n');
}

/** Uri-Host for a destination given by name (none for IP literals), as Californium's Request.setURI. */
export function uriHostOptions(uri: URL): CoapOption[] {
  const host = uri.hostname.replace(/^\[|\]$/g, '');
  return isIP(host) === 0 ? [{ number: Opt.URI_HOST, value: Buffer.from(host, 'utf8') }] : [];
}

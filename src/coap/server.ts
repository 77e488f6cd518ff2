// A logical CoAP server: one resource tree served on several endpoints.
import type { Logger } from 'pino';
import type { Resource } from './resource.js';
import { CoapEndpoint, type EndpointOptions } from './endpoint.js';
import type { Connector, EndpointContext } from '../transport/connector.js';
import type { CoapStackConfig } from './stack-config.js';

/** A resource tree with its endpoints (e.g. the plugtest server on 5683/5684). */
export class CoapServer {
  readonly tag: string;
  readonly root: Resource;
  readonly endpoints: CoapEndpoint[] = [];
  /** True between a successful start() and the next stop() (the monitor's readiness, cluster.md §9). */
  running = false;
  private readonly logger: Logger | undefined;

  constructor(tag: string, root: Resource, logger?: Logger) {
    this.tag = tag;
    this.root = root;
    this.logger = logger;
  }

  /** Creates an endpoint for a connector and adds it (not yet started); `layers`: another message layer (TCP) or message hooks (OSCORE). */
  addEndpoint(
    connector: Connector,
    config: CoapStackConfig,
    peerOf?: (ctx: EndpointContext) => string,
    layers?: Pick<EndpointOptions, 'messageLayer' | 'messageHooks'>,
  ): CoapEndpoint {
    const ep = new CoapEndpoint({ connector, config, root: this.root, serverTag: this.tag, logger: this.logger, peerOf, ...layers });
    this.endpoints.push(ep);
    return ep;
  }

  /** Starts every endpoint; fails if one cannot bind. */
  async start(): Promise<void> {
    for (const ep of this.endpoints) {
      await ep.start();
      this.logger?.info({ server: this.tag, endpoint: ep.info.uri }, 'endpoint started');
    }
    this.running = true;
  }

  /** Stops every endpoint. */
  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.endpoints.map((ep) => ep.stop()));
  }
}

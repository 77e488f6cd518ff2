// The resource tree and the request/response API that resource handlers see.
import type { CoapMessage, CoapOption, MessageType } from './message.js';
import type { Connector, EndpointContext } from '../transport/connector.js';
import type { CoapStackConfig } from './stack-config.js';
import type { ClientExchange, RequestSpec, ResponseHandlers } from './client-layer.js';
import type { EndpointStats } from './stats.js';

/** Request methods a resource can handle. */
export type Method = 'GET' | 'POST' | 'PUT' | 'DELETE' | 'FETCH' | 'PATCH' | 'IPATCH';

/** Method names indexed by method code (1..7). */
export const METHODS: readonly (Method | undefined)[] = [undefined, 'GET', 'POST', 'PUT', 'DELETE', 'FETCH', 'PATCH', 'IPATCH'];

/** A handler for one method; it must call `respond` exactly once (now or later). */
export type Handler = (ex: Exchange) => void;

/** What a handler answers. */
export interface ResponseSpec {
  code: number;
  payload?: Buffer | string;
  /** Content-Format option; omitted when undefined */
  format?: number;
  /** further options (Location-Path, ETag, Max-Age, ...), any order */
  options?: CoapOption[];
}

/** The endpoint a request arrived on, as resources see it. */
export interface EndpointInfo {
  /** e.g. `coap://127.0.0.1:5683`, `coaps://[::1]:5784` */
  readonly uri: string;
  readonly scheme: Connector['scheme'];
  readonly protocol: Connector['protocol'];
  readonly localAddress: string;
  readonly localPort: number;
  readonly config: CoapStackConfig;
  /** tag of the server the endpoint belongs to (`PLUG-TEST`, `EXTENDED-TEST`) */
  readonly serverTag: string;
  /** message counters of this endpoint */
  readonly stats: EndpointStats;
  /** sends a request from this endpoint (reverse requests to a client over its own connection) */
  request(spec: RequestSpec, ctx: EndpointContext, handlers: ResponseHandlers): ClientExchange;
}

/** One request as a handler sees it (block-wise reassembled). */
export interface Exchange {
  /** the request; its payload is the complete body */
  readonly request: CoapMessage;
  readonly context: EndpointContext;
  readonly endpoint: EndpointInfo;
  readonly resource: Resource;
  /** true when the handler renders a notification of an observe relation */
  readonly notification: boolean;
  /** for a CON request: send the empty ACK now, the response follows as a separate CON */
  accept(): void;
  /** sends the response; later calls are ignored */
  respond(res: ResponseSpec): void;
}

/** An observe relation of a resource (RFC 7641 §3.2), held by the observe layer. */
export interface ObserveRelationRef {
  /** renders the resource's GET again and sends it as notification */
  notify(): void;
  /** ends the relation; with a code the observer gets that error notification (no Observe option) */
  cancel(code?: number): void;
}

/** A node of the resource tree with its link-format attributes and method handlers. */
export interface Resource {
  name: string;
  /** RFC 6690 attributes: title, rt, if, ct, sz, obs, ...; a value list is written blank-joined */
  attributes: Map<string, string[]>;
  /** listed in /.well-known/core */
  visible: boolean;
  /** GET with Observe=0 registers a relation */
  observable: boolean;
  /** fixed notification type (CON or NON); undefined = the type of the registering request */
  observeType?: MessageType;
  handlers: Partial<Record<Method, Handler>>;
  children: Map<string, Resource>;
  parent?: Resource;
  /** resolves children that are not in `children` (dynamic names) */
  resolveChild?: (name: string) => Resource | undefined;
  /** active observe relations (managed by src/coap/observe.ts) */
  observers: Set<ObserveRelationRef>;
}

/** Options for createResource. */
export interface ResourceInit {
  title?: string;
  attributes?: Record<string, string | string[]>;
  visible?: boolean;
  observable?: boolean;
  observeType?: MessageType;
  handlers?: Partial<Record<Method, Handler>>;
}

/** Creates a resource node. */
export function createResource(name: string, init: ResourceInit = {}): Resource {
  const attributes = new Map<string, string[]>();
  if (init.title !== undefined) attributes.set('title', [init.title]);
  for (const [k, v] of Object.entries(init.attributes ?? {})) {
    attributes.set(k, Array.isArray(v) ? v : [v]);
  }
  if (init.observable) attributes.set('obs', []);
  return {
    name,
    attributes,
    visible: init.visible ?? true,
    observable: init.observable ?? false,
    observeType: init.observeType,
    handlers: init.handlers ?? {},
    children: new Map(),
    observers: new Set(),
  };
}

/** Adds (or replaces) a child and returns it. */
export function addChild(parent: Resource, child: Resource): Resource {
  child.parent = parent;
  parent.children.set(child.name, child);
  return child;
}

/** Removes a child from its parent. */
export function removeChild(parent: Resource, name: string): Resource | undefined {
  const child = parent.children.get(name);
  if (child) {
    parent.children.delete(name);
    child.parent = undefined;
  }
  return child;
}

/** The URI path of a resource, `/a/b` (root is `/`). */
export function resourceUri(resource: Resource): string {
  const parts: string[] = [];
  for (let r: Resource | undefined = resource; r && r.parent; r = r.parent) parts.push(r.name);
  return '/' + parts.reverse().join('/');
}

/** Finds the resource for a Uri-Path, undefined when a segment does not exist. */
export function findResource(root: Resource, path: readonly string[]): Resource | undefined {
  let current: Resource | undefined = root;
  for (const segment of path) {
    if (!current) return undefined;
    current = current.children.get(segment) ?? current.resolveChild?.(segment);
  }
  return current;
}

/** Sets a link-format attribute (one or more values); an empty list means a bare attribute. */
export function setAttribute(resource: Resource, name: string, values: string | string[]): void {
  resource.attributes.set(name, Array.isArray(values) ? values : [values]);
}

/** Resource state changed: every observe relation gets a notification (RFC 7641 §4.2). */
export function notifyObservers(resource: Resource): void {
  for (const relation of resource.observers) relation.notify();
}

/** Ends all observe relations of a resource, silently or with an error notification (e.g. 4.04). */
export function clearObservers(resource: Resource, code?: number): void {
  for (const relation of [...resource.observers]) relation.cancel(code);
}

// `/diagnose` and its per-endpoint children: health counters as text, JSON or CBOR (resources.md §2.4).
import { Code, Format } from '../../coap/message.js';
import { accept } from '../../coap/options.js';
import { type Exchange, type Resource, addChild, createResource, removeChild } from '../../coap/resource.js';
import { type OrderedMap, orderedCbor, orderedJson } from './ordered.js';
import { sumCounterGroups } from '../../workers/sum-counters.js';

/** One counter: key, count of the current period (`cur`), total of the earlier periods (`all`). */
export type CounterRow = readonly [key: string, cur: number, all: number];

/** A statistic group; an empty tag is shown as a running number. */
export interface CounterGroup {
  /** e.g. `EXTENDED-TEST`, `dtls:127.0.0.1:5784`, `coap://127.0.0.1:5783` */
  tag: string;
  counters: CounterRow[];
}

/** Implemented by connectors with their own statistics (e.g. the DTLS connector, tag `dtls:<addr>`). */
export interface DiagnosticGroupProvider {
  /** the connector's group, or undefined when it has none */
  diagnosticGroup(): CounterGroup | undefined;
}

/** One endpoint as `/diagnose` sees it. */
export interface DiagnosticEndpoint {
  /** child resource name `<PROTO>:<host>:<port>` (IPv6 in brackets) */
  name: string;
  /** `EndpointInfo.uri` of the endpoint, to find the one a request arrived on */
  uri: string;
  /** coaps endpoint: shows `max. connnections` and, if configured, `node-id` */
  secure: boolean;
  /** `DTLS.CONNECTION_ID_NODE_ID` */
  nodeId?: number;
  /** `DTLS.MAX_CONNECTIONS` */
  maxConnections?: number;
  /** the endpoint's groups in display order: connector statistics (DTLS), then CoAP message statistics */
  groups(): CounterGroup[];
}

/** What the composition provides to `/diagnose`. */
export interface DiagnosticsSource {
  /** process start, epoch ms */
  systemStart: number;
  /** epoch ms of the last counter transfer (periodic health dump) */
  lastTransfer(): number;
  /** every endpoint of both servers */
  endpoints(): DiagnosticEndpoint[];
  /** server-wide groups shown before the endpoint's (observe statistics of each server) */
  serverGroups(): CounterGroup[];
  /**
   * A worker of a multi-worker server (issue 13): the other workers' groups (server groups, then those of the
   * endpoint named `name`), summed with this worker's by tag and key so that the response shows one server.
   */
  others?(name: string): Promise<CounterGroup[][]>;
}

/** Settings of `/diagnose`. */
export interface DiagnoseOptions {
  /** absent: only `systemstart` (and secure-endpoint lines) are shown */
  source?: DiagnosticsSource;
  /** wall clock in ms */
  now: () => number;
  /** `systemstart` when there is no source */
  systemStart: number;
}

/** `/diagnose` plus refresh() that (re)creates one child per endpoint. */
export interface DiagnoseResource {
  resource: Resource;
  refresh(): void;
}

/** What one response shows. */
export interface DiagnoseReport {
  systemStart: number;
  nodeId?: number;
  maxConnections?: number;
  /** seconds since the last transfer; undefined when there are no groups */
  since?: number;
  groups: CounterGroup[];
}

function groupName(group: CounterGroup, counter: { n: number }): string {
  return group.tag.length > 0 ? group.tag : String(++counter.n);
}

/** Text layout (`\n` lines, counters indented by three blanks). */
export function diagnoseText(r: DiagnoseReport): string {
  let text = `systemstart:${r.systemStart}\n`;
  if (r.nodeId !== undefined) text += `node-id:${r.nodeId}\n`;
  if (r.maxConnections !== undefined) text += `max. connnections:${r.maxConnections}\n`;
  if (r.since !== undefined) {
    text += `since: ${r.since}s\n`;
    const counter = { n: 0 };
    for (const g of r.groups) {
      text += groupName(g, counter) + '\n';
      for (const [key, cur, all] of g.counters) text += `   ${key},${cur},${all}\n`;
    }
  }
  return text;
}

/** The JSON/CBOR structure in insertion order. */
export function diagnoseMap(r: DiagnoseReport): OrderedMap {
  const map: OrderedMap = [['systemstart', r.systemStart]];
  if (r.nodeId !== undefined) map.push(['node-id', r.nodeId]);
  if (r.maxConnections !== undefined) map.push(['max-connections', r.maxConnections]);
  if (r.since !== undefined) {
    map.push(['since', `${r.since}s`]);
    const counter = { n: 0 };
    for (const g of r.groups) {
      const group: OrderedMap = g.counters.map(([key, cur, all]) => [key, [['cur', cur], ['all', all]]]);
      map.push([groupName(g, counter), group]);
    }
  }
  return map;
}

/** `<PROTO>:<host>:<port>` of an endpoint, IPv6 hosts in brackets. */
export function diagnoseChildName(protocol: string, address: string, port: number): string {
  return `${protocol}:${address.includes(':') ? `[${address}]` : address}:${port}`;
}

/** Creates `/diagnose`; call refresh() once the endpoints are bound (the tree's start does). */
export function createDiagnoseResource(opts: DiagnoseOptions): DiagnoseResource {
  const source = opts.source;

  function report(ex: Exchange, target: DiagnosticEndpoint | undefined): DiagnoseReport {
    const receiving = source?.endpoints().find((e) => e.uri === ex.endpoint.uri);
    const r: DiagnoseReport = { systemStart: source?.systemStart ?? opts.systemStart, groups: [] };
    if (ex.endpoint.scheme === 'coaps') {
      r.nodeId = receiving?.nodeId;
      r.maxConnections = receiving?.maxConnections;
    }
    if (source) {
      const endpoint = target ?? receiving;
      const groups = endpoint ? [...source.serverGroups(), ...endpoint.groups()] : [];
      if (groups.length > 0) {
        r.groups = groups;
        r.since = Math.max(0, Math.floor((opts.now() - source.lastTransfer()) / 1000));
      }
    }
    return r;
  }

  function send(ex: Exchange, acc: number, r: DiagnoseReport): void {
    if (acc === Format.TEXT) ex.respond({ code: Code.CONTENT, payload: diagnoseText(r), format: Format.TEXT });
    else if (acc === Format.JSON) ex.respond({ code: Code.CONTENT, payload: orderedJson(diagnoseMap(r)), format: Format.JSON });
    else ex.respond({ code: Code.CONTENT, payload: orderedCbor(diagnoseMap(r)), format: Format.CBOR });
  }

  function respond(ex: Exchange, target: () => DiagnosticEndpoint | undefined): void {
    const acc = accept(ex.request) ?? Format.TEXT;
    if (acc !== Format.TEXT && acc !== Format.JSON && acc !== Format.CBOR) {
      ex.respond({ code: Code.NOT_ACCEPTABLE });
      return;
    }
    const endpoint = target();
    const r = report(ex, endpoint);
    const name = (endpoint ?? source?.endpoints().find((e) => e.uri === ex.endpoint.uri))?.name;
    if (source?.others === undefined || r.since === undefined || name === undefined) {
      send(ex, acc, r);
      return;
    }
    // a worker: the sum over all workers (a worker that does not answer in time is left out)
    source.others(name).then(
      (others) => send(ex, acc, { ...r, groups: sumCounterGroups([r.groups, ...others]) }),
      () => send(ex, acc, r),
    );
  }

  const resource = createResource('diagnose', {
    title: 'Resource for diagnose statistics',
    attributes: { ct: ['0', '50', '60'] },
    handlers: { GET: (ex) => respond(ex, () => undefined) },
  });

  function createChild(name: string): Resource {
    return createResource(name, {
      title: `Resource for diagnose statistic of ${name}`,
      attributes: { ct: ['0', '50', '60'] },
      handlers: { GET: (ex) => respond(ex, () => source?.endpoints().find((e) => e.name === name)) },
    });
  }

  function refresh(): void {
    const names = new Set((source?.endpoints() ?? []).map((e) => e.name));
    for (const name of [...resource.children.keys()]) if (!names.has(name)) removeChild(resource, name);
    for (const name of names) if (!resource.children.has(name)) addChild(resource, createChild(name));
  }

  // endpoints bound after the last refresh are still reachable
  resource.resolveChild = (name) => {
    if (!source?.endpoints().some((e) => e.name === name)) return undefined;
    refresh();
    return resource.children.get(name);
  };
  return { resource, refresh };
}

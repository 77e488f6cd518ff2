// RFC 6690 CoRE link-format: serialization of a resource tree and `/.well-known/core` filtering.
import { Code, Format } from './message.js';
import { accept, uriQuery } from './options.js';
import { type Resource, type Exchange, addChild, createResource } from './resource.js';

/** One serialized web link: encoded URI plus the resource attributes. */
export interface WebLink {
  uri: string;
  attributes: Map<string, string[]>;
}

const UNRESERVED = /^[A-Za-z0-9.\-*_]$/;

/** URL-encodes one path segment like Java's `URLEncoder.encode(name, UTF-8)` (blank → `+`). */
export function encodePathSegment(name: string): string {
  let out = '';
  for (const ch of name) {
    if (UNRESERVED.test(ch)) out += ch;
    else if (ch === ' ') out += '+';
    else {
      for (const b of Buffer.from(ch, 'utf8')) out += '%' + b.toString(16).toUpperCase().padStart(2, '0');
    }
  }
  return out;
}

/** The encoded URI of a resource as written in a link, e.g. `/path/sub1`. */
export function linkUri(resource: Resource): string {
  const parts: string[] = [];
  for (let r: Resource | undefined = resource; r && r.parent; r = r.parent) parts.push(encodePathSegment(r.name));
  return '/' + parts.reverse().join('/');
}

/** Serializes one attribute: bare name, unquoted digits, or a quoted blank-joined value list. */
export function serializeAttribute(name: string, values: readonly string[]): string {
  if (values.length === 0 || (values.length === 1 && values[0] === '')) return name;
  if (values.length === 1 && /^[0-9]+$/.test(values[0]!)) return `${name}=${values[0]}`;
  return `${name}="${values.join(' ')}"`;
}

/** Serializes one link: `<uri>` followed by `;attr...` sorted by attribute name. */
export function serializeLink(link: WebLink): string {
  const names = [...link.attributes.keys()].sort(byteCompare);
  let out = `<${link.uri}>`;
  for (const name of names) out += ';' + serializeAttribute(name, link.attributes.get(name)!);
  return out;
}

function byteCompare(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

function matchValue(prefix: boolean, expected: string, value: string): boolean {
  if (!value.startsWith(expected)) return false;
  return prefix || expected.length === value.length;
}

/** RFC 6690 §4.1 filter: `name=value`, `name=prefix*`, `href=uri`, `href=prefix*` or a bare `name`. */
export function matchesFilter(link: WebLink, filter: string | undefined): boolean {
  if (filter === undefined) return true;
  let name = filter;
  let expected: string | undefined;
  let prefix = false;
  const eq = filter.indexOf('=');
  if (eq >= 0) {
    name = filter.substring(0, eq);
    prefix = filter.endsWith('*') && filter.length > eq + 1;
    expected = filter.substring(eq + 1, prefix ? filter.length - 1 : filter.length);
    if (name === 'href') return matchValue(prefix, expected, link.uri);
  }
  const values = link.attributes.get(name);
  if (values === undefined) return false;
  if (expected === undefined) return true;
  const list = values.length === 0 ? [''] : values;
  return list.some((v) => matchValue(prefix, expected!, v));
}

/** Links of all visible descendants of `resource` (not the resource itself), sorted by URI. */
export function collectLinks(resource: Resource, filter?: string): WebLink[] {
  const links: WebLink[] = [];
  const walk = (node: Resource): void => {
    for (const child of node.children.values()) {
      if (child.visible) {
        const link: WebLink = { uri: linkUri(child), attributes: child.attributes };
        if (matchesFilter(link, filter)) links.push(link);
      }
      walk(child);
    }
  };
  walk(resource);
  return links.sort((a, b) => byteCompare(a.uri, b.uri));
}

/** Link-format of all visible resources below `root`, optionally filtered by one query. */
export function linkFormat(root: Resource, filter?: string): string {
  return collectLinks(root, filter).map(serializeLink).join(',');
}

/** Link-format of the sub-tree below a resource (used by `/path`, `/large-create`, `/echo`). */
export function subTreeLinkFormat(resource: Resource): string {
  return linkFormat(resource);
}

/** Handles GET `/.well-known/core` for the tree below `root` (§1.8). */
export function handleDiscovery(root: Resource, ex: Exchange): void {
  const acc = accept(ex.request);
  if (acc !== undefined && acc !== Format.LINK) {
    ex.respond({ code: Code.NOT_ACCEPTABLE });
    return;
  }
  const queries = uriQuery(ex.request);
  if (queries.length > 1) {
    ex.respond({ code: Code.BAD_OPTION, payload: 'only one search query is supported!', format: Format.TEXT });
    return;
  }
  ex.respond({ code: Code.CONTENT, payload: linkFormat(root, queries[0]), format: Format.LINK });
}

/** Creates the invisible `.well-known` resource with its invisible `core` child serving discovery of `root`. */
export function createWellKnownCore(root: Resource): Resource {
  const wellKnown = createResource('.well-known', { visible: false });
  const core = createResource('core', { visible: false, handlers: { GET: (ex) => handleDiscovery(root, ex) } });
  addChild(wellKnown, core);
  return wellKnown;
}

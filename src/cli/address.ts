// Address syntax of address-valued options and cluster definitions (cli.md §2.3).
import { isIPv6 } from 'node:net';
import { ValueError } from '../config/errors.js';

/** `:<port>` (host undefined = wildcard), `<host>:<port>` or `[<ipv6>]:<port>`; the host is not resolved here. */
export interface OptionAddress {
  /** host name or IP literal (IPv6 without brackets); undefined = any address */
  host?: string;
  port: number;
}

/**
 * Parses the address syntax; throws a ValueError on bad input (message with the text, `reason`
 * without it).
 */
export function parseAddress(text: string): OptionAddress {
  const colon = text.lastIndexOf(':');
  if (colon < 0) {
    const reason = 'not an address like :5684, host:5684 or [::1]:5684';
    throw new ValueError(text, reason, `'${text}' is ${reason}`);
  }
  const hostText = text.slice(0, colon);
  const port = parsePort(text.slice(colon + 1), text);
  if (hostText === '') return { port };
  if (hostText.startsWith('[')) {
    const host = hostText.endsWith(']') ? hostText.slice(1, -1) : '';
    if (!isIPv6(host.replace(/%.*$/, ''))) throw new ValueError(text, 'invalid IPv6 literal', `'${text}' has an invalid IPv6 literal`);
    return { host, port };
  }
  if (hostText.includes(':')) throw new ValueError(text, 'IPv6 literals need brackets, e.g. [::1]:5684');
  if (!/^[A-Za-z0-9._-]+$/.test(hostText)) throw new ValueError(text, 'invalid host name', `'${text}' has an invalid host name`);
  return { host: hostText, port };
}

/** Parses a port number 0..65535; throws a ValueError for `context` (the whole text the port is part of) otherwise. */
export function parsePort(text: string, context = text): number {
  if (!/^\d{1,5}$/.test(text) || Number(text) > 65535) {
    // the port at the end of an address is evident; a port elsewhere in the text is named
    const reason = context === text || context.endsWith(`:${text}`) ? 'invalid port' : `invalid port '${text}'`;
    throw new ValueError(context, reason, `'${context}' has an invalid port`);
  }
  return Number(text);
}

/** One `--dtls-cluster` node: `<dtls-intf>;<mgmt-intf>;<node-id>`, `---` as dtls-intf marks a remote node. */
export interface ClusterNode {
  /** undefined for a remote node (`---`) */
  dtls?: OptionAddress;
  mgmt: OptionAddress;
  nodeId: number;
}

/** Parses a `--dtls-cluster` entry; throws a ValueError with the reference's wording. */
export function parseClusterNode(text: string): ClusterNode {
  const parts = text.split(';');
  if (parts.length !== 3) {
    const reason = 'a cluster definition must contain 3 parts, <dtls-intf>;<mgmt-intf>;nodeid';
    throw new ValueError(text, reason, `${reason} (was '${text}')`);
  }
  const [dtls, mgmt, id] = parts as [string, string, string];
  if (!/^[+-]?\d+$/.test(id.trim())) throw new ValueError(text, `node-id '${id}' is not an integer`, `node-id '${id}' of '${text}' is not an integer`);
  const node: ClusterNode = { mgmt: parseAddress(mgmt.trim()), nodeId: Number(id.trim()) };
  if (dtls.trim() !== '---') node.dtls = parseAddress(dtls.trim());
  return node;
}

/** `--k8s-dtls-cluster` value: `<dtls-intf>;<mgmt-intf>;<external-mgmt-port>`. */
export interface K8sCluster {
  dtls: OptionAddress;
  mgmt: OptionAddress;
  externalMgmtPort: number;
}

/** Parses a `--k8s-dtls-cluster` value; throws a ValueError with a reason. */
export function parseK8sCluster(text: string): K8sCluster {
  const parts = text.split(';');
  if (parts.length !== 3) {
    const reason = 'a k8s cluster definition must contain 3 parts, <dtls-intf>;<mgmt-intf>;<external-mgmt-port>';
    throw new ValueError(text, reason, `${reason} (was '${text}')`);
  }
  const [dtls, mgmt, port] = parts as [string, string, string];
  return { dtls: parseAddress(dtls.trim()), mgmt: parseAddress(mgmt.trim()), externalMgmtPort: parsePort(port.trim(), text) };
}

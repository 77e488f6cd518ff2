// Address syntax of address-valued options and cluster definitions (cli.md §2.3).
import { isIPv6 } from 'node:net';

/** `:<port>` (host undefined = wildcard), `<host>:<port>` or `[<ipv6>]:<port>`; the host is not resolved here. */
export interface OptionAddress {
  /** host name or IP literal (IPv6 without brackets); undefined = any address */
  host?: string;
  port: number;
}

/** Parses the address syntax; throws an Error with a reason on bad input. */
export function parseAddress(text: string): OptionAddress {
  const colon = text.lastIndexOf(':');
  if (colon < 0) throw new Error(`'${text}' is not an address like :5684, host:5684 or [::1]:5684`);
  const hostText = text.slice(0, colon);
  const port = parsePort(text.slice(colon + 1), text);
  if (hostText === '') return { port };
  if (hostText.startsWith('[')) {
    const host = hostText.endsWith(']') ? hostText.slice(1, -1) : '';
    if (!isIPv6(host.replace(/%.*$/, ''))) throw new Error(`'${text}' has an invalid IPv6 literal`);
    return { host, port };
  }
  if (hostText.includes(':')) throw new Error(`'${text}': IPv6 literals need brackets, e.g. [::1]:5684`);
  if (!/^[A-Za-z0-9._-]+$/.test(hostText)) throw new Error(`'${text}' has an invalid host name`);
  return { host: hostText, port };
}

/** Parses a port number 0..65535; throws an Error naming `context` otherwise. */
export function parsePort(text: string, context = text): number {
  if (!/^\d{1,5}$/.test(text) || Number(text) > 65535) throw new Error(`'${context}' has an invalid port`);
  return Number(text);
}

/** One `--dtls-cluster` node: `<dtls-intf>;<mgmt-intf>;<node-id>`, `---` as dtls-intf marks a remote node. */
export interface ClusterNode {
  /** undefined for a remote node (`---`) */
  dtls?: OptionAddress;
  mgmt: OptionAddress;
  nodeId: number;
}

/** Parses a `--dtls-cluster` entry; throws an Error with the reference's wording. */
export function parseClusterNode(text: string): ClusterNode {
  const parts = text.split(';');
  if (parts.length !== 3) {
    throw new Error(`a cluster definition must contain 3 parts, <dtls-intf>;<mgmt-intf>;nodeid (was '${text}')`);
  }
  const [dtls, mgmt, id] = parts as [string, string, string];
  if (!/^[+-]?\d+$/.test(id.trim())) throw new Error(`node-id '${id}' of '${text}' is not an integer`);
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

/** Parses a `--k8s-dtls-cluster` value; throws an Error with a reason. */
export function parseK8sCluster(text: string): K8sCluster {
  const parts = text.split(';');
  if (parts.length !== 3) {
    throw new Error(`a k8s cluster definition must contain 3 parts, <dtls-intf>;<mgmt-intf>;<external-mgmt-port> (was '${text}')`);
  }
  const [dtls, mgmt, port] = parts as [string, string, string];
  return { dtls: parseAddress(dtls.trim()), mgmt: parseAddress(mgmt.trim()), externalMgmtPort: parsePort(port.trim(), text) };
}

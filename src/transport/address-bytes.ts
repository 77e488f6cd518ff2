// Peer addresses as raw bytes (4 or 16) and back to text in the reference's (Java) form.
import { isIPv4, isIPv6, SocketAddress } from 'node:net';

/** Raw bytes of an IP address text; IPv4-mapped IPv6 becomes 4 bytes (as Java does); undefined if invalid. */
export function ipToBytes(address: string): Buffer | undefined {
  const zone = address.indexOf('%');
  const text = zone >= 0 ? address.substring(0, zone) : address;
  if (isIPv4(text)) return Buffer.from(text.split('.').map((p) => Number(p)));
  if (!isIPv6(text)) return undefined;
  let head = text;
  let v4: number[] = [];
  const lastColon = text.lastIndexOf(':');
  if (text.includes('.', lastColon)) {
    // embedded IPv4 tail, e.g. ::ffff:1.2.3.4
    v4 = text.substring(lastColon + 1).split('.').map((p) => Number(p));
    head = text.substring(0, lastColon + 1) + '0:0';
  }
  const [left, right] = head.includes('::') ? head.split('::') : [head, undefined];
  const groups = (s: string | undefined): string[] => (s ? s.split(':').filter((g) => g.length > 0) : []);
  const l = groups(left);
  const r = groups(right);
  const all = right === undefined ? l : [...l, ...Array<string>(8 - l.length - r.length).fill('0'), ...r];
  const out = Buffer.alloc(16);
  all.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
  if (v4.length === 4) Buffer.from(v4).copy(out, 12);
  const mapped = out.subarray(0, 10).every((b) => b === 0) && out[10] === 0xff && out[11] === 0xff;
  return mapped ? Buffer.from(out.subarray(12)) : out;
}

/** Address text of raw bytes: dotted IPv4, or IPv6 as eight hex groups without compression (Java's getHostAddress). */
export function bytesToIp(bytes: Buffer): string {
  if (bytes.length === 4) return Array.from(bytes).join('.');
  const groups: string[] = [];
  for (let i = 0; i + 1 < bytes.length; i += 2) groups.push(bytes.readUInt16BE(i).toString(16));
  return groups.join(':');
}

/** Address text of raw bytes as Node reports peer addresses: dotted IPv4, compressed IPv6 (RFC 5952). */
export function bytesToAddress(bytes: Buffer): string {
  if (bytes.length === 4) return `${bytes[0]}.${bytes[1]}.${bytes[2]}.${bytes[3]}`;
  return new SocketAddress({ address: bytesToIp(bytes), family: 'ipv6' }).address;
}

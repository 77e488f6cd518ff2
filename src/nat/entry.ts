// A NAT entry (clients.md §7.2): one client source address, its outgoing sockets and its destination.
import type dgram from 'node:dgram';
import type { Endpoint } from './address.js';
import type { Destination } from './balancer.js';
import { createUdpSocket } from '../transport/udp-socket.js';

/** Receives the datagrams arriving on an entry's outgoing socket. */
export type EntryReceiver = (entry: NatEntry, data: Buffer, from: dgram.RemoteInfo) => void;

/** Source NAT state of one client address. */
export interface NatEntry {
  client: string;
  clientPort: number;
  /** the listening socket that received the client's first datagram; answers leave from it */
  listener: dgram.Socket;
  /** outgoing sockets by `socketKind`, opened on first use */
  sockets: Array<dgram.Socket | undefined>;
  destination: Destination | undefined;
  /** the destination was just assigned and is used once even if not (yet) usable */
  first: boolean;
  /** time of the last datagram in either direction */
  lastUsed: number;
  closed: boolean;
  /** the last known destination other than `destination` that answered (--cid, reverse update) */
  otherSource: Destination | undefined;
  /** next entry of another client address with the same port (EntryTable) */
  samePort: NatEntry | undefined;
}

/** Creates an entry without sockets. */
export function createEntry(client: string, clientPort: number, listener: dgram.Socket, now: number): NatEntry {
  return {
    client,
    clientPort,
    listener,
    sockets: [undefined, undefined, undefined, undefined],
    destination: undefined,
    first: true,
    lastUsed: now,
    closed: false,
    otherSource: undefined,
    samePort: undefined,
  };
}

function isLoopback(e: Endpoint): boolean {
  return e.family === 6 ? e.address === '::1' : e.address.startsWith('127.');
}

/**
 * Outgoing socket kind for a destination: by address family, and loopback destinations get a socket bound
 * to the loopback address (the source the kernel would pick anyway), others a wildcard socket.
 */
export function socketKind(e: Endpoint): number {
  return (e.family === 6 ? 2 : 0) + (isLoopback(e) ? 1 : 0);
}

const BIND_ADDRESS = ['0.0.0.0', '127.0.0.1', '::', '::1'];

/** The entry's outgoing socket for that destination, opened (ephemeral port) on first use. */
export function entrySocket(
  entry: NatEntry,
  to: Destination,
  receive: EntryReceiver,
  onError: (entry: NatEntry, err: Error) => void,
): dgram.Socket {
  const kind = to.socketKind;
  let socket = entry.sockets[kind];
  if (socket === undefined) {
    const s = createUdpSocket({ type: kind >= 2 ? 'udp6' : 'udp4' });
    s.on('message', (data, from) => receive(entry, data, from));
    s.on('error', (err) => onError(entry, err));
    s.bind({ port: 0, address: BIND_ADDRESS[kind] });
    entry.sockets[kind] = s;
    socket = s;
  }
  return socket;
}

/** Assigns a destination, keeping the usage counters; returns false if it was already assigned. */
export function assignDestination(entry: NatEntry, destination: Destination | undefined): boolean {
  if (entry.destination === destination) return false;
  if (entry.destination) entry.destination.usage--;
  entry.destination = destination;
  if (destination) {
    destination.usage++;
    entry.first = true;
  }
  return true;
}

/** Closes the entry's sockets and releases its destination; later datagrams for it are ignored. */
export function closeEntry(entry: NatEntry): void {
  if (entry.closed) return;
  entry.closed = true;
  assignDestination(entry, undefined);
  for (const s of entry.sockets) {
    if (!s) continue;
    try {
      s.close();
    } catch {
      // already closed
    }
  }
}

/** Local ports of the entry's bound sockets. */
export function entryPorts(entry: NatEntry): number[] {
  const ports: number[] = [];
  for (const s of entry.sockets) {
    try {
      if (s) ports.push(s.address().port);
    } catch {
      // not bound yet
    }
  }
  return ports;
}

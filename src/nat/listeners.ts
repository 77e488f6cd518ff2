// The NAT's listening sockets (clients.md §7.1): `:port` = wildcard (dual stack), or explicit addresses.
import type dgram from 'node:dgram';
import { parseHostPort, resolveHostPort } from './address.js';
import { trySet } from '../transport/datagram.js';
import { createUdpSocket } from '../transport/udp-socket.js';

/** A bound listening socket. */
export interface Listener {
  socket: dgram.Socket;
  /** bound address and port */
  address: string;
  port: number;
}

/**
 * Receive buffer asked for on each listening socket (the kernel caps it at net.core.rmem_max): one socket takes
 * the datagrams of every client, and the OS default of about 200 KB overflows within a few ms of a pause under a
 * benchmark of 2,000 clients (every datagram lost there was a retransmission, and at times a transmission error).
 */
export const LISTENER_RECEIVE_BUFFER = 4 * 1024 * 1024;

/** Handles a datagram from a client. */
export type ClientReceiver = (listener: dgram.Socket, data: Buffer, from: dgram.RemoteInfo) => void;

function bindSocket(socket: dgram.Socket, port: number, address: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const failed = (err: Error): void => reject(err);
    socket.once('error', failed);
    socket.bind({ port, address, exclusive: true }, () => {
      socket.off('error', failed);
      trySet(() => socket.setRecvBufferSize(LISTENER_RECEIVE_BUFFER));
      resolve();
    });
  });
}

async function bindOne(text: string): Promise<dgram.Socket> {
  const hp = parseHostPort(text);
  if (hp.host === undefined) {
    // wildcard: dual stack if IPv6 is available, else IPv4 only
    const s6 = createUdpSocket({ type: 'udp6', ipv6Only: false });
    try {
      await bindSocket(s6, hp.port, '::');
      return s6;
    } catch {
      s6.close();
      const s4 = createUdpSocket({ type: 'udp4' });
      await bindSocket(s4, hp.port, '0.0.0.0').catch((err: Error) => {
        s4.close();
        throw err;
      });
      return s4;
    }
  }
  const endpoint = await resolveHostPort(hp);
  const socket = createUdpSocket(endpoint.family === 6 ? { type: 'udp6', ipv6Only: true } : { type: 'udp4' });
  try {
    await bindSocket(socket, endpoint.port, endpoint.address);
  } catch (err) {
    socket.close();
    throw err;
  }
  return socket;
}

/** Binds all listening sockets; on any failure the bound ones are closed and an Error names the address. */
export async function bindListeners(binds: string[], receive: ClientReceiver, onError: (err: Error) => void): Promise<Listener[]> {
  const listeners: Listener[] = [];
  for (const text of binds) {
    let socket: dgram.Socket;
    try {
      socket = await bindOne(text);
    } catch (err) {
      for (const l of listeners) l.socket.close();
      throw new Error(`cannot bind ${text}: ${(err as Error).message}`);
    }
    socket.on('error', onError);
    socket.on('message', (data, from) => receive(socket, data, from));
    const a = socket.address();
    listeners.push({ socket, address: a.address, port: a.port });
  }
  return listeners;
}

// UDP sockets whose sends to numeric addresses skip dns.lookup and its extra tick: once the socket is bound,
// `send` to an IP literal hands the datagram to the kernel at once. Servers, the NAT and the cluster only
// send to numeric addresses (a peer's source address as received, or a resolved destination); a host name
// still goes through the default (asynchronous) lookup, as does binding.
import dgram from 'node:dgram';
import dns from 'node:dns';
import { isIP } from 'node:net';

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string, family: number) => void;

/** dgram.createSocket whose sends to numeric addresses are synchronous once the socket is bound. */
export function createUdpSocket(options: dgram.SocketOptions): dgram.Socket {
  let bound = false;
  // dgram calls lookup(address, family, callback) for bind, connect and every send without a connection
  const lookup = (address: string, family: number, callback: LookupCallback): void => {
    if (bound && isIP(address) !== 0) callback(null, address, family);
    else dns.lookup(address, family, callback);
  };
  const socket = dgram.createSocket({ ...options, lookup: lookup as unknown as dgram.SocketOptions['lookup'] });
  socket.once('listening', () => {
    bound = true;
  });
  return socket;
}

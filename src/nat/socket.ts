// UDP sockets of the NAT. Every address the NAT sends to is numeric (a client's source address as received, or a
// resolved destination), so once a socket is bound its sends skip dns.lookup and its extra tick: `send` hands the
// datagram to the kernel at once. Binding keeps the default (asynchronous) lookup.
import dgram from 'node:dgram';
import dns from 'node:dns';

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string, family: number) => void;

/** dgram.createSocket whose sends to numeric addresses are synchronous once the socket is bound. */
export function createNatSocket(options: dgram.SocketOptions): dgram.Socket {
  let bound = false;
  // dgram calls lookup(address, family, callback) for bind, connect and every send without a connection
  const lookup = (address: string, family: number, callback: LookupCallback): void => {
    if (bound) callback(null, address, family);
    else dns.lookup(address, family, callback);
  };
  const socket = dgram.createSocket({ ...options, lookup: lookup as unknown as dgram.SocketOptions['lookup'] });
  socket.once('listening', () => {
    bound = true;
  });
  return socket;
}

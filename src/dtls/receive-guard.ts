// The entry of every received datagram of a DTLS connector (in front of record-router.ts): a few byte
// reads tell ClientHellos from everything else. Records of connections and handshakes go straight to the
// record router; ClientHellos are counted per peer (flood-guard.ts) and a first ClientHello (no cookie) is
// answered with the stateless HelloVerifyRequest at the lowest cost — one HMAC over the received bytes,
// one buffer, one send (RFC 6347 §4.2.1) — or dropped (counted) when over its budget, so that draining the
// socket under a ClientHello flood stays cheap and the kernel does not drop other peers' datagrams.
import { peerKey, type PeerAddress } from '../transport/connector.js';
import type { Connection } from './connection.js';
import type { ConnectorState } from './connector-state.js';
import { countPeerHello, takeBudget } from './flood-guard.js';
import { clientHelloCookieOffset, fastHelloVerifyRequest, isPlainFirstClientHello } from './hello-verify.js';
import { receiveDatagram } from './record-router.js';
import { sendRaw } from './record-sender.js';

/** Offset of the ClientHello's random in a datagram of one unfragmented ClientHello record (record header 13, handshake header 12, version 2). */
const RANDOM_OFFSET = 27;
const RANDOM_LENGTH = 32;

/**
 * True when the connection at `key` was created by a ClientHello with this datagram's random: a late copy, which the
 * full path drops (a new handshake from the address of a connection, a client restarted on the same port, gets the
 * cheap HelloVerifyRequest like any other first ClientHello, RFC 6347 §4.2.8).
 */
function lateCopy(conn: Connection | undefined, datagram: Buffer): boolean {
  return conn?.createdBy(datagram.subarray(RANDOM_OFFSET, RANDOM_OFFSET + RANDOM_LENGTH)) === true;
}

/** Processes one received datagram from `address:port` (`router`: the cluster node it came through). */
export function guardedReceive(state: ConnectorState, datagram: Buffer, address: string, port: number, router: PeerAddress | undefined): void {
  // anything but an epoch-0 ClientHello (application data, tls12_cid records, handshake flights): one byte read
  if (datagram[0] !== 22 || state.role === 'client') {
    receiveDatagram(state, datagram, address, port, router);
    return;
  }
  const cookieOffset = clientHelloCookieOffset(datagram);
  if (cookieOffset < 0) {
    receiveDatagram(state, datagram, address, port, router);
    return;
  }
  const guard = state.flood;
  const now = state.now();
  const key = peerKey(address, port);
  const current = state.store.getByAddress(key);
  // a peer whose last handshake completed has proven its address and its credentials: light however often it
  // handshakes again (a handshake benchmark); a flood source never gets that far
  const light = countPeerHello(guard, key, now) || current?.established === true;
  const config = state.config;
  if (
    cookieOffset > 0 &&
    state.role === 'server' &&
    config.useHelloVerifyRequest &&
    config.useHelloVerifyRequestForPsk &&
    isPlainFirstClientHello(datagram, cookieOffset) &&
    state.store.getHandshake(key) === undefined &&
    !lateCopy(current, datagram)
  ) {
    state.stats['received records']++;
    if (!takeBudget(guard, guard.hello, light, now)) {
      state.stats['dropped received records']++;
      return;
    }
    // stateless: no connection, no parsing beyond the length checks (RFC 6347 §4.2.1)
    const head = datagram.subarray(25, cookieOffset);
    const tail = datagram.subarray(cookieOffset + 1);
    const cookieGen = state.cookie;
    const cookie = cookieGen.generateParts !== undefined ? cookieGen.generateParts(address, port, head, tail) : cookieGen.generate(address, port, Buffer.concat([head, tail]));
    state.detailStats.helloVerifyRequests++;
    sendRaw(state, fastHelloVerifyRequest(datagram, cookie), address, port);
    return;
  }
  // anything else (cookie, session id, fragment, more records, peer role): the full path, which takes the
  // budgets in server-hello.ts with this peer's weight
  guard.light = light;
  try {
    receiveDatagram(state, datagram, address, port, router);
  } finally {
    guard.light = true;
  }
}

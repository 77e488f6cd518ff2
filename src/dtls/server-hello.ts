// The server side's answer to an epoch-0 ClientHello: retransmission and crossed-handshake checks, the
// stateless cookie exchange (RFC 6347 §4.2.1), then a new connection with a server handshake.
import { Connection } from './connection.js';
import { dropRecord, type ConnectorState, type Handshake } from './connector-state.js';
import type { DtlsConfig } from './config.js';
import { AlertDescription, AlertLevel } from './handshake/alert.js';
import { clientHelloBodyWithoutCookie, type DecodedClientHello } from './handshake/client-hello.js';
import { applyOutcome, peerRetransmitted } from './handshake-driver.js';
import { failHandshake } from './handshake-end.js';
import { handshakeToAbandon, takeBudget, trackHandshake } from './flood-guard.js';
import { startServerHandshake } from './handshake-server.js';
import { helloVerifyRequestRecord, parseInitialClientHello } from './hello-verify.js';
import type { DtlsRecord } from './record.js';
import { sendAlert, sendRaw } from './record-sender.js';

/** A ClientHello record from `address:port` (`key`: their peerKey), role server or peer. */
export function clientHello(state: ConnectorState, record: DtlsRecord, address: string, port: number, key: string): void {
  const init = parseInitialClientHello(record);
  if (init === undefined) {
    dropRecord(state);
    return;
  }
  const { hello, message } = init;
  const running = state.store.getHandshake(key);
  const runningHs = running?.handshake as Handshake | undefined;
  if (running !== undefined && runningHs !== undefined && runningHs.clientRandom.equals(hello.random)) {
    // the client retransmitted its ClientHello: our flight got lost (a peer above its ClientHello rate
    // replaying it gets no more copies of our flight: flood defence)
    if ((hello.cookie.length > 0 || runningHs.resumed) && state.flood.light) peerRetransmitted(state, running, runningHs);
    return;
  }
  if (running !== undefined && runningHs?.role === 'client') {
    // peer role, both sides started a handshake at once: the lower client random goes on (both sides
    // see the same two randoms, so they agree), the other one is abandoned
    if (Buffer.compare(runningHs.clientRandom, hello.random) < 0) {
      dropRecord(state);
      return;
    }
    failHandshake(state, running, undefined, 'crossed handshakes, the peer goes on with its own');
  }
  const established = state.store.getByAddress(key);
  if (established?.createdBy(hello.random) === true) {
    dropRecord(state); // late copy of the ClientHello that created the connection
    return;
  }
  const config = state.config;
  const guard = state.flood;
  let verified = false;
  let proven = false;
  let unverifiedResumption = false;
  if (hello.cookie.length > 0 && verifyCookie(state, address, port, hello)) {
    verified = true;
    proven = true;
  } else if (!config.useHelloVerifyRequest || (!config.useHelloVerifyRequestForPsk && onlyPsk(hello.cipherSuites, config))) {
    verified = true;
  } else if (
    hello.sessionId.length > 0 &&
    state.unverifiedResumptions < (config.maxConnections * config.verifyPeersOnResumptionThreshold) / 100 &&
    state.store.findSession(hello.sessionId) !== undefined
  ) {
    verified = true;
    unverifiedResumption = true;
  }
  // flood defence (flood-guard.ts): proven peers (cookie) have their own budget of handshake starts,
  // unproven ClientHellos share the budget of HelloVerifyRequests
  const now = state.now();
  if (!takeBudget(guard, proven ? guard.start : guard.hello, guard.light, now)) {
    dropRecord(state);
    return;
  }
  if (!verified) {
    // stateless: no connection, no key pair before the cookie verifies (RFC 6347 §4.2.1)
    const cookie = helloCookie(state, address, port, hello);
    state.detailStats.helloVerifyRequests++;
    sendRaw(state, helloVerifyRequestRecord(record, message, cookie), address, port);
    return;
  }
  state.detailStats.verifiedClientHellos++;
  // handshakes in progress are bounded on their own (DTLS.MAX_PENDING_HANDSHAKES[_PER_ADDRESS]): the oldest goes
  for (let victim = handshakeToAbandon(guard, address, now); victim !== undefined; victim = handshakeToAbandon(guard, address, now)) {
    failHandshake(state, victim, undefined, 'abandoned for a newer handshake (DTLS.MAX_PENDING_HANDSHAKES)');
  }
  if (!state.store.reserve(now)) {
    state.detailStats.refusedHandshakes++;
    state.logger?.debug({ peer: key, size: state.store.size }, 'dtls server: connection store full, handshake refused');
    return;
  }
  const conn = new Connection('server', address, port, now);
  conn.seq0 = record.seq; // Californium continues the client's record sequence numbers
  conn.clientRandom = hello.random;
  let started: ReturnType<typeof startServerHandshake>;
  try {
    started = startServerHandshake(state.env, {
      hello,
      helloMessage: message,
      newCid: () => state.store.newCid(),
      findSession: (id) => state.store.findSession(id)?.session,
      unverifiedResumption,
    });
  } catch (err) {
    state.stats['handshakes failed']++;
    state.logger?.debug({ peer: key, err }, 'dtls server: internal error in ClientHello processing');
    sendAlert(state, conn, AlertLevel.FATAL, AlertDescription.INTERNAL_ERROR, false);
    return;
  }
  const { hs, outcome } = started;
  if (outcome.kind === 'fail') {
    state.stats['handshakes failed']++;
    state.logger?.debug({ peer: key, reason: outcome.reason }, 'dtls server: handshake refused');
    sendAlert(state, conn, AlertLevel.FATAL, outcome.alert, false);
    return;
  }
  conn.handshake = hs;
  conn.readCid = hs.readCid;
  state.store.addHandshake(conn);
  trackHandshake(guard, conn);
  if (hs.unverifiedResumption) state.unverifiedResumptions++;
  state.stats.connections = state.store.size;
  applyOutcome(state, conn, hs, outcome);
}

/** The ClientHello's cookie checked over its body without the cookie (RFC 6347 §4.2.1), without a copy of the body when the generator allows. */
function verifyCookie(state: ConnectorState, address: string, port: number, hello: DecodedClientHello): boolean {
  const gen = state.cookie;
  if (gen.verifyParts === undefined) return gen.verify(address, port, clientHelloBodyWithoutCookie(hello), hello.cookie);
  const { raw, cookieOffset } = hello;
  return gen.verifyParts(address, port, raw.subarray(0, cookieOffset), raw.subarray(cookieOffset + 1 + raw[cookieOffset]!), hello.cookie);
}

/** The cookie for a ClientHello (RFC 6347 §4.2.1), over its body without the cookie, without a copy of the body when the generator allows. */
function helloCookie(state: ConnectorState, address: string, port: number, hello: DecodedClientHello): Buffer {
  const gen = state.cookie;
  if (gen.generateParts === undefined) return gen.generate(address, port, clientHelloBodyWithoutCookie(hello));
  const { raw, cookieOffset } = hello;
  return gen.generateParts(address, port, raw.subarray(0, cookieOffset), raw.subarray(cookieOffset + 1 + raw[cookieOffset]!));
}

/** True when every offered suite we know is a PSK suite (and at least one is known). */
function onlyPsk(codes: readonly number[], config: DtlsConfig): boolean {
  let any = false;
  for (const code of codes) {
    const suite = config.cipherSuites.find((s) => s.code === code);
    if (suite === undefined) continue;
    if (!suite.psk) return false;
    any = true;
  }
  return any;
}

// The client side of a DTLS connector (role client or peer): connect(), application messages deferred
// until the handshake completes, starting client handshakes (resuming a kept session when it is fresh),
// and forgetting kept sessions.
import { peerKey, type DtlsSessionInfo } from '../transport/connector.js';
import { Connection } from './connection.js';
import { STOPPED, type ConnectorState } from './connector-state.js';
import { applyOutcome } from './handshake-driver.js';
import { startClientHandshake } from './handshake-client.js';

/** Handshakes with a server now (joining a running handshake); full: no resumption. */
export function connectClient(state: ConnectorState, address: string, port: number, full: boolean): Promise<DtlsSessionInfo> {
  if (state.role === 'server') return Promise.reject(new Error('connect() needs role client or peer'));
  if (!state.transport.running) return Promise.reject(STOPPED);
  const key = peerKey(address, port);
  let conn = state.store.getHandshake(key);
  if (conn === undefined) {
    try {
      conn = startClient(state, address, port, full || state.forceFullHandshake);
    } catch (err) {
      return Promise.reject(err as Error);
    }
  }
  const id = conn.id;
  return new Promise((resolve, reject) => {
    const list = state.waiters.get(id);
    if (list === undefined) state.waiters.set(id, [{ resolve, reject }]);
    else list.push({ resolve, reject });
  });
}

/** Queues an application message until the handshake with `address:port` completes, starting it if needed. */
export function deferSend(state: ConnectorState, address: string, port: number, data: Buffer, onError: ((err: Error) => void) | undefined): void {
  let conn = state.store.getHandshake(peerKey(address, port));
  if (conn === undefined) {
    try {
      conn = startClient(state, address, port, state.forceFullHandshake);
    } catch (err) {
      state.stats['dropped sending records']++;
      onError?.(err as Error);
      return;
    }
  }
  const queue = (conn.deferred ??= []);
  if (queue.length >= state.config.maxDeferredOutboundApplicationMessages) {
    state.stats['dropped sending records']++;
    onError?.(new Error('too many messages waiting for the DTLS handshake'));
    return;
  }
  queue.push({ data, onError });
}

/** Forgets the session kept for resumption with a server. */
export function forgetSession(state: ConnectorState, address: string, port: number): void {
  state.clientSessions.delete(peerKey(address, port));
}

/** Starts a client handshake (sends the ClientHello); throws when the store is full or no suite fits. */
function startClient(state: ConnectorState, address: string, port: number, full: boolean): Connection {
  const now = state.now();
  if (!state.store.reserve(now)) {
    state.detailStats.refusedHandshakes++;
    throw new Error('connection store full');
  }
  const key = peerKey(address, port);
  let session = full ? undefined : state.clientSessions.get(key);
  if (session !== undefined && now - session.creationTime >= state.config.sessionTimeout) {
    state.clientSessions.delete(key);
    session = undefined;
  }
  const cid = state.config.cidLength !== undefined ? state.store.newCid() : undefined;
  const { hs, outcome } = startClientHandshake(state.env, { serverAddress: address, suites: state.offeredSuites, session, cid });
  if (outcome.kind === 'fail') throw new Error(`DTLS handshake not started: ${outcome.reason}`);
  const conn = new Connection('client', address, port, now);
  conn.handshake = hs;
  conn.readCid = cid;
  state.store.addHandshake(conn);
  state.stats.connections = state.store.size;
  state.logger?.debug({ peer: key, resumption: session !== undefined }, 'dtls client: handshake started');
  applyOutcome(state, conn, hs, outcome);
  return conn;
}

// Counters of one coap+tcp / coaps+tcp endpoint (RFC 8323), a plain object for /diagnose and the health log.

/** Counters of one TCP or TLS endpoint; `active` is a gauge, every other field only grows. */
export interface TcpStats {
  /** connections accepted by the socket (TLS: before the handshake) */
  accepted: number;
  /** connections open now and past the TLS handshake */
  active: number;
  /** connections refused at once because TCP.MAX_CONNECTIONS were open */
  overBound: number;
  /** TLS handshakes that failed or timed out, and client certificates refused after the handshake */
  handshakeFailures: number;
  /** TLS handshakes that resumed a session (RFC 5246 §7.3 abbreviated handshake, RFC 8446 §2.2 PSK resumption) */
  tlsResumed: number;
  /** connections closed because the peer's CSM did not arrive within the handshake timeout (RFC 8323 §5.3) */
  csmTimeouts: number;
  /** connections closed because no message went either way within the idle timeout */
  idleClosed: number;
  /** connections the peer closed (FIN or reset) without Release or Abort */
  closedByPeer: number;
  /** Release messages received (RFC 8323 §5.5) */
  releasesReceived: number;
  /** Abort messages sent (RFC 8323 §5.6), framing errors and signaling violations */
  abortsSent: number;
  /** Abort messages received (RFC 8323 §5.6) */
  abortsReceived: number;
  /** framing errors of received byte streams (too large, bad token length, bad options) */
  malformedFrames: number;
  /** sends refused and connections closed because the peer did not read (TCP.MAX_WRITE_BUFFER_SIZE) */
  writeOverflows: number;
  /** sends refused otherwise: connection gone, message above the peer's Max-Message-Size, unencodable */
  sendErrors: number;
  /** non-signaling messages handed to onMessage */
  messagesIn: number;
  /** messages written, signaling included */
  messagesOut: number;
}

/** A zeroed counter set. */
export function createTcpStats(): TcpStats {
  return {
    accepted: 0,
    active: 0,
    overBound: 0,
    handshakeFailures: 0,
    tlsResumed: 0,
    csmTimeouts: 0,
    idleClosed: 0,
    closedByPeer: 0,
    releasesReceived: 0,
    abortsSent: 0,
    abortsReceived: 0,
    malformedFrames: 0,
    writeOverflows: 0,
    sendErrors: 0,
    messagesIn: 0,
    messagesOut: 0,
  };
}

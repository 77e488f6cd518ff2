// The seam between the exchange layer of a CoAP endpoint (tokens, block-wise, observe, resource dispatch)
// and the message layer of its transport: UDP/DTLS (RFC 7252 §4: MIDs, CON/ACK/RST, retransmission,
// deduplication) or, later, TCP/TLS (RFC 8323: no MIDs, no types, the stream is reliable). Types only.
import type { Logger } from 'pino';
import type { CoapMessage } from './message.js';
import type { FormatFailure } from './codec.js';
import type { Deduplicator } from './dedup.js';
import type { CoapStackConfig } from './stack-config.js';
import type { EndpointStats } from './stats.js';
import type { EndpointContext } from '../transport/connector.js';
import type { TimerWheel } from '../util/timer-wheel.js';

/**
 * The per-exchange slot the message hooks keep their state in (a served request, a client request, an
 * observe relation): OSCORE stores the security context and request kid/Partial IV of a request here when
 * it unprotects it, and reads them back to protect the response and every notification (RFC 8613 §8.3).
 */
export interface HookSlot {
  /** opaque to the stack; set and read only by the hooks; undefined until a hook sets it */
  hookState: unknown;
}

/** What the inbound hook makes of a message: go on with it (maybe replaced), answer it with `reply`, or drop it. */
export type InboundVerdict = CoapMessage | { reply: CoapMessage } | undefined;

/**
 * Optional hooks at the endpoint's one inbound and one outbound point (where OSCORE, RFC 8613, plugs in).
 * `inbound` sees every request and every response matched to a client exchange after the message layer
 * accepted it (after deduplication, so a retransmitted request gets the cached response instead of
 * failing a replay check) and before the exchange layer reads it. `outbound` sees every response,
 * notification and request of an exchange just before it is encoded; empty messages (ACK/RST/ping) and
 * repeats (retransmissions, a duplicate's cached response) are not passed to it, as they must go out
 * byte-identical and must not be protected twice.
 */
export interface MessageHooks {
  /**
   * A request (`slot`: its served exchange) or a response (`slot`: the client exchange it matched).
   * Return the message to process (the inner request after unprotecting; keep type, MID and token, which
   * the message layer still reads), `{ reply }` to answer a request with that response instead (its code,
   * options and payload are sent; e.g. 4.01 Unauthorized, RFC 8613 §8.2), or undefined to drop the
   * message silently (a dropped CON request stays unanswered).
   */
  inbound(msg: CoapMessage, ctx: EndpointContext, slot: HookSlot): InboundVerdict;
  /**
   * A response, notification (`slot`: the served exchange or observe relation, carrying what `inbound`
   * kept for the request) or a request (`slot`: the client exchange); returns the message to encode.
   * Type, MID and token are already set and must be kept (they belong to the message layer).
   */
  outbound(msg: CoapMessage, ctx: EndpointContext, slot: HookSlot): CoapMessage;
}

/** Encoding and decoding of one transport's messages (UDP datagram format, RFC 7252 §3; TCP frames, RFC 8323 §3.2). */
export interface WireCodec {
  /** encodes a message; options must be sorted by number */
  encode(msg: CoapMessage): Buffer;
  /** decodes one datagram or frame */
  decode(data: Buffer): CoapMessage | FormatFailure;
}

/** Callbacks of a message the layer delivers reliably (UDP: a CON awaiting its ACK, RFC 7252 §4.2). */
export interface DeliveryHandlers {
  /** the peer acknowledged it (UDP: the ACK, which may carry a piggy-backed response) */
  onAck?(ack: CoapMessage): void;
  /** the peer rejected it (UDP: RST; for a NON notification too, RFC 7641 §3.6) */
  onReset?(): void;
  /** delivery gave up (UDP: MAX_RETRANSMIT exhausted) or the send failed */
  onTimeout?(): void;
  /** called before a retransmission; the owner may `cancel` the delivery and send a newer message instead */
  onRetransmit?(): void;
  /** a message without delivery tracking (UDP: a NON request) could not be sent */
  onSendError?(err: Error): void;
}

/** A message the layer is still delivering (UDP: a CON in flight); opaque beyond these read-only fields. */
export interface Delivery {
  /** retransmissions so far */
  readonly attempts: number;
  /** current retransmission timeout (ms) */
  readonly timeout: number;
}

/** Retransmission state carried over from a replaced delivery (RFC 7641 §4.5.2: the newest notification inherits the count). */
export interface DeliveryCarry {
  attempts: number;
  timeout: number;
}

/** A request being served, as the message layer sees it (the exchange layer's ServerExchange implements it). */
export interface ServedRequest extends HookSlot {
  /** the request as received (its type and MID are the message layer's) */
  readonly request: CoapMessage;
  readonly context: EndpointContext;
  /** the exchange accepted the request: the response comes separately */
  readonly accepted: boolean;
  /** the message layer's own state for this request (UDP: its deduplication handle); opaque to the exchange layer */
  layerState: unknown;
}

/** A client request awaiting its response, as the message layer sees it (the client layer's ClientExchange). */
export interface ResponseTarget extends HookSlot {
  /** MID of the last message sent for the exchange (UDP matches a piggy-backed response against it, RFC 7252 §5.3.2) */
  lastMid: number;
}

/** What a message layer needs of its endpoint: the outbound point, the exchange layer's entries and shared parts. */
export interface MessageLayerHost {
  readonly config: CoapStackConfig;
  readonly stats: EndpointStats;
  readonly logger: Logger | undefined;
  readonly wheel: TimerWheel;
  /** peer identity for deduplication and matching */
  readonly peerOf: (ctx: EndpointContext) => string;
  /** true when the endpoint serves resources (a client-only endpoint rejects requests) */
  readonly serves: boolean;
  /** the one outbound point: applies the outbound hook when `slot` is given, encodes, sends; returns the bytes */
  transmit(msg: CoapMessage, ctx: EndpointContext, slot: HookSlot | undefined, onError?: (err: Error) => void): Buffer;
  /** sends bytes `transmit` produced before again (a retransmission, a duplicate's cached response) */
  resend(data: Buffer, ctx: EndpointContext, onError?: (err: Error) => void): void;
  /** exchange layer: a new request (no duplicate); `layerState` is kept in the exchange for the layer */
  receiveRequest(msg: CoapMessage, ctx: EndpointContext, peer: string, layerState: unknown): void;
  /** exchange layer: the client exchange a response belongs to (by peer and token), if any */
  matchResponse(msg: CoapMessage, peer: string): ResponseTarget | undefined;
  /** exchange layer: delivers a response to the client exchange `matchResponse` returned */
  receiveResponse(target: ResponseTarget, msg: CoapMessage, ctx: EndpointContext): void;
  /**
   * exchange layer: the transport lost a peer (a TCP connection closed or aborted, RFC 8323 §5.5-5.6):
   * its observe relations end silently and its client exchanges fail with `reason`
   */
  dropPeer(peer: string, reason: string): void;
}

/**
 * The message layer of one transport under the exchange layer. The exchange layer says what to send
 * (a response, a notification with a reliability wish, a request); the layer decides MID, type and
 * reliability and sends through the host's outbound point. UDP: `udp-message-layer.ts`. A TCP layer
 * (RFC 8323) sends everything as is (no MID, no type, the stream is reliable: `sendNotification` and
 * `sendRequest` return undefined, `accept` does nothing, `dedup` counts nothing) and handles the
 * signaling messages (7.xx) in `receive`.
 */
export interface MessageLayer {
  /** the wire format of this transport */
  readonly codec: WireCodec;
  /** the layer's deduplicator (health and metrics read its size; a no-op one for TCP) */
  readonly dedup: Deduplicator;
  /** every decoded inbound message */
  receive(msg: CoapMessage, ctx: EndpointContext): void;
  /** a datagram or frame that failed to decode (UDP: RST for a CON, RFC 7252 §4.2; TCP: Abort, RFC 8323 §5.6) */
  receiveMalformed(failure: FormatFailure, ctx: EndpointContext): void;
  /** the exchange will answer later (UDP: empty ACK for a CON, RFC 7252 §5.2.2; TCP: nothing) */
  accept(req: ServedRequest): void;
  /** sends the response of a served request (UDP: piggy-backed in the ACK, separate CON or NON, RFC 7252 §5.2) */
  sendResponse(req: ServedRequest, res: CoapMessage): void;
  /**
   * Sends a notification of an observe relation (`slot`), `confirmable` being the exchange layer's wish
   * (RFC 7641 §4.5; UDP: CON or NON; TCP: the stream is reliable). `handlers` learn of its fate; returns
   * the delivery still in flight (UDP CON), else undefined.
   */
  sendNotification(msg: CoapMessage, ctx: EndpointContext, slot: HookSlot, confirmable: boolean, handlers: DeliveryHandlers, carry?: DeliveryCarry): Delivery | undefined;
  /** sends a client request (`target`: its exchange; UDP sets the MID and, for a CON, retransmits it); returns the delivery in flight, if any */
  sendRequest(msg: CoapMessage, ctx: EndpointContext, target: ResponseTarget, handlers: DeliveryHandlers): Delivery | undefined;
  /** stops delivering a message without calling its handlers */
  cancel(delivery: Delivery): void;
  /** starts the layer's sweeps */
  start(): void;
  /** stops its timers and forgets all message state */
  stop(): void;
}

/** Creates the message layer of an endpoint (EndpointOptions.messageLayer). */
export type MessageLayerFactory = (host: MessageLayerHost) => MessageLayer;

// The message layer of coap+tcp and coaps+tcp (RFC 8323 §3): the stream is reliable and ordered, so there
// are no message ids, no types, no ACK/RST, no retransmission and no deduplication. The connection layer
// (src/tcp/) frames, decodes and encodes the messages and handles the signaling messages (7.xx, §5); this
// layer only hands requests and responses between the connection and the exchange layer.
import { encodeTcp, decodeTcp } from './tcp-codec.js';
import type { FormatFailure } from './codec.js';
import { CON } from './message.js';
import { isRequestCode, isResponseCode, type CoapMessage } from './message.js';
import { createDeduplicator } from './dedup.js';
import type { EndpointContext } from '../transport/connector.js';
import type { MessageLayer, MessageLayerHost, WireCodec } from './message-layer.js';

/** The frame format of RFC 8323 §3.2 (the connection layer encodes and decodes; kept for the interface). */
export const TCP_CODEC: WireCodec = {
  encode: encodeTcp,
  decode(data: Buffer): CoapMessage | FormatFailure {
    try {
      return decodeTcp(data);
    } catch (err) {
      return { reason: (err as Error).message, hasHeader: false, type: CON, mid: 0, code: 0 };
    }
  },
};

/** Creates the message layer of a stream endpoint (EndpointOptions.messageLayer). */
export function createTcpMessageLayer(host: MessageLayerHost): MessageLayer {
  return {
    codec: TCP_CODEC,
    dedup: createDeduplicator({ ...host.config, deduplicator: 'NO_DEDUPLICATOR' }),
    receive(msg: CoapMessage, ctx: EndpointContext): void {
      const code = msg.code;
      if (isRequestCode(code)) {
        host.stats.inc('recv-requests');
        if (host.serves) host.receiveRequest(msg, ctx, host.peerOf(ctx), undefined);
        return;
      }
      if (isResponseCode(code)) {
        host.stats.inc('recv-responses');
        const target = host.matchResponse(msg, host.peerOf(ctx));
        if (target !== undefined) host.receiveResponse(target, msg, ctx);
        return;
      }
      // an empty message (§3.4: ignored) or a reserved class
      if (code !== 0) host.stats.inc('recv-malformed');
    },
    // the connection layer answers a malformed frame with an Abort (§5.6) before anything reaches the endpoint
    receiveMalformed(): void {
      host.stats.inc('recv-malformed');
    },
    // no empty ACK: the response simply follows on the stream
    accept(): void {},
    sendResponse(req, res): void {
      host.transmit(res, req.context, req);
    },
    // the stream is reliable: no CON/NON, no delivery to track (RFC 8323 §3.3, RFC 7641 over TCP)
    sendNotification(msg, ctx, slot, _confirmable, handlers) {
      host.transmit(msg, ctx, slot, handlers.onTimeout === undefined ? undefined : () => handlers.onTimeout!());
      return undefined;
    },
    sendRequest(msg, ctx, target, handlers) {
      host.transmit(msg, ctx, target, handlers.onSendError === undefined ? undefined : (err) => handlers.onSendError!(err));
      return undefined;
    },
    cancel(): void {},
    start(): void {},
    stop(): void {},
  };
}

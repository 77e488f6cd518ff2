// Dispatch of a reassembled handshake message body to its decoder by msg_type (RFC 5246 §7.4,
// RFC 6347 §4.3.2). Bodies whose form depends on the negotiated suite need a context.
import { AlertDescription } from './alert.js';
import { HandshakeType, type KeyExchangeForm, handshakeTypeName } from './constants.js';
import { type CertificateMessage, decodeCertificate, encodeCertificate } from './certificate.js';
import { type CertificateRequest, decodeCertificateRequest, encodeCertificateRequest } from './certificate-request.js';
import { type CertificateVerify, decodeCertificateVerify, encodeCertificateVerify } from './certificate-verify.js';
import { type ClientHello, type DecodedClientHello, decodeClientHello, encodeClientHello } from './client-hello.js';
import { type ClientKeyExchange, decodeClientKeyExchange, encodeClientKeyExchange } from './client-key-exchange.js';
import { type Finished, decodeFinished, encodeFinished } from './finished.js';
import { type HandshakeMessage } from './header.js';
import { type HelloVerifyRequest, decodeHelloVerifyRequest, encodeHelloVerifyRequest } from './hello-verify-request.js';
import { type DecodeResult, fail, ok } from './result.js';
import { type ServerHello, decodeServerHello, encodeServerHello } from './server-hello.js';
import { type ServerHelloDone, decodeServerHelloDone, encodeServerHelloDone } from './server-hello-done.js';
import { type ServerKeyExchange, decodeServerKeyExchange, encodeServerKeyExchange } from './server-key-exchange.js';

/** Negotiated parameters needed to decode suite-dependent bodies. */
export interface HandshakeDecodeContext {
  /** required for ServerKeyExchange and ClientKeyExchange */
  keyExchange?: KeyExchangeForm;
  /** negotiated certificate type of the sender (CertificateType), required for Certificate */
  certificateType?: number;
  /** Finished verify_data length (default 12) */
  verifyDataLength?: number;
}

/** A decoded handshake body tagged with its msg_type. */
export type DecodedHandshake =
  | { msgType: typeof HandshakeType.CLIENT_HELLO; message: DecodedClientHello | ClientHello }
  | { msgType: typeof HandshakeType.SERVER_HELLO; message: ServerHello }
  | { msgType: typeof HandshakeType.HELLO_VERIFY_REQUEST; message: HelloVerifyRequest }
  | { msgType: typeof HandshakeType.CERTIFICATE; message: CertificateMessage }
  | { msgType: typeof HandshakeType.SERVER_KEY_EXCHANGE; message: ServerKeyExchange }
  | { msgType: typeof HandshakeType.CERTIFICATE_REQUEST; message: CertificateRequest }
  | { msgType: typeof HandshakeType.SERVER_HELLO_DONE; message: ServerHelloDone }
  | { msgType: typeof HandshakeType.CERTIFICATE_VERIFY; message: CertificateVerify }
  | { msgType: typeof HandshakeType.CLIENT_KEY_EXCHANGE; message: ClientKeyExchange }
  | { msgType: typeof HandshakeType.FINISHED; message: Finished };

/**
 * Decodes a complete handshake message by its msg_type. Unknown types (and hello_request, which a
 * DTLS 1.2 server never accepts) and suite-dependent types without the needed context → unexpected_message.
 */
export function decodeHandshakeMessage(msg: HandshakeMessage, ctx: HandshakeDecodeContext = {}): DecodeResult<DecodedHandshake> {
  const b = msg.body;
  switch (msg.msgType) {
    case HandshakeType.CLIENT_HELLO:
      return tag(HandshakeType.CLIENT_HELLO, decodeClientHello(b));
    case HandshakeType.SERVER_HELLO:
      return tag(HandshakeType.SERVER_HELLO, decodeServerHello(b));
    case HandshakeType.HELLO_VERIFY_REQUEST:
      return tag(HandshakeType.HELLO_VERIFY_REQUEST, decodeHelloVerifyRequest(b));
    case HandshakeType.CERTIFICATE:
      if (ctx.certificateType === undefined) return missing(msg.msgType, 'certificateType');
      return tag(HandshakeType.CERTIFICATE, decodeCertificate(b, ctx.certificateType));
    case HandshakeType.SERVER_KEY_EXCHANGE:
      if (ctx.keyExchange === undefined) return missing(msg.msgType, 'keyExchange');
      return tag(HandshakeType.SERVER_KEY_EXCHANGE, decodeServerKeyExchange(b, ctx.keyExchange));
    case HandshakeType.CERTIFICATE_REQUEST:
      return tag(HandshakeType.CERTIFICATE_REQUEST, decodeCertificateRequest(b));
    case HandshakeType.SERVER_HELLO_DONE:
      return tag(HandshakeType.SERVER_HELLO_DONE, decodeServerHelloDone(b));
    case HandshakeType.CERTIFICATE_VERIFY:
      return tag(HandshakeType.CERTIFICATE_VERIFY, decodeCertificateVerify(b));
    case HandshakeType.CLIENT_KEY_EXCHANGE:
      if (ctx.keyExchange === undefined) return missing(msg.msgType, 'keyExchange');
      return tag(HandshakeType.CLIENT_KEY_EXCHANGE, decodeClientKeyExchange(b, ctx.keyExchange));
    case HandshakeType.FINISHED:
      return tag(HandshakeType.FINISHED, decodeFinished(b, ctx.verifyDataLength));
    default:
      return fail(AlertDescription.UNEXPECTED_MESSAGE, `unexpected handshake type ${handshakeTypeName(msg.msgType)}`);
  }
}

/** Encodes the body of a tagged handshake message (inverse of {@link decodeHandshakeMessage}). */
export function encodeHandshakeBody(d: DecodedHandshake, verifyDataLength?: number): Buffer {
  switch (d.msgType) {
    case HandshakeType.CLIENT_HELLO:
      return encodeClientHello(d.message);
    case HandshakeType.SERVER_HELLO:
      return encodeServerHello(d.message);
    case HandshakeType.HELLO_VERIFY_REQUEST:
      return encodeHelloVerifyRequest(d.message);
    case HandshakeType.CERTIFICATE:
      return encodeCertificate(d.message);
    case HandshakeType.SERVER_KEY_EXCHANGE:
      return encodeServerKeyExchange(d.message);
    case HandshakeType.CERTIFICATE_REQUEST:
      return encodeCertificateRequest(d.message);
    case HandshakeType.SERVER_HELLO_DONE:
      return encodeServerHelloDone();
    case HandshakeType.CERTIFICATE_VERIFY:
      return encodeCertificateVerify(d.message);
    case HandshakeType.CLIENT_KEY_EXCHANGE:
      return encodeClientKeyExchange(d.message);
    case HandshakeType.FINISHED:
      return encodeFinished(d.message, verifyDataLength);
  }
}

function tag<T extends DecodedHandshake['msgType'], M>(
  msgType: T,
  r: DecodeResult<M>,
): DecodeResult<DecodedHandshake> {
  return r.ok ? ok({ msgType, message: r.value } as DecodedHandshake) : r;
}

function missing(msgType: number, what: string): DecodeResult<DecodedHandshake> {
  return fail(AlertDescription.UNEXPECTED_MESSAGE, `${handshakeTypeName(msgType)} before ${what} was negotiated`);
}

// Shared response builders for common error answers.
import { Code, Format, formatName } from '../coap/message.js';
import { contentFormat } from '../coap/options.js';
import type { Exchange, ResponseSpec } from '../coap/resource.js';

/** 4.06 with text `Type "<mime>" is not supported for this resource!`. */
export function typeNotSupported(format: number): ResponseSpec {
  return {
    code: Code.NOT_ACCEPTABLE,
    payload: `Type "${formatName(format)}" is not supported for this resource!`,
    format: Format.TEXT,
  };
}

/** 4.00 with text `Content-Format not set`. */
export function contentFormatNotSet(): ResponseSpec {
  return { code: Code.BAD_REQUEST, payload: 'Content-Format not set', format: Format.TEXT };
}

/** The request's Content-Format, or undefined after answering 4.00 `Content-Format not set`. */
export function requireContentFormat(ex: Exchange): number | undefined {
  const format = contentFormat(ex.request);
  if (format === undefined) ex.respond(contentFormatNotSet());
  return format;
}

/** 4.06 with text `<mime> only` (used by resources holding a single stored format). */
export function onlyFormat(format: number): ResponseSpec {
  return { code: Code.NOT_ACCEPTABLE, payload: `${formatName(format)} only`, format: Format.TEXT };
}

// `/multi-format`: content negotiation between text, XML, JSON and CBOR (resources.md §3.16).
import { Code, Format, TYPE_NAMES, codeName } from '../../coap/message.js';
import { accept } from '../../coap/options.js';
import { type Resource, createResource } from '../../coap/resource.js';
import { encodeCbor } from '../cbor.js';

/** Creates `/multi-format` (GET). */
export function createMultiFormatResource(): Resource {
  return createResource('multi-format', {
    title: 'Resource that exists in different content formats (text/plain utf8 and application/xml)',
    attributes: { ct: ['0', '41', '50', '60'] },
    handlers: {
      GET: (ex) => {
        const req = ex.request;
        const acc = accept(req);
        const type = TYPE_NAMES[req.type];
        const code = codeName(req.code);
        const mid = req.mid;
        switch (acc) {
          case undefined:
          case Format.TEXT:
            ex.respond({
              code: Code.CONTENT,
              payload: `Status type: "${type}"\nCode: "${code}"\nMID: ${mid}\nAccept: ${acc ?? -1}`,
              format: Format.TEXT,
            });
            return;
          case Format.XML:
            ex.respond({
              code: Code.CONTENT,
              payload: `<msg type="${type}" code="${code}" mid="${mid}" accept="${acc}" />`,
              format: Format.XML,
            });
            return;
          case Format.JSON:
            ex.respond({
              code: Code.CONTENT,
              payload: `{ "type":"${type}", "code":"${code}", "mid":${mid}, "accept":${acc} }`,
              format: Format.JSON,
            });
            return;
          case Format.CBOR:
            ex.respond({
              code: Code.CONTENT,
              payload: encodeCbor({ type, code, mid, accept: acc }),
              format: Format.CBOR,
            });
            return;
          default:
            ex.respond({
              code: Code.NOT_ACCEPTABLE,
              payload: 'text/plain, application/xml, application/json, or application/cbor only',
            });
        }
      },
    },
  });
}

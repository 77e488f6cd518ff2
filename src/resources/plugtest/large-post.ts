// `/large-post`: block-wise POST answered with the upper-cased text (resources.md §3.8).
import { Code, Format } from '../../coap/message.js';
import { type Resource, createResource } from '../../coap/resource.js';
import { subTreeLinkFormat } from '../../coap/link-format.js';
import { requireContentFormat } from '../responses.js';

/** Creates `/large-post` (GET empty link-format, POST upper-case echo). */
export function createLargePostResource(): Resource {
  const resource = createResource('large-post', {
    title: 'Handle POST with two-way blockwise transfer',
    attributes: { rt: 'block' },
    handlers: {
      GET: (ex) => ex.respond({ code: Code.CONTENT, payload: subTreeLinkFormat(resource), format: Format.LINK }),
      POST: (ex) => {
        if (requireContentFormat(ex) === undefined) return;
        const text = ex.request.payload.toString('utf8').toUpperCase();
        ex.respond({ code: Code.CHANGED, payload: text, format: Format.TEXT });
      },
    },
  });
  return resource;
}

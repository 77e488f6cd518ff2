// `/large-separate`: the `/large` text as separate response (resources.md §3.9).
import { Code, Format } from '../../coap/message.js';
import { type Resource, createResource } from '../../coap/resource.js';
import { LARGE_TEXT } from './large.js';

/** Creates `/large-separate` (GET: accept, then respond). */
export function createLargeSeparateResource(): Resource {
  return createResource('large-separate', {
    title: 'Large resource',
    attributes: { rt: 'block', sz: '1280' },
    handlers: {
      GET: (ex) => {
        ex.accept();
        ex.respond({ code: Code.CONTENT, payload: LARGE_TEXT, format: Format.TEXT });
      },
    },
  });
}

// `/query`: echoes the Uri-Query options (resources.md §3.3).
import { Code, Format } from '../../coap/message.js';
import { uriQuery } from '../../coap/options.js';
import { type Resource, createResource } from '../../coap/resource.js';
import { truncateText } from '../payload.js';
import { requestSummary } from '../text.js';

/** Creates `/query` (GET). */
export function createQueryResource(): Resource {
  return createResource('query', {
    title: 'Resource accepting query parameters',
    handlers: {
      GET: (ex) => {
        const text = `${requestSummary(ex.request)}\n?${uriQuery(ex.request).join('&')}`;
        ex.respond({ code: Code.CONTENT, payload: truncateText(text, 64, 63), format: Format.TEXT });
      },
    },
  });
}

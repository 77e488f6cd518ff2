// `/test`: the default test resource of TD_COAP_CORE_01..18 (resources.md §3.1).
import { Code, Format, Opt } from '../../coap/message.js';
import { hasOption } from '../../coap/options.js';
import { type Resource, createResource } from '../../coap/resource.js';
import { truncateText } from '../payload.js';
import { requestSummary, tokenHex } from '../text.js';
import { locationPath, maxAge } from './options.js';

/** Creates `/test` (GET, POST, PUT, DELETE). */
export function createTestResource(): Resource {
  return createResource('test', {
    title: 'Default test resource',
    handlers: {
      GET: (ex) => {
        const text = `${requestSummary(ex.request)}\nToken: ${tokenHex(ex.request.token)}`;
        ex.respond({
          code: Code.CONTENT,
          payload: truncateText(text, 64, 62),
          format: Format.TEXT,
          options: [maxAge(30)],
        });
      },
      POST: (ex) => {
        ex.respond({ code: Code.CREATED, options: locationPath(['location1', 'location2', 'location3']) });
      },
      PUT: (ex) => {
        ex.respond({ code: hasOption(ex.request, Opt.IF_NONE_MATCH) ? Code.PRECONDITION_FAILED : Code.CHANGED });
      },
      DELETE: (ex) => ex.respond({ code: Code.DELETED }),
    },
  });
}

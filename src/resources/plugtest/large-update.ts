// `/large-update`: block-wise updatable text (resources.md §3.6).
import { Code, Format } from '../../coap/message.js';
import { type Resource, createResource, notifyObservers, setAttribute } from '../../coap/resource.js';
import { requireContentFormat } from '../responses.js';
import { LARGE_TEXT } from './large.js';
import { respondStored } from './stored-content.js';

/** Creates `/large-update` (GET, PUT), initially holding the `/large` text. */
export function createLargeUpdateResource(): Resource {
  let data: Buffer = Buffer.from(LARGE_TEXT);
  let format: number = Format.TEXT;
  const resource = createResource('large-update', {
    title: 'Large resource that can be updated using PUT method',
    attributes: { rt: 'block', sz: '1280' },
    handlers: {
      GET: (ex) => respondStored(ex, data, format),
      PUT: (ex) => {
        const cf = requireContentFormat(ex);
        if (cf === undefined) return;
        data = ex.request.payload;
        format = cf;
        setAttribute(resource, 'ct', String(format));
        setAttribute(resource, 'sz', String(data.length));
        notifyObservers(resource);
        ex.respond({ code: Code.CHANGED });
      },
    },
  });
  return resource;
}

// `/location-query`: POST answered with Location-Query options (resources.md §3.15).
import { Code } from '../../coap/message.js';
import { type Resource, createResource } from '../../coap/resource.js';
import { locationQuery } from './options.js';

/** Creates `/location-query` (POST → 2.01 with `first=1`, `second=2`). */
export function createLocationQueryResource(): Resource {
  return createResource('location-query', {
    title: 'Perform POST transaction with responses containing several Location-Query options (CON mode)',
    handlers: {
      POST: (ex) => ex.respond({ code: Code.CREATED, options: locationQuery(['first=1', 'second=2']) }),
    },
  });
}

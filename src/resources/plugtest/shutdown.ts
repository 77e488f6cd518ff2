// `/shutdown`: POST `sesame` ends the process after 500 ms (resources.md §3.21).
import { Code } from '../../coap/message.js';
import { type Resource, createResource } from '../../coap/resource.js';

/** Delay between the 2.04 answer and the shutdown call in ms. */
export const SHUTDOWN_DELAY_MS = 500;

/** Creates `/shutdown`; `shutdown` is called 500 ms after a POST with payload `sesame` (not cancelled by stop()). */
export function createShutdownResource(shutdown: () => void): Resource {
  return createResource('shutdown', {
    title: 'Shutdown the server',
    handlers: {
      POST: (ex) => {
        if (ex.request.payload.toString('utf8') !== 'sesame') {
          ex.respond({ code: Code.FORBIDDEN });
          return;
        }
        ex.respond({ code: Code.CHANGED });
        setTimeout(shutdown, SHUTDOWN_DELAY_MS);
      },
    },
  });
}

// `/separate`: answered after 1 s as a separate response (resources.md §3.4).
import { Code, Format } from '../../coap/message.js';
import { type Resource, createResource } from '../../coap/resource.js';
import { requestSummary } from '../text.js';
import type { TreeTimers } from '../timers.js';

/** Delay of the separate response in ms. */
export const SEPARATE_DELAY_MS = 1000;

/** Creates `/separate` (GET: accept, respond after 1000 ms). */
export function createSeparateResource(timers: TreeTimers): Resource {
  return createResource('separate', {
    title: 'Resource which cannot be served immediately and which cannot be acknowledged in a piggy-backed way',
    handlers: {
      GET: (ex) => {
        ex.accept();
        const payload = `${requestSummary(ex.request)}\n`;
        timers.after(SEPARATE_DELAY_MS, () => ex.respond({ code: Code.CONTENT, payload, format: Format.TEXT }));
      },
    },
  });
}

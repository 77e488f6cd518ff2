// `/telemetry` and `/event`: Hono-like publish test resources (resources.md §2.9).
import { Code, Format } from '../../coap/message.js';
import { accept } from '../../coap/options.js';
import { type Resource, createResource } from '../../coap/resource.js';
import { typeNotSupported } from '../responses.js';

/** Creates an invisible Hono test resource named `name` (POST only). */
export function createHonoResource(name: string): Resource {
  return createResource(name, {
    title: `Hono test request for ${name}`,
    attributes: { ct: ['50', '0', '42'] },
    visible: false,
    handlers: {
      POST: (ex) => {
        const acc = accept(ex.request);
        if (acc === undefined || acc === Format.TEXT) {
          ex.respond({ code: Code.CHANGED, payload: `${name} published!`, format: Format.TEXT });
        } else if (acc === Format.JSON) {
          ex.respond({
            code: Code.CHANGED,
            payload: `{ "type" : "${name}", "msg" : "published!" }`,
            format: Format.JSON,
          });
        } else if (acc === Format.OCTETS) {
          ex.respond({ code: Code.CHANGED, payload: Buffer.from(`${name} published!`), format: Format.OCTETS });
        } else {
          ex.respond(typeNotSupported(acc));
        }
      },
    },
  });
}

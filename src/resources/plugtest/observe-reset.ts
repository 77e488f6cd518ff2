// `/obs-reset`: POST `sesame` ends the observe relations of the root's observable children (resources.md §3.14).
import { Code } from '../../coap/message.js';
import { uriQuery } from '../../coap/options.js';
import { type Resource, clearObservers, createResource } from '../../coap/resource.js';

/** Creates `/obs-reset` acting on the direct children of `root`. */
export function createObserveResetResource(root: Resource): Resource {
  return createResource('obs-reset', {
    handlers: {
      POST: (ex) => {
        if (ex.request.payload.toString('utf8') !== 'sesame') {
          ex.respond({ code: Code.FORBIDDEN });
          return;
        }
        const notFound = uriQuery(ex.request).some((q) => q === 'notfound' || q.startsWith('notfound='));
        for (const child of root.children.values()) {
          if (child.observable) clearObservers(child, notFound ? Code.NOT_FOUND : undefined);
        }
        ex.respond({ code: Code.CHANGED });
      },
    },
  });
}

// `/large-create`: POST creates numbered sub-resources (resources.md §3.7).
import { Code, Format } from '../../coap/message.js';
import {
  type Resource,
  addChild,
  clearObservers,
  createResource,
  removeChild,
  resourceUri,
} from '../../coap/resource.js';
import { subTreeLinkFormat } from '../../coap/link-format.js';
import { requireContentFormat } from '../responses.js';
import { locationPath } from './options.js';
import { respondStored } from './stored-content.js';

function createStorage(parent: Resource, name: string, data: Buffer, format: number): Resource {
  const child = createResource(name, {
    attributes: { ct: String(format), sz: String(data.length) },
    handlers: {
      GET: (ex) => respondStored(ex, data, format),
      DELETE: (ex) => {
        removeChild(parent, name);
        clearObservers(child, Code.NOT_FOUND);
        ex.respond({ code: Code.DELETED });
      },
    },
  });
  return child;
}

/** Creates `/large-create` (GET link-format of children, POST creates `1`, `2`, ...). */
export function createLargeCreateResource(): Resource {
  let counter = 0;
  const resource = createResource('large-create', {
    title: 'Large resource that can be created using POST method',
    attributes: { rt: 'block' },
    handlers: {
      GET: (ex) => ex.respond({ code: Code.CONTENT, payload: subTreeLinkFormat(resource), format: Format.LINK }),
      POST: (ex) => {
        const cf = requireContentFormat(ex);
        if (cf === undefined) return;
        const name = String(++counter);
        const child = addChild(resource, createStorage(resource, name, ex.request.payload, cf));
        const segments = resourceUri(child).split('/').filter((s) => s.length > 0);
        ex.respond({ code: Code.CREATED, options: locationPath(segments) });
      },
    },
  });
  return resource;
}

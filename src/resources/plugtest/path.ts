// `/path` and `/path/sub1..3`: hierarchical discovery (resources.md §3.18).
import { Code, Format } from '../../coap/message.js';
import { type Resource, addChild, createResource, resourceUri } from '../../coap/resource.js';
import { subTreeLinkFormat } from '../../coap/link-format.js';

/** Creates `/path` (GET: link-format of its children) with `sub1`, `sub2`, `sub3` (GET: own URI). */
export function createPathResource(): Resource {
  const path = createResource('path', {
    title: 'Hierarchical link description entry',
    attributes: { ct: '40' },
    handlers: {
      GET: (ex) => ex.respond({ code: Code.CONTENT, payload: subTreeLinkFormat(path), format: Format.LINK }),
    },
  });
  for (const name of ['sub1', 'sub2', 'sub3']) {
    const sub: Resource = createResource(name, {
      title: 'Hierarchical link description sub-resource',
      handlers: {
        GET: (ex) => ex.respond({ code: Code.CONTENT, payload: resourceUri(sub), format: Format.TEXT }),
      },
    });
    addChild(path, sub);
  }
  return path;
}

// `/seg1/seg2/seg3`: the long path resources of TD_COAP_CORE_13 (resources.md §3.2).
import { Code, Format } from '../../coap/message.js';
import { type Resource, addChild, createResource } from '../../coap/resource.js';
import { requestSummary } from '../text.js';

function segment(name: string): Resource {
  return createResource(name, {
    title: 'Long path resource',
    handlers: {
      GET: (ex) =>
        ex.respond({
          code: Code.CONTENT,
          payload: `Long path resource\n${requestSummary(ex.request)}`,
          format: Format.TEXT,
        }),
    },
  });
}

/** Creates `seg1` with child `seg2` with child `seg3`, all answering GET. */
export function createLongPathResources(): Resource {
  const seg1 = segment('seg1');
  const seg2 = addChild(seg1, segment('seg2'));
  addChild(seg2, segment('seg3'));
  return seg1;
}

// `/create1`: If-None-Match create resource of TD_COAP_CORE_23 (resources.md §3.20).
import { Code, Opt } from '../../coap/message.js';
import { hasOption } from '../../coap/options.js';
import { type Resource, createResource, notifyObservers, setAttribute } from '../../coap/resource.js';
import { requireContentFormat } from '../responses.js';

/** Creates `/create1`, invisible until a PUT stores data. */
export function createCreateResource(): Resource {
  let data: Buffer | undefined;
  let format = 0;
  const resource = createResource('create1', {
    title: 'Resource which does not exist yet (to perform atomic PUT)',
    visible: false,
    handlers: {
      PUT: (ex) => {
        if (data !== undefined && hasOption(ex.request, Opt.IF_NONE_MATCH)) {
          data = undefined;
          ex.respond({ code: Code.PRECONDITION_FAILED });
          return;
        }
        const cf = requireContentFormat(ex);
        if (cf === undefined) return;
        data = ex.request.payload;
        format = cf;
        setAttribute(resource, 'ct', String(cf));
        setAttribute(resource, 'sz', String(data.length));
        resource.visible = true;
        notifyObservers(resource);
        ex.respond({ code: Code.CREATED });
      },
      GET: (ex) => {
        if (data === undefined) ex.respond({ code: Code.NOT_FOUND });
        else ex.respond({ code: Code.CONTENT, payload: data, format });
      },
      DELETE: (ex) => {
        data = undefined;
        resource.visible = false;
        ex.respond({ code: Code.DELETED });
      },
    },
  });
  return resource;
}

// `/myip`: the source address of the request (resources.md §2.8).
import { Code, Format } from '../../coap/message.js';
import { accept } from '../../coap/options.js';
import { type Resource, createResource } from '../../coap/resource.js';
import { typeNotSupported } from '../responses.js';

/** Creates `/myip`; visible on the extended server, invisible on the plugtest server. */
export function createMyIpResource(visible: boolean): Resource {
  return createResource('myip', {
    title: 'MyIP',
    attributes: { ct: ['0', '50', '41'] },
    visible,
    handlers: {
      GET: (ex) => {
        const acc = accept(ex.request) ?? Format.TEXT;
        const { address: ip, port } = ex.context;
        if (acc === Format.TEXT) {
          const host = ip.includes(':') ? `[${ip}]` : ip;
          ex.respond({ code: Code.CONTENT, payload: `${host}:${port}`, format: Format.TEXT });
        } else if (acc === Format.JSON) {
          ex.respond({ code: Code.CONTENT, payload: `{ "ip" : "${ip}",\n "port" : ${port} }`, format: Format.JSON });
        } else if (acc === Format.XML) {
          ex.respond({ code: Code.CONTENT, payload: `<ip host="${ip}" port="${port}" />`, format: Format.XML });
        } else {
          ex.respond(typeNotSupported(acc));
        }
      },
    },
  });
}

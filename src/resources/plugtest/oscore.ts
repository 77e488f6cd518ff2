// `/oscore` and `/oscoreInfo` of the plugtest server with OSCORE enabled (resources.md §3.22, plugtest.md §5).
import { Code, Format, Opt, codeName } from '../../coap/message.js';
import { hasOption } from '../../coap/options.js';
import { type Exchange, type Resource, createResource } from '../../coap/resource.js';
import { oscoreInfoText } from '../../oscore/info.js';
import type { OscoreContextStore } from '../../oscore/store.js';
import { truncateText } from '../payload.js';
import { tokenHex } from '../text.js';
import { locationPath, maxAge } from './options.js';

/**
 * True when the request came through OSCORE: the hooks (oscore/hooks.ts) hand on the verified inner request
 * with a zero-length OSCORE option as the marker (RFC 8613 §8.2; option-classes.ts mergeAfterVerification).
 * An OSCORE option of a plain request never reaches a resource: the hooks answer it.
 */
function protectedRequest(ex: Exchange): boolean {
  return hasOption(ex.request, Opt.OSCORE);
}

/** Wraps a handler: without OSCORE 4.01 Unauthorized, as Californium's OSCoreResource. */
function onlyProtected(handler: (ex: Exchange) => void): (ex: Exchange) => void {
  return (ex) => {
    if (!protectedRequest(ex)) {
      ex.respond({ code: Code.UNAUTHORIZED });
      return;
    }
    handler(ex);
  };
}

/** Creates `/oscore` (attribute `osc`): GET, POST, PUT, DELETE as `/test`, for OSCORE-protected requests only. */
export function createOscoreResource(): Resource {
  return createResource('oscore', {
    attributes: { osc: [] },
    handlers: {
      GET: onlyProtected((ex) => {
        const r = ex.request;
        const text = `OSCORE Resource\nCode: ${r.code} (${codeName(r.code)})\nMID: ${r.mid}\nToken: ${tokenHex(r.token)}`;
        ex.respond({ code: Code.CONTENT, payload: truncateText(text, 64, 62), format: Format.TEXT, options: [maxAge(30)] });
      }),
      POST: onlyProtected((ex) => ex.respond({ code: Code.CREATED, options: locationPath(['location1', 'location2', 'location3']) })),
      PUT: onlyProtected((ex) => ex.respond({ code: hasOption(ex.request, Opt.IF_NONE_MATCH) ? Code.PRECONDITION_FAILED : Code.CHANGED })),
      DELETE: onlyProtected((ex) => ex.respond({ code: Code.DELETED })),
    },
  });
}

/** Creates `/oscoreInfo`: GET 2.05, Max-Age 30, the expected context and the client's next sequence number. */
export function createOscoreInfoResource(store: OscoreContextStore): Resource {
  return createResource('oscoreInfo', {
    handlers: {
      GET: (ex) => ex.respond({ code: Code.CONTENT, payload: oscoreInfoText(store), format: Format.TEXT, options: [maxAge(30)] }),
    },
  });
}

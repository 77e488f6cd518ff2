// `/validate`: ETag validation resource of TD_COAP_CORE_21/22 (resources.md §3.19).
import { Code, Format, Opt } from '../../coap/message.js';
import { contentFormat, getOptions, hasOption } from '../../coap/options.js';
import { type Resource, createResource, notifyObservers, setAttribute } from '../../coap/resource.js';
import { truncateText } from '../payload.js';
import { requireContentFormat } from '../responses.js';
import { requestSummary, tokenHex } from '../text.js';
import { etag as etagOption } from './options.js';

/** ETag while no data is stored: the single byte 0x00. */
export const EMPTY_ETAG: Buffer = Buffer.from([0]);

/** Java `Arrays.hashCode(byte[])` (h = 31·h + signed byte, 32-bit) as 4-byte big-endian ETag. */
export function validateEtag(data: Buffer): Buffer {
  let h = 1;
  for (const b of data) h = (Math.imul(31, h) + ((b << 24) >> 24)) | 0;
  const out = Buffer.alloc(4);
  out.writeInt32BE(h);
  return out;
}

/** Creates `/validate` (GET, PUT, DELETE). */
export function createValidateResource(): Resource {
  let data: Buffer | undefined;
  let format: number | undefined;
  let etag: Buffer = EMPTY_ETAG;

  const resource = createResource('validate', {
    title: 'Resource which varies',
    handlers: {
      GET: (ex) => {
        const req = ex.request;
        if (getOptions(req, Opt.ETAG).some((e) => e.equals(etag))) {
          const current = etag;
          clear();
          ex.respond({ code: Code.VALID, options: [etagOption(current)] });
          return;
        }
        if (data !== undefined) {
          ex.respond({ code: Code.CONTENT, payload: data, format, options: [etagOption(etag)] });
          return;
        }
        let text = requestSummary(req);
        if (req.token.length > 0) text += `\nToken: ${tokenHex(req.token)}`;
        ex.respond({
          code: Code.CONTENT,
          payload: truncateText(text, 64, 63),
          format: Format.TEXT,
          options: [etagOption(etag)],
        });
      },
      PUT: (ex) => {
        const ifMatch = getOptions(ex.request, Opt.IF_MATCH);
        if (ifMatch.length === 0 || ifMatch.some((v) => v.length === 0 || v.equals(etag))) {
          const cf = requireContentFormat(ex);
          if (cf === undefined) return;
          store(ex.request.payload, cf);
          ex.respond({ code: Code.CHANGED, options: [etagOption(etag)] });
        } else if (hasOption(ex.request, Opt.IF_NONE_MATCH) && data === undefined) {
          store(ex.request.payload, contentFormat(ex.request));
          ex.respond({ code: Code.CREATED });
        } else {
          clear();
          ex.respond({ code: Code.PRECONDITION_FAILED });
        }
      },
      DELETE: (ex) => {
        clear();
        ex.respond({ code: Code.DELETED });
      },
    },
  });

  function store(payload: Buffer, cf: number | undefined): void {
    data = payload;
    format = cf;
    etag = validateEtag(payload);
    if (cf !== undefined) setAttribute(resource, 'ct', String(cf));
    setAttribute(resource, 'sz', String(payload.length));
    notifyObservers(resource);
  }

  function clear(): void {
    data = undefined;
    format = undefined;
    etag = EMPTY_ETAG;
    notifyObservers(resource);
  }

  return resource;
}

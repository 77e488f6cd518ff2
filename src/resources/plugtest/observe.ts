// `/obs` and `/obs-non`: observable time of day, updatable by PUT (resources.md §3.10, §3.11).
import { Code, Format, type MessageType } from '../../coap/message.js';
import { accept } from '../../coap/options.js';
import {
  type Resource,
  clearObservers,
  createResource,
  notifyObservers,
  setAttribute,
} from '../../coap/resource.js';
import { requireContentFormat } from '../responses.js';
import { formatTimeOfDay } from '../text.js';
import type { ResourceEnv } from '../types.js';
import { maxAge } from './options.js';

/** Max-Age of the observe resources' responses in seconds. */
export const OBSERVE_MAX_AGE = 5;

/** Settings of an observe resource. */
export interface ObserveResourceOptions {
  name: string;
  observeType: MessageType;
  notifyInterval: number;
}

/** Creates `/obs` (CON) or `/obs-non` (NON); its timer is registered with `env.timers`. */
export function createObserveResource(opts: ObserveResourceOptions, env: ResourceEnv): Resource {
  let time = formatTimeOfDay(env.now());
  let data: Buffer = Buffer.alloc(0);
  let format: number = Format.TEXT;
  let wasUpdated = false;

  const resource = createResource(opts.name, {
    title: 'Observable resource which changes every 5 seconds',
    attributes: { rt: 'observe' },
    observable: true,
    observeType: opts.observeType,
    handlers: {
      GET: (ex) => {
        const acc = accept(ex.request);
        if (acc !== undefined && acc !== format) {
          ex.respond({ code: Code.NOT_ACCEPTABLE });
          return;
        }
        const options = [maxAge(OBSERVE_MAX_AGE)];
        if (wasUpdated) {
          wasUpdated = false;
          ex.respond({ code: Code.CONTENT, payload: data, format, options });
        } else {
          ex.respond({ code: Code.CONTENT, payload: time, format, options });
        }
      },
      PUT: (ex) => {
        const cf = requireContentFormat(ex);
        if (cf === undefined) return;
        wasUpdated = true;
        if (cf !== format) clearObservers(resource, Code.NOT_ACCEPTABLE);
        data = ex.request.payload;
        format = cf;
        setAttribute(resource, 'ct', String(cf));
        notifyObservers(resource);
        ex.respond({ code: Code.CHANGED });
      },
      DELETE: (ex) => {
        wasUpdated = false;
        clearObservers(resource, Code.NOT_FOUND);
        ex.respond({ code: Code.DELETED });
      },
    },
  });

  env.timers.every(opts.notifyInterval, () => {
    // the time replaces a PUT value: never label the PUT payload with the time's format
    // (reference quirk of Observe.java, resolved consistently here)
    time = formatTimeOfDay(env.now());
    format = Format.TEXT;
    wasUpdated = false;
    notifyObservers(resource);
  });
  return resource;
}

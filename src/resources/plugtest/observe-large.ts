// `/obs-large`: observable 162-byte time text (resources.md §3.12).
import { CON, Code, Format } from '../../coap/message.js';
import { type Resource, createResource, notifyObservers } from '../../coap/resource.js';
import { formatTimeOfDay } from '../text.js';
import type { ResourceEnv } from '../types.js';
import { OBSERVE_MAX_AGE } from './observe.js';
import { maxAge } from './options.js';

/** The 162-byte notification text for a time of day. */
export function largeObserveText(time: string): string {
  const line = '-'.repeat(64);
  return `${line}\n${time.padEnd(32)}\n${line}`;
}

/** Creates `/obs-large` (CON notifications); its timer is registered with `env.timers`. */
export function createObserveLargeResource(notifyInterval: number, env: ResourceEnv): Resource {
  let text = largeObserveText(formatTimeOfDay(env.now()));
  const resource = createResource('obs-large', {
    title: 'Large Observable resource which changes every 5 seconds',
    attributes: { rt: 'observe' },
    observable: true,
    observeType: CON,
    handlers: {
      GET: (ex) =>
        ex.respond({ code: Code.CONTENT, payload: text, format: Format.TEXT, options: [maxAge(OBSERVE_MAX_AGE)] }),
    },
  });
  env.timers.every(notifyInterval, () => {
    text = largeObserveText(formatTimeOfDay(env.now()));
    notifyObservers(resource);
  });
  return resource;
}

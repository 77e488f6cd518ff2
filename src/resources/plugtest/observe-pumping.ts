// `/obs-pumping` and `/obs-pumping-non`: observable texts of random size (resources.md §3.13).
import { Code, Format, type MessageType, NON } from '../../coap/message.js';
import { type Resource, createResource, notifyObservers } from '../../coap/resource.js';
import { formatTimeOfDay } from '../text.js';
import type { ResourceEnv } from '../types.js';
import { OBSERVE_MAX_AGE } from './observe.js';
import { maxAge } from './options.js';

/** Picks the notification text: 1/2 → 84 bytes, 1/4 → 164 bytes, else the bare time (two draws like the reference). */
export function pumpingText(time: string, random: () => number): string {
  if (random() > 0.5) return `${'-'.repeat(31)}\n${time.padStart(19)}\n${'-'.repeat(31)}\n`;
  if (random() > 0.5) return `${'-'.repeat(63)}\n${time.padStart(35)}\n${'-'.repeat(63)}\n`;
  return time;
}

/** Creates `/obs-pumping` (CON) or `/obs-pumping-non` (NON); its timer is registered with `env.timers`. */
export function createObservePumpingResource(
  observeType: MessageType,
  notifyInterval: number,
  env: ResourceEnv,
  random: () => number = Math.random,
): Resource {
  let text = pumpingText(formatTimeOfDay(env.now()), random);
  const resource = createResource(observeType === NON ? 'obs-pumping-non' : 'obs-pumping', {
    title: 'Observable resource which changes every 5 seconds',
    attributes: { rt: 'observe' },
    observable: true,
    observeType,
    handlers: {
      GET: (ex) =>
        ex.respond({ code: Code.CONTENT, payload: text, format: Format.TEXT, options: [maxAge(OBSERVE_MAX_AGE)] }),
    },
  });
  env.timers.every(notifyInterval, () => {
    text = pumpingText(formatTimeOfDay(env.now()), random);
    notifyObservers(resource);
  });
  return resource;
}

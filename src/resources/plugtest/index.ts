// The plugtest server's resource tree (ETSI plugtest resources plus the shared extended ones; OSCORE's with --oscore).
import { CON, NON } from '../../coap/message.js';
import { type Resource, addChild } from '../../coap/resource.js';
import { createWellKnownCore } from '../../coap/link-format.js';
import { createTreeTimers } from '../timers.js';
import type { ResourceEnv, ResourceOptions, ResourceTree } from '../types.js';
import { createEchoResource } from '../extended/echo.js';
import { createHonoResource } from '../extended/hono.js';
import { bannerEnv } from '../extended/index.js';
import { createMyContextResource } from '../extended/mycontext.js';
import { createMyIpResource } from '../extended/myip.js';
import { PUBLIC_DATA_NOTE, createRootResource } from '../extended/root.js';
import { createCreateResource } from './create.js';
import { createLargeCreateResource } from './large-create.js';
import { createLargePostResource } from './large-post.js';
import { createLargeSeparateResource } from './large-separate.js';
import { createLargeUpdateResource } from './large-update.js';
import { createLargeResource } from './large.js';
import { createLinkResources } from './links.js';
import { createLocationQueryResource } from './location-query.js';
import { createLongPathResources } from './long-path.js';
import { createMultiFormatResource } from './multi-format.js';
import { createObserveLargeResource } from './observe-large.js';
import { createObservePumpingResource } from './observe-pumping.js';
import { createObserveResetResource } from './observe-reset.js';
import { createObserveResource } from './observe.js';
import { createOscoreInfoResource, createOscoreResource } from './oscore.js';
import { createPathResource } from './path.js';
import { createQueryResource } from './query.js';
import { createSeparateResource } from './separate.js';
import { createShutdownResource } from './shutdown.js';
import { createTestResource } from './test.js';
import { createValidateResource } from './validate.js';

/** Factory options and result type (shared by both trees). */
export type { ResourceOptions, ResourceTree } from '../types.js';

/** Builds the plugtest server's tree; start() starts the observe timers (first run immediately). */
export function createPlugtestResources(opts: ResourceOptions): ResourceTree {
  const env: ResourceEnv = { now: opts.nowMs ?? Date.now, timers: createTreeTimers() };
  const interval = opts.notifyInterval;
  const { note, footer } = bannerEnv();
  const notes = note && note !== PUBLIC_DATA_NOTE ? [PUBLIC_DATA_NOTE, note] : [PUBLIC_DATA_NOTE];
  const root = createRootResource({ version: opts.version, notes, footer });
  const add = (...children: Resource[]): void => {
    for (const child of children) addChild(root, child);
  };
  add(createWellKnownCore(root));
  add(
    createTestResource(),
    createLongPathResources(),
    createQueryResource(),
    createSeparateResource(env.timers),
    createLargeResource(),
    createLargeUpdateResource(),
    createLargeCreateResource(),
    createLargePostResource(),
    createLargeSeparateResource(),
    createObserveResource({ name: 'obs', observeType: CON, notifyInterval: interval }, env),
    createObserveResource({ name: 'obs-non', observeType: NON, notifyInterval: interval }, env),
    createObserveLargeResource(interval, env),
    createObservePumpingResource(CON, interval, env),
    createObservePumpingResource(NON, interval, env),
    createObserveResetResource(root),
    createLocationQueryResource(),
    createMultiFormatResource(),
    ...createLinkResources(),
    createPathResource(),
    createValidateResource(),
    createCreateResource(),
    createShutdownResource(opts.shutdown),
    createHonoResource('telemetry'),
    createHonoResource('event'),
    createMyIpResource(false),
    createMyContextResource(opts.version, false),
    createEchoResource({ echoDelay: opts.echoDelay, now: env.now, timers: env.timers }),
  );
  if (opts.oscore !== undefined) add(createOscoreResource(), createOscoreInfoResource(opts.oscore));
  return { root, start: () => env.timers.start(), stop: () => env.timers.stop() };
}

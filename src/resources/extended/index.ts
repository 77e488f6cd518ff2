// The extended server's resource tree (available part: `/`, discovery, `/echo`, `/mycontext`, `/myip`, Hono).
import { addChild } from '../../coap/resource.js';
import { createWellKnownCore } from '../../coap/link-format.js';
import { createTreeTimers } from '../timers.js';
import type { ResourceOptions, ResourceTree } from '../types.js';
import { createEchoResource } from './echo.js';
import { createHonoResource } from './hono.js';
import { createMyContextResource } from './mycontext.js';
import { createMyIpResource } from './myip.js';
import { createRootResource } from './root.js';

/** Factory options and result type (shared by both trees). */
export type { ResourceOptions, ResourceTree } from '../types.js';

/** Banner notes/footer from `COAP_ROOT_RESOURCE_NOTE` / `COAP_ROOT_RESOURCE_FOOTER`. */
export function bannerEnv(env: NodeJS.ProcessEnv = process.env): { note?: string; footer?: string } {
  return { note: env.COAP_ROOT_RESOURCE_NOTE || undefined, footer: env.COAP_ROOT_RESOURCE_FOOTER || undefined };
}

/** Builds the extended server's tree; the lead adds `/requests`, `/benchmark`, `/diagnose`, `/reverse-*`. */
export function createExtendedResources(opts: ResourceOptions): ResourceTree {
  const now = opts.nowMs ?? Date.now;
  const timers = createTreeTimers();
  const { note, footer } = bannerEnv();
  const root = createRootResource({ version: opts.version, notes: note ? [note] : [], footer });
  addChild(root, createWellKnownCore(root));
  addChild(root, createEchoResource({ echoDelay: opts.echoDelay, now, timers }));
  addChild(root, createMyContextResource(opts.version, true));
  addChild(root, createMyIpResource(true));
  addChild(root, createHonoResource('telemetry'));
  addChild(root, createHonoResource('event'));
  return { root, start: () => timers.start(), stop: () => timers.stop() };
}

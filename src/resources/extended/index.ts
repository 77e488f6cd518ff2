// The extended server's resource tree (resources.md §0.1, §2).
import { addChild } from '../../coap/resource.js';
import { createWellKnownCore } from '../../coap/link-format.js';
import { createTreeTimers } from '../timers.js';
import type { ResourceOptions, ResourceTree } from '../types.js';
import { createBenchmarkResource } from './benchmark.js';
import { createDiagnoseResource } from './diagnose.js';
import { createEchoResource } from './echo.js';
import { createHonoResource } from './hono.js';
import { createMyContextResource } from './mycontext.js';
import { createMyIpResource } from './myip.js';
import { createRequestsResource } from './requests.js';
import { createReverseObserveResource } from './reverse-observe.js';
import { createReverseRequestResource } from './reverse-request.js';
import { createRootResource } from './root.js';

/** Factory options and result type (shared by both trees). */
export type { ResourceOptions, ResourceTree } from '../types.js';

/** Banner notes/footer from `COAP_ROOT_RESOURCE_NOTE` / `COAP_ROOT_RESOURCE_FOOTER`. */
export function bannerEnv(env: NodeJS.ProcessEnv = process.env): { note?: string; footer?: string } {
  return { note: env.COAP_ROOT_RESOURCE_NOTE || undefined, footer: env.COAP_ROOT_RESOURCE_FOOTER || undefined };
}

/** Builds the extended server's tree; `/diagnose` only with `opts.diagnose`. */
export function createExtendedResources(opts: ResourceOptions): ResourceTree {
  const now = opts.nowMs ?? Date.now;
  const timers = createTreeTimers();
  const { note, footer } = bannerEnv();
  const root = createRootResource({ version: opts.version, notes: note ? [note] : [], footer });
  addChild(root, createWellKnownCore(root));
  addChild(root, createRequestsResource({ now, systemStart: opts.diagnostics?.systemStart ?? now(), ...(opts.requestHistory !== undefined ? { history: opts.requestHistory } : {}) }).resource);
  addChild(root, createBenchmarkResource({ enabled: opts.benchmark ?? false, notifyInterval: opts.notifyInterval, timers, now }));
  addChild(root, createEchoResource({ echoDelay: opts.echoDelay, now, timers }));
  const diagnose = opts.diagnose
    ? createDiagnoseResource({ source: opts.diagnostics, now, systemStart: opts.diagnostics?.systemStart ?? now() })
    : undefined;
  if (diagnose) addChild(root, diagnose.resource);
  const reverseRequest = createReverseRequestResource();
  addChild(root, reverseRequest.resource);
  const reverseObserve = createReverseObserveResource({ timers });
  addChild(root, reverseObserve.resource);
  addChild(root, createMyContextResource(opts.version, true));
  addChild(root, createMyIpResource(true));
  addChild(root, createHonoResource('telemetry'));
  addChild(root, createHonoResource('event'));
  return {
    root,
    start: () => {
      // the endpoints are bound when the tree starts: one /diagnose child per endpoint
      diagnose?.refresh();
      timers.start();
    },
    refresh: () => diagnose?.refresh(),
    stop: () => {
      timers.stop();
      reverseRequest.stop();
      reverseObserve.stop();
    },
  };
}

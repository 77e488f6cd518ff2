// `/benchmark`: fixed small payloads for load tests, observable with a timer (resources.md §2.2).
import { Code, Format } from '../../coap/message.js';
import { accept } from '../../coap/options.js';
import { type Exchange, type Resource, createResource, notifyObservers } from '../../coap/resource.js';
import { applyRlen } from '../payload.js';
import { parseQuery } from '../query.js';
import type { TreeTimers } from '../timers.js';

/** POST payload. */
export const BENCHMARK_PAYLOAD = 'hello benchmark';
/** Initial GET/notification payload; the timer rewrites the last three characters. */
export const BENCHMARK_NOTIFICATION = 'hello observe 000';
/** 5.01 text of the disabled resource. */
export const BENCHMARK_DISABLED_TEXT = 'benchmark is not supported on this host!';

/** Settings of `/benchmark`. */
export interface BenchmarkOptions {
  /** `--benchmark` */
  enabled: boolean;
  /** notify interval in ms (`--notify-interval`) */
  notifyInterval: number;
  timers: TreeTimers;
  /** wall clock in ms */
  now: () => number;
}

/** Creates `/benchmark`; disabled it answers every GET/POST with 5.01. */
export function createBenchmarkResource(opts: BenchmarkOptions): Resource {
  const notification = Buffer.from(BENCHMARK_NOTIFICATION, 'ascii');
  const post = Buffer.from(BENCHMARK_PAYLOAD, 'ascii');
  const resource = createResource('benchmark', {
    title: opts.enabled ? 'Benchmark' : 'Benchmark (disabled)',
    attributes: { ct: '0' },
    observable: opts.enabled,
    handlers: {
      // a copy: a relation rendering later must not see a half-written payload
      GET: (ex) => handle(ex, Buffer.from(notification), Code.CONTENT),
      POST: (ex) => handle(ex, post, Code.CHANGED),
    },
  });

  function handle(ex: Exchange, payload: Buffer, success: number): void {
    if (!opts.enabled) {
      ex.respond({ code: Code.NOT_IMPLEMENTED, payload: BENCHMARK_DISABLED_TEXT, format: Format.TEXT });
      return;
    }
    const acc = accept(ex.request);
    if (acc !== undefined && acc !== Format.TEXT) {
      ex.respond({ code: Code.NOT_ACCEPTABLE });
      return;
    }
    const query = parseQuery(ex.request, {
      ack: { kind: 'flag' },
      rlen: { kind: 'int', def: 0, min: 0, max: ex.endpoint.config.maxResourceBodySize },
    });
    if (!query.ok) {
      ex.respond(query.response);
      return;
    }
    if (query.values.ack) ex.accept();
    ex.respond({ code: success, payload: applyRlen(payload, query.values.rlen), format: Format.TEXT });
  }

  if (opts.enabled) {
    opts.timers.every(opts.notifyInterval, () => {
      const ms = String(Math.floor(opts.now()) % 1000).padStart(3, '0');
      notification.write(ms, notification.length - 3, 'ascii');
      notifyObservers(resource);
    });
  }
  return resource;
}

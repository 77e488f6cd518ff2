// The feed resources a benchmark client serves in reverse mode (clients.md §3.6): `feed-CON` and `feed-NON`,
// observable, answering GETs with `hello <client-index> feed-<k>` and changing on a cubic interval distribution.
import { CON, NON, Code, Format, Opt } from '../../coap/message.js';
import { accept, decodeUint, getOption } from '../../coap/options.js';
import { createResource, notifyObservers, type Exchange, type Resource } from '../../coap/resource.js';
import type { TimerWheel } from '../../util/timer-wheel.js';
import { applyRlen } from '../../resources/payload.js';
import { parseQuery } from '../../resources/query.js';
import type { ConnectorTap } from './connector-tap.js';
import type { ReverseSettings } from './options.js';
import type { BenchmarkState } from './state.js';
import { FEED_COMPLETION_TIMEOUT, MIN_FEED_INTERVAL } from './defaults.js';

/** What a feed needs from its client. */
export interface FeedHost {
  readonly index: number;
  /** true after the client stopped: GETs stay unanswered */
  readonly stopped: boolean;
  readonly tap: ConnectorTap;
}

/** Next change interval: min if min = max, else min + (max − min)·((r³ + 1)/2) with r uniform in [−1, 1). */
export function feedInterval(min: number, max: number, random: () => number = Math.random): number {
  if (min >= max) return min;
  const r = random() * 2 - 1;
  return Math.trunc(((r * r * r + 1) / 2) * (max - min)) + min;
}

/** True for a GET with Observe=0. */
function isObserveRequest(ex: Exchange): boolean {
  const obs = getOption(ex.request, Opt.OBSERVE);
  return obs !== undefined && decodeUint(obs) === 0;
}

/** Creates `feed-CON` or `feed-NON` for one client. */
export function createFeedResource(type: 'CON' | 'NON', host: FeedHost, reverse: ReverseSettings, state: BenchmarkState, wheel: TimerWheel): Resource {
  const prefix = `hello ${host.index} feed-`;
  let changeScheduled = false;
  const resource = createResource(`feed-${type}`, {
    title: `Feed - ${type}`,
    attributes: { ct: '0' },
    observable: true,
    observeType: type === 'CON' ? CON : NON,
    handlers: { GET: handleGet },
  });

  function change(): void {
    changeScheduled = false;
    notifyObservers(resource);
  }

  /** Schedules the next change after a completed (or failed) notification. */
  function afterCompletion(interval: number, failure: boolean): void {
    if (host.stopped || state.reverseLeft <= 0) return;
    const time = failure ? Math.max(1000, -interval) : -interval;
    if (time >= 0) wheel.schedule(time, change);
  }

  /** Interval ≤ 0: waits for the notification's ACK (or its timeout) before the next change. */
  function awaitCompletion(interval: number, timeout: number): void {
    const sent = host.tap.takeCaptured();
    if (sent === undefined) return afterCompletion(interval, true);
    // NON notifications and piggy-backed answers complete when sent
    if (sent.type !== CON) return afterCompletion(interval, false);
    let done = false;
    const timer = wheel.schedule(timeout, () => {
      if (done) return;
      done = true;
      host.tap.forgetAck(sent.mid);
      if (host.stopped || state.reverseLeft <= 0) return;
      if (interval < 0) {
        state.notifiesCompleteTimeouts++;
        wheel.schedule(-interval, change);
      } else {
        wheel.schedule(0, change);
      }
    });
    host.tap.awaitAck(sent.mid, (rejected) => {
      if (done) return;
      done = true;
      timer.cancel();
      afterCompletion(interval, rejected);
    });
  }

  function handleGet(ex: Exchange): void {
    if (host.stopped) return;
    const acc = accept(ex.request);
    if (acc !== undefined && acc !== Format.TEXT) {
      ex.respond({ code: Code.NOT_ACCEPTABLE });
      return;
    }
    const query = parseQuery(ex.request, {
      rlen: { kind: 'int', def: 0, min: 0, max: ex.endpoint.config.maxResourceBodySize },
      ack: { kind: 'flag' },
    });
    if (!query.ok) {
      ex.respond(query.response);
      return;
    }
    const count = ++state.feedAnswers;
    const payload = applyRlen(Buffer.from(prefix + count, 'ascii'), query.values.rlen);
    let scheduled = false;
    let interval = 0;
    let timeout = 0;
    if (isObserveRequest(ex)) {
      if (!ex.notification) state.feedRegistrations++;
      if (!changeScheduled) {
        changeScheduled = true;
        scheduled = true;
        interval = feedInterval(reverse.min, reverse.max);
        timeout = reverse.min < reverse.max ? reverse.max : reverse.min;
        if (interval <= 0) timeout = Math.max(FEED_COMPLETION_TIMEOUT, timeout);
        else interval = Math.max(MIN_FEED_INTERVAL, interval);
      }
    } else if (query.values.ack) {
      ex.accept();
    }
    if (scheduled && interval <= 0) host.tap.captureNext();
    ex.respond({ code: Code.CONTENT, payload, format: Format.TEXT });
    if (scheduled) {
      // the answer is sent synchronously: a positive interval runs from now
      if (interval > 0) wheel.schedule(interval, change);
      else awaitCompletion(interval, timeout);
    }
    if (--state.reverseLeft <= 0) state.signal();
  }

  return resource;
}

/** Observe relations of a client's feed resources. */
export function feedObservers(feeds: readonly Resource[]): number {
  let n = 0;
  for (const f of feeds) n += f.observers.size;
  return n;
}

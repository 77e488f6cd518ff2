// One simulated benchmark client (clients.md §3.3, §3.4): its own socket, endpoint and (coaps) DTLS session, the
// request loop with the reference's counting rules, observe mode and the feed resources of reverse mode.
// Hot path: response → counters → next request, with prebuilt request specs, no closure or timer of our own per request.
import { CON, NON, Code, Opt, type CoapMessage } from '../../coap/message.js';
import { getOption, getOptions, getUint } from '../../coap/options.js';
import type { EndpointContext } from '../../transport/connector.js';
import { CoapEndpoint } from '../../coap/endpoint.js';
import { request, type ClientExchange, type RequestSpec, type ResponseHandlers } from '../../coap/client-layer.js';
import type { CoapStackConfig } from '../../coap/stack-config.js';
import { createResource, addChild, type Resource } from '../../coap/resource.js';
import type { DtlsConnector } from '../../dtls/connector.js';
import type { TimerWheel } from '../../util/timer-wheel.js';
import type { ConnectorTap } from './connector-tap.js';
import { createFeedResource, feedObservers } from './feed.js';
import { addSample } from './histogram.js';
import type { BenchmarkSettings } from './options.js';
import { countDown, type BenchmarkState } from './state.js';
import type { RequestSpecs } from './requests.js';
import { ERROR_RETRY_DELAY, MIN_UNAVAILABLE_DELAY, RANDOM_EXTRA_DELAY } from './defaults.js';

/** Kinds of requests a slot sends. */
const KIND_REQUEST = 0;
const KIND_OBSERVE = 1;
const KIND_CANCEL = 2;

/** Error and warning lines of the clients (the runner filters bursts). */
export interface BenchmarkLog {
  /** one line, always printed */
  warn(line: string): void;
  /** one line of a frequent kind; printed at most a few times per 10 s */
  filtered(kind: 'error' | 'response', line: string): void;
}

/** What all clients share. */
export interface ClientShared {
  settings: BenchmarkSettings;
  state: BenchmarkState;
  specs: RequestSpecs;
  config: CoapStackConfig;
  wheel: TimerWheel;
  secure: boolean;
  /** coap+tcp or coaps+tcp: one TCP (TLS) connection per client, no DTLS */
  tcp: boolean;
  /** requests are CON (not --non) */
  con: boolean;
  log: BenchmarkLog;
}

/** Outcome of the traced first request. */
export interface TestOutcome {
  response?: CoapMessage;
  context?: EndpointContext;
  error?: Error;
}

/** One request in flight: the response handlers of a client's concurrent request (no per-request closure). */
class RequestSlot implements ResponseHandlers {
  readonly client: BenchmarkClient;
  ex: ClientExchange | undefined;
  /** performance.now() of the first transmission */
  start = 0;
  /** the round-trip time is not yet recorded */
  timed = false;
  kind = KIND_REQUEST;
  /** the next send forces a full DTLS handshake */
  full = false;
  /** sends this slot's next request (for delayed sends) */
  readonly sendBound: () => void;

  constructor(client: BenchmarkClient) {
    this.client = client;
    this.sendBound = () => client.send(this);
  }

  onResponse(res: CoapMessage, ctx: EndpointContext): void {
    this.client.response(this, res, ctx);
  }

  onNotification(res: CoapMessage, ctx: EndpointContext): void {
    this.client.response(this, res, ctx);
  }

  onError(err: Error): void {
    this.client.error(this, err);
  }
}

const IGNORE: ResponseHandlers = { onResponse() {}, onError() {} };

/**
 * What --handshakes-close/--handshakes-full act on (clients.md §3.2): the client's DTLS connector (coaps), or its TLS
 * connection (coaps+tcp, the TLS counterpart: a new connection, resuming the session or not).
 */
export interface HandshakeControl {
  /** closes the connection; the next request connects again, resuming the session */
  close(): void;
  /** closes the connection and forgets the session: the next request runs a full handshake */
  closeFull(): void;
}

/** HandshakeControl of a DTLS client connector towards `dest`. */
export function dtlsHandshakeControl(dtls: DtlsConnector, dest: EndpointContext): HandshakeControl {
  return {
    close: () => dtls.close(dest.address, dest.port),
    closeFull: () => {
      dtls.close(dest.address, dest.port);
      dtls.forgetSession(dest.address, dest.port);
    },
  };
}

/** A simulated client. */
export class BenchmarkClient {
  readonly index: number;
  readonly tag: string;
  readonly ep: CoapEndpoint;
  readonly tap: ConnectorTap;
  /** coaps and coaps+tcp: the forced handshakes' target */
  readonly handshakes: HandshakeControl | undefined;
  readonly dest: EndpointContext;
  readonly feeds: Resource[] = [];
  /** stopped sending (counters reached, error, or stale end) */
  stopped = false;
  /** endpoint closed */
  destroyed = false;
  /** responses counted for this client (distribution) */
  requestsCounter = 0;
  private readonly shared: ClientShared;
  private readonly state: BenchmarkState;
  private readonly settings: BenchmarkSettings;
  private readonly slots: RequestSlot[];
  private readonly multipleObserve: boolean;
  /** per-client request limit when --requests ≤ 10 (−1: none) */
  private quota = -1;
  /** the next response belongs to a (re)connect */
  private connecting = true;
  private relation: ClientExchange | undefined;
  private notifies = 0;
  private notifyResponse = false;
  private testWaiter: ((outcome: TestOutcome) => void) | undefined;
  private readonly closeBound = () => this.closeConnection();

  constructor(index: number, shared: ClientShared, tap: ConnectorTap, handshakes: HandshakeControl | undefined, dest: EndpointContext) {
    this.index = index;
    this.shared = shared;
    this.state = shared.state;
    this.settings = shared.settings;
    this.tag = shared.settings.tag + index;
    this.tap = tap;
    this.handshakes = handshakes;
    this.dest = { address: dest.address, port: dest.port };
    this.multipleObserve = (shared.settings.observe?.register ?? 0) > 0;
    const n = Math.max(1, shared.settings.nstart ?? 1);
    this.slots = [];
    for (let i = 0; i < n; i++) this.slots.push(new RequestSlot(this));
    let root: Resource | undefined;
    const reverse = shared.settings.reverse;
    if (reverse) {
      root = createResource('');
      for (const type of ['CON', 'NON'] as const) {
        this.feeds.push(addChild(root, createFeedResource(type, this, reverse, shared.state, shared.wheel)));
      }
    }
    this.ep = new CoapEndpoint({ connector: tap, config: shared.config, root, wheel: shared.wheel, serverTag: this.tag });
    if (reverse) tap.trackAcks();
  }

  /** Binds the socket. */
  start(): Promise<void> {
    return this.ep.start();
  }

  /** Observe relations of this client's feed resources. */
  get feedObservers(): number {
    return feedObservers(this.feeds);
  }

  /** The traced connectivity test: the first request, sent and awaited (client 0 only). */
  testRequest(): { exchange: ClientExchange | undefined; outcome: Promise<TestOutcome> } {
    countDown(this.state, 'requestsLeft', this.multipleObserve);
    const slot = this.slots[0]!;
    const outcome = new Promise<TestOutcome>((resolve) => {
      this.testWaiter = resolve;
    });
    this.send(slot);
    // the reference's observeAndWait does not mark the first answer as counted response
    this.notifyResponse = false;
    return { exchange: slot.ex, outcome };
  }

  /** Books the successful test request (first client counts as active and connected). */
  testSucceeded(): void {
    this.state.clientsActive++;
    this.checkOverallRequests(true, true);
  }

  /** Starts the request loop: one request per slot (--nstart), or nothing when client 0 already observes. */
  startBenchmark(requestsPerClient: number): void {
    this.quota = requestsPerClient;
    if (this.relation) return;
    if (this.state.responsesLeft > 0) {
      if (this.requestsCounter === 0) this.state.clientsActive++;
      for (let i = 0; i < this.slots.length; i++) {
        if (!this.prepare()) break;
        this.send(this.slots[i]!);
      }
    }
  }

  /** Sends the next request of a slot (registration in observe mode). */
  send(slot: RequestSlot): void {
    if (this.destroyed) return;
    if (slot.full) {
      slot.full = false;
      this.forceFullHandshake();
    }
    const specs = this.shared.specs;
    if (this.settings.observe) {
      this.relation?.cancel();
      this.notifyResponse = true;
      slot.kind = KIND_OBSERVE;
      slot.ex = request(this.ep, specs.observe, this.dest, slot);
      this.relation = slot.ex;
    } else {
      slot.kind = KIND_REQUEST;
      slot.ex = request(this.ep, specs.request, this.dest, slot);
    }
    slot.start = this.tap.lastRequestSend;
    slot.timed = true;
  }

  /** A response (or notification) of a slot's exchange. */
  response(slot: RequestSlot, msg: CoapMessage, ctx: EndpointContext): void {
    const code = msg.code;
    const success = code >> 5 === 2;
    if (slot.timed) {
      slot.timed = false;
      this.recordRtt(slot, success);
    }
    if (this.testWaiter) {
      const waiter = this.testWaiter;
      this.testWaiter = undefined;
      waiter({ response: msg, context: ctx });
      return;
    }
    const ackTimeout2 = this.shared.config.ackTimeout * 2;
    if (success) {
      if (this.stopped) return;
      if (this.settings.hono) this.honoCommand(msg);
      const notify = slot.kind === KIND_OBSERVE && getOption(msg, Opt.OBSERVE) !== undefined;
      // a CON response's ACK must get through before a forced handshake; a stream has no types and no ACKs (RFC 8323 §3)
      this.next(slot, this.settings.interval, msg.type === CON && !this.shared.tcp ? -ackTimeout2 : 0, true, true, notify);
    } else if (code === Code.SERVICE_UNAVAILABLE) {
      this.state.unavailable++;
      const delay = (getUint(msg, Opt.MAX_AGE) ?? 60) * 1000;
      if (!this.stopped) this.next(slot, Math.max(MIN_UNAVAILABLE_DELAY, delay), -ackTimeout2, true, true, false);
    } else if (!this.settings.stop) {
      this.state.transmissionErrors++;
      this.shared.log.filtered('response', `${this.tag}: Error response after ${this.requestsCounter} ${this.type}-requests. ${codeText(code)} - ${msg.payload.toString('utf8')}`);
      if (!this.stopped) this.next(slot, ERROR_RETRY_DELAY, -ackTimeout2, true, true, false);
    } else {
      if (this.stopped) return;
      this.shared.log.warn(`${this.tag}: Received error response: ${codeText(code)} (${this.requestsCounter} ${this.type} successful)`);
      this.checkOverallRequests(true, true);
      this.stop();
    }
  }

  /** Timeout, send error or reject of a slot's exchange. */
  error(slot: RequestSlot, err: Error): void {
    slot.timed = false;
    if (this.testWaiter) {
      const waiter = this.testWaiter;
      this.testWaiter = undefined;
      waiter({ error: err });
      return;
    }
    if (this.stopped || this.destroyed) return;
    const non = !this.shared.con;
    const c = this.requestsCounter;
    if (!this.settings.stop || non) {
      if (this.quota > 0) this.quota++;
      this.state.requestsLeft++;
      this.state.transmissionErrors++;
      if (this.next(slot, ERROR_RETRY_DELAY, this.shared.secure && !non ? ERROR_RETRY_DELAY : 0, c > 0, false, false)) {
        this.shared.log.filtered('error', `${this.tag}: Error after ${c} ${this.type}-requests. ${err.message}`);
      } else {
        this.shared.log.warn(`${this.tag}: stopped by error after ${c} ${this.type}-requests. ${err.message}`);
        this.stop();
      }
    } else {
      this.shared.log.warn(`${this.tag}: failed after ${c} ${this.type}-requests! ${err.message}`);
      this.checkOverallRequests(true, false);
      this.stop();
    }
  }

  /**
   * The destination answered with ICMP port unreachable (no server at its port). Only the traced connectivity test
   * fails at once (`Request <uri> POST failed, exit Benchmark.` instead of a 30 s wait). During the run a refusal is
   * ignored, as by the reference's unconnected sockets: a server restarting (graceful restart, restart.md) closes its
   * port for a moment, and CoAP retransmission covers that gap; a server that stays away ends in timeouts.
   */
  refused(err: Error): void {
    if (this.destroyed || this.testWaiter === undefined) return;
    const ex = this.slots[0]!.ex;
    if (ex !== undefined && !ex.done) ex.fail(err);
  }

  /** Stops sending; an observation is cancelled reactively. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.relation?.cancel();
    this.relation = undefined;
    // the last client gave up: wake the runner, nothing can make progress any more
    if (--this.state.clientsActive === 0) this.state.signal();
  }

  /** Stops and closes the endpoint; returns the number of requests this client completed. */
  async destroy(): Promise<number> {
    this.stop();
    this.destroyed = true;
    await this.ep.stop();
    return this.requestsCounter;
  }

  /** Stops the client when every counter reached its end. */
  checkStop(): boolean {
    const st = this.state;
    if (st.connectsPending <= 0 && st.responsesLeft <= 0 && st.reverseLeft <= 0 && st.notifiesLeft <= 0 && this.feedObservers <= 0) {
      this.stop();
      return true;
    }
    return false;
  }

  private get type(): 'CON' | 'NON' {
    return this.shared.con ? 'CON' : 'NON';
  }

  private recordRtt(slot: RequestSlot, success: boolean): void {
    const now = performance.now();
    const st = this.state;
    if (this.connecting) {
      this.connecting = false;
      addSample(st.connects, now - slot.start);
    } else if (success) {
      addSample(st.success, now - slot.start);
      // a later request datagram (retransmission or further block): its own round trip
      const last = this.tap.lastRequestSend;
      if (last !== slot.start && this.slots.length === 1) addSample(st.singleBlocks, now - last);
    } else {
      addSample(st.errors, now - slot.start);
    }
  }

  /** Counts a response (and the first connect) against the overall counters. */
  private checkOverallRequests(connected: boolean, response: boolean): number {
    const st = this.state;
    if (connected) {
      if (this.requestsCounter === 0) st.connectsPending--;
      if (response) this.requestsCounter++;
    }
    const c = response ? countDown(st, 'responsesLeft', this.multipleObserve) : st.responsesLeft;
    if (c <= 0 && st.connectsPending <= 0) {
      st.signal();
      this.checkStop();
    }
    return c;
  }

  /** Reserves the next request from the overall counter. */
  private prepare(): boolean {
    const st = this.state;
    if (!this.multipleObserve && st.requestsLeft <= 0) return false;
    countDown(st, 'requestsLeft', this.multipleObserve);
    return true;
  }

  /**
   * After a response or error: counts it and sends the next request now or after `delay` ms (+ random 0–499 ms);
   * `forceHandshake` > 0 forces a new full handshake, < 0 is the minimum delay if a handshake option applies.
   */
  private next(slot: RequestSlot, delay: number, forceHandshake: number, connected: boolean, response: boolean, notify: boolean): boolean {
    const st = this.state;
    const observe = this.settings.observe;
    let responses: number;
    if (notify && observe) {
      const notifies = ++this.notifies;
      if (this.notifyResponse) {
        this.notifyResponse = false;
        responses = this.checkOverallRequests(connected, response);
      } else {
        responses = st.responsesLeft;
      }
      if (--st.notifiesLeft <= 0) {
        st.signal();
        if (this.checkStop()) return false;
      }
      const relation = this.relation;
      if (relation === undefined || !relation.isObserving) return true;
      if (observe.register > 0 && notifies % observe.register === 0) {
        this.relation = undefined;
        // over TCP there is no RST to reject notifications with: always proactive (clients.md §3.2)
        if (observe.proactive || this.shared.tcp) {
          this.sendCancel(slot, relation);
          return true;
        }
        // reactive: later notifications of the old relation are rejected with RST
        relation.cancel();
      } else if (observe.reregister > 0 && notifies % observe.reregister === 0) {
        this.notifyResponse = true;
        this.reregister(slot, relation);
        st.requestsLeft--;
        return true;
      } else {
        return true;
      }
    } else {
      responses = this.checkOverallRequests(connected, response);
    }
    if (!this.multipleObserve) {
      if (responses <= 0) return false;
      if (this.quota > 0 && --this.quota === 0) return false;
    }
    let close = false;
    let full = false;
    if (this.handshakes !== undefined) {
      const force = forceHandshake > 0;
      if (!force) {
        const s = this.settings;
        close = s.handshakesClose !== 0 && responses % s.handshakesClose === 0;
        full = s.handshakesFull !== 0 && responses % s.handshakesFull === 0;
        if (s.handshakesBurst > 0) {
          if (close) {
            if (st.closeBursts === 0) st.closeBursts = s.handshakesBurst;
          } else {
            close = countDown(st, 'closeBursts', false) > 0;
          }
          if (full) {
            if (st.fullBursts === 0) st.fullBursts = s.handshakesBurst;
          } else {
            full = countDown(st, 'fullBursts', false) > 0;
          }
        }
      }
      if (close || full || force) {
        this.connecting = true;
        const min = forceHandshake < 0 ? -forceHandshake : forceHandshake;
        if (delay < min) delay = min;
        if (close) {
          if (delay > 0) this.shared.wheel.schedule(delay, this.closeBound);
          else this.closeConnection();
          delay = delay < 500 ? 1000 : delay * 2;
        } else {
          slot.full = true;
        }
      }
    }
    if (!this.prepare()) return false;
    if (delay > 0) {
      this.shared.wheel.schedule(delay + Math.floor(Math.random() * RANDOM_EXTRA_DELAY), slot.sendBound);
    } else {
      this.send(slot);
    }
    return true;
  }

  /** Re-registers the observation with the same token. */
  private reregister(slot: RequestSlot, relation: ClientExchange): void {
    relation.cancel();
    slot.kind = KIND_OBSERVE;
    slot.ex = request(this.ep, { ...this.shared.specs.observe, token: relation.token }, this.dest, slot);
    this.relation = slot.ex;
    slot.start = this.tap.lastRequestSend;
    slot.timed = true;
  }

  /** Proactive cancel: GET with Observe=1 and the relation's token; its answer leads to a new registration. */
  private sendCancel(slot: RequestSlot, relation: ClientExchange): void {
    relation.cancel();
    slot.kind = KIND_CANCEL;
    slot.ex = request(this.ep, { ...this.shared.specs.cancel, token: relation.token }, this.dest, slot);
    slot.start = this.tap.lastRequestSend;
    slot.timed = true;
  }

  /** Closes the connection (DTLS close_notify, TCP Release); the next request handshakes again (resumption). */
  private closeConnection(): void {
    this.handshakes?.close();
  }

  /** Drops connection and session: the next request runs a full handshake. */
  private forceFullHandshake(): void {
    this.handshakes?.closeFull();
  }

  /** Hono: a `hono-command=` Location-Query is counted and answered (PUT/POST to the Location-Path). */
  private honoCommand(msg: CoapMessage): void {
    let cmd: string | undefined;
    for (const q of getOptions(msg, Opt.LOCATION_QUERY)) {
      const text = q.toString('utf8');
      if (text.startsWith('hono-command=')) {
        cmd = text.substring('hono-command='.length);
        break;
      }
    }
    if (cmd === undefined) return;
    this.state.honoCmds++;
    const location = getOptions(msg, Opt.LOCATION_PATH).map((p) => p.toString('utf8'));
    if (location.length !== 2 && location.length !== 4) return;
    const spec: RequestSpec = {
      method: this.shared.specs.request.method,
      type: this.shared.con ? CON : NON,
      path: location,
      query: ['hono-cmd-status=200'],
      payload: 'OK',
      timeout: this.shared.specs.request.timeout,
    };
    request(this.ep, spec, this.dest, IGNORE);
  }
}

/** `2.05`-style text of a response code. */
function codeText(code: number): string {
  return `${code >> 5}.${String(code & 31).padStart(2, '0')}`;
}

// Test helper: builds CoAP requests and fake Exchanges that capture respond()/accept().
import { type CoapMessage, type CoapOption, type MessageType, CON, Code, Opt } from '../../src/coap/message.js';
import { addOption, encodeUint, getOption, getOptions } from '../../src/coap/options.js';
import type { DtlsSessionInfo, EndpointContext } from '../../src/transport/connector.js';
import {
  type EndpointInfo,
  type Exchange,
  type Method,
  type ObserveRelationRef,
  type Resource,
  type ResponseSpec,
  METHODS,
  findResource,
} from '../../src/coap/resource.js';
import { DEFAULT_STACK_CONFIG } from '../../src/coap/stack-config.js';
import { EndpointStats } from '../../src/coap/stats.js';

/** What a test request is made of. */
export interface RequestInit {
  method?: Method;
  /** `/a/b` or segments */
  path?: string | string[];
  query?: string[];
  accept?: number;
  contentFormat?: number;
  payload?: Buffer | string;
  /** token bytes or hex text */
  token?: Buffer | string;
  type?: MessageType;
  mid?: number;
  etags?: Buffer[];
  ifMatch?: Buffer[];
  ifNoneMatch?: boolean;
  observe?: number;
  /** further raw options */
  options?: CoapOption[];
}

/** Builds a request message. */
export function buildRequest(init: RequestInit = {}): CoapMessage {
  const options: CoapOption[] = [];
  const method = init.method ?? 'GET';
  const segments =
    init.path === undefined
      ? []
      : Array.isArray(init.path)
        ? init.path
        : init.path.split('/').filter((s) => s.length > 0);
  for (const s of segments) addOption(options, Opt.URI_PATH, Buffer.from(s, 'utf8'));
  for (const q of init.query ?? []) addOption(options, Opt.URI_QUERY, Buffer.from(q, 'utf8'));
  if (init.accept !== undefined) addOption(options, Opt.ACCEPT, encodeUint(init.accept));
  if (init.contentFormat !== undefined) addOption(options, Opt.CONTENT_FORMAT, encodeUint(init.contentFormat));
  for (const e of init.etags ?? []) addOption(options, Opt.ETAG, e);
  for (const e of init.ifMatch ?? []) addOption(options, Opt.IF_MATCH, e);
  if (init.ifNoneMatch) addOption(options, Opt.IF_NONE_MATCH, Buffer.alloc(0));
  if (init.observe !== undefined) addOption(options, Opt.OBSERVE, encodeUint(init.observe));
  for (const o of init.options ?? []) addOption(options, o.number, o.value);
  const token =
    init.token === undefined ? Buffer.alloc(0) : typeof init.token === 'string' ? Buffer.from(init.token, 'hex') : init.token;
  const payload =
    init.payload === undefined ? Buffer.alloc(0) : typeof init.payload === 'string' ? Buffer.from(init.payload) : init.payload;
  return {
    type: init.type ?? CON,
    code: METHODS.indexOf(method),
    mid: init.mid ?? 1234,
    token,
    options,
    payload,
  };
}

/** A fake Exchange recording what the handler did. */
export interface FakeExchange extends Exchange {
  /** every respond() call (a correct handler makes exactly one) */
  responses: ResponseSpec[];
  /** number of accept() calls */
  accepted: number;
  /** the first response (throws if none) */
  readonly response: ResponseSpec;
}

/** Overrides for the fake exchange's context. */
export interface ExchangeSetup {
  context?: Partial<EndpointContext>;
  dtls?: DtlsSessionInfo;
  endpoint?: Partial<EndpointInfo>;
  notification?: boolean;
}

/** Default endpoint seen by handlers: plain coap on loopback. */
export function fakeEndpoint(over: Partial<EndpointInfo> = {}): EndpointInfo {
  return {
    uri: 'coap://127.0.0.1:5683',
    scheme: 'coap',
    protocol: 'UDP',
    localAddress: '127.0.0.1',
    localPort: 5683,
    config: { ...DEFAULT_STACK_CONFIG },
    serverTag: 'PLUG-TEST',
    stats: new EndpointStats(),
    request: () => {
      throw new Error('fake endpoint: request() not set up');
    },
    ...over,
  };
}

/** Creates a fake exchange for `resource` with the given request. */
export function fakeExchange(resource: Resource, request: CoapMessage, setup: ExchangeSetup = {}): FakeExchange {
  const responses: ResponseSpec[] = [];
  const ex = {
    request,
    context: { address: '10.0.0.7', port: 40163, ...setup.context, ...(setup.dtls ? { dtls: setup.dtls } : {}) },
    endpoint: fakeEndpoint(setup.endpoint),
    resource,
    notification: setup.notification ?? false,
    responses,
    accepted: 0,
    accept() {
      ex.accepted++;
    },
    respond(res: ResponseSpec) {
      responses.push(res);
    },
    get response(): ResponseSpec {
      const r = responses[0];
      if (!r) throw new Error('no response');
      return r;
    },
  };
  return ex;
}

/** Routes a request through a tree like the engine does (4.04 unknown path, 4.05 missing handler). */
export function dispatch(root: Resource, init: RequestInit = {}, setup: ExchangeSetup = {}): FakeExchange {
  const request = buildRequest(init);
  const segments = getOptions(request, Opt.URI_PATH).map((v) => v.toString('utf8'));
  const resource = findResource(root, segments);
  const ex = fakeExchange(resource ?? root, request, setup);
  if (!resource) {
    ex.respond({ code: Code.NOT_FOUND });
    return ex;
  }
  const handler = resource.handlers[METHODS[request.code]!];
  if (!handler) ex.respond({ code: Code.METHOD_NOT_ALLOWED });
  else handler(ex);
  return ex;
}

/** Payload of a response as text. */
export function text(res: ResponseSpec): string {
  const p = res.payload;
  return p === undefined ? '' : typeof p === 'string' ? p : p.toString('utf8');
}

/** Payload of a response as bytes. */
export function bytes(res: ResponseSpec): Buffer {
  const p = res.payload;
  return p === undefined ? Buffer.alloc(0) : typeof p === 'string' ? Buffer.from(p, 'utf8') : p;
}

/** All values of one option number in a response. */
export function resOptions(res: ResponseSpec, number: number): Buffer[] {
  return (res.options ?? []).filter((o) => o.number === number).map((o) => o.value);
}

/** One option value of a response, or undefined. */
export function resOption(res: ResponseSpec, number: number): Buffer | undefined {
  return resOptions(res, number)[0];
}

/** A fake observe relation recording notify/cancel calls; cancel removes it from the resource. */
export interface FakeObserver extends ObserveRelationRef {
  notified: number;
  cancelled: (number | undefined)[];
}

/** Registers a fake observe relation on a resource. */
export function fakeObserver(resource: Resource): FakeObserver {
  const rel: FakeObserver = {
    notified: 0,
    cancelled: [],
    notify() {
      rel.notified++;
    },
    cancel(code?: number) {
      rel.cancelled.push(code);
      resource.observers.delete(rel);
    },
  };
  resource.observers.add(rel);
  return rel;
}

/** A DTLS session info with sensible defaults for tests. */
export function fakeDtls(over: Partial<DtlsSessionInfo> = {}): DtlsSessionInfo {
  return {
    cipherSuite: 'TLS_PSK_WITH_AES_128_CCM_8',
    sessionId: Buffer.alloc(0),
    sessionTime: 0,
    secureRenegotiation: false,
    extendedMasterSecret: false,
    newestRecord: true,
    messageSizeLimit: 1367,
    epoch: 1,
    readSequence: 1,
    handshakeTime: 0,
    ...over,
  };
}

/** Re-export for tests that inspect request options. */
export { getOption };

// OSCORE (RFC 8613) on the real server's plugtest endpoints: OC01-OC03 of plugtest.md §5 over coap and coaps,
// the /oscore and /oscoreInfo resources of resources.md §3.22, the §8.2 / §7.4 error answers (4.01 without
// OSCORE, "Replay detected", "Security context not found", 4.02 "Failed to decode COSE"), deduplication before
// the replay check, observe through OSCORE, the Appendix B.2 re-derivation, and --no-oscore. The client side is
// our message-level OSCORE (src/oscore/client.ts) over raw peers, so types, MIDs and outer options are checked
// as they are on the wire. One client context serves the whole file: the server keeps one replay window. The
// OSCORE cases run over coap+tcp and coaps+tcp too (RFC 8613 with RFC 8323): the same codes, options and inner
// answers, no types or MIDs; a request sent twice on a stream is a replay (no deduplication there).
import { spawn } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Code, Opt, type CoapMessage } from '../../src/coap/message.js';
import { getOption, getUint } from '../../src/coap/options.js';
import { protectOutgoingRequest, unprotectIncomingResponse, type ClientRequestBinding } from '../../src/oscore/client.js';
import { deriveContext, type SecurityContext } from '../../src/oscore/context.js';
import { continueClientRederivation, startClientRederivation } from '../../src/oscore/rederive-client.js';
import { plugtestClientContext } from '../../src/oscore/store.js';
import { DtlsPeer, getBlockwise as getBlockwiseDtls } from '../helpers/dtls-client.js';
import { ACK, CON, RawPeer, cf, describe as show, getBlockwise, locationPath, observeOf, parseLinkFormat, type RawRequest } from '../helpers/plugtest-checks.js';
import { REPO, startServer, type ServerProcess } from '../helpers/server-process.js';
import { StreamPeer } from '../helpers/stream-peer.js';

const INTERVAL = 300;
const HOST = '127.0.0.1';

/** What the tests need of a raw peer (UDP, DTLS, TCP or TLS). */
interface Peer {
  /** `tcp`/`tls` for a stream peer (no types, MIDs, ACKs, RSTs or deduplication) */
  readonly transport?: string;
  build(r: RawRequest): CoapMessage;
  call(msg: CoapMessage, ms?: number): Promise<CoapMessage>;
  send(msg: CoapMessage): void;
  mark(): number;
  waitFor(pred: (m: CoapMessage) => boolean, ms?: number, from?: number, what?: string): Promise<unknown>;
  since(from: number, pred?: (m: CoapMessage) => boolean): CoapMessage[];
  /** how CON messages are answered (UDP and DTLS only) */
  onCon?: (m: CoapMessage) => 'ack' | 'rst' | 'ignore';
}

/** True for a coap+tcp / coaps+tcp peer. */
function isStreamPeer(peer: Peer): boolean {
  return peer.transport === 'tcp' || peer.transport === 'tls';
}

let sp: ServerProcess;
/** the plugtest client context (plugtest.md §5): sender 01, recipient 02 */
const client: SecurityContext = deriveContext(plugtestClientContext());
let udp: RawPeer;
let dtls: DtlsPeer;
let tcp: StreamPeer;
let tls: StreamPeer;

beforeAll(async () => {
  sp = await startServer({ args: ['--no-external', '--notify-interval', `${INTERVAL}ms`] });
  udp = await RawPeer.open(HOST, sp.ports.plug);
  dtls = await DtlsPeer.open(HOST, sp.ports.plugSecure, { cidLength: 6 });
  await dtls.connect();
  tcp = await StreamPeer.open('tcp', HOST, sp.ports.plug);
  tls = await StreamPeer.open('tls', HOST, sp.ports.plugSecure);
});
afterAll(async () => {
  tcp?.close();
  tls?.close();
  udp?.close();
  await dtls?.close();
  await sp?.stop();
});

interface Protected {
  /** the protected request as sent */
  req: CoapMessage;
  /** the answer as received */
  res: CoapMessage;
  /** the verified inner response */
  inner: CoapMessage;
  binding: ClientRequestBinding;
  /** sent on coap+tcp / coaps+tcp */
  stream: boolean;
}

/** Protects a request with `ctx`, sends it and verifies the answer (which must be protected). */
async function protectedCall(peer: Peer, r: RawRequest, ctx: SecurityContext = client): Promise<Protected> {
  const { message, binding } = protectOutgoingRequest(ctx, peer.build(r));
  const res = await peer.call(message);
  const v = unprotectIncomingResponse(ctx, res, binding);
  expect(v.kind, `verified answer to ${show(message)}: ${show(res)}`).toBe('ok');
  return { req: message, res, inner: (v as { response: CoapMessage }).response, binding, stream: isStreamPeer(peer) };
}

/** plugtest.md §5: ACK, same MID and token, OSCORE option present, outer code 2.04 (RFC 8613 §4.2); a stream: no ACK or MID. */
function expectProtectedAck(p: Protected): void {
  if (!p.stream) expect(p.res.type, show(p.res)).toBe(ACK);
  if (!p.stream) expect(p.res.mid, 'same MID').toBe(p.req.mid);
  expect(p.res.token, 'same token').toEqual(p.req.token);
  expect(getOption(p.res, Opt.OSCORE), 'OSCORE option present').toBeDefined();
  expect(p.res.code, 'outer code').toBe(Code.CHANGED);
}

/** The unprotected error answer of the OSCORE layer (§8.2, §7.4): ACK, code, diagnostic text, Max-Age 0, no OSCORE option. */
function expectOscoreError(res: CoapMessage, req: CoapMessage, code: number, text: string, stream = false): void {
  if (!stream) expect(res.type, show(res)).toBe(ACK);
  if (!stream) expect(res.mid).toBe(req.mid);
  expect(res.token).toEqual(req.token);
  expect(res.code, show(res)).toBe(code);
  expect(getOption(res, Opt.OSCORE), 'no OSCORE option').toBeUndefined();
  expect(res.payload.toString('utf8')).toBe(text);
  expect(getUint(res, Opt.MAX_AGE)).toBe(0);
}

/** A block-wise GET (the plugtest endpoints answer in 64-byte blocks): the first answer and the whole payload. */
type BlockwiseGet = (path: string) => Promise<{ first: CoapMessage; payload: Buffer }>;

const udpGet: BlockwiseGet = async (path) => {
  const t = await getBlockwise(udp, { code: Code.GET, path });
  return { first: t.answers[0]!, payload: t.payload };
};
const dtlsGet: BlockwiseGet = async (path) => {
  const t = await getBlockwiseDtls(dtls, { code: Code.GET, path });
  return { first: t.answers[0]!, payload: t.payload };
};

/** A block-wise GET over one of the stream peers. */
function streamGet(peer: () => StreamPeer): BlockwiseGet {
  return async (path) => {
    const t = await getBlockwise(peer(), { code: Code.GET, path });
    return { first: t.answers[0]!, payload: t.payload };
  };
}

describe.each([
  ['coap', () => udp as Peer, udpGet],
  ['coaps', () => dtls as unknown as Peer, dtlsGet],
  ['coap+tcp', () => tcp as Peer, streamGet(() => tcp)],
  ['coaps+tcp', () => tls as Peer, streamGet(() => tls)],
])('OSCORE over %s', (scheme, peerOf, blockwiseGet) => {
  const stream = scheme.endsWith('+tcp');
  it('OC01: protected CON GET /oscore → ACK, 2.05, same MID, OSCORE option, Content-Format, payload', async () => {
    const p = await protectedCall(peerOf(), { type: CON, code: Code.GET, path: 'oscore' });
    expectProtectedAck(p);
    expect(p.inner.code).toBe(Code.CONTENT);
    expect(cf(p.inner), 'Content-Format').toBe(0);
    expect(p.inner.payload.length, 'non-empty payload').toBeGreaterThan(0);
    expect(getUint(p.inner, Opt.MAX_AGE)).toBe(30);
    // the resource sees the inner request: GET with the outer MID and token
    expect(p.inner.payload.toString('utf8')).toBe(`OSCORE Resource\nCode: 1 (GET)\nMID: ${p.req.mid}\nToken: ${p.req.token.toString('hex').toUpperCase()}`);
    // Content-Format and Max-Age are Class E: not visible outside (§4.1.1)
    expect(cf(p.res), 'no outer Content-Format').toBeUndefined();
  });

  it('OC02: protected CON DELETE /oscore → ACK, 2.02, same MID, OSCORE option', async () => {
    const p = await protectedCall(peerOf(), { type: CON, code: Code.DELETE, path: 'oscore' });
    expectProtectedAck(p);
    expect(p.inner.code).toBe(Code.DELETED);
  });

  it('OC03: protected CON PUT /oscore "Hello, OSCORE!" CF 0 → ACK, 2.04, same MID, OSCORE option', async () => {
    const p = await protectedCall(peerOf(), { type: CON, code: Code.PUT, path: 'oscore', payload: 'Hello, OSCORE!', format: 0 });
    expectProtectedAck(p);
    expect(p.inner.code).toBe(Code.CHANGED);
  });

  it('POST → 2.01 with Location-Path location1/location2/location3; PUT If-None-Match → 4.12', async () => {
    const post = await protectedCall(peerOf(), { code: Code.POST, path: 'oscore', payload: 'x', format: 0 });
    expectProtectedAck(post);
    expect(post.inner.code).toBe(Code.CREATED);
    expect(locationPath(post.inner)).toEqual(['location1', 'location2', 'location3']);
    const put = await protectedCall(peerOf(), { code: Code.PUT, path: 'oscore', payload: 'x', format: 0, ifNoneMatch: true });
    expectProtectedAck(put);
    expect(put.inner.code).toBe(Code.PRECONDITION_FAILED);
  });

  it('a plain request to /oscore → 4.01; plain resources still answer plainly', async () => {
    const peer = peerOf();
    const res = await peer.call(peer.build({ code: Code.GET, path: 'oscore' }));
    if (!stream) expect(res.type).toBe(ACK);
    expect(res.code, show(res)).toBe(Code.UNAUTHORIZED);
    expect(getOption(res, Opt.OSCORE)).toBeUndefined();
    const test = await peer.call(peer.build({ code: Code.GET, path: 'test' }));
    expect(test.code, show(test)).toBe(Code.CONTENT);
    expect(getOption(test, Opt.OSCORE)).toBeUndefined();
  });

  it('a protected request to another resource is answered protected (OSCORE is per endpoint)', async () => {
    const p = await protectedCall(peerOf(), { code: Code.GET, path: 'test' });
    expectProtectedAck(p);
    expect(p.inner.code).toBe(Code.CONTENT);
    expect(p.inner.payload.toString('utf8')).toMatch(/^Type: 0 \(CON\)\nCode: 1 \(GET\)\n/);
  });

  it.runIf(stream)('the same protected request sent again on a stream is a replay (no deduplication, RFC 8323 §3) → 4.01', async () => {
    const peer = peerOf();
    const { message, binding } = protectOutgoingRequest(client, peer.build({ code: Code.GET, path: 'oscore' }));
    const first = await peer.call(message);
    expect(unprotectIncomingResponse(client, first, binding).kind).toBe('ok');
    expectOscoreError(await peer.call(message), message, Code.UNAUTHORIZED, 'Replay detected', true);
  });

  it.skipIf(stream)('a retransmission (same MID) gets the same protected answer, no replay error (deduplication first)', async () => {
    const peer = peerOf();
    const { message, binding } = protectOutgoingRequest(client, peer.build({ code: Code.GET, path: 'oscore' }));
    const first = await peer.call(message);
    const again = await peer.call(message);
    expect(again.code, show(again)).toBe(first.code);
    expect(again.payload).toEqual(first.payload);
    expect(unprotectIncomingResponse(client, again, binding).kind).toBe('ok');
  });

  it('a replayed protected request (same bytes, new MID) → 4.01 "Replay detected"', async () => {
    const peer = peerOf();
    const p = await protectedCall(peer, { code: Code.GET, path: 'oscore' });
    const replay = { ...p.req, mid: peer.build({ code: Code.GET }).mid };
    expectOscoreError(await peer.call(replay), replay, Code.UNAUTHORIZED, 'Replay detected', stream);
  });

  it('an unknown kid → 4.01 "Security context not found"; a malformed OSCORE option → 4.02 "Failed to decode COSE"', async () => {
    const peer = peerOf();
    const stranger = deriveContext({ ...plugtestClientContext(), senderId: Buffer.from('05', 'hex') });
    const { message } = protectOutgoingRequest(stranger, peer.build({ code: Code.GET, path: 'oscore' }));
    expectOscoreError(await peer.call(message), message, Code.UNAUTHORIZED, 'Security context not found', stream);
    // flag bits of reserved / undefined fields set (§6.1)
    const bad = peer.build({ code: Code.POST, options: [{ number: Opt.OSCORE, value: Buffer.from([0xe9, 0x01]) }], payload: Buffer.alloc(12, 1) });
    expectOscoreError(await peer.call(bad), bad, Code.BAD_OPTION, 'Failed to decode COSE', stream);
  });

  it('/oscoreInfo: 2.05, Max-Age 30, the ID Context and the next client sequence number', async () => {
    const { first, payload } = await blockwiseGet('oscoreInfo');
    expect(first.code, show(first)).toBe(Code.CONTENT);
    expect(getUint(first, Opt.MAX_AGE)).toBe(30);
    expect(cf(first)).toBe(0);
    const text = payload.toString('utf8');
    expect(text.startsWith('\n'), 'starts with a blank line').toBe(true);
    expect(text).toContain('\nID Context: 37CBF3210017A2D3');
    expect(text).toContain(`\nClient Sender Sequence Number: ${client.sender.sequenceNumber}`);
  });

  it('observe through OSCORE: protected registration of /obs, protected notifications with fresh Partial IVs', async () => {
    const peer = peerOf();
    const reg = await protectedCall(peer, { code: Code.GET, path: 'obs', observe: 0 });
    expect(reg.req.code, 'outer FETCH for Observe (§4.2)').toBe(Code.FETCH);
    expect(reg.res.code, 'outer 2.05 with Observe').toBe(Code.CONTENT);
    expect(observeOf(reg.res), 'outer Observe').toBeDefined();
    expect(reg.inner.code).toBe(Code.CONTENT);
    expect(observeOf(reg.inner), 'inner Observe').toBeDefined();
    const tok = reg.req.token.toString('hex');
    const from = peer.mark();
    // UDP/DTLS: not the registration answer (nor its retransmission); a stream has no MIDs
    const isNotification = (m: CoapMessage): boolean => m.token.toString('hex') === tok && m.code !== 0 && (stream ? m !== reg.res : m.mid !== reg.res.mid);
    await peer.waitFor(() => peer.since(from, isNotification).length >= 2, 6 * INTERVAL + 3000, from, 'two notifications');
    const notes = peer.since(from, isNotification).slice(0, 2);
    const pivs: number[] = [];
    for (const n of notes) {
      expect(getOption(n, Opt.OSCORE), 'protected notification').toBeDefined();
      const v = unprotectIncomingResponse(client, n, reg.binding);
      expect(v.kind, show(n)).toBe('ok');
      const ok = v as { response: CoapMessage; partialIv: number | undefined };
      expect(ok.response.code).toBe(Code.CONTENT);
      expect(observeOf(ok.response)).toBeDefined();
      expect(ok.partialIv, 'notification with its own Partial IV').toBeDefined();
      pivs.push(ok.partialIv!);
    }
    expect(pivs[1]).toBeGreaterThan(pivs[0]!);
    // a notification delivered again is refused by the client (§7.4.1)
    expect(unprotectIncomingResponse(client, notes[0]!, reg.binding).kind).toBe('error');
    // no RST on a stream: the relation ends with the connection (afterAll)
    if (stream) return;
    // reactive cancel: RST the next CON notification of the relation
    peer.onCon = (m) => (m.token.toString('hex') === tok ? 'rst' : 'ack');
    const mark = peer.mark();
    await peer.waitFor(isNotification, 6 * INTERVAL + 3000, mark, 'a notification to reject');
    peer.onCon = () => 'ack';
  });
});

const CLIENT_MAIN = path.join(REPO, 'dist/src/cli/client-main.js');

/** Runs the built extplugtest-client; resolves with its exit code and output. */
function runClient(args: string[], timeoutMs = 20_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [CLIENT_MAIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (d) => (stdout += d.toString()));
    proc.stderr.on('data', (d) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`extplugtest-client ${args.join(' ')} did not end:\n${stdout}\n${stderr}`));
    }, timeoutMs);
    proc.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** The `Status : ...` line of the client's response block. */
function statusOf(stdout: string): string | undefined {
  return /^Status : (\S+)/m.exec(stdout)?.[1];
}

describe('extplugtest-client --oscore', () => {
  it('GET /oscore over coap, twice (the second run continues the sequence numbers from /oscoreInfo)', async () => {
    for (let i = 0; i < 2; i++) {
      const r = await runClient(['--oscore', `coap://${HOST}:${sp.ports.plug}/oscore`]);
      expect(r.code, r.stdout + r.stderr).toBe(0);
      expect(statusOf(r.stdout), r.stdout).toBe('2.05');
      // the request block shows the plain request, the response block the verified inner response
      expect(r.stdout).toMatch(/Method : 0\.01 - GET\nOptions: \{"Uri-Path":"oscore"\}/);
      expect(r.stdout).toMatch(/\nOSCORE Resource\nCode: 1 \(GET\)\n/);
    }
    // keep the file's own client context in step with what the client runs used
    client.sender.sequenceNumber = Number(/Client Sender Sequence Number: (\d+)/.exec((await udpGet('oscoreInfo')).payload.toString('utf8'))![1]);
  });

  it('without --oscore the client gets 4.01; -v traces the protected wire form (outer POST with OSCORE option)', async () => {
    const plain = await runClient([`coap://${HOST}:${sp.ports.plug}/oscore`]);
    expect(statusOf(plain.stdout), plain.stdout).toBe('4.01');
    const v = await runClient(['--oscore', '-v', '-m', 'PUT', '--payload', 'Hello, OSCORE!', `coaps://${HOST}:${sp.ports.plugSecure}/oscore`]);
    expect(v.code, v.stdout + v.stderr).toBe(0);
    expect(statusOf(v.stdout), v.stdout).toBe('2.04');
    expect(v.stdout).toMatch(/req CON-POST .*"OSCORE":0x[0-9a-f]+/);
    expect(v.stdout).toMatch(/res ACK-2\.04 .*"OSCORE":0x/);
    client.sender.sequenceNumber = Number(/Client Sender Sequence Number: (\d+)/.exec((await udpGet('oscoreInfo')).payload.toString('utf8'))![1]);
  });
});

describe('Appendix B.2 context re-derivation (runs last: it replaces the server context)', () => {
  it('Request #1 → protected 4.01 with R2; Request #2 with R2||R3 is processed; /oscoreInfo shows the new ID Context', async () => {
    const b2 = startClientRederivation(plugtestClientContext());
    const r1 = protectOutgoingRequest(b2.ctx, udp.build({ code: Code.GET, path: 'oscore' }), { kidContextValue: b2.kidContext });
    const res1 = await udp.call(r1.message);
    expect(res1.type).toBe(ACK);
    expect(getOption(res1, Opt.OSCORE), 'Response #1 is protected').toBeDefined();
    const next = continueClientRederivation(b2, res1, r1.binding);
    expect(next.kind, JSON.stringify(next)).toBe('ok');
    const derived = next as { ctx: SecurityContext; kidContext: Buffer };
    const r2 = protectOutgoingRequest(derived.ctx, udp.build({ code: Code.GET, path: 'oscore' }), { kidContextValue: derived.kidContext });
    const res2 = await udp.call(r2.message);
    const v = unprotectIncomingResponse(derived.ctx, res2, r2.binding);
    expect(v.kind).toBe('ok');
    expect((v as { response: CoapMessage }).response.code).toBe(Code.CONTENT);
    const info = await udpGet('oscoreInfo');
    expect(info.payload.toString('utf8')).toContain(`\nID Context: ${derived.ctx.idContext!.toString('hex').toUpperCase()}`);
    // the old ID Context is no active one any more: a request with it starts a new re-derivation (Response #1,
    // inner 4.01) instead of being processed
    const again = startClientRederivation(plugtestClientContext(), Buffer.from('37cbf3210017a2d3', 'hex'));
    const old = protectOutgoingRequest(again.ctx, udp.build({ code: Code.GET, path: 'oscore' }));
    const resOld = await udp.call(old.message);
    expect(continueClientRederivation(again, resOld, old.binding).kind, show(resOld)).toBe('ok');
  });

  it('extplugtest-client --oscore takes the new ID Context from /oscoreInfo', async () => {
    const r = await runClient(['--oscore', '-m', 'DELETE', `coap://${HOST}:${sp.ports.plug}/oscore`]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(statusOf(r.stdout), r.stdout).toBe('2.02');
  });
});

describe('--no-oscore', () => {
  let off: ServerProcess;
  beforeAll(async () => {
    off = await startServer({ args: ['--no-external', '--no-oscore'] });
  });
  afterAll(async () => {
    await off?.stop();
  });

  it('/oscore and /oscoreInfo are 4.04 and not listed; a protected request is not processed as OSCORE', async () => {
    const peer = await RawPeer.open(HOST, off.ports.plug);
    try {
      for (const path of ['oscore', 'oscoreInfo']) {
        const res = await peer.call(peer.build({ code: Code.GET, path }));
        expect(res.code, `${path}: ${show(res)}`).toBe(Code.NOT_FOUND);
      }
      const core = await getBlockwise(peer, { code: Code.GET, path: '.well-known/core' });
      const uris = parseLinkFormat(core.payload.toString('utf8')).map((l) => l.uri);
      expect(uris.length).toBeGreaterThan(0);
      expect(uris).not.toContain('/oscore');
      expect(uris).not.toContain('/oscoreInfo');
      // without the OSCORE stack a protected request is an outer POST to a path the server does not have
      const { message } = protectOutgoingRequest(deriveContext(plugtestClientContext()), peer.build({ code: Code.GET, path: 'oscore' }));
      const res = await peer.call(message);
      expect(getOption(res, Opt.OSCORE)).toBeUndefined();
      expect(res.code, show(res)).not.toBe(Code.CHANGED);
    } finally {
      peer.close();
    }
  });

  it('no OSCORE warning at start-up', () => {
    expect(off.output()).not.toMatch(/--oscore/);
    expect(sp.output()).not.toMatch(/--oscore/);
  });
});

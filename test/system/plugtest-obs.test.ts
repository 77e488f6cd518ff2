// ETSI TD_COAP_OBS_01..10 (plugtest.md §4) against the real server process over UDP, with a 300 ms
// notify interval. Tests run in this order on purpose: OBS_04 (/obs-reset) ends every relation and
// OBS_07/08 end the relations of /obs, so those come after the others. The same cases run over coap+tcp and
// coaps+tcp (RFC 8323 §3, §7): notifications carry the token and increasing Observe numbers but no type or MID,
// nothing is acknowledged or rejected (no ACK/RST on a stream), a relation ends by deregistration.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Code, Opt, type CoapMessage, type MessageType } from '../../src/coap/message.js';
import { getUint } from '../../src/coap/options.js';
import { startServer, type ServerProcess } from '../helpers/server-process.js';
import { ACK, CON, NON, RST, RawPeer, cf, describe as show, expectMsg, getBlockwise, hasToken, observeOf } from '../helpers/plugtest-checks.js';
import { isStream, openPeer as openTransportPeer, transportCases, type CoapPeer, type Transport } from '../helpers/stream-peer.js';

/** notify interval of the server under test */
const INTERVAL = 300;
/** the checker's per-notification timeout: Max-Age 5 s + 1 s */
const NOTIFY_TIMEOUT = 6000;
/** "nothing more arrives" window: several notify intervals */
const QUIET = 4 * INTERVAL;
const TIME = /^\d{2}:\d{2}:\d{2}$/;

let sp: ServerProcess;
const peers: CoapPeer[] = [];

beforeAll(async () => {
  // --diagnose: the relation count of the plugtest server (OBS_06 over a stream)
  sp = await startServer({ args: ['--no-external', '--diagnose', '--notify-interval', `${INTERVAL}ms`] });
});

afterEach(() => {
  for (const p of peers.splice(0)) p.close();
});

afterAll(async () => {
  await sp?.stop();
});

async function openPeerOn(transport: Transport): Promise<CoapPeer> {
  const p = await openTransportPeer(transport, '127.0.0.1', transport === 'tls' ? sp.ports.plugSecure : sp.ports.plug);
  peers.push(p);
  return p;
}

/** The raw UDP peer (for the cases that answer notifications with ACK or RST). */
function udpPeer(peer: CoapPeer): RawPeer {
  if (isStream(peer)) throw new Error('UDP only');
  return peer as RawPeer;
}

/** One observe relation seen from the raw client. */
interface Relation {
  peer: CoapPeer;
  req: CoapMessage;
  first: CoapMessage;
  /** log index right after the registration answer */
  from: number;
  token: Buffer;
}

/** Registers (GET Observe=0) and checks the first answer like the checker. */
async function register(peer: CoapPeer, path: string, type: MessageType = CON, token = peer.nextToken()): Promise<Relation> {
  const req = peer.build({ type, code: Code.GET, path, observe: 0, token });
  const first = await peer.call(req);
  if (isStream(peer)) {
    expectMsg(first, undefined, Code.CONTENT);
  } else if (type === CON) {
    expectMsg(first, ACK, Code.CONTENT);
    expect(first.mid, 'piggy-backed: same MID').toBe(req.mid);
  } else {
    expectMsg(first, NON, Code.CONTENT);
  }
  expect(first.token, 'same token').toEqual(token);
  expect(cf(first), 'Content-Format').toBe(0);
  expect(first.payload.length, 'payload').toBeGreaterThan(0);
  expect(observeOf(first), 'Observe option in the registration answer').toBeDefined();
  expect(getUint(first, Opt.MAX_AGE), 'Max-Age').toBe(5);
  return { peer, req, first, from: peer.log.findIndex((r) => r.msg === first) + 1, token };
}

/** Notifications of a relation received at log index ≥ from (retransmissions folded by MID; a stream has neither). */
function notifications(rel: Relation, from = rel.from): CoapMessage[] {
  const seen = new Set<number>();
  const stream = isStream(rel.peer);
  return rel.peer.since(from, (m) => {
    if (!hasToken(rel.token)(m) || m.code === 0 || (m.type !== CON && m.type !== NON)) return false;
    if (stream) return true;
    if (seen.has(m.mid)) return false;
    seen.add(m.mid);
    return true;
  });
}

/** Waits until `n` notifications arrived at log index ≥ from (each within NOTIFY_TIMEOUT). */
async function waitNotifications(rel: Relation, n: number, from = rel.from): Promise<CoapMessage[]> {
  for (let k = 1; k <= n; k++) {
    await rel.peer.waitUntil(() => notifications(rel, from).length >= k, NOTIFY_TIMEOUT, `notification ${k} of ${n}`);
  }
  return notifications(rel, from).slice(0, n);
}

/** Checks a successful notification like the checker (type CON/NON as required; over a stream: no type). */
function expectNotification(m: CoapMessage, rel: Relation, types: readonly MessageType[]): void {
  if (!isStream(rel.peer)) expect(types.map((t) => ['CON', 'NON'][t]), `type of ${show(m)}`).toContain(['CON', 'NON', 'ACK', 'RST'][m.type]);
  expect(m.code).toBe(Code.CONTENT);
  expect(m.token).toEqual(rel.token);
  expect(cf(m), 'Content-Format').toBe(0);
  expect(m.payload.length).toBeGreaterThan(0);
  expect(observeOf(m), 'Observe option').toBeDefined();
  expect(getUint(m, Opt.MAX_AGE), 'Max-Age').toBe(5);
}

/** The plugtest server's current observe relations, from the extended server's /diagnose (resources.md §2.3). */
async function plugObserves(): Promise<number> {
  const peer = await RawPeer.open('127.0.0.1', sp.ports.ext);
  try {
    const t = await getBlockwise(peer, { code: Code.GET, path: 'diagnose' });
    const m = /\nPLUG-TEST\n {3}observes,(\d+),/.exec(t.payload.toString('utf8'));
    if (!m) throw new Error(`no PLUG-TEST observes in /diagnose:\n${t.payload.toString('utf8')}`);
    return Number(m[1]);
  } finally {
    peer.close();
  }
}

/** Polls plugObserves() until it is `n` (bounded: `ms`). */
async function waitObserves(n: number, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  let last = await plugObserves();
  while (last !== n) {
    if (Date.now() > deadline) throw new Error(`PLUG-TEST observes ${last}, expected ${n}`);
    await RawPeer.sleep(100);
    last = await plugObserves();
  }
}

/** Observe numbers strictly increase over the registration answer and the notifications. */
function expectIncreasing(rel: Relation, list: CoapMessage[]): void {
  const seq = [rel.first, ...list].map((m) => observeOf(m)!);
  for (let i = 1; i < seq.length; i++) expect(seq[i]!, `Observe sequence ${seq.join(',')}`).toBeGreaterThan(seq[i - 1]!);
}

/** Proactive cancel: GET with the same token and Observe=1 → answer without Observe. */
async function deregister(rel: Relation, path: string): Promise<CoapMessage> {
  const req = rel.peer.build({ type: CON, code: Code.GET, path, observe: 1, token: rel.token });
  const res = await rel.peer.call(req);
  const stream = isStream(rel.peer);
  expectMsg(res, stream ? undefined : ACK, Code.CONTENT);
  if (!stream) expect(res.mid).toBe(req.mid);
  expect(res.token).toEqual(rel.token);
  expect(observeOf(res), 'deregistration answer has no Observe option').toBeUndefined();
  return res;
}

/** Asserts that after log index `from` no (new) notification of the relation arrives within QUIET ms. */
async function expectQuiet(rel: Relation, from: number, except: CoapMessage[] = []): Promise<void> {
  await RawPeer.sleep(QUIET);
  const mids = new Set(except.map((m) => m.mid));
  // UDP: the excepted messages and their retransmissions (same MID); a stream has no MIDs and no retransmissions
  const late = notifications(rel, from).filter((m) => (isStream(rel.peer) ? !except.includes(m) : !mids.has(m.mid)));
  expect(late.map(show), 'no further notifications').toEqual([]);
}

describe.each(transportCases(['127.0.0.1']))('TD_COAP_OBS over $name', ({ transport }) => {
  const stream = transport !== 'udp';
  /** the UDP message type expected; undefined (not checked) over a stream */
  const udp = <T>(type: T): T | undefined => (stream ? undefined : type);
  const openPeer = (): Promise<CoapPeer> => openPeerOn(transport);

  it('OBS_01 + OBS_03: CON GET /obs Observe=0 → ACK; 5 CON notifications; deregistration answer without Observe', async () => {
    const peer = await openPeer();
    const rel = await register(peer, 'obs');
    expect(rel.first.payload.toString()).toMatch(TIME);
    const start = Date.now();
    const list = await waitNotifications(rel, 5);
    expect(Date.now() - start, `5 notifications at a ${INTERVAL} ms interval`).toBeLessThan(5 * INTERVAL + 2500);
    for (const m of list) {
      expectNotification(m, rel, [CON]);
      expect(m.payload.toString()).toMatch(TIME);
      if (!stream) expect(udpPeer(peer).sentReplies.some((r) => r.type === ACK && r.mid === m.mid), 'we acknowledged it').toBe(true);
    }
    expectIncreasing(rel, list);
    const res = await deregister(rel, 'obs');
    expect(res.payload.toString()).toMatch(TIME);
    await expectQuiet(rel, peer.log.findIndex((r) => r.msg === res) + 1);
  });

  it.runIf(stream)('OBS_02 over a stream: GET /obs-non Observe=0 → 2.05; notifications with increasing Observe, nothing to acknowledge', async () => {
    const peer = await openPeer();
    const rel = await register(peer, 'obs-non', NON);
    const list = await waitNotifications(rel, 5);
    for (const m of list) {
      expectNotification(m, rel, [NON, CON]);
      expect(m.payload.toString()).toMatch(TIME);
    }
    expectIncreasing(rel, list);
    const res = await deregister(rel, 'obs-non');
    await expectQuiet(rel, peer.log.findIndex((r) => r.msg === res) + 1);
  });

  it.skipIf(stream)('OBS_02: NON GET /obs-non Observe=0 → NON answer; NON notifications with a CON every 4th', async () => {
    const peer = await openPeer();
    const rel = await register(peer, 'obs-non', NON);
    const list = await waitNotifications(rel, 9);
    for (const m of list) {
      expectNotification(m, rel, [NON, CON]);
      expect(m.payload.toString()).toMatch(TIME);
    }
    expectIncreasing(rel, list);
    // NOTIFICATION_CHECK_INTERVAL_COUNT 4 (PLUG): every 4th notification is a CON
    const types = list.map((m) => ['CON', 'NON'][m.type]).join(' ');
    const cons = list.flatMap((m, i) => (m.type === CON ? [i] : []));
    expect(cons.length, `types: ${types}`).toBeGreaterThanOrEqual(2);
    expect(cons[0]!, `first CON within 4 notifications: ${types}`).toBeLessThan(4);
    for (let i = 1; i < cons.length; i++) expect(cons[i]! - cons[i - 1]!, `CON spacing: ${types}`).toBe(4);
    const res = await deregister(rel, 'obs-non');
    await expectQuiet(rel, peer.log.findIndex((r) => r.msg === res) + 1);
  });

  it('OBS_10: a plain GET /obs during the observation gets its own token and no Observe; the relation continues', async () => {
    const peer = await openPeer();
    const rel = await register(peer, 'obs');
    await waitNotifications(rel, 2);
    const plain = peer.build({ type: CON, code: Code.GET, path: 'obs' });
    const res = await peer.call(plain);
    expectMsg(res, udp(ACK), Code.CONTENT);
    if (!stream) expect(res.mid).toBe(plain.mid);
    expect(res.token, 'own token').toEqual(plain.token);
    expect(res.token.equals(rel.token)).toBe(false);
    expect(observeOf(res), 'no Observe option').toBeUndefined();
    expect(cf(res)).toBe(0);
    expect(res.payload.toString()).toMatch(TIME);
    const after = peer.log.findIndex((r) => r.msg === res) + 1;
    const more = await waitNotifications(rel, 2, after);
    for (const m of more) expectNotification(m, rel, [CON]);
    const all = notifications(rel);
    expect(all.length, '4 notifications in total').toBeGreaterThanOrEqual(4);
    expectIncreasing(rel, all);
    expect(peer.since(rel.from, (m) => hasToken(plain.token)(m)).length, 'the plain GET got exactly one answer').toBe(1);
    await deregister(rel, 'obs');
  });

  // RFC 8323 §3: no RST on a stream: a relation ends by deregistration or with its connection. The relation count
  // is one worker's: with several workers (EXTPLUGTEST_TEST_WORKERS) /diagnose may come from another one.
  it.runIf(stream && !process.env.EXTPLUGTEST_TEST_WORKERS)('OBS_06 over a stream: closing the connection ends its relation', async () => {
    const before = await plugObserves();
    const peer = await openPeer();
    const rel = await register(peer, 'obs');
    await waitNotifications(rel, 2);
    await waitObserves(before + 1);
    peer.close();
    await waitObserves(before);
  });

  it.skipIf(stream)('OBS_06: a RST in reply to a notification ends the relation', async () => {
    const peer = udpPeer(await openPeer());
    const rel = await register(peer, 'obs');
    await waitNotifications(rel, 2);
    const tok = rel.token.toString('hex');
    const mark = peer.mark();
    peer.onCon = (m) => (m.token.toString('hex') === tok ? 'rst' : 'ack');
    const [rejected] = await waitNotifications(rel, 1, mark);
    expect(rejected!.type).toBe(CON);
    expect(peer.sentReplies.some((r) => r.type === RST && r.mid === rejected!.mid), 'we rejected it').toBe(true);
    await expectQuiet(rel, mark, [rejected!]);
  });

  it('OBS_04: POST sesame to /obs-reset drops the relation silently; re-registration with the same token works', async () => {
    const peer = await openPeer();
    const rel = await register(peer, 'obs');
    await waitNotifications(rel, 3);

    const wrong = await peer.request({ code: Code.POST, path: 'obs-reset', payload: 'open', format: 0 });
    expectMsg(wrong, udp(ACK), Code.FORBIDDEN);
    const afterWrong = peer.log.findIndex((r) => r.msg === wrong) + 1;
    await waitNotifications(rel, 1, afterWrong);

    const reset = await peer.request({ code: Code.POST, path: 'obs-reset', payload: 'sesame', format: 0 });
    expectMsg(reset, udp(ACK), Code.CHANGED);
    const afterReset = peer.log.findIndex((r) => r.msg === reset) + 1;
    await expectQuiet(rel, afterReset);
    expect(peer.since(afterReset, (m) => hasToken(rel.token)(m)).map(show), 'silently: no 4.xx notification either').toEqual([]);

    const again = await register(peer, 'obs', CON, rel.token);
    const list = await waitNotifications(again, 3);
    for (const m of list) expectNotification(m, again, [CON]);
    expectIncreasing(again, list);

    if (stream) {
      // no RST on a stream: the relation ends by deregistration
      const res = await deregister(again, 'obs');
      await expectQuiet(again, peer.log.findIndex((r) => r.msg === res) + 1);
      return;
    }
    // the checker cancels locally: the next notification is rejected, then nothing more arrives
    const tok = rel.token.toString('hex');
    const mark = peer.mark();
    udpPeer(peer).onCon = (m) => (m.token.toString('hex') === tok ? 'rst' : 'ack');
    const [rejected] = await waitNotifications(again, 1, mark);
    await expectQuiet(again, mark, [rejected!]);
  });

  it('OBS_09: PUT "New value" to /obs → 2.04; the next notification carries exactly "New value"', async () => {
    const peer = await openPeer();
    const rel = await register(peer, 'obs');
    await waitNotifications(rel, 2);
    // PUT right after a notification (the next timer tick is an interval away)
    const mark = peer.mark();
    await waitNotifications(rel, 1, mark);
    const putFrom = peer.mark();
    const put = peer.build({ type: CON, code: Code.PUT, path: 'obs', payload: 'New value', format: 0 });
    const res = await peer.call(put);
    expectMsg(res, udp(ACK), Code.CHANGED);
    if (!stream) expect(res.mid).toBe(put.mid);
    const [next] = await waitNotifications(rel, 1, putFrom);
    expectNotification(next!, rel, [CON]);
    expect(next!.payload.toString()).toBe('New value');
    expectIncreasing(rel, notifications(rel));
    // later ticks notify the time again
    const [tick] = await waitNotifications(rel, 1, peer.log.findIndex((r) => r.msg === next) + 1);
    expect(tick!.payload.toString()).toMatch(TIME);
    await deregister(rel, 'obs');
  });

  it('OBS_07: DELETE /obs → 2.02; the observer gets a 4.04 notification without Observe, then nothing', async () => {
    const peer = await openPeer();
    const rel = await register(peer, 'obs');
    await waitNotifications(rel, 2);
    const del = peer.build({ type: CON, code: Code.DELETE, path: 'obs' });
    const delFrom = peer.mark();
    const res = await peer.call(del);
    expectMsg(res, udp(ACK), Code.DELETED);
    if (!stream) expect(res.mid).toBe(del.mid);
    const gone = await peer.waitFor((m) => hasToken(rel.token)(m) && m.code === Code.NOT_FOUND, NOTIFY_TIMEOUT, delFrom, '4.04 notification');
    if (!stream) expect(gone.type, 'error notifications are CON').toBe(CON);
    expect(observeOf(gone), 'no Observe option').toBeUndefined();
    const goneAt = peer.log.findIndex((r) => r.msg === gone);
    await expectQuiet(rel, goneAt, [gone]);
  });

  it('OBS_08: PUT /obs with another Content-Format → 2.04; the observer gets 4.06 without Observe, then nothing', async () => {
    const peer = await openPeer();
    const rel = await register(peer, 'obs');
    await waitNotifications(rel, 2);
    const put = peer.build({ type: CON, code: Code.PUT, path: 'obs', payload: 'Random', format: 41 });
    const putFrom = peer.mark();
    const res = await peer.call(put);
    expectMsg(res, udp(ACK), Code.CHANGED);
    if (!stream) expect(res.mid).toBe(put.mid);
    const na = await peer.waitFor((m) => hasToken(rel.token)(m) && m.code === Code.NOT_ACCEPTABLE, NOTIFY_TIMEOUT, putFrom, '4.06 notification');
    if (!stream) expect(na.type, 'error notifications are CON').toBe(CON);
    expect(observeOf(na), 'no Observe option').toBeUndefined();
    const naAt = peer.log.findIndex((r) => r.msg === na);
    await expectQuiet(rel, naAt, [na]);
  });
});

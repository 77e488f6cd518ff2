// The server's DTLS 1.2 handshake state machine (RFC 6347 §4.2, RFC 5246 §7.3/§7.4.9) driven message by
// message and record by record with the raw PSK client of test/helpers/raw-dtls (which shares no code with
// src/) against the real server process (extended coaps endpoint, 127.0.0.1). Each case asserts what the
// client observes: the alert or silence, whether the server's CCS+Finished came (and its verify_data), and
// whether a CoAP GET /mycontext over epoch 1 is answered. Silence windows are short (~1 s): the server's
// first flight retransmission (3 s) does not fall into them.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  AlertCode,
  ContentType,
  FATAL,
  HandshakeType,
  RawDtlsClient,
  encodeGet,
  fragmentMessage,
  hasMessage,
  isServerFinished,
  summarize,
  type RawClientOptions,
  type Received,
} from '../helpers/raw-dtls/index.js';
import { startServer, type ServerProcess } from '../helpers/server-process.js';

/** how long "no answer" is watched */
const SILENCE_MS = 1200;
/** how long an expected answer may take (waits end as soon as it arrives) */
const ANSWER_MS = 2000;
/** case 6: the buffered early GET must be answered this fast */
const EARLY_GET_MS = 1000;
/** how long a GET that must not be answered is watched (after a silence window) */
const NO_GET_MS = 700;

describe('DTLS handshake state machine (raw PSK client vs. the real server)', () => {
  let sp: ServerProcess;
  const clients: RawDtlsClient[] = [];

  beforeAll(async () => {
    sp = await startServer({ args: ['--no-external', '--no-plugtest'] });
  });
  afterAll(async () => {
    await sp?.stop();
  });
  afterEach(() => {
    for (const c of clients.splice(0)) c.close();
  });

  const open = async (o: Partial<RawClientOptions> = {}): Promise<RawDtlsClient> => {
    const c = await RawDtlsClient.open({ host: '127.0.0.1', port: sp.ports.extSecure, ...o });
    clients.push(c);
    return c;
  };
  /** A client that has done flights 1-4 (cookie exchange, ServerHello … ServerHelloDone). */
  const ready = async (o: Partial<RawClientOptions> = {}): Promise<RawDtlsClient> => {
    const c = await open(o);
    await c.helloFlights(2000);
    return c;
  };
  const alertsOf = (rs: readonly Received[]) => rs.filter((r) => r.alert !== undefined).map((r) => r.alert!);
  const serverCcs = (rs: readonly Received[]) => rs.filter((r) => r.type === ContentType.CHANGE_CIPHER_SPEC);

  /** Sends a fresh GET /mycontext over epoch 1 and returns the response (undefined: none within `ms`). */
  const get = async (c: RawDtlsClient, ms: number): Promise<Received | undefined> => {
    const g = c.coapGet();
    const from = c.mark();
    c.send(g.record);
    return c.waitCoap(g.token, ms, from);
  };

  /**
   * The handshake completed: server CCS and Finished (correct verify_data) since `from`, then a GET is
   * answered 2.05, no alert. Soft assertions: a failing case reports every deviation.
   */
  const expectCompleted = async (c: RawDtlsClient, from: number): Promise<void> => {
    const fin = await c.waitServerFinished(ANSWER_MS, from);
    const seen = () => summarize(c.since(from));
    expect.soft(fin?.finishedOk, `server Finished with correct verify_data; observed ${seen()}`).toBe(true);
    expect
      .soft(serverCcs(c.since(from)).some((r) => fin !== undefined && r.datagram <= fin.datagram), `server ChangeCipherSpec before its Finished; observed ${seen()}`)
      .toBe(true);
    const rsp = await get(c, ANSWER_MS);
    expect.soft(rsp?.coap?.code, `GET /mycontext over epoch 1; observed ${seen()}`).toBe('2.05');
    expect.soft(rsp?.coap?.payload.toString() ?? '').toContain('peer: Client_identity');
    expect.soft(alertsOf(c.since(from)), `no alert; observed ${seen()}`).toEqual([]);
  };

  /**
   * The handshake did not complete: within SILENCE_MS no server CCS/Finished and no alert except a fatal
   * one of `allowed`; then a GET over epoch 1 is not answered. Returns what was observed in the window.
   */
  const expectNotCompleted = async (c: RawDtlsClient, from: number, allowed: readonly number[], label = ''): Promise<Received[]> => {
    await new Promise((r) => setTimeout(r, SILENCE_MS));
    const obs = c.since(from);
    const seen = `${label}observed ${summarize(obs)}`;
    expect.soft(obs.filter(isServerFinished).length, `no server Finished; ${seen}`).toBe(0);
    expect.soft(serverCcs(obs).length, `no server ChangeCipherSpec; ${seen}`).toBe(0);
    for (const a of alertsOf(obs)) {
      expect.soft(a.level === FATAL && allowed.includes(a.description), `alert ${a.level}/${a.description} not allowed here; ${seen}`).toBe(true);
    }
    const rsp = await get(c, NO_GET_MS);
    expect.soft(rsp?.coap?.code, `GET over epoch 1 must not be answered; ${label}observed ${summarize(c.since(from))}`).toBeUndefined();
    return obs;
  };

  it('1. happy path: CH, HVR, CH+cookie, SH…SHD, [CKE, CCS, Finished] → server CCS+Finished, GET answered 2.05', async () => {
    const c = await ready();
    expect(c.ems, 'server echoes extended_master_secret').toBe(true);
    const from = c.mark();
    c.send(c.handshake(c.clientKeyExchange()), c.changeCipherSpec(), c.handshake(c.finished(), { epoch: 1 }));
    await expectCompleted(c, from);
    const ctx = c.received.find((r) => r.coap?.code === '2.05')?.coap?.payload.toString() ?? '';
    expect(ctx).toContain('ext-master-secret: true');
    expect(ctx).toContain('cipher-suite: TLS_PSK_WITH_AES_128_CCM_8');
  });

  it('1b. happy path with connection IDs (RFC 9146): tls12_cid records both ways, GET answered 2.05', async () => {
    const ownCid = Buffer.from('c1d2e3f4', 'hex');
    const c = await ready({ cid: ownCid });
    expect(c.writeCid?.length, 'server CID (DTLS.CONNECTION_ID_LENGTH=6)').toBe(6);
    const from = c.mark();
    c.send(c.handshake(c.clientKeyExchange()), c.changeCipherSpec(), c.handshake(c.finished(), { epoch: 1 }));
    await expectCompleted(c, from);
    const protectedIn = c.since(from).filter((r) => r.record.epoch > 0);
    expect(protectedIn.length).toBeGreaterThan(0);
    expect(protectedIn.every((r) => r.record.type === ContentType.TLS12_CID && r.record.cid?.equals(ownCid) && r.decrypted), summarize(protectedIn)).toBe(true);
  });

  it('2. Finished without ChangeCipherSpec ([CKE] then [Finished epoch 1]): not completed (silence or fatal unexpected_message)', async () => {
    const c = await ready();
    const from = c.mark();
    c.send(c.handshake(c.clientKeyExchange()));
    c.send(c.handshake(c.finished(), { epoch: 1 }));
    await expectNotCompleted(c, from, [AlertCode.UNEXPECTED_MESSAGE]);
  });

  it('3. ChangeCipherSpec before ClientKeyExchange ([CCS] then [CKE, Finished]): not completed (silence or fatal unexpected_message)', async () => {
    const c = await ready();
    const from = c.mark();
    const cke = c.clientKeyExchange();
    c.send(c.changeCipherSpec());
    c.send(c.handshake(cke), c.handshake(c.finished(), { epoch: 1 }));
    await expectNotCompleted(c, from, [AlertCode.UNEXPECTED_MESSAGE]);
  });

  it('4a. a forged epoch-1 record (random MAC, seq 0 like the Finished) right after CCS in its own datagram is discarded: the handshake completes', async () => {
    const c = await ready();
    const from = c.mark();
    c.send(c.handshake(c.clientKeyExchange()), c.changeCipherSpec());
    c.send(c.forged(ContentType.HANDSHAKE, 24, { epoch: 1, seq: 0 }));
    c.send(c.handshake(c.finished(), { epoch: 1, seq: 0 }));
    await expectCompleted(c, from);
  });

  it('4b. a forged epoch-1 record planted before the ClientKeyExchange is discarded: the handshake completes', async () => {
    const c = await ready();
    const from = c.mark();
    c.send(c.forged(ContentType.HANDSHAKE, 24, { epoch: 1, seq: 0 }));
    c.send(c.handshake(c.clientKeyExchange()), c.changeCipherSpec(), c.handshake(c.finished(), { epoch: 1, seq: 0 }));
    await expectCompleted(c, from);
  });

  it('5. PSK identity oracle: unknown identity and known identity with a wrong secret both get silence (no alert), no completion', async () => {
    const unknown = await ready({ identity: 'nobody' });
    const wrong = await ready({ secret: 'wrongPSK' });
    const fromU = unknown.mark();
    const fromW = wrong.mark();
    for (const c of [unknown, wrong]) c.send(c.handshake(c.clientKeyExchange()), c.changeCipherSpec(), c.handshake(c.finished(), { epoch: 1 }));
    const [obsU, obsW] = await Promise.all([
      expectNotCompleted(unknown, fromU, [], 'unknown identity: '),
      expectNotCompleted(wrong, fromW, [], 'wrong secret: '),
    ]);
    expect(`unknown identity: ${summarize(obsU)} | wrong secret: ${summarize(obsW)}`).toBe('unknown identity: silence | wrong secret: silence');
  });

  it('6. application data overtaking the Finished ([CKE, CCS], [GET e1 seq 1], [Finished e1 seq 0]) is buffered: completes and the GET is answered within 1 s', async () => {
    const c = await ready();
    const from = c.mark();
    c.send(c.handshake(c.clientKeyExchange()), c.changeCipherSpec());
    const token = Buffer.from('0a0b0c0d0e0f1011', 'hex');
    c.send(c.appData(encodeGet(['mycontext'], 0x1234, token), { epoch: 1, seq: 1 }));
    c.send(c.handshake(c.finished(), { epoch: 1, seq: 0 }));
    const [fin, rsp] = await Promise.all([c.waitServerFinished(EARLY_GET_MS, from), c.waitCoap(token, EARLY_GET_MS, from)]);
    const seen = summarize(c.since(from));
    expect.soft(fin?.finishedOk, `server Finished; observed ${seen}`).toBe(true);
    expect.soft(rsp?.coap?.code, `the early GET answered without retransmission; observed ${seen}`).toBe('2.05');
  });

  it('7. Finished in epoch 0 (plaintext, after CKE and CCS): fatal unexpected_message', async () => {
    const c = await ready();
    const from = c.mark();
    c.send(c.handshake(c.clientKeyExchange()), c.changeCipherSpec(), c.handshake(c.finished(), { epoch: 0 }));
    const alert = await c.waitFor((r) => r.alert !== undefined, SILENCE_MS, from);
    expect.soft(alert?.alert, `fatal unexpected_message; observed ${summarize(c.since(from))}`).toEqual({ level: FATAL, description: AlertCode.UNEXPECTED_MESSAGE });
    await expectNotCompleted(c, from, [AlertCode.UNEXPECTED_MESSAGE]);
  });

  it('8. ClientKeyExchange repeated with the same message_seq (a retransmission), then CCS, Finished: completes', async () => {
    const c = await ready();
    const from = c.mark();
    const cke = c.clientKeyExchange();
    c.send(c.handshake(cke));
    c.send(c.handshake(cke));
    c.send(c.changeCipherSpec(), c.handshake(c.finished(), { epoch: 1 }));
    await expectCompleted(c, from);
  });

  it('9. ClientKeyExchange fragments that disagree on the total message length: fatal decode_error', async () => {
    const c = await ready();
    const from = c.mark();
    const cke = c.clientKeyExchange();
    const n = cke.body.length;
    const [a, b] = fragmentMessage(cke, [
      { offset: 0, length: 8 },
      { offset: 8, length: n - 8, totalLength: n + 1 },
    ]);
    c.send(c.handshake(a!), c.handshake(b!), c.changeCipherSpec(), c.handshake(c.finished(), { epoch: 1 }));
    const alert = await c.waitFor((r) => r.alert !== undefined, SILENCE_MS, from);
    expect.soft(alert?.alert, `fatal decode_error; observed ${summarize(c.since(from))}`).toEqual({ level: FATAL, description: AlertCode.DECODE_ERROR });
    await expectNotCompleted(c, from, [AlertCode.DECODE_ERROR]);
  });

  it('10a. second flight without ClientKeyExchange ([CCS, Finished]): not completed', async () => {
    const c = await ready();
    const from = c.mark();
    c.clientKeyExchange(); // keys for the Finished; the message itself is never sent
    c.send(c.changeCipherSpec(), c.handshake(c.finished(), { epoch: 1 }));
    await expectNotCompleted(c, from, [AlertCode.UNEXPECTED_MESSAGE]);
  });

  it('10b. second flight without Finished ([CKE, CCS]): not completed, no alert', async () => {
    const c = await ready();
    const from = c.mark();
    c.send(c.handshake(c.clientKeyExchange()), c.changeCipherSpec());
    await expectNotCompleted(c, from, []);
  });

  it('10c. whole second flight sent twice: completes once (every server Finished the same and correct, no alert)', async () => {
    const c = await ready();
    const from = c.mark();
    const flight = [c.handshake(c.clientKeyExchange()), c.changeCipherSpec(), c.handshake(c.finished(), { epoch: 1 })];
    c.send(...flight);
    c.send(...flight);
    await expectCompleted(c, from);
    const obs = c.since(from);
    const fins = obs.filter(isServerFinished);
    expect(fins.length, summarize(obs)).toBeGreaterThanOrEqual(1);
    expect(fins.length, `at most one retransmitted final flight; observed ${summarize(obs)}`).toBeLessThanOrEqual(2);
    expect(fins.every((r) => r.finishedOk)).toBe(true);
    expect(obs.some((r) => hasMessage(r, HandshakeType.SERVER_HELLO)), `no new ServerHello; observed ${summarize(obs)}`).toBe(false);
  });

  it('10d. second flight reordered ([Finished] first, then [CKE, CCS]): the early epoch-1 record is buffered, completes, GET answered', async () => {
    const c = await ready();
    const from = c.mark();
    const cke = c.handshake(c.clientKeyExchange());
    const ccs = c.changeCipherSpec();
    const fin = c.handshake(c.finished(), { epoch: 1 });
    c.send(fin);
    c.send(cke, ccs);
    await expectCompleted(c, from);
  });

  it('11. application data in epoch 0 before any handshake: dropped silently', async () => {
    const c = await open();
    const token = Buffer.from('1112131415161718', 'hex');
    c.send(c.record(ContentType.APPLICATION_DATA, encodeGet(['mycontext'], 0x4321, token), { epoch: 0 }));
    const obs = await c.collect(SILENCE_MS);
    expect(summarize(obs)).toBe('silence');
  });

  it('14a. ClientKeyExchange sent in epoch 1 (protected, before any CCS), then CCS and Finished: not completed', async () => {
    const c = await ready();
    const cke = c.clientKeyExchange(); // derives the keys, so the record can be sealed for epoch 1
    const from = c.mark();
    c.send(c.handshake(cke, { epoch: 1 }), c.changeCipherSpec(), c.handshake(c.finished(), { epoch: 1 }));
    await expectNotCompleted(c, from, [AlertCode.UNEXPECTED_MESSAGE]);
  });

  it('14b. ChangeCipherSpec sent in epoch 1 (protected) after the ClientKeyExchange: no epoch switch, not completed', async () => {
    const c = await ready();
    const from = c.mark();
    c.send(c.handshake(c.clientKeyExchange()), c.record(ContentType.CHANGE_CIPHER_SPEC, Buffer.from([1]), { epoch: 1 }), c.handshake(c.finished(), { epoch: 1 }));
    await expectNotCompleted(c, from, [AlertCode.UNEXPECTED_MESSAGE]);
  });

  it('14c. application data in epoch 0 after the handshake completed: dropped silently, the session keeps working', async () => {
    const c = await ready();
    const from = c.mark();
    c.send(c.handshake(c.clientKeyExchange()), c.changeCipherSpec(), c.handshake(c.finished(), { epoch: 1 }));
    await expectCompleted(c, from);
    const token = Buffer.from('2122232425262728', 'hex');
    const pending = c.collect(SILENCE_MS);
    c.send(c.record(ContentType.APPLICATION_DATA, encodeGet(['mycontext'], 0x1234, token), { epoch: 0 }));
    const obs = await pending;
    expect(summarize(obs)).toBe('silence');
    const rsp = await get(c, ANSWER_MS);
    expect(rsp?.coap?.code).toBe('2.05');
  });

  it('12. replayed record after completion: the same GET bytes are not answered again, a fresh GET is', async () => {
    const c = await ready();
    const from = c.mark();
    c.send(c.handshake(c.clientKeyExchange()), c.changeCipherSpec(), c.handshake(c.finished(), { epoch: 1 }));
    expect((await c.waitServerFinished(ANSWER_MS, from))?.finishedOk, summarize(c.since(from))).toBe(true);
    const g = c.coapGet();
    c.send(g.record);
    expect((await c.waitCoap(g.token, ANSWER_MS, from))?.coap?.code).toBe('2.05');
    c.send(g.record); // byte-identical: same epoch and sequence number (RFC 6347 §4.1.2.6)
    const obs = await c.collect(SILENCE_MS);
    // a replay reaching CoAP would be answered again (the deduplicator resends the cached 2.05)
    expect(obs.filter((r) => r.coap !== undefined).length, `replay not answered; observed ${summarize(obs)}`).toBe(0);
    expect((await get(c, ANSWER_MS))?.coap?.code, 'fresh GET').toBe('2.05');
  });

  it('13. a cookie obtained on 127.0.0.1 is refused from another port and from 127.0.0.2: new HelloVerifyRequest, no ServerHello', async () => {
    const a = await open();
    const cookie = await a.cookieExchange();
    const others = [await open({ random: a.random })];
    try {
      others.push(await open({ random: a.random, bindAddress: '127.0.0.2' }));
    } catch {
      // 127.0.0.2 not usable on this host: the other-port client still covers the case
    }
    for (const o of others) {
      const from = o.mark();
      o.send(o.handshake(o.clientHello({ cookie, messageSeq: 1 }), { seq: 1 }));
      const first = await o.waitFor((r) => hasMessage(r, HandshakeType.HELLO_VERIFY_REQUEST) || hasMessage(r, HandshakeType.SERVER_HELLO), ANSWER_MS, from);
      await o.collect(200);
      const obs = o.since(from);
      const where = `${o.socket.address().address}:${o.port}`;
      expect(first && hasMessage(first, HandshakeType.HELLO_VERIFY_REQUEST), `${where}: HelloVerifyRequest; observed ${summarize(obs)}`).toBe(true);
      expect(obs.some((r) => hasMessage(r, HandshakeType.SERVER_HELLO)), `${where}: no ServerHello; observed ${summarize(obs)}`).toBe(false);
    }
    // control: the cookie is valid for its own address
    const from = a.mark();
    a.send(a.handshake(a.clientHello({ cookie })));
    expect(await a.waitFor((r) => hasMessage(r, HandshakeType.SERVER_HELLO), ANSWER_MS, from), summarize(a.since(from))).toBeDefined();
  });
});

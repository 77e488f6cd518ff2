// The bounds made explicit, as a user sees them on the real server process (127.0.0.1): /diagnose shows
// the endpoint's bound counters (`bounds:<uri>`), the DTLS connector's detail counters (`dtls-details:`),
// an observe refused by COAP.MAX_SERVER_OBSERVES is counted there and in the health log, and application
// records that overtake the Finished are kept up to DTLS.MAX_DEFERRED_INBOUND_RECORDS bytes per handshake.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Code, Opt, type CoapMessage } from '../../src/coap/message.js';
import { getOption } from '../../src/coap/options.js';
import { BOUND_COUNTER_NAMES } from '../../src/coap/stats.js';
import { RawDtlsClient, encodeGet } from '../helpers/raw-dtls/index.js';
import { parseDiagnose } from '../helpers/dtls-client.js';
import { startServer, type ServerProcess } from '../helpers/server-process.js';
import { createClient, type TestClient } from '../helpers/coap-client.js';

const HOST = '127.0.0.1';
/** bytes of deferred records per handshake: three early GET records (about 51 bytes each) fit, a fourth does not */
const DEFERRED_BYTES = 160;

let sp: ServerProcess;
let client: TestClient;

beforeAll(async () => {
  sp = await startServer({
    args: ['--no-external', '--diagnose'],
    properties: [
      'PLUGTEST.COAP.MAX_SERVER_OBSERVES=1',
      `DTLS.MAX_DEFERRED_INBOUND_RECORDS=${DEFERRED_BYTES}`,
      'SYS.HEALTH_STATUS_INTERVAL=1000[ms]',
      'PLUGTEST.SYS.HEALTH_STATUS_INTERVAL=1000[ms]',
    ],
  });
  client = await createClient(HOST, sp.ports.ext);
});

afterAll(async () => {
  await client?.close();
  await sp?.stop();
});

const str = (m: CoapMessage): string => m.payload.toString('utf8');

/** The groups of /diagnose (or of one endpoint's child), asked over the extended coap endpoint. */
async function diagnose(child?: string): Promise<Map<string, Map<string, [number, number]>>> {
  const res = await client.send({ method: Code.GET, path: child === undefined ? ['diagnose'] : ['diagnose', child] });
  expect(res.code).toBe(Code.CONTENT);
  return parseDiagnose(str(res));
}

/** cur + all of a counter (a health dump may have moved it into `all` meanwhile). */
function sum(groups: Map<string, Map<string, [number, number]>>, tag: string, key: string): number {
  const v = groups.get(tag)?.get(key);
  expect(v, `${key} in ${tag}; groups: ${[...groups.keys()].join(', ')}`).toBeDefined();
  return v![0] + v![1];
}

describe('bounds in /diagnose and the health log', () => {
  it('every endpoint shows its bound counters after the CoAP message group', async () => {
    const groups = await diagnose();
    const uri = `coap://${HOST}:${sp.ports.ext}`;
    const tags = [...groups.keys()];
    expect(tags.indexOf(`bounds:${uri}`)).toBeGreaterThan(tags.indexOf(uri));
    expect([...groups.get(`bounds:${uri}`)!.keys()]).toEqual([...BOUND_COUNTER_NAMES]);
  });

  it('an observe beyond COAP.MAX_SERVER_OBSERVES is answered without Observe and counted', async () => {
    const plug = await createClient(HOST, sp.ports.plug);
    try {
      const first = await plug.observe({ method: Code.GET, path: 'obs' }, () => {});
      expect(getOption(first.first, Opt.OBSERVE)).toBeDefined();
      const second = await plug.observe({ method: Code.GET, path: 'obs' }, () => {});
      expect(second.first.code).toBe(Code.CONTENT);
      expect(getOption(second.first, Opt.OBSERVE)).toBeUndefined();
      const groups = await diagnose(`UDP:${HOST}:${sp.ports.plug}`);
      expect(sum(groups, `bounds:coap://${HOST}:${sp.ports.plug}`, 'observe-refused relations')).toBe(1);
      // the health dump (every second here) logs the counters that counted
      const deadline = Date.now() + 5000;
      while (!sp.output().includes('observe-refused relations 1') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      expect(sp.output()).toContain('observe-refused relations 1');
    } finally {
      await plug.close();
    }
  });

  it('early application records are kept up to DTLS.MAX_DEFERRED_INBOUND_RECORDS bytes; the rest is dropped and counted', async () => {
    const child = `DTLS:${HOST}:${sp.ports.extSecure}`;
    const dtlsTag = (g: Map<string, unknown>) => [...g.keys()].find((t) => t.startsWith('dtls:'))!;
    const before = await diagnose(child);
    const droppedBefore = sum(before, dtlsTag(before), 'dropped received records');
    expect([...before.keys()]).toContain(`dtls-details:${HOST}:${sp.ports.extSecure}`);
    expect(before.get(`dtls-details:${HOST}:${sp.ports.extSecure}`)!.has('hello verify requests')).toBe(true);

    const c = await RawDtlsClient.open({ host: HOST, port: sp.ports.extSecure });
    try {
      await c.helloFlights(2000);
      const from = c.mark();
      c.send(c.handshake(c.clientKeyExchange()), c.changeCipherSpec());
      const tokens: Buffer[] = [];
      for (let i = 0; i < 6; i++) {
        const token = Buffer.from([0xb0, i, 1, 2, 3, 4, 5, 6]);
        tokens.push(token);
        // epoch 1, seq 1..6: they overtake the Finished (seq 0)
        c.send(c.appData(encodeGet(['mycontext'], 0x2000 + i, token), { epoch: 1, seq: i + 1 }));
      }
      c.send(c.handshake(c.finished(), { epoch: 1, seq: 0 }));
      const fin = await c.waitServerFinished(2000, from);
      expect(fin?.finishedOk).toBe(true);
      const answers = await Promise.all(tokens.map((t) => c.waitCoap(t, 1500, from)));
      expect(answers.map((a) => a?.coap?.code ?? 'none')).toEqual(['2.05', '2.05', '2.05', 'none', 'none', 'none']);
    } finally {
      c.close();
    }
    const after = await diagnose(child);
    expect(sum(after, dtlsTag(after), 'dropped received records') - droppedBefore).toBe(3);
  });
});

// Our DTLS client against a misbehaving server (the server side's state machine in
// test/system/dtls-state-machine.test.ts): the server's Finished is accepted only after its
// ChangeCipherSpec, a forged epoch-1 record before it is discarded, an early CCS is discarded.
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import type { DtlsConnector } from '../../src/dtls/connector.js';
import { encodeRecord, parseDatagram, type DtlsRecord } from '../../src/dtls/record.js';
import { client, echoServer, FAST, roundTrip } from '../helpers/dtls-pair.js';

const started: DtlsConnector[] = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((c) => c.stop()));
});

const PSK = { pskIdentity: 'Client_identity', pskSecret: Buffer.from('secretPSK') };
const CCS = 20;
const HANDSHAKE = 22;

/** The client issues 6-byte CIDs (default): records to it carry them. */
const CID = 6;
const bytes = (r: DtlsRecord): Buffer => encodeRecord(r.type, r.version, r.epoch, r.seq, r.fragment, r.cid);

/**
 * A server whose datagrams to the client pass through `rewrite` (in-process: the rewritten datagram is
 * handed to the client connector as if it came from the server's port).
 */
async function rewritingPair(rewrite: (records: DtlsRecord[]) => Buffer[] | undefined) {
  let target: DtlsConnector | undefined;
  const s = await echoServer({
    outboundFilter: (d) => {
      const out = target === undefined ? undefined : rewrite(parseDatagram(d, CID));
      if (out === undefined) return true;
      const c = target!;
      const from = s.server.localPort;
      setImmediate(() => c.receiveDatagram(Buffer.concat(out), '127.0.0.1', from));
      return false;
    },
  });
  const c = await client({ ...PSK, config: FAST });
  target = c.client;
  started.push(s.server, c.client);
  return { s, c };
}

describe('our client follows the handshake state machine', () => {
  it("a server Finished without the server's CCS is not accepted: the handshake does not complete", async () => {
    let stripped = 0;
    const { s, c } = await rewritingPair((recs) => {
      if (!recs.some((r) => r.type === CCS)) return undefined;
      stripped++;
      const rest = recs.filter((r) => r.type !== CCS);
      expect(rest.map((r) => r.epoch)).toEqual([1]); // the server's Finished is still delivered
      return rest.map(bytes);
    });
    await expect(c.client.connect('127.0.0.1', s.server.localPort)).rejects.toThrow(/handshake timeout/);
    expect(c.client.stats['handshakes succeeded']).toBe(0);
    expect(stripped).toBeGreaterThan(0);
  });

  it('a forged epoch-1 record between the CCS and the Finished is discarded: the handshake completes', async () => {
    const { s, c } = await rewritingPair((recs) => {
      const i = recs.findIndex((r) => r.type === CCS);
      if (i < 0) return undefined;
      const fin = recs[i + 1]!;
      expect(fin.epoch).toBe(1);
      const forged = encodeRecord(fin.type, fin.version, 1, fin.seq, randomBytes(fin.fragment.length), fin.cid);
      return [...recs.slice(0, i + 1).map(bytes), forged, ...recs.slice(i + 1).map(bytes)];
    });
    await c.client.connect('127.0.0.1', s.server.localPort);
    expect(c.client.stats['dropped received mac-errors']).toBe(1);
    const { atClient } = await roundTrip(c, s, 'after forged');
    expect(atClient.data.toString()).toBe('echo:after forged');
  });

  it('a CCS before the ServerHello is discarded: the handshake completes', async () => {
    let done = false;
    const { s, c } = await rewritingPair((recs) => {
      if (done || recs[0]?.type !== HANDSHAKE || recs[0].fragment[0] !== 2) return undefined; // ServerHello flight
      done = true;
      return [encodeRecord(CCS, recs[0].version, 0, 99, Buffer.from([1])), ...recs.map(bytes)];
    });
    await c.client.connect('127.0.0.1', s.server.localPort);
    expect(done).toBe(true);
    await roundTrip(c, s, 'fine');
  });
});

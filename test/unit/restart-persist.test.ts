// Saving and loading the connections of real DTLS connectors on loopback (restart.md §1, §5): a client
// continues with a restored server connector without a new handshake; labels, max age, all-or-nothing.
import type { Logger } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { DtlsConnector } from '../../src/dtls/connector.js';
import { ByteWriter } from '../../src/restart/bytes.js';
import { connectorLabel, loadConnectors, saveConnectors } from '../../src/restart/persist.js';
import { sealEnvelope } from '../../src/restart/envelope.js';
import { writeStream } from '../../src/restart/stream.js';
import { client, echoServer, Inbox, roundTrip } from '../helpers/dtls-pair.js';

const PSK = { pskIdentity: 'Client_identity', pskSecret: Buffer.from('secretPSK') };
const PW = Buffer.from('pw');
const started: DtlsConnector[] = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((c) => c.stop()));
});

function capture(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const log = (m: unknown) => lines.push(String(m));
  return { logger: { info: log, warn: log, error: log, debug: () => {} } as unknown as Logger, lines };
}

/** A server connector bound to `port` (not started), echoing like echoServer. */
function serverOn(port: number): { server: DtlsConnector; inbox: Inbox } {
  const server = new DtlsConnector({ address: '127.0.0.1', port, role: 'server', config: { cidLength: 6 } });
  const inbox = new Inbox();
  server.onDatagram = (data, ctx) => {
    inbox.push(data, ctx);
    server.send(Buffer.concat([Buffer.from('echo:'), data]), ctx);
  };
  return { server, inbox };
}

/** A server with one established CID connection from a started client. */
async function established() {
  const s = await echoServer({ config: { cidLength: 6 } });
  const c = await client({ ...PSK, config: { cidLength: 6 } });
  started.push(c.client, s.server);
  await c.client.connect('127.0.0.1', s.server.localPort);
  await roundTrip(c, s, 'before');
  return { s, c };
}

describe('persist DTLS connections', () => {
  it('save empties the store; a new connector on the same port continues the session without a handshake', async () => {
    const { s, c } = await established();
    const { logger, lines } = capture();
    const before = s.server.saveConnections()[0]!;
    const saved = saveConnectors([s.server], PW, 600_000, logger);
    expect(saved.connections).toBe(1);
    expect(s.server.store.size).toBe(0);
    expect(saved.data.readUInt16BE(0)).toBe(0x0201);
    expect(saved.data.includes(Buffer.from(before.session.masterSecret, 'hex'))).toBe(false);
    await s.server.stop();

    const b = serverOn(s.server.localPort);
    const out = loadConnectors([b.server], saved.data, PW, logger);
    expect(out).toEqual({ ok: true, items: 1 });
    expect(lines).toContainEqual(expect.stringMatching(/^load: \d+ ms, 1 items$/));
    await b.server.start();
    started.push(b.server);
    // the record protection of a restored connection is built on its first record
    const restored = b.server.getConnection('127.0.0.1', c.client.localPort)!;
    const deferred = restored.protection;
    const { atServer, atClient } = await roundTrip(c, b, 'after');
    expect(restored.protection).not.toBe(deferred);
    expect(restored.protection!.keys).toBe(deferred!.keys);
    expect(atClient.data.toString()).toBe('echo:after');
    expect(atServer.ctx.dtls!.sessionId).toEqual(Buffer.from(before.session.id, 'hex'));
    expect(atServer.ctx.dtls!.readCid!.toString('hex')).toBe(before.readCid);
    expect(c.client.stats['handshakes succeeded']).toBe(1);
    expect(b.server.stats['handshakes succeeded']).toBe(0);
  });

  it('measured size of a real PSK CCM_8 connection with 6-byte CIDs', async () => {
    const { s } = await established();
    const { logger } = capture();
    const empty = writeStream([{ label: connectorLabel(s.server), connections: [] }]).length + 1;
    const one = saveConnectors([s.server], undefined, 600_000, logger).data.length;
    console.log(`restart: real PSK CCM_8 CID connection: ${one - empty} bytes in the stream`);
    // identity 'Client_identity' (15 bytes), IPv4 peer, 32-byte session id, 6-byte CIDs both ways
    expect(one - empty).toBeLessThanOrEqual(200);
  });

  it('max age: connections idle longer are not saved', async () => {
    const { s } = await established();
    const { logger } = capture();
    expect(saveConnectors([s.server], undefined, 600_000, logger, Date.now() + 700_000).connections).toBe(0);
  });

  it('unknown labels are skipped and counted; the other components load', async () => {
    const { s } = await established();
    const { logger, lines } = capture();
    const other = new DtlsConnector({ address: '127.0.0.1', port: 1, role: 'server', config: { cidLength: 6 } });
    const saved = saveConnectors([s.server, other], undefined, 600_000, logger);
    const target = new DtlsConnector({ address: '127.0.0.1', port: 1, role: 'server', config: { cidLength: 6 } });
    expect(loadConnectors([target], saved.data, undefined, logger)).toEqual({ ok: true, items: 0 });
    expect(lines).toContain('load: skipped 1 items of 1 unknown component(s)');
  });

  it('a parse error clears the failing connector and keeps the components before it', async () => {
    const { s } = await established();
    const { logger, lines } = capture();
    const json = s.server.saveConnections();
    const full = writeStream([{ label: 'dtls://127.0.0.1:2', connections: [...s.server.connections()] }]);
    const empty = writeStream([{ label: 'dtls://127.0.0.1:2', connections: [] }]);
    // the item sits between the label and the digest item (19 bytes), 0x00 and the terminator (3 bytes)
    const item = full.subarray(empty.length - 3 - 19, full.length - 3 - 19);
    // first component complete, the second one has a good item and then a truncated one
    const w = new ByteWriter().bytes(full.subarray(0, full.length - 2)).string('dtls://127.0.0.1:3', 2).bytes(item);
    w.bytes(Buffer.from([1, 0, 5, 1, 2]));
    const a = new DtlsConnector({ address: '127.0.0.1', port: 2, role: 'server', config: { cidLength: 6 } });
    const b = new DtlsConnector({ address: '127.0.0.1', port: 3, role: 'server', config: { cidLength: 6 } });
    b.loadConnections(json);
    expect(b.store.size).toBe(1);
    const out = loadConnectors([a, b], sealEnvelope(w.toBuffer(), undefined), undefined, logger);
    expect(out).toEqual({ ok: false, items: 1 });
    expect(a.store.size).toBe(1);
    expect(b.store.size).toBe(0);
    expect(lines).toContainEqual(expect.stringMatching(/^load failed in component dtls:\/\/127\.0\.0\.1:3, item 2: truncated: .* \(the connections of dtls:\/\/127\.0\.0\.1:3 cleared\)$/));
  });

  it('wrong or missing password: nothing loaded, a clear log line', async () => {
    const { s } = await established();
    const { logger, lines } = capture();
    const saved = saveConnectors([s.server], PW, 600_000, logger);
    const target = serverOn(s.server.localPort).server;
    expect(loadConnectors([target], saved.data, undefined, logger)).toEqual({ ok: false, items: 0 });
    expect(lines).toContain('load failed: missing password!');
    const wrong = loadConnectors([target], saved.data, Buffer.from('pw2'), logger);
    expect(wrong.items).toBe(0);
    expect(target.store.size).toBe(0);
  });
});

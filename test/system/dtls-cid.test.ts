// RFC 9146 Connection ID both ways against the real server process, with our own client connector:
// CID 6/6, client CID 0 (empty write-cid), a client without CID, a NAT rebinding (new source port, same
// session, no new handshake: /mycontext shows prev-port, /diagnose's `handshakes succeeded` unchanged),
// the `extplugtest-client` executable, and `DTLS.CONNECTION_ID_LENGTH=` (empty) → no CID.
import { execFile } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DtlsPeer, parseContext, serverHandshakes, udpSocket } from '../helpers/dtls-client.js';
import { hasIpv6Loopback, REPO, startServer, type ServerProcess } from '../helpers/server-process.js';
import path from 'node:path';

const CLIENT_MAIN = path.join(REPO, 'dist/src/cli/client-main.js');
const HEX12 = /^[0-9A-F]{12}$/;
/** /mycontext field order (resources.md §2.7) for a PSK session with CID, no node-id, no via. */
const CID_FIELDS = ['ip', 'port', 'peer', 'cipher-suite', 'session-id', 'read-cid', 'write-cid', 'secure-renegotiation', 'ext-master-secret', 'newest-record', 'message-size-limit', 'server'];

const hex = (b: Buffer | undefined): string | undefined => b?.toString('hex').toUpperCase();

function run(args: string[], timeoutMs = 20_000): Promise<{ stdout: string; stderr: string; code: number }> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [CLIENT_MAIN, ...args], { timeout: timeoutMs }, (err, stdout, stderr) => {
      const e = err as (Error & { code?: number | string; killed?: boolean }) | null;
      if (e?.killed) return reject(new Error(`extplugtest-client timed out:\n${stdout}\n${stderr}`));
      if (e && typeof e.code === 'string') return reject(e);
      resolve({ stdout, stderr, code: e ? (e.code as number) : 0 });
    });
  });
}

describe('DTLS CID with the real server (extended coaps endpoint)', () => {
  let sp: ServerProcess;
  const peers: DtlsPeer[] = [];
  const open = async (host: string, o: Parameters<typeof DtlsPeer.open>[2]) => {
    const p = await DtlsPeer.open(host, sp.ports.extSecure, o);
    peers.push(p);
    return p;
  };

  beforeAll(async () => {
    sp = await startServer({ args: ['--no-external', '--diagnose'] });
  });
  afterAll(async () => {
    for (const p of peers) await p.close().catch(() => {});
    await sp?.stop();
  });

  it('--cid-length 6: both sides use 6-byte CIDs; /mycontext read-cid/write-cid mirror what the client negotiated', async () => {
    const peer = await open('127.0.0.1', { cidLength: 6 });
    const info = await peer.connect();
    expect(info.cipherSuite).toBe('TLS_PSK_WITH_AES_128_CCM_8');
    expect(hex(info.readCid)).toMatch(HEX12);
    expect(hex(info.writeCid)).toMatch(HEX12);
    const { fields, text, rx } = await peer.context();
    expect([...fields.keys()], text).toEqual(CID_FIELDS);
    // the server reads what the client writes, and writes what the client reads
    expect(fields.get('read-cid')).toBe(hex(info.writeCid));
    expect(fields.get('write-cid')).toBe(hex(info.readCid));
    expect(fields.get('ip')).toBe('127.0.0.1');
    expect(fields.get('port')).toBe(String(peer.localPort));
    expect(fields.get('peer')).toBe('Client_identity');
    expect(fields.get('cipher-suite')).toBe('TLS_PSK_WITH_AES_128_CCM_8');
    expect(fields.get('session-id')).toBe(hex(info.sessionId));
    expect(fields.get('session-id')).toMatch(/^[0-9A-F]{64}$/);
    expect(fields.get('ext-master-secret')).toBe('true');
    expect(fields.get('secure-renegotiation')).toBe('true');
    expect(fields.get('newest-record')).toBe('true');
    // dtls.md §9: MTU 1500 (loopback capped) − 64 − 13 − 6 (write CID) − 16 (CCM_8) − 1 (inner type)
    expect(fields.get('message-size-limit')).toBe(String(1500 - 64 - 13 - 6 - 16 - 1));
    // the answer itself came in a CID record with the CID the client chose
    expect(hex(rx.ctx.dtls?.readCid)).toBe(hex(info.readCid));
    expect(hex(rx.ctx.dtls?.writeCid)).toBe(hex(info.writeCid));
  });

  it.skipIf(!hasIpv6Loopback())('--cid-length 6 over [::1]: IPv6 message-size-limit and CIDs', async () => {
    const peer = await open('::1', { cidLength: 6 });
    const info = await peer.connect();
    const { fields, text } = await peer.context();
    expect([...fields.keys()], text).toEqual(CID_FIELDS);
    expect(fields.get('ip')).toBe('::1');
    expect(fields.get('read-cid')).toBe(hex(info.writeCid));
    expect(fields.get('write-cid')).toBe(hex(info.readCid));
    expect(fields.get('message-size-limit')).toBe(String(1500 - 128 - 13 - 6 - 16 - 1));
  });

  it('client CID length 0: the server writes an empty CID (write-cid empty), reads its own 6-byte CID', async () => {
    const peer = await open('127.0.0.1', { cidLength: 0 });
    const info = await peer.connect();
    expect(info.readCid?.length).toBe(0);
    expect(hex(info.writeCid)).toMatch(HEX12);
    const { fields, text } = await peer.context();
    expect([...fields.keys()], text).toEqual(CID_FIELDS);
    expect(text).toContain('\nwrite-cid: \n');
    expect(fields.get('write-cid')).toBe('');
    expect(fields.get('read-cid')).toBe(hex(info.writeCid));
    // empty write CID: no CID bytes and no inner content type (1500 − 64 − 13 − 16)
    expect(fields.get('message-size-limit')).toBe('1407');
  });

  it('a client offering no CID: no read-cid / write-cid lines, no CID in either direction', async () => {
    const peer = await open('127.0.0.1', {});
    const info = await peer.connect();
    expect(info.readCid).toBeUndefined();
    expect(info.writeCid).toBeUndefined();
    const { fields, text } = await peer.context();
    expect([...fields.keys()], text).toEqual(CID_FIELDS.filter((f) => f !== 'read-cid' && f !== 'write-cid'));
    expect(fields.get('message-size-limit')).toBe('1407');
  });

  it('NAT rebinding with CID: answered at the new port without a new handshake (prev-port, same session-id)', async () => {
    const peer = await open('127.0.0.1', { cidLength: 6 });
    const info = await peer.connect();
    const first = await peer.context();
    const oldPort = peer.localPort;
    expect(first.fields.get('port')).toBe(String(oldPort));
    expect(first.fields.has('prev-port')).toBe(false);
    const before = await serverHandshakes(peer);

    await peer.rebind();
    const newPort = peer.localPort;
    expect(newPort).not.toBe(oldPort);
    const second = await peer.context(4000, 1);
    expect(second.fields.get('port')).toBe(String(newPort));
    expect(second.fields.get('prev-ip')).toBe('127.0.0.1');
    expect(second.fields.get('prev-port')).toBe(String(oldPort));
    expect(second.fields.get('session-id')).toBe(first.fields.get('session-id'));
    expect(second.fields.get('read-cid')).toBe(first.fields.get('read-cid'));
    expect(second.fields.get('write-cid')).toBe(first.fields.get('write-cid'));
    expect(second.fields.get('newest-record')).toBe('true');
    // prev-ip / prev-port come right before `server` (resources.md §2.7)
    expect([...second.fields.keys()].slice(-3)).toEqual(['prev-ip', 'prev-port', 'server']);
    // no new handshake on either side
    expect(peer.handshakes).toBe(1);
    const after = await serverHandshakes(peer);
    expect(after).toEqual(before);
    // the next request from the same (new) port does not report an address change again
    const third = await peer.context();
    expect(third.fields.get('port')).toBe(String(newPort));
    expect(third.fields.has('prev-port')).toBe(false);
    expect(hex(info.readCid)).toBe(third.fields.get('write-cid'));

    // control: a new client's full handshake is counted, so the comparison above could fail
    const other = await open('127.0.0.1', { cidLength: 6 });
    await other.connect();
    const counted = await serverHandshakes(peer);
    expect(counted.cur + counted.all).toBe(before.cur + before.all + 1);
  });

  it('NAT rebinding without CID: the server cannot map the new port to the session (request unanswered)', async () => {
    const peer = await open('127.0.0.1', {});
    await peer.connect();
    await peer.context();
    await peer.rebind();
    await expect(peer.get('mycontext', 1500)).rejects.toThrow(/timeout/);
    expect(peer.handshakes).toBe(1);
  });

  it('a reordered (older) record from another port is delivered but does not move the address (dtls.md §6)', async () => {
    let hold = false;
    let held: Buffer | undefined;
    const peer = await open('127.0.0.1', {
      cidLength: 6,
      outboundFilter: (d) => {
        if (hold && d[0] === 25) {
          held = Buffer.from(d);
          hold = false;
          return false;
        }
        return true;
      },
    });
    await peer.connect();
    const start = await peer.context();
    // request A is sealed (sequence n) but held back; request B (n + 1) goes out normally
    hold = true;
    const a = peer.build({ code: 1, path: 'mycontext' });
    peer.send(a);
    expect(held, 'record A held').toBeDefined();
    const b = await peer.context();
    expect(b.fields.get('newest-record')).toBe('true');
    // A arrives late from another port (as after a NAT change, or a reordering middlebox)
    const raw = await udpSocket('127.0.0.1', true);
    try {
      raw.sock.send(held!, sp.ports.extSecure, '127.0.0.1');
      const { msg: answerA, ctx } = await peer.waitFor((m) => m.mid === a.mid, 3000, 0, 'answer to the late request A');
      const fa = parseContext(answerA.payload.toString('utf8'));
      // not newest (shown as `newest-record: false` or not at all), no address change
      expect(fa.get('newest-record') ?? 'false', answerA.payload.toString()).toBe('false');
      expect(fa.get('port')).toBe(String(raw.sock.address().port));
      expect(fa.has('prev-port')).toBe(false);
      expect(fa.get('session-id')).toBe(start.fields.get('session-id'));
      // the answer went to the connection's address, not to the late record's source
      expect(ctx.port).toBe(sp.ports.extSecure);
      await new Promise((r) => setTimeout(r, 200));
      expect(raw.count(), 'nothing sent to the late record\'s port').toBe(0);
    } finally {
      await raw.close();
    }
    const c = await peer.context();
    expect(c.fields.get('port')).toBe(String(peer.localPort));
    expect(c.fields.has('prev-port'), c.text).toBe(false);
    expect(c.fields.get('newest-record')).toBe('true');
  });

  it('extplugtest-client --cid-length 6 prints the session lines; /mycontext mirrors its CIDs', async () => {
    const r = await run(['-m', 'GET', '-i', 'Client_identity', '-s', 'secretPSK', '--cid-length', '6', `coaps://127.0.0.1:${sp.ports.extSecure}/mycontext`]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    // Californium's endpoint context lines between the request and the response block
    const m = />>> DTLS\(127\.0\.0\.1:\d+,ID:[0-9A-F]{10}\)\n>>> TLS_PSK_WITH_AES_128_CCM_8\n>>> PreSharedKey Identity \[identity: Client_identity\]\n>>> read-cid : ([0-9A-F]{12})\n>>> write-cid: ([0-9A-F]{12})\n/.exec(r.stdout);
    expect(m, r.stdout).not.toBeNull();
    expect(r.stdout).toMatch(/==\[ CoAP Response \]=+\n[^\n]*\n[^\n]*\nType   : ACK\nStatus : 2\.05 - CONTENT\n/);
    const lines = r.stdout.split('\n');
    const payloadStart = lines.findIndex((l) => l.startsWith('ip: '));
    const payloadEnd = lines.findIndex((l, i) => i > payloadStart && l.startsWith('====='));
    expect(payloadStart, r.stdout).toBeGreaterThan(3);
    const text = lines.slice(payloadStart, payloadEnd).join('\n').trimEnd();
    const fields = new Map(text.split('\n').map((l) => [l.slice(0, l.indexOf(': ')), l.slice(l.indexOf(': ') + 2)] as const));
    expect(fields.get('read-cid')).toBe(m![2]);
    expect(fields.get('write-cid')).toBe(m![1]);
    expect(fields.get('peer')).toBe('Client_identity');
    expect(fields.get('cipher-suite')).toBe('TLS_PSK_WITH_AES_128_CCM_8');
  });

});

describe('DTLS.CONNECTION_ID_LENGTH= (empty) in the properties file: no CID', () => {
  let sp: ServerProcess;
  const peers: DtlsPeer[] = [];

  beforeAll(async () => {
    sp = await startServer({ args: ['--no-external'], properties: ['DTLS.CONNECTION_ID_LENGTH='] });
  });
  afterAll(async () => {
    for (const p of peers) await p.close().catch(() => {});
    await sp?.stop();
  });

  for (const which of ['plugtest', 'extended'] as const) {
    it(`${which} server: a client asking for a 6-byte CID gets none; /mycontext has no CID lines`, async () => {
      const peer = await DtlsPeer.open('127.0.0.1', which === 'plugtest' ? sp.ports.plugSecure : sp.ports.extSecure, { cidLength: 6 });
      peers.push(peer);
      const info = await peer.connect();
      expect(info.readCid).toBeUndefined();
      expect(info.writeCid).toBeUndefined();
      const { fields, text } = await peer.context();
      expect(fields.has('read-cid'), text).toBe(false);
      expect(fields.has('write-cid'), text).toBe(false);
      expect(fields.get('peer')).toBe('Client_identity');
      expect(fields.get('message-size-limit')).toBe('1407');
    });
  }
});

describe('DTLS.CONNECTION_ID_LENGTH=0: the server supports CID but asks for an empty one', () => {
  let sp: ServerProcess;
  const peers: DtlsPeer[] = [];

  beforeAll(async () => {
    sp = await startServer({ args: ['--no-external'], properties: ['DTLS.CONNECTION_ID_LENGTH=0'] });
  });
  afterAll(async () => {
    for (const p of peers) await p.close().catch(() => {});
    await sp?.stop();
  });

  it('client CID 6: the client writes no CID (read-cid empty), the server writes the client\'s CID', async () => {
    const peer = await DtlsPeer.open('127.0.0.1', sp.ports.extSecure, { cidLength: 6 });
    peers.push(peer);
    const info = await peer.connect();
    expect(info.writeCid?.length).toBe(0);
    expect(hex(info.readCid)).toMatch(HEX12);
    const { fields, text, rx } = await peer.context();
    expect([...fields.keys()], text).toEqual(CID_FIELDS);
    expect(fields.get('read-cid')).toBe('');
    expect(fields.get('write-cid')).toBe(hex(info.readCid));
    expect(hex(rx.ctx.dtls?.readCid)).toBe(hex(info.readCid));
    // write CID of 6 bytes: 1500 − 64 − 13 − 6 − 16 − 1
    expect(fields.get('message-size-limit')).toBe('1400');
  });
});

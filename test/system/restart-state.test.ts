// Saving and loading the established DTLS connections with the real server process (restart.md §3):
// console save/load, the encrypted --store-file across a process restart, and a wrong store password.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DtlsPeer } from '../helpers/dtls-client.js';
import { startServer, waitOutput } from '../helpers/server-process.js';

/** Session id and CIDs as /mycontext shows them. */
async function sessionOf(peer: DtlsPeer): Promise<{ sessionId: string; readCid: string; writeCid: string }> {
  const { fields } = await peer.context(6000, 3);
  return { sessionId: fields.get('session-id')!, readCid: fields.get('read-cid')!, writeCid: fields.get('write-cid')! };
}

const cleanup: Array<() => Promise<unknown>> = [];
afterAll(async () => {
  for (const c of cleanup.reverse()) await c().catch(() => {});
});

describe('restart: console save / load', () => {
  it('the same client continues without a new handshake, with the same session-id and CIDs', async () => {
    const sp = await startServer({ args: ['--no-external'] });
    cleanup.push(() => sp.stop());
    const peer = await DtlsPeer.open('127.0.0.1', sp.ports.extSecure, { cidLength: 6 });
    cleanup.push(() => peer.close());
    await peer.connect();
    const before = await sessionOf(peer);
    expect(before.readCid).toMatch(/^[0-9A-F]{12}$/);

    sp.write('load');
    await waitOutput(sp, /no data to load!/);
    sp.write('save');
    await waitOutput(sp, /"msg":"Saved: \d+ Bytes"/);
    // the servers are stopped: no answer
    await expect(peer.get('mycontext', 800)).rejects.toThrow(/timeout/);
    sp.write('load');
    await waitOutput(sp, /"msg":"Loaded: \d+ Bytes"/);
    expect(sp.output()).toMatch(/load: \d+ ms, 1 items/);
    expect(await sessionOf(peer)).toEqual(before);
    expect(peer.handshakes).toBe(1);

    // with a password: the text after `save` including the blank
    sp.write('save secret');
    await waitOutput(sp, /"msg":"Saved: \d+ Bytes \(pw:  secret\)"/);
    sp.write('load secret');
    await waitOutput(sp, /"msg":"Loaded: \d+ Bytes \(pw:  secret\)"/);
    expect(await sessionOf(peer)).toEqual(before);
    expect(peer.handshakes).toBe(1);
    // the copy was discarded
    sp.write('load');
    await waitOutput(sp, /no data to load![\s\S]*no data to load!/);
  });
});

describe('restart: --store-file across a process restart', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'extplugtest-store-'));
  cleanup.push(async () => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'state.bin');
  const args = (pw: string) => ['--no-external', '--store-file', file, '--store-password64', Buffer.from(pw).toString('base64'), '--store-max-age', '1'];

  it('SIGTERM writes the encrypted file; a new process loads it (then deletes it) and the client continues; a wrong password loads nothing', async () => {
    const sp1 = await startServer({ args: args('store secret') });
    const peer = await DtlsPeer.open('127.0.0.1', sp1.ports.extSecure, { cidLength: 6 });
    cleanup.push(() => peer.close());
    await peer.connect();
    const before = await sessionOf(peer);
    const master = peer.connector.getConnection('127.0.0.1', sp1.ports.extSecure)!.session!.masterSecret;
    expect(sp1.output()).not.toMatch(/not supported/);

    expect(await sp1.stop()).toBe(0);
    const written = fs.readFileSync(file);
    expect(written.readUInt16BE(0)).toBe(0x0201);
    expect(written[2]).toBe(16);
    expect(written.includes(master)).toBe(false);

    const sp2 = await startServer({ args: args('store secret'), ports: sp1.ports });
    cleanup.push(() => sp2.stop());
    expect(sp2.output()).toMatch(/load: \d+ ms, 1 items/);
    expect(fs.existsSync(file)).toBe(false);
    expect(await sessionOf(peer)).toEqual(before);
    expect(peer.handshakes).toBe(1);

    // (c) the next process uses another password: nothing is loaded, the client has to handshake again
    expect(await sp2.stop()).toBe(0);
    expect(fs.existsSync(file)).toBe(true);
    const sp3 = await startServer({ args: args('other secret'), ports: sp1.ports });
    cleanup.push(() => sp3.stop());
    expect(sp3.output()).not.toMatch(/load: \d+ ms, 1 items/);
    // a wrong CBC key fails the padding check, or (~1/256) yields a stream that does not parse
    expect(sp3.output()).toMatch(/decryption failed \(wrong password\?\)|load failed in/);
    await expect(peer.get('mycontext', 1000)).rejects.toThrow(/timeout/);
    await peer.connect({ full: true });
    expect(peer.handshakes).toBe(2);
    const after = await sessionOf(peer);
    expect(after.sessionId).not.toBe(before.sessionId);
  });
});

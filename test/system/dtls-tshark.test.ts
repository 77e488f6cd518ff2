// Wire check with Wireshark's dissector: tshark captures a CID session of our client with the real server
// on loopback (6 s), then reads the capture back. Every epoch-1 record must be an RFC 9146 tls12_cid
// record (type 25; tshark 4.x names the outer type `dtls.record.special_type` and the decrypted inner type
// `dtls.record.content_type`) carrying the CID negotiated for its direction, also after the client moved
// to a new source port; with the PSK (`-o dtls.psk:<hex>`) tshark decrypts the records and dissects the
// CoAP GET /mycontext and its ACK 2.05 with the MIDs and tokens we sent.
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DtlsPeer } from '../helpers/dtls-client.js';
import { inCi, requirePeer } from '../helpers/peers.js';
import { startServer, type ServerProcess } from '../helpers/server-process.js';

const tshark = requirePeer('tshark');
/** Capturing on lo needs root (or dumpcap capabilities); outside CI a non-root run skips visibly. */
const captureSkip = tshark.skipReason ?? (process.getuid?.() !== 0 && !inCi() ? 'capturing on lo needs root' : undefined);
if (captureSkip && !tshark.skipReason) process.stderr.write(`SKIP: ${captureSkip}\n`);
const PSK_HEX = Buffer.from('secretPSK').toString('hex');

/** A running capture. */
interface Capture {
  file: string;
  stop(): Promise<void>;
}

/** Starts `tshark -i lo -f "udp port <port>" -a duration:6 -w file` and waits until it captures. */
async function startCapture(port: number, file: string): Promise<Capture> {
  const proc = spawn(tshark.path!, ['-i', 'lo', '-f', `udp port ${port}`, '-a', 'duration:6', '-w', file], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  proc.stderr.on('data', (d) => (err += d.toString()));
  const exited = new Promise<void>((resolve) => proc.on('exit', () => resolve()));
  const hard = setTimeout(() => proc.kill('SIGKILL'), 10_000);
  const deadline = Date.now() + 5000;
  while (!/Capturing on/.test(err)) {
    if (proc.exitCode !== null) throw new Error(`tshark capture failed to start: ${err}`);
    if (Date.now() > deadline) {
      proc.kill('SIGKILL');
      throw new Error(`tshark did not start capturing within 5 s: ${err}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  // dumpcap reports before its filter is attached on some systems, later under load: give it a second
  await new Promise((r) => setTimeout(r, 1000));
  return {
    file,
    async stop() {
      // tshark ends by itself after its duration: a SIGINT can cut off packets dumpcap has not handed over yet
      await exited;
      clearTimeout(hard);
      if (!fs.existsSync(file) || fs.statSync(file).size === 0) throw new Error(`tshark wrote no capture: ${err}`);
    },
  };
}

/** One DTLS record as tshark dissected it. */
interface Rec {
  /** outer type: special_type (25) for CID records, else content_type */
  outer: number;
  /** inner type (decrypted CID record) or the content type */
  inner: number | undefined;
  epoch: number;
  seq: number;
  cid: string | undefined;
}

/** One frame: ports, records, CoAP fields (if decrypted), and every field value found in the frame. */
interface Frame {
  src: number;
  dst: number;
  records: Rec[];
  coap?: { type: number; code: number; mid: number; token: string; path: string | undefined };
  values: Map<string, string[]>;
}

function collect(v: unknown, out: Map<string, string[]>): void {
  if (Array.isArray(v)) {
    for (const x of v) collect(x, out);
    return;
  }
  if (v && typeof v === 'object') {
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
      if (typeof x === 'string') {
        const list = out.get(k) ?? [];
        list.push(x);
        out.set(k, list);
      } else if (Array.isArray(x) && x.every((e) => typeof e === 'string')) {
        const list = out.get(k) ?? [];
        list.push(...(x as string[]));
        out.set(k, list);
      } else collect(x, out);
    }
  }
}

const asList = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);
const cidHex = (b: Buffer | undefined): string | undefined => b?.toString('hex').match(/../g)?.join(':');

/** Reads a capture back with tshark (JSON, duplicate keys merged into arrays). */
function dissect(file: string, port: number, psk?: string): Promise<Frame[]> {
  const args = ['-r', file, '-d', `udp.port==${port},dtls`, '-d', `dtls.port==${port},coap`, '-T', 'json', '--no-duplicate-keys'];
  if (psk) args.push('-o', `dtls.psk:${psk}`);
  return new Promise((resolve, reject) => {
    execFile(tshark.path!, args, { timeout: 20_000, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`tshark -r failed: ${err.message}\n${stderr}`));
      const packets = JSON.parse(stdout) as Array<{ _source: { layers: Record<string, unknown> } }>;
      resolve(
        packets.map((p) => {
          const l = p._source.layers as Record<string, Record<string, unknown>>;
          const values = new Map<string, string[]>();
          collect(l.dtls, values);
          const records = asList(l.dtls?.['dtls.record'] as Record<string, unknown> | Array<Record<string, unknown>> | undefined).map((r) => {
            const special = r['dtls.record.special_type'] as string | undefined;
            const content = r['dtls.record.content_type'] as string | undefined;
            return {
              outer: Number(special ?? content),
              inner: content === undefined ? undefined : Number(content),
              epoch: Number(r['dtls.record.epoch']),
              seq: Number(r['dtls.record.sequence_number']),
              cid: r['dtls.record.connection_id'] as string | undefined,
            };
          });
          const c = l.coap as Record<string, string> | undefined;
          return {
            src: Number(l.udp!['udp.srcport']),
            dst: Number(l.udp!['udp.dstport']),
            records,
            coap: c && { type: Number(c['coap.type']), code: Number(c['coap.code']), mid: Number(c['coap.mid']), token: c['coap.token'] ?? '', path: c['coap.opt.uri_path_recon'] },
            values,
          };
        }),
      );
    });
  });
}

describe.skipIf(captureSkip !== undefined)(`tshark dissects our DTLS 1.2 CID records${captureSkip ? ` (skipped: ${captureSkip})` : ''}`, () => {
  let sp: ServerProcess;
  let tmp: string;
  let file: string;
  let port: number;
  let info: { readCid?: Buffer; writeCid?: Buffer };
  const sent: Array<{ mid: number; token: string; srcPort: number }> = [];
  const ports: number[] = [];

  beforeAll(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dtls-tshark-'));
    file = path.join(tmp, 'cid.pcapng');
    sp = await startServer({ args: ['--no-external'] });
    port = sp.ports.extSecure;
    const capture = await startCapture(port, file);
    const peer = await DtlsPeer.open('127.0.0.1', port, { cidLength: 6 });
    try {
      info = await peer.connect();
      for (let i = 0; i < 2; i++) {
        if (i === 1) await peer.rebind();
        const req = peer.build({ code: 1, path: 'mycontext' });
        const res = await peer.call(req, 3000);
        expect(res.code).toBe((2 << 5) | 5);
        sent.push({ mid: req.mid, token: req.token.toString('hex').match(/../g)!.join(':'), srcPort: peer.localPort });
        ports.push(peer.localPort);
      }
    } finally {
      await peer.close();
      await capture.stop();
    }
  }, 30_000);
  afterAll(async () => {
    await sp?.stop();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('the handshake negotiates connection_id (extension 54) both ways; epoch-0 records carry no CID', async () => {
    const frames = await dissect(file, port);
    expect(frames.length).toBeGreaterThanOrEqual(8);
    const hello = (t: string) => frames.filter((f) => f.values.get('dtls.handshake.type')?.includes(t));
    const clientHellos = hello('1');
    const serverHellos = hello('2');
    expect(clientHellos.length).toBeGreaterThanOrEqual(2); // with and without cookie
    expect(serverHellos.length).toBe(1);
    for (const f of [...clientHellos, ...serverHellos]) expect(f.values.get('dtls.handshake.extension.type'), JSON.stringify([...f.values])).toContain('54');
    for (const f of frames) for (const r of f.records) if (r.epoch === 0) expect(r.cid).toBeUndefined();
  });

  it('every epoch-1 record is a tls12_cid record (25) with the CID of its direction, also from the new port', async () => {
    const frames = await dissect(file, port);
    const toServer = frames.filter((f) => f.dst === port).flatMap((f) => f.records.filter((r) => r.epoch === 1).map((r) => ({ ...r, src: f.src })));
    const toClient = frames.filter((f) => f.src === port).flatMap((f) => f.records.filter((r) => r.epoch === 1).map((r) => ({ ...r, dst: f.dst })));
    // Finished + 2 requests (+ close_notify) / Finished + 2 responses
    expect(toServer.length).toBeGreaterThanOrEqual(3);
    expect(toClient.length).toBeGreaterThanOrEqual(3);
    for (const r of toServer) {
      expect(r.outer).toBe(25);
      expect(r.cid).toBe(cidHex(info.writeCid));
    }
    for (const r of toClient) {
      expect(r.outer).toBe(25);
      expect(r.cid).toBe(cidHex(info.readCid));
    }
    expect(info.readCid).not.toEqual(info.writeCid);
    // after the rebind: records from the new source port with the same CID, and the answers go there
    expect(toServer.some((r) => r.src === ports[1])).toBe(true);
    expect(toClient.some((r) => r.dst === ports[1])).toBe(true);
    expect(ports[0]).not.toBe(ports[1]);
    // without the key the payload stays opaque: no inner type, no CoAP
    expect(frames.filter((f) => f.coap).length).toBe(0);
    expect(toServer.every((r) => r.inner === undefined || r.seq === 0)).toBe(true);
  });

  it('with -o dtls.psk tshark decrypts our records: the CoAP GETs and their ACK 2.05 with our MIDs and tokens', async () => {
    const frames = await dissect(file, port, PSK_HEX);
    const coap = frames.filter((f) => f.coap);
    const requests = coap.filter((f) => f.dst === port).map((f) => ({ ...f.coap!, src: f.src }));
    const answers = coap.filter((f) => f.src === port).map((f) => ({ ...f.coap!, dst: f.dst }));
    expect(requests.map((r) => ({ type: r.type, code: r.code, mid: r.mid, token: r.token, path: r.path, src: r.src }))).toEqual(
      sent.map((s) => ({ type: 0, code: 1, mid: s.mid, token: s.token, path: '/mycontext', src: s.srcPort })),
    );
    expect(answers.map((a) => ({ type: a.type, code: a.code, mid: a.mid, token: a.token, dst: a.dst }))).toEqual(
      sent.map((s) => ({ type: 2, code: 69, mid: s.mid, token: s.token, dst: s.srcPort })),
    );
    // the decrypted inner content type of the CoAP records is application_data (23) inside tls12_cid (25)
    for (const f of coap) {
      const r = f.records.find((x) => x.epoch === 1)!;
      expect(r.outer).toBe(25);
      expect(r.inner).toBe(23);
    }
  });

  it('control: with a wrong PSK tshark cannot decrypt (no CoAP dissected)', async () => {
    const frames = await dissect(file, port, Buffer.from('wrongPSK').toString('hex'));
    expect(frames.filter((f) => f.coap).length).toBe(0);
  });
});

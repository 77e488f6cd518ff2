// BERT (RFC 8323 §6) against the real server process: a raw RFC 8323 peer that announces Block-Wise-Transfer with a
// large Max-Message-Size downloads and uploads with Block2/Block1 SZX 7 on the extended server (COAP.TCP_NUMBER_OF_BULK_BLOCKS
// 4); malformed BERT blocks, the body limit, a peer without BERT in its CSM, the plugtest server (bulk blocks 1) and
// UDP keep refusing SZX 7; libcoap's coap-client over coap+tcp; the benchmark client with --bertblocks.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createSocket } from 'node:dgram';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Code, Opt, type CoapMessage, type CoapOption } from '../../src/coap/message.js';
import { decodeUint, encodeBlock, encodeUint } from '../../src/coap/options.js';
import { encode, decode } from '../../src/coap/codec.js';
import { SignalCode, buildCsm, parseSignal } from '../../src/coap/tcp-signaling.js';
import { requirePeer } from '../helpers/peers.js';
import { runCoapClient } from '../helpers/libcoap.js';
import { connectTcp, connectTls, type TcpPeer } from '../helpers/tcp-peer.js';
import { startServer, type ServerProcess } from '../helpers/server-process.js';
import { expectComplete, runClient as runBenchmark } from '../helpers/benchmark-run.js';

const notls = requirePeer('coap-client-notls');
const withOpenssl = requirePeer('coap-client-openssl');
const HOST = '127.0.0.1';
const BERT = 7;
let sp: ServerProcess;

beforeAll(async () => {
  sp = await startServer({ args: ['--no-external', '--benchmark', '--diagnose', '--notify-interval', '200'] });
}, 30_000);
afterAll(async () => {
  await sp?.stop();
});

let nextToken = 1;

/** A request with Uri-Path and Uri-Query from `uri` (`a/b?x=1&y`), further options and payload. */
function request(code: number, uri: string, options: CoapOption[] = [], payload: Buffer = Buffer.alloc(0)): CoapMessage {
  const [p, q] = uri.split('?');
  const opts: CoapOption[] = [
    ...p!.split('/').map((s) => ({ number: Opt.URI_PATH, value: Buffer.from(s) })),
    ...(q ? q.split('&').map((s) => ({ number: Opt.URI_QUERY, value: Buffer.from(s) })) : []),
    ...options,
  ].sort((a, b) => a.number - b.number);
  return { type: 0, code, mid: 0, token: Buffer.from([nextToken++ & 0xff]), options: opts, payload };
}

function block(num: number, more: boolean, szx: number): Buffer {
  return encodeBlock({ num, more, szx });
}

/** Block option of a message as `num/more/szx`. */
function blockOf(msg: CoapMessage, number: number): string | undefined {
  const o = msg.options.find((x) => x.number === number);
  if (o === undefined) return undefined;
  const v = decodeUint(o.value);
  return `${v >> 4}/${(v >> 3) & 1}/${v & 7}`;
}

function uintOf(msg: CoapMessage, number: number): number | undefined {
  const o = msg.options.find((x) => x.number === number);
  return o === undefined ? undefined : decodeUint(o.value);
}

/** Connects to a TCP port, reads the server's CSM and answers with `csm`; returns the peer and the server's CSM. */
async function open(port: number, csm: CoapMessage): Promise<{ peer: TcpPeer; serverCsm: ReturnType<typeof parseSignal> }> {
  const peer = await connectTcp(port, HOST);
  const first = await peer.next(3000);
  expect(first.code).toBe(SignalCode.CSM);
  peer.send(csm);
  return { peer, serverCsm: parseSignal(first) };
}

const BERT_CSM = buildCsm({ maxMessageSize: 65536, blockWiseTransfer: true });

/** The body the extended server answers to POST /benchmark?rlen=n (resources.md §2.2, §1.2). */
function benchmarkBody(rlen: number): Buffer {
  return Buffer.from('hello benchmark'.padEnd(rlen, '*'));
}

/** One request/response over UDP (loopback), with a time limit. */
function udpExchange(port: number, msg: CoapMessage): Promise<CoapMessage> {
  return new Promise((resolve, reject) => {
    const s = createSocket('udp4');
    const timer = setTimeout(() => {
      s.close();
      reject(new Error('no UDP response within 3000 ms'));
    }, 3000);
    s.on('message', (data) => {
      let res: CoapMessage;
      try {
        res = decode(data);
      } catch {
        return;
      }
      if (res.code === 0) return; // an empty ACK before a separate response
      clearTimeout(timer);
      s.close();
      resolve(res);
    });
    s.send(encode(msg), port, HOST);
  });
}

describe('BERT on the extended server (COAP.TCP_NUMBER_OF_BULK_BLOCKS 4)', () => {
  it('the CSM announces Block-Wise-Transfer with a Max-Message-Size for 4 blocks of 1024 bytes', async () => {
    const { peer, serverCsm } = await open(sp.ports.ext, BERT_CSM);
    peer.destroy();
    expect(serverCsm).toMatchObject({ kind: 'csm', blockWiseTransfer: true, maxMessageSize: 4 * 1024 + 256 });
  });

  it('Block2 download with SZX 7: 4096 bytes per message, NUM in 1024-byte units, the same bytes as over UDP', async () => {
    const { peer } = await open(sp.ports.ext, BERT_CSM);
    try {
      peer.send(request(Code.POST, 'benchmark?rlen=8000', [{ number: Opt.BLOCK2, value: block(0, false, BERT) }]));
      const r0 = await peer.next(3000);
      expect(r0.code).toBe(Code.CHANGED);
      expect(blockOf(r0, Opt.BLOCK2)).toBe('0/1/7');
      expect(uintOf(r0, Opt.SIZE2)).toBe(8000);
      expect(r0.payload.length).toBe(4096);
      peer.send(request(Code.POST, 'benchmark?rlen=8000', [{ number: Opt.BLOCK2, value: block(4, false, BERT) }]));
      const r1 = await peer.next(3000);
      expect(r1.code).toBe(Code.CHANGED);
      expect(blockOf(r1, Opt.BLOCK2)).toBe('4/0/7');
      expect(r1.payload.length).toBe(8000 - 4096);
      const body = Buffer.concat([r0.payload, r1.payload]);
      expect(body.equals(benchmarkBody(8000))).toBe(true);
      // over UDP: 1024-byte blocks (SZX 6) of the same body
      const parts: Buffer[] = [];
      for (let num = 0; num < 8; num++) {
        const udp = await udpExchange(sp.ports.ext, { ...request(Code.POST, 'benchmark?rlen=8000', [{ number: Opt.BLOCK2, value: block(num, false, 6) }]), mid: 100 + num });
        expect(blockOf(udp, Opt.BLOCK2)).toBe(`${num}/${num < 7 ? 1 : 0}/6`);
        parts.push(udp.payload);
      }
      expect(body.equals(Buffer.concat(parts))).toBe(true);
    } finally {
      peer.destroy();
    }
  });

  it('a server-initiated BERT download after a BERT upload: POST /echo with 6000 random bytes comes back unchanged', async () => {
    const body = randomBytes(6000);
    const ct = { number: Opt.CONTENT_FORMAT, value: encodeUint(42) };
    const { peer } = await open(sp.ports.ext, BERT_CSM);
    try {
      peer.send(request(Code.POST, 'echo', [ct, { number: Opt.BLOCK1, value: block(0, true, BERT) }, { number: Opt.SIZE1, value: encodeUint(6000) }], body.subarray(0, 4096)));
      const c = await peer.next(3000);
      expect(c.code).toBe(Code.CONTINUE);
      expect(blockOf(c, Opt.BLOCK1)).toBe('0/1/7');
      peer.send(request(Code.POST, 'echo', [ct, { number: Opt.BLOCK1, value: block(4, false, BERT) }], body.subarray(4096)));
      const r0 = await peer.next(3000);
      expect(r0.code).toBe(Code.CHANGED);
      expect(blockOf(r0, Opt.BLOCK1)).toBe('4/0/7');
      // the response is longer than COAP.MAX_MESSAGE_SIZE: block-wise, BERT as both CSMs allow it
      expect(blockOf(r0, Opt.BLOCK2)).toBe('0/1/7');
      expect(r0.payload.length).toBe(4096);
      peer.send(request(Code.POST, 'echo', [ct, { number: Opt.BLOCK2, value: block(4, false, BERT) }]));
      const r1 = await peer.next(3000);
      expect(blockOf(r1, Opt.BLOCK2)).toBe('4/0/7');
      expect(Buffer.concat([r0.payload, r1.payload]).equals(body)).toBe(true);
    } finally {
      peer.destroy();
    }
  });

  it('observe: the response and the notifications of a 6000-byte body start with a BERT block of 4096 bytes', async () => {
    const { peer } = await open(sp.ports.ext, BERT_CSM);
    try {
      const reg = request(Code.GET, 'benchmark?rlen=6000', [{ number: Opt.OBSERVE, value: Buffer.alloc(0) }]);
      peer.send(reg);
      const first = await peer.next(3000);
      expect(first.token).toEqual(reg.token);
      expect(uintOf(first, Opt.OBSERVE)).toBeDefined();
      expect(blockOf(first, Opt.BLOCK2)).toBe('0/1/7');
      expect(first.payload.length).toBe(4096);
      const rest = request(Code.GET, 'benchmark?rlen=6000', [{ number: Opt.BLOCK2, value: block(4, false, BERT) }]);
      peer.send(rest);
      // the rest of the body and the next notification (every 200 ms), in either order
      let tail: CoapMessage | undefined;
      let note: CoapMessage | undefined;
      for (let i = 0; i < 10 && (tail === undefined || note === undefined); i++) {
        const m = await peer.next(3000);
        if (m.token.equals(rest.token)) tail = m;
        else if (m.token.equals(reg.token)) note = m;
      }
      expect(blockOf(tail!, Opt.BLOCK2)).toBe('4/0/7');
      expect(tail!.payload.length).toBe(6000 - 4096);
      expect(first.payload.toString().startsWith('hello observe ')).toBe(true);
      expect(uintOf(note!, Opt.OBSERVE)).toBeGreaterThan(uintOf(first, Opt.OBSERVE)!);
      expect(blockOf(note!, Opt.BLOCK2)).toBe('0/1/7');
      expect(uintOf(note!, Opt.SIZE2)).toBe(6000);
      expect(note!.payload.length).toBe(4096);
    } finally {
      peer.destroy();
    }
  });

  it('a peer with a smaller Max-Message-Size gets only as many blocks as fit (2 of 4 in 2400 bytes)', async () => {
    const { peer } = await open(sp.ports.ext, buildCsm({ maxMessageSize: 2400, blockWiseTransfer: true }));
    try {
      peer.send(request(Code.POST, 'benchmark?rlen=5000', [{ number: Opt.BLOCK2, value: block(0, false, BERT) }]));
      const r0 = await peer.next(3000);
      expect(blockOf(r0, Opt.BLOCK2)).toBe('0/1/7');
      expect(r0.payload.length).toBe(2048);
    } finally {
      peer.destroy();
    }
  });

  it('malformed BERT uploads: a non-final block that is not a multiple of 1024 gets 4.00, a body over 8192 bytes 4.13', async () => {
    const { peer } = await open(sp.ports.ext, BERT_CSM);
    try {
      peer.send(request(Code.POST, 'echo', [{ number: Opt.BLOCK1, value: block(0, true, BERT) }], Buffer.alloc(1500, 1)));
      const bad = await peer.next(3000);
      expect(bad.code).toBe(Code.BAD_REQUEST);
      expect(bad.payload.toString()).toBe('non-final BERT block of 1500 bytes (not a multiple of 1024)');
      peer.send(request(Code.POST, 'echo', [{ number: Opt.BLOCK1, value: block(0, true, BERT) }], Buffer.alloc(4096, 2)));
      expect((await peer.next(3000)).code).toBe(Code.CONTINUE);
      peer.send(request(Code.POST, 'echo', [{ number: Opt.BLOCK1, value: block(4, true, BERT) }], Buffer.alloc(4096, 2)));
      expect((await peer.next(3000)).code).toBe(Code.CONTINUE);
      peer.send(request(Code.POST, 'echo', [{ number: Opt.BLOCK1, value: block(8, true, BERT) }], Buffer.alloc(1024, 2)));
      const tooLarge = await peer.next(3000);
      expect(tooLarge.code).toBe(Code.REQUEST_ENTITY_TOO_LARGE);
      expect(tooLarge.payload.toString()).toBe('body too large, max. 8192 bytes');
      // NUM far beyond the body: Block2 4.02, a Block1 without its transfer 4.08
      peer.send(request(Code.POST, 'benchmark?rlen=3000', [{ number: Opt.BLOCK2, value: block(0xfffff, false, BERT) }]));
      const out = await peer.next(3000);
      expect(out.code).toBe(Code.BAD_OPTION);
      expect(out.payload.toString()).toBe('block out of range');
      peer.send(request(Code.POST, 'echo', [{ number: Opt.BLOCK1, value: block(0xfffff, true, BERT) }], Buffer.alloc(1024, 4)));
      expect((await peer.next(3000)).code).toBe(Code.REQUEST_ENTITY_INCOMPLETE);
      // a BERT block at the wrong position: 4.08
      peer.send(request(Code.POST, 'echo', [{ number: Opt.BLOCK1, value: block(0, true, BERT) }], Buffer.alloc(2048, 3)));
      expect((await peer.next(3000)).code).toBe(Code.CONTINUE);
      peer.send(request(Code.POST, 'echo', [{ number: Opt.BLOCK1, value: block(1, false, BERT) }], Buffer.alloc(10, 3)));
      expect((await peer.next(3000)).code).toBe(Code.REQUEST_ENTITY_INCOMPLETE);
    } finally {
      peer.destroy();
    }
  });

  it('a peer whose CSM has no Block-Wise-Transfer gets 4.02 for SZX 7, and plain 1024-byte blocks otherwise', async () => {
    const { peer } = await open(sp.ports.ext, buildCsm({ maxMessageSize: 65536 }));
    try {
      peer.send(request(Code.POST, 'benchmark?rlen=3000', [{ number: Opt.BLOCK2, value: block(0, false, BERT) }]));
      const refused = await peer.next(3000);
      expect(refused.code).toBe(Code.BAD_OPTION);
      expect(refused.payload.toString()).toBe("Block2: BERT (SZX 7) needs Block-Wise-Transfer and a Max-Message-Size above 1152 in the peer's CSM");
      peer.send(request(Code.POST, 'benchmark?rlen=3000'));
      const plain = await peer.next(3000);
      expect(blockOf(plain, Opt.BLOCK2)).toBe('0/1/6');
      expect(plain.payload.length).toBe(1024);
    } finally {
      peer.destroy();
    }
  });

  it('over UDP SZX 7 stays reserved: 4.02 invalid Block2 option', async () => {
    const res = await udpExchange(sp.ports.ext, { ...request(Code.POST, 'benchmark?rlen=3000', [{ number: Opt.BLOCK2, value: block(0, false, BERT) }]), mid: 7 });
    expect(res.code).toBe(Code.BAD_OPTION);
    expect(res.payload.toString()).toBe('invalid Block2 option');
  });
});

describe('the plugtest server (COAP.TCP_NUMBER_OF_BULK_BLOCKS 1): BERT off', () => {
  it('no Block-Wise-Transfer in the CSM, and a Block1 or Block2 with SZX 7 is answered 4.02 naming BERT', async () => {
    const { peer, serverCsm } = await open(sp.ports.plug, BERT_CSM);
    try {
      expect(serverCsm).toMatchObject({ kind: 'csm', blockWiseTransfer: false, maxMessageSize: 1152 });
      peer.send(request(Code.GET, 'large', [{ number: Opt.BLOCK2, value: block(0, false, BERT) }]));
      const r2 = await peer.next(3000);
      expect(r2.code).toBe(Code.BAD_OPTION);
      expect(r2.payload.toString()).toBe('Block2: BERT (SZX 7) is not supported by this server');
      peer.send(request(Code.POST, 'large-post', [{ number: Opt.BLOCK1, value: block(0, true, BERT) }], Buffer.alloc(1024, 0x41)));
      const r1 = await peer.next(3000);
      expect(r1.code).toBe(Code.BAD_OPTION);
      expect(r1.payload.toString()).toBe('Block1: BERT (SZX 7) is not supported by this server');
    } finally {
      peer.destroy();
    }
  });
});

describe('benchmark client with --bertblocks 4', () => {
  /** Messages the server's coap+tcp (or coaps+tcp) endpoint received so far ('messages in' of /diagnose, this request included). */
  async function received(secure = false): Promise<number> {
    const port = secure ? sp.ports.extSecure : sp.ports.ext;
    const peer = secure ? await connectTls(port, { host: HOST, ca: [], rejectUnauthorized: false }) : await connectTcp(port, HOST);
    try {
      await peer.next(3000); // CSM
      peer.send(buildCsm({}));
      peer.send(request(Code.GET, 'diagnose'));
      const res = await peer.next(3000);
      const text = res.payload.toString();
      const group = text.split(`${secure ? 'tls' : 'tcp'}:127.0.0.1:${port}\n`)[1]?.split(/\n(?! )/)[0] ?? '';
      const m = /^ {3}messages in,(\d+),/m.exec(group);
      if (!m) throw new Error(`no 'messages in' row in:\n${text}`);
      return Number(m[1]);
    } finally {
      peer.destroy();
    }
  }

  it('coap+tcp: 5000-byte Block1 uploads in 2 BERT messages each (4096 + 904 bytes), all answered', async () => {
    const before = await received();
    const uri = `coap+tcp://${HOST}:${sp.ports.ext}/benchmark?rlen=40`;
    const r = await runBenchmark([uri, '--clients', '5', '--requests', '10', '--payload-random', '5000', '--bertblocks', '4'], 60_000);
    const rep = expectComplete(r, 5, 50);
    expect(rep.errors).toBe(0);
    // 50 requests in 2 messages each and the /diagnose request of received() (without BERT: 5 messages per request)
    expect((await received()) - before).toBe(50 * 2 + 1);
  }, 70_000);

  it('coaps+tcp: 5000-byte uploads with 8000-byte responses (POST /benchmark?rlen=8000), 2 + 1 BERT messages each, all answered', async () => {
    const before = await received(true);
    const uri = `coaps+tcp://${HOST}:${sp.ports.extSecure}/benchmark?rlen=8000`;
    const r = await runBenchmark([uri, '--clients', '5', '--requests', '10', '--payload-random', '5000', '--bertblocks', '4'], 60_000);
    const rep = expectComplete(r, 5, 50);
    expect(rep.errors).toBe(0);
    // per request: Block1 0/1/BERT(4096), Block1 4/0/BERT(904) answered with Block2 0/1/BERT(4096), then Block2 4/0/BERT
    expect((await received(true)) - before).toBe(50 * 3 + 1);
  }, 70_000);

  it('coap+tcp downloads: 8000-byte responses in 2 BERT messages each (4096 + 3904 bytes)', async () => {
    const before = await received();
    const uri = `coap+tcp://${HOST}:${sp.ports.ext}/benchmark?rlen=8000`;
    const r = await runBenchmark([uri, '--clients', '2', '--requests', '10', '--bertblocks', '4'], 60_000);
    expectComplete(r, 2, 20);
    // 20 requests of 2 messages each (the first, and one Block2 follow-up for the second 4096 bytes), and received()'s
    expect((await received()) - before).toBe(20 * 2 + 1);
  }, 70_000);

  it('is refused over coap (UDP) with a clear message', async () => {
    const r = await runBenchmark([`coap://${HOST}:${sp.ports.ext}/benchmark?rlen=40`, '--bertblocks', '4'], 20_000);
    expect(r.code).not.toBe(0);
    expect(r.stdout + r.stderr).toContain('--bertblocks: BERT (RFC 8323 §6) needs a coap+tcp or coaps+tcp URI, not coap');
  });
});

/** The message lines of a libcoap client's `-v 7` trace (`v:1 t:CON c:POST ... [ options ]`). */
function traced(r: { stdout: string; stderr: string }): string[] {
  return (r.stdout + '\n' + r.stderr).split('\n').filter((l) => l.startsWith('v:1 '));
}

// libcoap 4.3.1 has no BERT switch in coap-client (-b takes 16..1024): it uses BERT by itself once both CSMs announce it
describe.skipIf(notls.skipReason !== undefined)('libcoap coap-client over coap+tcp uses BERT', () => {
  it('POST /echo of a 6000-byte file: Block1 0/M/BERT(4096), 4/_/BERT(1904), the echo in Block2 BERT messages, the same bytes back', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bert-'));
    try {
      const body = randomBytes(6000);
      fs.writeFileSync(path.join(dir, 'up.bin'), body);
      const out = path.join(dir, 'down.bin');
      const r = await runCoapClient(notls.path!, ['-m', 'post', '-t', '42', '-f', path.join(dir, 'up.bin'), '-o', out, '-v', '7', `coap+tcp://${HOST}:${sp.ports.ext}/echo`]);
      expect(r.code, r.stderr).toBe(0);
      const lines = traced(r);
      expect(lines.find((l) => l.includes('c:CSM') && l.includes('Max-Message-Size:4352, Block-Wise-Transfer'))).toBeDefined();
      expect(lines.filter((l) => l.includes('Block1:0/M/BERT(4096)'))).toHaveLength(1);
      expect(lines.find((l) => l.includes('c:2.31') && l.includes('Block1:0/M/BERT'))).toBeDefined();
      expect(lines.filter((l) => l.includes('Block1:4/_/BERT(1904)'))).toHaveLength(1);
      expect(lines.find((l) => l.includes('c:2.04') && l.includes('Block2:0/M/BERT(4096)'))).toBeDefined();
      expect(lines.find((l) => l.includes('c:2.04') && l.includes('Block2:4/_/BERT(1904)'))).toBeDefined();
      expect(fs.readFileSync(out).equals(body)).toBe(true);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('POST /benchmark?rlen=8000: two BERT messages (4096 + 3904 bytes), the same body as over UDP (-b 1024)', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bert-'));
    try {
      const tcpOut = path.join(dir, 'tcp.txt');
      const udpOut = path.join(dir, 'udp.txt');
      const tcp = await runCoapClient(notls.path!, ['-m', 'post', '-o', tcpOut, '-v', '7', `coap+tcp://${HOST}:${sp.ports.ext}/benchmark?rlen=8000`]);
      expect(tcp.code, tcp.stderr).toBe(0);
      const lines = traced(tcp);
      expect(lines.find((l) => l.includes('Block2:0/M/BERT(4096), Size2:8000'))).toBeDefined();
      expect(lines.find((l) => l.includes('Block2:4/_/BERT(3904)'))).toBeDefined();
      const udp = await runCoapClient(notls.path!, ['-m', 'post', '-b', '1024', '-o', udpOut, `coap://${HOST}:${sp.ports.ext}/benchmark?rlen=8000`]);
      expect(udp.code, udp.stderr).toBe(0);
      const body = fs.readFileSync(tcpOut);
      expect(body.length).toBe(8000);
      expect(body.equals(fs.readFileSync(udpOut))).toBe(true);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe.skipIf(withOpenssl.skipReason !== undefined)('libcoap coap-client over coaps+tcp uses BERT', () => {
  it('POST /benchmark?rlen=8000 over TLS: Block2 BERT messages', async () => {
    const r = await runCoapClient(withOpenssl.path!, ['-m', 'post', '-v', '7', `coaps+tcp://${HOST}:${sp.ports.extSecure}/benchmark?rlen=8000`]);
    expect(r.code, r.stderr).toBe(0);
    expect(traced(r).find((l) => l.includes('Block2:0/M/BERT(4096), Size2:8000'))).toBeDefined();
  });
});

// Hostile input over coap/UDP: tens of thousands of malformed, mutated and random datagrams from several
// sockets against the running server, while a good client keeps getting correct answers. Afterwards the
// process must be alive, its memory bounded, and it must still answer. Also RFC 7252 §4.2/§4.3:
// a CON with a message format error is rejected with RST, a NON with a format error gets nothing.
import dgram from 'node:dgram';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, hasIpv6Loopback, type ServerProcess } from '../helpers/server-process.js';
import { mulberry32 } from '../helpers/random.js';
import { udpDrops, vmRssKb } from '../helpers/dtls-client.js';

/** Hostile datagrams to send at most, and the time bound of the flood. */
const HOSTILE_COUNT = 40_000;
const FLOOD_MS = 20_000;
/** One valid GET /test per this many hostile datagrams. */
const GOOD_EVERY = 100;
/** Allowed growth of the server's resident set over the flood. */
const RSS_GROWTH_LIMIT_KB = 150 * 1024;


// ---- raw message building (independent of src/coap/codec) ----
interface Opt {
  n: number;
  v: Buffer;
}
function ext(v: number): { nib: number; bytes: number[] } {
  if (v < 13) return { nib: v, bytes: [] };
  if (v < 269) return { nib: 13, bytes: [v - 13] };
  return { nib: 14, bytes: [((v - 269) >> 8) & 0xff, (v - 269) & 0xff] };
}
/** Encodes a message; `opts` must be sorted by number. */
function raw(type: number, code: number, mid: number, token: Buffer, opts: Opt[] = [], payload?: Buffer): Buffer {
  const parts: number[] = [0x40 | (type << 4) | token.length, code, (mid >> 8) & 0xff, mid & 0xff, ...token];
  let prev = 0;
  for (const o of opts) {
    const d = ext(o.n - prev);
    const l = ext(o.v.length);
    parts.push((d.nib << 4) | l.nib, ...d.bytes, ...l.bytes, ...o.v);
    prev = o.n;
  }
  const head = Buffer.from(parts);
  return payload && payload.length > 0 ? Buffer.concat([head, Buffer.from([0xff]), payload]) : head;
}
const path = (...segs: string[]): Opt[] => segs.map((s) => ({ n: 11, v: Buffer.from(s) }));
function uint(v: number): Buffer {
  if (v === 0) return Buffer.alloc(0);
  const bytes: number[] = [];
  while (v > 0) {
    bytes.unshift(v & 0xff);
    v = Math.floor(v / 256);
  }
  return Buffer.from(bytes);
}
const block = (num: number, more: boolean, szx: number): Buffer => uint(num * 16 + (more ? 8 : 0) + szx);

// ---- decoding answers (only what the checks need) ----
interface Answer {
  type: number;
  code: number;
  mid: number;
  token: Buffer;
  payload: Buffer;
  rawLength: number;
}
/** Minimal strict decode of a server answer; undefined if it is not well formed. */
function parseAnswer(b: Buffer): Answer | undefined {
  if (b.length < 4 || b[0]! >> 6 !== 1) return undefined;
  const tkl = b[0]! & 0x0f;
  if (tkl > 8 || 4 + tkl > b.length) return undefined;
  let pos = 4 + tkl;
  let payload: Buffer = Buffer.alloc(0);
  while (pos < b.length) {
    const x = b[pos++]!;
    if (x === 0xff) {
      if (pos >= b.length) return undefined;
      payload = b.subarray(pos);
      break;
    }
    let d = x >> 4;
    let l = x & 15;
    if (d === 15 || l === 15) return undefined;
    if (d === 13) d = b[pos++]!;
    else if (d === 14) pos += 2;
    if (l === 13) l = b[pos++]! + 13;
    else if (l === 14) {
      l = ((b[pos]! << 8) | b[pos + 1]!) + 269;
      pos += 2;
    }
    pos += l;
    if (pos > b.length) return undefined;
  }
  return { type: (b[0]! >> 4) & 3, code: b[1]!, mid: b.readUInt16BE(2), token: b.subarray(4, 4 + tkl), payload, rawLength: b.length };
}

// ---- the hostile generator ----
const CON = 0;
const NON = 1;
const ACK = 2;
const RST = 3;
const GET = 1;
const POST = 2;
const PUT = 3;

function makeGenerator(rnd: () => number) {
  const int = (n: number) => Math.floor(rnd() * n);
  const bytes = (n: number) => {
    const b = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i++) b[i] = int(256);
    return b;
  };
  const tok = () => bytes(int(9));
  const mid = () => int(0x10000);
  const t2 = () => (rnd() < 0.5 ? CON : NON);
  // valid requests used as mutation seeds (no state-creating resources such as /large-create or /shutdown)
  const seeds = (): Buffer[] => [
    raw(t2(), GET, mid(), tok(), path('test')),
    raw(t2(), GET, mid(), tok(), [...path('large'), { n: 23, v: block(int(20), false, 2) }]),
    raw(t2(), GET, mid(), tok(), [...path('query'), { n: 15, v: Buffer.from('a=1') }, { n: 15, v: Buffer.from('b') }]),
    raw(t2(), PUT, mid(), tok(), [...path('large-update'), { n: 12, v: uint(0) }, { n: 27, v: block(int(20), true, 2) }, { n: 60, v: uint(1280) }], bytes(64)),
    raw(t2(), POST, mid(), tok(), [...path('large-post'), { n: 12, v: uint(0) }, { n: 27, v: block(int(3), rnd() < 0.7, 2) }], bytes(64)),
    raw(t2(), GET, mid(), tok(), [...path('.well-known', 'core'), { n: 15, v: Buffer.from('rt=block') }]),
    raw(t2(), POST, mid(), tok(), [...path('echo'), { n: 12, v: uint(0) }], bytes(int(200) + 1)),
    raw(t2(), GET, mid(), tok(), path('myip')),
    raw(t2(), GET, mid(), tok(), path('seg1', 'seg2', 'seg3')),
  ];
  const pick = <T>(a: T[]): T => a[int(a.length)]!;

  const kinds: Array<[string, () => Buffer]> = [
    ['truncated header', () => bytes(int(4))],
    ['bad version', () => {
      const b = pick(seeds());
      b[0] = (b[0]! & 0x3f) | (pick([0, 2, 3]) << 6);
      return b;
    }],
    ['token length 9-15', () => {
      const b = Buffer.concat([Buffer.from([0x40 | (t2() << 4) | (9 + int(7)), GET, int(256), int(256)]), bytes(int(20))]);
      return b;
    }],
    ['token longer than the datagram', () => Buffer.concat([Buffer.from([0x48 | (t2() << 4), GET, int(256), int(256)]), bytes(int(8))])],
    ['option nibble 15', () => {
      const h = raw(t2(), GET, mid(), tok(), path('test'));
      return Buffer.concat([h, Buffer.from([pick([0xf0, 0x0f, 0xf1, 0x1f, 0xfe, 0xdf])]), bytes(int(6))]);
    }],
    ['extended delta/length past the end', () => {
      const h = raw(t2(), GET, mid(), tok(), path('test'));
      return Buffer.concat([h, Buffer.from(pick([[0xd0], [0xe0], [0xe0, 0x01], [0x0d], [0x0e], [0x0e, 0x00], [0x0d, 0xff, 1, 2], [0x0e, 0xff, 0xff, 1], [0xdd, 0x00]]))]);
    }],
    ['payload marker without payload', () => Buffer.concat([pick(seeds()).subarray(0, 4), Buffer.from([0xff])])],
    ['request plus marker without payload', () => Buffer.concat([raw(t2(), GET, mid(), tok(), path('test')), Buffer.from([0xff])])],
    ['option number overflow', () => {
      const h = raw(t2(), GET, mid(), tok(), path('test'));
      const n = 1 + int(6);
      const parts: number[] = [];
      for (let i = 0; i < n; i++) parts.push(0xe0, 0xff, 0xff); // delta 65804 each
      return Buffer.concat([h, Buffer.from(parts)]);
    }],
    ['unknown critical option', () => raw(t2(), GET, mid(), tok(), [...path('test'), { n: 2049 + 2 * int(1000), v: bytes(int(4)) }])],
    ['huge Block1 number (no transfer)', () =>
      raw(t2(), pick([PUT, POST]), mid(), tok(), [...path(pick(['large-update', 'large-post', 'test', 'echo'])), { n: 12, v: uint(0) }, { n: 27, v: block(0xfffff - int(1000), rnd() < 0.5, int(8)) }], bytes(16 << int(3)))],
    ['Block1 num>0 without a transfer', () =>
      raw(t2(), pick([PUT, POST]), mid(), tok(), [...path(pick(['large-update', 'large-post'])), { n: 12, v: uint(0) }, { n: 27, v: block(1 + int(100), rnd() < 0.5, 2) }], bytes(64))],
    ['huge Block2 number', () => raw(t2(), GET, mid(), tok(), [...path(pick(['large', 'test', 'large-update', '.well-known'])), { n: 23, v: block(0xfffff - int(1000), false, int(8)) }])],
    ['Block option too long / szx 7', () => raw(t2(), GET, mid(), tok(), [...path('large'), { n: 23, v: pick([bytes(4), Buffer.from([0x0f]), Buffer.from([0x17])]) }])],
    ['huge Size1', () =>
      raw(t2(), PUT, mid(), tok(), [...path('large-update'), { n: 12, v: uint(0) }, { n: 27, v: block(0, true, 2) }, { n: 60, v: pick([uint(0xffffffff), bytes(4), uint(8193)]) }], bytes(64))],
    ['empty message with token/payload', () => {
      const t = [CON, NON, ACK, RST][int(4)]!;
      return rnd() < 0.5 ? raw(t, 0, mid(), bytes(1 + int(8))) : raw(t, 0, mid(), Buffer.alloc(0), [], bytes(1 + int(20)));
    }],
    ['empty ACK/RST/CON', () => raw([CON, NON, ACK, RST][int(4)]!, 0, mid(), Buffer.alloc(0))],
    ['unexpected response', () => raw(pick([CON, NON, ACK]), pick([0x45, 0x44, 0x84, 0xa0]), mid(), tok(), [{ n: 12, v: uint(0) }], bytes(int(10)))],
    ['reserved code class', () => raw(t2(), (pick([1, 6, 7]) << 5) | int(32), mid(), tok(), path('test'))],
    ['bit flips', () => {
      const b = pick(seeds());
      for (let i = 1 + int(4); i > 0; i--) b[int(b.length)]! ^= 1 << int(8);
      return b;
    }],
    ['truncation', () => {
      const b = pick(seeds());
      return b.subarray(0, int(b.length));
    }],
    ['duplication', () => {
      const b = pick(seeds());
      const from = int(b.length);
      const to = from + int(b.length - from) + 1;
      return rnd() < 0.5 ? Buffer.concat([b, b]) : Buffer.concat([b.subarray(0, to), b.subarray(from)]);
    }],
    ['header with random tail', () => Buffer.concat([Buffer.from([0x40 | (t2() << 4) | int(9), int(256), int(256), int(256)]), bytes(int(100))])],
    ['random bytes', () => bytes(int(300))],
    ['large random datagram', () => (rnd() < 0.1 ? Buffer.concat([raw(t2(), POST, mid(), tok(), path('echo')), bytes(8000 + int(50000))]) : bytes(1000 + int(500)))],
  ];
  return { kinds, next: () => kinds[int(kinds.length)]! };
}

/** A socket that collects the (parsed) datagrams it receives. */
async function openSocket(family: 'udp4' | 'udp6'): Promise<{ sock: dgram.Socket; received: Answer[]; rawCount: () => number; malformed: () => number }> {
  const sock = dgram.createSocket(family);
  const received: Answer[] = [];
  let count = 0;
  let malformed = 0;
  sock.on('message', (m) => {
    count++;
    const a = parseAnswer(m);
    if (!a) malformed++;
    else if (received.length < 100_000) received.push(a);
  });
  sock.on('error', () => {
    // sends of huge datagrams may fail locally; ignored
  });
  await new Promise<void>((r) => sock.bind(0, family === 'udp6' ? '::1' : '127.0.0.1', () => r()));
  return { sock, received, rawCount: () => count, malformed: () => malformed };
}

function sendTo(sock: dgram.Socket, buf: Buffer, port: number, host: string): Promise<void> {
  return new Promise((resolve) => sock.send(buf, port, host, () => resolve()));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A good client: CON GET /test with fresh MID and token; retransmits like CoAP; checks the exact answer. */
class GoodClient {
  private mid = 1000;
  private waiters = new Map<number, (a: Answer) => void>();
  answered = 0;
  retransmissions = 0;
  wrong: string[] = [];
  constructor(
    private sock: dgram.Socket,
    private host: string,
    private port: number,
  ) {
    sock.on('message', (m) => {
      const a = parseAnswer(m);
      if (a) this.waiters.get(a.mid)?.(a);
    });
  }
  /** true when answered correctly within the retransmission budget */
  async get(): Promise<boolean> {
    const mid = (this.mid = (this.mid + 1) & 0xffff);
    const token = Buffer.from([0xc0, (mid >> 8) & 0xff, mid & 0xff, 0x5a]);
    const req = raw(CON, GET, mid, token, path('test'));
    const answer = new Promise<Answer>((resolve) => this.waiters.set(mid, resolve));
    let timeout = 500;
    try {
      for (let attempt = 0; attempt < 5; attempt++) {
        if (attempt > 0) this.retransmissions++;
        await sendTo(this.sock, req, this.port, this.host);
        const a = await Promise.race([answer, sleep(timeout).then(() => undefined)]);
        if (a) {
          const expected = `Type: 0 (CON)\nCode: 1 (GET)\nMID: ${mid}\nToken: ${token.toString('hex').toUpperCase()}`;
          const ok = a.type === ACK && a.code === 0x45 && a.token.equals(token) && a.payload.toString('utf8') === expected;
          if (!ok) this.wrong.push(`mid ${mid}: type ${a.type} code ${a.code} token ${a.token.toString('hex')} payload ${JSON.stringify(a.payload.toString())}`);
          else this.answered++;
          return ok;
        }
        timeout *= 2;
      }
      return false;
    } finally {
      this.waiters.delete(mid);
    }
  }
}

describe('hostile UDP input', () => {
  let sp: ServerProcess;
  beforeAll(async () => {
    sp = await startServer({ args: ['--no-external'] });
  });
  afterAll(async () => {
    await sp?.stop();
  });

  describe('RFC 7252 §4.2/§4.3: message format errors', () => {
    const cases: Array<[string, (type: number, mid: number) => Buffer]> = [
      ['token length 9', (t, m) => Buffer.concat([Buffer.from([0x49 | (t << 4), GET, m >> 8, m & 0xff]), Buffer.alloc(9, 1)])],
      ['token length 15', (t, m) => Buffer.concat([Buffer.from([0x4f | (t << 4), GET, m >> 8, m & 0xff]), Buffer.alloc(20, 1)])],
      ['token longer than the datagram', (t, m) => Buffer.from([0x48 | (t << 4), GET, m >> 8, m & 0xff, 1, 2])],
      ['option delta nibble 15 (not a payload marker)', (t, m) => Buffer.concat([raw(t, GET, m, Buffer.from([7]), path('test')), Buffer.from([0xf1, 0x00])])],
      ['option length nibble 15', (t, m) => Buffer.concat([raw(t, GET, m, Buffer.from([7])), Buffer.from([0xbf, 0x00])])],
      ['extended option length past the end', (t, m) => Buffer.concat([raw(t, GET, m, Buffer.from([7])), Buffer.from([0xbd, 0x40, 0x61])])],
      ['payload marker without payload', (t, m) => Buffer.concat([raw(t, GET, m, Buffer.from([7]), path('test')), Buffer.from([0xff])])],
      ['option number above 65535', (t, m) => Buffer.concat([raw(t, GET, m, Buffer.from([7]), path('test')), Buffer.from([0xe0, 0xff, 0xff])])],
      ['empty message (0.00) with a token', (t, m) => raw(t, 0, m, Buffer.from([1, 2]))],
      ['empty message (0.00) with a payload', (t, m) => raw(t, 0, m, Buffer.alloc(0), [], Buffer.from('x'))],
    ];
    let sock: Awaited<ReturnType<typeof openSocket>>;
    let nextConMid = 0x4000;
    let nextNonMid = 0x8000;
    beforeAll(async () => {
      sock = await openSocket('udp4');
    });
    afterAll(() => sock?.sock.close());

    it.each(cases)('CON with %s is rejected with a matching RST (empty, same MID)', async (_name, build) => {
      const mid = nextConMid++;
      await sendTo(sock.sock, build(CON, mid), sp.ports.plug, '127.0.0.1');
      const deadline = Date.now() + 3000;
      let rst: Answer | undefined;
      while (!rst && Date.now() < deadline) {
        rst = sock.received.find((a) => a.mid === mid);
        if (!rst) await sleep(20);
      }
      expect(rst, 'no answer to a CON with a format error').toBeDefined();
      expect(rst!.type).toBe(RST);
      expect(rst!.code).toBe(0);
      expect(rst!.token.length).toBe(0);
      expect(rst!.rawLength).toBe(4);
    });

    it('NON with format errors (all cases above) gets no answer at all', async () => {
      const before = sock.rawCount();
      const mids: number[] = [];
      for (const [, build] of cases) {
        const mid = nextNonMid++;
        mids.push(mid);
        await sendTo(sock.sock, build(NON, mid), sp.ports.plug, '127.0.0.1');
      }
      // a valid NON afterwards proves the socket works and bounds the wait
      await sendTo(sock.sock, raw(NON, GET, 0xfff0, Buffer.from([9]), path('test')), sp.ports.plug, '127.0.0.1');
      const deadline = Date.now() + 3000;
      while (!sock.received.some((a) => a.token.equals(Buffer.from([9]))) && Date.now() < deadline) await sleep(20);
      await sleep(300);
      expect(sock.received.some((a) => a.token.equals(Buffer.from([9])) && a.type === NON && a.code === 0x45)).toBe(true);
      expect(sock.received.filter((a) => mids.includes(a.mid))).toEqual([]);
      expect(sock.rawCount() - before).toBe(1);
    });

    it('bad version (0, 2, 3) is silently ignored, also for CON (RFC 7252 §3)', async () => {
      const before = sock.rawCount();
      for (const v of [0, 2, 3]) {
        const b = raw(CON, GET, 0x2000 + v, Buffer.from([3]), path('test'));
        b[0] = (b[0]! & 0x3f) | (v << 6);
        await sendTo(sock.sock, b, sp.ports.plug, '127.0.0.1');
      }
      await sendTo(sock.sock, Buffer.from([0x40, 0x01]), sp.ports.plug, '127.0.0.1'); // truncated header
      await sleep(700);
      expect(sock.rawCount() - before).toBe(0);
    });

    /** Sends one CON request on the shared socket and waits for the answer with that MID. */
    async function ask(msg: Buffer, mid: number): Promise<Answer> {
      await sendTo(sock.sock, msg, sp.ports.plug, '127.0.0.1');
      const deadline = Date.now() + 3000;
      let a: Answer | undefined;
      while (!(a = sock.received.find((x) => x.mid === mid)) && Date.now() < deadline) await sleep(10);
      if (!a) throw new Error(`no answer for mid ${mid}`);
      return a;
    }
    const tk = Buffer.from([0xb1]);
    const hugeNum = 0xfffff; // the largest block number a 3-byte Block option can carry

    it('huge Block2 number (and one just past the end) on /large: 4.02 BAD_OPTION', async () => {
      for (const [i, num] of [hugeNum, 20, 64960].entries()) {
        const mid = 0x3100 + i;
        const a = await ask(raw(CON, GET, mid, tk, [...path('large'), { n: 23, v: block(num, false, 2) }]), mid);
        expect(a, `Block2 num ${num}`).toMatchObject({ type: ACK, code: 0x82 });
      }
    });

    it('Block1 with num > 0 and no transfer in progress (also the huge number): 4.08 REQUEST_ENTITY_INCOMPLETE', async () => {
      for (const [i, num] of [1, hugeNum].entries()) {
        const mid = 0x3200 + i;
        const opts = [...path('large-update'), { n: 12, v: uint(0) }, { n: 27, v: block(num, true, 2) }];
        const a = await ask(raw(CON, PUT, mid, tk, opts, Buffer.alloc(64, 0x61)), mid);
        expect(a, `Block1 num ${num}`).toMatchObject({ type: ACK, code: 0x88 });
      }
    });

    it('Size1 announcing 2^32-1 bytes: 4.13 "body too large, max. 8192 bytes" (resources.md §1.5)', async () => {
      const mid = 0x3300;
      const opts = [...path('large-update'), { n: 12, v: uint(0) }, { n: 27, v: block(0, true, 2) }, { n: 60, v: uint(0xffffffff) }];
      const a = await ask(raw(CON, PUT, mid, tk, opts, Buffer.alloc(64, 0x61)), mid);
      expect(a).toMatchObject({ type: ACK, code: 0x8d });
      expect(a.payload.toString()).toBe('body too large, max. 8192 bytes');
    });

    it.each([
      ['a reserved code class (7.00)', 0xe0],
      ['a reserved code class (1.05)', 0x25],
      ['a response code (2.05) matching no exchange', 0x45],
    ])('CON with %s is rejected with RST (RFC 7252 §4.2)', async (_name, code) => {
      const mid = 0x3400 + code;
      const a = await ask(raw(CON, code, mid, tk, path('test')), mid);
      expect(a).toMatchObject({ type: RST, code: 0, rawLength: 4 });
    });

    it.each([
      ['an unknown critical option (9999)', [...path('test'), { n: 9999, v: Buffer.from([1]) }]],
      ['a Uri-Path value of 300 bytes (length out of range, §5.4.3)', [{ n: 11, v: Buffer.alloc(300, 0x61) }]],
      ['a repeated Accept (critical, not repeatable, §5.4.5)', [...path('test'), { n: 17, v: uint(0) }, { n: 17, v: uint(42) }]],
    ] as Array<[string, Opt[]]>)('CON GET with %s: piggy-backed 4.02 BAD_OPTION', async (_name, opts) => {
      const mid = 0x3500 + opts.length + opts[opts.length - 1]!.v.length;
      const a = await ask(raw(CON, GET, mid, tk, opts), mid);
      expect(a).toMatchObject({ type: ACK, code: 0x82 });
      expect(a.token.equals(tk)).toBe(true);
    });

    it('an empty CON (CoAP ping) is answered with RST', async () => {
      await sendTo(sock.sock, raw(CON, 0, 0x1234, Buffer.alloc(0)), sp.ports.plug, '127.0.0.1');
      const deadline = Date.now() + 3000;
      while (!sock.received.some((a) => a.mid === 0x1234) && Date.now() < deadline) await sleep(20);
      const a = sock.received.find((x) => x.mid === 0x1234);
      expect(a).toMatchObject({ type: RST, code: 0, rawLength: 4 });
    });
  });

  it(`survives ${HOSTILE_COUNT} hostile datagrams from several sockets while a good client is served`, { timeout: 120_000 }, async () => {
    const seed = Number(process.env.HOSTILE_SEED ?? Date.now() % 1_000_000);
    const rnd = mulberry32(seed);
    const gen = makeGenerator(rnd);
    const pid = sp.proc.pid!;

    const good = new GoodClient((await openSocket('udp4')).sock, '127.0.0.1', sp.ports.plug);
    // warm up (JIT, first allocations) before taking the base line
    for (let i = 0; i < 20; i++) expect(await good.get()).toBe(true);
    const rssBefore = vmRssKb(pid);
    const dropsBefore = udpDrops(sp.ports.plug) + udpDrops(sp.ports.ext);

    const hostile = await Promise.all([openSocket('udp4'), openSocket('udp4'), openSocket('udp4'), openSocket('udp4')]);
    const hostile6 = hasIpv6Loopback() ? [await openSocket('udp6')] : [];
    const targets: Array<{ s: dgram.Socket; host: string; port: number }> = [
      ...hostile.map((h, i) => ({ s: h.sock, host: '127.0.0.1', port: i === 3 ? sp.ports.ext : sp.ports.plug })),
      ...hostile6.map((h) => ({ s: h.sock, host: '::1', port: sp.ports.plug })),
    ];
    const perKind = new Map<string, number>();
    let sent = 0;
    let goodSent = 0;
    const failedGood: number[] = [];
    const start = Date.now();
    try {
      while (sent < HOSTILE_COUNT && Date.now() - start < FLOOD_MS) {
        const batch: Promise<void>[] = [];
        for (let i = 0; i < GOOD_EVERY && sent < HOSTILE_COUNT; i++, sent++) {
          const [name, make] = gen.next();
          perKind.set(name, (perKind.get(name) ?? 0) + 1);
          const t = targets[sent % targets.length]!;
          batch.push(sendTo(t.s, make(), t.port, t.host));
        }
        await Promise.all(batch);
        goodSent++;
        if (!(await good.get())) failedGood.push(goodSent);
        expect(sp.proc.exitCode, `server died (seed ${seed}):\n${sp.output().slice(-3000)}`).toBeNull();
      }
    } finally {
      for (const h of [...hostile, ...hostile6]) h.sock.close();
    }
    const elapsed = Date.now() - start;
    // let the server drain what is queued, then measure
    await sleep(500);
    for (let i = 0; i < 5; i++) expect(await good.get()).toBe(true);
    const rssAfter = vmRssKb(pid);
    const drops = udpDrops(sp.ports.plug) + udpDrops(sp.ports.ext) - dropsBefore;
    const answers = [...hostile, ...hostile6].reduce((n, h) => n + h.rawCount(), 0);
    const malformed = [...hostile, ...hostile6].reduce((n, h) => n + h.malformed(), 0);
    const summary =
      `seed ${seed}: ${sent} hostile datagrams in ${elapsed} ms (${drops} dropped by the kernel, ${answers} answers), ` +
      `${goodSent} good GETs (${good.answered} answered, ` +
      `${good.retransmissions} retransmissions), RSS ${rssBefore} kB → ${rssAfter} kB; kinds: ` +
      [...perKind.entries()].map(([k, v]) => `${k}=${v}`).join(', ');
    console.log(summary);

    expect(sp.proc.exitCode, summary).toBeNull();
    expect(sp.proc.signalCode, summary).toBeNull();
    // bounded by count and time, but a meaningful amount must have been sent
    expect(sent, summary).toBeGreaterThanOrEqual(Math.min(HOSTILE_COUNT, 10_000));
    expect(perKind.size, summary).toBe(gen.kinds.length);
    expect(good.wrong, summary).toEqual([]);
    // every answer the server sent to the hostile sockets is itself a well-formed CoAP message
    expect(malformed, summary).toBe(0);
    // most of the flood must really have reached the server (not been dropped by a full socket buffer)
    expect(drops, summary).toBeLessThan(sent / 2);
    expect(failedGood, summary).toEqual([]);
    expect(rssAfter - rssBefore, summary).toBeLessThan(RSS_GROWTH_LIMIT_KB);
    // nothing crashed inside: no uncaught exceptions / fatal logs
    expect(sp.output()).not.toMatch(/Uncaught|TypeError|RangeError|"level":60/);

    // still fully functional: block-wise GET /large on a fresh socket, and the extended server too
    const s = await openSocket('udp4');
    try {
      let text = '';
      for (let num = 0; num < 20; num++) {
        const m = 0x7000 + num;
        await sendTo(s.sock, raw(CON, GET, m, Buffer.from([0x11]), [...path('large'), { n: 23, v: block(num, false, 2) }]), sp.ports.plug, '127.0.0.1');
        const deadline = Date.now() + 3000;
        let a: Answer | undefined;
        while (!(a = s.received.find((x) => x.mid === m)) && Date.now() < deadline) await sleep(5);
        expect(a, `block ${num}`).toBeDefined();
        expect(a!.code).toBe(0x45);
        text += a!.payload.toString('latin1');
      }
      expect(text.length).toBe(1280);
      expect(text.startsWith('/' + '-'.repeat(61) + '\\\n|                 RESOURCE BLOCK NO. 1 OF 5')).toBe(true);
      await sendTo(s.sock, raw(CON, GET, 0x7100, Buffer.from([0x12]), path('myip')), sp.ports.ext, '127.0.0.1');
      const deadline = Date.now() + 3000;
      let a: Answer | undefined;
      while (!(a = s.received.find((x) => x.mid === 0x7100)) && Date.now() < deadline) await sleep(5);
      expect(a?.payload.toString()).toBe(`127.0.0.1:${s.sock.address().port}`);
    } finally {
      s.sock.close();
    }
  });
});

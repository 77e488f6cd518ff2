// The NAT / load balancer tool (clients.md §7) on loopback: UDP echo "destinations" on 127.0.0.2/127.0.0.3 (and ::1)
// answer with their identity and the source port they saw.
import { spawn, spawnSync } from 'node:child_process';
import dgram from 'node:dgram';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startNat, type Nat, type NatOptions } from '../../src/nat/nat.js';

const REPO = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const NAT_MAIN = path.join(REPO, 'dist/src/cli/nat-main.js');
const HAS_IPV6 = Object.values(os.networkInterfaces()).some((list) => list?.some((a) => a.address === '::1'));

const sockets: dgram.Socket[] = [];
const nats: Nat[] = [];

afterEach(async () => {
  await Promise.all(nats.splice(0).map((n) => n.stop()));
  for (const s of sockets.splice(0)) {
    try {
      s.close();
    } catch {
      // closed
    }
  }
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `cond` every 20 ms for at most `ms`. */
async function waitFor(cond: () => boolean, ms = 3000): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (cond()) return true;
    await sleep(20);
  }
  return cond();
}

async function bound(type: 'udp4' | 'udp6', address: string): Promise<dgram.Socket> {
  const s = type === 'udp6' ? dgram.createSocket({ type, ipv6Only: true }) : dgram.createSocket(type);
  sockets.push(s);
  await new Promise<void>((resolve, reject) => {
    s.once('error', reject);
    s.bind(0, address, () => resolve());
  });
  return s;
}

/** A UDP destination that records what it receives and (if `echo`) answers `<id> <source port> <payload>`. */
interface Dest {
  id: string;
  socket: dgram.Socket;
  address: string;
  port: number;
  /** `host:port` for the NAT */
  text: string;
  received: Array<{ data: Buffer; from: dgram.RemoteInfo }>;
  echo: boolean;
}

async function destination(id: string, address: string, echo = true): Promise<Dest> {
  const v6 = address.includes(':');
  const socket = await bound(v6 ? 'udp6' : 'udp4', address);
  const port = socket.address().port;
  const d: Dest = { id, socket, address, port, text: v6 ? `[${address}]:${port}` : `${address}:${port}`, received: [], echo };
  socket.on('message', (data, from) => {
    d.received.push({ data, from });
    if (d.echo) socket.send(Buffer.concat([Buffer.from(`${id} ${from.port} `), data]), from.port, from.address);
  });
  return d;
}

/** A client socket with a queue of received datagrams. */
interface Client {
  socket: dgram.Socket;
  port: number;
  address: string;
  inbox: Buffer[];
  send(data: string | Buffer, natPort: number): void;
  next(ms?: number): Promise<Buffer | undefined>;
}

async function client(address = '127.0.0.1'): Promise<Client> {
  const socket = await bound(address.includes(':') ? 'udp6' : 'udp4', address);
  const c: Client = {
    socket,
    port: socket.address().port,
    address,
    inbox: [],
    send: (data, natPort) => socket.send(typeof data === 'string' ? Buffer.from(data) : data, natPort, address),
    next: async (ms = 2000) => ((await waitFor(() => c.inbox.length > 0, ms)) ? c.inbox.shift() : undefined),
  };
  socket.on('message', (data) => c.inbox.push(data));
  return c;
}

/** Answer of an echo destination. */
interface Echo {
  id: string;
  port: number;
  payload: string;
}

function parseEcho(data: Buffer | undefined): Echo | undefined {
  if (!data) return undefined;
  const text = data.toString('latin1');
  const [id, port, ...rest] = text.split(' ');
  return { id: id!, port: Number(port), payload: rest.join(' ') };
}

/** Sends one datagram through the NAT and waits for the echo. */
async function exchange(c: Client, nat: Nat, payload: string | Buffer = 'ping'): Promise<Echo | undefined> {
  c.send(payload, nat.localPorts[0]!);
  return parseEcho(await c.next());
}

async function nat(options: Partial<NatOptions> & { destinations: string[] }, binds = ['127.0.0.1:0']): Promise<Nat> {
  const n = await startNat({ binds, ...options });
  nats.push(n);
  return n;
}

/** A DTLS 1.2 CID record (content type 25) whose CID starts with `nodeId` (datagram byte 11). */
function cidRecord(nodeId: number, tag: string): Buffer {
  const header = Buffer.from([25, 0xfe, 0xfd, 0, 1, 0, 0, 0, 0, 0, 7, nodeId, 9, 9, 9, 9, 9, 0, 8]);
  return Buffer.concat([header, Buffer.from(tag)]);
}

describe('NAT load balancing', () => {
  it('spreads clients over the destinations, one source port per client', async () => {
    const a = await destination('A', '127.0.0.2');
    const b = await destination('B', '127.0.0.3');
    const n = await nat({ destinations: [a.text, b.text] });
    expect(n.localPorts[0]).toBeGreaterThan(0);
    const seen: Record<string, number> = { A: 0, B: 0 };
    const ports = new Set<number>();
    for (let i = 0; i < 20; ++i) {
      const c = await client();
      const echo = await exchange(c, n, `hello ${i}`);
      expect(echo?.payload).toBe(`hello ${i}`);
      seen[echo!.id]!++;
      ports.add(echo!.port);
      expect(n.entryPorts('127.0.0.1', c.port)).toEqual([echo!.port]);
    }
    expect(seen.A).toBeGreaterThan(0);
    expect(seen.B).toBeGreaterThan(0);
    expect(ports.size).toBe(20);
    const info = n.command('info').split('\n');
    expect(info[0]).toBe('20 NAT entries, reverse address update disabled.');
    expect(info[1]).toBe('2 destinations.');
    expect(info).toContain(`Destination: ${a.text}, usage: ${seen.A}`);
    expect(info).toContain(`Destination: ${b.text}, usage: ${seen.B}`);
    const stats = n.stats();
    expect(stats).toMatchObject({ entries: 20, forwarded: 20, backwarded: 20, wronglyRouted: 0 });
    expect(stats.cpu.user).toBeGreaterThan(0);
    expect(info.at(-1)).toMatch(/^statistics: 20 forwarded, 20 backwarded, /);
  });

  it('repeated datagrams of one client keep their entry and destination', async () => {
    const a = await destination('A', '127.0.0.2');
    const b = await destination('B', '127.0.0.3');
    const n = await nat({ destinations: [a.text, b.text] });
    const c = await client();
    const first = await exchange(c, n, 'x');
    for (let i = 0; i < 5; ++i) expect(await exchange(c, n, `x${i}`)).toMatchObject({ id: first!.id, port: first!.port });
    expect(n.stats().entries).toBe(1);
  });

  it('clear drops entries: the client gets a new source port', async () => {
    const a = await destination('A', '127.0.0.2');
    const n = await nat({ destinations: [a.text] });
    const c = await client();
    const c2 = await client();
    const before = await exchange(c, n);
    await exchange(c2, n);
    expect(n.command('clear 1')).toBe('1 - NAT entries dropped.');
    expect(n.stats().entries).toBe(1);
    expect(n.command('clear')).toBe('1 - NAT entries dropped.');
    expect(n.command('clear')).toBe('0 - NAT entries dropped.');
    const after = await exchange(c, n);
    expect(after?.id).toBe('A');
    expect(after?.port).not.toBe(before?.port);
    expect(n.stats().entries).toBe(1);
  });

  it('reassign gives every entry a new source port', async () => {
    const a = await destination('A', '127.0.0.2');
    const n = await nat({ destinations: [a.text] });
    const c = await client();
    const before = await exchange(c, n);
    expect(n.command('reassign')).toBe('');
    expect(n.stats().entries).toBe(1);
    const after = await exchange(c, n);
    expect(after?.port).toBeGreaterThan(0);
    expect(after?.port).not.toBe(before?.port);
    expect(n.entryPorts('127.0.0.1', c.port)).toEqual([after!.port]);
  });

  it('rebalance assigns new random destinations', async () => {
    const a = await destination('A', '127.0.0.2');
    const b = await destination('B', '127.0.0.3');
    const n = await nat({ destinations: [a.text, b.text] });
    const clients: Client[] = [];
    const ids: string[] = [];
    for (let i = 0; i < 20; ++i) {
      const c = await client();
      clients.push(c);
      ids.push((await exchange(c, n))!.id);
    }
    const out = n.command('rebalance');
    const m = /^reassigned (\d+) destinations of 20\.$/.exec(out);
    expect(m, out).not.toBeNull();
    const count = Number(m![1]);
    expect(count).toBeGreaterThan(0);
    let changed = 0;
    for (let i = 0; i < clients.length; ++i) {
      const echo = await exchange(clients[i]!, n);
      if (echo!.id !== ids[i]) ++changed;
    }
    expect(changed).toBe(count);
  });

  it('add and remove destinations', async () => {
    const a = await destination('A', '127.0.0.2');
    const b = await destination('B', '127.0.0.3');
    const n = await nat({ destinations: [a.text] });
    const c = await client();
    expect((await exchange(c, n))?.id).toBe('A');
    expect(n.command(`add ${b.text}`)).toBe(`${b.text} added`);
    expect(n.command(`add ${b.text}`)).toBe('');
    expect(n.command('info').split('\n')[1]).toBe('2 destinations.');
    expect(n.command(`remove ${a.text}`)).toBe(`${a.text} removed`);
    expect(n.command('info').split('\n')[1]).toBe('1 destinations.');
    // the entry's destination is gone: its next datagram goes to another one
    expect((await exchange(c, n))?.id).toBe('B');
    const c2 = await client();
    expect((await exchange(c2, n))?.id).toBe('B');
    expect(await n.commandAsync(`remove ${b.text}`)).toBe(`${b.text} removed`);
    expect(n.command('info').split('\n')[1]).toBe('0 destinations.');
  });

  it('a silent destination becomes stale, rebalance re-activates it, a probing one gets the next new entry', async () => {
    const a = await destination('A', '127.0.0.2');
    const s = await destination('S', '127.0.0.3', false);
    const n = await nat({ destinations: [a.text, s.text], lbTimeoutMs: 200 });
    for (let i = 0; s.received.length === 0 && i < 40; ++i) (await client()).send('hi', n.localPorts[0]!);
    expect(await waitFor(() => s.received.length > 0)).toBe(true);
    expect(await waitFor(() => n.command('info').includes(`Stale      : ${s.text}`))).toBe(true);
    const info = n.command('info').split('\n');
    expect(info[1]).toBe('1 destinations, 1 stale destinations.');
    expect(info).toContainEqual(expect.stringMatching(new RegExp(`^Stale      : ${s.text.replace(/\./g, '\\.')}, usage: \\d+, last usage: \\d+\\[s\\] STALE$`)));
    expect(n.command('rebalance')).toMatch(/^reassigned \d+ destinations of \d+\.$/);
    expect(n.command('info').split('\n')[1]).toBe('2 destinations.');
    // silent again → stale → probing; the next new client is sent to the probe
    for (let i = 0; i < 40 && !n.command('info').includes(`Probing    : ${s.text}`); ++i) {
      (await client()).send('again', n.localPorts[0]!);
      await sleep(50);
    }
    expect(await waitFor(() => n.command('info').includes(`Probing    : ${s.text}`), 5000)).toBe(true);
    const received = s.received.length;
    (await client()).send('probe', n.localPorts[0]!);
    expect(await waitFor(() => s.received.length > received)).toBe(true);
    expect(s.received.at(-1)!.data.toString()).toBe('probe');
    expect(n.command('info')).toContain(`Pending    : ${s.text}`);
  });
});

describe('NAT wrongly routed answers', () => {
  async function setup(reverse: boolean): Promise<{ n: Nat; c: Client; first: Dest; other: Dest; natOut: dgram.RemoteInfo }> {
    const a = await destination('A', '127.0.0.2');
    const b = await destination('B', '127.0.0.3');
    const n = await nat({ destinations: [a.text, b.text], reverse });
    const c = await client();
    const echo = await exchange(c, n);
    const first = echo!.id === 'A' ? a : b;
    const other = first === a ? b : a;
    return { n, c, first, other, natOut: first.received.at(-1)!.from };
  }

  it('with -r an answer from another destination is delivered and switches the entry', async () => {
    const { n, c, other, natOut } = await setup(true);
    other.socket.send('from other', natOut.port, natOut.address);
    expect((await c.next())?.toString()).toBe('from other');
    expect(n.stats()).toMatchObject({ wronglyRouted: 1, droppedWrong: 0 });
    expect((await exchange(c, n))?.id).toBe(other.id);
  });

  it('without -r such an answer is dropped (and counted); reverse on enables the update', async () => {
    const { n, c, first, other, natOut } = await setup(false);
    other.socket.send('from other', natOut.port, natOut.address);
    expect(await waitFor(() => n.stats().wronglyRouted === 1)).toBe(true);
    expect(await c.next(300)).toBeUndefined();
    expect(n.stats()).toMatchObject({ wronglyRouted: 1, droppedWrong: 1, backwarded: 1 });
    expect((await exchange(c, n))?.id).toBe(first.id);
    expect(n.command('info')).toMatch(/wrongly routed \(1 dropped\)/);
    expect(n.command('reverse on').split('\n')[0]).toBe('1 NAT entries, reverse address update enabled.');
    other.socket.send('now delivered', natOut.port, natOut.address);
    expect((await c.next())?.toString()).toBe('now delivered');
    expect((await exchange(c, n))?.id).toBe(other.id);
  });
});

describe('NAT limits and filters', () => {
  it('-x forwards only DTLS records', async () => {
    const a = await destination('A', '127.0.0.2');
    const n = await nat({ destinations: [a.text], dtlsFilter: true });
    const c = await client();
    c.send('plain text datagram', n.localPorts[0]!);
    c.send(Buffer.from([0x40, 0x01, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]), n.localPorts[0]!);
    const record = Buffer.from([22, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0x55]);
    const echo = await exchange(c, n, record);
    expect(echo?.id).toBe('A');
    expect(a.received.map((r) => r.data[0])).toEqual([22]);
    expect(n.stats()).toMatchObject({ droppedFilter: 2, forwarded: 1, entries: 1 });
  });

  it('entries expire after -tnat without traffic', async () => {
    const a = await destination('A', '127.0.0.2');
    const n = await nat({ destinations: [a.text], natTimeoutMs: 200 });
    const c = await client();
    const before = await exchange(c, n);
    expect(n.stats().entries).toBe(1);
    expect(await waitFor(() => n.stats().entries === 0)).toBe(true);
    expect(n.stats().expired).toBe(1);
    const after = await exchange(c, n);
    expect(after?.port).not.toBe(before?.port);
  });

  it('takes a burst of 3,000 datagrams that arrives while it cannot read, without an OS drop', async () => {
    const a = await destination('A', '127.0.0.2', false);
    const n = await nat({ destinations: [a.text] });
    // the sender runs while this process (and so the NAT) is blocked in spawnSync: the burst waits in the kernel
    const sender = [
      "const s=require('node:dgram').createSocket('udp4');let left=3000;const b=Buffer.alloc(60,1);",
      `for(let i=0;i<3000;i++)s.send(b,${n.localPorts[0]},'127.0.0.1',()=>{if(--left===0)s.close();});`,
    ].join('');
    const run = spawnSync(process.execPath, ['-e', sender], { timeout: 10_000 });
    expect(run.status).toBe(0);
    expect(await waitFor(() => n.stats().forwarded === 3000, 5000)).toBe(true);
  });

  it('-n refuses new clients at the maximum', async () => {
    const a = await destination('A', '127.0.0.2');
    const n = await nat({ destinations: [a.text], maxEntries: 2 });
    const c1 = await client();
    const c2 = await client();
    const c3 = await client();
    expect(await exchange(c1, n)).toBeDefined();
    expect(await exchange(c2, n)).toBeDefined();
    c3.send('refused', n.localPorts[0]!);
    expect(await c3.next(300)).toBeUndefined();
    expect(n.stats()).toMatchObject({ entries: 2, refused: 1 });
    expect(await exchange(c1, n)).toBeDefined();
    expect(n.command('clear 1')).toBe('1 - NAT entries dropped.');
    expect(await exchange(c3, n)).toBeDefined();
  });

  it('-f=100 drops every forward datagram, -s drops large ones', async () => {
    const a = await destination('A', '127.0.0.2');
    const n = await nat({ destinations: [a.text], dropForward: 100 });
    const c = await client();
    c.send('dropped', n.localPorts[0]!);
    expect(await c.next(300)).toBeUndefined();
    expect(n.stats()).toMatchObject({ droppedForward: 1, forwarded: 0 });
    const n2 = await nat({ destinations: [a.text], sizeLimit: 10 });
    const c2 = await client();
    c2.send('this is longer than ten bytes', n2.localPorts[0]!);
    expect(await exchange(c2, n2, 'short')).toMatchObject({ payload: 'short' });
    expect(n2.stats()).toMatchObject({ droppedSize: 1, forwarded: 1 });
  });

  it('-b=100 drops every backward datagram', async () => {
    const a = await destination('A', '127.0.0.2');
    const n = await nat({ destinations: [a.text], dropBackward: 100 });
    const c = await client();
    c.send('forwarded', n.localPorts[0]!);
    expect(await waitFor(() => a.received.length === 1)).toBe(true);
    expect(await waitFor(() => n.stats().droppedBackward === 1)).toBe(true);
    expect(await c.next(200)).toBeUndefined();
  });

  it('malformed and oversized input does not disturb the NAT', async () => {
    const a = await destination('A', '127.0.0.2');
    const n = await nat({ destinations: [a.text] });
    const c = await client();
    c.send(Buffer.alloc(0), n.localPorts[0]!);
    c.send(Buffer.alloc(4000, 1), n.localPorts[0]!);
    expect(await waitFor(() => a.received.length === 2)).toBe(true);
    expect(a.received.map((r) => r.data.length)).toEqual([0, 2048]);
    expect(n.stats().truncated).toBeGreaterThanOrEqual(1);
    expect((await exchange(c, n))?.id).toBe('A');
  });
});

describe('NAT --cid routing', () => {
  it('sends CID records to the node of byte 11 from the client entry socket; answers of any node are delivered', async () => {
    const a = await destination('A', '127.0.0.2');
    const b = await destination('B', '127.0.0.3');
    const n = await nat({ destinations: [], cid: [{ nodeId: 1, destination: a.text }, { nodeId: 2, destination: b.text }] });
    expect(n.command('info').split('\n')[1]).toBe('2 destinations.');
    const c = await client();
    const toB = await exchange(c, n, cidRecord(2, 'two'));
    expect(toB?.id).toBe('B');
    const toA = await exchange(c, n, cidRecord(1, 'one'));
    expect(toA?.id).toBe('A');
    // one NAT entry, one outgoing socket for both nodes
    expect(toA?.port).toBe(toB?.port);
    expect(n.stats()).toMatchObject({ entries: 1, cidRouted: 2, wronglyRouted: 0, backwarded: 2 });
    // without CID (or unmapped node-id) the entry's destination is used: the node of its first datagram
    expect((await exchange(c, n, 'plain'))?.id).toBe('B');
    expect((await exchange(c, n, cidRecord(7, 'seven')))?.id).toBe('B');
    expect((await exchange(c, n, cidRecord(1, 'one')))?.id).toBe('A');
    expect(n.stats()).toMatchObject({ cidRouted: 3, wronglyRouted: 0 });
  });

  it('mapped destinations join the list; unrelated sources are still wrongly routed', async () => {
    const a = await destination('A', '127.0.0.2');
    const b = await destination('B', '127.0.0.3');
    const stranger = await destination('X', '127.0.0.4');
    const n = await nat({ destinations: [a.text], cid: [{ nodeId: 5, destination: b.text }] });
    expect(n.command('info')).toContain(`Destination: ${b.text}, usage: 0`);
    const c = await client();
    const echo = await exchange(c, n, cidRecord(5, 'five'));
    expect(echo?.id).toBe('B');
    const natOut = b.received[0]!.from;
    stranger.socket.send('stranger', natOut.port, natOut.address);
    expect(await waitFor(() => n.stats().wronglyRouted === 1)).toBe(true);
    expect(await c.next(200)).toBeUndefined();
  });
});

describe.runIf(HAS_IPV6)('NAT on IPv6', () => {
  it('forwards between ::1 clients and ::1 destinations', async () => {
    const a = await destination('A6', '::1');
    const n = await nat({ destinations: [a.text] }, ['[::1]:0']);
    const c = await client('::1');
    const echo = await exchange(c, n, 'v6');
    expect(echo).toMatchObject({ id: 'A6', payload: 'v6' });
    expect(a.received[0]!.from.address).toBe('::1');
    expect(n.command('info')).toContain(`Destination: [::1]:${a.port}, usage: 1`);
    expect(n.listeners[0]).toMatchObject({ address: '::1' });
  });

  it('mixes IPv4 and IPv6 listeners and destinations', async () => {
    const a = await destination('A', '127.0.0.2');
    const a6 = await destination('A6', '::1');
    const n = await nat({ destinations: [a.text, a6.text] }, ['127.0.0.1:0', '[::1]:0']);
    expect(n.localPorts).toHaveLength(2);
    const ids = new Set<string>();
    for (let i = 0; i < 16 && ids.size < 2; ++i) {
      const v6 = i % 2 === 1;
      const c = await client(v6 ? '::1' : '127.0.0.1');
      c.send('mixed', n.localPorts[v6 ? 1 : 0]!);
      const echo = parseEcho(await c.next());
      expect(echo?.payload).toBe('mixed');
      ids.add(echo!.id);
    }
    expect(ids).toEqual(new Set(['A', 'A6']));
  });
});

describe('NAT start errors', () => {
  it('rejects unresolvable destinations and bind failures', async () => {
    await expect(startNat({ binds: ['127.0.0.1:0'], destinations: ['nonexistent.invalid:5684'] })).rejects.toThrow(
      'Address: nonexistent.invalid:5684 is unresolved!',
    );
    const taken = await bound('udp4', '127.0.0.1');
    await expect(startNat({ binds: [`127.0.0.1:${taken.address().port}`], destinations: ['127.0.0.2:1'] })).rejects.toThrow(
      /cannot bind 127\.0\.0\.1:\d+/,
    );
  });
});

describe('nat executable', () => {
  interface Run {
    code: number | null;
    stdout: string;
    stderr: string;
  }

  function run(args: string[], input?: string): Promise<Run> {
    return new Promise((resolve, reject) => {
      const proc = spawn(process.execPath, [NAT_MAIN, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      proc.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const timer = setTimeout(() => {
        proc.kill('SIGKILL');
        reject(new Error(`nat ${args.join(' ')} did not end:\n${stdout}\n${stderr}`));
      }, 10_000);
      proc.on('close', (code) => {
        clearTimeout(timer);
        resolve({ code, stdout, stderr });
      });
      proc.stdin.end(input ?? '');
    });
  }

  it('is built', () => {
    expect(fs.existsSync(NAT_MAIN), `${NAT_MAIN} missing, run npm run build`).toBe(true);
  });

  it('prints the usage with fewer than 2 arguments and fails on unresolvable destinations', async () => {
    const usage = await run([]);
    expect(usage.code).toBe(0);
    expect(usage.stdout).toMatch(/^usage: :port destination:port/);
    expect(usage.stdout).toContain('--cid=');
    const bad = await run(['127.0.0.1:0', '--', 'nonexistent.invalid:5684']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('Address: nonexistent.invalid:5684 is unresolved!');
    const badOption = await run(['127.0.0.1:0', '--', '127.0.0.2:1', '-d=abc']);
    expect(badOption.code).toBe(1);
    expect(badOption.stderr).toMatch(/invalid number/);
  });

  it('forwards and answers console commands on stdin (info, exit)', async () => {
    const a = await destination('A', '127.0.0.2');
    const proc = spawn(process.execPath, [NAT_MAIN, '127.0.0.1:0', '--', a.text, '-r', '-tnat=60000'], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((r) => proc.on('close', (code) => r(code)));
    try {
      expect(await waitFor(() => /listening on 127\.0\.0\.1:\d+/.test(stdout), 10_000), stdout + stderr).toBe(true);
      expect(stdout).toContain('enable NAT reverse update.');
      expect(stdout).toContain('NAT timeout 60000[ms].');
      const port = Number(/listening on 127\.0\.0\.1:(\d+)/.exec(stdout)![1]);
      const c = await client();
      c.send('through the process', port);
      expect(parseEcho(await c.next())).toMatchObject({ id: 'A', payload: 'through the process' });
      proc.stdin.write('info\n');
      expect(await waitFor(() => stdout.includes('statistics: 1 forwarded'))).toBe(true);
      expect(stdout).toContain('1 NAT entries, reverse address update enabled.\n1 destinations.\n');
      expect(stdout).toContain(`Destination: ${a.text}, usage: 1\n`);
      proc.stdin.write('exit\n');
      const code = await Promise.race([exited, sleep(10_000).then(() => 'timeout' as const)]);
      expect(code).toBe(0);
      expect(stdout).toContain('>> exit\n');
    } finally {
      if (proc.exitCode === null) proc.kill('SIGKILL');
    }
  });

  it('stops on SIGTERM', async () => {
    const a = await destination('A', '127.0.0.2');
    const proc = spawn(process.execPath, [NAT_MAIN, '127.0.0.1:0', '--', a.text], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    proc.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    const exited = new Promise<number | null>((r) => proc.on('close', (code) => r(code)));
    try {
      expect(await waitFor(() => stdout.includes('listening on'), 10_000)).toBe(true);
      proc.kill('SIGTERM');
      expect(await Promise.race([exited, sleep(10_000).then(() => 'timeout' as const)])).toBe(0);
    } finally {
      if (proc.exitCode === null) proc.kill('SIGKILL');
    }
  });
});

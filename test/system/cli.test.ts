// The server process: command line (cli.md §2), exit statuses (§6), console (§5), properties file (§7),
// shutdown paths, and what each logical server answers on its port.
import { execFile, spawn } from 'node:child_process';
import dgram from 'node:dgram';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { decode, encode } from '../../src/coap/codec.js';
import { Code, CON, Opt, type CoapMessage, type CoapOption } from '../../src/coap/message.js';
import { REPO, SERVER_MAIN, freeUdpPorts, hasIpv6Loopback, startServer, type ServerProcess } from '../helpers/server-process.js';
import { reusePortSupported } from '../../src/transport/datagram.js';

const VERSION = (JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')) as { version: string }).version;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the server binary in a fresh temp dir (for runs that end by themselves). */
function runServer(args: string[], opts: { properties?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<Run & { cwd: string }> {
  const cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'extplugtest-cli-'));
  if (opts.properties !== undefined) fs.writeFileSync(path.join(cwd, 'Californium3.properties'), opts.properties);
  const env = { ...process.env, ...opts.env };
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [SERVER_MAIN, ...args], { cwd, env, timeout: opts.timeoutMs ?? 15_000 }, (err, stdout, stderr) => {
      const e = err as (Error & { code?: number | string; killed?: boolean }) | null;
      if (e?.killed) return reject(new Error(`server ${args.join(' ')} did not end:\n${stdout}\n${stderr}`));
      if (e && typeof e.code === 'string') return reject(e);
      resolve({ code: e ? (e.code as number) : 0, stdout, stderr, cwd });
    });
  });
}

const cleanup: string[] = [];
afterEach(() => {
  for (const d of cleanup.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

/** Options of the spec (cli.md §2.1, §2.2) that the usage must list. */
const SPEC_OPTIONS = [
  '--[no-]loopback',
  '--[no-]external',
  '--[no-]ipv4',
  '--[no-]ipv6',
  '--[no-]tcp',
  '--dtls-only',
  '--trust-all',
  '--client-auth',
  '--interfaces-pattern',
  '--[no-]echo-delay',
  '--[no-]oscore',
  '--notify-interval',
  '--store-file',
  '--store-password64',
  '--store-max-age',
  '--psk-file',
  '--[no-]plugtest',
  '--[no-]benchmark',
  '--[no-]diagnose',
  '--dtls-cluster',
  '--dtls-cluster-group',
  '--dtls-cluster-group-security',
  '--k8s-dtls-cluster',
  '--[no-]dtls-cluster-backward',
  '--[no-]dtls-cluster-mac',
  '--k8s-monitor',
  '--k8s-restore',
  '--local-restore',
  '--other-restore',
  '--restore-max-age',
];

// ---- a minimal CoAP request over a fresh socket ----
const text = (m: CoapMessage) => m.payload.toString('utf8');
const option = (m: CoapMessage, n: number) => m.options.find((o) => o.number === n)?.value;
let nextMid = Math.floor(Math.random() * 0x8000);
interface Exchange {
  response: CoapMessage;
  localPort: number;
}
async function coap(host: string, port: number, code: number, uri: string, payload?: string, extra: CoapOption[] = [], follow = true): Promise<Exchange> {
  const sock = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
  try {
    await new Promise<void>((r) => sock.bind(0, host.includes(':') ? '::1' : '127.0.0.1', () => r()));
    const [p, q] = uri.split('?');
    const base: CoapOption[] = [
      ...p!.split('/').filter((s) => s !== '').map((s) => ({ number: Opt.URI_PATH, value: Buffer.from(s) })),
      ...(q ? q.split('&').map((s) => ({ number: Opt.URI_QUERY, value: Buffer.from(s) })) : []),
      ...extra,
    ];
    const once = (options: CoapOption[], body: Buffer): Promise<CoapMessage> => {
      const mid = (nextMid = (nextMid + 1) & 0xffff);
      const token = Buffer.from([0x42, mid & 0xff]);
      const req: CoapMessage = { type: CON, code, mid, token, options: [...options].sort((a, b) => a.number - b.number), payload: body };
      return new Promise<CoapMessage>((resolve, reject) => {
        let timer: NodeJS.Timeout | undefined;
        let tries = 0;
        const onMessage = (m: Buffer) => {
          try {
            const msg = decode(m);
            if (msg.token.equals(token) && msg.code !== 0) {
              clearTimeout(timer);
              sock.off('message', onMessage);
              resolve(msg);
            }
          } catch {
            // ignore
          }
        };
        const send = () => {
          if (tries++ === 4) {
            sock.off('message', onMessage);
            return reject(new Error(`no response to ${uri} from ${host}:${port}`));
          }
          sock.send(encode(req), port, host);
          timer = setTimeout(send, 500 * tries);
        };
        sock.on('message', onMessage);
        send();
      });
    };
    const first = await once(base, Buffer.from(payload ?? ''));
    // follow Block2 (RFC 7959) so that long answers are complete; the first block's options are kept
    let block2 = option(first, Opt.BLOCK2);
    const parts = [first.payload];
    let guard = 0;
    while (follow && block2 && block2.length > 0 && (block2[block2.length - 1]! & 0x08) !== 0 && guard++ < 200) {
      const v = block2.reduce((n, b) => n * 256 + b, 0);
      const szx = v & 7;
      const num = (v >> 4) + 1;
      const next = num * 16 + szx;
      const value = next < 256 ? Buffer.from([next]) : next < 65536 ? Buffer.from([next >> 8, next & 0xff]) : Buffer.from([next >> 16, (next >> 8) & 0xff, next & 0xff]);
      const m = await once([...base, { number: Opt.BLOCK2, value }], Buffer.alloc(0));
      parts.push(m.payload);
      block2 = option(m, Opt.BLOCK2);
    }
    const response = parts.length > 1 ? { ...first, payload: Buffer.concat(parts) } : first;
    return { response, localPort: sock.address().port };
  } finally {
    sock.close();
  }
}

/** The UDP sockets a process has bound, as `<address>:<port>` (from /proc/<pid>/fd and /proc/net/udp{,6}). */
function boundUdp(pid: number): string[] {
  const inodes = new Set<string>();
  for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) inodes.add(m[1]!);
    } catch {
      // fd closed meanwhile
    }
  }
  const out: string[] = [];
  for (const [file, v6] of [['/proc/net/udp', false], ['/proc/net/udp6', true]] as const) {
    let textTable = '';
    try {
      textTable = fs.readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of textTable.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols.length < 10 || !inodes.has(cols[9]!)) continue;
      const [hexAddr, hexPort] = cols[1]!.split(':') as [string, string];
      const port = parseInt(hexPort, 16);
      let addr: string;
      if (!v6) {
        addr = [3, 2, 1, 0].map((i) => parseInt(hexAddr.slice(i * 2, i * 2 + 2), 16)).join('.');
      } else {
        // four little-endian 32-bit words
        const bytes: number[] = [];
        for (let w = 0; w < 4; w++) for (let b = 3; b >= 0; b--) bytes.push(parseInt(hexAddr.slice(w * 8 + b * 2, w * 8 + b * 2 + 2), 16));
        const groups: string[] = [];
        for (let i = 0; i < 16; i += 2) groups.push(((bytes[i]! << 8) | bytes[i + 1]!).toString(16));
        addr = `[${groups.join(':')}]`.replace('[0:0:0:0:0:0:0:1]', '[::1]').replace('[0:0:0:0:0:0:0:0]', '[::]');
      }
      out.push(`${addr}:${port}`);
    }
  }
  return out.sort();
}

describe('command line', () => {
  it('-h and --help print the usage to stdout, nothing to stderr, and exit 0 without starting', async () => {
    for (const flag of ['-h', '--help']) {
      const r = await runServer([flag]);
      cleanup.push(r.cwd);
      expect(r.code).toBe(0);
      expect(r.stderr).toBe('');
      expect(r.stdout).toMatch(/^Usage: extended-test-server /);
      for (const o of SPEC_OPTIONS) expect(r.stdout, o).toContain(o);
      expect(r.stdout).toContain('-h, --help');
      expect(r.stdout).not.toMatch(/started \.\.\./);
      // no server ran: no properties file was written
      expect(fs.existsSync(path.join(r.cwd, 'Californium3.properties'))).toBe(false);
    }
  });

  it.each([
    [['--bogus'], '--bogus'],
    [['--no-such-flag=1'], '--no-such-flag'],
    [['-x'], '-x'],
  ])('unknown option %j: exit 255, the error and the usage on stderr, nothing on stdout', async (args, name) => {
    const r = await runServer(args);
    cleanup.push(r.cwd);
    expect(r.code).toBe(255);
    expect(r.stdout).toBe('');
    const [first] = r.stderr.split('\n');
    expect(first).toContain(name);
    expect(first).toMatch(/unknown/i);
    expect(r.stderr).toContain('Usage: extended-test-server ');
    expect(r.stderr).toContain('--notify-interval');
  });

  it.each([
    [['--notify-interval', 'abc'], '--notify-interval'],
    [['--notify-interval'], '--notify-interval'],
    [['--client-auth', 'SOMETIMES'], '--client-auth'],
    [['--store-file', 'state.bin'], '--store-max-age'],
    [['--local-restore', ':5999'], '--other-restore'],
  ])('conversion / group rule error %j: exit 255 naming %s', async (args, name) => {
    const r = await runServer(args);
    cleanup.push(r.cwd);
    expect(r.code).toBe(255);
    expect(r.stderr.split('\n\n')[0]).toContain(name);
    expect(r.stderr).toContain('Usage: extended-test-server ');
  });

  it('--no-ipv4 --no-ipv6: start-up fails with exit 1', async () => {
    const r = await runServer(['--no-ipv4', '--no-ipv6']);
    cleanup.push(r.cwd);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^Failed to create extplugtest server: .*(ipv4|ipv6)/im);
    expect(r.stderr).toContain('Exiting');
    expect(r.stdout + r.stderr).not.toMatch(/started \.\.\./);
  });

  it('--no-loopback --no-external: start-up fails with exit 1', async () => {
    const r = await runServer(['--no-loopback', '--no-external']);
    cleanup.push(r.cwd);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^Failed to create extplugtest server: /m);
  });

  it('--notify-interval=abc: exit 255, the message names the bad value once, then the usage', async () => {
    const r = await runServer(['--notify-interval=abc']);
    cleanup.push(r.cwd);
    expect(r.code).toBe(255);
    expect(r.stdout).toBe('');
    const [message, rest] = [r.stderr.split('\n\n')[0], r.stderr.split('\n\n').slice(1).join('\n\n')];
    expect(message).toBe("Invalid value for option '--notify-interval': 'abc': not a time like 2[s] (units ns, ys, ms, s, min, h, d)");
    expect(rest).toMatch(/^Usage: extended-test-server /);
  });

  it.each([
    [['--k8s-monitor', '8080'], "Invalid value for option '--k8s-monitor': '8080': not an address like :5684, host:5684 or [::1]:5684"],
    [['--dtls-cluster=:5784;:5884;x'], "Invalid value for option '--dtls-cluster': ':5784;:5884;x': node-id 'x' is not an integer"],
  ])('conversion error %j: the value once', async (args, message) => {
    const r = await runServer(args);
    cleanup.push(r.cwd);
    expect(r.code).toBe(255);
    expect(r.stderr.split('\n')[0]).toBe(message);
  });

  it('--help marks no flag as unavailable; --tcp and --oscore are on by default and accepted', async () => {
    const r = await runServer(['--help']);
    cleanup.push(r.cwd);
    expect(r.code).toBe(0);
    expect(r.stdout).not.toContain('not available');
    const entries = r.stdout.replace(/\n {36}/g, ' ').split('\n');
    for (const flag of ['tcp', 'oscore']) expect(entries.find((l) => l.startsWith(`  --[no-]${flag} `)), flag).toMatch(/\(default: on\)$/);
  });


  it('--workers 2: two workers where a UDP port can be shared, else one worker with a warning', async () => {
    const sp = await startServer({ args: ['--no-external', '--workers', '2'], timeoutMs: 30_000 });
    try {
      if (reusePortSupported()) {
        expect(sp.output()).toMatch(/"pids":\[\d+,\d+\].*"msg":"2 workers serve the extended server"/);
      } else {
        expect(sp.output()).toMatch(/--workers 2: Node\.js [\d.]+ on linux cannot share a UDP port between processes .*running one worker/);
        expect(sp.output()).not.toMatch(/workers serve the extended server/);
      }
      expect(sp.output()).toMatch(/started \.\.\./);
    } finally {
      await sp.stop();
    }
  });

  it('--workers 0: invalid value, exit 255', async () => {
    const r = await runServer(['--workers', '0']);
    cleanup.push(r.cwd);
    expect(r.code).toBe(255);
    expect(r.stderr).toContain("Invalid value for option '--workers': '0': expected a number of workers from 1 to 256");
  });

  it('--no-loopback with only loopback addresses (COAP_NETWORK_INTERFACES=lo): exit 1, no endpoint, naming the cause', async () => {
    const r = await runServer(['--no-loopback'], { env: { COAP_NETWORK_INTERFACES: 'lo' } });
    cleanup.push(r.cwd);
    expect(r.code).toBe(1);
    const found = hasIpv6Loopback() ? '127.0.0.1, ::1' : '127.0.0.1';
    expect(r.stderr).toBe(`Failed to create extplugtest server: no endpoint available! (--no-loopback: only loopback addresses found: ${found})\nExiting\n`);
    expect(r.stdout + r.stderr).not.toMatch(/started \.\.\./);
  });

  it('--psk-file naming a missing file: exit 1, the message names the file and what to do', async () => {
    const r = await runServer(['--no-external', '--no-tcp', '--no-oscore', '--psk-file', 'nope.txt']);
    cleanup.push(r.cwd);
    expect(r.code).toBe(1);
    const abs = path.join(fs.realpathSync(r.cwd), 'nope.txt');
    expect(r.stderr).toBe(
      `Failed to create extplugtest server: DTLS credentials: --psk-file: PSK file 'nope.txt' (${abs}): not found; ` +
        'create it or correct the path (lines <identity>=<base64 secret> or <identity>=:0x<hex secret>), or leave out --psk-file\nExiting\n',
    );
  });

});

describe('properties file', () => {
  it('a missing Californium3.properties is written with defaults and comments (start-up then fails for another reason)', async () => {
    const r = await runServer(['--no-ipv4', '--no-ipv6']);
    cleanup.push(r.cwd);
    expect(r.code).toBe(1);
    const file = path.join(r.cwd, 'Californium3.properties');
    expect(fs.existsSync(file), 'properties file not written').toBe(true);
    const lines = fs.readFileSync(file, 'utf8').split('\n');
    expect(lines[0]).toMatch(/^# Californium CoAP Properties file/);
    expect(Number.isNaN(Date.parse(lines[1]!.replace(/^# /, '')))).toBe(false);
    expect(lines[2]).toBe('#');
    for (const kv of [
      'COAP.COAP_PORT=5783',
      'COAP.COAP_SECURE_PORT=5784',
      'PLUGTEST.COAP.COAP_PORT=5683',
      'PLUGTEST.COAP.COAP_SECURE_PORT=5684',
      'COAP.MAX_MESSAGE_SIZE=1024',
      'COAP.PREFERRED_BLOCK_SIZE=1024',
      'PLUGTEST.COAP.MAX_MESSAGE_SIZE=64',
      'PLUGTEST.COAP.PREFERRED_BLOCK_SIZE=64',
      'COAP.MAX_RESOURCE_BODY_SIZE=8192',
      'COAP.ACK_TIMEOUT=2[s]',
      'COAP.EXCHANGE_LIFETIME=247[s]',
      'EXTERNAL_UDP_MAX_MESSAGE_SIZE=64',
    ]) {
      expect(lines, kv).toContain(kv);
    }
    // every KEY=value line is preceded by its comment block, with a "# Default:" line where a default exists
    const keyLines = lines.map((l, i) => [l, i] as const).filter(([l]) => /^[A-Z_.0-9]+=/.test(l));
    expect(keyLines.length).toBeGreaterThan(20);
    for (const [l, i] of keyLines) expect(lines[i - 1], `comment before ${l}`).toMatch(/^# /);
    const portIdx = lines.indexOf('COAP.COAP_PORT=5783');
    expect(lines[portIdx - 1]).toBe('# Default: 5683');
    // keys without a module prefix first (sorted), then the module keys (sorted)
    const keys = keyLines.map(([l]) => l.split('=')[0]!);
    const plain = keys.filter((k) => !k.includes('.'));
    const modules = keys.filter((k) => k.includes('.'));
    expect(keys).toEqual([...plain, ...modules]);
    expect(plain).toEqual([...plain].sort());
    expect(modules).toEqual([...modules].sort());
  });

  it('an invalid value (COAP.ACK_TIMEOUT=abc) stops start-up with exit 1 naming file, line, key and value', async () => {
    const properties = '# my settings\n\nCOAP.ACK_TIMEOUT=abc\n';
    const r = await runServer(['--no-external'], { properties });
    cleanup.push(r.cwd);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      'Failed to create extplugtest server: Californium3.properties:3: COAP.ACK_TIMEOUT=abc: expected a time like 2[s], at least 1[ms]\nExiting\n',
    );
    expect(r.stdout + r.stderr).not.toMatch(/started \.\.\./);
    // the file is not rewritten
    expect(fs.readFileSync(path.join(r.cwd, 'Californium3.properties'), 'utf8')).toBe(properties);
  });

  it.each([['PLUGTEST.COAP.MAX_MESSAGE_SIZE=-5'], ['COAP.COAP_PORT=70000'], ['COAP.DEDUPLICATOR=SOMETIMES'], ['PLUGTEST.COAP.COAP_PORT=x']])(
    'invalid value %s: exit 1, the message names the key as written in the file and the value',
    async (kv) => {
      const r = await runServer(['--no-external'], { properties: kv + '\n' });
      cleanup.push(r.cwd);
      expect(r.code).toBe(1);
      const [key, value] = kv.split('=') as [string, string];
      const line = r.stderr.split('\n').find((l) => l.startsWith('Failed to create'));
      expect(line, r.stderr).toBeDefined();
      // the key must be named exactly (a PLUGTEST. key must not be reported as the extended server's key), as in the file
      expect(line).toMatch(new RegExp(`(^|[^A-Z_.])${key.replace(/\./g, '\\.')}([^A-Z_.]|$)`));
      expect(line).toContain(`: Californium3.properties:1: ${kv}: expected `);
    },
  );

  describe('a partial file', () => {
    let sp: ServerProcess;
    const partial = ['FOO.BAR=1', 'PLUGTEST.COAP.MAX_MESSAGE_SIZE=128', 'PLUGTEST.COAP.PREFERRED_BLOCK_SIZE=128'];
    let before = '';
    beforeAll(async () => {
      sp = await startServer({ properties: partial });
      before = fs.readFileSync(path.join(sp.cwd, 'Californium3.properties'), 'utf8');
    });
    afterAll(async () => {
      await sp?.stop();
    });

    it('unknown keys are warned about (naming the key) and the file is never rewritten', () => {
      const warning = sp.output().split('\n').find((l) => l.includes('FOO.BAR'));
      expect(warning, sp.output()).toBeDefined();
      expect(warning).toMatch(/unknown/i);
      expect(fs.readFileSync(path.join(sp.cwd, 'Californium3.properties'), 'utf8')).toBe(before);
    });

    it('keys in the file override: the plugtest /large comes in 128-byte blocks', async () => {
      const { response } = await coap('127.0.0.1', sp.ports.plug, Code.GET, '/large', undefined, [], false);
      expect(response.code).toBe(Code.CONTENT);
      expect(response.payload.length).toBe(128);
      // Block2 num 0, M=1, szx 3 (128)
      expect(option(response, Opt.BLOCK2)?.toString('hex')).toBe('0b');
    });

    it('keys missing from the file keep the defaults: the extended server sends 1024-byte blocks', async () => {
      const { response } = await coap('127.0.0.1', sp.ports.ext, Code.POST, '/echo?rlen=1500', 'x'.repeat(10), [], false);
      expect(response.code).toBe(Code.CHANGED);
      expect(response.payload.length).toBe(1024);
      // Block2 num 0, M=1, szx 6 (1024)
      expect(option(response, Opt.BLOCK2)?.toString('hex')).toBe('0e');
      expect(response.payload.toString()).toBe('x'.repeat(10) + '*'.repeat(1014));
    });
  });
});

describe('--psk-file warnings', () => {
  it('each skipped line is warned about once', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'extplugtest-psk-'));
    cleanup.push(dir);
    const file = path.join(dir, 'psk.txt');
    fs.writeFileSync(file, 'me=:0x0102\nbroken line\n');
    const sp = await startServer({ args: ['--no-external', '--no-tcp', '--no-oscore', '--psk-file', file] });
    try {
      const out = sp.output();
      expect(out.split(`${file}:2: missing '=', line skipped`).length - 1, out).toBe(1);
      expect(out.split('line skipped').length - 1, out).toBe(1);
    } finally {
      await sp.stop();
    }
  });
});

describe('process end', () => {
  it('console: each line is echoed as "> <line>", `exit` stops the server with status 0', async () => {
    const sp = await startServer();
    try {
      sp.write('hello');
      sp.write('exit');
      const code = await Promise.race([sp.exited, new Promise((r) => setTimeout(() => r('timeout'), 10_000))]);
      expect(code).toBe(0);
      expect(sp.output()).toContain('> hello\n');
      expect(sp.output()).toContain('> exit\n');
    } finally {
      await sp.stop();
    }
  });

  it('console: `exit` with extra text is ignored; EOF on stdin keeps the server running; SIGTERM exits 0', async () => {
    const sp = await startServer();
    try {
      sp.write('exit now');
      sp.proc.stdin!.end();
      await new Promise((r) => setTimeout(r, 600));
      expect(sp.proc.exitCode).toBeNull();
      const { response } = await coap('127.0.0.1', sp.ports.plug, Code.GET, '/test');
      expect(response.code).toBe(Code.CONTENT);
      sp.proc.kill('SIGTERM');
      const code = await Promise.race([sp.exited, new Promise((r) => setTimeout(() => r('timeout'), 10_000))]);
      expect(code).toBe(0);
      expect(sp.proc.signalCode).toBeNull();
    } finally {
      await sp.stop();
    }
  });

  it('SIGINT exits 0', async () => {
    const sp = await startServer();
    try {
      sp.proc.kill('SIGINT');
      const code = await Promise.race([sp.exited, new Promise((r) => setTimeout(() => r('timeout'), 10_000))]);
      expect(code).toBe(0);
    } finally {
      await sp.stop();
    }
  });

  it('POST /shutdown: other payload → 4.03 and the server lives; "sesame" → 2.04 and the process exits 0', async () => {
    const sp = await startServer();
    try {
      const wrong = await coap('127.0.0.1', sp.ports.plug, Code.POST, '/shutdown', 'sesam');
      expect(wrong.response.code).toBe(Code.FORBIDDEN);
      await new Promise((r) => setTimeout(r, 800));
      expect(sp.proc.exitCode).toBeNull();
      const t0 = Date.now();
      const right = await coap('127.0.0.1', sp.ports.plug, Code.POST, '/shutdown', 'sesame');
      expect(right.response.code).toBe(Code.CHANGED);
      const code = await Promise.race([sp.exited, new Promise((r) => setTimeout(() => r('timeout'), 10_000))]);
      expect(code).toBe(0);
      // the response is sent first, the process ends about 500 ms later
      expect(Date.now() - t0).toBeGreaterThanOrEqual(400);
    } finally {
      await sp.stop();
    }
  });
});

describe('the two servers on their ports', () => {
  let sp: ServerProcess;
  beforeAll(async () => {
    sp = await startServer();
  });
  afterAll(async () => {
    await sp?.stop();
  });

  it('with --no-external the process binds exactly the coap and coaps ports on 127.0.0.1 and ::1 (per address, no wildcard)', () => {
    const ports = [sp.ports.plug, sp.ports.plugSecure, sp.ports.ext, sp.ports.extSecure];
    const expected = ports.map((p) => `127.0.0.1:${p}`);
    if (hasIpv6Loopback()) expected.push(...ports.map((p) => `[::1]:${p}`));
    expect(boundUdp(sp.proc.pid!)).toEqual(expected.sort());
  });

  it('extended GET /mycontext (IPv4): ip, port and server lines, text', async () => {
    const { response, localPort } = await coap('127.0.0.1', sp.ports.ext, Code.GET, '/mycontext');
    expect(response.code).toBe(Code.CONTENT);
    expect(option(response, Opt.CONTENT_FORMAT)?.length ?? 0).toBe(0); // text/plain = 0 (empty uint)
    expect(text(response)).toBe(`ip: 127.0.0.1\nport: ${localPort}\nserver: extplugtest ${VERSION}`);
  });

  it.skipIf(!hasIpv6Loopback())('extended GET /mycontext (IPv6)', async () => {
    const { response, localPort } = await coap('::1', sp.ports.ext, Code.GET, '/mycontext');
    expect(text(response)).toBe(`ip: ::1\nport: ${localPort}\nserver: extplugtest ${VERSION}`);
  });

  it('extended GET /myip: <ip>:<port>, IPv6 in brackets', async () => {
    const v4 = await coap('127.0.0.1', sp.ports.ext, Code.GET, '/myip');
    expect(v4.response.code).toBe(Code.CONTENT);
    expect(text(v4.response)).toBe(`127.0.0.1:${v4.localPort}`);
    if (hasIpv6Loopback()) {
      const v6 = await coap('::1', sp.ports.ext, Code.GET, '/myip');
      expect(text(v6.response)).toBe(`[::1]:${v6.localPort}`);
    }
  });

  it('extended /.well-known/core lists /echo, /mycontext, /myip and not the plugtest resources', async () => {
    const { response } = await coap('127.0.0.1', sp.ports.ext, Code.GET, '/.well-known/core');
    expect(response.code).toBe(Code.CONTENT);
    expect(option(response, Opt.CONTENT_FORMAT)?.toString('hex')).toBe('28');
    const hrefs = text(response)
      .split(',')
      .map((l) => /^<([^>]*)>/.exec(l)?.[1]);
    for (const h of ['/echo', '/mycontext', '/myip']) expect(hrefs).toContain(h);
    for (const h of ['/test', '/large', '/obs', '/shutdown', '/telemetry', '/event']) expect(hrefs).not.toContain(h);
    expect(text(response)).toContain('</mycontext>;ct="0 60 50 41";title="Communication Context"');
    expect(text(response)).toContain('</myip>;ct="0 50 41";title="MyIP"');
  });

  it('extended GET /test: 4.04 (it is a plugtest resource)', async () => {
    const { response } = await coap('127.0.0.1', sp.ports.ext, Code.GET, '/test');
    expect(response.code).toBe(Code.NOT_FOUND);
  });

  it('plugtest /.well-known/core lists /test but not /mycontext or /myip (invisible there), which still answer', async () => {
    const { response } = await coap('127.0.0.1', sp.ports.plug, Code.GET, '/.well-known/core');
    const hrefs = text(response)
      .split(',')
      .map((l) => /^<([^>]*)>/.exec(l)?.[1]);
    expect(hrefs).toContain('/test');
    expect(hrefs).toContain('/shutdown');
    expect(hrefs).not.toContain('/mycontext');
    expect(hrefs).not.toContain('/myip');
    const ctx = await coap('127.0.0.1', sp.ports.plug, Code.GET, '/mycontext');
    expect(text(ctx.response)).toBe(`ip: 127.0.0.1\nport: ${ctx.localPort}\nserver: extplugtest ${VERSION}`);
  });
});

describe('variants', () => {
  it('--no-plugtest: only the extended server runs (the plugtest port does not answer)', async () => {
    const sp = await startServer({ args: ['--no-external', '--no-plugtest'] });
    try {
      const { response } = await coap('127.0.0.1', sp.ports.ext, Code.GET, '/myip');
      expect(response.code).toBe(Code.CONTENT);
      const ports = [sp.ports.ext, sp.ports.extSecure];
      const expected = [...ports.map((p) => `127.0.0.1:${p}`), ...(hasIpv6Loopback() ? ports.map((p) => `[::1]:${p}`) : [])].sort();
      expect(boundUdp(sp.proc.pid!)).toEqual(expected);
      expect(sp.output()).not.toContain('PLUG-TEST');
    } finally {
      await sp.stop();
    }
  });

  it('--dtls-only: only the coaps ports are bound, coap gets no answer', async () => {
    const sp = await startServer({ args: ['--no-external', '--dtls-only'] });
    try {
      const ports = [sp.ports.plugSecure, sp.ports.extSecure];
      const expected = [...ports.map((p) => `127.0.0.1:${p}`), ...(hasIpv6Loopback() ? ports.map((p) => `[::1]:${p}`) : [])].sort();
      expect(boundUdp(sp.proc.pid!)).toEqual(expected);
      expect(sp.output()).toContain(`coaps://127.0.0.1:${sp.ports.extSecure}`);
      expect(sp.output()).not.toContain(`coap://127.0.0.1:${sp.ports.ext}`);
    } finally {
      await sp.stop();
    }
  });

  it('a non-empty file "build" in the working directory suffixes the version: server: extplugtest <v>_<build>', async () => {
    const cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'extplugtest-build-'));
    cleanup.push(cwd);
    const [plug, plugSecure, ext, extSecure] = await freeUdpPorts(4);
    const ports = { plug: plug!, plugSecure: plugSecure!, ext: ext!, extSecure: extSecure! };
    fs.writeFileSync(path.join(cwd, 'build'), '7\n');
    fs.writeFileSync(
      path.join(cwd, 'Californium3.properties'),
      [`COAP.COAP_PORT=${ports.ext}`, `COAP.COAP_SECURE_PORT=${ports.extSecure}`, `PLUGTEST.COAP.COAP_PORT=${ports.plug}`, `PLUGTEST.COAP.COAP_SECURE_PORT=${ports.plugSecure}`].join('\n') + '\n',
    );
    const proc = spawn(process.execPath, [SERVER_MAIN, '--no-external', '--no-plugtest'], { cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    proc.stdout.on('data', (d) => (out += d.toString()));
    proc.stderr.on('data', (d) => (out += d.toString()));
    const exited = new Promise<number | null>((r) => proc.on('exit', (c) => r(c)));
    try {
      const deadline = Date.now() + 15_000;
      while (!/started \.\.\./.test(out) && proc.exitCode === null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(out).toMatch(/started \.\.\./);
      expect(out).toContain(`version ${VERSION}_7`);
      const { response, localPort } = await coap('127.0.0.1', ports.ext, Code.GET, '/mycontext');
      expect(text(response)).toBe(`ip: 127.0.0.1\nport: ${localPort}\nserver: extplugtest ${VERSION}_7`);
    } finally {
      proc.kill('SIGTERM');
      expect(await exited).toBe(0);
    }
  });
});

// Benchmark client command line (clients.md §3.2): defaults, validation texts, environment defaults, modes.
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/clients/common-options.js';
import { MissingUriError, blocksizeOption, intOption, parseBenchmarkArgs, reverseInterval } from '../../src/clients/benchmark/options.js';
import { buildRequestSpecs, uriOptions } from '../../src/clients/benchmark/requests.js';
import { benchmarkStackConfig } from '../../src/clients/benchmark/defaults.js';
import { Code, CON, NON, Opt } from '../../src/coap/message.js';
import { decodeUint } from '../../src/coap/options.js';

const URI = 'coap://127.0.0.1:5783/benchmark?rlen=40';

function parse(args: string[], env: NodeJS.ProcessEnv = {}) {
  const printed: string[] = [];
  const cmd = parseBenchmarkArgs(args, env, '9.9.9', (t) => printed.push(t));
  return { cmd, printed: printed.join('') };
}

function usage(args: string[], env: NodeJS.ProcessEnv = {}): string {
  try {
    parse(args, env);
  } catch (err) {
    expect(err).toBeInstanceOf(UsageError);
    return (err as Error).message;
  }
  throw new Error(`no usage error for ${args.join(' ')}`);
}

describe('benchmark options', () => {
  it('defaults: 5 clients, 100 requests, stop on errors, no modes', () => {
    const { cmd } = parse([URI]);
    expect(cmd!.settings).toMatchObject({
      clients: 5,
      requests: 100,
      stop: true,
      hono: false,
      interval: 0,
      handshakesFull: 0,
      handshakesClose: 0,
      handshakesBurst: 0,
      reverse: undefined,
      observe: undefined,
      blocksize: undefined,
      tag: 'client-',
    });
    expect(cmd!.client.uri.href).toBe(URI);
    expect(cmd!.client.con).toBe(true);
  });

  it('--blocksize accepts powers of two 16..1024 and rejects others with the reference text', () => {
    for (const n of [16, 32, 64, 128, 256, 512, 1024]) expect(parse([URI, '--blocksize', String(n)]).cmd!.settings.blocksize).toBe(n);
    for (const n of [100, 2048, 8, 0, 48]) {
      expect(usage([URI, '--blocksize', String(n)])).toBe(`Invalid value '${n}' for option '--blocksize': value is not [16, 32, ..., 1024].`);
    }
    expect(() => blocksizeOption('abc')).toThrow("Invalid value for option '--blocksize': 'abc' is not an int");
  });

  it('integer options report non-numbers like picocli', () => {
    expect(usage([URI, '--clients', 'many'])).toBe("Invalid value for option '--clients': 'many' is not an int");
    expect(intOption('requests', '12')).toBe(12);
    expect(intOption('requests', undefined)).toBeUndefined();
    expect(usage([URI, '--clients', '0'])).toMatch(/--clients.*less than 1/);
  });

  it('--requests below 1 becomes 1; --no-stop; --non', () => {
    const { cmd } = parse([URI, '--requests', '0', '--no-stop', '--non']);
    expect(cmd!.settings.requests).toBe(1);
    expect(cmd!.settings.stop).toBe(false);
    expect(cmd!.client.con).toBe(false);
  });

  it('handshake options and interval fall back to the environment', () => {
    const env = { COAPS_HANDSHAKES_FULL: '7', COAPS_HANDSHAKES_CLOSE: '9', COAPS_HANDSHAKES_BURST: '3', COAP_REQUEST_INTERVAL: '250', COAP_HONO: 'TRUE' };
    const s = parse([URI], env).cmd!.settings;
    expect([s.handshakesFull, s.handshakesClose, s.handshakesBurst, s.interval, s.hono]).toEqual([7, 9, 3, 250, true]);
    const secure = 'coaps://127.0.0.1:5784/benchmark';
    const o = parse([secure, '--handshakes-full', '2', '--handshakes-close', '4', '--handshakes-burst', '1', '--interval', '5', '--no-hono'], env).cmd!.settings;
    expect([o.handshakesFull, o.handshakesClose, o.handshakesBurst, o.interval, o.hono]).toEqual([2, 4, 1, 5, false]);
    expect(parse(['coaps+tcp://127.0.0.1:5784/benchmark', '--handshakes-close', '4']).cmd!.settings.handshakesClose).toBe(4);
    // on a plain URI the flags are refused (the environment defaults only apply to secure runs)
    expect(usage([URI, '--handshakes-full', '2'])).toBe('--handshakes-full: forced handshakes need a coaps or coaps+tcp URI, not coap');
    expect(usage(['coap+tcp://127.0.0.1/benchmark', '--handshakes-burst', '1'])).toBe('--handshakes-burst: forced handshakes need a coaps or coaps+tcp URI, not coap+tcp');
    // malformed environment values are ignored
    expect(parse([URI], { COAPS_HANDSHAKES_FULL: 'x' }).cmd!.settings.handshakesFull).toBe(0);
  });

  it('--reverse with --min/--max: default 100, one bound for both, swapped when reversed', () => {
    expect(parse([URI, '--reverse', '20']).cmd!.settings.reverse).toEqual({ responses: 20, min: 100, max: 100 });
    expect(parse([URI, '--reverse', '20', '--min', '50']).cmd!.settings.reverse).toEqual({ responses: 20, min: 50, max: 50 });
    expect(parse([URI, '--reverse', '20', '--maxinterval', '70']).cmd!.settings.reverse).toEqual({ responses: 20, min: 70, max: 70 });
    expect(parse([URI, '--reverse', '20', '--min', '200', '--max', '-200']).cmd!.settings.reverse).toEqual({ responses: 20, min: -200, max: 200 });
    expect(reverseInterval(undefined, undefined)).toEqual({ min: 100, max: 100 });
    expect(usage([URI, '--min', '5'])).toBe('--min and --max need --reverse');
  });

  it('--notifies: observe mode with one request per client; --reregister/--register/--cancel-proactive', () => {
    const s = parse([URI, '--requests', '50', '--notifies', '30', '--reregister', '5', '--register', '10', '--cancel-proactive']).cmd!.settings;
    expect(s.observe).toEqual({ notifies: 30, reregister: 5, register: 10, proactive: true });
    expect(s.requests).toBe(1);
    expect(usage([URI, '--register', '5'])).toBe('--reregister, --register and --cancel-proactive need --notifies');
  });

  it('--reverse and --notifies are mutually exclusive', () => {
    expect(usage([URI, '--reverse', '5', '--notifies', '5'])).toBe('--reverse and --notifies are mutually exclusive (specify only one)');
  });

  it('--bertblocks n: 1..64 blocks of 1024 bytes over coap+tcp and coaps+tcp; refused over coap and coaps, with --blocksize and out of range', () => {
    expect(parse(['coap+tcp://127.0.0.1/benchmark', '--bertblocks', '4']).cmd!.settings.bertBlocks).toBe(4);
    expect(parse(['coaps+tcp://127.0.0.1/benchmark', '--bertblocks', '1']).cmd!.settings.bertBlocks).toBe(1);
    expect(parse(['coap+tcp://127.0.0.1/benchmark']).cmd!.settings.bertBlocks).toBeUndefined();
    expect(usage([URI, '--bertblocks', '4'])).toBe('--bertblocks: BERT (RFC 8323 §6) needs a coap+tcp or coaps+tcp URI, not coap');
    expect(usage(['coaps://127.0.0.1/benchmark', '--bertblocks', '4'])).toBe('--bertblocks: BERT (RFC 8323 §6) needs a coap+tcp or coaps+tcp URI, not coaps');
    expect(usage(['coap+tcp://127.0.0.1/benchmark', '--bertblocks', '0'])).toBe("Invalid value '0' for option '--bertblocks': value is not [1, ..., 64].");
    expect(usage(['coap+tcp://127.0.0.1/benchmark', '--bertblocks', '65'])).toBe("Invalid value '65' for option '--bertblocks': value is not [1, ..., 64].");
    expect(usage(['coap+tcp://127.0.0.1/benchmark', '--bertblocks', 'x'])).toBe("Invalid value for option '--bertblocks': 'x' is not an int");
    expect(usage(['coap+tcp://127.0.0.1/benchmark', '--bertblocks', '4', '--blocksize', '64'])).toBe(
      '--blocksize and --bertblocks are mutually exclusive (--bertblocks uses blocks of 1024 bytes)',
    );
  });

  it('the stack of --bertblocks n: message and block size 1024, n bulk blocks; without it 1 (clients.md §3.1: BERT off)', () => {
    expect(benchmarkStackConfig(undefined, undefined, 4)).toMatchObject({ maxMessageSize: 1024, preferredBlockSize: 1024, tcpNumberOfBulkBlocks: 4 });
    expect(benchmarkStackConfig(undefined, undefined)).toMatchObject({ maxMessageSize: 1024, preferredBlockSize: 1024, tcpNumberOfBulkBlocks: 1 });
    expect(benchmarkStackConfig(64, undefined)).toMatchObject({ maxMessageSize: 64, preferredBlockSize: 64, tcpNumberOfBulkBlocks: 1 });
  });

  it('coap+tcp and coaps+tcp URIs are accepted; other schemes are refused', () => {
    expect(parse(['coap+tcp://127.0.0.1/benchmark']).cmd!.client.uri.protocol).toBe('coap+tcp:');
    expect(parse(['coaps+tcp://127.0.0.1/benchmark']).cmd!.client.uri.protocol).toBe('coaps+tcp:');
    expect(usage(['http://127.0.0.1/benchmark'])).toMatch(/scheme 'http' is not supported \(coap, coaps, coap\+tcp and coaps\+tcp are\)/);
  });

  it('common refusals apply (-C, --proxy) and unknown options fail', () => {
    expect(usage([URI, '-C', 'x.properties'])).toMatch(/^--config: /);
    expect(usage([URI, '--proxy', 'localhost:5683'])).toMatch(/^--proxy: /);
    expect(usage([URI, '--bogus'])).toMatch(/bogus/);
  });

  it('--help and --version print and return no command', () => {
    const help = parse(['--help']);
    expect(help.cmd).toBeUndefined();
    expect(help.printed).toContain('--handshakes-close');
    expect(help.printed).toContain('--notifies');
    const version = parse(['--version']);
    expect(version.cmd).toBeUndefined();
    expect(version.printed).toContain('9.9.9');
  });

  it('no destination URI: refused with a message and the usage (no default host for a load tool)', () => {
    for (const args of [[], ['--clients', '10'], ['--json', '-v']]) {
      let error: unknown;
      try {
        parse(args);
      } catch (err) {
        error = err;
      }
      expect(error, args.join(' ')).toBeInstanceOf(MissingUriError);
      expect(error).toBeInstanceOf(UsageError);
      const e = error as MissingUriError;
      expect(e.message).toMatch(/^Missing destination URI: /);
      expect(e.message).not.toContain('eclipseprojects');
      expect(e.usage).toMatch(/^Usage: benchmark-client \[options\] <uri>/);
      expect(e.usage).toContain('--clients');
    }
  });

  it('--help shows the method the benchmark really sends: POST (-m listed once)', () => {
    const help = parse(['--help']).printed;
    const method = help.split('\n').filter((l) => /^\s*-m, --method\b/.test(l));
    expect(method).toHaveLength(1);
    const at = help.indexOf('-m, --method');
    const entry = help.slice(at, help.indexOf('\n  -', at + 1));
    expect(entry).toContain('[default: POST]');
    expect(entry).not.toContain('GET"');
    // and the request it builds is a POST, whatever -m says
    for (const args of [[URI], [URI, '-m', 'GET']]) {
      const cmd = parse(args).cmd!;
      expect(buildRequestSpecs(cmd.client, cmd.settings, benchmarkStackConfig().nonLifetime).request.method).toBe(Code.POST);
    }
  });

  it('--tag sets the per-client tag prefix', () => {
    expect(parse([URI, '--tag', 'bench-']).cmd!.settings.tag).toBe('bench-');
  });
});

describe('benchmark request construction (§3.3)', () => {
  const option = (opts: readonly { number: number; value: Buffer }[] | undefined, n: number) => opts?.filter((o) => o.number === n).map((o) => o.value);

  it('POST to the URI incl. its query with Accept 0, no Content-Format without payload, CON, 30 s timeout', () => {
    const { cmd } = parse([URI]);
    const specs = buildRequestSpecs(cmd!.client, cmd!.settings, benchmarkStackConfig().nonLifetime);
    const r = specs.request;
    expect(r.method).toBe(Code.POST);
    expect(r.type).toBe(CON);
    expect(r.timeout).toBe(30_000);
    expect(option(r.options, Opt.URI_PATH)!.map(String)).toEqual(['benchmark']);
    expect(option(r.options, Opt.URI_QUERY)!.map(String)).toEqual(['rlen=40']);
    expect(option(r.options, Opt.ACCEPT)!.map(decodeUint)).toEqual([0]);
    expect(option(r.options, Opt.CONTENT_FORMAT)).toEqual([]);
    expect(r.blockSize).toBeUndefined();
  });

  it('payload with Content-Format = Accept, --json, --blocksize, --non with --timeout', () => {
    const { cmd } = parse([URI, '--payload', 'hi', '--json', '--blocksize', '64', '--non', '--timeout', '2000']);
    const cfg = benchmarkStackConfig(cmd!.settings.blocksize, cmd!.settings.timeout);
    expect(cfg.maxMessageSize).toBe(64);
    expect(cfg.preferredBlockSize).toBe(64);
    expect(cfg.nonLifetime).toBe(2000);
    const r = buildRequestSpecs(cmd!.client, cmd!.settings, cfg.nonLifetime).request;
    expect(r.type).toBe(NON);
    expect(r.timeout).toBe(2000);
    expect(r.blockSize).toBe(64);
    expect(String(r.payload)).toBe('hi');
    expect(option(r.options, Opt.ACCEPT)!.map(decodeUint)).toEqual([50]);
    expect(option(r.options, Opt.CONTENT_FORMAT)!.map(decodeUint)).toEqual([50]);
  });

  it('observe mode: GET with Observe=0, cancel GET with Observe=1', () => {
    const { cmd } = parse([URI, '--notifies', '5']);
    const specs = buildRequestSpecs(cmd!.client, cmd!.settings, 145_000);
    expect(specs.observe.method).toBe(Code.GET);
    expect(option(specs.observe.options, Opt.OBSERVE)!.map(decodeUint)).toEqual([0]);
    expect(option(specs.cancel.options, Opt.OBSERVE)!.map(decodeUint)).toEqual([1]);
  });

  it('hono: PUT for coap, POST for coaps, JSON payload with Accept 50', () => {
    const plain = parse([URI, '--hono']).cmd!;
    const r = buildRequestSpecs(plain.client, plain.settings, 145_000).request;
    expect(r.method).toBe(Code.PUT);
    expect(String(r.payload)).toBe('{"temp": %1$d }');
    expect(option(r.options, Opt.ACCEPT)!.map(decodeUint)).toEqual([50]);
    const secure = parse(['coaps://127.0.0.1:5784/telemetry', '--hono']).cmd!;
    expect(buildRequestSpecs(secure.client, secure.settings, 145_000).request.method).toBe(Code.POST);
  });

  it('uriOptions splits path segments and query options (percent-decoded)', () => {
    expect(uriOptions(new URL('coap://h/reverse-request?req=5&res=feed-CON&rlen=40'))).toEqual({
      path: ['reverse-request'],
      query: ['req=5', 'res=feed-CON', 'rlen=40'],
    });
    expect(uriOptions(new URL('coap://h/a/b%20c'))).toEqual({ path: ['a', 'b c'], query: [] });
  });
});

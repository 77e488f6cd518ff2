import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { describe, expect, it, vi } from 'vitest';
import { createPskStore, PSK_CLIENT_IDENTITY } from '../../src/dtls/credentials/psk-store.js';
import { loadPskFile, parsePskFile, PskFileError } from '../../src/dtls/credentials/psk-file.js';
import { loadServerCredentials } from '../../src/server/dtls-endpoints.js';
import { parseServerArgs, type ServerOptions } from '../../src/cli/options.js';

const ascii = (s: string) => Buffer.from(s, 'ascii');

describe('PSK store (dtls.md §3)', () => {
  const store = createPskStore();

  it('has the built-in entries', () => {
    expect(store.lookup('password')).toEqual(ascii('sesame'));
    expect(store.lookup('Client_identity')).toEqual(ascii('secretPSK'));
  });

  it('is case-sensitive and exact', () => {
    expect(store.lookup('Password')).toBeUndefined();
    expect(store.lookup('password ')).toBeUndefined();
    expect(store.lookup('client_identity')).toBeUndefined();
    expect(store.lookup('Cali.ABC')).toBeUndefined();
    expect(store.lookup('CALI.ABC')).toBeUndefined();
  });

  it('maps cali.* identities to .fornium', () => {
    expect(store.lookup('cali.0123456789ABCDEF')).toEqual(ascii('.fornium'));
    expect(store.lookup('cali.')).toEqual(ascii('.fornium'));
    expect(store.lookup(PSK_CLIENT_IDENTITY)).toEqual(ascii('.fornium'));
    expect(store.lookup('xcali.1')).toBeUndefined();
    expect(store.lookup('cali')).toBeUndefined();
  });

  it('applies the Hono pattern with 8-character minimum on both sides', () => {
    expect(store.lookup('12345678@abcdefgh')).toEqual(ascii('secret'));
    expect(store.lookup('device-very-long@tenant-very-long')).toEqual(ascii('secret'));
    expect(store.lookup('1234567@abcdefgh')).toBeUndefined(); // device 7
    expect(store.lookup('12345678@abcdefg')).toBeUndefined(); // tenant 7
    expect(store.lookup('12345678abcdefgh')).toBeUndefined(); // no @
    expect(store.lookup('1234@678@abcdefgh')).toBeUndefined(); // '@' inside the device part
    expect(store.lookup('12345678@abc@efgh')).toEqual(ascii('secret')); // tenant part may contain '@'
    expect(store.lookup('12345678@abcd\nefgh')).toBeUndefined(); // '.' excludes line terminators
  });

  it('prefers the cali. rule over the Hono rule', () => {
    expect(store.lookup('cali.device@tenant-xyz')).toEqual(ascii('.fornium'));
  });

  it('returns undefined for unknown identities', () => {
    expect(store.lookup('')).toBeUndefined();
    expect(store.lookup('unknown')).toBeUndefined();
  });

  it('gives --psk-file entries precedence over built-ins and rules', () => {
    const s = createPskStore(
      new Map([
        ['password', ascii('other')],
        ['cali.1', ascii('file-cali')],
        ['12345678@abcdefgh', ascii('file-hono')],
        ['me', Buffer.from([1, 2, 3])],
      ]),
    );
    expect(s.lookup('password')).toEqual(ascii('other'));
    expect(s.lookup('cali.1')).toEqual(ascii('file-cali'));
    expect(s.lookup('cali.2')).toEqual(ascii('.fornium'));
    expect(s.lookup('12345678@abcdefgh')).toEqual(ascii('file-hono'));
    expect(s.lookup('me')).toEqual(Buffer.from([1, 2, 3]));
    expect(s.lookup('Client_identity')).toEqual(ascii('secretPSK'));
  });

  it('hands out copies so callers cannot alter stored secrets', () => {
    const s = createPskStore();
    s.lookup('password')!.fill(0);
    expect(s.lookup('password')).toEqual(ascii('sesame'));
  });
});

describe('psk-file parser', () => {
  it('parses base64 and hex secrets, ignoring comments and empty lines', () => {
    const text = [
      '# comment',
      '',
      'cali.5800001=c2VjcmV0',
      'cali.5800002=:0x0102ff',
      '   ',
      'id with space=YWI=',
      'padded=YQ==\r',
      '  # indented comment',
      'UPPER=:0XABCD',
      'unpadded=YWI',
    ].join('\n');
    const { entries, warnings } = parsePskFile(text);
    expect(warnings).toEqual([]);
    expect([...entries.keys()]).toEqual(['cali.5800001', 'cali.5800002', 'id with space', 'padded', 'UPPER', 'unpadded']);
    expect(entries.get('cali.5800001')).toEqual(ascii('secret'));
    expect(entries.get('cali.5800002')).toEqual(Buffer.from([1, 2, 0xff]));
    expect(entries.get('id with space')).toEqual(ascii('ab'));
    expect(entries.get('padded')).toEqual(ascii('a'));
    expect(entries.get('UPPER')).toEqual(Buffer.from([0xab, 0xcd]));
    expect(entries.get('unpadded')).toEqual(ascii('ab'));
  });

  it('rejects wrong base64 padding', () => {
    const { entries, warnings } = parsePskFile('a=YWI==\nb=YQ=\nc=YQ===\n');
    expect(entries.size).toBe(0);
    expect(warnings).toHaveLength(3);
  });

  it('skips malformed lines with a warning each and keeps the rest', () => {
    const text = [
      'good=c2VjcmV0', // 1
      'no-equals-sign', // 2
      '=c2VjcmV0', // 3 empty identity
      'empty=', // 4
      'badb64=not base64!', // 5
      'badlen=abcde', // 6 base64 length 5 cannot be decoded
      'badhex=:0x123', // 7 odd length
      'nothex=:0xzz', // 8
      'emptyhex=:0x', // 9
      'good=:0x00', // 10 duplicate
    ].join('\n');
    const { entries, warnings } = parsePskFile(text, 'f');
    expect([...entries.keys()]).toEqual(['good']);
    expect(entries.get('good')).toEqual(ascii('secret'));
    expect(warnings).toHaveLength(9);
    expect(warnings.map((w) => w.split(':')[1])).toEqual(['2', '3', '4', '5', '6', '7', '8', '9', '10']);
    expect(warnings.join('\n')).not.toContain('c2VjcmV0');
  });

  it('loads a file, logging warnings', () => {
    const dir = mkdtempSync(join(tmpdir(), 'psk-'));
    try {
      const path = join(dir, 'psk.txt');
      writeFileSync(path, 'a=:0x01\nbroken\n');
      const warn = vi.fn();
      const { entries, warnings } = loadPskFile(path, { warn } as unknown as Logger);
      expect(entries.get('a')).toEqual(Buffer.from([1]));
      expect(warnings).toHaveLength(1);
      expect(warn).toHaveBeenCalledWith(warnings[0]);
      expect(() => loadPskFile(join(dir, 'missing.txt'))).toThrow();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('feeds the store', () => {
    const { entries } = parsePskFile('password=:0x00ff\n');
    expect(createPskStore(entries).lookup('password')).toEqual(Buffer.from([0, 0xff]));
  });
});

describe('--psk-file at server start-up', () => {
  function serverOptions(argv: string[]): ServerOptions {
    const r = parseServerArgs(argv);
    if (r.kind !== 'ok') throw new Error(`bad test arguments ${argv.join(' ')}`);
    return r.options;
  }
  function fakeLogger(): Logger & { warn: ReturnType<typeof vi.fn>; info: ReturnType<typeof vi.fn> } {
    return { warn: vi.fn(), info: vi.fn() } as unknown as Logger & { warn: ReturnType<typeof vi.fn>; info: ReturnType<typeof vi.fn> };
  }
  function withDir(run: (dir: string) => void): void {
    const dir = mkdtempSync(join(tmpdir(), 'psk-'));
    try {
      run(dir);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  it('logs each warning of a skipped line once', () => {
    withDir((dir) => {
      const path = join(dir, 'psk.txt');
      writeFileSync(path, 'a=:0x01\nbroken\nb=not base64!\n');
      const logger = fakeLogger();
      const creds = loadServerCredentials(serverOptions([`--psk-file=${path}`]), logger);
      expect(creds.psk.lookup('a')).toEqual(Buffer.from([1]));
      expect(logger.warn.mock.calls).toEqual([
        [`${path}:2: missing '=', line skipped`],
        [`${path}:3: invalid base64 secret for 'b', line skipped`],
      ]);
      expect(logger.info).toHaveBeenCalledWith({ file: path, identities: 1 }, 'PSK credentials loaded');
    });
  });

  it('warns once when the file has no credential at all', () => {
    withDir((dir) => {
      const path = join(dir, 'psk.txt');
      writeFileSync(path, '# nothing yet\n');
      const logger = fakeLogger();
      loadServerCredentials(serverOptions([`--psk-file=${path}`]), logger);
      expect(logger.warn.mock.calls).toEqual([
        [`--psk-file: no PSK credentials in '${path}' (lines <identity>=<base64 secret> or <identity>=:0x<hex secret>)`],
      ]);
    });
  });

  it('a missing file names the file and what to do', () => {
    withDir((dir) => {
      const path = join(dir, 'missing.txt');
      const logger = fakeLogger();
      expect(() => loadServerCredentials(serverOptions([`--psk-file=${path}`]), logger)).toThrow(
        new Error(
          `--psk-file: PSK file '${path}': not found; create it or correct the path (lines <identity>=<base64 secret> or <identity>=:0x<hex secret>), or leave out --psk-file`,
        ),
      );
      expect(logger.warn).not.toHaveBeenCalled();
    });
  });

  it('a relative path is also shown absolute; a directory is no file', () => {
    withDir((dir) => {
      const cwd = process.cwd();
      process.chdir(dir);
      try {
        expect(() => loadServerCredentials(serverOptions(['--psk-file=nope.txt']), fakeLogger())).toThrow(
          `--psk-file: PSK file 'nope.txt' (${join(process.cwd(), 'nope.txt')}): not found; create it or correct the path`,
        );
        expect(() => loadServerCredentials(serverOptions(['--psk-file=.']), fakeLogger())).toThrow(
          `--psk-file: PSK file '.' (${process.cwd()}): is a directory; make it a readable file (lines`,
        );
      } finally {
        process.chdir(cwd);
      }
    });
  });

  it('loadPskFile throws a PskFileError naming the file and the reason', () => {
    withDir((dir) => {
      const path = join(dir, 'missing.txt');
      let caught: unknown;
      try {
        loadPskFile(path);
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(PskFileError);
      expect(caught).toMatchObject({ path, reason: 'not found', message: `PSK file '${path}': not found` });
    });
  });
});

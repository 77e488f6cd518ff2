import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  ConfigError,
  KEYS,
  PROPERTIES_FILE,
  PROPERTIES_HEADER,
  buildIndex,
  defineKey,
  formatValue,
  hasPlugtestVariant,
  loadProperties,
  parseProperties,
  renderProperties,
  serverDefault,
} from '../../src/config/index.js';

const withoutDate = (text: string): string => text.split('\n').filter((_, i) => i !== 1).join('\n');

function fakeLogger(): Logger & { warn: ReturnType<typeof vi.fn>; info: ReturnType<typeof vi.fn> } {
  return { warn: vi.fn(), info: vi.fn() } as unknown as Logger & {
    warn: ReturnType<typeof vi.fn>;
    info: ReturnType<typeof vi.fn>;
  };
}

describe('loadProperties', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'extplugtest-config-'));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('creates the file with all defaults when missing, then reads it without rewriting', () => {
    const logger = fakeLogger();
    const first = loadProperties(dir, logger);
    const file = join(dir, PROPERTIES_FILE);
    expect(first.created).toBe(true);
    expect(first.file).toBe(file);
    const written = readFileSync(file, 'utf8');
    expect(withoutDate(written)).toBe(withoutDate(renderProperties()));
    expect(first.get('COAP.COAP_PORT')).toBe(5783);

    const edited = written.replace('COAP.ACK_TIMEOUT=2[s]', 'COAP.ACK_TIMEOUT=3[s]');
    writeFileSync(file, edited);
    const second = loadProperties(dir, logger);
    expect(second.created).toBe(false);
    expect(second.get('COAP.ACK_TIMEOUT')).toBe(3000);
    expect(readFileSync(file, 'utf8')).toBe(edited);
    expect(logger.warn).not.toHaveBeenCalled();
  });

  it('runs on defaults when the file cannot be written', () => {
    const logger = fakeLogger();
    const props = loadProperties(join(dir, 'missing-subdir'), logger);
    expect(props.created).toBe(false);
    expect(props.get('COAP.MAX_MESSAGE_SIZE')).toBe(1024);
    expect(logger.warn).toHaveBeenCalledOnce();
  });

  it('stops on an invalid value with a message naming file, line, key and value', () => {
    writeFileSync(join(dir, PROPERTIES_FILE), '# my settings\n\nCOAP.NSTART=2\nCOAP.ACK_TIMEOUT=abc\n');
    expect(() => loadProperties(dir)).toThrow(ConfigError);
    expect(() => loadProperties(dir)).toThrow(
      new ConfigError('Californium3.properties:4: COAP.ACK_TIMEOUT=abc: expected a time like 2[s], at least 1[ms]'),
    );
  });

  it('reads UTF-8 (µs) and ISO-8859-1 files', () => {
    writeFileSync(join(dir, PROPERTIES_FILE), 'COAP.ACK_TIMEOUT=2000000[µs]\n', 'utf8');
    expect(loadProperties(dir).get('COAP.ACK_TIMEOUT')).toBe(2000);
    writeFileSync(join(dir, PROPERTIES_FILE), Buffer.from('# caf\xe9\nCOAP.NSTART=2\n', 'latin1'));
    expect(loadProperties(dir).get('COAP.NSTART')).toBe(2);
  });
});

describe('renderProperties', () => {
  const text = renderProperties(new Date('2024-01-02T03:04:05Z'));
  const lines = text.split('\n');
  const keyLines = lines.filter((l) => l !== '' && !l.startsWith('#'));
  const keyNames = keyLines.map((l) => l.slice(0, l.indexOf('=')));

  it('starts with header, date and an empty comment', () => {
    expect(lines[0]).toBe(`# ${PROPERTIES_HEADER}`);
    expect(lines[1]).toBe('# 2024-01-02T03:04:05.000Z');
    expect(lines[2]).toBe('#');
  });

  it('writes keys without module prefix first, then module keys, each sorted', () => {
    const general = keyNames.filter((k) => !k.includes('.'));
    const modules = keyNames.filter((k) => k.includes('.'));
    expect(keyNames).toEqual([...general, ...modules]);
    expect(general).toEqual([...general].sort());
    expect(modules).toEqual([...modules].sort());
    expect(general).toEqual(['DTLS_HANDSHAKE_RESULT_DELAY', 'EXTERNAL_UDP_MAX_MESSAGE_SIZE', 'EXTERNAL_UDP_PREFERRED_BLOCK_SIZE', 'UDP_DROPS_READ_INTERVAL', 'WORKERS']);
  });

  it('writes every registered key with the extended value and PLUGTEST. keys only where the servers differ', () => {
    for (const def of KEYS.values()) expect(keyNames).toContain(def.name);
    const plug = keyNames.filter((k) => k.startsWith('PLUGTEST.')).sort();
    expect(plug).toEqual(
      [
        'COAP.COAP_PORT',
        'COAP.COAP_SECURE_PORT',
        'COAP.DEDUPLICATOR',
        'COAP.MAX_ACTIVE_PEERS',
        'COAP.MAX_MESSAGE_SIZE',
        'COAP.MAX_PEER_INACTIVITY_PERIOD',
        'COAP.NOTIFICATION_CHECK_INTERVAL',
        'COAP.NOTIFICATION_CHECK_INTERVAL_COUNT',
        'COAP.PEERS_MARK_AND_SWEEP_MESSAGES',
        'COAP.PREFERRED_BLOCK_SIZE',
        'COAP.TCP_NUMBER_OF_BULK_BLOCKS',
        'DTLS.MAX_CONNECTIONS',
        'DTLS.RECEIVE_BUFFER_SIZE',
        'DTLS.REMOVE_STALE_DOUBLE_PRINCIPALS',
        'DTLS.STALE_CONNECTION_THRESHOLD',
        'SYS.HEALTH_STATUS_INTERVAL',
      ].map((k) => `PLUGTEST.${k}`),
    );
    expect(keyNames.length).toBe(KEYS.size + plug.length);
  });

  it('writes the config.md values of both servers', () => {
    const value = (k: string): string | undefined => keyLines.find((l) => l.startsWith(`${k}=`))?.slice(k.length + 1);
    expect(value('COAP.COAP_PORT')).toBe('5783');
    expect(value('PLUGTEST.COAP.COAP_PORT')).toBe('5683');
    expect(value('COAP.COAP_SECURE_PORT')).toBe('5784');
    expect(value('PLUGTEST.COAP.COAP_SECURE_PORT')).toBe('5684');
    expect(value('COAP.MAX_ACTIVE_PEERS')).toBe('1000000');
    expect(value('PLUGTEST.COAP.MAX_ACTIVE_PEERS')).toBe('10000');
    expect(value('COAP.MAX_PEER_INACTIVITY_PERIOD')).toBe('3[min]');
    expect(value('PLUGTEST.COAP.MAX_PEER_INACTIVITY_PERIOD')).toBe('10[min]');
    expect(value('COAP.PREFERRED_BLOCK_SIZE')).toBe('1024');
    expect(value('PLUGTEST.COAP.PREFERRED_BLOCK_SIZE')).toBe('64');
    expect(value('COAP.MAX_MESSAGE_SIZE')).toBe('1024');
    expect(value('PLUGTEST.COAP.MAX_MESSAGE_SIZE')).toBe('64');
    expect(value('COAP.NOTIFICATION_CHECK_INTERVAL')).toBe('2[min]');
    expect(value('PLUGTEST.COAP.NOTIFICATION_CHECK_INTERVAL')).toBe('30[s]');
    expect(value('COAP.NOTIFICATION_CHECK_INTERVAL_COUNT')).toBe('100');
    expect(value('PLUGTEST.COAP.NOTIFICATION_CHECK_INTERVAL_COUNT')).toBe('4');
    expect(value('COAP.DEDUPLICATOR')).toBe('PEERS_MARK_AND_SWEEP');
    expect(value('PLUGTEST.COAP.DEDUPLICATOR')).toBe('MARK_AND_SWEEP');
    expect(value('COAP.PEERS_MARK_AND_SWEEP_MESSAGES')).toBe('16');
    expect(value('PLUGTEST.COAP.PEERS_MARK_AND_SWEEP_MESSAGES')).toBe('64');
    expect(value('COAP.TCP_NUMBER_OF_BULK_BLOCKS')).toBe('4');
    expect(value('PLUGTEST.COAP.TCP_NUMBER_OF_BULK_BLOCKS')).toBe('1');
    expect(value('SYS.HEALTH_STATUS_INTERVAL')).toBe('1[min]');
    expect(value('PLUGTEST.SYS.HEALTH_STATUS_INTERVAL')).toBe('5[min]');
    expect(value('COAP.EXCHANGE_LIFETIME')).toBe('247[s]');
    expect(value('COAP.ACK_INIT_RANDOM')).toBe('1.5');
    expect(value('COAP.ACK_TIMEOUT_SCALE')).toBe('2.0');
    expect(value('COAP.MAX_RESOURCE_BODY_SIZE')).toBe('8192');
    expect(value('EXTERNAL_UDP_MAX_MESSAGE_SIZE')).toBe('64');
    expect(value('UDP_DROPS_READ_INTERVAL')).toBe('2[s]');
    expect(value('UDP.DATAGRAM_SIZE')).toBe('2048');
    expect(value('UDP.RECEIVE_BUFFER_SIZE')).toBe('1000000');
    expect(value('UDP.SEND_BUFFER_SIZE')).toBe('');
  });

  it('leaves out the Java thread-count keys', () => {
    expect(text).not.toMatch(/THREAD_COUNT/);
  });

  it('documents each key with description and module default, and explains PLUGTEST. keys', () => {
    const block = (k: string): string[] => {
      const i = lines.findIndex((l) => l.startsWith(`${k}=`));
      let j = i;
      while (lines[j - 1]!.startsWith('# ')) j--;
      return lines.slice(j, i);
    };
    expect(block('COAP.ACK_TIMEOUT').at(-1)).toBe('# Default: 2[s]');
    expect(block('COAP.COAP_PORT').join('\n')).toMatch(/Extended server value; the plugtest server uses PLUGTEST\.COAP\.COAP_PORT\./);
    expect(block('COAP.COAP_PORT').at(-1)).toBe('# Default: 5683');
    expect(block('PLUGTEST.COAP.COAP_PORT').join('\n')).toMatch(/Plugtest server value; COAP\.COAP_PORT/);
    expect(block('UDP.RECEIVE_BUFFER_SIZE').join('\n')).not.toMatch(/Default:/);
    expect(block('COAP.ACK_TIMEOUT').join('\n')).not.toMatch(/PLUGTEST/);
    for (const l of lines) if (l.startsWith('#')) expect(l.length).toBeLessThanOrEqual(80 + 40);
  });
});

describe('parseProperties', () => {
  it('reads back exactly what the writer writes (round trip)', () => {
    const defaults = parseProperties('');
    const written = parseProperties(renderProperties());
    expect(written.warnings).toEqual([]);
    for (const def of KEYS.values()) {
      expect(written.get(def.name)).toEqual(defaults.get(def.name));
      expect(written.get(def.name)).toEqual(serverDefault(def, 'extended'));
      expect(written.getFor('plugtest', def.name)).toEqual(serverDefault(def, 'plugtest'));
      expect(written.inFile(def.name)).toBe(true);
      expect(written.inFile(`PLUGTEST.${def.name}`)).toBe(hasPlugtestVariant(def));
    }
  });

  it('round trips changed values of every type', () => {
    const text = [
      'COAP.ACK_TIMEOUT=1500[ms]',
      'COAP.ACK_INIT_RANDOM=1.25',
      'COAP.ACK_TIMEOUT_SCALE=3',
      'COAP.USE_RANDOM_MID_START=false',
      'COAP.DEDUPLICATOR=CROP_ROTATION',
      'COAP.MAX_RETRANSMIT=7',
      'UDP.RECEIVE_BUFFER_SIZE=1000000',
    ].join('\n');
    const p = parseProperties(text);
    expect(p.get('COAP.ACK_TIMEOUT')).toBe(1500);
    expect(p.get('COAP.ACK_INIT_RANDOM')).toBe(1.25);
    expect(p.get('COAP.ACK_TIMEOUT_SCALE')).toBe(3);
    expect(p.get('COAP.USE_RANDOM_MID_START')).toBe(false);
    expect(p.get('COAP.DEDUPLICATOR')).toBe('CROP_ROTATION');
    expect(p.number('COAP.MAX_RETRANSMIT')).toBe(7);
    expect(p.number('UDP.RECEIVE_BUFFER_SIZE')).toBe(1_000_000);
    expect(p.boolean('COAP.USE_RANDOM_MID_START')).toBe(false);
    expect(p.string('COAP.DEDUPLICATOR')).toBe('CROP_ROTATION');
    // the plugtest server shares keys without a PLUGTEST. variant
    expect(p.number('COAP.ACK_TIMEOUT', 'plugtest')).toBe(1500);
    expect(p.string('COAP.DEDUPLICATOR', 'plugtest')).toBe('MARK_AND_SWEEP');
  });

  it.each([
    ['COAP.ACK_TIMEOUT', 'abc', 'expected a time like 2[s], at least 1[ms]'],
    ['COAP.ACK_TIMEOUT', '0', 'expected a time like 2[s], at least 1[ms]'],
    ['COAP.EXCHANGE_LIFETIME', '-1[s]', 'expected a time like 2[s]'],
    ['COAP.MAX_RETRANSMIT', '2.5', 'expected an integer, at least 1'],
    ['COAP.MAX_RETRANSMIT', '0', 'expected an integer, at least 1'],
    ['COAP.COAP_PORT', '70000', 'expected an integer, 1 to 65535'],
    ['COAP.MAX_ACTIVE_PEERS', '99999999999', 'expected an integer, at least 1'],
    ['EXTERNAL_UDP_MAX_MESSAGE_SIZE', '15', 'expected an integer, at least 16'],
    ['EXTERNAL_UDP_PREFERRED_BLOCK_SIZE', 'x', 'expected an integer, at least 16'],
    ['COAP.ACK_INIT_RANDOM', 'fast', 'expected a number like 1.5, at least 1'],
    ['COAP.ACK_INIT_RANDOM', '0.5', 'expected a number like 1.5, at least 1'],
    ['COAP.USE_RANDOM_MID_START', 'yes', 'expected true or false'],
    ['COAP.DEDUPLICATOR', 'mark_and_sweep', 'expected one of MARK_AND_SWEEP, PEERS_MARK_AND_SWEEP, CROP_ROTATION, NO_DEDUPLICATOR'],
    ['PLUGTEST.COAP.MAX_MESSAGE_SIZE', '8', 'expected an integer, at least 16'],
  ])('rejects %s=%s', (key, value, expected) => {
    const run = (): unknown => parseProperties(`${key}=${value}\n`);
    expect(run).toThrow(ConfigError);
    expect(run).toThrow(new ConfigError(`Californium3.properties:1: ${key}=${value}: ${expected}`));
  });

  it('names the line of the bad entry: comments, blank lines and continuations count', () => {
    const text = ['# header', '', 'COAP.NSTART=2', 'COAP.TOKEN_SIZE_LIMIT=\\', '    5', '! bang', 'COAP.MAX_RETRANSMIT = many  ', 'COAP.ACK_TIMEOUT=3[s]'].join('\n');
    expect(() => parseProperties(text)).toThrow(new ConfigError('Californium3.properties:7: COAP.MAX_RETRANSMIT=many: expected an integer, at least 1'));
    expect(() => parseProperties('COAP.NSTART=2\r\nCOAP.NSTART=x\r\n')).toThrow(/^Californium3\.properties:2: COAP\.NSTART=x: /);
  });

  it('names the file as given (its base name)', () => {
    expect(() => parseProperties('COAP.NSTART=x\n', { file: '/srv/app/Californium3.properties' })).toThrow(
      new ConfigError('Californium3.properties:1: COAP.NSTART=x: expected an integer, at least 1'),
    );
  });

  it('names the line of an empty entry that must have a value', () => {
    const p = parseProperties('# x\nUDP.RECEIVE_BUFFER_SIZE=\n');
    expect(() => p.number('UDP.RECEIVE_BUFFER_SIZE')).toThrow(new ConfigError('Californium3.properties:2: UDP.RECEIVE_BUFFER_SIZE=: must not be empty'));
    expect(() => p.number('UDP.SEND_BUFFER_SIZE')).toThrow(
      new ConfigError('Californium3.properties: UDP.SEND_BUFFER_SIZE is not set (it must not be empty)'),
    );
  });

  it('warns about unknown keys (incl. Java thread counts) and ignores them', () => {
    const logger = fakeLogger();
    const p = parseProperties('COAP.PROTOCOL_STAGE_THREAD_COUNT=4\nFOO=bar\nPLUGTEST.NOPE=1\nCOAP.NSTART=2\n', { logger });
    expect(p.warnings).toEqual([
      'Californium3.properties: ignoring unknown key COAP.PROTOCOL_STAGE_THREAD_COUNT (line 1)',
      'Californium3.properties: ignoring unknown key FOO (line 2)',
      'Californium3.properties: ignoring unknown key PLUGTEST.NOPE (line 3)',
    ]);
    expect(logger.warn).toHaveBeenCalledTimes(3);
    expect(p.get('COAP.NSTART')).toBe(2);
    expect(() => p.get('FOO')).toThrow(/unknown configuration key FOO/);
  });

  it('treats an empty value as not set: module default, or undefined without one', () => {
    const p = parseProperties('UDP.RECEIVE_BUFFER_SIZE=\nCOAP.MAX_ACTIVE_PEERS=   \nPLUGTEST.COAP.MAX_MESSAGE_SIZE=\n');
    expect(p.get('UDP.RECEIVE_BUFFER_SIZE')).toBeUndefined();
    expect(p.inFile('UDP.RECEIVE_BUFFER_SIZE')).toBe(true);
    expect(() => p.number('UDP.RECEIVE_BUFFER_SIZE')).toThrow(ConfigError);
    expect(() => p.number('UDP.RECEIVE_BUFFER_SIZE')).toThrow('Californium3.properties:1: UDP.RECEIVE_BUFFER_SIZE=: must not be empty');
    expect(p.get('COAP.MAX_ACTIVE_PEERS')).toBe(150000);
    expect(p.getFor('plugtest', 'COAP.MAX_MESSAGE_SIZE')).toBe(1024);
    expect(p.get('PLUGTEST.COAP.MAX_MESSAGE_SIZE')).toBe(1024);
  });

  it('keeps built-in server values for keys missing from the file', () => {
    const p = parseProperties('# only a comment\n');
    expect(p.get('COAP.COAP_PORT')).toBe(5783);
    expect(p.getFor('plugtest', 'COAP.COAP_PORT')).toBe(5683);
    expect(p.getFor('extended', 'COAP.COAP_PORT')).toBe(5783);
    expect(p.get('UDP.RECEIVE_BUFFER_SIZE')).toBe(1_000_000);
    expect(p.get('UDP.SEND_BUFFER_SIZE')).toBeUndefined();
    expect(p.inFile('COAP.COAP_PORT')).toBe(false);
  });

  it('applies PLUGTEST. overrides to the plugtest server only', () => {
    const p = parseProperties(
      [
        'COAP.MAX_MESSAGE_SIZE=512',
        'PLUGTEST.COAP.COAP_PORT=6683',
        'COAP.EXCHANGE_LIFETIME=100[s]',
        'PLUGTEST.COAP.NON_LIFETIME=20[s]',
      ].join('\n'),
    );
    // a key with its own plugtest value: changing the plain key leaves the plugtest server alone
    expect(p.getFor('extended', 'COAP.MAX_MESSAGE_SIZE')).toBe(512);
    expect(p.getFor('plugtest', 'COAP.MAX_MESSAGE_SIZE')).toBe(64);
    expect(p.getFor('plugtest', 'COAP.COAP_PORT')).toBe(6683);
    expect(p.getFor('extended', 'COAP.COAP_PORT')).toBe(5783);
    // a shared key applies to both
    expect(p.getFor('plugtest', 'COAP.EXCHANGE_LIFETIME')).toBe(100_000);
    expect(p.getFor('extended', 'COAP.EXCHANGE_LIFETIME')).toBe(100_000);
    // PLUGTEST.<any registered key> is accepted as plugtest-only override
    expect(p.getFor('plugtest', 'COAP.NON_LIFETIME')).toBe(20_000);
    expect(p.getFor('extended', 'COAP.NON_LIFETIME')).toBe(145_000);
    expect(p.warnings).toEqual([]);
  });

  it('reads Java-properties syntax: separators, comments, continuations, escapes, CRLF', () => {
    const text = [
      '! bang comment',
      '   # indented comment',
      '',
      '  COAP.NSTART : 3',
      'COAP.MAX_RETRANSMIT 6',
      'COAP.TOKEN_SIZE_LIMIT=\\',
      '    5',
      'COAP.DEDUPLICATOR=NO_\\u0044EDUPLICATOR',
      'COAP.ACK_TIMEOUT = 4[s]   ',
      'COAP.BLOCKWISE_STRICT_BLOCK2_OPTION=TRUE',
    ].join('\r\n');
    const p = parseProperties(text);
    expect(p.get('COAP.NSTART')).toBe(3);
    expect(p.get('COAP.MAX_RETRANSMIT')).toBe(6);
    expect(p.get('COAP.TOKEN_SIZE_LIMIT')).toBe(5);
    expect(p.get('COAP.DEDUPLICATOR')).toBe('NO_DEDUPLICATOR');
    expect(p.get('COAP.ACK_TIMEOUT')).toBe(4000);
    expect(p.get('COAP.BLOCKWISE_STRICT_BLOCK2_OPTION')).toBe(true);
    expect(p.warnings).toEqual([]);
  });

  it('lets the last of duplicate entries win', () => {
    expect(parseProperties('COAP.NSTART=2\nCOAP.NSTART=3\n').get('COAP.NSTART')).toBe(3);
  });

  it('accepts a key definition object instead of a name', () => {
    const def = KEYS.get('COAP.NSTART')!;
    const p = parseProperties('COAP.NSTART=9\n');
    expect(p.get(def)).toBe(9);
    expect(p.number(def, 'plugtest')).toBe(9);
  });
});

describe('key registry', () => {
  it('rejects enum keys without values and bad built-in defaults', () => {
    expect(() => defineKey({ name: 'X.E', type: 'enum', description: 'e', default: 'A' })).toThrow('key X.E: enum keys need a list of values');
    expect(() => defineKey({ name: 'X.I', type: 'int', description: 'i', default: 3, min: 5 })).toThrow(ConfigError);
    expect(() => defineKey({ name: 'X.E', type: 'enum', description: 'e', default: 'C', values: ['A', 'B'] })).toThrow(/X\.E=C: expected one of A, B$/);
  });

  it('rejects a key defined twice', () => {
    const a = defineKey({ name: 'X.A', type: 'int', description: 'a', default: 1 });
    expect(() => buildIndex([[a], [a]])).toThrow('configuration key X.A defined twice');
  });

  it('supports enum lists, strings and negative times for later key groups', () => {
    const list = defineKey({
      name: 'DTLS.SUITES',
      type: 'enumList',
      description: 'suites',
      default: ['A', 'B'],
      ext: ['C'],
      values: ['A', 'B', 'C'],
    });
    const str = defineKey({ name: 'NAME', type: 'string', description: 'a name' });
    const delay = defineKey({ name: 'DELAY', type: 'time', description: 'delay', default: 0, min: -60_000 });
    const keys = buildIndex([[list, str, delay]]);
    const text = renderProperties(new Date(0), keys);
    expect(text).toContain('\n# Default: A, B\nDTLS.SUITES=C\n');
    expect(text).toContain('\nPLUGTEST.DTLS.SUITES=A, B\n');
    expect(text).toContain('\nNAME=\n');
    expect(formatValue(list, ['A', 'C'])).toBe('A, C');
    const p = parseProperties('DTLS.SUITES=B,  A\nNAME= x = y \nDELAY=-5[s]\n', { keys });
    expect(p.get('DTLS.SUITES')).toEqual(['B', 'A']);
    expect(p.getFor('plugtest', 'DTLS.SUITES')).toEqual(['A', 'B']);
    expect(p.string('NAME')).toBe('x = y');
    expect(p.number('DELAY')).toBe(-5000);
    expect(() => parseProperties('DTLS.SUITES=A, D\n', { keys })).toThrow(
      'Californium3.properties:1: DTLS.SUITES=A, D: expected a comma separated list of A, B, C',
    );
    expect(() => parseProperties('DELAY=-2[min]\n', { keys })).toThrow(/at least -1\[min\]/);
  });

  it('escapes special characters in written values so they read back', () => {
    const str = defineKey({ name: 'TEXT', type: 'string', description: 'text', default: ' a\\b=c:d\u00e9#' });
    const keys = buildIndex([[str]]);
    const text = renderProperties(new Date(0), keys);
    expect(text).toContain('TEXT=\\ a\\\\b=c:d\\u00e9#\n');
    // the escaped leading blank survives; unescaped outer blanks are trimmed
    expect(parseProperties(text, { keys }).get('TEXT')).toBe(' a\\b=c:d\u00e9#');
    expect(parseProperties('TEXT=  x\\ \n', { keys }).get('TEXT')).toBe('x ');
    expect(parseProperties('TEXT=x\\  \n', { keys }).get('TEXT')).toBe('x ');
    expect(parseProperties('TEXT=x\\\\ \n', { keys }).get('TEXT')).toBe('x\\');
    expect(parseProperties('TEXT=x\\u0020\\ \n', { keys }).get('TEXT')).toBe('x  ');
  });
});

// The pretty log format (src/log/pretty.ts) and the logger factory (src/log/index.ts): one readable line
// per record, synchronous, JSON unchanged in the json format, the level filters.
import { describe, expect, it } from 'vitest';
import { createLogger, formatLine, formatRecord, timeOfDay } from '../../src/log/index.js';

/** A capturing destination. */
function sink(): { write(s: string): boolean; text: () => string } {
  let out = '';
  return { write: (s: string) => ((out += s), true), text: () => out };
}

const AT = new Date(2024, 0, 2, 20, 51, 3, 123).getTime();

describe('pretty format', () => {
  it('time of day with milliseconds in local time', () => {
    expect(timeOfDay(AT)).toBe('20:51:03.123');
    expect(timeOfDay(new Date(2024, 0, 2, 1, 2, 3, 4).getTime())).toBe('01:02:03.004');
  });

  it('head: time, level padded to 5, server tag, message; the endpoint follows by value', () => {
    const line = formatRecord({ level: 30, time: AT, server: 'EXTENDED-TEST', endpoint: 'coaps://127.0.0.1:5784', msg: 'endpoint started' });
    expect(line).toBe('20:51:03.123 INFO  EXTENDED-TEST endpoint started coaps://127.0.0.1:5784\n');
    expect(formatRecord({ level: 40, time: AT, msg: 'careful' })).toBe('20:51:03.123 WARN  careful\n');
    expect(formatRecord({ level: 50, time: AT, msg: 'bad' })).toBe('20:51:03.123 ERROR bad\n');
    expect(formatRecord({ level: 20, time: AT, msg: 'x' })).toBe('20:51:03.123 DEBUG x\n');
  });

  it('a worker process tags its lines with its index', () => {
    expect(formatRecord({ level: 30, time: AT, worker: 1, server: 'EXTENDED-TEST', endpoint: 'coap://127.0.0.1:5783', msg: 'endpoint started' })).toBe(
      '20:51:03.123 INFO  EXTENDED-TEST#1 endpoint started coap://127.0.0.1:5783\n',
    );
    expect(formatRecord({ level: 40, time: AT, worker: 0, msg: 'stop failed' })).toBe('20:51:03.123 WARN  worker#0 stop failed\n');
  });

  it('other fields as key=value (quoted when they contain blanks, objects as compact JSON); stats and pid/hostname left out', () => {
    const line = formatRecord({
      level: 30,
      time: AT,
      pid: 1,
      hostname: 'h',
      msg: 'PSK credentials loaded',
      file: 'psk.txt',
      identities: 3,
      note: 'two words',
      nodes: [1, 2],
      stats: { coap: { 'recv-requests': [1, 1] } },
    });
    expect(line).toBe('20:51:03.123 INFO  PSK credentials loaded file=psk.txt identities=3 note="two words" nodes=[1,2]\n');
  });

  it('a text field the message already contains is not repeated', () => {
    const line = formatRecord({ level: 30, time: AT, server: 'PLUG-TEST', endpoint: 'coap://[::1]:5683', msg: 'health coap://[::1]:5683: no messages' });
    expect(line).toBe('20:51:03.123 INFO  PLUG-TEST health coap://[::1]:5683: no messages\n');
  });

  it('errors: type and message inline; the stack follows indented for error and fatal only', () => {
    const err = { type: 'TypeError', message: 'boom', stack: 'TypeError: boom\n    at x (y.js:1:1)' };
    expect(formatRecord({ level: 40, time: AT, msg: 'udp socket error', err })).toBe('20:51:03.123 WARN  udp socket error err="TypeError: boom"\n');
    const line = formatRecord({ level: 50, time: AT, msg: 'failed', err });
    expect(line.split('\n')).toEqual(['20:51:03.123 ERROR failed err="TypeError: boom"', '    TypeError: boom', '        at x (y.js:1:1)', '']);
  });

  it('colours only the level label when asked', () => {
    const line = formatRecord({ level: 30, time: AT, msg: 'hi' }, { colorize: true });
    expect(line).toBe('20:51:03.123 \x1b[32mINFO \x1b[0m hi\n');
  });

  it('a line that is not a JSON object passes unchanged', () => {
    expect(formatLine('plain text')).toBe('plain text\n');
    expect(formatLine('[1,2]')).toBe('[1,2]\n');
  });
});

describe('createLogger', () => {
  it('pretty: readable lines, written at once (no worker, no buffer)', () => {
    const out = sink();
    const logger = createLogger({ format: 'pretty', level: 'info', colorize: false }, out as never);
    logger.info({ server: 'EXTENDED-TEST', endpoint: 'coap://127.0.0.1:5783' }, 'endpoint started');
    // synchronous: the line is there right after the call
    expect(out.text()).toMatch(/^\d\d:\d\d:\d\d\.\d{3} INFO {2}EXTENDED-TEST endpoint started coap:\/\/127\.0\.0\.1:5783\n$/);
    logger.debug('hidden');
    expect(out.text()).not.toContain('hidden');
    let flushed = false;
    logger.flush(() => (flushed = true));
    expect(flushed).toBe(true);
  });

  it('json: pino JSON lines without pid/hostname', () => {
    const out = sink();
    const logger = createLogger({ format: 'json', level: 'info', colorize: false }, out as never);
    logger.info({ server: 'PLUG-TEST' }, 'hello');
    const rec = JSON.parse(out.text()) as Record<string, unknown>;
    expect(rec).toMatchObject({ level: 30, server: 'PLUG-TEST', msg: 'hello' });
    expect(typeof rec.time).toBe('number');
    expect(rec).not.toHaveProperty('pid');
    expect(rec).not.toHaveProperty('hostname');
  });

  it('the level filters: warn drops info, debug shows debug', () => {
    const warn = sink();
    const w = createLogger({ format: 'pretty', level: 'warn', colorize: false }, warn as never);
    w.info('info line');
    w.warn('warn line');
    expect(warn.text()).not.toContain('info line');
    expect(warn.text()).toContain('WARN  warn line');
    const debug = sink();
    createLogger({ format: 'json', level: 'debug', colorize: false }, debug as never).debug('debug line');
    expect(debug.text()).toContain('"msg":"debug line"');
  });
});

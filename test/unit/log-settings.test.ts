// Choosing the log format and level (src/log/settings.ts): the log options taken out of the command
// line, the environment, the defaults by terminal, and their usage text.
import { describe, expect, it } from 'vitest';
import { extractLogArgs, logUsage, resolveLogSettings } from '../../src/log/index.js';

describe('extractLogArgs', () => {
  it('takes --log-format / --log-level out (=value or separate value, case-insensitive) and keeps the rest in order', () => {
    const r = extractLogArgs(['--no-external', '--log-format=JSON', '--notify-interval', '100', '--log-level', 'warn', '--no-plugtest']);
    expect(r).toEqual({ argv: ['--no-external', '--notify-interval', '100', '--no-plugtest'], format: 'json', level: 'warn' });
    expect(extractLogArgs(['--no-external'])).toEqual({ argv: ['--no-external'], format: undefined, level: undefined });
  });

  it('errors in the option parser wording: bad value, missing value, repeated', () => {
    expect(extractLogArgs(['--log-format=xml']).error).toBe("Invalid value for option '--log-format': 'xml' expected one of pretty, json");
    expect(extractLogArgs(['--log-level', 'loud']).error).toMatch(/^Invalid value for option '--log-level': 'loud' expected one of fatal, error, warn, info, debug, trace, silent$/);
    expect(extractLogArgs(['--log-format']).error).toBe("Missing required parameter for option '--log-format' (<pretty|json>)");
    expect(extractLogArgs(['--log-level', '--no-external']).error).toMatch(/^Missing required parameter for option '--log-level'/);
    expect(extractLogArgs(['--log-level=info', '--log-level=warn']).error).toBe("option '--log-level' should be specified only once");
  });

  it('similar names are left to the option parser', () => {
    expect(extractLogArgs(['--log-formats=json', '--log']).argv).toEqual(['--log-formats=json', '--log']);
  });
});

describe('resolveLogSettings', () => {
  it('default: pretty with colours on a terminal, json otherwise; level info', () => {
    expect(resolveLogSettings({}, {}, true).settings).toEqual({ format: 'pretty', level: 'info', colorize: true });
    expect(resolveLogSettings({}, {}, false).settings).toEqual({ format: 'json', level: 'info', colorize: false });
  });

  it('the environment overrides the default, the command line overrides the environment', () => {
    expect(resolveLogSettings({}, { LOG_FORMAT: 'json', LOG_LEVEL: 'Debug' }, true).settings).toEqual({ format: 'json', level: 'debug', colorize: false });
    expect(resolveLogSettings({}, { LOG_FORMAT: 'pretty' }, false).settings).toEqual({ format: 'pretty', level: 'info', colorize: false });
    expect(resolveLogSettings({ format: 'pretty', level: 'error' }, { LOG_FORMAT: 'json', LOG_LEVEL: 'debug' }, true).settings).toEqual({
      format: 'pretty',
      level: 'error',
      colorize: true,
    });
  });

  it('NO_COLOR switches the colours off', () => {
    expect(resolveLogSettings({}, { NO_COLOR: '1' }, true).settings.colorize).toBe(false);
    expect(resolveLogSettings({}, { NO_COLOR: '' }, true).settings.colorize).toBe(true);
  });

  it('an unknown environment value is ignored with a warning', () => {
    const r = resolveLogSettings({}, { LOG_FORMAT: 'xml', LOG_LEVEL: 'verbose' }, false);
    expect(r.settings).toEqual({ format: 'json', level: 'info', colorize: false });
    expect(r.warnings).toEqual(['LOG_FORMAT=xml ignored: expected one of pretty, json', 'LOG_LEVEL=verbose ignored: expected one of fatal, error, warn, info, debug, trace, silent']);
  });
});

describe('logUsage', () => {
  it('names both options, the environment variables and the defaults, within 100 columns', () => {
    const text = logUsage();
    expect(text).toContain('--log-format=<pretty|json>');
    expect(text).toContain('--log-level=<level>');
    expect(text).toContain('LOG_FORMAT');
    expect(text).toContain('LOG_LEVEL');
    expect(text.replace(/\s+/g, ' ')).toContain('(default: pretty when stdout is a terminal, json otherwise)');
    for (const line of text.split('\n')) expect(line.length).toBeLessThanOrEqual(100);
  });
});

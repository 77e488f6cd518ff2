import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseProperties, renderProperties } from '../../src/config/index.js';

// The shipped Californium3.properties must be what the writer produces (regenerate with scripts/write-properties.ts).
describe('shipped Californium3.properties', () => {
  const shipped = readFileSync(fileURLToPath(new URL('../../Californium3.properties', import.meta.url)), 'utf8');

  it('equals the writer output except the date line', () => {
    const drop = (text: string): string[] => text.split('\n').filter((_, i) => i !== 1);
    expect(drop(shipped)).toEqual(drop(renderProperties()));
  });

  it('has a date line and reads without warnings', () => {
    expect(shipped.split('\n')[1]).toMatch(/^# \d{4}-\d\d-\d\dT/);
    expect(parseProperties(shipped).warnings).toEqual([]);
  });
});

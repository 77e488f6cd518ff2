// Receive test client: the device id file UUID.properties (clients.md §6).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ANONYMOUS_DEVICE, UUID_FILE, loadDeviceId, uuidFileText } from '../../src/clients/receivetest/device-id.js';
import { readPropertiesText } from '../../src/config/properties-text.js';

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

const dirs: string[] = [];
function tempDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'receivetest-uuid-'));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

const fileOf = (dir: string) => path.join(dir, UUID_FILE);

describe('loadDeviceId', () => {
  it('creates UUID.properties with a random UUID when missing, then reads it back', () => {
    const dir = tempDir();
    const first = loadDeviceId(dir);
    expect(first.source).toBe('created');
    expect(first.id).toMatch(UUID_V4);
    const text = fs.readFileSync(fileOf(dir), 'utf8');
    expect(text.startsWith('#Californium CoAP UUID file\n#')).toBe(true);
    expect(readPropertiesText(text)).toEqual([{ key: 'UUID', value: first.id, line: 3 }]);
    const second = loadDeviceId(dir);
    expect(second).toEqual({ id: first.id, source: 'file' });
    // a fresh directory gets another id
    expect(loadDeviceId(tempDir()).id).not.toBe(first.id);
  });

  it('reset creates a new id and rewrites the file', () => {
    const dir = tempDir();
    const first = loadDeviceId(dir);
    const reset = loadDeviceId(dir, true);
    expect(reset.source).toBe('created');
    expect(reset.id).toMatch(UUID_V4);
    expect(reset.id).not.toBe(first.id);
    expect(loadDeviceId(dir)).toEqual({ id: reset.id, source: 'file' });
  });

  it('uses the given id generator', () => {
    const dir = tempDir();
    expect(loadDeviceId(dir, false, () => 'device-1')).toEqual({ id: 'device-1', source: 'created' });
    expect(fs.readFileSync(fileOf(dir), 'utf8')).toMatch(/\nUUID=device-1\n$/);
    expect(loadDeviceId(dir, true, () => 'device-2').id).toBe('device-2');
  });

  it('reads Java-properties syntax (comments, ":" separator, escapes; the last entry wins)', () => {
    const dir = tempDir();
    fs.writeFileSync(fileOf(dir), '# comment\n! other comment\nUUID : first\nOTHER=x\nUUID = my\\u0041dev\n');
    expect(loadDeviceId(dir)).toEqual({ id: 'myAdev', source: 'file' });
  });

  it('an existing file without (or with an empty) UUID gives anonymous and is left as is', () => {
    const dir = tempDir();
    fs.writeFileSync(fileOf(dir), 'OTHER=1\n');
    expect(loadDeviceId(dir)).toEqual({ id: ANONYMOUS_DEVICE, source: 'anonymous' });
    expect(fs.readFileSync(fileOf(dir), 'utf8')).toBe('OTHER=1\n');
    fs.writeFileSync(fileOf(dir), 'UUID=\n');
    expect(loadDeviceId(dir).id).toBe(ANONYMOUS_DEVICE);
    // reset replaces such a file
    const reset = loadDeviceId(dir, true);
    expect(reset.source).toBe('created');
    expect(loadDeviceId(dir).id).toBe(reset.id);
  });

  it('falls back to anonymous when the file cannot be written', () => {
    const missing = path.join(tempDir(), 'no', 'such', 'dir');
    expect(loadDeviceId(missing)).toEqual({ id: ANONYMOUS_DEVICE, source: 'anonymous' });
    expect(loadDeviceId(missing, true)).toEqual({ id: ANONYMOUS_DEVICE, source: 'anonymous' });
    // UUID.properties being a directory: neither readable nor writable as a file
    const dir = tempDir();
    fs.mkdirSync(fileOf(dir));
    expect(loadDeviceId(dir)).toEqual({ id: ANONYMOUS_DEVICE, source: 'anonymous' });
  });

  it('uuidFileText: header, date comment, UUID entry', () => {
    expect(uuidFileText('abc', new Date(Date.UTC(2024, 0, 2, 3, 4, 5)))).toBe('#Californium CoAP UUID file\n#2024-01-02T03:04:05.000Z\nUUID=abc\n');
  });
});

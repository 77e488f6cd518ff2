// The receive test's device id: value `UUID` of `UUID.properties` in the working directory (clients.md §6).
import fs from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { readPropertiesText } from '../../config/properties-text.js';

/** Name of the device id file (in the working directory). */
export const UUID_FILE = 'UUID.properties';
/** Key of the device id in that file. */
export const UUID_KEY = 'UUID';
/** Device id used when the file has no id or cannot be written. */
export const ANONYMOUS_DEVICE = 'anonymous';
/** Comment line of a created file (as the reference's). */
export const UUID_FILE_HEADER = 'Californium CoAP UUID file';

/** How the device id was obtained. */
export type DeviceIdSource = 'file' | 'created' | 'anonymous';

/** A device id and how it was obtained. */
export interface DeviceId {
  id: string;
  source: DeviceIdSource;
}

/** The text of a fresh UUID file. */
export function uuidFileText(id: string, date: Date = new Date()): string {
  return `#${UUID_FILE_HEADER}\n#${date.toISOString()}\n${UUID_KEY}=${id}\n`;
}

/**
 * Reads the device id from `<dir>/UUID.properties`; creates the file with a random UUID when it is
 * missing or unreadable, or when `reset` is set. As the reference: an existing file without a (non-empty)
 * `UUID` value gives `anonymous`, and so does a file that cannot be written.
 */
export function loadDeviceId(dir: string, reset = false, newId: () => string = randomUUID): DeviceId {
  const file = path.join(dir, UUID_FILE);
  if (!reset) {
    let text: string | undefined;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch {
      // missing or unreadable: create a new one below
    }
    if (text !== undefined) {
      // as java.util.Properties: the last entry of a key wins
      const entry = readPropertiesText(text).filter((e) => e.key === UUID_KEY).at(-1);
      return entry && entry.value !== '' ? { id: entry.value, source: 'file' } : { id: ANONYMOUS_DEVICE, source: 'anonymous' };
    }
  }
  const id = newId();
  try {
    fs.writeFileSync(file, uuidFileText(id));
    return { id, source: 'created' };
  } catch {
    return { id: ANONYMOUS_DEVICE, source: 'anonymous' };
  }
}

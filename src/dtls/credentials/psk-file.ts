// Parser of the --psk-file format (dtls.md §3): `identity=<base64 secret>` or `identity=:0x<hex secret>`.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Logger } from 'pino';

/** Parsed entries plus one warning per skipped line. */
export interface PskFileContent {
  entries: Map<string, Buffer>;
  warnings: string[];
}

const HEX = /^(?:[0-9A-Fa-f]{2})+$/;

/**
 * Parses psk-file text (base64 padding optional). Lines are trimmed; empty lines and `#` comments are ignored; the identity is
 * the text before the first `=`. Malformed lines and repeated identities (first one wins) are skipped
 * with a warning naming the line number, never the secret.
 */
export function parsePskFile(text: string, source = 'psk-file'): PskFileContent {
  const entries = new Map<string, Buffer>();
  const warnings: string[] = [];
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const where = `${source}:${index + 1}`;
    const eq = line.indexOf('=');
    if (eq < 0) {
      warnings.push(`${where}: missing '=', line skipped`);
      return;
    }
    const identity = line.slice(0, eq);
    const value = line.slice(eq + 1);
    if (identity === '') {
      warnings.push(`${where}: empty identity, line skipped`);
      return;
    }
    let secret: Buffer;
    if (value.startsWith(':0x') || value.startsWith(':0X')) {
      const hex = value.slice(3);
      if (!HEX.test(hex)) {
        warnings.push(`${where}: invalid hex secret for '${identity}', line skipped`);
        return;
      }
      secret = Buffer.from(hex, 'hex');
    } else {
      if (!isBase64(value)) {
        warnings.push(`${where}: invalid base64 secret for '${identity}', line skipped`);
        return;
      }
      secret = Buffer.from(value, 'base64');
    }
    if (entries.has(identity)) {
      warnings.push(`${where}: duplicate identity '${identity}', line skipped`);
      return;
    }
    entries.set(identity, secret);
  });
  return { entries, warnings };
}

// Standard alphabet; padding optional (as Californium's lenient decoder), but if present it must be right.
function isBase64(text: string): boolean {
  const match = /^([A-Za-z0-9+/]+)(={0,2})$/.exec(text);
  if (!match) return false;
  const body = match[1]!.length;
  const padding = match[2]!.length;
  if (body % 4 === 1) return false;
  return padding === 0 || (body + padding) % 4 === 0;
}

/** What a psk-file line looks like (for messages telling the user what to do). */
export const PSK_FILE_FORMAT = '<identity>=<base64 secret> or <identity>=:0x<hex secret>';

/** An unreadable psk-file: the message names the file (as given and absolute) and the cause. */
export class PskFileError extends Error {
  override readonly name = 'PskFileError';
  constructor(
    readonly path: string,
    /** e.g. `not found`, `permission denied` */
    readonly reason: string,
  ) {
    const abs = resolve(path);
    super(`PSK file '${path}'${abs !== path ? ` (${abs})` : ''}: ${reason}`);
  }
}

/**
 * Reads and parses a psk-file. Each warning (skipped line) is logged once here when a logger is
 * given, so callers must not log `warnings` again. Throws a PskFileError if unreadable.
 */
export function loadPskFile(path: string, logger?: Logger): PskFileContent {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const reason =
      e.code === 'ENOENT'
        ? 'not found'
        : e.code === 'EACCES' || e.code === 'EPERM'
          ? 'permission denied'
          : e.code === 'EISDIR'
            ? 'is a directory'
            : e.message;
    throw new PskFileError(path, reason);
  }
  const content = parsePskFile(text, path);
  for (const warning of content.warnings) logger?.warn(warning);
  return content;
}

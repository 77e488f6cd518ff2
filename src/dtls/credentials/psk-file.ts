// Parser of the --psk-file format (dtls.md §3): `identity=<base64 secret>` or `identity=:0x<hex secret>`.
import { readFileSync } from 'node:fs';
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

/** Reads and parses a psk-file; warnings are also logged when a logger is given. Throws if unreadable. */
export function loadPskFile(path: string, logger?: Logger): PskFileContent {
  const content = parsePskFile(readFileSync(path, 'utf8'), path);
  for (const warning of content.warnings) logger?.warn(warning);
  return content;
}

// Java-properties text format: reading entries and escaping keys, values and comments.

/** One `key=value` entry of a properties text (value without unescaped outer blanks). */
export interface PropertyEntry {
  key: string;
  value: string;
  /** 1-based line number where the entry starts */
  line: number;
}

/** Reads all entries of a Java-properties text (comments `#`/`!`, `=`/`:`/blank separators, `\` continuations and escapes). */
export function readPropertiesText(text: string): PropertyEntry[] {
  const lines = text.split(/\r\n|\r|\n/);
  const entries: PropertyEntry[] = [];
  for (let i = 0; i < lines.length; i++) {
    const start = i;
    let logical = lines[i]!.replace(/^[ \t\f]+/, '');
    if (logical === '' || logical.startsWith('#') || logical.startsWith('!')) continue;
    while (endsWithContinuation(logical) && i + 1 < lines.length) {
      i++;
      logical = logical.slice(0, -1) + lines[i]!.replace(/^[ \t\f]+/, '');
    }
    if (endsWithContinuation(logical)) logical = logical.slice(0, -1);
    const { key, rest } = splitKey(logical);
    entries.push({ key: unescape(key), value: unescape(trimEnd(rest)), line: start + 1 });
  }
  return entries;
}

/** Removes trailing blanks that are not escaped. */
function trimEnd(s: string): string {
  let end = s.length;
  while (end > 0 && /[ \t\f]/.test(s[end - 1]!) && !endsWithContinuation(s.slice(0, end - 1))) end--;
  return s.slice(0, end);
}

/** True if the line ends with an odd number of backslashes. */
function endsWithContinuation(line: string): boolean {
  let n = 0;
  for (let i = line.length - 1; i >= 0 && line[i] === '\\'; i--) n++;
  return n % 2 === 1;
}

/** Splits a logical line at the first unescaped `=`, `:` or blank. */
function splitKey(line: string): { key: string; rest: string } {
  let i = 0;
  while (i < line.length) {
    const c = line[i]!;
    if (c === '\\') {
      i += 2;
      continue;
    }
    if (c === '=' || c === ':' || c === ' ' || c === '\t' || c === '\f') break;
    i++;
  }
  const key = line.slice(0, i);
  let j = i;
  while (j < line.length && /[ \t\f]/.test(line[j]!)) j++;
  if (j < line.length && (line[j] === '=' || line[j] === ':')) j++;
  while (j < line.length && /[ \t\f]/.test(line[j]!)) j++;
  return { key, rest: line.slice(j) };
}

const ESCAPES: Readonly<Record<string, string>> = { t: '\t', n: '\n', r: '\r', f: '\f' };

/** Resolves `\t`, `\n`, `\r`, `\f`, `\u` + 4 hex digits and `\<char>` escapes. */
function unescape(s: string): string {
  if (!s.includes('\\')) return s;
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c !== '\\' || i + 1 >= s.length) {
      out += c;
      continue;
    }
    const n = s[++i]!;
    if (n === 'u' && /^[0-9a-fA-F]{4}$/.test(s.slice(i + 1, i + 5))) {
      out += String.fromCharCode(parseInt(s.slice(i + 1, i + 5), 16));
      i += 4;
    } else {
      out += ESCAPES[n] ?? n;
    }
  }
  return out;
}

/** Escapes a key or value for a properties file (non-ASCII as `\u` + 4 hex digits, readable as ISO-8859-1 too). */
export function escapeProperty(s: string, isKey: boolean): string {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    const code = c.charCodeAt(0);
    if (c === '\\') out += '\\\\';
    else if (c === '\n') out += '\\n';
    else if (c === '\r') out += '\\r';
    else if (c === '\t') out += '\\t';
    else if (c === '\f') out += '\\f';
    else if (c === ' ' && (isKey || i === 0)) out += '\\ ';
    else if (isKey && (c === '=' || c === ':')) out += '\\' + c;
    else if ((c === '#' || c === '!') && i === 0) out += '\\' + c;
    else if (code < 0x20 || code > 0x7e) out += '\\u' + code.toString(16).padStart(4, '0');
    else out += c;
  }
  return out;
}

/** Turns a (multi-line) text into `# ` comment lines, word-wrapped at `width` characters. */
export function commentLines(text: string, width = 80): string[] {
  const out: string[] = [];
  for (const para of text.split('\n')) {
    let line = '#';
    for (const word of para.split(' ').filter((w) => w !== '')) {
      if (line !== '#' && line.length + 1 + word.length > width) {
        out.push(line);
        line = '#';
      }
      line += ' ' + word;
    }
    out.push(line);
  }
  return out;
}

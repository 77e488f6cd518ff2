// Payload shaping helpers: response-length padding (§1.2) and text truncation with `»`.

/** The truncation marker U+00BB (`»`). */
export const ELLIPSIS = '\u00bb';

/** §1.2: n > 0 → payload cut to n bytes or padded with `*` to n bytes; n = 0 → unchanged. */
export function applyRlen(payload: Buffer, n: number): Buffer {
  if (n <= 0 || n === payload.length) return payload;
  if (n < payload.length) return Buffer.from(payload.subarray(0, n));
  const out = Buffer.alloc(n, 0x2a);
  payload.copy(out, 0);
  return out;
}

/** If `text` has more than `limit` characters, keeps the first `keep` characters and appends `»`. */
export function truncateText(text: string, limit: number, keep: number): string {
  return text.length > limit ? text.substring(0, keep) + ELLIPSIS : text;
}

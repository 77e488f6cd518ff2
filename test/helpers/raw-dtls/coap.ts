// Minimal CoAP for the raw DTLS test client (RFC 7252 §3): a CON GET encoder and a message decoder
// (type, code, MID, token, payload). Hand-written on purpose, independent of src/.

/** CoAP message types (RFC 7252 §3). */
export const CoapType = { CON: 0, NON: 1, ACK: 2, RST: 3 } as const;

/** A decoded CoAP message. */
export interface CoapMessage {
  type: number;
  /** code as "c.dd", e.g. "2.05" */
  code: string;
  mid: number;
  token: Buffer;
  payload: Buffer;
}

/** Encodes CON GET /path/segments with token and MID (Uri-Path option 11, RFC 7252 §5.10.1). */
export function encodeGet(path: readonly string[], mid: number, token: Buffer): Buffer {
  const head = Buffer.from([0x40 | token.length, 0x01, (mid >> 8) & 0xff, mid & 0xff]);
  const opts: Buffer[] = [];
  let prev = 0;
  for (const seg of path) {
    const v = Buffer.from(seg, 'utf8');
    opts.push(optionHeader(11 - prev, v.length), v);
    prev = 11;
  }
  return Buffer.concat([head, token, ...opts]);
}

function optionHeader(delta: number, length: number): Buffer {
  const ext: number[] = [];
  const nib = (v: number): number => {
    if (v < 13) return v;
    if (v < 269) {
      ext.push(v - 13);
      return 13;
    }
    ext.push((v - 269) >> 8, (v - 269) & 0xff);
    return 14;
  };
  const d = nib(delta);
  const l = nib(length);
  return Buffer.from([(d << 4) | l, ...ext]);
}

/** Decodes a CoAP message; undefined if malformed. Options are skipped. */
export function decodeCoap(b: Buffer): CoapMessage | undefined {
  if (b.length < 4 || b[0]! >> 6 !== 1) return undefined;
  const tkl = b[0]! & 0x0f;
  if (tkl > 8 || b.length < 4 + tkl) return undefined;
  const code = b[1]!;
  let off = 4 + tkl;
  while (off < b.length && b[off] !== 0xff) {
    let delta = b[off]! >> 4;
    let len = b[off]! & 0x0f;
    off++;
    for (const which of ['d', 'l'] as const) {
      const v = which === 'd' ? delta : len;
      let r = v;
      if (v === 13) r = b[off++]! + 13;
      else if (v === 14) {
        r = b.readUInt16BE(off) + 269;
        off += 2;
      } else if (v === 15) return undefined;
      if (which === 'd') delta = r;
      else len = r;
    }
    off += len;
    if (off > b.length) return undefined;
  }
  const payload = off < b.length ? b.subarray(off + 1) : Buffer.alloc(0);
  return {
    type: (b[0]! >> 4) & 0x03,
    code: `${code >> 5}.${String(code & 0x1f).padStart(2, '0')}`,
    mid: b.readUInt16BE(2),
    token: Buffer.from(b.subarray(4, 4 + tkl)),
    payload: Buffer.from(payload),
  };
}

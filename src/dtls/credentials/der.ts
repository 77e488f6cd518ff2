// Minimal ASN.1 DER reader (X.690 §8, §10), enough to read X.509 names, dates and extensions.

/** One decoded DER element: tag byte, contents and its position in the source buffer. */
export interface DerElement {
  /** full identifier octet (class | constructed | number), single-byte tags only */
  tag: number;
  /** contents octets */
  value: Buffer;
  /** the complete element (header + contents) */
  raw: Buffer;
  /** offset of the first byte after this element in the source buffer */
  end: number;
}

/** Universal tags used by the X.509 readers. */
export const DerTag = {
  boolean: 0x01,
  integer: 0x02,
  bitString: 0x03,
  octetString: 0x04,
  null: 0x05,
  oid: 0x06,
  utf8String: 0x0c,
  printableString: 0x13,
  teletexString: 0x14,
  ia5String: 0x16,
  utcTime: 0x17,
  generalizedTime: 0x18,
  universalString: 0x1c,
  bmpString: 0x1e,
  sequence: 0x30,
  set: 0x31,
} as const;

/** Reads the element at `offset`; throws on truncated input, indefinite or over-long lengths. */
export function readDer(buf: Buffer, offset = 0): DerElement {
  if (offset + 2 > buf.length) throw new Error('DER: truncated header');
  const tag = buf[offset]!;
  if ((tag & 0x1f) === 0x1f) throw new Error('DER: multi-byte tags not supported');
  let pos = offset + 1;
  const first = buf[pos++]!;
  let length: number;
  if (first < 0x80) {
    length = first;
  } else {
    const count = first & 0x7f;
    if (count === 0 || count > 4) throw new Error('DER: unsupported length encoding');
    if (pos + count > buf.length) throw new Error('DER: truncated length');
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + buf[pos++]!;
  }
  const end = pos + length;
  if (end > buf.length) throw new Error('DER: truncated contents');
  return { tag, value: buf.subarray(pos, end), raw: buf.subarray(offset, end), end };
}

/** Decodes all elements contained in a constructed element's contents. */
export function readChildren(element: DerElement): DerElement[] {
  const out: DerElement[] = [];
  let offset = 0;
  while (offset < element.value.length) {
    const child = readDer(element.value, offset);
    out.push(child);
    offset = child.end;
  }
  return out;
}

/** Reads an element and checks its tag. */
export function expectTag(element: DerElement | undefined, tag: number, what: string): DerElement {
  if (element === undefined || element.tag !== tag) {
    throw new Error(`DER: expected ${what}`);
  }
  return element;
}

/** Dotted-decimal text of an OBJECT IDENTIFIER's contents (X.690 §8.19). */
export function decodeOid(value: Buffer): string {
  if (value.length === 0) throw new Error('DER: empty OID');
  const arcs: number[] = [];
  let acc = 0;
  for (const byte of value) {
    acc = acc * 128 + (byte & 0x7f);
    if ((byte & 0x80) === 0) {
      if (arcs.length === 0) {
        const first = acc < 40 ? 0 : acc < 80 ? 1 : 2;
        arcs.push(first, acc - first * 40);
      } else {
        arcs.push(acc);
      }
      acc = 0;
    }
  }
  if ((value[value.length - 1]! & 0x80) !== 0) throw new Error('DER: truncated OID');
  return arcs.join('.');
}

/** Value of a small non-negative INTEGER's contents (up to 2^48). */
export function decodeSmallInteger(value: Buffer): number {
  if (value.length === 0 || value.length > 6 || (value[0]! & 0x80) !== 0) {
    throw new Error('DER: unsupported INTEGER');
  }
  return value.readUIntBE(0, value.length);
}

/** Decodes UTCTime / GeneralizedTime contents (RFC 5280 §4.1.2.5: Zulu time, no fractions required). */
export function decodeTime(element: DerElement): Date {
  const text = element.value.toString('latin1');
  let match: RegExpExecArray | null;
  let year: number;
  if (element.tag === DerTag.utcTime) {
    match = /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(text);
    if (!match) throw new Error('DER: bad UTCTime');
    const yy = Number(match[1]);
    year = yy < 50 ? 2000 + yy : 1900 + yy;
  } else if (element.tag === DerTag.generalizedTime) {
    match = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(?:\.\d+)?Z$/.exec(text);
    if (!match) throw new Error('DER: bad GeneralizedTime');
    year = Number(match[1]);
  } else {
    throw new Error('DER: expected time');
  }
  return new Date(
    Date.UTC(year, Number(match[2]) - 1, Number(match[3]), Number(match[4]), Number(match[5]), Number(match[6])),
  );
}
